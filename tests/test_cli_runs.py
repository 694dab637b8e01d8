"""Issue 20: ``tocsin run`` and ``tocsin runs`` on this host's database, with the example
configuration and its runbook examples/runbooks/pebble-host.md: the steps as they would run,
automatic diagnostics queued at the trigger, run by the executor, a change asked for,
refused and approved."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from tocsin.alerts.model import Alert, with_defaults
from tocsin.cli import app
from tocsin.clock import VirtualClock
from tocsin.config import load_config
from tocsin.engine.executor import Executor
from tocsin.engine.loop import DueWorkEngine
from tocsin.execute.registry import build_runners
from tocsin.runbooks.loader import load_catalog
from tocsin.store import repo
from tocsin.store.db import begin_write, database_url, make_engine, upgrade

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tocsin.yaml"


def run(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, list(args))
    return done.exit_code, done.output


def fire_and_drain(tmp_path: Path) -> int:
    """PebbleDiskFilling through the example config: triggered, its diagnostics run."""
    engine = make_engine(database_url(tmp_path, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    labels = {"alertname": "PebbleDiskFilling", "service": "pebble-host", "instance": "web-1"}
    alert = with_defaults(Alert(labels=labels), now, 300)
    with begin_write(engine) as conn:
        result = repo.ingest(conn, [alert], now, config.route)
    clock = VirtualClock(now.timestamp() + 60)
    loop = DueWorkEngine(engine, config, clock, catalog=load_catalog(config.runbook_paths()))
    loop.run_due()
    executor = Executor(engine, loop.pager, clock, "test", build_runners)
    asyncio.run(executor.drain())
    engine.dispose()
    return result.touched[0] if result.touched else 1


def test_steps_runs_and_a_change_from_the_command_line(tmp_path: Path) -> None:
    number = str(fire_and_drain(tmp_path))
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    code, output = run("runs", "steps", number, *common)
    assert code == 0, output
    assert "1. read · bash · pebble-host · pebble-host.md: PebbleDiskFilling" in output
    assert "4. read · bash · http-local" in output  # the curl line: an HTTP check
    assert "5. read · promql · no runner" in output
    assert "touch /tmp/pebble-cache/sweep-web-1" in output
    code, output = run("runs", "list", number, *common)
    assert code == 0 and "auto-diagnose" in output
    assert "step 1\tread\tfinished ok, exit 0" in output
    code, output = run("runs", "list", number, "--format", "json", *common)
    ran = {r["step"]: r for r in json.loads(output)}
    assert ran[3]["output"].count(" ") >= 2  # /proc/loadavg's five fields
    assert ran[5]["status"] == "refused" and "no runner" in ran[5]["reason"]
    code, output = run("run", number, "6", "--wait", "0", "--by", "alice", *common)
    assert code == 0, output
    assert "step 6 (change, bash, pebble-host):" in output
    assert "awaiting: a responder's approval of this exact text" in output
    assert "-- approve it: tocsin runs approve" in output
    change = max(
        json.loads(run("runs", "list", number, "--format", "json", *common)[1]),
        key=lambda r: r["id"],
    )
    code, output = run(
        "runs", "refuse", str(change["id"]), "--reason", "not tonight", "--by", "bob", *common
    )
    assert code == 0 and "refused: not tonight" in output
    code, output = run("runs", "approve", str(change["id"]), "--yes", "--by", "bob", *common)
    assert code == 1 and "is refused, not awaiting" in output
    code, output = run("run", number, "7", "--approve", "--wait", "0", "--by", "alice", *common)
    assert code == 0 and "awaiting: a second person" in output
    assert '--confirm "rm -rf /tmp/pebble-cache"' in output
    code, output = run("run", number, "99", "--by", "alice", *common)
    assert code == 1 and "no step 99" in output
    code, output = run("run", number, "1", "--fill", "novalue", "--by", "alice", *common)
    assert code == 1 and "KEY=VALUE" in output
