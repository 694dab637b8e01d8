"""The Slack channel as an app (a bot token): the rules without a network (buttons, where a
message goes, what edits the incident's message, Slack's errors as Outcomes), then the channel
against the fake Slack Web API (tests/fakes/slack.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.slack import FakeSlack
from tests.notify.conftest import client, config
from tests.notify.messages import make_message
from tests.notify.sinks import slack_problems
from tocsin.config.models import SlackChannelConfig
from tocsin.notify.base import ChannelConfigError, MemoryThreads, ThreadRoot
from tocsin.notify.message import Message
from tocsin.notify.registry import build_channel
from tocsin.notify.retry import Outcome, next_step, retryable
from tocsin.notify.retry import Policy as RetryPolicy
from tocsin.notify.slack import (
    ACK_ACTION,
    ACTIONS_BLOCK,
    APPROVE_RUN_ACTION,
    ESCALATE_ACTION,
    OPEN_ACTION,
    RESOLVE_ACTION,
    SLACK_MAX_TEXT,
    app_payload,
    buttons,
    conversation_for,
    edits_in_place,
    slack_outcome,
    slack_payload,
    thread_note,
)

MEMBER = "U024BE7LH"  # Ada's member ID in make_message


def actions_of(payload: dict[str, Any]) -> list[tuple[str, str]]:
    blocks = [b for b in payload["blocks"] if b.get("type") == "actions"]
    assert len(blocks) <= 1
    if not blocks:
        return []
    assert blocks[0]["block_id"] == ACTIONS_BLOCK
    return [(e["action_id"], e["text"]["text"]) for e in blocks[0]["elements"]]


# --- the rules, without a network -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("triggered", [ACK_ACTION, RESOLVE_ACTION, ESCALATE_ACTION, OPEN_ACTION]),
        ("acknowledged", [RESOLVE_ACTION, ESCALATE_ACTION, OPEN_ACTION]),
        ("resolved", [OPEN_ACTION]),
    ],
)
def test_the_buttons_fit_the_incidents_state(status: str, expected: list[str]) -> None:
    message = make_message(status=status, incident_id=7)
    block = buttons(message)
    assert block is not None
    assert [e["action_id"] for e in block["elements"]] == expected
    by_id = {e["action_id"]: e for e in block["elements"]}
    for action in expected:
        assert by_id[action]["value"] == "7"
    assert by_id[OPEN_ACTION]["url"] == message.external_url
    if ACK_ACTION in by_id:
        assert by_id[ACK_ACTION]["style"] == "primary"
    if ESCALATE_ACTION in by_id:
        confirm = by_id[ESCALATE_ACTION]["confirm"]
        assert confirm["confirm"]["text"] == "Escalate"
        assert confirm["deny"]["text"] == "Cancel"


def test_no_open_button_without_a_web_link_and_no_buttons_on_a_test() -> None:
    block = buttons(make_message(external_url="javascript:alert(1)"))
    assert block is not None
    assert OPEN_ACTION not in [e["action_id"] for e in block["elements"]]
    assert buttons(make_message(status="resolved", external_url="")) is None
    assert buttons(make_message(kind="test")) is None
    assert buttons(make_message(kind="held_summary", text="3 messages held")) is None


def test_the_app_message_is_the_webhook_message_with_who_acted_and_buttons() -> None:
    firing = make_message()
    webhook = slack_payload(firing, "Title")
    app = app_payload(firing, "Title")
    assert app["blocks"][: len(webhook["blocks"])] == webhook["blocks"]
    assert app["text"] == webhook["text"]
    acked = make_message(
        kind="acknowledged", status="acknowledged", actor="ada", acted_at="03:12 UTC"
    )
    blocks = app_payload(acked, "Title")["blocks"]
    line = blocks[-2]["text"]["text"]
    assert "Acknowledged by *ada* at 03:12 UTC" in line
    assert actions_of({"blocks": blocks})[0][0] == RESOLVE_ACTION
    body = json.dumps(app_payload(acked, "Title")).encode()
    assert slack_problems("POST", {"content-type": "application/json"}, body) == ("", [])


def test_who_acted_is_escaped_and_a_resolution_by_tocsin_says_why() -> None:
    evil = make_message(kind="acknowledged", status="acknowledged", actor="<!channel> & co")
    text = json.dumps(app_payload(evil, "t"))
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; co" in text
    auto = make_message(kind="resolved", status="resolved", actor=None)
    assert "every alert resolved" in thread_note(auto)


def test_the_app_message_stays_within_50_blocks() -> None:
    many = tuple({"title": f"step {i}", "code": "x", "language": "bash"} for i in range(80))
    message = make_message(diagnostics=many, text="\n".join(["line"] * 5000), kind="firing")
    payload = app_payload(message, "t")
    assert len(payload["blocks"]) <= 50
    assert payload["blocks"][-1]["type"] == "actions"


def test_a_run_not_shown_whole_gets_no_approve_button(slack: FakeSlack) -> None:
    """A press approves the whole run: a text cut when the message was composed (``whole``
    "no": too long, or values bound that the text does not show), or cut here to fit a
    section (escaping makes "<" four characters), is approved in the console instead."""
    short = "systemctl restart db"
    waiting = (
        {"id": "21", "step": "1", "section": "", "command": short, "whole": "yes"},
        {"id": "22", "step": "2", "section": "", "command": "x" * 1000, "whole": "no"},
        {"id": "23", "step": "3", "section": "", "command": "echo " + "<" * 900, "whole": "yes"},
        {"id": "24", "step": "4", "section": "", "command": short},  # composed before: no word
    )
    message = to_channel(kind="status_update", text="asking", awaiting_runs=waiting)
    blocks = app_payload(message, "t")["blocks"]
    runs = {b["block_id"]: b for b in blocks if b.get("block_id", "").startswith("tocsin_run_")}
    assert list(runs) == ["tocsin_run_21", "tocsin_run_22", "tocsin_run_23", "tocsin_run_24"]
    assert [k for k, b in runs.items() if "accessory" in b] == ["tocsin_run_21"]
    for key in ("tocsin_run_22", "tocsin_run_23", "tocsin_run_24"):
        text = runs[key]["text"]["text"]
        assert len(text) <= SLACK_MAX_TEXT
        assert text.endswith(
            "_Not all of what it approves fits here: approve it in "
            f"<{message.external_url}|the console>._"
        )
    assert "Not all" not in runs["tocsin_run_21"]["text"]["text"]
    cfg = app(slack.api_url, conversation="#ops")
    assert send_all(cfg, [message], MemoryThreads())[0].ok  # Slack takes it


def test_runs_awaiting_approval_show_their_text_and_an_approve_button(
    slack: FakeSlack,
) -> None:
    waiting = (
        {
            "id": "12",
            "step": "3",
            "section": "db.md: Disk",
            "command": "rm -rf <x> && ```",
            "whole": "yes",
        },
        {"id": "13", "step": "4", "section": "", "command": "systemctl restart db", "whole": "yes"},
        {"id": "not-a-number", "step": "5", "section": "", "command": "x", "whole": "yes"},
    )
    message = to_channel(kind="status_update", text="asking", awaiting_runs=waiting)
    blocks = app_payload(message, "t")["blocks"]
    approve = [b for b in blocks if b.get("accessory", {}).get("action_id") == APPROVE_RUN_ACTION]
    assert [(b["block_id"], b["accessory"]["value"]) for b in approve] == [
        ("tocsin_run_12", "12"),
        ("tocsin_run_13", "13"),
    ]
    assert approve[0]["accessory"]["text"]["text"] == "Approve run #12"
    assert "rm -rf &lt;x&gt; &amp;&amp; `\u200b``" in approve[0]["text"]["text"]
    resolved = to_channel(kind="resolved", status="resolved", awaiting_runs=waiting)
    assert not [b for b in app_payload(resolved, "t")["blocks"] if "accessory" in b]
    cfg = app(slack.api_url, conversation="#ops")
    assert send_all(cfg, [message], MemoryThreads())[0].ok  # Slack takes it
    ops = slack.conversation("#ops")
    (posted,) = ops.top()
    pressed = slack.click(ops.id, posted.ts, APPROVE_RUN_ACTION, MEMBER, "13")
    assert pressed["actions"][0]["value"] == "13"
    assert pressed["container"] == {
        "type": "message",
        "message_ts": posted.ts,
        "channel_id": ops.id,
        "is_ephemeral": False,
    }
    with pytest.raises(KeyError):  # no button for a run that does not await
        slack.click(ops.id, posted.ts, APPROVE_RUN_ACTION, MEMBER, "14")


@pytest.mark.parametrize(
    ("recipient", "severity", "expected"),
    [
        ({"name": "ada", "slack": MEMBER}, "critical", MEMBER),  # a person: their DM
        ({"name": "bob", "slack": "@bob"}, "critical", "#inc-critical"),  # not a member ID
        (None, "critical", "#inc-critical"),
        (None, "warning", "#ops"),
        (None, None, "#ops"),
    ],
)
def test_where_a_message_goes(
    recipient: dict[str, str] | None, severity: str | None, expected: str
) -> None:
    message = make_message(recipient=recipient, severity=severity)
    assert conversation_for(message, "#ops", {"critical": "#inc-critical"}) == expected


def test_nowhere_to_post_is_none() -> None:
    assert conversation_for(make_message(recipient=None), None, {"critical": "#c"}) == "#c"
    assert conversation_for(make_message(recipient=None, severity="info"), None, {}) is None


@pytest.mark.parametrize(
    ("kind", "update_key", "in_place"),
    [
        ("firing", None, True),
        ("acknowledged", None, True),
        ("resolved", None, True),
        ("escalation", None, True),
        ("storm_update", "storm:3", True),
        ("status_update", None, False),
        ("diagnostics", None, False),
        ("reminder", None, False),
        ("deadline", None, False),
        ("update_reminder", None, False),
        ("duty_reminder", None, False),
        ("held_summary", None, False),
    ],
)
def test_what_edits_the_incidents_message(
    kind: str, update_key: str | None, in_place: bool
) -> None:
    assert edits_in_place(make_message(kind=kind, update_key=update_key)) is in_place


def test_thread_notes() -> None:
    step = make_message(kind="escalation", escalation_step=2)
    assert thread_note(step) == f":rotating_light: Escalated (step 2): <@{MEMBER}> is paged."
    acked = make_message(kind="acknowledged", status="acknowledged", actor="ada")
    assert thread_note(acked) == ":white_check_mark: Acknowledged by *ada*"
    assert thread_note(make_message(recipient=None)) == ":rotating_light: Triggered again."


@pytest.mark.parametrize(
    ("error", "status", "transient", "says"),
    [
        ("ratelimited", 429, True, "slack: ratelimited (Slack asks to wait 30s)"),
        ("not_in_channel", 200, False, "slack: not_in_channel: invite the app to #ops"),
        ("channel_not_found", 200, False, "slack: channel_not_found: no conversation #ops"),
        ("is_archived", 200, False, "slack: is_archived: #ops is archived"),
        ("invalid_auth", 200, False, "slack: invalid_auth: the bot token is not valid"),
        ("account_inactive", 200, False, "slack: account_inactive"),
        ("token_revoked", 200, False, "slack: token_revoked: the bot token was revoked"),
        ("missing_scope", 200, False, "slack: missing_scope: the app lacks a scope (chat:write)"),
        ("internal_error", 200, True, "slack: internal_error"),
        ("http_503", 503, True, "slack: http_503 (HTTP 503)"),
        ("invalid_blocks", 200, False, "slack: invalid_blocks"),
    ],
)
def test_slack_errors_as_outcomes(error: str, status: int, transient: bool, says: str) -> None:
    retry = 30.0 if status == 429 else None
    outcome = slack_outcome(error, status, "#ops", retry, "chat:write")
    assert not outcome.ok
    assert outcome.transient is transient
    assert retryable(outcome) is transient
    assert outcome.error.startswith(says)
    if status == 429:  # the retry policy waits at least what Slack asked
        step = next_step(RetryPolicy(5, 1.0, 60.0), 1, outcome, 0.0)
        assert step == 30.0


def app(api_url: str, **extra: Any) -> SlackChannelConfig:
    data: dict[str, Any] = {"token": {"value": "xoxb-fake-bot-token"}, "api_url": api_url}
    data.update(extra)
    cfg: SlackChannelConfig = config(SlackChannelConfig, name="oncall", type="slack", **data)
    return cfg


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"url": "https://hooks.slack.com/x"}, "exactly one (it has url and token)"),
        ({"token": None}, "needs url or url_secret"),
        ({"api_url": "ftp://slack"}, "channel 'oncall': api_url must be an http(s) URL"),
        ({"token": {"env": "TOCSIN_NO_SUCH_VARIABLE"}}, "channel 'oncall': token: environment"),
    ],
)
def test_build_errors_name_the_channel(extra: dict[str, Any], says: str) -> None:
    async def build() -> None:
        async with client() as http:
            rest = dict(extra)
            build_channel(app(rest.pop("api_url", "https://slack.com/api/"), **rest), http=http)

    with pytest.raises(ChannelConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        asyncio.run(build())


def test_a_webhook_channel_refuses_an_apps_settings() -> None:
    cfg = config(
        SlackChannelConfig,
        name="oncall",
        type="slack",
        url="https://x",
        by_severity={"critical": "#ops"},
    )

    async def build() -> None:
        async with client() as http:
            build_channel(cfg, http=http)

    with pytest.raises(ChannelConfigError, match="channel 'oncall': by_severity is where"):
        asyncio.run(build())


# --- against the fake Slack Web API ---------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user(MEMBER, "ada", "ada@example.com", "Ada Lovelace")
        fake.add_channel("ops")
        fake.add_channel("inc-critical")
        yield fake


def send_all(
    cfg: SlackChannelConfig, messages: list[Message], threads: MemoryThreads
) -> list[Outcome]:
    """Build the channel once and send ``messages`` in order, as the deliverer does."""

    async def run() -> list[Outcome]:
        async with client() as http:
            channel = build_channel(cfg, http=http, threads=threads)
            return [await channel.send(m) for m in messages]

    return asyncio.run(run())


def to_channel(**overrides: Any) -> Message:
    return make_message(recipient=None, **overrides)


def test_one_message_per_incident_edited_in_place_with_replies(slack: FakeSlack) -> None:
    threads = MemoryThreads()
    cfg = app(slack.api_url, conversation="#ops", by_severity={"critical": "#inc-critical"})
    outcomes = send_all(
        cfg,
        [
            to_channel(),
            to_channel(kind="status_update", text="Rolling back the deploy"),
            to_channel(kind="acknowledged", status="acknowledged", actor="ada", acted_at="03:12"),
            to_channel(kind="diagnostics", text="$ df -h\n/dev/sda1 91%"),
            to_channel(kind="resolved", status="resolved", actor="ada"),
        ],
        threads,
    )
    assert [o.ok for o in outcomes] == [True] * 5, outcomes
    room = slack.conversation("#inc-critical")
    assert slack.conversation("#ops").messages == {}
    (root,) = room.top()
    assert root.edits == 2
    assert actions_of({"blocks": root.blocks}) == [(OPEN_ACTION, "Open in the console")]
    assert "Resolved by *ada*" in json.dumps(root.blocks)
    replies = room.replies(root.ts)
    assert [r.text for r in replies][1::2] == [
        ":white_check_mark: Acknowledged by *ada* at 03:12",
        ":white_check_mark: Resolved by *ada*",
    ]
    assert "Rolling back the deploy" in json.dumps(replies[0].blocks)
    assert "/dev/sda1 91%" in json.dumps(replies[2].blocks)
    assert threads.roots == {(42, "oncall", "#inc-critical"): ThreadRoot(room.id, root.ts)}
    updates = slack.calls_of("chat.update")
    assert [c.args["ts"] for c in updates] == [root.ts, root.ts]
    assert all(c.headers["authorization"] == "Bearer xoxb-fake-bot-token" for c in slack.calls)


def test_a_person_is_paged_in_their_direct_messages(slack: FakeSlack) -> None:
    threads = MemoryThreads()
    cfg = app(slack.api_url, conversation="#ops")
    outcomes = send_all(
        cfg,
        [make_message(), make_message(kind="acknowledged", status="acknowledged", actor="ada")],
        threads,
    )
    assert all(o.ok for o in outcomes)
    dm = slack.conversation(MEMBER)
    (root,) = dm.top()
    page = slack.calls_of("chat.postMessage")[0]
    assert page.args["channel"] == MEMBER
    assert page.args["text"].startswith(f"<@{MEMBER}>")  # the page mentions her
    assert root.text.startswith("[ACK]")  # and is then edited
    assert root.edits == 1
    assert [r.text for r in dm.replies(root.ts)] == [":white_check_mark: Acknowledged by *ada*"]
    assert threads.roots[(42, "oncall", MEMBER)].channel_id == dm.id
    assert slack.conversation("#ops").messages == {}


def test_a_deleted_message_is_posted_again_and_kept(slack: FakeSlack) -> None:
    threads = MemoryThreads()
    cfg = app(slack.api_url, conversation="#ops")
    assert send_all(cfg, [to_channel()], threads)[0].ok
    ops = slack.conversation("#ops")
    first = ops.top()[0].ts
    del ops.messages[first]  # someone deleted it in Slack
    acked = to_channel(kind="acknowledged", status="acknowledged", actor="ada")
    assert send_all(cfg, [acked], threads)[0].ok
    (again,) = ops.top()
    assert again.ts != first
    assert threads.roots[(42, "oncall", "#ops")].ts == again.ts
    assert [c.answer["error"] for c in slack.calls_of("chat.update")] == ["message_not_found"]


def test_a_reply_whose_thread_is_gone_is_posted_on_its_own(slack: FakeSlack) -> None:
    threads = MemoryThreads()
    cfg = app(slack.api_url, conversation="#ops")
    assert send_all(cfg, [to_channel()], threads)[0].ok
    ops = slack.conversation("#ops")
    ops.messages.clear()
    update = to_channel(kind="status_update", text="still on it")
    assert send_all(cfg, [update], threads)[0].ok
    (alone,) = ops.top()
    assert "still on it" in json.dumps(alone.blocks)


@pytest.mark.parametrize(
    ("setup", "error", "says"),
    [
        ("not_member", "not_in_channel", "slack: not_in_channel: invite the app to #ops"),
        ("archived", "is_archived", "slack: is_archived: #ops is archived"),
        ("unknown", "channel_not_found", "slack: channel_not_found: no conversation #nowhere"),
        ("bad_token", "invalid_auth", "slack: invalid_auth: the bot token is not valid"),
        ("revoked", "token_revoked", "slack: token_revoked"),
        ("no_scope", "missing_scope", "slack: missing_scope: the app lacks a scope (chat:write)"),
    ],
)
def test_setup_errors_are_permanent_and_say_what_to_do(setup: str, error: str, says: str) -> None:
    with FakeSlack() as fake:
        conversation = "#nowhere" if setup == "unknown" else "#ops"
        fake.add_channel("ops", member=setup != "not_member", archived=setup == "archived")
        if setup == "revoked":
            fake.revoked = True
        if setup == "no_scope":
            fake.scopes.discard("chat:write")
        cfg = app(fake.api_url, conversation=conversation)
        if setup == "bad_token":
            cfg = app(fake.api_url, conversation=conversation, token={"value": "xoxb-wrong"})
        (outcome,) = send_all(cfg, [to_channel()], MemoryThreads())
        assert [c.answer["error"] for c in fake.calls] == [error]
    assert not outcome.ok
    assert outcome.transient is False
    assert outcome.error.startswith(says)


def test_ratelimited_carries_retry_after_and_the_next_attempt_goes_through(
    slack: FakeSlack,
) -> None:
    threads = MemoryThreads()
    cfg = app(slack.api_url, conversation="#ops")
    slack.rate_limit(17)
    first, second = send_all(cfg, [to_channel(), to_channel()], threads)
    assert not first.ok
    assert first.transient is True
    assert first.status == 429
    assert first.retry_after_s == 17.0
    assert second.ok
    assert len(slack.conversation("#ops").top()) == 1


def test_a_server_error_and_a_refused_connection_are_transient(slack: FakeSlack) -> None:
    cfg = app(slack.api_url, conversation="#ops")
    slack.fail("internal_error", status=500)
    (outcome,) = send_all(cfg, [to_channel()], MemoryThreads())
    assert outcome.transient is True
    assert outcome.error.startswith("slack: internal_error")
    from tests.notify.sinks import free_port

    gone = app(f"http://127.0.0.1:{free_port()}/api/", conversation="#ops")
    (refused,) = send_all(gone, [to_channel()], MemoryThreads())
    assert not refused.ok
    assert refused.transient is True
    assert refused.error.startswith("slack: ")


def test_a_message_with_nowhere_to_go_is_a_permanent_failure(slack: FakeSlack) -> None:
    cfg = app(slack.api_url)  # no conversation, no by_severity
    (outcome,) = send_all(cfg, [to_channel()], MemoryThreads())
    assert not outcome.ok
    assert outcome.transient is False
    assert "has no conversation for a message of severity critical" in outcome.error
    assert slack.calls == []


def test_untrusted_text_reaches_slack_escaped(slack: FakeSlack) -> None:
    evil = to_channel(summary="<!channel> <https://evil|click> & more")
    cfg = app(slack.api_url, conversation="#ops")
    assert send_all(cfg, [evil], MemoryThreads())[0].ok
    sent = json.dumps(slack.conversation("#ops").top()[0].blocks)
    assert "<!channel>" not in sent
    assert "&lt;!channel&gt; &lt;https://evil|click&gt; &amp; more" in sent


class _BrokenThreads(MemoryThreads):
    async def put(
        self, incident_id: int, channel: str, conversation: str, root: ThreadRoot
    ) -> None:
        raise OSError("the database is gone")


def test_a_message_that_went_is_sent_even_when_it_cannot_be_kept(slack: FakeSlack) -> None:
    """Posted is delivered: a failure to keep it costs only the edit in place later."""
    cfg = app(slack.api_url, conversation="#ops")
    first, second = send_all(
        cfg,
        [to_channel(), to_channel(kind="acknowledged", status="acknowledged")],
        _BrokenThreads(),
    )
    assert first.ok and second.ok
    assert len(slack.conversation("#ops").top()) == 2
