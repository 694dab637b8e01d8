"""The service layer: every use case once, whichever front door asks.

A person (or the engine) acts on incidents, paging, silences and the record through these
functions. Each takes a ``Context`` (database, configuration, runbooks, clock, the engine's
pager when one runs) and plain values, opens and commits its own transaction, returns plain
values, and raises only ``tocsin.errors``. The front doors (``api/``, the CLI, later the
console and chat) translate requests into calls and errors into their own terms; none of them
holds a rule, and nothing here knows which door asked.

- ``context``: what every use case needs
- ``record``: the incident record, lists, timeline, notifications, alert history (reads)
- ``incidents``: acknowledge, resolve, escalate now, reopen, assign, note, runbook opened
- ``updates``: status updates (post, history)
- ``paging``: who is on call, overrides, shifts for calendar feeds
- ``silences``: add, expire, list (Alertmanager's semantics)
- ``postmortem``: the postmortem draft and action items
- ``reports``: the response report over a window
"""
