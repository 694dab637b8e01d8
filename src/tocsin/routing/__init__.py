"""Routing: the routing tree with Alertmanager's semantics and group keys. Stage three of the
data path (mute → **route/group** → incident); pure rules, no I/O."""
