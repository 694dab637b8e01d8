"""The Slack channel as an app through the real server (the API in process, its engine and
deliverer, on a virtual clock) against the fake Slack Web API: one message per incident and
conversation, edited in place and answered in its thread, a person paged in their direct
messages, the message kept in ``slack_messages``; Slack's errors on the timeline, the fallback
channel taking over, a rate limit waited out. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.fakes.slack import FakeSlack
from tests.notify.sinks import HttpSink
from tests.server.conftest import Api
from tests.server.test_paging import Paging
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.engine import messages
from tocsin.notify.slack import ACK_ACTION, APPROVE_RUN_ACTION, OPEN_ACTION, RESOLVE_ACTION
from tocsin.store import repo, runs
from tocsin.store.db import begin_write
from tocsin.store.schema import slack_messages
from tocsin.store.threads import incident_of

ALICE = "U0ALICE01"
CONFIG = """
global: {{resolve_timeout: 5m, external_url: "https://tocsin.example.com"}}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  escalation_policy: default
  channels: [team]
receivers: [{{name: default}}]
channels:
  - name: team
    type: slack
    token: {{value: xoxb-fake-bot-token}}
    api_url: {api}
    conversation: "#ops"
    by_severity: {{critical: "#inc-critical"}}
    retry: {{max_attempts: 3, initial_backoff: 10s, max_backoff: 1m}}
    fallback: backup
  - name: pager
    type: slack
    token: {{value: xoxb-fake-bot-token}}
    api_url: {api}
    retry: {{max_attempts: 3, initial_backoff: 10s, max_backoff: 1m}}
    fallback: backup
  - name: backup
    type: webhook
    url: {backup}
users:
  - {{name: alice, email: alice@example.com, slack: {alice}, contact: [pager]}}
severities:
  levels:
    - {{name: critical, ack_deadline: 30m}}
    - {{name: warning, ack_deadline: 30m}}
escalation_policies:
  - name: default
    steps:
      - {{targets: ["user:alice"], delay: 60m}}
"""


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user(ALICE, "alice", "alice@example.com", "Alice Example")
        fake.add_channel("ops")
        fake.add_channel("inc-critical")
        yield fake


def start(db: Engine, clock: VirtualClock, slack: FakeSlack, backup: HttpSink) -> Iterator[Paging]:
    text = dedent(CONFIG).format(api=slack.api_url, backup=backup.url, alice=ALICE)
    state = AppState(db=db, config=parse_config(text), clock=clock)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Paging(Api(client, state, db), clock, {"backup": backup})


@pytest.fixture
def backup() -> Iterator[HttpSink]:
    with HttpSink() as sink:
        yield sink


def button_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def test_one_message_per_incident_edited_in_place_with_its_thread(
    db: Engine, clock: VirtualClock, slack: FakeSlack, backup: HttpSink
) -> None:
    for paging in start(db, clock, slack, backup):
        incident = paging.fire()
        room = slack.conversation("#inc-critical")
        dm = slack.conversation(ALICE)
        (root,) = room.top()
        (page,) = dm.top()
        assert slack.conversation("#ops").messages == {}  # critical: its own conversation
        assert button_ids(root.blocks)[:2] == [ACK_ACTION, RESOLVE_ACTION]
        assert f"<@{ALICE}>" in page.text  # she is mentioned in her direct messages
        ack = next(b for b in page.blocks if b.get("type") == "actions")["elements"][0]
        assert (ack["action_id"], ack["value"]) == (ACK_ACTION, str(incident))

        acked = paging.api.post(f"/api/v1/incidents/{incident}/ack", {}, role="responder")
        assert acked.status_code == 200
        paging.run()
        for conversation, message in ((room, root), (dm, page)):
            assert conversation.top() == [message]  # no new message: the same one, edited
            assert message.edits == 1
            assert ACK_ACTION not in button_ids(message.blocks)
            assert "Acknowledged by *responder*" in json.dumps(message.blocks)
            (reply,) = conversation.replies(message.ts)
            assert reply.text.startswith(":white_check_mark: Acknowledged by *responder*")

        update = {"stage": "identified", "message": "The disk is full"}
        posted = paging.api.post(
            f"/api/v1/incidents/{incident}/status-updates", update, role="responder"
        )
        assert posted.status_code == 201, posted.text
        paging.run()
        assert room.top() == [root] and root.edits == 1  # an update edits nothing
        assert "The disk is full" in json.dumps(room.replies(root.ts)[-1].blocks)

        resolved = paging.api.post(f"/api/v1/incidents/{incident}/resolve", {}, role="responder")
        assert resolved.status_code == 200
        paging.run()
        assert room.top() == [root] and root.edits == 2
        assert button_ids(root.blocks) == [OPEN_ACTION]  # resolved: only Open
        assert room.replies(root.ts)[-1].text.startswith(":white_check_mark: Resolved by")
        assert dm.top() == [page] and page.edits == 2
        assert [r.text.split(" by")[0] for r in dm.replies(page.ts)] == [
            ":white_check_mark: Acknowledged",
            ":white_check_mark: Resolved",
        ]

        with db.connect() as conn:
            kept = conn.execute(
                select(slack_messages.c.channel, slack_messages.c.conversation).order_by(
                    slack_messages.c.channel
                )
            ).all()
            assert [tuple(r) for r in kept] == [("pager", ALICE), ("team", "#inc-critical")]
            assert incident_of(conn, room.id, root.ts) == incident
            assert incident_of(conn, dm.id, page.ts) == incident
        assert backup.requests == []
        assert slack.calls_of("chat.update") and all(c.ok for c in slack.calls)


def test_not_in_channel_dead_letters_and_the_fallback_takes_over_on_the_timeline(
    db: Engine, clock: VirtualClock, backup: HttpSink
) -> None:
    with FakeSlack() as slack:
        slack.add_user(ALICE, "alice")
        slack.add_channel("inc-critical", member=False)  # the app was never invited
        for paging in start(db, clock, slack, backup):
            incident = paging.fire()
            (fallback,) = paging.new("backup")  # the team's page, through the fallback
            assert fallback["kind"] == "firing" and fallback["incident_id"] == incident
            posts = {c.args["channel"]: c.answer for c in slack.calls_of("chat.postMessage")}
            assert posts["#inc-critical"]["error"] == "not_in_channel"
            assert posts[ALICE]["ok"] is True  # alice's direct message went
            events = paging.api.get(f"/api/v1/incidents/{incident}/timeline").json()
            failed = [e for e in events if e["kind"] == "notify_failed"]
            assert len(failed) == 1
            data = failed[0]["detail"]
            assert data["channel"] == "team" and data["fallback"] == "backup"
            assert data["dead_letter"] is True and data["attempts"] == 1
            assert data["error"] == "slack: not_in_channel: invite the app to #inc-critical"
            notified = [e["detail"]["channel"] for e in events if e["kind"] == "notified"]
            assert sorted(notified) == ["backup", "pager"]


def test_ratelimited_is_tried_again_after_retry_after(
    db: Engine, clock: VirtualClock, slack: FakeSlack, backup: HttpSink
) -> None:
    slack.rate_limit(120, method="chat.postMessage", times=2)  # the team's and alice's pages
    for paging in start(db, clock, slack, backup):
        incident = paging.fire()
        assert slack.conversation("#inc-critical").top() == []
        assert [c.status for c in slack.calls] == [429, 429]
        paging.advance(119)
        assert len(slack.calls) == 2  # Slack asked for 120 s
        paging.advance(1)
        assert len(slack.conversation("#inc-critical").top()) == 1
        assert len(slack.conversation(ALICE).top()) == 1
        assert backup.requests == []
        events = paging.api.get(f"/api/v1/incidents/{incident}/timeline").json()
        assert [e for e in events if e["kind"] == "notify_failed"] == []
        limited = [e["detail"] for e in events if e["kind"] == "attempt_failed"]
        assert sorted((d["channel"], d["status"], d["error"]) for d in limited) == [
            ("pager", 429, "slack: ratelimited (Slack asks to wait 120s)"),
            ("team", 429, "slack: ratelimited (Slack asks to wait 120s)"),
        ]
        assert {d["retry_at"] for d in limited} == {"2027-01-15T08:02:00+00:00"}


def test_a_run_awaiting_approval_gets_an_approve_button(
    db: Engine, clock: VirtualClock, slack: FakeSlack, backup: HttpSink
) -> None:
    """A change someone asked to run waits for an approval: the next message of the incident
    shows its exact text and an Approve button carrying the run's id."""
    for paging in start(db, clock, slack, backup):
        incident = paging.fire()
        with begin_write(db) as conn:
            run = runs.add(
                conn,
                incident_id=incident,
                step=3,
                section="db.md: DatabaseDown",
                language="bash",
                risk="change",
                command="systemctl restart <pebble-db>",
                params={},
                labels={},
                digest="d" * 64,
                runner="local",
                target=None,
                status="awaiting",
                automatic=False,
                reason="a responder's approval of this exact text",
                requested_by="bob",
                now=clock.now(),
            )
        update = {"stage": "identified", "message": "Restarting it"}
        posted = paging.api.post(
            f"/api/v1/incidents/{incident}/status-updates", update, role="responder"
        )
        assert posted.status_code == 201, posted.text
        paging.run()
        room = slack.conversation("#inc-critical")
        (root,) = room.top()
        (reply,) = room.replies(root.ts)
        section = next(b for b in reply.blocks if b.get("block_id") == f"tocsin_run_{run.id}")
        assert "systemctl restart &lt;pebble-db&gt;" in section["text"]["text"]
        payload = slack.click(room.id, reply.ts, APPROVE_RUN_ACTION, ALICE, str(run.id))
        assert payload["actions"][0]["value"] == str(run.id)
        assert payload["actions"][0]["block_id"] == f"tocsin_run_{run.id}"


def test_diagnostics_reach_the_person_paged_with_their_output_in_the_thread(
    db: Engine, clock: VirtualClock, slack: FakeSlack, backup: HttpSink
) -> None:
    """The runbook's diagnostics go to the incident's channels and everyone paged for it
    (``engine.diagnose.follow_up``), each with the commands' output, as replies."""
    for paging in start(db, clock, slack, backup):
        incident = paging.fire()
        engine = paging.api.state.engine
        assert engine is not None
        with begin_write(db) as conn:
            row = repo.get_incident(conn, incident)
            output = "$ df -h /var/lib/postgresql\n/dev/sda1  97%"
            messages.to_channels(
                engine.pager, conn, row, "diagnostics", ["team"], clock.now(), "diag:1", text=output
            )
        paging.run()
        for name in ("#inc-critical", ALICE):
            conversation = slack.conversation(name)
            (root,) = conversation.top()
            (reply,) = conversation.replies(root.ts)
            assert "/dev/sda1  97%" in json.dumps(reply.blocks), name
            assert root.edits == 0


def test_awaiting_runs_say_whether_their_text_is_all_an_approval_approves(
    db: Engine, clock: VirtualClock, slack: FakeSlack, backup: HttpSink
) -> None:
    """A run's text longer than a message carries, or one that binds values its text does not
    show (SQL's parameters), is not ``whole``: a Slack app offers no Approve button for it."""
    for paging in start(db, clock, slack, backup):
        incident = paging.fire()
        made = []
        with begin_write(db) as conn:
            for step, command, params in (
                (1, "systemctl restart db", {}),
                (2, "echo " + "x" * 1200, {}),
                (3, "UPDATE jobs SET state = :state", {"state": "killed"}),
            ):
                made.append(
                    runs.add(
                        conn,
                        incident_id=incident,
                        step=step,
                        section="db.md: DatabaseDown",
                        language="sql" if params else "bash",
                        risk="change",
                        command=command,
                        params=params,
                        labels={},
                        digest=str(step) * 64,
                        runner="local",
                        target=None,
                        status="awaiting",
                        automatic=False,
                        reason="a responder's approval of this exact text",
                        requested_by="bob",
                        now=clock.now(),
                    ).id
                )
            found = messages.awaiting_runs(conn, incident)
        assert [(r["id"], r["whole"]) for r in found] == [
            (str(made[0]), "yes"),
            (str(made[1]), "no"),
            (str(made[2]), "no"),
        ]
        assert len(found[1]["command"]) == messages.MAX_AWAITING_COMMAND
