"""Routing: the routing tree with Alertmanager's semantics and group keys (``tree``), and the
grouping decisions over a batch (``group``: which groups its alerts join, which open an
incident, when each flush falls due). Stage three of the data path (mute → **route/group** →
incident); pure rules, no I/O."""
