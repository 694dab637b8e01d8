"""Other tools' JSON through intake mappings (``intakes:``, ``POST /api/v1/intake/{name}``):
the documented example payloads of Grafana, Datadog and Zabbix stored as alerts and resolved
by their tools' own "resolved"; CloudWatch alarms through Amazon SNS, every message signed
(SignatureVersion 1 and 2) with a key and certificate the test makes, the certificate served
by a local SNS stand-in that also checks each subscription confirmation as SNS does. Forged,
replayed, stale and foreign-topic messages are refused and change nothing."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent, indent
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.server.conftest import CONFIG, Api
from tocsin.alerts.sns import canonical
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import ConfigError, parse_config
from tocsin.service import sources

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class SnsStandIn:
    """What SNS serves an HTTP subscriber: the signing certificate (its PEM at a path of its
    own), and ``?Action=ConfirmSubscription&TopicArn=…&Token=…``, which confirms only a
    token it issued for that topic (else 404 NotFound, as SNS answers an unknown token).
    It signs messages with the key of its certificate."""

    CERT_PATH = "/SimpleNotificationService-test.pem"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        self.tokens: dict[str, str] = {}  # token -> topic
        self.confirmed: list[str] = []
        self.cert_fetches = 0
        self.garbage = 0  # answer this many certificate fetches with something else
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                stand_in._get(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        status, body = 404, b"<ErrorResponse><Error><Code>NotFound</Code></Error></ErrorResponse>"
        if parts.path == self.CERT_PATH:
            self.cert_fetches += 1
            status, body = 200, self.pem
            if self.garbage:
                self.garbage -= 1
                body = b"<html>maintenance</html>"
        elif parts.path == "/" and query.get("Action") == "ConfirmSubscription":
            token = query.get("Token", "")
            if self.tokens.get(token) == query.get("TopicArn"):
                self.confirmed.append(token)
                status, body = 200, b"<ConfirmSubscriptionResponse/>"
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signed = {
            **message,
            "SignatureVersion": version,
            "SigningCertURL": self.origin + self.CERT_PATH,
        }
        signature = self.key.sign(canonical(signed), padding.PKCS1v15(), algorithm)
        return {**signed, "Signature": base64.b64encode(signature).decode()}

    def notification(self, alarm: dict[str, Any], at: float, message_id: str) -> dict[str, Any]:
        body: dict[str, Any] = fixture("sns-notification.json")
        body.update(
            MessageId=message_id,
            Subject=f'ALARM: "{alarm["AlarmName"]}" in US West (Oregon)',
            Message=json.dumps(alarm),
            Timestamp=datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
        )
        return body

    def confirmation(self, at: float, token: str = "2336412f37fb687f") -> dict[str, Any]:
        body: dict[str, Any] = fixture("sns-subscription-confirmation.json")
        self.tokens[token] = TOPIC
        body.update(
            Token=token,
            SubscribeURL=f"{self.origin}/?Action=ConfirmSubscription&TopicArn={TOPIC}"
            f"&Token={token}",
            Timestamp=datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
        )
        return body

    def __enter__(self) -> SnsStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


INTAKES = """
intakes:
  - name: grafana
    mapping: grafana
  - name: datadog
    mapping: datadog
  - name: zabbix
    mapping: zabbix
  - name: open
    anonymous: true
    alerts: "items"
    labels: {{alertname: "check", host: "where.host"}}
    annotations: {{summary: "text"}}
    status: {{path: "state", firing: [bad, critical], resolved: [good]}}
  - name: cloudwatch
    mapping: cloudwatch
    sns:
      topics: ["{topic}"]
      hosts: ["{origin}"]
"""


@pytest.fixture
def sns() -> Iterator[SnsStandIn]:
    sources._CERTS.clear()
    with SnsStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def api(db: Engine, clock: VirtualClock, sns: SnsStandIn) -> Iterator[Api]:
    text = CONFIG + dedent(INTAKES).format(topic=TOPIC, origin=sns.origin)
    state = AppState(db=db, config=parse_config(text), clock=clock)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)


def active(api: Api) -> dict[str, dict[str, Any]]:
    """The firing alerts by alertname."""
    return {a["labels"]["alertname"]: a for a in api.get("/api/v2/alerts").json()}


def test_grafanas_documented_payload_becomes_two_alerts(api: Api) -> None:
    answer = api.post("/api/v1/intake/grafana", fixture("grafana.json"), role="intake")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 2, "errors": []}
    alerts = active(api)
    assert alerts.keys() == {"High memory usage", "High CPU usage"}
    memory = alerts["High memory usage"]
    assert memory["labels"] == {"alertname": "High memory usage", "team": "blue", "zone": "us-1"}
    assert memory["annotations"]["summary"] == "This alert was triggered for zone us-1"
    assert memory["generatorURL"] == "https://play.grafana.org/alerting/1afz29v7z/edit"
    resolved = fixture("grafana.json")
    for alert in resolved["alerts"]:
        alert.update(status="resolved", endsAt="2021-10-12T10:00:00Z")
    api.post("/api/v1/intake/grafana", resolved, role="intake")
    assert active(api) == {}


def test_datadog_recovers_the_alert_it_triggered_though_its_title_changed(
    api: Api, clock: VirtualClock
) -> None:
    triggered = fixture("datadog-triggered.json")
    answer = api.post("/api/v1/intake/datadog", triggered, role="intake")
    assert answer.status_code == 200, answer.text
    [alert] = active(api).values()
    assert alert["labels"]["datadog_monitor_id"] == "1234"
    assert alert["labels"]["role"] == "database_server"
    clock.advance(3600)  # firing until Datadog says otherwise: no resolve_timeout guess
    assert len(active(api)) == 1
    recovered = fixture("datadog-recovered.json")
    assert api.post("/api/v1/intake/datadog", recovered, role="intake").status_code == 200
    assert active(api) == {}


def test_a_pagerduty_event_cannot_take_an_intakes_key(api: Api) -> None:
    """The intakes' keys share event_keys with PagerDuty events: a PagerDuty trigger naming
    Datadog's next key would have chosen the labels Datadog's alert is stored with (a page
    routed nowhere), and its acknowledge or resolve would have reached Datadog's alert."""
    key = "intake:datadog:1234/3145230826364284316"
    event = {
        "routing_key": "R" * 32,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": "quiet", "source": "nowhere", "severity": "info"},
    }
    answer = api.post("/v2/enqueue", event, role="intake")
    assert answer.status_code == 400 and "intake:" in answer.text
    assert api.post("/api/v1/intake/datadog", fixture("datadog-triggered.json")).status_code == 200
    [alert] = active(api).values()
    assert alert["labels"]["datadog_monitor_id"] == "1234"
    assert alert["labels"]["dedup_key"] == "1234/3145230826364284316"
    resolve = {"routing_key": "R" * 32, "event_action": "resolve", "dedup_key": key}
    assert api.post("/v2/enqueue", resolve, role="intake").status_code == 400
    assert len(active(api)) == 1


def test_a_dedup_key_label_grafana_sends_does_not_freeze_its_labels(api: Api) -> None:
    """Grafana's mapping reads no deduplication key: a label of that name in its payload is a
    label, not a key whose first labels every later alert with it would keep."""
    body = fixture("grafana.json")
    alert = body["alerts"][0]
    alert["labels"] = alert["labels"] | {"dedup_key": "k1", "team": "blue"}
    assert api.post("/api/v1/intake/grafana", body, role="intake").status_code == 200
    alert["labels"] = alert["labels"] | {"team": "red"}
    assert api.post("/api/v1/intake/grafana", body, role="intake").status_code == 200
    teams = sorted(
        a["labels"]["team"]
        for a in api.get("/api/v2/alerts").json()
        if a["labels"].get("dedup_key") == "k1"
    )
    assert teams == ["blue", "red"]  # two alerts, each with the labels it was sent with


def test_zabbix_problem_then_recovery(api: Api) -> None:
    assert api.post("/api/v1/intake/zabbix", fixture("zabbix-problem.json")).status_code == 200
    [alert] = active(api).values()
    assert alert["labels"]["severity"] == "Warning" and alert["labels"]["component"] == "cpu"
    assert api.post("/api/v1/intake/zabbix", fixture("zabbix-recovery.json")).status_code == 200
    assert active(api) == {}


def test_an_intake_needs_a_token_unless_anonymous(api: Api) -> None:
    assert api.client.post("/api/v1/intake/grafana", json={}).status_code == 401
    assert api.post("/api/v1/intake/grafana", fixture("grafana.json"), "viewer").status_code == 403
    body = {"items": [{"check": "Disk", "where": {"host": "db1"}, "state": "bad", "text": "x"}]}
    answer = api.client.post("/api/v1/intake/open", json=body)
    assert answer.status_code == 200 and answer.json()["stored"] == 1
    assert active(api)["Disk"]["labels"] == {"alertname": "Disk", "host": "db1"}


def test_bad_input_is_a_clear_4xx(api: Api) -> None:
    assert api.post("/api/v1/intake/nosuch", {}).status_code == 404
    assert api.client.post("/api/v1/intake/nosuch", json={}).status_code == 401
    bad = api.client.post(
        "/api/v1/intake/grafana", content=b"{not json", headers=api.headers("intake")
    )
    assert bad.status_code == 400
    assert api.post("/api/v1/intake/grafana", {"alerts": "x"}).status_code == 422
    too_many = {"alerts": [{"labels": {"a": "b"}}] * 51}
    assert api.post("/api/v1/intake/grafana", too_many).status_code == 413
    partly = fixture("grafana.json")
    partly["alerts"][1]["status"] = "pending"
    answer = api.post("/api/v1/intake/grafana", partly)
    assert answer.status_code == 400
    assert answer.json()["stored"] == 1 and "neither firing" in answer.json()["errors"][0]
    big = api.client.post(
        "/api/v1/intake/grafana",
        content=b"[" + b" " * 70000 + b"]",
        headers=api.headers("intake"),
    )
    assert big.status_code == 413


def post_sns(api: Api, body: dict[str, Any]) -> Any:
    """As SNS posts: text/plain JSON with its type header, and no token."""
    return api.client.post(
        "/api/v1/intake/cloudwatch",
        content=json.dumps(body).encode(),
        headers={
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": str(body.get("Type")),
        },
    )


def test_a_subscription_is_confirmed_through_sns_only(
    api: Api, clock: VirtualClock, sns: SnsStandIn
) -> None:
    answer = post_sns(api, sns.sign(sns.confirmation(clock.now())))
    assert answer.status_code == 200, answer.text
    assert answer.json()["said"] == "subscription confirmed"
    assert sns.confirmed == ["2336412f37fb687f"]
    # a SubscribeURL elsewhere is never visited, however well signed
    other = sns.confirmation(clock.now(), token="t2")
    other.update(MessageId="other-1", SubscribeURL="http://127.0.0.1:9/?Action=Confirm&Token=t2")
    refused = post_sns(api, sns.sign(other))
    assert refused.status_code == 403 and "SubscribeURL" in refused.text
    # a token SNS did not issue: SNS refuses it, and the message may be sent again
    unknown = sns.confirmation(clock.now(), token="t3")
    unknown.update(MessageId="other-2", SubscribeURL=unknown["SubscribeURL"] + "x")
    assert post_sns(api, sns.sign(unknown)).status_code == 503
    assert sns.confirmed == ["2336412f37fb687f"]


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_cloudwatch_alarm_fires_and_its_ok_resolves(
    api: Api, clock: VirtualClock, sns: SnsStandIn, version: str
) -> None:
    alarm = fixture("cloudwatch-alarm.json")
    answer = post_sns(api, sns.sign(sns.notification(alarm, clock.now(), "m-1"), version))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 1, "errors": []}
    [alert] = active(api).values()
    assert alert["labels"]["alertname"] == "EXAMPLE"
    assert alert["labels"]["InstanceId"] == "TestInstance"
    ok = alarm | {"NewStateValue": "OK", "OldStateValue": "ALARM"}
    clock.advance(600)
    assert post_sns(api, sns.sign(sns.notification(ok, clock.now(), "m-2"), version)).json() == {
        "stored": 1,
        "errors": [],
    }
    assert active(api) == {}
    assert sns.cert_fetches == 1  # fetched once, then kept


def test_forged_replayed_stale_and_foreign_messages_change_nothing(
    api: Api, clock: VirtualClock, sns: SnsStandIn
) -> None:
    alarm = fixture("cloudwatch-alarm.json")
    signed = sns.sign(sns.notification(alarm, clock.now(), "m-1"))
    forged = signed | {"Message": json.dumps(alarm | {"AlarmName": "Forged"})}
    assert post_sns(api, forged).status_code == 403
    unsigned = fixture("sns-notification.json")  # AWS's EXAMPLE signature, AWS's cert host
    assert post_sns(api, unsigned).status_code == 403
    elsewhere = dict(signed, SigningCertURL="https://evil.example.com/cert.pem")
    assert post_sns(api, elsewhere).status_code == 403
    foreign = sns.notification(alarm, clock.now(), "m-9")
    foreign["TopicArn"] = "arn:aws:sns:us-west-2:999999999999:TheirTopic"
    answer = post_sns(api, sns.sign(foreign))
    assert answer.status_code == 403 and "TheirTopic" in answer.text
    assert active(api) == {}
    assert post_sns(api, signed).json()["stored"] == 1
    ok = alarm | {"NewStateValue": "OK"}
    assert post_sns(api, sns.sign(sns.notification(ok, clock.now(), "m-2"))).status_code == 200
    assert active(api) == {}
    replayed = post_sns(api, signed)  # the first alarm again: seen, so it fires nothing
    assert replayed.status_code == 200 and replayed.json()["said"].startswith("seen before")
    assert active(api) == {}
    stale = sns.sign(sns.notification(alarm, clock.now() - 2 * 86400, "m-3"))
    assert post_sns(api, stale).status_code == 422
    # 23 h ahead: fresh still when the replay memory (a day) forgets it, so taken twice
    ahead = sns.sign(sns.notification(alarm, clock.now() + 23 * 3600, "m-5"))
    assert post_sns(api, ahead).status_code == 422
    not_json = sns.sign(sns.notification(alarm, clock.now(), "m-4") | {"Message": "Hello"})
    assert post_sns(api, not_json).status_code == 422
    assert post_sns(api, {"Type": "Notification"}).status_code == 422
    assert active(api) == {}


def config_with(intakes: str) -> str:
    return CONFIG + "intakes:\n" + indent(dedent(intakes), "  ")


@pytest.mark.parametrize(
    ("intakes", "problem"),
    [
        ("- {name: x, alerts: 'a[?'}\n", "is not a JMESPath expression"),
        ("- {name: alertmanager, mapping: grafana}\n", "tocsin's own intake"),
        ("- {name: x, mapping: grafana}\n- {name: x, mapping: zabbix}\n", "another intake"),
        ("- {name: x, mapping: cloudwatch}\n", "give sns.topics"),
        ("- {name: x, mapping: nagios}\n", "Input should be"),
        ("- {name: x, sns: {topics: [nope]}}\n", "not an SNS topic ARN"),
        ("- {name: x, labels: {a: b}, lables: {}}\n", "did you mean `labels`"),
    ],
)
def test_a_bad_intake_is_a_configuration_error(intakes: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config_with(intakes))
    assert problem in str(raised.value)


def test_a_certificate_that_is_not_one_is_not_kept(
    api: Api, clock: VirtualClock, sns: SnsStandIn
) -> None:
    sns.garbage = 1
    signed = sns.sign(sns.notification(fixture("cloudwatch-alarm.json"), clock.now(), "m-1"))
    answer = post_sns(api, signed)
    assert answer.status_code == 403 and "cannot be read" in answer.text
    again = post_sns(api, signed)  # SNS's retry: the certificate is fetched again, and works
    assert again.status_code == 200 and again.json()["stored"] == 1
    assert sns.cert_fetches == 2


def test_certificates_fetched_at_once_are_bounded(
    api: Api, clock: VirtualClock, sns: SnsStandIn
) -> None:
    """Each certificate not kept yet is a fetch holding a worker thread up to 10 s, and
    anyone who knows a listed topic can name one: beyond MAX_FETCHING at once, 503 (SNS
    retries) rather than every worker thread of the server waiting on fetches."""
    signed = sns.sign(sns.notification(fixture("cloudwatch-alarm.json"), clock.now(), "m-1"))
    for _ in range(sources.MAX_FETCHING):  # as many fetches as allowed are under way
        assert sources._FETCHING.acquire(blocking=False)
    try:
        answer = post_sns(api, signed)
        assert answer.status_code == 503 and "being fetched" in answer.text
        assert sns.cert_fetches == 0
    finally:
        for _ in range(sources.MAX_FETCHING):
            sources._FETCHING.release()
    again = post_sns(api, signed)  # SNS's retry
    assert again.status_code == 200 and again.json()["stored"] == 1
