"""The incident's states and what a person may do in each (pure).

``pending`` (grouped, nothing sent yet) -> ``triggered`` (paged) -> ``acknowledged`` ->
``resolved``; a resolved incident can be reopened (it becomes ``acknowledged`` by whoever
reopens it: a person is on it). Communication stages are separate: investigating ->
identified -> monitoring -> resolved (``incidents.updates``).
"""

from __future__ import annotations

STATUSES = ("pending", "triggered", "acknowledged", "resolved")
MAX_NOTE_CHARS = 10_000
MAX_NAME_CHARS = 200


def refuse_reopen(status: str) -> str | None:
    """Why an incident in ``status`` cannot be reopened, or None."""
    if status != "resolved":
        return f"the incident is {status}, not resolved"
    return None


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
