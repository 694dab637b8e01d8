"""The incident record on the command line: show (table and JSON), note, assign, reopen."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tocsin.alerts.model import Alert, with_defaults
from tocsin.cli import app
from tocsin.clock import VirtualClock
from tocsin.config import load_config
from tocsin.engine.loop import DueWorkEngine
from tocsin.runbooks.loader import load_catalog
from tocsin.store import repo
from tocsin.store.db import begin_write, database_url, make_engine, upgrade

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tocsin.yaml"


def run(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, list(args))
    return done.exit_code, done.output


def open_incident(tmp_path: Path) -> int:
    """PebbleDatabaseDown through the example config: flushed at once, paged."""
    engine = make_engine(database_url(tmp_path, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    labels = {"alertname": "PebbleDatabaseDown", "severity": "critical", "service": "pebble-db"}
    alert = with_defaults(Alert(labels=labels), now, 300)
    with begin_write(engine) as conn:
        result = repo.ingest(conn, [alert], now, config.route)
    clock = VirtualClock(now.timestamp() + 60)
    catalog = load_catalog(config.runbook_paths())
    DueWorkEngine(engine, config, clock, catalog=catalog).run_due()
    engine.dispose()
    return result.touched[0] if result.touched else 1


def test_show_note_assign_reopen(tmp_path: Path) -> None:
    number = str(open_incident(tmp_path))
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    code, output = run("incident", "note", number, "checked the primary", "--by", "alice", *common)
    assert code == 0 and "note added by alice" in output
    code, output = run(
        "incident", "assign", number, "--assignee", "alice", "--by", "alice", *common
    )
    assert code == 0 and "assignee alice" in output
    code, output = run(
        "incident", "assign", number, "--commander", "nobody-here", "--by", "alice", *common
    )
    assert code == 1 and "not a user" in output
    code, output = run("incident", "reopen", number, "--by", "alice", *common)
    assert code == 1 and "not resolved" in output
    code, output = run("incident", "show", number, "--format", "json", *common)
    assert code == 0, output
    record = json.loads(output)
    assert record["status"] == "triggered" and record["stage"] == "investigating"
    assert record["assignee"] == "alice" and record["severity"] == "critical"
    assert [s["alerts"] for s in record["runbooks"]] == [["PebbleDatabaseDown"]]
    kinds = [e["kind"] for e in record["timeline"]]
    assert kinds[:5] == ["opened", "alerts_changed", "triggered", "escalated", "group_flushed"]
    assert kinds[-2:] == ["note", "assigned"]
    assert record["timeline"][-2]["detail"] == {"text": "checked the primary", "by": "alice"}
    code, output = run("incident", "resolve", number, "--by", "bob", *common)
    assert code == 0
    code, output = run("incident", "reopen", number, "--reason", "back", "--by", "bob", *common)
    assert code == 0 and "reopened by bob" in output
    code, output = run("incident", "show", number, *common)
    assert code == 0, output
    assert f"#{number} PebbleDatabaseDown" in output
    # the timeline in sentences (item 7 of issue 17): "Reopened by bob: back", not the kind
    for text in ("acknowledged", "investigating", "alice", "Reopened by", "runbook", "[diagnose]"):
        assert text in output, text
    code, output = run("incident", "show", "999", *common)
    assert code == 1 and "no incident 999" in output


def control_characters(text: str) -> list[str]:
    return [c for c in text if c not in "\n" and (ord(c) < 32 or 127 <= ord(c) < 160)]


def test_show_shows_control_characters_from_labels_and_notes(tmp_path: Path) -> None:
    """A label's ESC, an OSC 8 link, a note's BEL and C1, a name's ESC: shown as escapes,
    never written to the terminal; a label's Rich markup prints as text."""
    engine = make_engine(database_url(tmp_path, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    labels = {
        "alertname": "PebbleDatabaseDown",
        "severity": "critical",
        "service": "pebble-db",
        "host": "db\x1b[31m-1\x1b]8;;https://evil.example/\x1b\\[bold]x",
    }
    alert = with_defaults(Alert(labels=labels, annotations={"summary": "a\x07b"}), now, 300)
    with begin_write(engine) as conn:
        number = str(repo.ingest(conn, [alert], now, config.route).touched[0])
    engine.dispose()
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    code, output = run("incident", "note", number, "x", "--by", "eve\x1b[8m", *common)
    assert code == 1 and not control_characters(output)  # no such user: refused, shown
    assert "--by 'eve\\x1b[8m' is not a user" in output
    code, output = run(
        "incident", "note", number, "rolled\x1b[2K back\x9b\x7f", "--by", "alice", *common
    )
    assert code == 0 and not control_characters(output)
    code, output = run("incident", "show", number, *common)
    assert code == 0, output
    assert not control_characters(output)
    assert "db\\x1b[31m-1\\x1b]8;;https://evil.example/\\x1b\\[bold]x" in output
    assert "rolled\\x1b[2K back\\x9b\\x7f" in output


def test_show_prints_each_command_filled_from_the_alert_labels(tmp_path: Path) -> None:
    """Issue 17, item 1: ``incident show`` fills the runbook's placeholders, quoted."""
    engine = make_engine(database_url(tmp_path, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    labels = {"alertname": "PebbleAPIDown", "severity": "critical", "pod": "api-1; reboot"}
    with begin_write(engine) as conn:
        repo.ingest(conn, [with_defaults(Alert(labels=labels), now, 300)], now, config.route)
    catalog = load_catalog(config.runbook_paths())
    DueWorkEngine(engine, config, VirtualClock(now.timestamp() + 60), catalog=catalog).run_due()
    engine.dispose()
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    code, output = run("incident", "show", "1", *common)
    assert code == 0, output
    assert "      kubectl -n pebble describe pod 'api-1; reboot'" in output.splitlines()
    assert "{{ $labels.pod }}" not in output


def api_down(tmp_path: Path) -> list[str]:
    """PebbleAPIDown (its runbook section has 8 steps) opened, paged and noted; the
    options that reach its database."""
    engine = make_engine(database_url(tmp_path, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    now = datetime(2026, 11, 24, 9, 0, 0, 372000, tzinfo=UTC)
    labels = {"alertname": "PebbleAPIDown", "severity": "critical", "service": "pebble-api"}
    with begin_write(engine) as conn:
        repo.ingest(conn, [with_defaults(Alert(labels=labels), now, 300)], now, config.route)
    catalog = load_catalog(config.runbook_paths())
    DueWorkEngine(engine, config, VirtualClock(now.timestamp() + 60), catalog=catalog).run_due()
    engine.dispose()
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    code, _ = run("incident", "assign", "1", "--assignee", "alice", "--by", "bob", *common)
    assert code == 0
    return common


def test_show_lists_every_runbook_step_unless_brief(tmp_path: Path) -> None:
    common = api_down(tmp_path)
    code, output = run("incident", "show", "1", *common)
    assert code == 0, output
    assert "[escalate] If not recovered in 30 min → page the incident commander" in output
    assert "more steps" not in output
    code, output = run("incident", "show", "1", "--brief", *common)
    assert code == 0, output
    steps = output.split("timeline")[0]
    assert "[verify] Verify" in steps and "page the Pebble team lead" not in steps
    assert "… 2 more steps (all of them without --brief)" in output


def test_show_tells_the_timeline_in_sentences_and_zoned_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = api_down(tmp_path)
    monkeypatch.delenv("TZ", raising=False)
    code, output = run("incident", "show", "1", *common)
    assert code == 0, output
    timeline = output.split("timeline")[-1]
    assert "{" not in timeline and '"' not in timeline
    assert "Escalation policy pebble started at step 1: paged" in timeline
    assert "Assigned to alice by bob" in timeline
    assert "2026-11-24 09:00:00 UTC" in output and ".372" not in output  # opened
    assert "2026-11-24 09:01:00 UTC" in timeline
    monkeypatch.setenv("TZ", "Europe/Berlin")
    code, output = run("incident", "show", "1", *common)
    assert code == 0 and "2026-11-24 10:01:00 CET" in output.split("timeline")[-1]


def test_show_a_long_incident_lists_the_latest_events_and_the_first_alerts(
    tmp_path: Path,
) -> None:
    """Issue 18: a storm's incident shows the latest 500 events and the first 100 alerts, and
    says how many there are (the JSON record has every alert and the latest events)."""
    number = open_incident(tmp_path)
    engine = make_engine(database_url(tmp_path, None))
    now = datetime(2026, 11, 24, 9, 5, tzinfo=UTC)
    config = load_config(EXAMPLE)
    base = {"alertname": "PebbleDatabaseDown", "severity": "critical", "service": "pebble-db"}
    storm = [
        with_defaults(Alert(labels={**base, "instance": f"i{n:03}"}), now, 300) for n in range(150)
    ]
    with begin_write(engine) as conn:
        repo.ingest(conn, storm, now, config.route)
        for n in range(600):
            repo.add_timeline(conn, number, now, "note", {"text": f"note {n}", "by": "alice"})
    engine.dispose()
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    code, output = run("incident", "show", str(number), "--brief", *common)
    assert code == 0, output
    assert "the latest 500 of 60" in output  # 600 notes and the incident's own events
    assert "note 599" in output and "note 99 " not in output and "note 0 " not in output
    assert "alerts: the first 100 of 151" in output
    code, output = run("incident", "show", str(number), "--format", "json", *common)
    record = json.loads(output)
    assert len(record["alerts"]) == 151 and len(record["timeline"]) == 500
    assert record["timeline_total"] > 600 and record["timeline"][-1]["detail"]["text"] == "note 599"
