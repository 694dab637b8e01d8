"""Act where the page lands, end to end in GoAlert's manner (issue 21, "Checks").

The real application (its API, engine and deliverer, in process on a virtual clock) pages
through a local Slack (tests/fakes/slack.py: the Web API, checking what Slack checks), a real
SMTP server (aiosmtpd) and a local Twilio-shaped SMS gateway (tests/fakes/twilio.py). alice's
notification rules: a Slack DM and an email at once, an SMS after 2 minutes. The test states,
step by step, every message each fake received, and fails on any it did not expect:

1. a critical alert pages alice by Slack DM (the team's channel gets the incident too);
2. with no acknowledgement, an SMS after 2 minutes on the virtual clock;
3. she acknowledges by replying to the SMS;
4. the Slack messages update in place;
5. escalation stops (bob, the next step, is never paged);
6. a second incident is acknowledged from the email's link (and its SMS never goes);
7. a third is resolved from the Slack button.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.fakes.slack import FakeSlack, send_command, send_interaction
from tests.fakes.twilio import FakeTwilio
from tests.notify.sinks import SmtpSink
from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.notify.slack import ACK_ACTION, RESOLVE_ACTION
from tocsin.web import console

BASE = "https://tocsin.example.com"
ALICE_SLACK, BOB_SLACK = "U0ALICE01", "U0BOB0001"
ALICE_PHONE, BOB_PHONE = "+14155550101", "+14155550102"
PD_SECRET = "pd-webhook-secret"


def config(slack: FakeSlack, twilio: FakeTwilio, smtp: SmtpSink) -> str:
    return f"""
global: {{resolve_timeout: 4h, external_url: "{BASE}"}}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 10m
  escalation_policy: two-steps
  channels: [team]
receivers: [{{name: default}}]
channels:
  - name: team
    type: slack
    token: {{value: {slack.token}}}
    signing_secret: {{value: {slack.signing_secret}}}
    api_url: {slack.api_url}
    conversation: "#ops"
  - name: dm
    type: slack
    token: {{value: {slack.token}}}
    api_url: {slack.api_url}
  - name: mail
    type: email
    smtp: {{host: 127.0.0.1, port: {smtp.port}, starttls: false}}
    from: tocsin@example.com
  - name: pd  # no route sends here: its subscription's webhooks come back
    type: pagerduty
    url: "http://127.0.0.1:9/unused"
    routing_key: {{value: R0UT1NGKEY0000000000000000000000}}
    webhook_secret: {{value: {PD_SECRET}}}
  - name: sms
    type: sms
    account_sid: {twilio.account_sid}
    auth_token: {{value: {twilio.auth_token}}}
    from: "{twilio.numbers[0]}"
    api_url: {twilio.url}
users:
  - name: alice
    email: alice@example.com
    slack: {ALICE_SLACK}
    phone: "{ALICE_PHONE}"
    contact_methods:
      - {{name: slack-dm, channel: dm}}
      - {{name: mail, channel: mail}}
      - {{name: phone, channel: sms}}
    notification_rules:
      - {{contact: slack-dm, after: 0s}}
      - {{contact: mail, after: 0s}}
      - {{contact: phone, after: 2m}}
  - name: bob
    email: bob@example.com
    slack: {BOB_SLACK}
    phone: "{BOB_PHONE}"
    contact: [dm, sms]
severities:
  levels: [{{name: critical, ack_deadline: 30m}}]
escalation_policies:
  - name: two-steps
    steps:
      - {{targets: ["user:alice"], delay: 10m}}
      - {{targets: ["user:bob"], delay: 1h}}
"""


class Harness:
    """The fakes, and what each has received that the test has accounted for."""

    def __init__(
        self, api: Api, clock: VirtualClock, slack: FakeSlack, twilio: FakeTwilio, smtp: SmtpSink
    ) -> None:
        self.api, self.clock = api, clock
        self.slack, self.twilio, self.smtp = slack, twilio, smtp
        self.seen = {"slack": 0, "twilio": 0, "smtp": 0, "response": 0}

    def run(self) -> None:
        self.api.run_once()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.run()

    def fire(self, name: str) -> int:
        labels = {"alertname": name, "severity": "critical", "instance": "db1"}
        assert self.api.post("/api/v2/alerts", [{"labels": labels}]).status_code == 200
        self.run()
        return int(self.api.get("/api/v1/incidents?limit=1").json()[0]["id"])

    # --- what arrived since the last look: every message must be expected -----------------

    def slack_calls(self) -> list[tuple[str, str, str]]:
        """Slack Web API calls since the last look: (method, where, kind), ``where`` the
        conversation tocsin named (a member ID for a DM), ``kind`` new | edit | reply."""
        calls = self.slack.calls[self.seen["slack"] :]
        self.seen["slack"] += len(calls)
        out = []
        for call in calls:
            assert call.ok, call.answer
            where = str(call.args.get("channel", ""))
            if call.method == "chat.update":
                kind = "edit"
            elif call.args.get("thread_ts"):
                kind = "reply"
            else:
                kind = "new"
            out.append((call.method, where, kind))
        return out

    def texts(self) -> list[tuple[str, str]]:
        """SMS and calls since the last look: (to, body)."""
        got = self.twilio.requests[self.seen["twilio"] :]
        self.seen["twilio"] += len(got)
        return [(r.form["To"], r.form.get("Body", "")) for r in got]

    def mails(self) -> list[tuple[list[str], str, str]]:
        got = self.smtp.messages[self.seen["smtp"] :]
        self.seen["smtp"] += len(got)
        out = []
        for received in got:
            message = received.message
            body = message.get_body(("plain",))
            assert body is not None
            out.append((received.rcpt_tos, str(message["Subject"]), body.get_content()))
        return out

    def answers(self) -> list[str]:
        got = self.slack.responses[self.seen["response"] :]
        self.seen["response"] += len(got)
        return [r.body.get("text", "") for r in got]

    def nothing_new(self) -> None:
        assert self.slack_calls() == []
        assert self.texts() == []
        assert self.mails() == []
        assert self.answers() == []

    def status(self, incident: int) -> str:
        return str(self.api.get(f"/api/v1/incidents/{incident}").json()["status"])

    def via(self, incident: int, kind: str) -> list[tuple[str, str]]:
        events = self.api.get(f"/api/v1/incidents/{incident}/timeline?kind={kind}").json()
        return [(e["detail"].get("by", ""), e["detail"].get("via", "")) for e in events]


@pytest.fixture
def harness(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))  # the key of links, on PostgreSQL
    with (
        FakeSlack() as slack,
        FakeTwilio(auth_token="tw-token", inbound_url=f"{BASE}/api/v1/sms/inbound") as twilio,
        SmtpSink() as smtp,
    ):
        slack.add_channel("ops")
        slack.add_user(ALICE_SLACK, "alice", "alice@example.com", "Alice Example")
        slack.add_user(BOB_SLACK, "bob", "bob@example.com", "Bob Example")
        state = AppState(db=db, config=parse_config(config(slack, twilio, smtp)), clock=clock)
        with TestClient(console.install(create_app(state, run_engine=False))) as client:

            def post(url: str, params: list[tuple[str, str]], headers: dict[str, str]) -> Any:
                """The gateway's webhooks, into the application at the path of their URL."""
                assert url.startswith(BASE), url
                parts = urlsplit(url)
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                answer = client.post(target, data=dict(params), headers=headers)
                return answer.status_code, answer.text

            twilio.poster = post
            yield Harness(Api(client, state, db), clock, slack, twilio, smtp)


def _link(text: str, action: str) -> tuple[str, dict[str, str]]:
    found = re.search(rf"{action.capitalize()}: (https://\S+)", text)
    assert found, text
    parts = urlsplit(found.group(1))
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_act_where_the_page_lands(harness: Harness) -> None:
    h = harness
    team = h.slack.conversation("#ops")
    dm = h.slack.conversation(ALICE_SLACK)

    # 1. a critical alert pages alice by Slack DM (and email, at once); the team's channel
    #    gets the incident's message
    first = h.fire("DatabaseDown")
    assert sorted(h.slack_calls()) == [
        ("chat.postMessage", "#ops", "new"),
        ("chat.postMessage", ALICE_SLACK, "new"),
    ]
    [(to, subject, _text)] = h.mails()
    assert to == ["alice@example.com"] and "DatabaseDown" in subject
    (page,) = dm.top()
    (root,) = team.top()
    assert f"<@{ALICE_SLACK}>" in page.text
    assert h.texts() == []
    h.nothing_new()

    # 2. no acknowledgement: after 2 minutes on the virtual clock, an SMS
    h.advance(119)
    h.nothing_new()
    h.advance(1)
    [(number, body)] = h.texts()
    assert number == ALICE_PHONE and body.startswith(f"tocsin #{first}")
    assert body.endswith("Reply 1 to acknowledge, 2 to resolve.")
    h.nothing_new()

    # 3. she acknowledges by replying to the SMS
    status, answer = h.twilio.reply(ALICE_PHONE, "1")
    assert status == 200 and f"Acknowledged #{first}" in answer
    assert h.status(first) == "acknowledged"
    assert h.via(first, "acknowledged") == [("alice", "sms")]

    # 4. the Slack messages update in place: the same messages, edited, a line in each thread
    h.run()
    assert sorted(h.slack_calls()) == sorted(
        [
            ("chat.postMessage", team.id, "reply"),
            ("chat.postMessage", dm.id, "reply"),
            ("chat.update", team.id, "edit"),
            ("chat.update", dm.id, "edit"),
        ]
    )
    assert team.top() == [root] and dm.top() == [page]
    assert root.edits == 1 and page.edits == 1
    assert ACK_ACTION not in [b["action_id"] for b in page.buttons()]
    assert "Acknowledged by *alice*" in str(page.blocks)
    # told by email too, as she was paged there; not by SMS: she did it there herself
    assert [(to, subject) for to, subject, _ in h.mails()] == [
        (["alice@example.com"], "[ACK] DatabaseDown (critical)")
    ]
    h.nothing_new()

    # 5. escalation stops: past the step's 10 minutes, bob is never paged
    h.advance(11 * 60)
    h.advance(60 * 60)
    h.nothing_new()
    assert h.slack.conversation(BOB_SLACK).messages == {}

    # 6. a second incident, acknowledged from the email's link; its SMS never goes
    second = h.fire("DiskFull")
    assert sorted(h.slack_calls()) == [
        ("chat.postMessage", "#ops", "new"),
        ("chat.postMessage", ALICE_SLACK, "new"),
    ]
    [(to, _subject, text)] = h.mails()
    path, query = _link(text, "acknowledge")
    shown = h.api.client.get(path, params=query)
    assert shown.status_code == 200 and h.status(second) == "triggered"  # a GET acts not
    done = h.api.client.post(path, data=query)
    assert done.status_code == 200 and h.status(second) == "acknowledged"
    assert h.via(second, "acknowledged") == [("alice", "link")]
    h.run()
    assert sorted(h.slack_calls()) == sorted(
        [
            ("chat.postMessage", team.id, "reply"),
            ("chat.postMessage", dm.id, "reply"),
            ("chat.update", team.id, "edit"),
            ("chat.update", dm.id, "edit"),
        ]
    )
    assert [(to, subject) for to, subject, _ in h.mails()] == [
        (["alice@example.com"], "[ACK] DiskFull (critical)")
    ]
    h.advance(3 * 60)  # past the SMS rule's 2 minutes: cancelled with the acknowledgement
    h.nothing_new()
    kinds = [e["kind"] for e in h.api.get(f"/api/v1/incidents/{second}/timeline").json()]
    assert "notifications_cancelled" in kinds

    # 7. a third incident, resolved from the Slack button
    third = h.fire("QueueStuck")
    assert sorted(h.slack_calls()) == [
        ("chat.postMessage", "#ops", "new"),
        ("chat.postMessage", ALICE_SLACK, "new"),
    ]
    assert [(to, subject) for to, subject, _ in h.mails()] == [
        (["alice@example.com"], "[FIRING:1] QueueStuck (critical)")
    ]
    third_page = dm.top()[-1]  # the newest message in her direct messages
    assert f"Incident #{third}" in str(third_page.blocks)
    press = h.slack.click(ALICE_SLACK, third_page.ts, RESOLVE_ACTION, ALICE_SLACK, str(third))
    pressed = send_interaction(
        "/api/v1/slack/interactions",
        press,
        h.slack.signing_secret,
        timestamp=int(h.clock.now()),  # Slack's clock is the server's (a virtual one here)
        client=h.api.client,
    )
    assert pressed.status_code == 200
    [answer] = h.answers()  # to her alone, ephemeral: done, and what will happen next
    assert answer.startswith(f"Resolved #{third} as alice: 1 alert of this incident still fires")
    assert h.status(third) == "resolved"
    assert h.via(third, "resolved") == [("alice", "slack")]
    h.run()
    assert sorted(h.slack_calls()) == sorted(
        [
            ("chat.postMessage", team.id, "reply"),
            ("chat.postMessage", dm.id, "reply"),
            ("chat.update", team.id, "edit"),
            ("chat.update", dm.id, "edit"),
        ]
    )
    assert [b["action_id"] for b in third_page.buttons()] == ["tocsin_open"]
    assert [(to, subject) for to, subject, _ in h.mails()] == [
        (["alice@example.com"], "[RESOLVED] QueueStuck (critical)")
    ]
    h.advance(3 * 60)
    h.nothing_new()


def _snapshot(h: Harness, incident: int) -> tuple[str, int]:
    events = h.api.get(f"/api/v1/incidents/{incident}/timeline").json()
    return h.status(incident), len(events)


def test_every_inbound_endpoint_refuses_forged_replayed_and_expired(harness: Harness) -> None:
    """Each door that acts without a token (Slack's buttons and commands, the SMS gateway's
    replies, key presses and status callbacks, PagerDuty's webhooks, an email's action link):
    a forged request, a replayed one and an expired one are refused, and nothing changes."""
    h = harness
    incident = h.fire("DatabaseDown")
    h.slack_calls()
    [(_to, _subject, text)] = h.mails()
    (page,) = h.slack.conversation(ALICE_SLACK).top()
    now = int(h.clock.now())
    client = h.api.client
    before = _snapshot(h, incident)
    secret = h.slack.signing_secret

    # Slack: a button press and a command
    press = h.slack.click(ALICE_SLACK, page.ts, ACK_ACTION, ALICE_SLACK, str(incident))
    url = "/api/v1/slack/interactions"
    assert send_interaction(url, press, "forged", timestamp=now, client=client).status_code == 401
    stale = send_interaction(url, press, secret, timestamp=now - 301, client=client)
    assert stale.status_code == 401 and "stale" in stale.text
    help_form = h.slack.command("help", ALICE_SLACK)
    first = send_command("/api/v1/slack/commands", help_form, secret, timestamp=now, client=client)
    assert first.status_code == 200  # help: answered, changes nothing
    again = send_command("/api/v1/slack/commands", help_form, secret, timestamp=now, client=client)
    assert again.status_code == 409 and "replay" in again.text

    # the SMS gateway: a reply, a status callback, a key press
    inbound = f"{BASE}/api/v1/sms/inbound"
    params = h.twilio.inbound_params("SM" + "7" * 32, ALICE_PHONE, "help")
    assert h.twilio.signed_post(inbound, params, token="forged")[0] == 403
    assert h.twilio.signed_post(inbound, params)[0] == 200  # help: answered
    assert h.twilio.signed_post(inbound, params)[0] == 409  # the same MessageSid again
    status_url = f"{BASE}/api/v1/sms/status"
    callback = [("MessageSid", "SM" + "8" * 32), ("MessageStatus", "delivered")]
    callback.append(("AccountSid", h.twilio.account_sid))
    assert h.twilio.signed_post(status_url, callback, token="forged")[0] == 403
    gather = [("CallSid", "CA" + "9" * 32), ("Digits", "1"), ("AccountSid", h.twilio.account_sid)]
    assert h.twilio.signed_post(f"{BASE}/api/v1/voice/gather", gather, token="forged")[0] == 403

    # PagerDuty's webhooks
    def pagerduty(key: str, at: float, event_id: str = "01EVT") -> int:
        event = {
            "id": event_id,
            "event_type": "incident.annotated",
            "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
            "data": {"id": "Q1", "incident_key": f"tocsin-{incident}"},
        }
        body = json.dumps({"event": event}).encode()
        sig = "v1=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-PagerDuty-Signature": sig}
        answer = client.post("/api/v1/pagerduty/webhook", content=body, headers=headers)
        return int(answer.status_code)

    assert pagerduty("forged", now) == 403
    assert pagerduty(PD_SECRET, now - 2 * 86400, "01OLD") == 403  # expired
    assert pagerduty(PD_SECRET, now) == 200  # an annotation: answered, changes nothing
    assert pagerduty(PD_SECRET, now) == 409  # the same event again

    # an email's action link: altered, then used, then expired
    path, query = _link(text, "acknowledge")
    assert client.post(path, data={**query, "sig": query["sig"][:-2] + "AA"}).status_code == 403
    assert _snapshot(h, incident) == before  # nothing refused changed anything
    h.nothing_new()
    assert client.post(path, data=query).status_code == 200  # the genuine one, once
    acted = _snapshot(h, incident)
    assert acted[0] == "acknowledged"
    assert client.post(path, data=query).status_code == 409  # used: a replay
    h.clock.advance(8 * 86400)  # past share_link_ttl
    assert client.post(path, data=query).status_code in (409, 410)
    assert _snapshot(h, incident) == acted
