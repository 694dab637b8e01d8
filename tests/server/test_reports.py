"""Reports and Prometheus metrics through the real server (SQLite and PostgreSQL): an incident
paged through webhook sinks, acknowledged and resolved on a virtual clock, then
``GET /api/v1/reports`` and ``GET /metrics``."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink
from tests.server.conftest import Api
from tests.server.test_paging import PAGING, Paging
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.runbooks.loader import load_catalog

EXAMPLES = Path(__file__).parents[2] / "examples" / "runbooks"


@pytest.fixture
def sinks() -> Iterator[dict[str, HttpSink]]:
    with HttpSink() as team, HttpSink() as pager, HttpSink() as backup:
        yield {"team": team, "pager": pager, "backup": backup}


@pytest.fixture
def paging(db: Engine, clock: VirtualClock, sinks: dict[str, HttpSink]) -> Iterator[Paging]:
    # alice lives in Los Angeles: 08:00 UTC on a Friday is midnight for her
    text = dedent(PAGING).replace(
        "{{name: alice, email: alice@example.com,",
        "{{name: alice, email: alice@example.com, timezone: America/Los_Angeles,",
    )
    text = text.format(
        team=sinks["team"].url,
        pager=sinks["pager"].url,
        backup=sinks["backup"].url,
        ack_timeout="1h",
    )
    state = AppState(db=db, config=parse_config(text), clock=clock)
    state.catalog = load_catalog([EXAMPLES])
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Paging(Api(client, state, db), clock, sinks)


def scrape(paging: Paging, role: str = "viewer") -> dict[str, float]:
    """``/metrics`` as {"name{label=value}": value}, parsed as Prometheus parses it."""
    answer = paging.api.get("/metrics", role=role)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


def test_report_of_an_acknowledged_and_resolved_incident(paging: Paging) -> None:
    incident = paging.fire(name="PebbleDatabaseDown")  # 08:00 UTC, a Friday
    paging.advance(120)
    acked = paging.api.post(f"/api/v1/incidents/{incident}/ack", {}, role="responder")
    assert acked.status_code == 200
    paging.advance(480)
    done = paging.api.post(f"/api/v1/incidents/{incident}/resolve", {}, role="responder")
    assert done.status_code == 200
    paging.run()

    answer = paging.api.get("/api/v1/reports?since=1d", role="viewer")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["incidents"] == 1
    [row] = report["response"]["by_alert"]
    assert row["key"] == "PebbleDatabaseDown" and row["incidents"] == 1
    assert row["time_to_acknowledge"] == {
        "count": 1,
        "median_s": 120.0,
        "p90_s": 120.0,
        "mean_s": 120.0,
    }
    assert row["time_to_resolve"]["median_s"] == 600.0
    assert [r["key"] for r in report["response"]["by_service"]] == ["pebble-db"]
    assert [r["key"] for r in report["response"]["by_severity"]] == ["critical"]
    # delivered: firing, the page to alice, acknowledged and resolved to the team channel,
    # and to alice, who was paged (issue 17, item 4)
    timeline = paging.api.get(f"/api/v1/incidents/{incident}/timeline").json()
    notified = sum(1 for e in timeline if e["kind"] == "notified")
    assert notified == 6
    # a page is a delivery to a person: alice's (the three team-channel messages are not)
    assert report["pages_per_incident"] == {"total": 1, "mean": 1.0, "max": 1}
    assert report["noisiest_alerts"] == [
        {"alert": "PebbleDatabaseDown", "episodes": 1, "incidents": 1}
    ]
    assert report["deadline_misses"] == {"count": 0, "by_severity": {}}
    # alice was paged at midnight in her time zone
    assert report["out_of_hours_pages"] == [
        {"person": "alice", "timezone": "America/Los_Angeles", "pages": 1, "out_of_hours": 1}
    ]
    coverage = report["runbook_coverage"]
    assert coverage["without_runbook"] == []
    assert "PebbleDatabaseDown" not in coverage["runbooks_not_seen"]
    assert coverage["runbooks_not_seen"]  # the example catalog documents more alerts

    # a window that ends before the incident opened holds nothing
    earlier = paging.api.get("/api/v1/reports?since=2027-01-14T00:00&until=2027-01-15T07:00")
    assert earlier.status_code == 200 and earlier.json()["incidents"] == 0
    since_iso = paging.api.get("/api/v1/reports?since=2027-01-15T07:59:00Z").json()
    assert since_iso["incidents"] == 1


def test_report_errors_are_the_one_error_shape(paging: Paging) -> None:
    bad = paging.api.get("/api/v1/reports?since=yesterday")
    assert bad.status_code == 400
    assert bad.json()["error"]["status"] == 400
    assert "since" in bad.json()["error"]["message"]
    backwards = paging.api.get("/api/v1/reports?since=1h&until=2h")
    assert backwards.status_code == 400 and backwards.json()["error"]["status"] == 400
    anonymous = paging.api.client.get("/api/v1/reports")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["status"] == 401
    assert paging.api.get("/api/v1/reports", role="intake").status_code == 403


def test_metrics_count_alerts_and_deliveries_and_read_the_database(paging: Paging) -> None:
    before = scrape(paging)
    assert before["tocsin_outbox_depth{}"] == 0
    assert before["tocsin_engine_lag_seconds{}"] == 0
    assert before["tocsin_open_incidents{severity=critical}"] == 0
    assert before["tocsin_open_incidents{severity=warning}"] == 0

    labels = {"alertname": "DatabaseDown", "severity": "critical", "service": "pebble-db"}
    posted = paging.api.post("/api/v2/alerts", [{"labels": labels}])
    assert posted.status_code == 200
    paging.clock.advance(7)  # the group's flush is due and nobody has taken it
    waiting = scrape(paging)
    assert waiting["tocsin_alerts_received_total{source=api}"] == 1
    assert waiting["tocsin_engine_lag_seconds{}"] == 7

    paging.sinks["team"].reply(404, b"no such hook")  # not retried: a dead letter at once
    paging.run()  # flush: firing to the team, the page to alice; the team's goes to backup
    paging.run()
    after = scrape(paging)
    assert after["tocsin_engine_lag_seconds{}"] == 0
    assert after["tocsin_outbox_depth{}"] == 0
    assert after["tocsin_open_incidents{severity=critical}"] == 1
    assert after["tocsin_notifications_sent_total{channel=pager}"] == 1
    assert after["tocsin_notifications_failed_total{channel=team}"] == 1
    assert after["tocsin_notifications_sent_total{channel=backup}"] == 1
    assert "tocsin_notifications_sent_total{channel=team}" not in after

    # Prometheus's basic_auth: the token as password
    token = paging.api.tokens["viewer"]
    basic = base64.b64encode(f"prometheus:{token}".encode()).decode()
    answer = paging.api.client.get("/metrics", headers={"Authorization": f"Basic {basic}"})
    assert answer.status_code == 200 and "tocsin_outbox_depth" in answer.text
    assert paging.api.client.get("/metrics").status_code == 401
    assert paging.api.get("/metrics", role="intake").status_code == 403


def test_each_app_has_its_own_registry(
    db: Engine, clock: VirtualClock, sinks: dict[str, HttpSink], paging: Paging
) -> None:
    paging.api.post("/api/v2/alerts", [{"labels": {"alertname": "A", "severity": "warning"}}])
    other = AppState(db=db, config=paging.api.state.config, clock=clock)
    with TestClient(create_app(other, run_engine=False)) as client:
        api = Api(client, other, db)
        answer = api.get("/metrics")
        assert answer.status_code == 200
        assert "tocsin_alerts_received_total{" not in answer.text  # none posted to this one
    assert scrape(paging)["tocsin_alerts_received_total{source=api}"] == 1
