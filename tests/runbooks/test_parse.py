"""The parser on runbook styles the seeds do not use: the rules must be general."""

from textwrap import dedent

from tocsin.runbooks.model import Runbook
from tocsin.runbooks.parse import parse_runbook
from tocsin.runbooks.parse.names import title_names
from tocsin.runbooks.parse.thresholds import is_promql_expression
from tocsin.runbooks.parse.vocabulary import phase_of


def parse(text: str, source: str = "rb.md") -> Runbook:
    runbook, _problems, _doc = parse_runbook(dedent(text).lstrip("\n"), source)
    return runbook


def test_setext_headings_numbered_with_parenthesis_and_comma_separated_names() -> None:
    rb = parse(
        """
        Payments runbook
        ================

        Payment alerts
        --------------

        ### 1) PaymentsDown, PaymentsDegraded

        Priority: Sev-2

        #### Triage

        * Look at the dashboard
        * Run the check:

              ./check.sh --all

        #### Fix

        1. `kubectl -n payments rollout restart deploy/api`
        """
    )
    assert [a.name for a in rb.alerts] == ["PaymentsDown", "PaymentsDegraded"]
    alert = rb.alerts[0]
    assert alert.severity == "high" and alert.severity_raw == "Sev-2"
    assert alert.shares_section_with == ["PaymentsDegraded"]
    assert [s.phase for s in alert.steps] == ["diagnose", "diagnose", "remediate"]
    indented = alert.steps[1].commands[0]
    assert indented.code.strip() == "./check.sh --all" and indented.risk == "change"
    inline = alert.steps[2].commands[0]
    assert inline.inline and inline.risk == "change" and inline.language == "bash"


def test_alert_name_from_field_when_heading_is_prose() -> None:
    rb = parse(
        """
        ## Queue is stuck

        Alert: QueueStuck
        **Summary**: fires when `queue_depth > 100` for 5m
        **Severity**: critical

        ### Steps
        1. Check consumers: `kubectl get pods -l app=consumer`
        """
    )
    [alert] = rb.alerts
    assert alert.name == "QueueStuck" and alert.title == "Queue is stuck"
    assert alert.summary and "fires when" in alert.summary
    assert alert.severity == "critical"
    assert alert.steps[0].phase == "diagnose"  # generic "Steps": phase from the item title


def test_threshold_expression_and_for() -> None:
    rb = parse(
        """
        ## Alerts

        ### NodeDiskFull

        - **Severity**: warning

        **Threshold:** `node_filesystem_avail_bytes{mountpoint="/"} < 1e9` for 10m
        **Impact**: writes fail

        ### ErrorBudgetBurn

        **Severity:** high
        **Threshold:** error rate above 2% for 1 hour
        """
    )
    disk, budget = rb.alerts
    assert disk.expr == 'node_filesystem_avail_bytes{mountpoint="/"} < 1e9'
    assert disk.for_s == 600
    assert disk.impact == "writes fail"
    assert budget.expr is None and budget.for_s == 3600


def test_yaml_rule_in_section_gives_expression() -> None:
    rb = parse(
        """
        # KafkaLagHigh

        ## Meaning

        Consumers fall behind.

        ```yaml
        - alert: KafkaLagHigh
          expr: sum by (group) (kafka_consumergroup_lag) > 1000
          for: 15m
        ```

        ## Mitigation

        Add consumers.
        """
    )
    [alert] = rb.alerts
    assert alert.expr == "sum by (group) (kafka_consumergroup_lag) > 1000"
    assert alert.for_s == 900
    assert alert.meaning and "fall behind" in alert.meaning
    assert alert.commands() == []  # the rule is reference, not a command to run


def test_one_alert_per_file_named_from_front_matter_or_file() -> None:
    text = """
        ---
        title: Disk Pressure
        severity: warning
        ---
        # Disk pressure on a node

        ## Meaning
        The kubelet reports DiskPressure.

        ## Diagnosis
        - `kubectl describe node $NODE`

        ## Mitigation
        - Clean images
        """
    rb = parse(text, "runbooks/NodeDiskPressure.md")
    [alert] = rb.alerts
    assert alert.name == "NodeDiskPressure" and alert.severity == "warning"
    assert rb.title == "Disk Pressure"
    assert alert.steps[0].commands[0].placeholders == ["$NODE"]


def test_non_alert_sections_are_not_alerts() -> None:
    rb = parse(
        """
        # Ops handbook

        ## Useful Commands

        ### Docker Commands
        ```bash
        docker ps
        ```

        ### PostgreSQL
        ```bash
        psql -c 'SELECT 1'
        ```

        ## Severity Levels

        ### Critical
        - **Response Time**: 10 minutes
        - **Impact**: Customers affected

        ### Info
        - **Response Time**: Best effort
        """
    )
    assert rb.alerts == []
    assert [(lv.name, lv.level, lv.response_time_s) for lv in rb.severity_levels] == [
        ("Critical", "critical", 600),
        ("Info", "info", None),
    ]


def test_severity_variants_and_templates() -> None:
    rb = parse(
        """
        # LatencySLOBurn

        ## Meaning
        Latency SLO burns.

        ## Critical
        Page now: the budget is gone in hours.

        ## Warning
        Look during working hours.

        ## Communication Template
        ```
        [INCIDENT] Latency SLO burning
        Status: Investigating
        ```
        """
    )
    [alert] = rb.alerts
    assert [v.severity for v in alert.severity_variants] == ["critical", "warning"]
    assert [t.name for t in rb.templates] == ["LatencySLOBurn: Communication Template"]
    assert rb.templates[0].alert == "LatencySLOBurn"
    assert alert.commands() == []  # a template is not a command


def test_escalation_table_and_list() -> None:
    rb = parse(
        """
        # Runbook

        ## Escalation

        | After | Who | How |
        |-------|-----|-----|
        | 0 min | Primary on-call | Page |
        | 10 min | Secondary on-call | Page |
        | 1 hour | Engineering manager | Phone |

        ## ServiceDown

        **Severity:** critical

        ### Escalation Path
        1. **0-10 min**: On-call engineer investigates
        2. **10+ min**: Escalate to database team
        """
    )
    assert [(t.after_s, t.target) for t in rb.escalation] == [
        (0, "Primary on-call"),
        (600, "Secondary on-call"),
        (3600, "Engineering manager"),
    ]
    [alert] = rb.alerts
    assert [(t.after_s, t.target) for t in alert.escalation] == [
        (0, "On-call engineer"),
        (600, "database team"),
    ]
    assert alert.phase_counts()["escalate"] == 2


def test_channels_and_contacts() -> None:
    rb = parse(
        """
        # Runbook

        ## Contacts
        - **Database team**: Slack `#db-oncall`, db@example.com, +1-555-0100
        - Slack `#alerts-critical` for critical alerts only
        """
    )
    kinds = {(c.kind, c.name) for c in rb.channels}
    assert ("slack", "#db-oncall") in kinds and ("email", "db@example.com") in kinds
    critical = next(c for c in rb.channels if c.name == "#alerts-critical")
    assert critical.severity == "critical"
    assert ("Database team", "phone", "+1-555-0100") in {
        (c.name, c.kind, c.value) for c in rb.contacts
    }


def test_title_names() -> None:
    assert title_names("1. APIUnresponsive") == (["APIUnresponsive"], None)
    assert title_names("TestWatcherDown (Critical)") == (["TestWatcherDown"], "Critical")
    assert title_names("HighAPILatency / CriticalAPILatency")[0] == [
        "HighAPILatency",
        "CriticalAPILatency",
    ]
    assert title_names("Server Down") == ([], None)


def test_phase_of() -> None:
    assert phase_of("Immediate Actions (First 5 minutes)") == "diagnose"
    assert phase_of("Detailed Troubleshooting") == "diagnose"
    assert phase_of("Resolution Steps") == "remediate"
    assert phase_of("Mitigation") == "remediate"
    assert phase_of("Verify recovery") == "verify"
    assert phase_of("Prevention") == "prevent"
    assert phase_of("Escalation Path") == "escalate"
    assert phase_of("Response Steps") is None
    assert phase_of("If restart doesn't help") is None


def test_is_promql_expression() -> None:
    assert is_promql_expression('up{job="backend"} == 0')
    assert is_promql_expression("celery_workers_total == 0")
    assert is_promql_expression("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) > 1")
    assert not is_promql_expression("95th percentile > 1 second")
    assert not is_promql_expression("> 5% error rate")
    assert not is_promql_expression("No successful backup in 24 hours")
    assert not is_promql_expression("error rate above 2")
