"""Issue 21 (SMS and voice): a page to a person goes out as an SMS (or a call) through a
Twilio-shaped gateway, here the local fake Twilio; the person acknowledges or resolves by
replying or pressing a key; delivery status callbacks put a failure on the timeline. Every
request from the gateway is signed: a forged, replayed or unknown one changes nothing."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.fakes.twilio import FakeTwilio, sign
from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.service import sms as service_sms
from tocsin.store import sms as store_sms
from tocsin.store.schema import sms_sent

BASE = "https://tocsin.example.com"
ALICE = "+14155550101"
BOB = "+14155550102"  # a viewer
CAROL = "+14155550103"  # paged by phone calls


def config(fake: FakeTwilio) -> str:
    return f"""
global: {{external_url: "{BASE}"}}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  escalation_policy: page
  routes:
    - matchers: ['team="calls"']
      escalation_policy: call
receivers: [{{name: default}}]
channels:
  - name: sms
    type: sms
    account_sid: {fake.account_sid}
    auth_token: {{value: {fake.auth_token}}}
    from: "{fake.numbers[0]}"
    api_url: {fake.url}
    retry: {{max_attempts: 1}}
  - name: phone
    type: voice
    account_sid: {fake.account_sid}
    auth_token: {{value: {fake.auth_token}}}
    from: "{fake.numbers[0]}"
    api_url: {fake.url}
users:
  - {{name: alice, phone: "{ALICE}", contact: [sms]}}
  - {{name: bob, phone: "{BOB}", contact: [sms], role: viewer}}
  - {{name: carol, phone: "{CAROL}", contact: [phone]}}
escalation_policies:
  - name: page
    steps: [{{targets: ["user:alice", "user:bob"], delay: 1h}}]
  - name: call
    steps: [{{targets: ["user:carol"], delay: 1h}}]
"""


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(auth_token="tw-token", inbound_url=f"{BASE}/api/v1/sms/inbound") as twilio:
        yield twilio


@pytest.fixture
def api(
    db: Engine,
    clock: VirtualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeTwilio,
) -> Iterator[Api]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    state = AppState(db=db, config=parse_config(config(fake)), clock=clock)
    with TestClient(create_app(state, run_engine=False)) as client:

        def post(url: str, params: list[tuple[str, str]], headers: dict[str, str]) -> Any:
            """The gateway's webhook, into the app in process at the path of its URL."""
            assert url.startswith(BASE), url
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            answer = client.post(target, data=dict(params), headers=headers)
            return answer.status_code, answer.text

        fake.poster = post
        yield Api(client, state, db)


def _page(api: Api, labels: dict[str, str] | None = None) -> int:
    body = [{"labels": labels or {"alertname": "DatabaseDown", "instance": "db1"}}]
    assert api.post("/api/v2/alerts", body).status_code == 200
    api.run_once()
    return int(api.get("/api/v1/incidents?limit=1").json()[0]["id"])


def _state(api: Api, number: int) -> tuple[str, list[dict[str, Any]]]:
    found = api.get(f"/api/v1/incidents/{number}").json()
    events = api.get(f"/api/v1/incidents/{number}/timeline").json()
    return found["status"], events


def _said(text: str, verb: str = "Message") -> str:
    root = ET.fromstring(text)
    assert root.tag == "Response"
    return root.findtext(verb) or ""


def test_a_page_goes_out_as_an_sms_and_a_reply_acknowledges_it(api: Api, fake: FakeTwilio) -> None:
    number = _page(api)
    to_alice = [m for m in fake.messages.values() if m["to"] == ALICE]
    assert len(to_alice) == 1
    sms = to_alice[0]
    assert (
        sms["body"].startswith(f"tocsin #{number}") and "DatabaseDown instance=db1" in sms["body"]
    )
    assert sms["body"].endswith("Reply 1 to acknowledge, 2 to resolve.")
    assert sms["status_callback"] == f"{BASE}/api/v1/sms/status"
    with api.state.db.connect() as conn:
        row = conn.execute(select(sms_sent).where(sms_sent.c.sid == sms["sid"])).one()
    assert (row.user_name, row.to_number, row.incident_id, row.kind) == (
        "alice",
        ALICE,
        number,
        "sms",
    )
    status, answer = fake.reply(ALICE, "1")
    assert status == 200 and _said(answer) == f"Acknowledged #{number}: DatabaseDown instance=db1."
    found = api.get(f"/api/v1/incidents/{number}").json()
    assert found["status"] == "acknowledged" and found["acknowledged_by"] == "alice"
    events = api.get(f"/api/v1/incidents/{number}/timeline?kind=acknowledged").json()
    assert [e["detail"]["via"] for e in events] == ["sms"]
    # again: it says so, and nothing more happens
    status, answer = fake.reply(ALICE, "ack")
    assert _said(answer) == f"#{number} is already acknowledged."
    status, answer = fake.reply(ALICE, f"resolve {number}")
    assert _said(answer).startswith(f"Resolved #{number}")
    found = api.get(f"/api/v1/incidents/{number}").json()
    assert found["status"] == "resolved" and found["resolved_by"] == "alice"
    events = api.get(f"/api/v1/incidents/{number}/timeline?kind=resolved").json()
    assert events[-1]["detail"] == {"by": "alice", "via": "sms"}
    assert _said(fake.reply(ALICE, "1")[1]) == f"#{number} is already resolved."


def test_a_bare_reply_answers_the_newest_page_still_open(api: Api, fake: FakeTwilio) -> None:
    """Two incidents paged to alice: "1" acknowledges the newer, "1" again the older (not
    "already acknowledged"), and then, with none left to acknowledge, it says so of the
    newest; "2" resolves the newest not resolved."""
    older = _page(api, {"alertname": "DatabaseDown", "instance": "db1"})
    assert isinstance(api.state.clock, VirtualClock)
    api.state.clock.advance(60)
    newer = _page(api, {"alertname": "DiskFull", "instance": "db2"})
    assert older != newer
    assert _said(fake.reply(ALICE, "1")[1]).startswith(f"Acknowledged #{newer}")
    assert _said(fake.reply(ALICE, "1")[1]).startswith(f"Acknowledged #{older}")
    assert _said(fake.reply(ALICE, "1")[1]) == f"#{newer} is already acknowledged."
    assert _said(fake.reply(ALICE, "2")[1]).startswith(f"Resolved #{newer}")
    assert _said(fake.reply(ALICE, "2")[1]).startswith(f"Resolved #{older}")
    assert [_state(api, n)[0] for n in (older, newer)] == ["resolved", "resolved"]


def test_help_and_an_unknown_incident_are_answered(api: Api, fake: FakeTwilio) -> None:
    number = _page(api)
    assert "Reply 1 to acknowledge" in _said(fake.reply(ALICE, "what is this?")[1])
    assert _said(fake.reply(ALICE, "ack 99999")[1]) == "There is no incident #99999."
    assert _state(api, number)[0] == "triggered"


def test_forged_replayed_unknown_and_viewer_requests_change_nothing(
    api: Api, fake: FakeTwilio
) -> None:
    number = _page(api)
    before = _state(api, number)
    url = fake.inbound_url
    params = fake.inbound_params("SM" + "1" * 32, ALICE, "1")
    for headers in (
        {},  # no signature
        {"X-Twilio-Signature": sign("not-the-token", url, params)},
        {"X-Twilio-Signature": sign(fake.auth_token, url + "?x=1", params)},
    ):
        status, text = fake.poster(url, params, headers)
        assert status == 403, text
    # a parameter changed after signing
    signed = sign(fake.auth_token, url, params)
    changed = [(k, "2" if k == "Body" else v) for k, v in params]
    assert fake.poster(url, changed, {"X-Twilio-Signature": signed})[0] == 403
    # another account's request, signed with its own token
    other = [(k, "AC" + "0" * 32 if k == "AccountSid" else v) for k, v in params]
    assert fake.poster(url, other, {"X-Twilio-Signature": sign("x", url, other)})[0] == 403
    assert _state(api, number) == before
    # the same message twice: the second is refused
    replayed = fake.inbound_params("SM" + "2" * 32, ALICE, "help")
    assert fake.signed_post(url, replayed)[0] == 200
    status, text = fake.signed_post(url, replayed)
    assert status == 409 and "replay" in text
    # unknown number, and a viewer
    status, answer = fake.reply("+14155550199", "1")
    assert status == 200 and _said(answer) == "This number is not a tocsin user's."
    status, answer = fake.reply(BOB, "1")
    assert status == 200
    assert _said(answer) == "bob may not acknowledge or resolve incidents (role viewer)."
    assert _state(api, number) == before


def test_a_body_too_large_is_refused(api: Api, fake: FakeTwilio) -> None:
    params = fake.inbound_params("SM" + "3" * 32, ALICE, "x" * 20_000)
    status, text = fake.signed_post(fake.inbound_url, params)
    assert status == 413, text


def test_a_failed_delivery_status_goes_on_the_timeline_once(api: Api, fake: FakeTwilio) -> None:
    number = _page(api)
    (sid,) = [s for s, m in fake.messages.items() if m["to"] == ALICE]
    assert fake.send_status(sid, "sent")[0] == 204
    assert fake.send_status(sid, "undelivered", "30003")[0] == 204
    assert fake.send_status(sid, "undelivered", "30003")[0] == 409  # a replay
    assert fake.send_status(sid, "sending")[0] == 204  # late, out of order: ignored
    events = api.get(f"/api/v1/incidents/{number}/timeline?kind=phone_failed").json()
    assert len(events) == 1
    detail = events[0]["detail"]
    assert detail["person"] == "alice" and detail["number"] == "…0101"
    assert detail["error_code"] == "30003" and detail["status"] == "undelivered"
    assert ALICE not in str(events)
    with api.state.db.connect() as conn:
        row = conn.execute(select(sms_sent).where(sms_sent.c.sid == sid)).one()
    assert (row.status, row.error_code) == ("undelivered", "30003")
    # a forged callback changes nothing
    params = [("MessageSid", sid), ("MessageStatus", "failed"), ("AccountSid", fake.account_sid)]
    url = f"{BASE}/api/v1/sms/status"
    assert fake.poster(url, params, {"X-Twilio-Signature": sign("x", url, params)})[0] == 403
    assert len(api.get(f"/api/v1/incidents/{number}/timeline?kind=phone_failed").json()) == 1


def test_a_call_escapes_a_hostile_label_and_a_key_acknowledges(api: Api, fake: FakeTwilio) -> None:
    hostile = 'x</Say><Dial>+19005550000</Dial><Say a="'
    number = _page(api, {"alertname": "DiskFull", "instance": hostile, "team": "calls"})
    (call,) = fake.calls.values()
    assert call["to"] == CAROL
    root = ET.fromstring(call["twiml"])
    assert root.find(".//Dial") is None
    gather = root.find("Gather")
    assert gather is not None and gather.get("action") == f"{BASE}/api/v1/voice/gather"
    assert hostile in (gather.findtext("Say") or "")
    status, answer = fake.press(call["sid"], "1")
    assert status == 200 and _said(answer, "Say").startswith(f"Acknowledged #{number}")
    found = api.get(f"/api/v1/incidents/{number}").json()
    assert found["status"] == "acknowledged" and found["acknowledged_by"] == "carol"
    events = api.get(f"/api/v1/incidents/{number}/timeline?kind=acknowledged").json()
    assert events[0]["detail"]["via"] == "voice"
    assert fake.press(call["sid"], "1")[0] == 409  # the same key again: a replay
    # a call nobody answered
    assert fake.send_status(call["sid"], "no-answer")[0] == 204
    (failed,) = api.get(f"/api/v1/incidents/{number}/timeline?kind=phone_failed").json()
    assert failed["detail"]["medium"] == "voice" and failed["detail"]["person"] == "carol"


def test_a_number_that_answered_stop_is_a_dead_letter_with_twilios_code(
    api: Api, fake: FakeTwilio
) -> None:
    fake.unsubscribed.add(ALICE)
    number = _page(api)
    (failed,) = [
        e
        for e in api.get(f"/api/v1/incidents/{number}/timeline?kind=notify_failed").json()
        if e["detail"]["target"] == "user:alice"
    ]
    assert "Twilio error 21610" in failed["detail"]["error"]
    assert failed["detail"]["attempts"] == 1  # permanent: not tried again
    with api.state.db.connect() as conn:
        assert conn.execute(select(sms_sent).where(sms_sent.c.to_number == ALICE)).all() == []


def test_statuses_move_forward_only(api: Api) -> None:
    """Callbacks come in any order and twice: a final status stays, an earlier one is
    ignored, the same one changes nothing."""
    number = _page(api)
    with api.state.db.begin() as conn:
        first = store_sms.Sent("SM1", "sms", "sms", "+10000000001", "alice", number)
        store_sms.record_sent(conn, first, 1e10)
        again = store_sms.Sent("SM1", "sms", "sms", "+10000000002", "bob", number)
        store_sms.record_sent(conn, again, 2e10)  # the same SID: kept as it was
        steps = [
            ("sent", None, True),
            ("sent", None, False),
            ("queued", None, False),
            ("delivered", None, True),
            ("undelivered", "30003", False),
            ("sending", None, False),
        ]
        row = None
        for said, code, changed in steps:
            row, moved = store_sms.set_status(conn, "SM1", said, code, 3e10)
            assert moved is changed, said
        assert row is not None
        assert (row.status, row.to_number, row.user_name) == ("delivered", "+10000000001", "alice")
        assert store_sms.set_status(conn, "SM-unknown", "failed", "1", 4e10) == (None, False)
        latest = store_sms.latest_to(conn, "+10000000001")
        assert latest is not None and latest.sid == "SM1"
        assert store_sms.latest_to(conn, "+10000000009") is None


def test_the_webhooks_do_their_work_off_the_event_loop(
    api: Api, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply, a key pressed and a status callback read and write the database and act
    through the engine: in a worker thread, so that one slow database does not stall every
    other request and the engine that share the server's event loop."""
    where: list[tuple[str, str]] = []
    for name in ("reply", "gather", "status"):
        original = getattr(service_sms, name)

        def recorded(*args: Any, _original: Any = original, _name: str = name) -> Any:
            try:
                asyncio.get_running_loop()
                where.append((_name, "the event loop"))
            except RuntimeError:
                where.append((_name, "a worker thread"))
            return _original(*args)

        monkeypatch.setattr(service_sms, name, recorded)
    number = _page(api)
    (sid,) = [s for s, m in fake.messages.items() if m["to"] == ALICE]
    assert fake.send_status(sid, "delivered")[0] == 204
    status, answer = fake.reply(ALICE, "1")
    assert status == 200 and _said(answer).startswith(f"Acknowledged #{number}")
    _page(api, {"alertname": "DiskFull", "instance": "db2", "team": "calls"})
    (call,) = fake.calls.values()
    assert fake.press(call["sid"], "2")[0] == 200
    assert where == [
        ("status", "a worker thread"),
        ("reply", "a worker thread"),
        ("gather", "a worker thread"),
    ]


def test_a_captured_reply_sent_again_days_later_is_a_replay(
    api: Api, fake: FakeTwilio, clock: VirtualClock
) -> None:
    """Twilio's signature covers no time: a reply "1" captured once and sent again two days
    later must not acknowledge the incident paged to that number since."""
    first = _page(api)
    reply = fake.inbound_params("SM" + "7" * 32, ALICE, "1")
    status, answer = fake.signed_post(fake.inbound_url, reply)
    assert status == 200 and _said(answer).startswith(f"Acknowledged #{first}")
    clock.advance(2 * 86400)
    later = _page(api, {"alertname": "DatabaseDown", "instance": "db2"})
    assert later != first
    status, text = fake.signed_post(fake.inbound_url, reply)
    assert status == 409 and "replay" in text
    assert _state(api, later)[0] == "triggered"
