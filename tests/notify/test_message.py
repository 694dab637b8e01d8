"""The outbox stores messages as JSON: the round trip is exact."""

from __future__ import annotations

import json

import pytest

from tests.notify.messages import make_message
from tocsin.notify.message import KINDS, Message, from_json, to_json


@pytest.mark.parametrize("kind", KINDS)
def test_json_round_trip_is_exact(kind: str) -> None:
    message = make_message(
        kind=kind,
        escalation_step=2 if kind == "escalation" else None,
        text="Rolled back." if kind == "status_update" else None,
    )
    stored = json.loads(json.dumps(to_json(message)))
    assert from_json(stored) == message
    assert to_json(from_json(stored)) == stored


def test_defaults_survive_the_round_trip() -> None:
    message = make_message(
        external_url="", runbook_url=None, runbook_title=None, diagnostics=(), recipient=None
    )
    assert from_json(json.loads(json.dumps(to_json(message)))) == message


def test_unknown_keys_are_ignored_and_missing_keys_are_errors() -> None:
    data = to_json(make_message())
    assert from_json({**data, "version": "1"}) == make_message()
    del data["idempotency_key"]
    with pytest.raises(ValueError, match="idempotency_key"):
        from_json(data)


def test_bad_kind_or_status_is_refused_where_the_message_is_made() -> None:
    with pytest.raises(ValueError, match="kind"):
        make_message(kind="exploded")
    with pytest.raises(ValueError, match="status"):
        make_message(status="open")
    assert isinstance(make_message(), Message)
