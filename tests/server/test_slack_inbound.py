"""Issue 21, acting from Slack: a button of a page (``/api/v1/slack/interactions``) and the
slash command (``/api/v1/slack/commands``), on SQLite and PostgreSQL.

Slack is the fake of tests/fakes/slack.py: tocsin pages into its #ops, a person presses a
button of that message (``FakeSlack.click``) or types the command, and the request is signed as
Slack signs it (``sign``); the person's answers go to the fake's ``response_url`` (checked as
Slack checks a message); a member known only by email is looked up through its ``users.info``,
which checks the bot token as Slack does. A button no message shows (a forged or odd press) is
built by hand. A forged, stale, replayed, oversized or malformed request, or one to a server
with no signing secret, is refused and changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from tests.fakes.slack import FakeSlack, command_body, interaction_body, sign
from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.runbooks.loader import load_catalog
from tocsin.service.chat import BadSignature, verify
from tocsin.service.context import Context
from tocsin.store.schema import inbound_seen

RUNBOOK = """
# Disk runbook

## DiskFull

**Severity:** critical

### Remediation
1. Mark it:
   ```bash
   touch {made}
   ```
2. Empty the cache:
   ```bash
   rm -rf {cache}
   ```
"""

CONFIG = """
global: {{external_url: "https://tocsin.example.com"}}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  escalation_policy: page
{channels}
receivers: [{{name: default}}]
channels:
  - name: ops
    type: slack
{app}
  - {{name: pager, type: console}}
users:
  - {{name: alice, email: alice@example.com, slack: U0ALICE, contact: [pager]}}
  - {{name: bob, slack: U0BOB, contact: [pager]}}
  - {{name: carol, email: Carol@Example.com, contact: [pager]}}
  - {{name: victor, slack: U0VICTOR, role: viewer, contact: [pager]}}
rotations:
  - name: daily
    type: daily
    start: "2027-01-15T00:00"
    timezone: UTC
    participants: [alice, bob]
schedules:
  - {{name: primary, layers: [{{rotation: daily}}]}}
escalation_policies:
  - name: page
    steps:
      - {{targets: ["schedule:primary"], delay: 5m}}
      - {{targets: ["user:carol"], delay: 5m}}
runbooks: [{book}]
execute:
  runners:
    - {{name: local, type: shell, timeout: 10s}}
"""


INTERACTIONS = "/api/v1/slack/interactions"
COMMANDS = "/api/v1/slack/commands"

ALICE = "U0ALICE"
BOB = "U0BOB"
CAROL = "U0CAROL"  # by her profile's email
VICTOR = "U0VICTOR"  # a viewer
NOBODY = "U0NOBODY"
MALLORY = "U0MALLORY"  # a handle that reads like alice's member ID
STRANGER = "U0STRANGER"  # Slack does not know them either (users.info: user_not_found)
# carol's email on profiles Slack does not vouch for: unconfirmed, and another organisation's
UNCONFIRMED = "U0UNCONF"
OUTSIDER = "U0OUTSIDE"


def members(fake: FakeSlack) -> None:
    """The workspace: only carol's and nobody's profiles show an email."""
    fake.add_user(ALICE, "alice", None)
    fake.add_user(BOB, "bob", None)
    fake.add_user(CAROL, "carol.c", "carol@example.com")
    fake.add_user(VICTOR, "victor", None)
    fake.add_user(NOBODY, "nobody", "nobody@elsewhere.example")
    fake.add_user(MALLORY, "u0alice", None)
    fake.add_user(UNCONFIRMED, "carol2", "carol@example.com", confirmed=False)
    fake.add_user(OUTSIDER, "carol3", "carol@example.com", stranger=True)


class Slack:
    """Slack as it calls tocsin: signed button presses and slash commands, the answers that
    reach ``response_url``."""

    def __init__(self, api: Api, clock: VirtualClock, fake: FakeSlack) -> None:
        self.api = api
        self.clock = clock
        self.fake = fake

    def post(
        self,
        path: str,
        body: bytes,
        secret: str | None = None,
        at: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = self.signed(body, secret, at)
        sent.update(headers or {})
        response: httpx.Response = self.api.client.post(path, content=body, headers=sent)
        return response

    def signed(
        self, body: bytes, secret: str | None = None, at: float | None = None
    ) -> dict[str, str]:
        """The headers of Slack's request with ``body``, signed at ``at`` (now)."""
        stamp = int(self.clock.now() if at is None else at)
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            **sign(self.fake.signing_secret if secret is None else secret, body, stamp),
        }

    def press_body(self, action_id: str, value: str, member: str = ALICE) -> bytes:
        """``member`` pressing the button ``action_id`` (``value``) of the incident's message
        in #ops."""
        for message in self.fake.conversation("#ops").top():
            if any(
                b.get("action_id") == action_id and b.get("value") == value
                for b in message.buttons()
            ):
                return interaction_body(
                    self.fake.click("#ops", message.ts, action_id, member, value)
                )
        raise AssertionError(f"no message in #ops has the button {action_id} {value}")

    def press(self, action_id: str, value: str, member: str = ALICE) -> httpx.Response:
        return self.post(INTERACTIONS, self.press_body(action_id, value, member))

    def odd_press(self, action_id: str, value: str, member: str = ALICE) -> httpx.Response:
        """A press of a button that no message shows (built by hand as Slack would send it)."""
        name = self.fake.users[member].name
        payload = {
            "type": "block_actions",
            "user": {"id": member, "username": name, "name": name, "team_id": FakeSlack.team_id},
            "api_app_id": "A0FAKE001",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": "1800000000.000100",
                "channel_id": "C0OPS",
                "is_ephemeral": False,
            },
            "trigger_id": "1800000000.1.abc",
            "team": {"id": FakeSlack.team_id, "domain": "fake"},
            "channel": {"id": "C0OPS", "name": "ops"},
            "message": {"type": "message", "ts": "1800000000.000100", "text": "DiskFull"},
            "response_url": self.fake.response_url(),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "tocsin_actions",
                    "text": {"type": "plain_text", "text": "Acknowledge"},
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.post(INTERACTIONS, interaction_body(payload))

    def command_body(self, text: str, member: str = ALICE) -> bytes:
        return command_body(self.fake.command(text, member, "#ops"))

    def command(self, text: str, member: str = ALICE) -> httpx.Response:
        return self.post(COMMANDS, self.command_body(text, member))

    def lookups(self) -> list[str]:
        """The members tocsin asked Slack's ``users.info`` about, with the bot token."""
        found = self.fake.calls_of("users.info")
        assert all(c.ok or c.answer["error"] == "user_not_found" for c in found)
        return [str(c.args["user"]) for c in found]

    def said(self) -> list[dict[str, Any]]:
        """What tocsin posted to response_url, in order (each as Slack took it)."""
        assert self.fake.refused_responses == []
        return [r.body for r in self.fake.responses]

    def last(self) -> str:
        found = self.said()
        assert found, "tocsin posted nothing to response_url"
        answer = found[-1]
        assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
        text: str = answer["text"]
        return text

    def fire(self, instance: str = "db-1") -> int:
        """An alert: its incident pages, in #ops (when the app has a bot token)."""
        body = [{"labels": {"alertname": "DiskFull", "instance": instance}}]
        assert self.api.post("/api/v2/alerts", body).status_code == 200
        self.api.run_once()
        return int(self.api.get("/api/v1/incidents?limit=1").json()[0]["id"])

    def incident(self, number: int) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get(f"/api/v1/incidents/{number}").json()
        return found

    def state(self, number: int) -> tuple[Any, ...]:
        """What a refused request must not change: the incident, its timeline and runs,
        the requests seen, and the answers posted."""
        found = self.incident(number)
        events = self.api.get(f"/api/v1/incidents/{number}/timeline?limit=500").json()
        runs = self.api.get(f"/api/v1/incidents/{number}/runs").json()
        with self.api.state.db.connect() as conn:
            seen = conn.execute(select(func.count()).select_from(inbound_seen)).scalar_one()
        fields = ("status", "acknowledged_by", "resolved_by")
        posted = len(self.fake.responses) + len(self.fake.refused_responses)
        return (tuple(found[k] for k in fields), events, runs, seen, posted)


def _app(fake: FakeSlack, with_secret: bool, with_token: bool = True) -> str:
    lines = [f"    api_url: {fake.api_url}"]
    if with_token:
        lines[:0] = [f"    token: {{value: {fake.token}}}", '    conversation: "#ops"']
    else:  # a webhook channel, whose signing secret still verifies
        lines.insert(0, '    url: "http://127.0.0.1:9/unused"')
    if with_secret:
        lines.insert(0, f"    signing_secret: {{value: {fake.signing_secret}}}")
    return "\n".join(lines)


def _slack(
    db: Engine,
    clock: VirtualClock,
    tmp_path: Path,
    with_secret: bool = True,
    with_token: bool = True,
) -> Iterator[Slack]:
    book = tmp_path / "disk.md"
    (tmp_path / "cache").mkdir()
    book.write_text(
        dedent(RUNBOOK).lstrip().format(made=tmp_path / "made.flag", cache=tmp_path / "cache")
    )
    with FakeSlack() as fake:
        members(fake)
        fake.add_channel("ops")
        text = dedent(CONFIG).format(
            app=_app(fake, with_secret, with_token),
            channels="  channels: [ops]" if with_token else "",
            book=book,
        )
        config = parse_config(text, base_dir=tmp_path)
        state = AppState(db=db, config=config, clock=clock, catalog=load_catalog([book]))
        with TestClient(create_app(state, run_engine=False)) as client:
            yield Slack(Api(client, state, db), clock, fake)


@pytest.fixture
def slack(db: Engine, clock: VirtualClock, tmp_path: Path) -> Iterator[Slack]:
    yield from _slack(db, clock, tmp_path)


# --- buttons --------------------------------------------------------------------------------


def test_the_acknowledge_button_acknowledges_as_the_mapped_person(slack: Slack) -> None:
    number = slack.fire()
    pressed = slack.press("tocsin_ack", str(number))
    assert pressed.status_code == 200 and pressed.content == b""
    assert slack.last() == f"Acknowledged #{number} as alice"
    found = slack.incident(number)
    assert found["status"] == "acknowledged" and found["acknowledged_by"] == "alice"
    events = slack.api.get(f"/api/v1/incidents/{number}/timeline?kind=acknowledged").json()
    assert [e["detail"] for e in events] == [{"by": "alice", "via": "slack"}]
    # bob presses too: alice was first, and nothing changes
    slack.clock.advance(1)
    assert slack.press("tocsin_ack", str(number), BOB).status_code == 200
    assert slack.last() == f"#{number} was already acknowledged by alice"
    assert slack.incident(number)["acknowledged_by"] == "alice"
    assert slack.lookups() == []  # both known from the configuration: no lookup


def test_the_resolve_button_resolves_then_acknowledge_is_refused(slack: Slack) -> None:
    number = slack.fire()
    assert slack.press("tocsin_resolve", str(number)).status_code == 200
    assert slack.last().startswith(f"Resolved #{number} as alice: 1 alert of this incident")
    found = slack.incident(number)
    assert found["status"] == "resolved" and found["resolved_by"] == "alice"
    slack.clock.advance(1)
    before = slack.state(number)
    assert slack.press("tocsin_ack", str(number), BOB).status_code == 200
    assert slack.last() == f"#{number} is already resolved (by alice)"
    after = slack.state(number)
    assert after[:3] == before[:3]  # the incident, its timeline and runs: unchanged
    # an incident whose alerts resolved by themselves: nobody resolved it
    other = slack.fire("db-2")
    ended = [
        {"labels": {"alertname": "DiskFull", "instance": "db-2"}, "endsAt": "2027-01-15T08:00:00Z"}
    ]
    assert slack.api.post("/api/v2/alerts", ended).status_code == 200
    slack.clock.advance(600)
    slack.api.run_engine()
    assert slack.incident(other)["status"] == "resolved"
    assert slack.press("tocsin_resolve", str(other), BOB).status_code == 200
    assert slack.last() == f"#{other} was already resolved"
    assert slack.incident(other)["resolved_by"] is None


def test_the_escalate_button_pages_the_next_step(slack: Slack) -> None:
    number = slack.fire()
    assert slack.press("tocsin_escalate", str(number)).status_code == 200
    assert slack.last() == (
        f"Escalated #{number} as alice: the next step of its escalation is paged"
    )
    events = slack.api.get(f"/api/v1/incidents/{number}/timeline?kind=escalated").json()
    by_hand = [e["detail"] for e in events if e["detail"].get("by")]
    assert len(by_hand) == 1 and by_hand[0]["by"] == "alice"
    assert by_hand[0]["reason"] == "escalated by hand"
    # no such incident: said so, nothing done
    slack.clock.advance(1)
    assert slack.odd_press("tocsin_escalate", "999").status_code == 200
    assert slack.last() == "No incident 999"


def test_the_open_button_does_nothing(slack: Slack) -> None:
    number = slack.fire()
    before = slack.state(number)
    assert slack.press("tocsin_open", str(number)).status_code == 200
    after = slack.state(number)
    assert after[:3] == before[:3] and after[4] == before[4]  # nothing posted


def test_approve_a_run_from_slack_but_not_a_destructive_one(slack: Slack) -> None:
    number = slack.fire()
    asked = slack.api.post(f"/api/v1/incidents/{number}/runs", {"step": 1})  # touch: change
    assert asked.status_code == 201 and asked.json()["status"] == "awaiting"
    run = asked.json()["id"]
    assert slack.odd_press("tocsin_approve_run", str(run)).status_code == 200
    assert slack.last() == f"Approved run {run} as alice: step 1 of #{number} runs now"
    approved = slack.api.get(f"/api/v1/runs/{run}").json()
    assert approved["status"] == "queued" and approved["approved_by"] == "alice"
    # again: it no longer awaits an approval
    slack.clock.advance(1)
    slack.odd_press("tocsin_approve_run", str(run))
    assert slack.last().startswith(f"Could not approve run {run}: ")
    # rm -rf: destructive, its first line typed in the console
    wiped = slack.api.post(f"/api/v1/incidents/{number}/runs", {"step": 2})
    assert wiped.status_code == 201 and wiped.json()["risk"] == "destructive"
    slack.clock.advance(1)
    before = slack.state(number)
    assert slack.odd_press("tocsin_approve_run", str(wiped.json()["id"]), BOB).status_code == 200
    assert slack.last() == (
        f"Could not approve run {wiped.json()['id']}: it is destructive, and its approver "
        "types its first line. Approve it in the console: "
        f"https://tocsin.example.com/incidents/{number}"
    )
    assert slack.state(number)[:3] == before[:3]
    assert slack.api.get(f"/api/v1/runs/{wiped.json()['id']}").json()["status"] == "awaiting"


# --- who may act --------------------------------------------------------------------------


def test_a_person_known_by_email_through_users_info(slack: Slack) -> None:
    number = slack.fire()
    assert slack.press("tocsin_ack", str(number), CAROL).status_code == 200
    assert slack.lookups() == [CAROL]  # with the bot token (the fake checks it)
    assert slack.last() == f"Acknowledged #{number} as carol"
    assert slack.incident(number)["acknowledged_by"] == "carol"


def test_an_unmapped_person_is_told_how_to_be_mapped_and_nothing_changes(slack: Slack) -> None:
    number = slack.fire()
    before = slack.state(number)
    assert slack.press("tocsin_ack", str(number), NOBODY).status_code == 200
    assert slack.last() == (
        "Refused: you are not a tocsin user here (no tocsin user has your Slack profile's "
        "email). Ask an admin to add `slack: U0NOBODY` to your user in tocsin's configuration."
    )
    slack.clock.advance(1)  # Slack does not know them either
    assert slack.press("tocsin_ack", str(number), STRANGER).status_code == 200
    assert "(Slack's users.info answered user_not_found)" in slack.last()
    assert "`slack: U0STRANGER`" in slack.last()
    # a handle that reads like alice's member ID is not alice: IDs match IDs only
    slack.clock.advance(1)
    assert slack.press("tocsin_ack", str(number), MALLORY).status_code == 200
    assert "`slack: U0MALLORY`" in slack.last()
    after = slack.state(number)
    assert after[:3] == before[:3]


def test_a_viewer_is_refused_and_nothing_changes(slack: Slack) -> None:
    number = slack.fire()
    before = slack.state(number)
    assert slack.press("tocsin_ack", str(number), VICTOR).status_code == 200
    assert slack.last() == (
        "Refused: victor is a viewer in tocsin: viewers may not acknowledge. "
        "An admin can change the role: of your tocsin user."
    )
    slack.clock.advance(1)
    answer = slack.command(f"resolve {number}", VICTOR)  # a quick answer, not queued
    assert answer.status_code == 200
    assert answer.json()["text"].startswith("Refused: victor is a viewer in tocsin: viewers")
    assert slack.state(number)[:3] == before[:3]
    slack.clock.advance(1)
    assert "On call now:" in slack.command("oncall", VICTOR).json()["text"]  # viewers read


# --- the slash command ----------------------------------------------------------------------


def test_slash_ack_answers_at_once_and_acknowledges_after(slack: Slack) -> None:
    number = slack.fire()
    answer = slack.command(f"ack {number}")
    assert answer.status_code == 200
    assert answer.json() == {"response_type": "ephemeral", "text": f"Acknowledging #{number}…"}
    assert slack.last() == f"Acknowledged #{number} as alice"
    assert slack.incident(number)["acknowledged_by"] == "alice"
    slack.clock.advance(1)
    assert slack.command(f"escalate #{number}").json()["text"] == f"Escalating #{number}…"
    assert slack.last() == (
        f"Could not escalate #{number}: the incident is acknowledged; only a triggered "
        "incident escalates"
    )


def test_slash_oncall_and_help(slack: Slack) -> None:
    answer = slack.command("oncall")
    assert answer.status_code == 200
    assert answer.json() == {
        "response_type": "ephemeral",
        "text": "On call now:\nprimary: alice until 2027-01-16 00:00:00 UTC (then bob)",
    }
    slack.clock.advance(1)
    usage = slack.command("help").json()["text"]
    assert usage.splitlines()[0] == "/tocsin ack 12: acknowledge incident #12 (escalation stops)"
    slack.clock.advance(1)
    unknown = slack.command("dance <!channel>").json()["text"]
    assert unknown.splitlines()[0] == "I do not know “dance”."
    slack.clock.advance(1)
    odd = slack.command("<!channel>").json()["text"]  # what a person typed, escaped back
    assert odd.splitlines()[0] == "I do not know “&lt;!channel&gt;”."
    assert slack.said() == []  # quick answers only: nothing queued


def test_slash_command_of_a_person_known_by_email_is_queued(slack: Slack) -> None:
    number = slack.fire()
    answer = slack.command(f"ack {number}", CAROL)
    assert answer.json()["text"] == f"Acknowledging #{number}…"
    assert slack.last() == f"Acknowledged #{number} as carol"
    slack.clock.advance(1)
    assert slack.command("oncall", NOBODY).json()["text"] == "Looking up who is on call…"
    assert slack.last().startswith("Refused: you are not a tocsin user here")


# --- refused requests: nothing changes ------------------------------------------------------


def test_forged_stale_replayed_oversized_malformed_requests_change_nothing(slack: Slack) -> None:
    number = slack.fire()
    path = INTERACTIONS
    body = slack.press_body("tocsin_ack", str(number))
    before = slack.state(number)

    forged = slack.post(path, body, secret="not-the-signing-secret")
    assert forged.status_code == 401
    assert forged.json()["error"]["message"].startswith("the signature does not match")

    unsigned = slack.api.client.post(
        path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert unsigned.status_code == 401
    assert "X-Slack-Request-Timestamp is missing" in unsigned.json()["error"]["message"]

    altered = slack.signed(body)
    tampered = body.replace(f"%22{number}%22".encode(), b"%22999%22")
    assert tampered != body
    changed = slack.api.client.post(path, content=tampered, headers=altered)
    assert changed.status_code == 401

    bad_header = slack.post(path, body, headers={"X-Slack-Signature": "v1=abc"})
    assert bad_header.status_code == 401
    assert "X-Slack-Signature is missing or not v0=" in bad_header.json()["error"]["message"]

    signed_at = slack.clock.now()
    slack.clock.advance(6 * 60)  # Slack's request, six minutes late
    stale = slack.post(path, body, at=signed_at)
    assert stale.status_code == 401
    assert stale.json()["error"]["message"].startswith(
        "the request is stale: its timestamp is 6 min 0 s behind this server's clock"
    )
    ahead = slack.post(path, body, at=slack.clock.now() + 400)
    assert ahead.status_code == 401 and "ahead of this server's clock" in ahead.text

    big = b"payload=" + b"x" * (64 * 1024)
    oversized = slack.post(path, big)
    assert oversized.status_code == 413
    assert oversized.json()["error"]["message"] == "the body is larger than 65536 bytes"

    malformed = slack.post(path, b"payload=%7Bnot+json")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["message"] == "the payload is not JSON"
    not_a_command = slack.post(COMMANDS, b"user_id=U0ALICE&text=ack+1")
    assert not_a_command.status_code == 400
    # Slack's check of the URL's certificate: unsigned, answered 200, nothing done
    checked = slack.api.client.post(COMMANDS, content=b"ssl_check=1&token=x")
    assert checked.status_code == 200 and checked.content == b""

    after = slack.state(number)
    assert after[:3] == before[:3] and after[4] == before[4]  # no answer posted either
    assert slack.incident(number)["status"] == "triggered"

    # the same signed request twice: the first acts, the replay is refused
    headers = slack.signed(body)
    first = slack.api.client.post(path, content=body, headers=headers)
    assert first.status_code == 200 and slack.last() == f"Acknowledged #{number} as alice"
    done = slack.state(number)
    replay = slack.api.client.post(path, content=body, headers=headers)
    assert replay.status_code == 409
    assert replay.json()["error"]["message"] == (
        "this request came before: a replay is refused, and nothing was done"
    )
    assert slack.state(number) == done


def test_no_signing_secret_the_endpoints_are_off(
    db: Engine, clock: VirtualClock, tmp_path: Path
) -> None:
    for slack in _slack(db, clock, tmp_path, with_secret=False):
        number = slack.fire()
        before = slack.state(number)
        for path, body in (
            (INTERACTIONS, slack.press_body("tocsin_ack", str(number))),
            (COMMANDS, slack.command_body(f"ack {number}")),
        ):
            off = slack.post(path, body)
            assert off.status_code == 404
            assert off.json()["error"]["message"] == (
                "Slack is not set up here: no slack channel has a signing_secret "
                "(docs/paging.md, Acting from Slack)"
            )
        assert slack.state(number) == before


def test_without_a_bot_token_an_unmapped_person_is_answered_at_once(
    db: Engine, clock: VirtualClock, tmp_path: Path
) -> None:
    for slack in _slack(db, clock, tmp_path, with_token=False):
        number = slack.fire()
        before = slack.state(number)
        answer = slack.command(f"ack {number}", CAROL)  # her email cannot be asked for
        assert answer.json()["text"] == (
            "Refused: you are not a tocsin user here. Ask an admin to add `slack: U0CAROL` "
            "to your user in tocsin's configuration."
        )
        slack.clock.advance(1)
        assert slack.odd_press("tocsin_ack", str(number), CAROL).status_code == 200  # no page
        assert slack.last().startswith("Refused: you are not a tocsin user here.")
        assert slack.lookups() == []
        after = slack.state(number)
        assert after[:3] == before[:3]


def test_a_timestamp_of_non_ascii_digits_is_refused_not_a_server_error(slack: Slack) -> None:
    """``"²".isdigit()`` is true but ``int("²")`` fails. A server decodes header bytes as
    Latin-1 (a byte 0xB2 is "²"; the test client re-encodes headers as UTF-8, so the service
    is called as the endpoint calls it): refused as not Slack's, never a ValueError (500)."""
    number = slack.fire()
    body = slack.press_body("tocsin_ack", str(number))
    before = slack.state(number)
    signature = slack.signed(body)["X-Slack-Signature"]
    state = slack.api.state
    ctx = Context(state.db, state.config, state.clock, state.catalog)
    for stamp in ("\u00b2", "1\u00b9\u00b3", "\u00b2" * 10):
        with pytest.raises(BadSignature, match="X-Slack-Request-Timestamp is missing"):
            verify(ctx, stamp, signature, body)
    assert slack.state(number) == before


def test_an_email_slack_does_not_vouch_for_maps_to_nobody(slack: Slack) -> None:
    """Anyone can put carol's email on a profile Slack has not confirmed, or on an account of
    their own organisation shared in through Slack Connect: neither acts as carol."""
    number = slack.fire()
    before = slack.state(number)
    for member, why in (
        (UNCONFIRMED, "your Slack profile's email is not confirmed"),
        (OUTSIDER, "your Slack account is deactivated, a bot, or of another organisation"),
    ):
        assert slack.press("tocsin_ack", str(number), member).status_code == 200
        assert slack.last().startswith(f"Refused: you are not a tocsin user here ({why})")
    assert slack.incident(number)["status"] == "triggered"
    after = slack.state(number)
    assert after[:3] == before[:3]
    assert slack.press("tocsin_ack", str(number), CAROL).status_code == 200
    assert slack.last() == f"Acknowledged #{number} as carol"


def test_a_response_url_off_slacks_host_is_refused_and_nothing_done(slack: Slack) -> None:
    """The answer goes where the body's response_url says: a host other than Slack's (here
    ``localhost`` where Slack's is ``127.0.0.1``) is refused before anything is done, and
    nothing is posted there."""
    number = slack.fire()
    before = slack.state(number)
    ours = slack.fake.base_url
    elsewhere = ours.replace("127.0.0.1", "localhost")
    assert elsewhere != ours
    pressed = slack.press_body("tocsin_ack", str(number)).replace(
        quote_plus(ours).encode(), quote_plus(elsewhere).encode()
    )
    typed = slack.command_body(f"ack {number}").replace(
        quote_plus(ours).encode(), quote_plus(elsewhere).encode()
    )
    assert quote_plus(elsewhere).encode() in pressed and quote_plus(elsewhere).encode() in typed
    for path, body in ((INTERACTIONS, pressed), (COMMANDS, typed)):
        answer = slack.post(path, body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["message"].startswith("response_url is not Slack's")
    after = slack.state(number)
    assert after[:3] == before[:3] and after[4] == before[4]
    assert slack.incident(number)["status"] == "triggered"
