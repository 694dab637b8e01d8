"""The parser on runbook styles the seeds do not use: the rules must be general."""

from textwrap import dedent

from tocsin.runbooks.model import Runbook
from tocsin.runbooks.parse import parse_runbook
from tocsin.runbooks.parse.names import HeadingNames, heading_names, title_names
from tocsin.runbooks.parse.thresholds import is_promql_expression
from tocsin.runbooks.parse.vocabulary import phase_of
from tocsin.runbooks.text import severity_statement


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
    # the heading says it names an alert; the name may be quoted
    assert heading_names('Alert Name: "KubeAPIDown"') == HeadingNames(["KubeAPIDown"], None, True)
    assert heading_names("Title: SidekiqQueueTooLarge").names == ["SidekiqQueueTooLarge"]
    assert heading_names("Group Name: kubernetes-apps").names == []
    # a heading that is one code span may hold punctuation; words still are not names
    assert heading_names("TiKV_space_used_more_than_80%", code_only=True).names == [
        "TiKV_space_used_more_than_80%"
    ]
    assert heading_names("TiKV_space_used_more_than_80%").names == []
    assert heading_names("kubectl get pods", code_only=True).names == []
    # a severity or a mark before the name, a short label before it, "alert" after it
    assert heading_names("[P1] DatabaseDown") == HeadingNames(["DatabaseDown"], "P1", False)
    assert heading_names("Critical: DiskFull").severity == "Critical"
    assert heading_names("🔴 DatabaseDown").names == ["DatabaseDown"]
    assert heading_names("Alert Name VaultIsSealed").names == ["VaultIsSealed"]
    assert heading_names("Aler Name: ConcourseEndpointDown").names == ["ConcourseEndpointDown"]
    assert heading_names("The HighCPUUsage alert").names == ["HighCPUUsage"]
    assert heading_names("HighCPU: CPU above 90%").names == ["HighCPU"]
    # …but a severity word before plain words names nothing
    assert heading_names("High Memory") == HeadingNames([], None, False)
    assert heading_names("Critical Alerts").names == []


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


def _severities(rb: Runbook) -> dict[str, str | None]:
    return {a.name: a.severity for a in rb.alerts}


def test_severity_from_a_heading_over_a_group_of_alerts() -> None:
    rb = parse(
        """
        # Cluster alert rules
        ## TiDB
        ### Emergency-level alerts
        #### `TiDB_schema_error`
        * Alert rule: `increase(tidb_session_schema_lease_error_total[15m]) > 0`
        * Solution: check TiKV.
        ### Warning-level alerts
        #### `TiDB_memory_abnormal`
        * Alert rule: `go_memstats_heap_inuse_bytes > 1e+10`
        #### `NODE_disk_used_more_than_80%`
        * Alert rule: `node_filesystem_avail_bytes < 0.2`
        """
    )
    assert _severities(rb) == {
        "TiDB_schema_error": "critical",
        "TiDB_memory_abnormal": "warning",
        "NODE_disk_used_more_than_80%": "warning",
    }


def test_severity_written_in_a_severity_section_or_inside_impact() -> None:
    rb = parse(
        """
        # GitalyFileServerDown
        ## Overview
        It's considered a high-severity issue.
        ## Severities
        - This alert might create S1 incidents.
        ## Troubleshooting
        - Look at the logs.
        """
    )
    assert (rb.alerts[0].severity, rb.alerts[0].severity_raw) == ("critical", "S1")
    walg = parse(
        "# WalgBackupDelayed\n## Meaning\nx\n## Severities\n- a ~severity::4.\n## Fix\ny\n"
    )
    assert walg.alerts[0].severity == "info"
    odf = parse(
        """
        # CephOSDDiskUnavailable
        ## Meaning
        A disk is gone.
        ## Impact
        **Severity:** Error
        **Potential Customer Impact:** High
        ## Mitigation
        Replace it.
        """
    )
    assert odf.alerts[0].severity == "high"


def test_severity_stated_in_the_alerts_own_words() -> None:
    rb = parse(
        """
        # NetObservNoFlows
        ## Meaning
        It is a single critical alert that indicates a complete failure.
        ## Diagnosis
        Check the pods.
        """
    )
    assert rb.alerts[0].severity == "critical"
    quiet = parse(
        """
        # QueueStalled
        ## Meaning
        A critical failure of the consumers; nothing is processed. Not a critical alert by
        itself.
        ## Diagnosis
        Check the pods.
        """
    )
    assert quiet.alerts[0].severity is None
    assert severity_statement("This alert is considered critical.") == "critical"
    assert severity_statement("The alert is warning you that the disk fills") is None
    assert severity_statement("Objects are stored in an S3 bucket.") is None


def test_alerts_as_bold_lines_with_their_severity() -> None:
    rb = parse(
        """
        # Queue alerts
        ## Alerts
        **QueueBacklogHigh** — warning

        Consumers are slow.

        1. Scale them: `kubectl -n q scale deployment/consumer --replicas=6`

        **QueueConsumerDown** — critical

        Nothing is processed.
        ## Background
        A cluster.
        """
    )
    assert _severities(rb) == {"QueueBacklogHigh": "warning", "QueueConsumerDown": "critical"}
    assert [c.risk for c in rb.alerts[0].commands()] == ["change"]


def test_severity_in_a_small_table_under_the_heading() -> None:
    rb = parse(
        """
        # Cache runbook
        ## Alert: `RedisEvictionsHigh`
        | Severity | Team |
        |---|---|
        | warning | platform |

        Keys are evicted.
        """
    )
    assert _severities(rb) == {"RedisEvictionsHigh": "warning"}


def test_a_file_for_one_alert_named_by_its_opening_lines_or_front_matter() -> None:
    rb = parse(
        """
        # Disk almost full on a database host

        This page is for the `PostgresDiskAlmostFull` alert. It pages as P2.

        ## Make room
        Grow the volume.
        """,
        source="disk-full.md",
    )
    assert _severities(rb) == {"PostgresDiskAlmostFull": "high"}
    declared = parse(
        "---\nalertname: NightlyBackupMissed\nseverity: critical\n---\n"
        "# The nightly backup did not run\n## What to do\nRun it again.\n",
        source="nightly-backup.md",
    )
    assert _severities(declared) == {"NightlyBackupMissed": "critical"}
    # a mention that is not next to the word alert names nothing
    assert parse("# Notes\n\nRun `kubectl get pods` first.\n", source="notes-x.md").alerts == []


def test_table_rows_named_in_words_under_an_alert_name_column() -> None:
    rb = parse(
        """
        ## Blackbox Alerts
        | Alert Name | Summary | Severity |
        | :--- | :--- | :--- |
        | **Service Down** | Probe failed | critical |
        | **MysqlTooManyConnections(>80%)** | Too many | warning |
        | Probe failed for a long time. | x | warning |

        ## Contacts
        | Name | Role | Priority |
        |---|---|---|
        | Jane Doe | DBA | high |
        """
    )
    assert _severities(rb) == {
        "Service Down": "critical",
        "MysqlTooManyConnections(>80%)": "warning",
    }


def test_a_heading_over_entries_headed_alert_is_a_group_not_an_alert() -> None:
    rb = parse(
        """
        # Server foundation alerts
        ## ManagedCluster
        ### Alert 1: Cluster importing is not finished in 10 minutes (sev-1)
        Check the conditions.
        """
    )
    assert rb.alerts == []


def test_an_alert_heading_repeated_inside_its_section_is_not_a_container() -> None:
    rb = parse(
        """
        # walgBaseBackupDelayed, WALGBaseBackupFailed
        ## Overview
        Backups are late or failed.
        ## Metrics
        ### walgBaseBackupDelayed
        - older than 30 hours
        ### WALGBaseBackupFailed
        - the last one failed
        ## Troubleshooting
        - Check the log.
        """
    )
    assert [a.name for a in rb.alerts] == ["walgBaseBackupDelayed", "WALGBaseBackupFailed"]


def test_alerts_as_list_items_each_opening_with_an_alert_field() -> None:
    rb = parse(
        """
        # API alerts
        ## Alerts
        - **Alert:** `ApiLatencyHigh`
          - **Severity:** warning
          - **Action:** check the dashboard, then `kubectl -n api get pods`
        - **Alert:** `ApiDown`
          - **Severity:** critical
        - Both page the API team.
        """
    )
    assert _severities(rb) == {"ApiLatencyHigh": "warning", "ApiDown": "critical"}
    assert [c.code for c in rb.alerts[0].commands()] == ["kubectl -n api get pods"]


def test_a_file_for_one_alert_without_an_h1_is_named_by_its_front_matter_title() -> None:
    rb = parse(
        "---\ntitle: KubeletDown\nseverity: critical\n---\n\n## Meaning\nThe kubelet is down.\n"
        "\n## Diagnosis\n`kubectl get nodes`\n\n## Mitigation\nRestart it.\n",
        source="kubelet-down.md",
    )
    assert _severities(rb) == {"KubeletDown": "critical"}


def test_severity_from_the_rule_shown_or_the_labels_in_code() -> None:
    rb = parse(
        """
        ## Alerts
        ### DiskFull / DiskFilling
        #### Meaning
        The disk fills.
        ```yaml
        - alert: DiskFull
          expr: node_filesystem_avail_bytes == 0
          labels:
            severity: critical
        - alert: DiskFilling
          expr: predict_linear(node_filesystem_avail_bytes[6h], 4*3600) < 0
          labels:
            severity: warning
        ```
        #### Diagnosis
        `df -h`
        """
    )
    assert _severities(rb) == {"DiskFull": "critical", "DiskFilling": "warning"}
    labels = parse(
        """
        # VirtHandlerDown
        ## Meaning
        The alert has the following labels:

            severity=warning

        ## Diagnosis
        Look at the pods.
        """
    )
    assert _severities(labels) == {"VirtHandlerDown": "warning"}
