"""The fake Slack (tests/fakes/slack.py) checks what Slack checks and answers in its shapes,
seen through slack_sdk's own client; its signed requests verify with slack_sdk's own
verifier; its response_url receives as Slack's does. And the Block Kit preview escapes."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlack, send_command, send_interaction, sign
from tests.notify.sinks import HttpSink


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user("U0ALICE01", "alice", "alice@example.com", "Alice Example")
        fake.add_channel("ops")
        yield fake


def call(fake: FakeSlack, method: str, token: str | None = None, **args: Any) -> dict[str, Any]:
    """One call through slack_sdk; Slack's answer, ok or not."""

    async def run() -> dict[str, Any]:
        client = AsyncWebClient(token=token or fake.token, base_url=fake.api_url)
        client.retry_handlers = []
        try:
            if method in ("users.info", "users.lookupByEmail"):
                response = await client.api_call(method, http_verb="GET", params=args)
            else:
                response = await client.api_call(method, json=args)
            data: dict[str, Any] = dict(response.data)  # type: ignore[arg-type]
        except SlackApiError as exc:
            data = dict(exc.response.data)
            data["__status__"] = exc.response.status_code
        return data

    return asyncio.run(run())


def test_the_web_api_answers_in_slacks_shapes(slack: FakeSlack) -> None:
    me = call(slack, "auth.test")
    assert me["ok"] is True and me["user_id"] == slack.bot_user
    user = call(slack, "users.info", user="U0ALICE01")["user"]
    assert (user["id"], user["name"], user["profile"]["email"]) == (
        "U0ALICE01",
        "alice",
        "alice@example.com",
    )
    found = call(slack, "users.lookupByEmail", email="ALICE@example.com")
    assert found["user"]["id"] == "U0ALICE01"
    assert call(slack, "users.lookupByEmail", email="x@example.com")["error"] == "users_not_found"
    assert call(slack, "users.info", user="U0NOBODY1")["error"] == "user_not_found"
    slack.add_user("U0BOB0001", "bob", None)  # a profile with no email: Slack leaves it out
    bob = call(slack, "users.info", user="U0BOB0001")["user"]
    assert bob["name"] == "bob" and "email" not in bob["profile"]
    posted = call(slack, "chat.postMessage", channel="#ops", text="hi")
    assert posted["ok"] is True and posted["channel"] == slack.conversation("ops").id
    assert posted["message"]["text"] == "hi" and posted["message"]["ts"] == posted["ts"]
    reply = call(
        slack, "chat.postMessage", channel=posted["channel"], text="r", thread_ts=posted["ts"]
    )
    assert reply["message"]["thread_ts"] == posted["ts"]
    edited = call(slack, "chat.update", channel=posted["channel"], ts=posted["ts"], text="edited")
    assert edited["ok"] is True and edited["text"] == "edited"
    ops = slack.conversation("#ops")
    assert [m.text for m in ops.top()] == ["edited"]
    assert [m.text for m in ops.replies(posted["ts"])] == ["r"]


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        ("chat.postMessage", {"channel": "#nowhere", "text": "x"}, "channel_not_found"),
        ("chat.postMessage", {"channel": "#ops"}, "no_text"),
        (
            "chat.postMessage",
            {"channel": "#ops", "text": "x", "thread_ts": "1.2"},
            "thread_not_found",
        ),
        ("chat.postMessage", {"channel": "#ops", "blocks": [{"type": "bogus"}]}, "invalid_blocks"),
        ("chat.postMessage", {"channel": "#ops", "text": "x" * 40_001}, "msg_too_long"),
        ("chat.update", {"channel": "#ops", "ts": "1.2", "text": "x"}, "channel_not_found"),
        ("chat.update", {"channel": "OPS", "ts": "1.2", "text": "x"}, "message_not_found"),
    ],
)
def test_the_web_api_refuses_what_slack_refuses(
    slack: FakeSlack, method: str, args: dict[str, Any], error: str
) -> None:
    if args.get("channel") == "OPS":  # chat.update takes the channel's ID
        args = {**args, "channel": slack.conversation("ops").id}
    answer = call(slack, method, **args)
    assert answer["ok"] is False and answer["error"] == error


def test_buttons_are_checked_as_slack_checks_them(slack: FakeSlack) -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "a"}
    twice = [{"type": "actions", "block_id": "b", "elements": [button, button]}]
    answer = call(slack, "chat.postMessage", channel="#ops", text="x", blocks=twice)
    assert answer["error"] == "invalid_blocks"
    assert answer["errors"] == ["blocks[0].elements[1]: action_id 'a' is not unique"]
    long_text = {**button, "text": {"type": "plain_text", "text": "x" * 76}}
    blocks = [{"type": "actions", "elements": [long_text]}]
    answer = call(slack, "chat.postMessage", channel="#ops", text="x", blocks=blocks)
    assert answer["errors"] == ["blocks[0].elements[0].text: text must be 1..75 characters"]


def test_auth_scopes_and_membership(slack: FakeSlack) -> None:
    assert call(slack, "auth.test", token="xoxb-wrong")["error"] == "invalid_auth"
    slack.add_channel("private", member=False)
    assert call(slack, "chat.postMessage", channel="#private", text="x")["error"] == (
        "not_in_channel"
    )
    slack.scopes.discard("chat:write")
    refused = call(slack, "chat.postMessage", channel="#ops", text="x")
    assert (refused["error"], refused["needed"]) == ("missing_scope", "chat:write")
    slack.revoked = True
    assert call(slack, "auth.test")["error"] == "token_revoked"


def test_programmed_failures(slack: FakeSlack) -> None:
    slack.rate_limit(7, method="chat.postMessage")
    assert call(slack, "auth.test")["ok"] is True  # another method is not limited
    limited = call(slack, "chat.postMessage", channel="#ops", text="x")
    assert (limited["error"], limited["__status__"]) == ("ratelimited", 429)
    assert slack.calls_of("chat.postMessage")[0].status == 429
    slack.fail("fatal_error", times=2)
    assert [call(slack, "auth.test").get("error") for _ in range(3)] == [
        "fatal_error",
        "fatal_error",
        None,
    ]


def test_a_signature_verifies_with_slacks_own_verifier() -> None:
    body = b"payload=%7B%7D"
    headers = sign("s3cret", body, 1_800_000_000)
    verifier = SignatureVerifier("s3cret", clock=_FixedClock(1_800_000_010))
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not SignatureVerifier("other", clock=_FixedClock(1_800_000_010)).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_a_pressed_button_is_sent_signed_and_its_response_url_edits_the_message(
    slack: FakeSlack,
) -> None:
    ack = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Acknowledge"},
        "action_id": "tocsin_ack",
        "value": "12",
    }
    blocks = [{"type": "actions", "block_id": "tocsin_actions", "elements": [ack]}]
    posted = call(slack, "chat.postMessage", channel="#ops", text="page", blocks=blocks)
    payload = slack.click(posted["channel"], posted["ts"], "tocsin_ack", "U0ALICE01")
    assert payload["user"]["id"] == "U0ALICE01" and payload["user"]["name"] == "alice"
    assert payload["actions"][0]["value"] == "12"
    with pytest.raises(KeyError):
        slack.click(posted["channel"], posted["ts"], "tocsin_resolve", "U0ALICE01")
    with HttpSink() as tocsin:
        now = int(time.time())
        assert send_interaction(tocsin.url, payload, slack.signing_secret).status_code == 200
        form = slack.command("ack 12", "U0ALICE01", "#ops")
        assert send_command(tocsin.url, form, slack.signing_secret).status_code == 200
    verifier = SignatureVerifier(slack.signing_secret)
    first, second = tocsin.requests
    for request in (first, second):
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        stamp = request.headers["x-slack-request-timestamp"]
        assert abs(int(stamp) - now) <= 5
        assert verifier.is_valid(request.body, stamp, request.headers["x-slack-signature"])
    sent = dict(urllib.parse.parse_qsl(first.body.decode()))
    assert json.loads(sent["payload"]) == payload
    command = dict(urllib.parse.parse_qsl(second.body.decode()))
    assert (command["command"], command["text"], command["user_id"]) == (
        "/tocsin",
        "ack 12",
        "U0ALICE01",
    )
    import httpx

    replaced = {"replace_original": True, "text": "Acknowledged by alice"}
    for _ in range(5):
        assert httpx.post(payload["response_url"], json=replaced).json() == {"ok": True}
    assert slack.refused_responses == []
    assert httpx.post(payload["response_url"], json=replaced).json()["error"] == "used_url"
    (message,) = slack.conversation("#ops").top()
    assert message.text == "Acknowledged by alice" and message.blocks == []
    assert len(slack.responses) == 5
    other = slack.response_url()
    assert httpx.post(other, json={"text": ""}).json()["error"] == "no_text"
    assert httpx.post(other, content=b"text=hi").status_code == 400  # not JSON
    key = payload["response_url"].rsplit("/", 1)[1]
    refused = [(key, "used_url"), (other.rsplit("/", 1)[1], "no_text")]
    assert slack.refused_responses == [*refused, (refused[1][0], "invalid_payload")]
    assert len(slack.responses) == 5


def _preview() -> Any:
    path = Path(__file__).resolve().parents[2] / "scripts" / "blockkit_preview.py"
    spec = importlib.util.spec_from_file_location("blockkit_preview", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_preview_renders_mrkdwn_and_escapes_for_html() -> None:
    preview = _preview()
    text = "*Bold* `x &lt;y&gt;` <https://e.com/?a=1&amp;b=2|a &lt;link&gt;> <@U1>\n```<script>```"
    out = preview.mrkdwn(text, {"U1": "Ada"})
    assert "<b>Bold</b>" in out
    assert "<code>x &lt;y&gt;</code>" in out
    assert '<a href="https://e.com/?a=1&amp;b=2">a &lt;link&gt;</a>' in out
    assert '<span class="mention">@Ada</span>' in out
    assert "<pre>&lt;script&gt;</pre>" in out
    assert "<script>" not in out
