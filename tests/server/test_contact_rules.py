"""Personal notification rules through the real server on a virtual clock (SQLite and
PostgreSQL): a Slack DM at once, an email after 2 minutes, a webhook after 5; an
acknowledgement cancels what was still to come; a person edits their own methods and rules
through the API; a test arrives; a method the person added is verified with the code read
from what the channel received. Every message that arrives is accounted for."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.notify.sinks import HttpSink, SmtpSink
from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.service import contacts as service
from tocsin.service.context import Context
from tocsin.store import repo
from tocsin.store.schema import contact_codes, notifications
from tocsin.web import console

CONFIG = """
global: {{resolve_timeout: 5m, external_url: "https://tocsin.example.com"}}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  escalation_policy: alice-first
receivers: [{{name: default}}]
channels:
  - name: slack-app
    type: slack
    url: {slack}
  - name: mail
    type: email
    smtp: {{host: 127.0.0.1, port: {smtp}, starttls: false}}
    from: tocsin@example.com
  - name: hook
    type: webhook
    url: {hook}
    person_limit: {{count: 1, per: 1h}}
users:
  - name: alice
    email: alice@example.com
    slack: U0ALICE01
    phone: "+15551230001"
    contact_methods:
      - {{name: slack-dm, channel: slack-app}}
      - {{name: email, channel: mail}}
      - {{name: hook, channel: hook}}
    notification_rules:
      - {{contact: slack-dm, after: 0s}}
      - {{contact: email, after: 2m}}
      - {{contact: hook, after: 5m}}
  - {{name: bob, email: bob@example.com, contact: [hook]}}
severities:
  levels: [{{name: critical, ack_deadline: 1h}}]
escalation_policies:
  - name: alice-first
    steps:
      - {{targets: ["user:alice"], delay: 30m}}
      - {{targets: ["user:bob"], delay: 30m}}
"""


@dataclass
class Harness:
    api: Api
    clock: VirtualClock
    slack: HttpSink
    hook: HttpSink
    smtp: SmtpSink
    tokens: dict[str, str]
    seen: dict[str, int]

    def run(self) -> None:
        self.api.run_once()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.run()

    def new(self, sink: str) -> list[Any]:
        """What ``sink`` received since the last look (JSON bodies, or email messages)."""
        got: list[Any]
        if sink == "smtp":
            got = list(self.smtp.messages[self.seen[sink] :])
        else:
            got = [r.json() for r in getattr(self, sink).requests[self.seen[sink] :]]
        self.seen[sink] += len(got)
        return got

    def nothing_new(self) -> None:
        for sink in ("slack", "hook", "smtp"):
            assert self.new(sink) == [], f"unexpected message on {sink}"

    def fire(self) -> int:
        now = datetime.fromtimestamp(self.clock.now(), UTC).isoformat()
        labels = {"alertname": "DatabaseDown", "severity": "critical"}
        answer = self.api.post(
            "/api/v2/alerts",
            [{"labels": labels, "startsAt": now, "endsAt": "2027-01-15T10:00:00Z"}],
        )
        assert answer.status_code == 200
        self.run()
        return int(self.api.get("/api/v1/incidents").json()[0]["id"])

    def timeline(self, incident: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.api.get(f"/api/v1/incidents/{incident}/timeline").json()
        return events

    def as_user(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(self, method: str, path: str, user: str, body: object = None) -> Any:
        client = self.api.client
        return client.request(method, path, json=body, headers=self.as_user(user))


@pytest.fixture
def harness(db: Engine, clock: VirtualClock, request: pytest.FixtureRequest) -> Iterator[Harness]:
    ack_timeout = getattr(request, "param", None)  # the policy's, when a test gives one
    with HttpSink("slack") as slack, HttpSink() as hook, SmtpSink() as smtp:
        text = dedent(CONFIG).format(slack=slack.url, hook=hook.url, smtp=smtp.port)
        if ack_timeout:
            text = text.replace(
                "  - name: alice-first\n",
                f"  - name: alice-first\n    ack_timeout: {ack_timeout}\n",
            )
        state = AppState(db=db, config=parse_config(text), clock=clock)
        tokens = {}
        with db.begin() as conn:
            for user, role in (("alice", "responder"), ("bob", "responder"), ("root", "admin")):
                tokens[user] = f"tocsin_{user}_token"
                repo.create_token(conn, user, role, tokens[user], clock.now(), user=user)
        with TestClient(create_app(state, run_engine=False)) as client:
            seen = {"slack": 0, "hook": 0, "smtp": 0}
            yield Harness(Api(client, state, db), clock, slack, hook, smtp, tokens, seen)


def test_rules_page_in_time_until_acknowledged(harness: Harness) -> None:
    incident = harness.fire()
    [dm] = harness.new("slack")  # slack-dm at once, naming alice's member ID
    assert "<@U0ALICE01>" in str(dm)
    harness.nothing_new()
    escalated = next(e for e in harness.timeline(incident) if e["kind"] == "escalated")
    assert escalated["detail"]["paged"] == {"alice": ["slack-app"]}
    assert escalated["detail"]["later"] == {"alice": ["email after 2m", "hook after 5m"]}
    harness.advance(119)
    harness.nothing_new()
    harness.advance(1)  # 2m: the email
    [mail] = harness.new("smtp")
    assert mail.rcpt_tos == ["alice@example.com"]
    harness.nothing_new()
    harness.advance(180)  # 5m: the webhook, with the recipient's method and address
    [hooked] = harness.new("hook")
    assert hooked["recipient"]["name"] == "alice" and hooked["recipient"]["contact"] == "hook"
    assert hooked["kind"] == "firing"
    keys = [hooked["idempotency_key"]]
    assert keys[0].endswith(":user:alice:alice:hook:hook:300s")


def test_acknowledging_cancels_the_later_notifications(harness: Harness, db: Engine) -> None:
    incident = harness.fire()
    assert len(harness.new("slack")) == 1
    harness.advance(60)
    harness.nothing_new()
    acked = harness.call("POST", f"/api/v1/incidents/{incident}/ack", "alice", {})
    assert acked.status_code == 200
    harness.run()
    told = harness.new("slack")  # alice hears of it where she was paged: Slack only
    assert [m["blocks"][0]["text"]["text"][:5] for m in told] == ["[ACK]"]
    harness.advance(10 * 60)  # the email (2m) and the webhook (5m) never come
    harness.nothing_new()
    events = harness.timeline(incident)
    cancelled = [e for e in events if e["kind"] == "notifications_cancelled"]
    assert len(cancelled) == 1
    detail = cancelled[0]["detail"]
    assert detail["count"] == 2 and detail["reason"] == "acknowledged"
    assert detail["said"] == "alice by email, alice by hook"
    with db.connect() as conn:
        statuses = sorted(r.status for r in conn.execute(select(notifications.c.status)))
    assert statuses == ["cancelled", "cancelled", "sent", "sent"]


@pytest.mark.parametrize("harness", ["10m"], indirect=True)
def test_an_acknowledgement_that_lapses_pages_again_by_the_rules(harness: Harness) -> None:
    incident = harness.fire()
    assert len(harness.new("slack")) == 1
    assert harness.call("POST", f"/api/v1/incidents/{incident}/ack", "alice", {}).status_code == 200
    harness.run()
    harness.new("slack")  # the acknowledgement, where she was paged
    harness.advance(600)  # the acknowledgement lapses: escalation starts again
    [again] = harness.new("slack")
    assert "<@U0ALICE01>" in str(again)
    harness.nothing_new()
    harness.advance(120)  # and the email after 2m, by the rules, with a key of its own
    [mail] = harness.new("smtp")
    assert mail.rcpt_tos == ["alice@example.com"]
    kinds = [e["kind"] for e in harness.timeline(incident)]
    assert kinds.count("notifications_cancelled") == 1 and "ack_expired" in kinds


def test_a_person_edits_their_own_rules_and_not_another_persons(harness: Harness) -> None:
    seen = harness.call("GET", "/api/v1/me/contact-methods", "alice").json()
    assert seen["origin"] == "config"
    assert [(m["name"], m["source"], m["address"]) for m in seen["methods"]] == [
        ("slack-dm", "config", "U0ALICE01"),
        ("email", "config", "alice@example.com"),
        ("hook", "config", None),
    ]
    # bob (a responder) may not read or change alice's
    refused = harness.call("GET", "/api/v1/me/contact-methods?user=alice", "bob")
    assert refused.status_code == 403
    refused = harness.call(
        "PUT", "/api/v1/me/notification-rules?user=alice", "bob", {"notification_rules": []}
    )
    assert refused.status_code == 403
    # a rule naming no method, a delay over an hour: clear 4xx
    bad = harness.call(
        "PUT",
        "/api/v1/me/notification-rules",
        "alice",
        {"notification_rules": [{"contact": "pager", "after": "0s"}]},
    )
    assert bad.status_code == 422 and "unknown contact method 'pager'" in bad.text
    bad = harness.call(
        "PUT",
        "/api/v1/me/notification-rules",
        "alice",
        {"notification_rules": [{"contact": "email", "after": "2h"}]},
    )
    assert bad.status_code == 422 and "between 0s and 1h" in bad.text
    # removing a method a rule still uses: change the rules first
    bad = harness.call(
        "PUT",
        "/api/v1/me/contact-methods",
        "alice",
        {"contact_methods": [{"name": "slack-dm", "channel": "slack-app"}]},
    )
    assert bad.status_code == 409 and "change the rules first" in bad.text
    # the email first, the Slack DM after a minute
    changed = harness.call(
        "PUT",
        "/api/v1/me/notification-rules",
        "alice",
        {"notification_rules": [{"contact": "email"}, {"contact": "slack-dm", "after": "1m"}]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["origin"] == "user"
    assert [(r["contact"], r["after"]) for r in changed.json()["rules"]] == [
        ("email", "0s"),
        ("slack-dm", "1m"),
    ]
    assert {m["source"] for m in changed.json()["methods"]} == {"config"}
    incident = harness.fire()
    assert len(harness.new("smtp")) == 1
    harness.nothing_new()
    harness.advance(60)
    assert len(harness.new("slack")) == 1
    assert incident > 0
    # an admin may act for alice
    for_alice = harness.call("GET", "/api/v1/me/notification-rules?user=alice", "root")
    assert for_alice.status_code == 200 and for_alice.json()["user"] == "alice"


def test_send_a_test_arrives_and_is_limited(harness: Harness) -> None:
    sent = harness.call("POST", "/api/v1/me/contact-methods/email/test", "alice")
    assert sent.status_code == 200 and sent.json()["sent"] is True
    [mail] = harness.new("smtp")
    assert mail.rcpt_tos == ["alice@example.com"]
    body = mail.message.get_body(("plain",))
    assert body is not None and "This is a test from tocsin" in body.get_content()
    assert mail.message["Subject"].startswith("[TEST]")
    for _ in range(2):
        assert harness.call("POST", "/api/v1/me/contact-methods/hook/test", "alice").json()["sent"]
    assert [m["kind"] for m in harness.new("hook")] == ["test", "test"]
    limited = harness.call("POST", "/api/v1/me/contact-methods/slack-dm/test", "alice")
    assert limited.status_code == 429
    harness.nothing_new()
    missing = harness.call("POST", "/api/v1/me/contact-methods/nope/test", "alice")
    assert missing.status_code == 404


def _code(mail: Any) -> str:
    body = mail.message.get_body(("plain",)).get_content()
    found = re.search(r"verification code is (\d{6})", body)
    assert found is not None, body
    return found.group(1)


def test_a_method_the_person_adds_is_verified_before_use(harness: Harness) -> None:
    methods = [
        {"name": "slack-dm", "channel": "slack-app"},
        {"name": "email", "channel": "mail"},
        {"name": "hook", "channel": "hook"},
        {"name": "home", "channel": "mail", "address": "alice@home.example"},
    ]
    put = harness.call("PUT", "/api/v1/me/contact-methods", "alice", {"contact_methods": methods})
    assert put.status_code == 200, put.text
    home = put.json()["methods"][3]
    assert home["source"] == "user" and home["needs_verification"] is True
    rules = [{"contact": "home"}, {"contact": "slack-dm"}]
    put = harness.call(
        "PUT", "/api/v1/me/notification-rules", "alice", {"notification_rules": rules}
    )
    assert put.status_code == 200, put.text
    # not verified: paging skips it and says so
    incident = harness.fire()
    assert len(harness.new("slack")) == 1
    harness.nothing_new()
    skipped = [e for e in harness.timeline(incident) if e["kind"] == "contact_skipped"]
    assert [e["detail"]["contact"] for e in skipped] == ["home"]
    assert skipped[0]["detail"]["reason"] == "not verified"
    # a config method needs no code
    assert (
        harness.call("POST", "/api/v1/me/contact-methods/email/verify", "alice").status_code == 409
    )
    confirm = "/api/v1/me/contact-methods/home/verify/confirm"
    nothing = harness.call("POST", confirm, "alice", {"code": "123456"})
    assert nothing.status_code == 409 and "ask for one first" in nothing.text
    # a code, through the method itself
    started = harness.call("POST", "/api/v1/me/contact-methods/home/verify", "alice")
    assert started.status_code == 200 and started.json()["sent"] is True
    [mail] = harness.new("smtp")
    assert mail.rcpt_tos == ["alice@home.example"]
    code = _code(mail)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answer = harness.call("POST", confirm, "alice", {"code": wrong})
    assert answer.status_code == 422 and "wrong code" in answer.text
    # after 10 minutes the code is no good, even the right one
    harness.clock.advance(601)
    answer = harness.call("POST", confirm, "alice", {"code": code})
    assert answer.status_code == 409 and "expired" in answer.text
    # a new code; five wrong ones use it up
    assert harness.call("POST", "/api/v1/me/contact-methods/home/verify", "alice").json()["sent"]
    [mail] = harness.new("smtp")
    code = _code(mail)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert harness.call("POST", confirm, "alice", {"code": wrong}).status_code == 422
    answer = harness.call("POST", confirm, "alice", {"code": code})
    assert answer.status_code == 409 and "too many wrong codes" in answer.text
    # the code is kept hashed, never as it was sent
    with harness.api.state.db.connect() as conn:
        kept = conn.execute(select(contact_codes.c.code_hash)).scalar_one()
    assert code not in kept and len(kept) == 64
    assert harness.call("POST", "/api/v1/me/contact-methods/home/verify", "alice").json()["sent"]
    [mail] = harness.new("smtp")
    answer = harness.call("POST", confirm, "alice", {"code": _code(mail)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["methods"][3]["verified"] is True
    # a fourth code in ten minutes is refused
    assert harness.call("POST", "/api/v1/me/contact-methods/home/verify", "alice").status_code in (
        409,
        429,
    )
    # now the rule uses it: a new incident pages alice at home
    resolved = harness.call("POST", f"/api/v1/incidents/{incident}/resolve", "alice", {})
    assert resolved.status_code == 200
    harness.run()
    harness.new("slack")
    harness.new("smtp")
    harness.clock.advance(3600)
    harness.fire()
    homes = [m for m in harness.new("smtp") if m.rcpt_tos == ["alice@home.example"]]
    assert len(homes) == 1


def test_a_person_limit_holds_rule_notifications(harness: Harness) -> None:
    """The hook channel allows one message per person per hour: alice's rule page through
    it on a second incident is held back for the summary (issue 7's limits apply)."""
    first = harness.fire()
    harness.advance(300)
    assert len(harness.new("hook")) == 1
    harness.call("POST", f"/api/v1/incidents/{first}/resolve", "alice", {})
    harness.run()
    harness.new("slack")
    harness.new("smtp")
    harness.clock.advance(10)
    now = datetime.fromtimestamp(harness.clock.now(), UTC).isoformat()
    # not critical: a page of the top lane is never held (it goes, and takes its token)
    labels = {"alertname": "DiskFull", "severity": "warning"}
    harness.api.post("/api/v2/alerts", [{"labels": labels, "startsAt": now}])
    harness.run()
    second = max(int(i["id"]) for i in harness.api.get("/api/v1/incidents").json())
    harness.advance(300)
    assert harness.new("hook") == []  # held
    held = [e for e in harness.timeline(second) if e["kind"] == "held_back"]
    assert (
        held and held[0]["detail"]["person"] == "alice" and held[0]["detail"]["channel"] == "hook"
    )


def test_numbers_of_verified_methods_name_their_user(harness: Harness) -> None:
    state = harness.api.state
    ctx = Context(state.db, state.config, harness.clock)
    assert service.users_by_phone(ctx) == {"+15551230001": "alice"}


@pytest.fixture
def console_harness(
    db: Engine, clock: VirtualClock, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))  # the server's key, on PostgreSQL
    with HttpSink("slack") as slack, HttpSink() as hook, SmtpSink() as smtp:
        text = dedent(CONFIG).format(slack=slack.url, hook=hook.url, smtp=smtp.port)
        state = AppState(db=db, config=parse_config(text), clock=clock)
        tokens = {}
        with db.begin() as conn:
            for user, role in (("alice", "viewer"), ("root", "admin")):
                tokens[user] = f"tocsin_{user}_token"
                repo.create_token(conn, user, role, tokens[user], clock.now(), user=user)
        app = console.install(create_app(state, run_engine=False))
        with TestClient(app) as client:
            seen = {"slack": 0, "hook": 0, "smtp": 0}
            yield Harness(Api(client, state, db), clock, slack, hook, smtp, tokens, seen)


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text
    return found.group(1)


def test_the_console_page_of_ones_own_notifications(console_harness: Harness) -> None:
    h = console_harness
    client = h.api.client
    form = client.get("/signin", params={"next": "/me/notifications"})
    signed = client.post(
        "/signin",
        data={"token": h.tokens["alice"], "csrf": _csrf(form.text), "next": "/me/notifications"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    shown = client.get("/me/notifications")
    assert shown.status_code == 200
    assert "slack-dm" in shown.text and "U0ALICE01" in shown.text and "configuration" in shown.text
    assert 'href="/me/notifications"' in shown.text  # in the nav
    csrf = _csrf(shown.text)
    # without the CSRF token: refused, nothing changes
    refused = client.post("/me/notifications/add-method", data={"name": "x", "channel": "hook"})
    assert refused.status_code == 403
    # a viewer adds a method to their own, at home; it waits for its code
    added = client.post(
        "/me/notifications/add-method",
        data={"csrf": csrf, "name": "home", "channel": "mail", "address": "alice@home.example"},
        follow_redirects=True,
    )
    assert added.status_code == 200 and "Contact method home added" in added.text
    assert "not verified" in added.text
    bad = client.post(
        "/me/notifications/add-rule",
        data={"csrf": csrf, "contact": "home", "after": "3h"},
        follow_redirects=True,
    )
    assert "between 0s and 1h" in bad.text
    sent = client.post(
        "/me/notifications/verify", data={"csrf": csrf, "name": "home"}, follow_redirects=True
    )
    assert "A code was sent through home" in sent.text and 'name="code"' in sent.text
    [mail] = h.new("smtp")
    confirmed = client.post(
        "/me/notifications/confirm",
        data={"csrf": csrf, "name": "home", "code": _code(mail)},
        follow_redirects=True,
    )
    assert "home is verified" in confirmed.text and "not verified" not in confirmed.text
    moved = client.post(
        "/me/notifications/method-up", data={"csrf": csrf, "index": "3"}, follow_redirects=True
    )
    assert moved.text.index(">home<") < moved.text.index(">hook<")
    tested = client.post(
        "/me/notifications/test", data={"csrf": csrf, "name": "hook"}, follow_redirects=True
    )
    assert "Test sent through hook" in tested.text
    assert [m["kind"] for m in h.new("hook")] == ["test"]
    # another person's page: refused to her
    other = client.get("/me/notifications?user=bob")
    assert other.status_code == 403


def test_the_remote_client_reads_and_tests_through_the_api(harness: Harness) -> None:
    """``tocsin me`` with ``--url``: RemoteClient over the API, as the token's user."""
    from tocsin.cli.remote import RemoteClient
    from tocsin.errors import Forbidden

    transport = harness.api.client._transport  # the app in process
    remote = RemoteClient("http://testserver", harness.tokens["bob"], transport=transport)
    view = remote.contacts(remote.actor(None), None)
    assert view["user"] == "bob" and view["origin"] == "legacy"
    assert [(m["name"], m["channel"]) for m in view["methods"]] == [("hook", "hook")]
    sent = remote.test_contact("hook", "bob", None)
    assert sent["sent"] is True and sent["user"] == "bob"
    assert [m["kind"] for m in harness.new("hook")] == ["test"]
    with pytest.raises(Forbidden):
        remote.contacts("bob", "alice")
