"""What a person asks from Slack, and the sentences they read back (``incidents.chat``),
without a network or a database: table tests of the slash command's words, the button press
and the command's form, and the answers."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from tocsin.errors import Invalid
from tocsin.incidents import chat
from tocsin.incidents.chat import (
    MAX_ID,
    Ask,
    ChatUser,
    already,
    destructive,
    doing,
    done,
    form,
    not_allowed,
    not_mapped,
    oncall_rows,
    oncall_text,
    parse_command,
    parse_command_form,
    parse_interaction,
    refused,
    ssl_check,
    usage,
)

HOOK = "https://hooks.slack.com/actions/T0TEAM/1/abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ack 12", Ask("acknowledge", 12)),
        ("ACK #12", Ask("acknowledge", 12)),
        ("  acknowledge   7 ", Ask("acknowledge", 7)),
        ("resolve 3", Ask("resolve", 3)),
        ("escalate #40", Ask("escalate", 40)),
        ("oncall", Ask("oncall")),
        ("on-call", Ask("oncall")),
        ("who", Ask("oncall")),
        ("help", Ask("help")),
        ("", Ask("help")),
        ("   ", Ask("help")),
        ("dance", Ask("help", problem="I do not know “dance”.")),
        ("ack", Ask("help", problem="Say which incident: ack 12.")),
        ("ack 12 13", Ask("help", problem="Say which incident: ack 12.")),
        ("resolve twelve", Ask("help", problem="“twelve” is not an incident number.")),
        ("ack 0", Ask("help", problem="“0” is not an incident number.")),
        ("ack -3", Ask("help", problem="“-3” is not an incident number.")),
        (f"ack {MAX_ID + 1}", Ask("help", problem=f"“{MAX_ID + 1}” is not an incident number.")),
        ("ack 99999999999", Ask("help", problem="“99999999999” is not an incident number.")),
        ("oncall now", Ask("help", problem="oncall takes nothing after it.")),
        ("d\x1bnce", Ask("help", problem="I do not know “d?nce”.")),
        ("x" * 60, Ask("help", problem="I do not know “" + "x" * 40 + "…”.")),
    ],
)
def test_parse_command(text: str, expected: Ask) -> None:
    assert parse_command(text) == expected


def _payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0TEAM"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0OPS"},
        "channel": {"id": "C0OPS", "name": "ops"},
        "message": {"ts": "1.2", "text": "DiskFull"},
        "response_url": HOOK,
        "actions": [
            {"action_id": "tocsin_ack", "block_id": "tocsin_actions", "value": "12"},
        ],
    }
    payload.update(changes)
    return payload


def _body(payload: Any) -> bytes:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode({"payload": raw}).encode()


def _press(action_id: str, value: str) -> bytes:
    return _body(_payload(actions=[{"action_id": action_id, "value": value}]))


@pytest.mark.parametrize(
    ("body", "action", "target"),
    [
        (_press("tocsin_ack", "12"), "acknowledge", 12),
        (_press("tocsin_resolve", "12"), "resolve", 12),
        (_press("tocsin_escalate", "5"), "escalate", 5),
        (_press("tocsin_approve_run", "31"), "approve", 31),
    ],
)
def test_a_button_press_asks(body: bytes, action: str, target: int) -> None:
    asked = parse_interaction(body)
    assert asked is not None
    assert asked.ask == Ask(action, target)  # type: ignore[arg-type]
    assert asked.user == ChatUser("U0ALICE", "alice", "T0TEAM")
    assert asked.response_url == HOOK


@pytest.mark.parametrize(
    "body",
    [
        _press("tocsin_open", ""),  # the link button: Slack reports it, nothing to do
        _press("another_apps_button", "1"),
        _body(_payload(type="view_submission")),
        _body(_payload(type="shortcut")),
    ],
)
def test_nothing_to_do(body: bytes) -> None:
    assert parse_interaction(body) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no payload field"),
        (b"token=x", "no payload field"),
        (b"payload=%FF", "not UTF-8"),
        (b"\xff", "not UTF-8"),
        (_body("{not json"), "not JSON"),
        (_body("[1]"), "not a JSON object"),
        (_body("[" * 100_000 + "]" * 100_000), "not"),
        (_body({"user": {}}), "no type"),
        (_body(_payload(user="alice")), "no user"),
        (_body(_payload(user={"id": "alice"})), "not a Slack member ID"),
        (_body(_payload(user={"id": "U0A", "username": "a\nb"})), "control characters"),
        (_body(_payload(user={"id": "U0A", "team_id": "x"})), "not a Slack team ID"),
        (_body(_payload(actions=[])), "no actions"),
        (_body(_payload(actions=["x"])), "no actions"),
        (_body(_payload(actions=[{"value": "1"}])), "action_id is missing"),
        (_press("tocsin_ack", "twelve"), "is not a number"),
        (_press("tocsin_ack", "0"), "is not a number"),
        (_press("tocsin_ack", str(MAX_ID + 1)), "is not a number"),
        (_press("tocsin_ack", "1" * 50), "longer than 40"),
        (_body(_payload(response_url="javascript:alert(1)")), r"not an http\(s\) URL"),
        (_body(_payload(response_url=None)), "response_url is missing"),
        (_body(_payload(response_url="https://" + "x" * 3000)), "longer than"),
        (b"payload=1&payload=2", "given twice"),
        ("&".join(f"f{i}=1" for i in range(50)).encode(), "more than 40 form fields"),
    ],
)
def test_a_malformed_press_is_invalid(body: bytes, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_interaction(body)


def _command(**changes: str) -> bytes:
    fields = {
        "command": "/tocsin",
        "text": "ack 12",
        "user_id": "U0ALICE",
        "user_name": "alice",
        "team_id": "T0TEAM",
        "channel_id": "C0OPS",
        "response_url": HOOK,
        "trigger_id": "1.2.3",
    }
    fields.update(changes)
    return urlencode({k: v for k, v in fields.items() if v != "<none>"}).encode()


def test_a_slash_command_form() -> None:
    asked = parse_command_form(_command())
    assert asked.ask == Ask("acknowledge", 12)
    assert asked.user == ChatUser("U0ALICE", "alice", "T0TEAM")
    assert asked.command == "/tocsin" and asked.response_url == HOOK
    assert parse_command_form(_command(text="<none>")).ask == Ask("help")
    assert parse_command_form(_command(command="/page")).command == "/page"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_command(command="<none>"), "command is missing"),
        (_command(command="tocsin"), "not a slash command"),
        (_command(user_id="<none>"), "user's id is missing"),
        (_command(user_id="bob"), "not a Slack member ID"),
        (_command(text="x" * 501), "text is longer than 500"),
        (_command(response_url="ftp://x"), "not an http"),
    ],
)
def test_a_malformed_command_is_invalid(body: bytes, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_command_form(body)


def test_form_fields() -> None:
    assert form(b"a=1&b=&c=x+y") == {"a": "1", "b": "", "c": "x y"}


def test_answers() -> None:
    ack, run = Ask("acknowledge", 12), Ask("approve", 7)
    assert doing(ack) == "Acknowledging #12…"
    assert doing(Ask("resolve", 3)) == "Resolving #3…"
    assert doing(Ask("oncall")) == "Looking up who is on call…"
    assert doing(run) == "Approving run 7…"
    assert done(ack, "alice") == "Acknowledged #12 as alice"
    assert done(Ask("escalate", 2), "bob", "paged") == "Escalated #2 as bob: paged"
    assert already(ack, "bob") == "#12 was already acknowledged by bob"
    assert already(Ask("resolve", 12), None) == "#12 was already resolved"
    assert refused(ack, "the incident is resolved", "resolved", "bob") == (
        "#12 is already resolved (by bob)"
    )
    assert refused(ack, "the incident is resolved", "resolved") == "#12 is already resolved"
    assert refused(Ask("escalate", 4), "the incident is acknowledged; …", "acknowledged") == (
        "Could not escalate #4: the incident is acknowledged; …"
    )
    assert refused(run, "the run is finished") == "Could not approve run 7: the run is finished"
    assert not_allowed("victor", "viewer", ack).startswith(
        "Refused: victor is a viewer in tocsin: viewers may not acknowledge."
    )
    assert "viewers may not approve runs" in not_allowed("victor", "viewer", run)
    mapped = not_mapped(ChatUser("U0NEW"), "no tocsin user has your Slack profile's email")
    assert mapped == (
        "Refused: you are not a tocsin user here (no tocsin user has your Slack profile's "
        "email). Ask an admin to add `slack: U0NEW` to your user in tocsin's configuration."
    )
    assert destructive(7, 12, "https://t/incidents/12").endswith(
        "Approve it in the console: https://t/incidents/12"
    )
    assert usage("/page", "I do not know “x”.").splitlines()[:2] == [
        "I do not know “x”.",
        "/page ack 12: acknowledge incident #12 (escalation stops)",
    ]


def test_oncall_text() -> None:
    assert oncall_text([]) == "No schedules are configured: nobody is on call."
    found: list[dict[str, Any]] = [
        {
            "schedule": "primary",
            "users": [{"name": "alice"}],
            "until": "2027-01-16T00:00:00+00:00",
            "next": {"users": ["bob"], "start": "…", "end": "…"},
        },
        {"schedule": "empty", "users": [], "until": None, "next": None},
    ]
    assert oncall_text(oncall_rows(found)) == (
        "On call now:\nprimary: alice until 2027-01-16 00:00:00 UTC (then bob)\nempty: nobody"
    )


def test_ssl_check() -> None:
    assert ssl_check(b"ssl_check=1&token=legacy")
    assert not ssl_check(b"command=%2Ftocsin&text=ack+1")
    assert not ssl_check(b"\xff")


@pytest.mark.parametrize(
    ("response_url", "api_url", "ok"),
    [
        ("https://hooks.slack.com/actions/T0/1/abc", "https://slack.com/api/", True),
        ("https://HOOKS.slack.com/commands/T0/1/abc", "https://slack.com/api/", True),
        ("https://hooks.slack-gov.com/actions/T0/1/a", "https://slack-gov.com/api/", True),
        ("http://127.0.0.1:8080/answers", "http://127.0.0.1:9090/api/", True),  # a test's
        ("http://hooks.slack.com/actions/T0/1/abc", "https://slack.com/api/", False),
        ("https://169.254.169.254/latest/meta-data", "https://slack.com/api/", False),
        ("https://hooks.slack.com.evil.example/x", "https://slack.com/api/", False),
        ("https://hooks.slack.com@10.0.0.1/x", "https://slack.com/api/", False),
        ("https://localhost/x", "http://127.0.0.1:9090/api/", False),
        ("https://[::1/x", "https://slack.com/api/", False),
    ],
)
def test_answers_go_to_slacks_host_only(response_url: str, api_url: str, ok: bool) -> None:
    assert chat.answers_to(response_url, api_url) is ok
