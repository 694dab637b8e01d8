"""Postmortems and action items on the command line, against a SQLite data directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from tocsin.alerts.model import Alert, with_defaults
from tocsin.cli import app
from tocsin.config import load_config
from tocsin.store import repo
from tocsin.store.db import begin_write, database_url, make_engine, upgrade
from tocsin.store.schema import incidents

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tocsin.yaml"


def run(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, list(args))
    return done.exit_code, done.output


def incident_in(data_dir: Path) -> tuple[int, list[str]]:
    """An incident of the example configuration in a fresh data directory; the options."""
    engine = make_engine(database_url(data_dir, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    labels = {"alertname": "PebbleDatabaseDown", "severity": "critical", "service": "pebble-db"}
    alert = with_defaults(Alert(labels=labels, annotations={"summary": "db down"}), now, 300)
    with begin_write(engine) as conn:
        repo.ingest(conn, [alert], now, config.route)
        [incident] = conn.execute(select(incidents)).fetchall()
    engine.dispose()
    return int(incident.id), ["-c", str(EXAMPLE), "--data-dir", str(data_dir)]


def test_actions_add_list_done_and_the_postmortem(tmp_path: Path) -> None:
    number, common = incident_in(tmp_path)
    code, output = run(
        "actions", "add", str(number), "Alert | on replica lag", "--owner", "alice", *common
    )
    assert code == 0, output
    assert f"action item 1 on incident {number}, alice" in output
    code, output = run(
        "actions",
        "add",
        str(number),
        "Fail over automatically",
        "--owner",
        "bob",
        "--due",
        "2020-01-01T00:00:00Z",  # long past: overdue
        "--by",
        "carol",
        *common,
    )
    assert code == 0, output

    code, output = run("actions", "list", "--format", "json", *common)
    listed = json.loads(output)
    assert [i["id"] for i in listed] == [2, 1]  # soonest due first
    assert listed[1]["title"] == "Alert | on replica lag" and listed[1]["status"] == "open"
    assert listed[0]["created_by"] == "carol" and listed[0]["overdue"] is True
    code, output = run("actions", "list", "--overdue", "--format", "json", *common)
    assert [i["id"] for i in json.loads(output)] == [2]
    code, output = run("actions", "list", *common)
    assert code == 0 and "Fail over automatically" in output and "overdue" in output

    code, output = run("actions", "done", "2", *common)
    assert code == 0 and "action item 2 done" in output
    code, output = run("actions", "list", "--overdue", "--format", "json", *common)
    assert json.loads(output) == []

    target = tmp_path / "pm.md"
    code, output = run("incident", "postmortem", str(number), "--output", str(target), *common)
    assert code == 0, output
    text = target.read_text(encoding="utf-8")
    assert text.startswith(f"# Postmortem: incident #{number}, PebbleDatabaseDown")
    assert "| 1 | Alert \\| on replica lag | alice |" in text
    assert "| 2 | Fail over automatically | bob | 2020-01-01 00:00:00 UTC | done |" in text
    assert "- db down" in text  # impact from the summary annotation
    assert "Action item #2 done" in text  # on the timeline
    code, output = run("incident", "postmortem", str(number), *common)
    assert code == 0 and output == text


def test_errors(tmp_path: Path) -> None:
    number, common = incident_in(tmp_path)
    code, output = run("incident", "postmortem", "99", *common)
    assert code == 1 and "no incident 99" in output
    code, output = run("actions", "add", "99", "x", "--owner", "a", *common)
    assert code == 1 and "no incident 99" in output
    code, output = run("actions", "add", str(number), "x", "--owner", "a", "--due", "soon", *common)
    assert code == 2 and "neither a duration" in output
    code, output = run("actions", "add", str(number), "x", *common)
    assert code == 2 and "--owner" in output
    code, output = run("actions", "done", "42", *common)
    assert code == 1 and "no action item 42" in output
    code, output = run("actions", "list", "--status", "later", *common)
    assert code == 2
