"""The incident's state machine: every (status, action) and what it gives."""

from __future__ import annotations

import pytest

from tocsin.incidents.lifecycle import STATUSES, Refusal, refuse_reopen, transition

CASES = [
    # status, action, the status after it or why not
    (None, "acknowledge", Refusal("no such incident")),
    (None, "resolve", Refusal("no such incident")),
    ("pending", "trigger", "triggered"),
    ("triggered", "trigger", Refusal("the incident is triggered, not pending")),
    ("triggered", "escalate", "triggered"),
    (
        "acknowledged",
        "escalate",
        Refusal("the incident is acknowledged; only a triggered incident escalates"),
    ),
    ("pending", "acknowledge", "acknowledged"),
    ("triggered", "acknowledge", "acknowledged"),
    ("acknowledged", "acknowledge", "acknowledged"),  # already done: nothing to do
    ("resolved", "acknowledge", Refusal("the incident is resolved")),
    ("acknowledged", "ack_timeout", "triggered"),
    ("triggered", "ack_timeout", Refusal("the incident is triggered, not acknowledged")),
    ("pending", "resolve", "resolved"),
    ("triggered", "resolve", "resolved"),
    ("acknowledged", "resolve", "resolved"),
    ("resolved", "resolve", "resolved"),  # already done
    ("resolved", "reopen", "acknowledged"),
    ("triggered", "reopen", Refusal("the incident is triggered, not resolved")),
]


@pytest.mark.parametrize(("status", "action", "expected"), CASES)
def test_transition(status: str | None, action: str, expected: str | Refusal) -> None:
    assert transition(status, action) == expected  # type: ignore[arg-type]


def test_every_move_ends_in_a_status() -> None:
    for status in STATUSES:
        for action in ("trigger", "escalate", "acknowledge", "ack_timeout", "resolve", "reopen"):
            moved = transition(status, action)
            assert isinstance(moved, Refusal) or moved in STATUSES


def test_only_a_resolved_incident_reopens() -> None:
    assert refuse_reopen("resolved") is None
    assert refuse_reopen("acknowledged") == "the incident is acknowledged, not resolved"
