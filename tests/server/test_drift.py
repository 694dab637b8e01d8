"""Drift against a real Prometheus (Debian's ``prometheus``): a rule file whose rules differ
from a small runbook in each way (one rule with no runbook, one runbook alert with no rule, a
threshold, a ``for`` and a severity that differ, and one rule that agrees), read by
``tocsin runbooks drift`` and ``runbooks lint --prometheus``, the console's drift page,
``GET /api/v1/runbooks/drift``, and the same command against a running ``tocsin serve``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.prometheus import RUNBOOK, Answer, fake_prometheus, free_port, real_prometheus
from tests.prometheus import rules_answer as answer_with
from tests.server.conftest import Api
from tests.server.test_console import signin
from tests.server.test_real_clients import Server, tocsin
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.cli import app
from tocsin.clock import VirtualClock
from tocsin.config import load_config, parse_config
from tocsin.runbooks.loader import load_catalog
from tocsin.web import console

pytestmark = pytest.mark.slow  # a Prometheus process
runner = CliRunner()
NO_ENV: dict[str, str | None] = {
    "TOCSIN_URL": None,
    "TOCSIN_TOKEN": None,
    "TOCSIN_CONFIG": None,
    "TOCSIN_CLI_CONFIG": "/nonexistent/cli.yaml",
}
# what each finding must be: (kind, alert, the runbook says, the rule says)
EXPECTED = [
    (
        "no_runbook",
        "ShopCertificateExpiring",
        "",
        'probe_ssl_earliest_cert_expiry{job="shop"} - time() < 86400 * 14',
    ),
    ("no_rule", "ShopQueueStuck", "shop_queue_depth > 1000", ""),
    ("threshold", "ShopLatencyHigh", "above 500ms", "> 1"),
    ("for", "ShopDown", "2m", "10m"),
    ("severity", "ShopDiskFilling", "critical", "severity=warning"),
]


def configuration(url: str) -> str:
    return (
        "route: {receiver: default}\nreceivers: [{name: default}]\nrunbooks: [runbooks]\n"
        f"execute:\n  runners:\n    - {{name: prom, type: promql, url: '{url}', timeout: 5s}}\n"
    )


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with real_prometheus(tmp_path_factory.mktemp("prometheus")) as url:
        yield url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, prometheus: str) -> Path:
    """A tocsin.yaml naming the runbook directory and the Prometheus (runner ``prom``)."""
    root = tmp_path_factory.mktemp("site")
    (root / "runbooks").mkdir()
    (root / "runbooks" / "shop.md").write_text(RUNBOOK)
    (root / "tocsin.yaml").write_text(configuration(prometheus))
    return root


def run(*args: str) -> tuple[int, str, str]:
    done = runner.invoke(app, list(args), env=NO_ENV)
    return done.exit_code, done.stdout, done.stderr


def findings(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(f["kind"], f["alert"], f["runbook"], f["rule"]) for f in report["findings"]]


def test_the_command_finds_each_kind_of_drift_in_the_live_rules(
    site: Path, prometheus: str
) -> None:
    code, out, err = run("runbooks", "drift", "-c", str(site / "tocsin.yaml"), "--json")
    assert (code, err) == (1, "")
    report = json.loads(out)
    assert findings(report) == EXPECTED  # ShopCheckoutErrors agrees: no finding
    assert (report["prometheus"], report["rules"], report["alerts"]) == (prometheus, 5, 5)
    assert report["counts"] == dict.fromkeys(report["kinds"], 1)
    by_kind = {f["kind"]: f for f in report["findings"]}
    assert by_kind["no_runbook"]["file"].endswith("/rules.yml")  # as Prometheus names it
    assert by_kind["no_runbook"]["source"] is None
    assert by_kind["threshold"]["note"] == "above 500ms read as 0.5 or 500"
    assert by_kind["for"]["source"].endswith("runbooks/shop.md")
    assert (by_kind["severity"]["line"], by_kind["severity"]["group"]) == (27, "shop")

    code, out, err = run("runbooks", "drift", "-c", str(site / "tocsin.yaml"))
    assert code == 1
    for title in (
        "Alerting rules with no runbook (1)",
        "Runbook alerts that no rule defines (1)",
        "Thresholds that differ (1)",
        "Durations (for) that differ (1)",
        "Severities that disagree (1)",
    ):
        assert title in out
    assert "ShopCheckoutErrors" not in out
    assert (
        out.strip()
        .splitlines()[-1]
        .startswith(
            "5 findings: 1 alerting rule with no runbook, 1 runbook alert that no rule defines, "
            "1 threshold that differs, 1 for duration that differs, 1 severity that disagrees. "
            f"Compared 5 runbook alerts with the 5 alerting rules of {prometheus}, read "
        )
    )


def test_a_prometheus_given_on_the_command_line(
    site: Path, prometheus: str, tmp_path: Path
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "shop.md").write_text(RUNBOOK)
    bare = tmp_path / "tocsin.yaml"
    bare.write_text(
        "route: {receiver: default}\nreceivers: [{name: default}]\nrunbooks: [runbooks]\n"
    )
    code, out, err = run("runbooks", "drift", "-c", str(bare))
    assert code == 2 and out == ""
    assert err.startswith("tocsin: no Prometheus is configured to compare the runbooks with: add")
    assert err.rstrip().endswith("or give one: --prometheus URL")
    code, out, _ = run("runbooks", "drift", "-c", str(bare), "--prometheus", prometheus, "--json")
    assert code == 1 and findings(json.loads(out)) == EXPECTED


def test_lint_adds_the_drift_as_warnings(site: Path, prometheus: str) -> None:
    code, out, err = run("runbooks", "lint", str(site / "runbooks"), "--prometheus", prometheus)
    assert code == 0 and err == ""  # warnings only
    lines = out.strip().splitlines()
    assert lines[-1] == (
        f"0 errors, 5 warnings in 1 runbook; compared with 5 alerting rules of {prometheus}"
    )
    codes = sorted(line.split("[")[1].split("]")[0] for line in lines[:-1])
    assert codes == [
        "drift-for",
        "drift-no-rule",
        "drift-no-runbook",
        "drift-severity",
        "drift-threshold",
    ]
    assert any(
        line.endswith(
            "rules.yml: warning[drift-no-runbook] ShopCertificateExpiring: the alerting "
            "rule in group shop has no runbook"
        )
        for line in lines
    )
    assert (
        f"{site / 'runbooks' / 'shop.md'}:19: warning[drift-for] ShopDown: the runbook says "
        "for 2m, the rule says for 10m" in lines
    )
    # the configuration's Prometheus, by --config
    code, out, _ = run("runbooks", "lint", str(site / "runbooks"), "-c", str(site / "tocsin.yaml"))
    assert code == 0 and out.strip().splitlines()[-1].endswith(f"alerting rules of {prometheus}")


def test_lint_says_when_the_rules_cannot_be_read_and_still_lints(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text(RUNBOOK)
    gone = f"http://127.0.0.1:{free_port()}"
    code, out, err = run("runbooks", "lint", str(tmp_path), "--prometheus", gone)
    assert code == 2
    assert out.strip() == "0 errors, 0 warnings in 1 runbook"
    assert err.strip() == (
        f"tocsin: cannot compare with the live rules: cannot read {gone}/api/v1/rules: "
        "connection refused"
    )


# --------------------------------------------------------------------------- the console, the API


@pytest.fixture
def served(db: Engine, site: Path) -> Iterator[Api]:
    config = load_config(site / "tocsin.yaml")
    state = AppState(
        db=db,
        config=config,
        clock=VirtualClock(1_800_000_000),
        catalog=load_catalog(config.runbook_paths()),
    )
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Api(client, state, db)


def test_the_console_shows_the_drift_against_the_real_prometheus(
    served: Api, prometheus: str
) -> None:
    signin(served.client, served.tokens["viewer"])
    runbooks = served.client.get("/runbooks").text
    assert '<a href="/runbooks/drift">Drift against Prometheus</a>' in runbooks
    page = served.client.get("/runbooks/drift")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Drift against Prometheus</h1>" in text
    assert (
        f"5 findings: the 5 runbook alerts beside the 5 alerting rules of <code>{prometheus}"
        in (text)
    )
    for title in ("Alerting rules with no runbook", "Durations (for) that differ"):
        assert f"{title} <small>1</small>" in text
    for _kind, alert, _ours, _theirs in EXPECTED:
        assert alert in text
    assert '<a href="/runbooks/ShopDown">ShopDown</a>' in text
    assert "<code>above 500ms</code>" in text and "<code>&gt; 1</code>" in text
    assert "<small>shop.md:19 · group shop</small>" in text  # as the runbooks page names it
    assert "ShopCheckoutErrors" not in text


def test_the_api_answers_the_same_report_to_a_reader(served: Api, prometheus: str) -> None:
    answer = served.get("/api/v1/runbooks/drift", role="viewer")
    assert answer.status_code == 200
    assert findings(answer.json()) == EXPECTED
    assert served.client.get("/api/v1/runbooks/drift").status_code == 401


@pytest.fixture
def state_with(db: Engine, site: Path) -> Iterator[Any]:
    """A console on a configuration of our choosing (``use(text)``), the site's runbooks."""
    made: list[TestClient] = []

    def use(text: str, books: Path | None = None) -> Api:
        state = AppState(
            db=db,
            config=parse_config(text, base_dir=site),
            clock=VirtualClock(1_800_000_000),
            catalog=load_catalog([books or site / "runbooks"]),
        )
        client = TestClient(console.install(create_app(state, run_engine=False)))
        client.__enter__()
        made.append(client)
        api = Api(client, state, db)
        signin(client, api.tokens["viewer"])
        return api

    yield use
    for client in made:
        client.__exit__(None, None, None)


def test_the_console_says_why_when_there_is_no_drift_to_show(state_with: Any) -> None:
    bare = state_with("route: {receiver: default}\nreceivers: [{name: default}]\n")
    page = bare.client.get("/runbooks/drift")
    assert page.status_code == 200
    assert "no Prometheus is configured to compare the runbooks with" in page.text
    assert "<code>type: promql</code>" in page.text
    assert bare.get("/api/v1/runbooks/drift").status_code == 422

    gone = state_with(configuration(f"http://127.0.0.1:{free_port()}"))
    page = gone.client.get("/runbooks/drift")
    assert page.status_code == 503
    assert "/api/v1/rules: connection refused" in page.text
    refused = gone.get("/api/v1/runbooks/drift")
    assert refused.status_code == 503 and "connection refused" in refused.json()["error"]["message"]


def test_what_a_prometheus_says_is_escaped_on_the_page(state_with: Any) -> None:
    hostile = '<script>alert("x")</script>'
    with fake_prometheus() as fake:
        fake.answer = Answer(
            body=answer_with(
                {"name": hostile, "query": f'up{{a="{hostile}"}} == 0', "labels": {}},
                {"name": "ShopDown", "query": "up == 0", "labels": {"severity": hostile}},
                group=hostile,
            )
        )
        page = state_with(configuration(fake.url)).client.get("/runbooks/drift").text
    assert hostile not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_an_alert_named_drift_keeps_its_runbook_page(state_with: Any, tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text(
        "# Odd names\n\n## Drift\n\n**Alert:** `drift`\n**Severity:** info\n\n"
        "### Investigation\n1. `uptime`\n"
    )
    api = state_with("route: {receiver: default}\nreceivers: [{name: default}]\n", tmp_path)
    assert 'href="/runbooks/drift?alert=1"' in api.client.get("/runbooks").text
    section = api.client.get("/runbooks/drift?alert=1")
    assert section.status_code == 200 and "uptime" in section.text


# --------------------------------------------------------------------------- against a server


def test_the_command_against_a_server_reads_its_configured_prometheus(
    site: Path, tmp_path: Path
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    token = tocsin("tokens", "create", "--role", "viewer", *data).stdout.strip().splitlines()[-1]
    server = Server.serving(site / "tocsin.yaml", token, tmp_path, data)
    server.start()
    try:
        remote = ["--url", server.url, "--token", token]
        code, out, err = run("runbooks", "drift", *remote, "--json")
        assert (code, err) == (1, "")
        assert findings(json.loads(out)) == EXPECTED
        code, out, err = run("runbooks", "drift", *remote, "--prometheus", "http://x:9090")
        assert code == 2 and out == ""
        assert "--prometheus works on this host's configuration only" in err
    finally:
        server.kill()
