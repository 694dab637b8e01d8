"""Runbooks in six styles the seeds do not use (tests/runbooks/styles/): alerts as table rows,
heading-less ``Alert:`` entries between rules, setext headings with numbered sections and
lettered steps, PowerShell with bold-only severity lines, front-matter alert lists with plain
``Priority:`` lines and console prompts, and GitLab-style backticked headings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.model import Alert, Catalog

STYLES = Path(__file__).parent / "styles"

EXPECTED = {
    "table_driven.md": {
        "PaymentsAPIDown": "critical",
        "PaymentsHighLatencyP99": "high",
        "StripeWebhookBacklog": "high",
        "LedgerReconciliationFailed": "critical",
        "RedisIdempotencyKeysHigh": "warning",
        "CertExpirySoon": "info",
    },
    "sre_playbook.md": {
        "CheckoutFrontendAvailabilityBurnRateFast": "critical",
        "CheckoutFrontendAvailabilityBurnRateSlow": "warning",
        "CheckoutFrontendLatencyHigh": "critical",
        "CheckoutFrontendCanaryFailing": "warning",
    },
    "setext_numbered.md": {
        "CephHealthError": "critical",
        "CephMonQuorumAtRisk": "high",
        "CephOSDDown": "high",
        "CephPoolNearFull": "warning",
        "CephOSDNearFull": "warning",
    },
    "windows_iis.md": {
        "IIS_AppPoolStopped": "high",
        "WIN_DiskFreeLow_C": "warning",
        "WIN_CertExpiring": "warning",
    },
    "k8s_frontmatter.md": {
        "OrdersPodCrashLooping": "high",
        "OrdersDBConnectionsSaturated": "critical",
        "OrdersKafkaConsumerLag": "warning",
    },
    "gitlab_patroni.md": {
        "PatroniIsDown": "critical",
        "PostgreSQL_ReplicationLagTooLarge": "high",
        "PostgreSQL_XIDConsumptionTooHigh": "high",
        "PostgreSQL_XIDWraparound": "high",
        "PgbouncerSaturation": "warning",
    },
}


def _load(name: str) -> tuple[Catalog, dict[str, Alert]]:
    catalog = load_catalog([STYLES / name])
    return catalog, {a.name: a for _rb, a in catalog.alerts()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_names_and_severities(name: str) -> None:
    catalog, alerts = _load(name)
    assert {n: a.severity for n, a in alerts.items()} == EXPECTED[name]
    assert not [
        p
        for p in catalog.problems
        if p.code in ("missing-severity", "unknown-severity", "name-mismatch", "no-alerts")
    ]


def _risks(alert: Alert) -> dict[str, str]:
    return {c.code.strip().splitlines()[-1][:40]: c.risk for c in alert.commands()}


def test_table_rows_with_linked_procedure_and_thresholds() -> None:
    _, alerts = _load("table_driven.md")
    api = alerts["PaymentsAPIDown"]
    assert (api.expr, api.for_s) == ('up{job="payments-api"} == 0', 120)
    assert [c.risk for c in api.commands()] == ["read", "change"]
    assert [c.risk for c in alerts["RedisIdempotencyKeysHigh"].commands()] == ["destructive"]
    ledger = alerts["LedgerReconciliationFailed"]  # the row links to "### Ledger reconciliation"
    assert [c.risk for c in ledger.commands()] == ["read", "destructive", "change", "read"]


def test_headingless_entries_split_with_their_own_steps() -> None:
    _, alerts = _load("sre_playbook.md")
    fast = alerts["CheckoutFrontendAvailabilityBurnRateFast"]
    assert fast.expr and fast.expr.startswith("( sum(rate(http_requests_total")
    assert fast.phase_counts()["escalate"] == 1
    assert len(alerts["CheckoutFrontendAvailabilityBurnRateSlow"].steps) == 2
    latency = alerts["CheckoutFrontendLatencyHigh"]
    assert latency.commands()[-1].risk == "destructive"  # curl -X DELETE, fenced at column 0
    assert latency.steps[-1].commands  # …attached to step 4, not a step of its own


def test_setext_lettered_steps_and_numbered_severities() -> None:
    catalog, alerts = _load("setext_numbered.md")
    health = alerts["CephHealthError"]
    assert (health.expr, health.for_s) == ("ceph_health_status == 2", 300)
    assert health.commands()[0].risk == "read"  # ceph status / ceph health detail
    assert [lv.level for lv in catalog.runbooks[0].severity_levels] == [
        "critical",
        "high",
        "warning",
    ]
    osd = alerts["CephOSDDown"]
    assert "destructive" in [c.risk for c in osd.commands()]  # ceph osd purge …


def test_powershell_runbook() -> None:
    _, alerts = _load("windows_iis.md")
    disk = alerts["WIN_DiskFreeLow_C"]
    assert (
        disk.expr and disk.expr.startswith("windows_logical_disk_free_bytes") and disk.for_s == 900
    )
    cert = alerts["WIN_CertExpiring"]
    assert "change" in [c.risk for c in cert.commands()]  # Import-PfxCertificate is not read


def test_console_prompts_and_front_matter() -> None:
    catalog, alerts = _load("k8s_frontmatter.md")
    db = alerts["OrdersDBConnectionsSaturated"]
    assert db.for_s == 300 and db.expr
    sql = next(c for c in db.commands() if "pg_stat_activity" in c.code)
    assert "=>" not in sql.code and sql.risk == "read"
    lag = alerts["OrdersKafkaConsumerLag"]
    assert [c.risk for c in lag.commands()] == ["read", "change", "destructive"]
    assert catalog.runbooks[0].metadata.review_cycle_days


def test_gitlab_style() -> None:
    catalog, alerts = _load("gitlab_patroni.md")
    lag = alerts["PostgreSQL_ReplicationLagTooLarge"]
    assert (lag.expr, lag.for_s) == ('pg_replication_lag{env="gprd"} > 300', 600)
    assert alerts["PostgreSQL_XIDWraparound"].shares_section_with == [
        "PostgreSQL_XIDConsumptionTooHigh"
    ]
    patroni = alerts["PatroniIsDown"]
    assert [c.risk for c in patroni.commands()][-1] == "destructive"  # reinit --force
    assert not [p for p in catalog.problems if p.code == "broken-link"]
