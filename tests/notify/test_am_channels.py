"""Issue 22: what the HTTP channels honour of Alertmanager's receivers: ``http_client``
(Alertmanager's ``http_config``: Basic auth, an Authorization header, TLS with a CA file or no
verification, a proxy), and the webhook's Alertmanager body (version 4)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.notify.conftest import config, deliver
from tests.notify.messages import make_message
from tests.notify.sinks import Certificate, HttpSink
from tocsin.config import PagerDutyChannelConfig, SlackChannelConfig, WebhookChannelConfig
from tocsin.notify.message import Message
from tocsin.notify.retry import Outcome
from tocsin.notify.webhook import alertmanager_body


def hook(url: str, **extra: object) -> WebhookChannelConfig:
    cfg: WebhookChannelConfig = config(
        WebhookChannelConfig, name="r/webhook/0", type="webhook", url=url, **extra
    )
    return cfg


def test_basic_auth_from_a_file_and_a_bearer_header(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    with HttpSink() as sink:
        assert deliver(
            hook(
                sink.url,
                http_client={"basic_auth": {"username": "am", "password": {"file": str(secret)}}},
            ),
            make_message(),
        ).ok
        assert deliver(
            hook(
                sink.url,
                http_client={"authorization": {"credentials": {"value": "tok"}}},
            ),
            make_message(),
        ).ok
    basic, bearer = sink.requests
    assert basic.headers["authorization"] == "Basic YW06czNjcmV0"  # am:s3cret
    assert bearer.headers["authorization"] == "Bearer tok"


def test_tls_with_a_ca_file_or_no_verification(certificate: Certificate) -> None:
    with HttpSink(certificate=certificate) as sink:
        untrusted = deliver(hook(sink.url), make_message())
        trusted = deliver(
            hook(sink.url, http_client={"tls": {"ca_file": str(certificate.cert)}}),
            make_message(),
        )
        unverified = deliver(
            hook(sink.url, http_client={"tls": {"insecure_skip_verify": True}}), make_message()
        )
    assert not untrusted.ok and "CERTIFICATE_VERIFY_FAILED" in (untrusted.error or "")
    assert trusted == Outcome(ok=True, status=200) and unverified.ok
    assert len(sink.requests) == 2


def test_a_proxy_is_used_when_given() -> None:
    with HttpSink() as proxy:
        target = "http://receiver.invalid/alerts"
        outcome = deliver(
            hook(target, http_client={"proxy_url": proxy.url.removesuffix("/hook")}),
            make_message(),
        )
    assert outcome.ok
    [request] = proxy.requests  # a proxy gets the absolute URL in the request line
    assert request.path == target


def _message(**changes: object) -> Message:
    return replace(make_message(), **changes)  # type: ignore[arg-type]


def test_the_alertmanager_body_has_alertmanagers_shape() -> None:
    message = make_message()
    body = alertmanager_body(message, "team", "https://tocsin.example", max_alerts=0)
    assert set(body) == {
        "receiver",
        "status",
        "alerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "version",
        "groupKey",
        "truncatedAlerts",
    }
    assert body["version"] == "4" and body["receiver"] == "team"
    assert body["status"] == "firing"
    assert body["groupLabels"] == message.group_labels
    for alert in body["alerts"]:
        assert set(alert) == {
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "generatorURL",
            "fingerprint",
        }
        if alert["status"] == "firing":
            assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    common = body["commonLabels"]
    assert all(a["labels"][k] == v for a in body["alerts"] for k, v in common.items())
    one = alertmanager_body(message, "team", "", max_alerts=1)
    assert (
        len(one["alerts"]) == 1
        and one["truncatedAlerts"] == len(body["alerts"]) - 1 + body["truncatedAlerts"]
    )


def test_an_alertmanager_webhook_is_not_sent_an_acknowledgement() -> None:
    with HttpSink() as sink:
        cfg = hook(sink.url, payload="alertmanager", receiver="team")
        told = deliver(cfg, _message(kind="acknowledged", status="acknowledged"))
        fired = deliver(cfg, make_message())
    assert told.ok and told.error == "not sent: acknowledged has no Alertmanager body"
    assert fired.ok
    [request] = sink.requests
    assert request.json()["receiver"] == "team" and request.json()["version"] == "4"


@pytest.mark.parametrize(
    "client",
    [
        {
            "basic_auth": {"username": "a", "password": {"value": "b"}},
            "authorization": {"credentials": {"value": "c"}},
        },
        {"tls": {"cert_file": "/x"}},
    ],
)
def test_client_settings_that_contradict_are_refused(client: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        hook("http://x/", http_client=client)


def test_a_slack_web_api_refusal_in_a_200_is_a_failed_delivery() -> None:
    """An Alertmanager Slack config may post to chat.postMessage with a bot token: Slack
    answers 200 with ``ok: false``, which must not count as delivered."""
    with HttpSink() as sink:
        sink.reply(200, b'{"ok": false, "error": "channel_not_found"}')
        cfg = config(
            SlackChannelConfig,
            name="r/slack/0",
            type="slack",
            url=sink.url,
            conversation="#gone",
            http_client={"authorization": {"credentials": {"value": "xoxb-1"}}},
        )
        refused = deliver(cfg, make_message())
        sink.reply(200, b'{"ok": true, "ts": "1.2"}')
        accepted = deliver(cfg, make_message())
    assert not refused.ok and not refused.transient
    assert "channel_not_found" in (refused.error or "")
    assert accepted.ok
    assert sink.requests[0].headers["authorization"] == "Bearer xoxb-1"
    assert sink.requests[0].json()["channel"] == "#gone"


def test_a_pagerduty_channel_with_a_fixed_severity() -> None:
    with HttpSink() as sink:
        cfg = config(
            PagerDutyChannelConfig,
            name="r/pagerduty/0",
            type="pagerduty",
            url=sink.url,
            routing_key={"value": "k"},
            severity="warning",
        )
        assert deliver(cfg, make_message()).ok
    assert sink.requests[0].json()["payload"]["severity"] == "warning"


def test_without_send_resolved_a_firing_body_leaves_resolved_alerts_out() -> None:
    message = make_message()  # two firing alerts, one resolved
    statuses = {a["status"] for a in alertmanager_body(message, "r", "")["alerts"]}
    assert statuses == {"firing", "resolved"}
    kept = alertmanager_body(message, "r", "", send_resolved=False)["alerts"]
    assert kept and {a["status"] for a in kept} == {"firing"}
