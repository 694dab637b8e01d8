"""``tocsin report`` over a database written by hand: one incident, paged to alice at 22:00 in
Berlin and to chen at 16:00 in New York, acknowledged after 5 minutes, resolved after an
hour."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.store.db import database_url, make_engine, upgrade
from tocsin.store.schema import (
    alerts,
    incident_alerts,
    incidents,
    notifications,
    timeline,
)

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tocsin.yaml"
T = datetime(2027, 1, 4, 21, 0, tzinfo=UTC).timestamp()  # Monday 21:00 UTC
WINDOW = ["--since", "2027-01-04T00:00", "--until", "2027-01-11T00:00"]


def seed(data_dir: Path, service: str = "pebble-db") -> None:
    engine = make_engine(database_url(data_dir, None))
    upgrade(engine)
    labels = {"alertname": "PebbleDatabaseDown", "service": service, "severity": "critical"}
    with engine.begin() as conn:
        conn.execute(
            insert(incidents).values(
                id=1,
                group_key="{}:{alertname=PebbleDatabaseDown}",
                route_id="0",
                receiver="default",
                group_labels=json.dumps({"alertname": "PebbleDatabaseDown"}),
                status="resolved",
                severity="critical",
                opened_at=T,
                first_alert_at=T,
                last_alert_at=T,
                resolved_at=T + 3600,
                group_wait_s=0,
                group_interval_s=60,
                repeat_interval_s=3600,
            )
        )
        conn.execute(
            insert(alerts).values(
                id=1,
                fingerprint="0123456789abcdef",
                labels=json.dumps(labels),
                annotations="{}",
                starts_at=T,
                ends_at=T + 3600,
                updated_at=T,
                timeout=False,
                generator_url="",
                source="api",
            )
        )
        conn.execute(
            insert(incident_alerts).values(
                incident_id=1, fingerprint="0123456789abcdef", added_at=T
            )
        )
        for n, (target, person) in enumerate(
            [("schedule:pebble-primary", "alice"), ("user:chen", None)], start=1
        ):
            message = {"recipient": {"name": person}} if person else {}
            conn.execute(
                insert(notifications).values(
                    id=n,
                    incident_id=1,
                    channel="page-console",
                    target=target,
                    kind="escalation",
                    message=json.dumps(message),
                    idempotency_key=f"k{n}",
                    status="sent",
                    attempts=1,
                    created_at=T,
                )
            )
        events = [
            (T, "opened", {}),
            (T, "triggered", {}),
            (T, "notified", {"target": "schedule:pebble-primary", "notification": 1}),
            (T, "notified", {"target": "user:chen", "notification": 2}),
            (T + 300, "acknowledged", {"by": "alice"}),
            (T + 3600, "resolved", {}),
        ]
        for at, kind, detail in events:
            conn.execute(
                insert(timeline).values(incident_id=1, at=at, kind=kind, detail=json.dumps(detail))
            )
    engine.dispose()


def run(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, list(args))
    return done.exit_code, done.output


def test_report_as_json_and_as_tables(tmp_path: Path) -> None:
    seed(tmp_path)
    common = [*WINDOW, "-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    code, output = run("report", "--format", "json", *common)
    assert code == 0, output
    report = json.loads(output)
    assert report["incidents"] == 1
    overall = report["response"]["overall"]
    assert overall["time_to_acknowledge"]["median_s"] == 300.0
    assert overall["time_to_resolve"]["median_s"] == 3600.0
    # 22:00 in Berlin is out of hours; 16:00 in New York is not
    assert report["out_of_hours_pages"] == [
        {"person": "alice", "timezone": "Europe/Berlin", "pages": 1, "out_of_hours": 1},
        {"person": "chen", "timezone": "America/New_York", "pages": 1, "out_of_hours": 0},
    ]
    assert report["runbook_coverage"]["without_runbook"] == []

    # with working hours until 23:00, alice's page is in hours
    code, output = run("report", "--format", "json", "--working-hours", "08:00-23:00", *common)
    assert json.loads(output)["out_of_hours_pages"][0]["out_of_hours"] == 0

    code, output = run("report", *common)
    assert code == 0, output
    assert "1 incidents, 2 pages" in output
    assert "PebbleDatabaseDown" in output and "5 min 0 s" in output and "1 h 0 min 0 s" in output
    assert "Europe/Berlin" in output


def test_report_rejects_a_bad_window(tmp_path: Path) -> None:
    code, output = run("report", "--since", "last week", "--data-dir", str(tmp_path))
    assert code == 2 and "neither a duration" in output
    code, output = run("report", "--working-hours", "18-8", "--data-dir", str(tmp_path))
    assert code == 2


def test_report_tables_show_a_labels_control_characters(tmp_path: Path) -> None:
    seed(tmp_path, service="pebble\x1b[31m-db\x07[bold]")
    code, output = run("report", *WINDOW, "-c", str(EXAMPLE), "--data-dir", str(tmp_path))
    assert code == 0, output
    assert not [c for c in output if c not in "\n" and (ord(c) < 32 or 127 <= ord(c) < 160)]
    assert "pebble\\x1b[31m-db\\x07[bold]" in output


def test_the_reports_window_carries_its_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, item 9: the window is written to the second with its zone (TZ's, else UTC)."""
    seed(tmp_path)
    common = [*WINDOW, "-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    monkeypatch.delenv("TZ", raising=False)
    code, output = run("report", *common)
    assert code == 0 and "2027-01-04 00:00:00 UTC → 2027-01-11 00:00:00 UTC" in output
    monkeypatch.setenv("TZ", "Europe/Berlin")
    code, output = run("report", *common)
    assert code == 0 and "2027-01-04 01:00:00 CET → 2027-01-11 01:00:00 CET" in output
