"""Intake mappings (alerts/mapping.py): the shipped ones read their tools' documented example
payloads (tests/fixtures/sources, SOURCE.md), and a mapping's bounds and refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tocsin.alerts.mapping import DEDUP_LABEL, SHIPPED, IntakeMapping, MappingSpec, label_name
from tocsin.alerts.payloads import Limits, StructuralError, TooLarge
from tocsin.errors import Invalid

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
LIMITS = Limits()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def parse(mapping: str, body: Any) -> Any:
    return IntakeMapping(SHIPPED[mapping]).parse(body, NOW, 300.0, LIMITS)


# (mapping, fixture, [(labels that must be there, annotations that must be there, status)])
CASES: list[tuple[str, str, list[tuple[dict[str, str], dict[str, str], str]]]] = [
    (
        "grafana",
        "grafana.json",
        [
            (
                {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
                {
                    "summary": "This alert was triggered for zone us-1",
                    "runbook_url": "https://myrunbook.com/runbook/1234",
                    "grafana_values": '{"B": 44.23943737541908, "C": 1}',
                },
                "firing",
            ),
            (
                {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1"},
                {"description": "The system has high CPU usage"},
                "firing",
            ),
        ],
    ),
    (
        "datadog",
        "datadog-triggered.json",
        [
            (
                {
                    "alertname": "[Triggered on {host:ip-012345}] Host is Down",
                    "datadog_monitor_id": "1234",
                    "priority": "P1",
                    "hostname": "my-host",
                    "role": "database_server",
                    "environment": "test",
                    DEDUP_LABEL: "1234/3145230826364284316",
                },
                {
                    "summary": "[Triggered] [Memory Alert]",
                    "alert_scope": "availability-zone:us-east-1a, role:computing-node",
                },
                "firing",
            )
        ],
    ),
    (
        "datadog",
        "datadog-recovered.json",
        [({DEDUP_LABEL: "1234/3145230826364284316"}, {}, "resolved")],
    ),
    (
        "cloudwatch",
        "cloudwatch-alarm.json",
        [
            (
                {
                    "alertname": "EXAMPLE",
                    "aws_account": "123456789012",
                    "namespace": "AWS/EC2",
                    "metric": "NetworkOut",
                    "InstanceId": "TestInstance",
                    DEDUP_LABEL: "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE",
                },
                {"old_state": "INSUFFICIENT_DATA", "description": "EXAMPLE"},
                "firing",
            )
        ],
    ),
    (
        "zabbix",
        "zabbix-problem.json",
        [
            (
                {
                    "alertname": "High CPU utilization (over 90% for 5m)",
                    "severity": "Warning",
                    "host": "Zabbix server",
                    "scope": "performance",
                    "component": "cpu",
                    DEDUP_LABEL: "8823",
                },
                {"opdata": "Current utilization: 95.3 %", "zabbix_event_id": "8823"},
                "firing",
            )
        ],
    ),
    ("zabbix", "zabbix-recovery.json", [({DEDUP_LABEL: "8823"}, {}, "resolved")]),
]


@pytest.mark.parametrize(("mapping", "name", "expected"), CASES)
def test_a_shipped_mapping_reads_its_documented_payload(
    mapping: str, name: str, expected: list[tuple[dict[str, str], dict[str, str], str]]
) -> None:
    parsed = parse(mapping, fixture(name))
    assert parsed.errors == []
    assert len(parsed.alerts) == len(expected)
    for alert, (labels, notes, status) in zip(parsed.alerts, expected, strict=True):
        assert labels.items() <= alert.labels.items()
        assert notes.items() <= alert.annotations.items()
        assert alert.resolved(NOW) == (status == "resolved")


def test_grafana_keeps_its_times_and_link() -> None:
    alert = parse("grafana", fixture("grafana.json")).alerts[0]
    assert alert.starts_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    assert alert.generator_url == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert alert.labels.keys() == {"alertname", "team", "zone"}  # no fingerprint, no status


def test_a_grafana_resolved_alert_ends_when_grafana_says() -> None:
    body = fixture("grafana.json")
    body["alerts"][0].update(status="resolved", endsAt="2021-10-12T10:01:03+02:00")
    alert = parse("grafana", body).alerts[0]
    assert alert.ends_at == datetime(2021, 10, 12, 8, 1, 3, tzinfo=UTC)
    assert alert.resolved(NOW)


def test_an_event_source_keeps_a_firing_alert_until_it_says_resolved() -> None:
    alert = parse("zabbix", fixture("zabbix-problem.json")).alerts[0]
    assert alert.ends_at is not None and (alert.ends_at - NOW).days == 30


def test_datadog_epoch_milliseconds_are_its_start() -> None:
    alert = parse("datadog", fixture("datadog-triggered.json")).alerts[0]
    assert alert.starts_at == datetime(2014, 7, 29, 19, 37, 52, tzinfo=UTC)


def test_cloudwatch_time_with_a_colonless_offset() -> None:
    alert = parse("cloudwatch", fixture("cloudwatch-alarm.json")).alerts[0]
    assert alert.starts_at == datetime(2015, 6, 3, 17, 43, 27, 123000, tzinfo=UTC)
    body = fixture("cloudwatch-alarm.json") | {"NewStateValue": "OK"}
    assert parse("cloudwatch", body).alerts[0].resolved(NOW)


@pytest.mark.parametrize("date", ["\u00b2", "1\u00b9", "9" * 5000])
def test_a_time_of_digits_int_refuses_is_that_alerts_refusal(date: str) -> None:
    """ "²".isdigit() is true and int() refuses it, as it refuses 4,300 digits: a payload's
    time made the intake answer 500; the alert alone is refused."""
    body = fixture("datadog-triggered.json") | {"date": date}
    parsed = parse("datadog", body)
    assert parsed.alerts == []
    assert len(parsed.errors) == 1 and "starts_at" in parsed.errors[0]


def test_a_value_nested_deeper_than_json_dumps_goes_is_that_alerts_refusal() -> None:
    """orjson (the intakes' reader) takes 1,023 levels, json.dumps stops near 1,000: such a
    value as an annotation made the intake answer 500; the alert alone is refused."""
    body = orjson.loads('{"name": "x", "v": ' + "[" * 1010 + "]" * 1010 + "}")
    mapping = IntakeMapping(MappingSpec(labels={"alertname": "name"}, annotations={"v": "v"}))
    parsed = mapping.parse(body, NOW, 300.0, LIMITS)
    assert parsed.alerts == []
    assert parsed.errors == ["alert 0: a value is nested too deep to be a label or annotation"]


def test_an_unknown_status_refuses_that_alert_alone() -> None:
    body = fixture("grafana.json")
    body["alerts"][1]["status"] = "pending"
    parsed = parse("grafana", body)
    assert len(parsed.alerts) == 1
    assert parsed.errors == [
        "alert 1: status 'pending' is neither firing (firing) nor resolved (resolved)"
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"alerts": "nope"}, StructuralError),
        ({"alerts": [1]}, StructuralError),
        ({}, StructuralError),  # no list where the alerts are said to be
        ({"alerts": [{"labels": {"a": "b"}}] * 1001}, TooLarge),
    ],
)
def test_a_body_of_the_wrong_shape_is_refused_whole(body: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse("grafana", body)


def test_untrusted_values_become_bounded_text_and_names_become_label_names() -> None:
    mapping = IntakeMapping(MappingSpec(labels={"alertname": "name"}, labels_from="tags"))
    body = {
        "name": 'Disk "full"\n{{ 7*7 }}',
        "tags": {"availability-zone": "us-east-1a", "9lives": 9, "ok": True, "gone": None},
    }
    alert = mapping.parse(body, NOW, 300.0, LIMITS).alerts[0]
    assert alert.labels["alertname"] == 'Disk "full"\n{{ 7*7 }}'
    assert alert.labels["availability_zone"] == "us-east-1a"
    assert alert.labels["_9lives"] == "9"
    assert alert.labels["ok"] == "true"
    assert "gone" not in alert.labels
    parsed = IntakeMapping(MappingSpec(labels={"a": "v"}, annotations={"x": "big"})).parse(
        {"v": "1", "big": "y" * 20000}, NOW, 300.0, LIMITS
    )
    assert parsed.alerts == [] and "longer than 16384 bytes" in parsed.errors[0]


def test_an_alert_with_no_label_is_refused() -> None:
    parsed = IntakeMapping(MappingSpec(labels={"alertname": "missing"})).parse(
        {}, NOW, 300.0, LIMITS
    )
    assert parsed.alerts == [] and "at least one label pair required" in parsed.errors[0]


@pytest.mark.parametrize(
    ("value", "labels"),
    [
        ("env:prod, role:db,novalue", {"env": "prod", "role": "db"}),
        ([["a", "1"], ["b", 2]], {"a": "1", "b": "2"}),
        ([{"tag": "scope", "value": "x"}, {"name": "n", "value": "y"}], {"scope": "x", "n": "y"}),
    ],
)
def test_many_labels_at_once(value: Any, labels: dict[str, str]) -> None:
    mapping = IntakeMapping(MappingSpec(labels_from="t"))
    assert mapping.parse({"t": value}, NOW, 300.0, LIMITS).alerts[0].labels == labels


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (MappingSpec(alerts="alerts[?"), "'alerts[?' is not a JMESPath expression"),
        (MappingSpec(labels={"bad-name": "a"}), "'bad-name' is not a valid label"),
        (MappingSpec(status="s", firing=("x",), resolved=("X",)), "both firing and resolved"),
    ],
)
def test_a_bad_mapping_is_refused_when_compiled(spec: MappingSpec, message: str) -> None:
    with pytest.raises(Invalid) as raised:
        IntakeMapping(spec, "intakes 'x'")
    assert message in raised.value.message


def test_label_name() -> None:
    assert label_name("availability-zone") == "availability_zone"
    assert label_name("1x") == "_1x"
    assert label_name("  ") == ""


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sources"


def test_the_shipped_datadog_payload_is_what_the_fixture_fills() -> None:
    template = json.loads((EXAMPLES / "datadog-payload.json").read_text())
    assert template.keys() == fixture("datadog-triggered.json").keys()
    assert all(v.startswith("$") for v in template.values())


def test_the_shipped_zabbix_media_type_posts_what_the_fixture_holds() -> None:
    import yaml

    media = yaml.safe_load((EXAMPLES / "zabbix-media-tocsin.yaml").read_text())
    [media_type] = media["zabbix_export"]["media_types"]
    names = {p["name"] for p in media_type["parameters"]}
    # the script sends every parameter but its own settings and the update flag
    sent = names - {"tocsin_url", "tocsin_token", "event_update_status"}
    assert sent == fixture("zabbix-problem.json").keys()
    assert "params.event_tags = JSON.parse(params.event_tags)" in media_type["script"]
