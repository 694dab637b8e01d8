"""Slack, webhook, PagerDuty and console channels against real local peers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notify.conftest import client, config, deliver
from tests.notify.messages import alert, make_message
from tests.notify.sinks import Certificate, HttpSink, free_port
from tocsin.clock import VirtualClock
from tocsin.config import (
    ConsoleChannelConfig,
    PagerDutyChannelConfig,
    Secret,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from tocsin.notify.base import ChannelConfigError
from tocsin.notify.http import http_session
from tocsin.notify.message import from_json, message_context
from tocsin.notify.pagerduty import pagerduty_severity
from tocsin.notify.registry import build_channel
from tocsin.notify.retry import Outcome, Policy, next_step
from tocsin.notify.slack import slack_payload
from tocsin.notify.webhook import WebhookChannel, verify_signature
from tocsin.templating import DEFAULT_TITLE, compile_template, render

POLICY = Policy(max_attempts=5, initial_s=1.0, max_s=60.0)


def slack(url: str, **extra: object) -> SlackChannelConfig:
    cfg: SlackChannelConfig = config(
        SlackChannelConfig, name="oncall", type="slack", url=url, **extra
    )
    return cfg


# --- Slack ---------------------------------------------------------------------------------


def test_slack_message_is_valid_block_kit_with_what_matters() -> None:
    with HttpSink("slack") as sink:
        outcome = deliver(slack(sink.url), make_message())
    assert outcome == Outcome(ok=True, status=200)
    assert sink.rejected == []
    (request,) = sink.requests
    assert request.headers["content-type"].startswith("application/json")
    payload = request.json()
    assert payload["text"] == "<@U024BE7LH> [FIRING:2] HighErrorRate pebble-api (critical)"
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[FIRING:2] HighErrorRate pebble-api (critical)"},
    }
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert texts[0] == "<@U024BE7LH> you are paged for this incident."
    assert "*Status:* triggered" in texts[1] and "*Severity:* critical" in texts[1]
    assert "*Alerts:* 2 firing, 1 resolved" in texts[1]
    assert any(
        "<https://runbooks.example.com/pebble-api#higherrorrate|pebble-api: HighErrorRate>" in t
        for t in texts
    )
    code = next(t for t in texts if t.startswith("*1. Error rate by route*"))
    assert "_(read, promql)_" in code
    assert (
        '```\nsum by (route) (rate(http_requests_total{job="pebble-api",code=~"5.."}[5m]))\n```'
        in code
    )
    context = blocks[-1]
    assert context["type"] == "context"
    assert context["elements"][0]["text"].startswith(
        "<https://tocsin.example.com/incidents/42|Incident #42>"
    )


def test_slack_says_escalated_only_for_a_step_after_the_first_page() -> None:
    """The first page of an escalation (kind ``firing``, step 1) reads as a new page; a
    later step's says which step it is (issue 18's reader)."""
    first = make_message(kind="firing", escalation_step=1)
    later = make_message(kind="escalation", escalation_step=2)
    said = []
    for message in (first, later):
        context = message_context(message)
        title = render(compile_template(DEFAULT_TITLE, "title"), context)
        blocks = slack_payload(message, title)["blocks"]
        said.append((blocks[0]["text"]["text"], blocks[1]["text"]["text"]))
    assert said == [
        (
            "[FIRING:2] HighErrorRate pebble-api (critical)",
            "<@U024BE7LH> you are paged for this incident.",
        ),
        (
            "[ESCALATED step 2] HighErrorRate pebble-api (critical)",
            "<@U024BE7LH> you are paged for this incident (escalation step 2).",
        ),
    ]


def test_slack_fits_every_limit_and_escapes_untrusted_text() -> None:
    hostile = "<!channel> & <@U999> <https://evil.example|click>"
    message = make_message(
        title="T" * 400,
        summary=hostile + " " + "s" * 10_000,
        alerts=tuple(
            alert(
                {"alertname": "Disk", "instance": f"h{i}", "note": hostile}, {"summary": "x" * 900}
            )
            for i in range(120)
        ),
        diagnostics=tuple(
            {
                "title": f"d{i}",
                "language": "bash",
                "code": "echo '```' && " + "y<" * 5000,
                "risk": "read",
            }
            for i in range(10)
        ),
        recipient={"name": "Eve", "email": "eve@example.com", "slack": "<!channel>"},
    )
    with HttpSink("slack") as sink:
        outcome = deliver(slack(sink.url), message)
    assert sink.rejected == []
    assert outcome.ok, outcome
    raw = sink.requests[0].body.decode()
    assert "<!channel>" not in raw
    assert "<@U999>" not in raw
    assert "&lt;!channel&gt; &amp; &lt;@U999&gt;" in raw
    blocks = sink.requests[0].json()["blocks"]
    assert len(blocks[0]["text"]["text"]) == 150
    assert "*Eve*" in blocks[1]["text"]["text"]  # not a valid Slack id: named, not mentioned
    firing = next(b["text"]["text"] for b in blocks if b["text"]["text"].startswith("*Firing:*"))
    shown = firing.count("\n• ")
    assert 1 <= shown <= 10
    assert firing.endswith(f"… and {120 - shown} more")
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    diagnostics = [t for t in texts if t[:3] in ("*1.", "*2.", "*3.", "*4.")]
    assert len(diagnostics) == 3  # the first few, not all ten
    for diag in diagnostics:
        assert diag.endswith("…\n```")  # cut to fit, and the code block still closes
        assert diag.count("```") == 2  # a ``` in the code cannot close the block early


def test_slack_sink_rejects_what_slack_rejects() -> None:
    with HttpSink("slack") as sink:

        async def post(body: object) -> tuple[int, str]:
            async with client() as http, http.post(sink.url, json=body) as answer:
                return answer.status, await answer.text()

        too_many = {"blocks": [{"type": "divider"}] * 51}
        long_header = {
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
        }
        unknown = {"blocks": [{"type": "banner"}]}
        for body, code in (
            (too_many, "invalid_blocks"),
            (long_header, "invalid_blocks"),
            (unknown, "invalid_blocks"),
            ({}, "no_text"),
        ):
            assert asyncio.run(post(body)) == (400, code)
        assert asyncio.run(post({"text": "hi"})) == (200, "ok")
        # legacy attachments alone are a message (what Alertmanager posts)
        assert asyncio.run(post({"attachments": [{"title": "hi"}]})) == (200, "ok")


@pytest.mark.parametrize(
    ("status", "body", "retry"),
    [
        (400, b"invalid_payload", False),
        (404, b"channel_not_found", False),
        (403, b"action_prohibited", False),
        (500, b"", True),
        (410, b"channel_is_archived", False),
    ],
)
def test_slack_errors(status: int, body: bytes, retry: bool) -> None:
    with HttpSink("slack") as sink:
        sink.reply(status, body)
        outcome = deliver(slack(sink.url), make_message())
    assert not outcome.ok
    assert outcome.status == status
    assert body.decode() in outcome.error
    assert isinstance(next_step(POLICY, 1, outcome, 0.0), float) is retry


def test_slack_429_carries_retry_after() -> None:
    with HttpSink("slack") as sink:
        sink.reply(429, b"rate_limited", {"Retry-After": "30"})
        outcome = deliver(slack(sink.url), make_message())
        assert outcome.retry_after_s == 30.0
        assert next_step(POLICY, 1, outcome, 0.0) == 30.0
        assert deliver(slack(sink.url), make_message()).ok  # the next attempt gets through


def test_slack_custom_templates_replace_header_and_body() -> None:
    templates = {
        "title": "{{ title }} is {{ status }}",
        "text": "On {{ common_labels.service }}: {{ summary }} <{{ firing | length }}>",
    }
    with HttpSink("slack") as sink:
        assert deliver(slack(sink.url, templates=templates), make_message()).ok
    blocks = sink.requests[0].json()["blocks"]
    assert blocks[0]["text"]["text"] == "HighErrorRate pebble-api is triggered"
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    expected = (
        "On pebble-api: Error rate above 5% on 2 of 3 pebble-api instances; "
        "checkout is failing &lt;2&gt;"
    )
    assert expected in texts
    assert not any("*Status:*" in t for t in texts)


def test_slack_long_custom_body_is_split_into_valid_sections() -> None:
    templates = {"text": "{% for i in range(20000) %}a&<{% endfor %}"}  # 180k chars escaped
    with HttpSink("slack") as sink:
        assert deliver(slack(sink.url, templates=templates), make_message()).ok
    assert sink.rejected == []
    texts = [b["text"]["text"] for b in sink.requests[0].json()["blocks"] if b["type"] == "section"]
    body = [t for t in texts if t.startswith("a&amp;")]
    assert len(body) == 20
    assert all(t.endswith(("&amp;", "&lt;", "a")) for t in body[:-1])  # no entity split
    assert body[-1].endswith("(cut: longer than Slack allows)")


def test_slack_url_from_a_secret_and_missing_secrets_are_build_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with HttpSink("slack") as sink:
        monkeypatch.setenv("TOCSIN_TEST_SLACK_URL", sink.url)
        cfg = config(
            SlackChannelConfig, name="s", type="slack", url_secret={"env": "TOCSIN_TEST_SLACK_URL"}
        )
        assert deliver(cfg, make_message()).ok
    monkeypatch.delenv("TOCSIN_TEST_SLACK_URL")
    with pytest.raises(
        ChannelConfigError, match="environment variable TOCSIN_TEST_SLACK_URL is not set"
    ):
        deliver(cfg, make_message())
    with pytest.raises(ChannelConfigError, match="needs url or url_secret"):
        deliver(config(SlackChannelConfig, name="s", type="slack"), make_message())


def test_a_broken_template_is_a_build_error_naming_channel_and_line() -> None:
    cfg = slack("http://127.0.0.1:9/", templates={"text": "ok\n{% if x %}"})
    with pytest.raises(ChannelConfigError, match=r"template 'oncall.text', line \d"):
        deliver(cfg, make_message())


def test_a_template_that_cannot_render_the_sample_is_a_build_error() -> None:
    cfg = slack("http://127.0.0.1:9/", templates={"title": "{{ title }}\n{{ escalation_stpe }}"})
    with pytest.raises(ChannelConfigError, match=r"'oncall.title', line 2: undefined"):
        deliver(cfg, make_message())
    cfg = slack("http://127.0.0.1:9/", templates={"title": "step {{ escalation_step + 1 }}"})
    with pytest.raises(ChannelConfigError, match=r"rendering a firing message"):
        deliver(cfg, make_message())


# --- failures without an answer --------------------------------------------------------------


def test_connection_refused_is_an_outcome() -> None:
    outcome = deliver(slack(f"http://127.0.0.1:{free_port()}/hook"), make_message())
    assert outcome.ok is False
    assert outcome.status is None
    assert outcome.error
    assert next_step(POLICY, 1, outcome, 0.0) == 0.5


def test_timeout_is_an_outcome_within_the_attempt_timeout() -> None:
    cfg = config(WebhookChannelConfig, name="w", type="webhook", url="", retry={"timeout": "200ms"})
    with HttpSink(default=None) as sink:
        sink.reply(200, b"late", delay_s=5.0)
        cfg = cfg.model_copy(update={"url": sink.url})
        started = time.monotonic()
        outcome = deliver(cfg, make_message())
        elapsed = time.monotonic() - started
    assert outcome == Outcome(ok=False, status=None, error="no answer within 0.2s")
    assert elapsed < 2.0


@contextlib.contextmanager
def raw_peer(answer: bytes) -> Iterator[str]:
    """A TCP peer on 127.0.0.1 that takes one connection, writes ``answer`` (whatever it is)
    and keeps the connection open until the block ends; its base URL."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10.0)
    done = threading.Event()
    taken: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            taken.append(conn)
            conn.recv(65536)
            conn.sendall(answer)
            done.wait()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        done.set()
        thread.join()
        for conn in taken:
            conn.close()
        server.close()


SECRET_PATH = "/services/T0SECRET1/B0SECRET2/xoxSECRET3?token=SECRET4"


def test_the_url_path_never_appears_in_an_error() -> None:
    """A Slack webhook URL is a secret: its path and query stay out of every error, even where
    the HTTP client's own exception text names the URL."""
    unreachable = deliver(slack(f"http://127.0.0.1:{free_port()}{SECRET_PATH}"), make_message())
    with raw_peer(b"not http at all\r\n\r\n") as base:
        garbled = deliver(slack(base + SECRET_PATH), make_message())
    for outcome in (unreachable, garbled):
        assert (outcome.ok, outcome.status) == (False, None)
        assert outcome.error
        assert "SECRET" not in outcome.error
        assert "/services" not in outcome.error
    assert garbled.error.startswith("ClientResponseError: 400")


def test_an_answer_is_read_no_further_than_what_is_kept() -> None:
    """A receiver that announces 10 MB and keeps sending: its error is read up to the limit,
    not to the end (which never comes: waiting for it would end in the timeout)."""
    head = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 10000000\r\n\r\n"
    with raw_peer(head + b"x" * (128 * 1024)) as base:
        cfg = config(
            WebhookChannelConfig, name="w", type="webhook", url=base, retry={"timeout": "30s"}
        )
        outcome = deliver(cfg, make_message())
    assert (outcome.ok, outcome.status) == (False, 500)
    assert outcome.error.startswith("HTTP 500: xxx")


def test_redirects_are_not_followed() -> None:
    with HttpSink() as elsewhere, HttpSink(default=None) as sink:
        sink.reply(302, b"", {"Location": elsewhere.url})
        outcome = deliver(slack(sink.url), make_message())
    assert (outcome.ok, outcome.status) == (False, 302)
    assert elsewhere.requests == []


def test_proxies_from_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    with HttpSink() as proxy, HttpSink("slack") as sink:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url.removesuffix("/hook"))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        assert deliver(slack(sink.url), make_message()).ok
    assert proxy.requests == []
    assert len(sink.requests) == 1


def test_https_certificates_are_verified(certificate: Certificate) -> None:
    with HttpSink("slack", certificate=certificate) as sink:
        untrusted = deliver(slack(sink.url), make_message())  # the system's CAs

        async def trusted() -> Outcome:
            tls = ssl.create_default_context(cafile=str(certificate.cert))
            async with http_session(tls) as http:
                return await build_channel(slack(sink.url), http=http).send(make_message())

        assert asyncio.run(trusted()) == Outcome(ok=True, status=200)
    assert (untrusted.ok, untrusted.status) == (False, None)
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    assert len(sink.requests) == 1


# --- webhook -------------------------------------------------------------------------------


def test_webhook_is_signed_as_documented() -> None:
    clock = VirtualClock(1_800_000_000.0)
    message = make_message()
    with HttpSink() as sink:
        cfg = config(
            WebhookChannelConfig,
            name="hooks",
            type="webhook",
            url=sink.url,
            secret={"value": "s3cret"},
            headers={"X-Team": "payments"},
        )
        assert deliver(cfg, message, clock=clock) == Outcome(ok=True, status=200)
    (request,) = sink.requests
    headers, body = request.headers, request.body
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == "incident-42-firing-1"
    assert headers["x-tocsin-timestamp"] == "1800000000"
    assert headers["x-team"] == "payments"
    # the scheme of the module docstring, computed here independently
    expected = hmac.new(b"s3cret", b"1800000000." + body, hashlib.sha256).hexdigest()
    assert headers["x-tocsin-signature"] == f"v1={expected}"
    assert verify_signature(
        "s3cret", "1800000000", body, headers["x-tocsin-signature"], 1_800_000_100
    )
    data = json.loads(body)
    assert data["version"] == "1"
    assert from_json(data) == message


def test_webhook_signature_rejects_tampering_replays_and_wrong_keys() -> None:
    body = WebhookChannel.body(make_message())
    ts = "1800000000"
    header = "v1=" + hmac.new(b"k", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    now = 1_800_000_000.0
    assert verify_signature("k", ts, body, header, now)
    assert verify_signature("k", ts, body, "v1=00ff, " + header, now)  # key rotation
    assert not verify_signature("k", ts, body.replace(b"critical", b"info"), header, now)
    assert not verify_signature("other", ts, body, header, now)
    assert not verify_signature("k", "1800000001", body, header, now)
    assert not verify_signature("k", ts, body, header, now + 301)  # replayed too late
    assert not verify_signature("k", ts, body, header.replace("v1=", "v0="), now)
    assert not verify_signature("k", "soon", body, header, now)


def test_webhook_without_secret_is_unsigned_and_retries_keep_the_key() -> None:
    with HttpSink() as sink:
        cfg = config(WebhookChannelConfig, name="w", type="webhook", url=sink.url)
        sink.reply(503, b"busy", {"Retry-After": "7"})
        first = deliver(cfg, make_message())
        second = deliver(cfg, make_message())
    assert (first.ok, first.status, first.retry_after_s) == (False, 503, 7.0)
    assert second.ok
    assert "x-tocsin-signature" not in sink.requests[0].headers
    assert {r.headers["idempotency-key"] for r in sink.requests} == {"incident-42-firing-1"}


def test_webhook_config_errors() -> None:
    with pytest.raises(ChannelConfigError, match="Idempotency-Key is set by tocsin"):
        deliver(
            config(
                WebhookChannelConfig,
                name="w",
                type="webhook",
                url="http://127.0.0.1/",
                headers={"Idempotency-Key": "x"},
            ),
            make_message(),
        )
    with pytest.raises(ChannelConfigError, match="http"):
        deliver(
            config(WebhookChannelConfig, name="w", type="webhook", url="ftp://x/"), make_message()
        )


# --- PagerDuty -----------------------------------------------------------------------------


def pagerduty(url: str) -> PagerDutyChannelConfig:
    cfg: PagerDutyChannelConfig = config(
        PagerDutyChannelConfig,
        name="pd",
        type="pagerduty",
        url=url,
        routing_key={"value": "R0UT1NG"},
    )
    return cfg


def test_pagerduty_trigger_event_shape() -> None:
    accepted = b'{"status":"success","message":"Event processed","dedup_key":"tocsin-42"}'
    with HttpSink(default=None) as sink:
        sink.reply(202, accepted)
        assert deliver(pagerduty(sink.url), make_message()) == Outcome(ok=True, status=202)
    event = sink.requests[0].json()
    assert event["routing_key"] == "R0UT1NG"
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "tocsin-42"
    payload = event["payload"]
    assert payload["summary"] == "[FIRING:2] HighErrorRate pebble-api (critical)"
    assert payload["severity"] == "critical"
    assert payload["source"] == "pebble-api"
    assert payload["timestamp"] == "2024-05-14T03:05:00Z"
    assert payload["class"] == "HighErrorRate"
    assert payload["component"] == "pebble-api"
    details = payload["custom_details"]
    assert details["firing_count"] == 2 and details["resolved_count"] == 1
    assert details["incident_url"] == "https://tocsin.example.com/incidents/42"
    assert event["links"][0] == {
        "href": "https://runbooks.example.com/pebble-api#higherrorrate",
        "text": "pebble-api: HighErrorRate",
    }


def test_pagerduty_summary_is_bounded() -> None:
    with HttpSink(default=None) as sink:
        sink.reply(202, b"{}")
        deliver(pagerduty(sink.url), make_message(title="x\n" * 2000))
    assert len(sink.requests[0].json()["payload"]["summary"]) == 1024


@pytest.mark.parametrize(
    ("kind", "status", "action"),
    [("resolved", "resolved", "resolve"), ("acknowledged", "acknowledged", "acknowledge")],
)
def test_pagerduty_acknowledge_and_resolve(kind: str, status: str, action: str) -> None:
    with HttpSink(default=None) as sink:
        sink.reply(202, b"{}")
        assert deliver(pagerduty(sink.url), make_message(kind=kind, status=status)).ok
    assert sink.requests[0].json() == {
        "routing_key": "R0UT1NG",
        "event_action": action,
        "dedup_key": "tocsin-42",
    }


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("critical", "critical"),
        ("Critical", "critical"),
        ("P1", "critical"),
        ("high", "error"),
        ("error", "error"),
        ("warning", "warning"),
        ("medium", "warning"),
        ("low", "info"),
        ("info", "info"),
        (None, "critical"),
        ("bogus", "critical"),
    ],
)
def test_pagerduty_severity_mapping(ours: str | None, theirs: str) -> None:
    assert pagerduty_severity(ours) == theirs


def test_pagerduty_rate_limit_and_invalid_event() -> None:
    with HttpSink(default=None) as sink:
        sink.reply(429, b"", {"Retry-After": "12"})
        sink.reply(400, b'{"status":"invalid event","errors":["payload.severity invalid"]}')
        limited = deliver(pagerduty(sink.url), make_message())
        invalid = deliver(pagerduty(sink.url), make_message())
    assert (limited.ok, limited.status, limited.retry_after_s) == (False, 429, 12.0)
    assert next_step(POLICY, 1, limited, 0.0) == 12.0
    assert invalid.status == 400 and "payload.severity invalid" in invalid.error
    assert next_step(POLICY, 1, invalid, 0.0) == "dead"


def test_pagerduty_routing_key_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "pd.key"
    key_file.write_text("FR0MF1LE\n")
    with HttpSink(default=None) as sink:
        sink.reply(202, b"{}")
        cfg = pagerduty(sink.url).model_copy(update={"routing_key": Secret(file=str(key_file))})
        assert deliver(cfg, make_message()).ok
    assert sink.requests[0].json()["routing_key"] == "FR0MF1LE"


# --- console -------------------------------------------------------------------------------


def test_console_writes_title_and_text() -> None:
    stream = io.StringIO()
    cfg = config(ConsoleChannelConfig, name="local", type="console")
    assert deliver(cfg, make_message(), stream=stream) == Outcome(ok=True)
    out = stream.getvalue()
    assert out.startswith("── local ── [FIRING:2] HighErrorRate pebble-api (critical)\n")
    assert "Runbook: pebble-api: HighErrorRate" in out


def test_console_shows_control_characters_from_labels_never_sends_them() -> None:
    stream = io.StringIO()
    cfg = config(ConsoleChannelConfig, name="local", type="console")
    hostile = alert(
        {"alertname": "Disk\x1b[2J\x1b[31m", "host": "a\x1b]8;;https://evil.example/\x1b\\b"},
        {"summary": "full\x07\rall good", "description": "two\nlines\x9b31m\x7f"},
    )
    message = make_message(
        title="Disk\x1b[2J\x1b[31m", alerts=(hostile,), summary="full\x07\rall good"
    )
    assert deliver(cfg, message, stream=stream).ok
    out = stream.getvalue()
    assert not [c for c in out if c not in "\n" and (ord(c) < 32 or 127 <= ord(c) < 160)]
    assert out.startswith("── local ── [FIRING:1] Disk\\x1b[2J\\x1b[31m (critical)\n")
    assert "Summary:  full\\x07\\rall good" in out
    assert "a\\x1b]8;;https://evil.example/\\x1b\\b" in out
    assert "two\n      lines\\x9b31m\\x7f" in out  # a multi-line annotation keeps its lines


def test_a_template_failing_on_a_real_message_falls_back_to_the_default() -> None:
    stream = io.StringIO()
    # valid against the sample (which has a team label), not against this message
    cfg = config(
        ConsoleChannelConfig,
        name="local",
        type="console",
        templates={"text": "Team {{ common_labels.team }}"},
    )
    message = make_message(alerts=(alert({"alertname": "X"}),))
    assert deliver(cfg, message, stream=stream).ok
    out = stream.getvalue()
    assert "[tocsin: template 'local.text', line 1: undefined:" in out
    assert "Incident #42: HighErrorRate pebble-api" in out


def test_a_closed_stream_is_an_outcome() -> None:
    stream = io.StringIO()
    stream.close()
    outcome = deliver(
        config(ConsoleChannelConfig, name="c", type="console"), make_message(), stream=stream
    )
    assert not outcome.ok and "closed" in outcome.error


def test_channels_have_name_and_kind() -> None:
    async def kinds() -> list[tuple[str, str]]:
        async with client() as http:
            cfgs = [
                slack("http://127.0.0.1/"),
                pagerduty("http://127.0.0.1/"),
                config(WebhookChannelConfig, name="w", type="webhook", url="http://127.0.0.1/"),
                config(ConsoleChannelConfig, name="c", type="console"),
            ]
            return [(c.name, c.kind) for c in (build_channel(x, http=http) for x in cfgs)]

    assert asyncio.run(kinds()) == [
        ("oncall", "slack"),
        ("pd", "pagerduty"),
        ("w", "webhook"),
        ("c", "console"),
    ]
