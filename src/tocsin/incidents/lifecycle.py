"""The incident's states, the moves between them, and what a person may do in each (pure).

``pending`` (grouped, nothing sent yet) -> ``triggered`` (paged) -> ``acknowledged`` ->
``resolved``; an acknowledgement may lapse (back to ``triggered``); a resolved incident can be
reopened (it becomes ``acknowledged`` by whoever reopens it: a person is on it).
Communication stages are separate: investigating -> identified -> monitoring -> resolved
(``incidents.updates``).

``transition`` is the one state machine: the engine asks it before it writes a status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tocsin.words import count

STATUSES = ("pending", "triggered", "acknowledged", "resolved")
RUNNING = ("triggered", "acknowledged")  # paged and not over: escalation, reminders
MAX_NOTE_CHARS = 10_000
MAX_NAME_CHARS = 200

Action = Literal["trigger", "escalate", "acknowledge", "ack_timeout", "resolve", "reopen"]

# (status, action) -> the status after it; the same status: already done (idempotent)
_MOVES: dict[tuple[str, Action], str] = {
    ("pending", "trigger"): "triggered",
    ("triggered", "escalate"): "triggered",
    ("pending", "acknowledge"): "acknowledged",
    ("triggered", "acknowledge"): "acknowledged",
    ("acknowledged", "acknowledge"): "acknowledged",
    ("acknowledged", "ack_timeout"): "triggered",
    ("pending", "resolve"): "resolved",
    ("triggered", "resolve"): "resolved",
    ("acknowledged", "resolve"): "resolved",
    ("resolved", "resolve"): "resolved",
    ("resolved", "reopen"): "acknowledged",
}


@dataclass(frozen=True)
class Refusal:
    """Why an action cannot be taken in a status."""

    reason: str


def transition(status: str | None, action: Action) -> str | Refusal:
    """For an incident in ``status`` (None: there is no such incident) and an action: the
    status it moves to (the same status when the action is already done), or why not."""
    if status is None:
        return Refusal("no such incident")
    moved = _MOVES.get((status, action))
    if moved is not None:
        return moved
    if action == "acknowledge":
        return Refusal(f"the incident is {status}")
    if action == "reopen":
        return Refusal(f"the incident is {status}, not resolved")
    if action == "escalate":
        return Refusal(f"the incident is {status}; only a triggered incident escalates")
    expected = {"trigger": "pending", "ack_timeout": "acknowledged"}.get(action, "open")
    return Refusal(f"the incident is {status}, not {expected}")


def refuse_reopen(status: str) -> str | None:
    """Why an incident in ``status`` cannot be reopened, or None."""
    moved = transition(status, "reopen")
    return moved.reason if isinstance(moved, Refusal) else None


def refuse_note(text: str) -> str | None:
    if not text.strip():
        return "a note needs text"
    if len(text) > MAX_NOTE_CHARS:
        return f"a note is at most {MAX_NOTE_CHARS} characters"
    return None


def refuse_person(name: str | None, known: set[str]) -> str | None:
    """Why ``name`` cannot be assignee or commander: it must be a configured user when the
    configuration names users ("" or None clears the role)."""
    if not name:
        return None
    if len(name) > MAX_NAME_CHARS:
        return f"a name is at most {MAX_NAME_CHARS} characters"
    if known and name not in known:
        return f"{name!r} is not a user in the configuration"
    return None


def refire_warning(firing: list[str]) -> str | None:
    """What a person who resolves an incident whose alerts still fire must hear (the names
    of those alerts), or None when none fires: the incident is closed, but the alerts are not,
    so the next time their source sends them a new incident opens and pages again."""
    if not firing:
        return None
    names = sorted(set(firing))
    shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
    verb = "still fires" if len(firing) == 1 else "still fire"
    return (
        f"{count(len(firing), 'alert')} of this incident {verb} ({shown}): the incident is"
        " resolved, but the next time the alert's source sends it (Prometheus re-sends every"
        " evaluation), a new incident opens at its group's next flush and pages again. Fix"
        " the cause, or add a silence, to stop that."
    )
