"""PagerDuty's v3 webhooks read (pure): signatures, events, age, who acted."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tocsin.errors import Invalid
from tocsin.incidents import remote

BODY = b'{"event": {"id": "01DEN8", "event_type": "incident.acknowledged"}}'


def sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_one_matching_signature_of_several_is_enough() -> None:
    header = f"{sign(BODY, 'old')},{sign(BODY, 'new')}"
    assert remote.signed(BODY, header, ["new"])
    assert remote.signed(BODY, sign(BODY, "new").upper().replace("V1=", "v1="), ["new"])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=",
        "v0=" + "0" * 64,
        sign(BODY, "other"),
        sign(BODY + b" ", "new"),
        sign(BODY, "new")[:-1],
        "v1=" + "a" * 3000,
    ],
)
def test_unsigned_or_wrongly_signed_refused(header: str | None) -> None:
    assert not remote.signed(BODY, header, ["new"])


def test_no_secret_signs_nothing() -> None:
    assert not remote.signed(BODY, sign(BODY, "new"), [])


def event(**data: object) -> dict[str, object]:
    return {
        "event": {
            "id": "01DEN8",
            "event_type": "incident.acknowledged",
            "occurred_at": "2027-01-15T08:01:00.123Z",
            "agent": {"id": "PALICE1", "summary": "Alice Example", "type": "user_reference"},
            "data": {"id": "Q1PD", "type": "incident", **data},
        }
    }


def test_our_incident_key_is_read() -> None:
    act = remote.read_pagerduty(event(incident_key="tocsin-12"))
    assert (act.action, act.incident_id, act.agent, act.pagerduty_incident) == (
        "acknowledge",
        12,
        "Alice Example",
        "Q1PD",
    )
    assert act.occurred_at == datetime(2027, 1, 15, 8, 1, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize("key", ["d3640fbd41", "tocsin-0", "tocsin-12x", "tocsin-", None, 12])
def test_other_keys_name_no_incident(key: object) -> None:
    assert remote.read_pagerduty(event(incident_key=key)).incident_id is None


def test_other_event_types_are_not_acted_on() -> None:
    doc = event(incident_key="tocsin-1")
    doc["event"]["event_type"] = "incident.annotated"  # type: ignore[index]
    assert remote.read_pagerduty(doc).action is None


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {},
        {"event": []},
        {"event": {"id": "x"}},
        {"event": {"event_type": "incident.resolved"}},
        {"event": {"id": "x", "event_type": "incident.resolved"}},  # undated: replayable later
        {"event": {"id": "x", "event_type": "incident.resolved", "occurred_at": None}},
        {"event": {"id": "x", "event_type": "incident.resolved", "occurred_at": "yesterday"}},
        {"event": {"id": "x", "event_type": "incident.resolved", "occurred_at": "2027-01-15"}},
    ],
)
def test_not_a_webhook_is_invalid(doc: object) -> None:
    with pytest.raises(Invalid):
        remote.read_pagerduty(doc)


def test_stale_and_future_events() -> None:
    act = remote.read_pagerduty(event(incident_key="tocsin-1"))
    at = datetime(2027, 1, 15, 8, 1, tzinfo=UTC).timestamp()
    assert not remote.stale(act, at + 3600)
    assert remote.stale(act, at + remote.MAX_AGE_S + 1)
    assert remote.stale(act, at - 301)


def test_actor_is_the_user_of_the_pagerduty_id_never_a_name() -> None:
    people = [("alice", "PALICE1"), ("bob", None)]
    act = remote.read_pagerduty(event(incident_key="tocsin-1"))
    assert act.agent_id == "PALICE1"
    assert remote.actor(act, people) == "alice"
    renamed = replace(act, agent="Bob")  # a name is anyone's to take
    assert remote.actor(renamed, people) == "alice"
    other = replace(act, agent_id="PMALLOR", agent="Alice Example")
    assert remote.actor(other, people) == "pagerduty:Alice Example"
    assert remote.actor(replace(act, agent_id="", agent=""), people) == "pagerduty:unknown"
