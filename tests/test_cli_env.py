"""Every command that works on the database honours TOCSIN_DATABASE_URL, TOCSIN_CONFIG and
TOCSIN_DATA_DIR, as ``serve`` does: an incident in a database that only the environment names
is found by ``incident show``, ``report`` and ``actions list``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from tocsin.alerts.model import Alert, with_defaults
from tocsin.cli import app
from tocsin.config import load_config
from tocsin.store import repo
from tocsin.store.db import begin_write, database_url, make_engine, upgrade

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tocsin.yaml"
OPENED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WINDOW = ["--since", "2026-11-24T00:00", "--until", "2026-11-25T00:00"]


def incident_at(url: str) -> int:
    """PebbleDatabaseDown of the example configuration, in the database at ``url``."""
    engine = make_engine(url)
    upgrade(engine)
    labels = {"alertname": "PebbleDatabaseDown", "severity": "critical", "service": "pebble-db"}
    alert = with_defaults(Alert(labels=labels), OPENED, 300)
    with begin_write(engine) as conn:
        result = repo.ingest(conn, [alert], OPENED, load_config(EXAMPLE).route)
    engine.dispose()
    return result.touched[0]


def run(args: list[str], env: Mapping[str, str | None]) -> tuple[int, str]:
    done = runner.invoke(app, args, env=env)
    return done.exit_code, done.output


def test_commands_reach_the_database_named_by_tocsin_database_url(tmp_path: Path) -> None:
    url = database_url(tmp_path / "named-by-the-variable", None)
    number = str(incident_at(url))
    add = ["actions", "add", number, "Page the replica", "--owner", "alice", "-c", str(EXAMPLE)]
    add += ["--by", "alice"]
    code, output = run([*add, "--database-url", url], {})
    assert code == 0, output
    # the data directory holds another database, without the incident
    other = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path / "other")]
    env = {"TOCSIN_DATABASE_URL": url}

    code, output = run(["incident", "show", number, "--format", "json", *other], env)
    assert code == 0, output
    record = json.loads(output)
    assert record["number"] == int(number)
    assert record["alerts"][0]["labels"]["alertname"] == "PebbleDatabaseDown"
    code, output = run(["report", "--format", "json", *WINDOW, *other], env)
    assert code == 0, output
    assert json.loads(output)["incidents"] == 1
    code, output = run(["actions", "list", "--format", "json", *other], env)
    assert code == 0, output
    assert [item["title"] for item in json.loads(output)] == ["Page the replica"]

    # without the variable, the same commands read the data directory's database
    code, output = run(["incident", "show", number, *other], {"TOCSIN_DATABASE_URL": None})
    assert code == 1 and f"no incident {number}" in output


def test_commands_take_the_config_and_the_data_dir_from_the_environment(tmp_path: Path) -> None:
    number = str(incident_at(database_url(tmp_path, None)))
    env = {"TOCSIN_CONFIG": str(EXAMPLE), "TOCSIN_DATA_DIR": str(tmp_path)}
    code, output = run(["incident", "show", number, "--format", "json"], env)
    assert code == 0, output
    assert json.loads(output)["number"] == int(number)
    code, output = run(["oncall", "--format", "json"], env)
    assert code == 0, output
    assert json.loads(output)
