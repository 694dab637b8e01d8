"""The kinds of due work, written once: the strings stored in ``due_work.kind``.

A row of ``due_work`` is a kind and a ref, due at a time. The store schedules them (a flush
when alerts join an incident, a delivery per notification); the engine's cycle
(``engine/loop.CYCLE``) maps each kind to the stage that carries it out. The values are in
the database: never change one.
"""

from __future__ import annotations

from typing import Final

FLUSH: Final = "flush"  # ref: an incident; its group's news goes out (engine/flush.py)
ESCALATE: Final = "escalate"  # ref: an incident; its next escalation step (engine/escalate.py)
DEADLINE: Final = "deadline"  # ref: an incident; its acknowledgement deadline (engine/deadline.py)
ACK_TIMEOUT: Final = "ack_timeout"  # ref: an incident; its acknowledgement lapses
REMINDER: Final = "update_reminder"  # ref: an incident; a status update is due
DUTIES: Final = "duties"  # ref: an incident; its post-incident duties (engine/duties.py)
STORM_UPDATE: Final = "storm_update"  # ref: a storm; its digest goes again (engine/storm.py)
DELIVER: Final = "deliver"  # ref: a notification; sent by engine/deliver.py
# ref: a contact bucket (a person on a channel); what it held back, summed up (engine/held.py)
HELD_SUMMARY: Final = "held_summary"
# ref: a heartbeat monitor (store/heartbeats.py); missed: its alert fires (engine/heartbeat.py)
HEARTBEAT: Final = "heartbeat"

KINDS: Final = (
    FLUSH,
    ESCALATE,
    DEADLINE,
    ACK_TIMEOUT,
    REMINDER,
    DUTIES,
    STORM_UPDATE,
    DELIVER,
    HELD_SUMMARY,
    HEARTBEAT,
)
# due work that stops when an incident is acknowledged or resolved
ESCALATION_KINDS: Final = (ESCALATE, DEADLINE)
