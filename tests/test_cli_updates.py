"""``tocsin incident update`` and ``tocsin incident updates`` on the example configuration."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from tocsin.alerts.model import Alert, with_defaults
from tocsin.cli import app
from tocsin.config import load_config
from tocsin.engine.paging import Pager
from tocsin.store import repo
from tocsin.store.db import begin_write, database_url, make_engine, upgrade
from tocsin.store.schema import incidents, notifications

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tocsin.yaml"


def test_incident_update_renders_records_and_queues(tmp_path: Path) -> None:
    engine = make_engine(database_url(tmp_path, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    now = datetime.now(UTC)
    labels = {"alertname": "PebbleDatabaseDown", "severity": "critical", "service": "pebble-db"}
    alert = with_defaults(Alert(labels=labels), now, 300)
    with begin_write(engine) as conn:
        repo.ingest(conn, [alert], now, config.route)
        [incident] = conn.execute(select(incidents)).fetchall()
        members = {a.fingerprint: a.alert for a in repo.incident_members(conn, incident.id)}
        Pager(config).flushed(conn, incident, members, list(members), False, now.timestamp())
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    args = ["incident", "update", str(incident.id), "--stage", "identified", *common]
    done = runner.invoke(app, [*args, "--message", "Primary disk full", "--by", "alice"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("[UPDATE] ")
    assert "Status: Identified" in done.output and "Update: Primary disk full" in done.output
    done = runner.invoke(app, [*args, "--message", "x", "--template", "nope", "--by", "alice"])
    assert done.exit_code == 1 and "unknown template" in done.output
    done = runner.invoke(
        app,
        ["incident", "update", "999", "--stage", "identified", "-m", "x", "--by", "bob", *common],
    )
    assert done.exit_code == 1 and "no incident 999" in done.output
    done = runner.invoke(app, ["incident", "updates", str(incident.id), *common])
    assert done.exit_code == 0
    [item] = [json.loads(line) for line in done.output.splitlines()]
    assert item["stage"] == "identified" and item["by"] == "alice"
    with engine.connect() as conn:
        row = repo.get_incident(conn, incident.id)
        kinds = [r.kind for r in conn.execute(select(notifications.c.kind))]
    assert row.stage == "identified" and row.last_update_at is not None
    channels = json.loads(row.channels)
    assert kinds.count("status_update") == len(channels) > 0


def test_incident_update_shows_control_characters_never_writes_them(tmp_path: Path) -> None:
    engine = make_engine(database_url(tmp_path, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    now = datetime.now(UTC)
    labels = {"alertname": "PebbleDatabaseDown", "severity": "critical", "service": "db\x1b[31m"}
    with begin_write(engine) as conn:
        repo.ingest(conn, [with_defaults(Alert(labels=labels), now, 300)], now, config.route)
        [incident] = conn.execute(select(incidents)).fetchall()
        members = {a.fingerprint: a.alert for a in repo.incident_members(conn, incident.id)}
        Pager(config).flushed(conn, incident, members, list(members), False, now.timestamp())
    engine.dispose()
    common = ["--by", "alice", "-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    args = ["incident", "update", str(incident.id), "--stage", "identified", *common]
    done = runner.invoke(app, [*args, "-m", "disk\x07\x1b[2J"])
    assert done.exit_code == 0, done.output
    assert not [c for c in done.output if c not in "\n" and (ord(c) < 32 or 127 <= ord(c) < 160)]
    assert "disk\\x07\\x1b[2J" in done.output
