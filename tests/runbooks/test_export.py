"""``tocsin runbooks export --format prometheus-rules``: what it leaves out, the group names
and the runbook links (issue 17, items 10 and 17)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from tocsin.cli import app

SEED = "000_4392ebbad4033ec5.txt"


def _export(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["runbooks", "export", *args, "-f", "prometheus-rules"])
    return result.exit_code, result.stdout, result.stderr


def test_the_alerts_left_out_are_named_with_why(seeds_dir: Path) -> None:
    code, out, err = _export(str(seeds_dir / SEED))
    assert code == 0
    written = [r["alert"] for g in yaml.safe_load(out)["groups"] for r in g["rules"]]
    assert written == ["APIUnresponsive", "DatabaseDown", "CeleryWorkersDown"]
    lines = err.splitlines()
    assert lines[0] == "tocsin: wrote 3 of 10 alerts; left out:"
    left = [line.split()[0] for line in lines[1:8]]
    assert left == [
        "HighErrorRate",
        "SlowResponseTime",
        "ConnectionPoolExhausted",
        "HighCPUUsage",
        "DiskSpaceCritical",
        "BackupFailed",
        "HighFailedLoginAttempts",
    ]
    assert "the runbook states no PromQL expression for it" in lines[1]
    assert "only a threshold in words (> 10 attempts/second for 5 minutes)" in lines[7]


def test_the_group_is_named_by_a_readable_slug_of_the_title(seeds_dir: Path) -> None:
    from tocsin.runbooks.export import group_name

    _, out, _ = _export(str(seeds_dir / SEED))
    assert [g["name"] for g in yaml.safe_load(out)["groups"]] == ["alert-runbooks-week-1-day-6"]
    assert group_name("Pebble API — Alert Runbook") == "pebble-api-alert-runbook"
    assert group_name("!!!") == "runbook"


def test_rules_carry_the_pages_runbook_url_never_a_local_path(examples_dir: Path) -> None:
    books = examples_dir  # examples/runbooks
    _, out, err = _export(str(books.resolve()))
    for group in yaml.safe_load(out)["groups"]:
        for rule in group["rules"]:
            assert "runbook_url" not in rule["annotations"]  # no web address known: none
    assert "carry no runbook_url: give --runbooks-url" in " ".join(err.split())
    base = "https://git.example.com/pebble/ops/blob/main/examples/runbooks/"
    _, out, _ = _export(str(books.resolve()), "--runbooks-url", base)
    urls = {
        r["alert"]: r["annotations"]["runbook_url"]
        for g in yaml.safe_load(out)["groups"]
        for r in g["rules"]
    }
    assert urls["PebbleAPIDown"] == base + "pebble-api.md#pebbleapidown"
    assert urls["PebbleDatabaseDown"] == base + "database/PebbleDatabaseDown.md#pebbledatabasedown"
    # the same address a page links, with runbooks_url from the configuration
    from tocsin.alerts.model import Alert
    from tocsin.config import load_config
    from tocsin.engine.paging import Pager
    from tocsin.service.context import load_runbooks

    config = load_config(examples_dir.parent / "tocsin.yaml")
    page = Pager(config, load_runbooks(config))._runbook(
        [Alert(labels={"alertname": "PebbleDatabaseDown"})]
    )
    _, from_config, _ = _export(str(books), "--config", str(examples_dir.parent / "tocsin.yaml"))
    [rule] = [
        r
        for g in yaml.safe_load(from_config)["groups"]
        for r in g["rules"]
        if r["alert"] == "PebbleDatabaseDown"
    ]
    assert rule["annotations"]["runbook_url"] == page["runbook_url"]
