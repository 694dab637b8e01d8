"""The command line, end to end, through Typer's runner and the real promtool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tocsin.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_list(examples_dir: Path) -> None:
    code, output = run("runbooks", "list", str(examples_dir))
    assert code == 0
    assert "7 alerts in 3 runbooks" in output
    assert "PebbleAPIDown" in output and "PebbleDatabaseDown" in output


def test_show_renders_steps_commands_and_risk(examples_dir: Path) -> None:
    code, output = run("runbooks", "show", "PebbleUploadQueueBacklog", str(examples_dir))
    assert code == 0
    assert "DIAGNOSE" in output and "REMEDIATE" in output
    assert "[destructive]" in output and "redis-cli -h pebble-queue DEL" in output


def test_show_unknown_alert_fails_clearly(examples_dir: Path) -> None:
    code, output = run("runbooks", "show", "NoSuchAlert", str(examples_dir))
    assert code == 1
    assert "no runbook documents an alert named 'NoSuchAlert'" in output


def test_lint_exit_status(examples_dir: Path, seeds_dir: Path) -> None:
    code, output = run("runbooks", "lint", str(examples_dir))
    assert code == 0 and "0 errors" in output
    code, output = run("runbooks", "lint", str(seeds_dir))
    assert code == 1
    assert "error[toc-undocumented] SlowQueries is listed" in output


def test_lint_bad_files_never_traceback(tmp_path: Path) -> None:
    (tmp_path / "bin.md").write_bytes(b"\x00\xff")
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe oops")
    code, output = run("runbooks", "lint", str(tmp_path))
    assert code == 1
    assert "error[binary]" in output and "error[encoding]" in output
    assert "Traceback" not in output


def test_export_json_shape(examples_dir: Path) -> None:
    code, output = run("runbooks", "export", str(examples_dir), "--format", "json")
    assert code == 0
    data = json.loads(output)
    assert set(data) >= {"runbooks", "problems"}
    runbook = next(rb for rb in data["runbooks"] if rb["source"].endswith("pebble-api.md"))
    assert set(runbook) >= {
        "source",
        "title",
        "severity_levels",
        "escalation",
        "templates",
        "alerts",
    }
    assert runbook["severity_levels"][0] == {
        "name": "P1 - Critical",
        "level": "critical",
        "response_time_s": 300,
        "description": "Uploads or viewing broken for most users",
        "escalation_path": [],
    }
    assert set(runbook["escalation"][0]) >= {"after_s", "target", "text"}
    assert set(runbook["templates"][0]) >= {"name", "text"}
    alert = runbook["alerts"][0]
    assert set(alert) >= {
        "name",
        "title",
        "severity",
        "severity_raw",
        "threshold",
        "expr",
        "for_s",
        "line",
        "steps",
    }
    assert (alert["name"], alert["expr"], alert["for_s"]) == (
        "PebbleAPIDown",
        'up{job="pebble-api"} == 0',
        120,
    )
    step = alert["steps"][0]
    assert set(step) >= {"phase", "title", "text", "commands"}
    command = step["commands"][0]
    assert set(command) >= {"language", "code", "risk", "placeholders", "line"}
    for problem in data["problems"]:
        assert set(problem) >= {"source", "line", "level", "code", "message", "alert"}


def test_export_yaml_matches_json(examples_dir: Path) -> None:
    _, as_json = run("runbooks", "export", str(examples_dir))
    code, as_yaml = run("runbooks", "export", str(examples_dir), "-f", "yaml")
    assert code == 0
    assert yaml.safe_load(as_yaml) == json.loads(as_json)


def test_export_unknown_format() -> None:
    code, output = run("runbooks", "export", ".", "--format", "xml")
    assert code == 2 and "unknown format 'xml'" in output


def test_prometheus_rules_pass_promtool(
    examples_dir: Path, seeds_dir: Path, tmp_path: Path
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; make test installs it)")
    out = tmp_path / "rules.yml"
    code, _ = run(
        "runbooks",
        "export",
        str(examples_dir),
        str(seeds_dir),
        "-f",
        "prometheus-rules",
        "-o",
        str(out),
    )
    assert code == 0
    rules = yaml.safe_load(out.read_text())
    names = [r["alert"] for g in rules["groups"] for r in g["rules"]]
    assert names == [
        "PebbleAPIDown",
        "PebbleHighErrorRate",
        "PebbleUploadQueueBacklog",
        "PebbleDiskFilling",
        "PebbleDatabaseDown",
        "APIUnresponsive",
        "DatabaseDown",
        "CeleryWorkersDown",
    ]
    checked = subprocess.run(
        [promtool, "check", "rules", str(out)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout


def test_version() -> None:
    code, output = run("--version")
    assert code == 0 and output.startswith("tocsin ")


def test_counts_are_said_in_words_of_the_right_number(tmp_path: Path) -> None:
    """Issue 17, item 21: ``1 runbook``, not ``1 runbooks``; column headers are words."""
    book = tmp_path / "one.md"
    book.write_text(
        "# One\n\n## DiskFull\n\n**Severity:** warning\n\n### Diagnosis\n\n```bash\ndf -h\n```\n"
    )
    code, output = run("runbooks", "list", str(book))
    assert code == 0, output
    assert "1 alert in 1 runbook" in output
    assert "Diagnose" in output and "diag " not in output
    code, output = run("runbooks", "lint", str(book))
    assert "in 1 runbook" in output and "1 runbooks" not in output
