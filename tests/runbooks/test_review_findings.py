"""Findings of a code review of the catalog, kept as regression tests."""

from __future__ import annotations

import time
from pathlib import Path
from textwrap import dedent

import pytest

from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.model import Runbook
from tocsin.runbooks.parse import parse_runbook
from tocsin.runbooks.parse.vocabulary import phase_of
from tocsin.runbooks.risk import classify
from tocsin.runbooks.text import normalize_severity


def parse(text: str) -> Runbook:
    return parse_runbook(dedent(text).lstrip("\n"), "rb.md")[0]


def test_commands_in_quotes_tables_and_severity_sections_are_kept() -> None:
    rb = parse(
        """
        ## Alerts
        ### CacheFull
        **Severity:** high
        #### Remediation
        > ```bash
        > kubectl delete pvc cache-0
        > ```

        | Step | Command |
        |------|---------|
        | Drop cache | `redis-cli FLUSHALL` |
        #### Critical
        ```bash
        kubectl delete pod cache-0 --force
        ```
        """
    )
    [alert] = rb.alerts
    assert [c.risk for c in alert.commands()] == ["destructive"] * 3
    assert [v.severity for v in alert.severity_variants] == ["critical"]


def test_a_fence_mixing_commands_and_a_rule_is_a_command() -> None:
    rb = parse(
        """
        ## RuleBroken
        **Severity:** warning
        ### Fix
        ```
        kubectl delete prometheusrule old-rules
        cat <<EOF | kubectl apply -f -
        - alert: RuleBroken
          expr: up == 0
        EOF
        ```
        """
    )
    assert [c.risk for c in rb.alerts[0].commands()] == ["destructive"]


def test_camel_case_h1_holding_alerts_is_a_container() -> None:
    rb = parse(
        """
        # PaymentService
        ## HighErrorRate
        - **Severity**: critical
        ### Diagnosis
        - `kubectl logs deploy/pay`
        ## HighLatency
        **Severity:** warning
        ### Diagnosis
        - Check the dashboard
        """
    )
    assert [(a.name, a.severity) for a in rb.alerts] == [
        ("HighErrorRate", "critical"),
        ("HighLatency", "warning"),
    ]
    assert [s.title for s in rb.alerts[0].steps] == ["kubectl logs deploy/pay"]


def test_headings_with_a_description_after_the_name() -> None:
    rb = parse(
        """
        ## HighCPUUsage - CPU above 90%
        **Severity:** warning
        ### Fix
        - scale out
        ## KubePodCrashLooping (kube-state-metrics)
        **Severity:** warning
        ### Fix
        - restart
        """
    )
    assert [a.name for a in rb.alerts] == ["HighCPUUsage", "KubePodCrashLooping"]


@pytest.mark.parametrize(
    ("title", "phase"),
    [
        ("Identify blocking queries", "diagnose"),
        ("Check if autoscaling is enabled", "diagnose"),
        ("When to Escalate", "escalate"),
        ("Restart the pods", "remediate"),
    ],
)
def test_first_keyword_decides_the_phase(title: str, phase: str) -> None:
    assert phase_of(title) == phase


def test_negated_severities() -> None:
    assert normalize_severity("Non-critical (informational)") == "info"
    assert normalize_severity("No page, ticket only") == "warning"


def test_toc_link_to_an_existing_heading_is_not_an_undocumented_alert(tmp_path: Path) -> None:
    (tmp_path / "rb.md").write_text("# Book\n- [PostgreSQL](#postgresql)\n## PostgreSQL\ntext\n")
    catalog = load_catalog([tmp_path])
    assert not [p for p in catalog.problems if p.code == "toc-undocumented"]


def test_expressions_without_comparison_and_compound_for() -> None:
    rb = parse(
        """
        ## ApiAbsent
        **Severity:** critical
        **Threshold:** `absent(up{job="api"})` for 5m
        ## LoadHigh
        **Severity:** warning
        **Threshold:** node_load1 > 10 for 1h30m
        """
    )
    assert [(a.expr, a.for_s) for a in rb.alerts] == [
        ('absent(up{job="api"})', 300),
        ("node_load1 > 10", 5400),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "---\nlast_updated: 2024-02-30\n---\n# X\n",
        "## A\n**Severity:** high\n```yaml\n- alert: A\n  expr: up == 0\n  for: 2024-02-30\n```\n",
        "---\na: " + "[" * 3000 + "\n---\n# X\n",
        "---\na: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\ntitle: *e\n---\n# X\n",
    ],
    ids=["bad-date", "bad-date-in-rule", "deep-yaml", "alias-bomb"],
)
def test_bad_yaml_never_stops_the_catalog(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.md").write_text(text)
    (tmp_path / "good.md").write_text("## DiskFull\n**Severity:** high\n### Fix\n- `df -h`\n")
    started = time.monotonic()
    catalog = load_catalog([tmp_path])
    assert time.monotonic() - started < 30
    assert "DiskFull" in [a.name for _rb, a in catalog.alerts()]


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("```bash\n" + "{{" * 20000 + "\n```\n", "go templates"),
        ("## " + "(" * 90000 + "\n", "heading"),
        ("## A\n**Severity:** high\n### Escalation\n- " + "1" * 30000 + "\n", "digits"),
        ("```powershell\n" + "<#" * 45000 + "\n```\n", "ps comments"),
        ("```sql\n" + "/* " * 20000 + "\n```\n", "sql comments"),
        ("```bash\n" + "kubectl " * 10000 + "\n```\n", "long line"),
        ("a." * 45000 + "\n", "emails"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_slow_inputs_stay_fast(text: str, what: str) -> None:
    started = time.monotonic()
    parse_runbook(text, "slow.md")
    assert time.monotonic() - started < 10, what


def test_too_convoluted_commands_are_destructive() -> None:
    assert classify("echo " + "$(" * 2000, "bash").risk == "destructive"
    assert classify("kubectl " * 10000, "bash").risk == "destructive"
