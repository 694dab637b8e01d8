"""``tocsin runbooks drift``'s exit statuses and messages, against a fake Prometheus (the real
one: tests/server/test_drift.py): 0 when the runbooks and the rules agree, 1 with findings,
2 when the rules cannot be read or the command cannot run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.prometheus import Answer, FakePrometheus, fake_prometheus, rules_answer
from tocsin.cli import app

runner = CliRunner()
NO_ENV: dict[str, str | None] = {
    "TOCSIN_URL": None,
    "TOCSIN_TOKEN": None,
    "TOCSIN_CONFIG": None,
    "TOCSIN_CLI_CONFIG": "/nonexistent/cli.yaml",
}
RUNBOOK = "# Shop\n\n## ShopDown\n\n**Severity:** P1\n**Threshold:** `up == 0` for 2 minutes\n"
AGREES = {"name": "ShopDown", "query": "up == 0", "duration": 120, "labels": {"severity": "page"}}


def run(*args: str) -> tuple[int, str, str]:
    done = runner.invoke(app, ["runbooks", "drift", *args], env=NO_ENV)
    return done.exit_code, done.stdout, done.stderr


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    with fake_prometheus() as running:
        yield running


@pytest.fixture
def site(tmp_path: Path, fake: FakePrometheus) -> Path:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "shop.md").write_text(RUNBOOK)
    config = tmp_path / "tocsin.yaml"
    config.write_text(
        "route: {receiver: default}\nreceivers: [{name: default}]\nrunbooks: [runbooks]\n"
        f"execute:\n  runners:\n    - {{name: prom, type: promql, url: '{fake.url}'}}\n"
    )
    return config


def test_runbooks_that_agree_with_the_rules_exit_0(site: Path, fake: FakePrometheus) -> None:
    fake.answer = Answer(body=rules_answer(AGREES))
    code, out, err = run("-c", str(site))
    assert (code, err) == (0, "")
    assert out.startswith(
        "0 findings: 0 alerting rules with no runbook, 0 runbook alerts that no rule defines, "
        "0 thresholds that differ, 0 for durations that differ, 0 severities that disagree. "
        f"Compared 1 runbook alert with the 1 alerting rule of {fake.url}, read "
    )
    assert "┏" not in out  # no table without findings


def test_findings_exit_1_and_json_is_the_apis_shape(site: Path, fake: FakePrometheus) -> None:
    fake.answer = Answer(body=rules_answer({**AGREES, "duration": 300}))
    code, out, _ = run("-c", str(site), "--json")
    assert code == 1
    report = json.loads(out)
    assert sorted(report) == [
        "alerts",
        "counts",
        "findings",
        "kinds",
        "prometheus",
        "read_at",
        "rules",
    ]
    (finding,) = report["findings"]
    assert finding["message"] == "ShopDown: the runbook says for 2m, the rule says for 5m"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--prometheus", "prometheus:9090"], "must be an http(s) URL with a host"),
        (
            ["--url", "http://127.0.0.1:1", "--token", "t", "--prometheus", "http://p:9090"],
            "--prometheus works on this host's configuration only",
        ),
        (["--url", "http://127.0.0.1:1", "--token", "t"], "cannot connect to http://127.0.0.1:1"),
    ],
)
def test_what_cannot_run_exits_2(site: Path, args: list[str], says: str) -> None:
    local = [] if "--url" in args else ["-c", str(site)]
    code, out, err = run(*local, *args)
    assert code == 2 and out == ""
    assert err.startswith("tocsin: ") and says in err


def test_a_prometheus_that_refuses_exits_2(site: Path, fake: FakePrometheus) -> None:
    fake.answer = Answer(403, b'{"status":"error","error":"forbidden"}')
    code, out, err = run("-c", str(site))
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"tocsin: {fake.url}/api/v1/rules refused: Client error '403 Forbidden': forbidden"
    )


def test_a_configuration_with_problems_exits_2_naming_them(tmp_path: Path) -> None:
    bad = tmp_path / "tocsin.yaml"
    bad.write_text("route: {receiver: default}\nreceivers: [{name: default}]\nrunbok: [x]\n")
    code, _, err = run("-c", str(bad))
    assert code == 2
    assert "tocsin.yaml:3:9: runbok: unknown key `runbok`" in err
