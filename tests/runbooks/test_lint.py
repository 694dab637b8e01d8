from datetime import date
from textwrap import dedent

from tocsin.runbooks.lint import lint_alert, lint_catalog, lint_document
from tocsin.runbooks.model import Catalog, Problem
from tocsin.runbooks.parse import parse_runbook


def problems(text: str, today: date = date(2026, 11, 22), source: str = "rb.md") -> list[Problem]:
    runbook, found, doc = parse_runbook(dedent(text).lstrip("\n"), source)
    found = found + lint_document(doc, runbook)
    return found + lint_catalog(Catalog(runbooks=[runbook]), today)


def codes(found: list[Problem]) -> list[tuple[str, str | None]]:
    return sorted((p.code, p.alert) for p in found)


def test_placeholders_filled_by_labels_are_fine() -> None:
    found = problems(
        """
        ## Alerts
        ### QueueSlow
        **Severity:** warning
        **Threshold:** `sum by (queue) (rate(q_wait_seconds{team="x"}[5m])) > 1`
        #### Diagnosis
        ```bash
        kubectl -n {{ $labels.namespace }} logs <pod-name>
        worker-ctl inspect <queue> --team <team>
        redis-cli -a "$REDIS_PASSWORD" LLEN <key>
        ```
        """
    )
    assert codes(found) == [("unfillable-placeholder", "QueueSlow")]
    assert "<key>" in found[0].message


def test_duplicate_alert_missing_severity_and_no_actions() -> None:
    found = problems(
        """
        ## Alerts
        ### CacheDown
        #### Impact
        Slow pages.
        #### Fix
        - restart it
        ### CacheDown
        **Severity:** low
        #### Fix
        - nothing
        """
    )
    assert ("duplicate-alert", "CacheDown") in codes(found)
    assert ("missing-severity", "CacheDown") in codes(found)


def test_unknown_severity_word() -> None:
    found = problems(
        """
        ## Alerts
        ### DiskSlow
        **Severity:** Sev-Whatever
        #### Fix
        - `fstrim -a`
        """
    )
    assert ("unknown-severity", "DiskSlow") in codes(found)


def test_review_dates() -> None:
    text = """
        # Book
        **Last Updated:** 2026-09-01
        **Review Cycle:** Quarterly

        ## Alerts
        ### AppDown
        **Severity:** critical
        #### Fix
        - `systemctl restart app`
        """
    assert "review-overdue" not in [p.code for p in problems(text, date(2026, 11, 22))]
    late = [p for p in problems(text, date(2026, 12, 10)) if p.code == "review-overdue"]
    assert len(late) == 1 and "review was due 2026-12-02" in late[0].message
    undated = problems(text.replace("2026-09-01", "a while ago"))
    assert "review-undated" in [p.code for p in undated]


def test_broken_link_and_toc() -> None:
    found = problems(
        """
        # Book
        - [AppDown](#appdown)
        - [DbDown](#dbdown)
        - [Tips](#tips-and-tricks)
        ## AppDown
        **Severity:** critical
        ### Fix
        - `systemctl restart app`
        """
    )
    assert ("toc-undocumented", "DbDown") in codes(found)
    assert ("broken-link", None) in codes(found)
    assert not any(p.code == "broken-link" and "appdown" in p.message for p in found)


def test_destructive_command_warns_with_reason() -> None:
    runbook, _, _ = parse_runbook(
        "## Alerts\n### DiskFull\n**Severity:** high\n#### Fix\n```bash\n"
        "# careful\nfind /tmp -mtime +3 -delete\n```\n",
        "rb.md",
    )
    [problem] = [
        p for p in lint_alert(runbook, runbook.alerts[0]) if p.code == "destructive-command"
    ]
    assert problem.level == "warning" and problem.line == 5
    assert "find -delete" in problem.message and "find /tmp -mtime +3 -delete" in problem.message


def _no_alerts(text: str, source: str = "rb.md") -> str:
    found = [p for p in problems(text, source=source) if p.code == "no-alerts"]
    assert len(found) == 1 and found[0].level == "warning"
    return found[0].message


def test_no_alerts_names_the_headings_and_what_an_alert_name_looks_like() -> None:
    message = _no_alerts(
        """
        # Payments service
        ## Overview
        Things we run.
        ## Setup
        Install it.
        """,
        source="payments-notes.md",
    )
    assert "no heading, table row or 'Alert:' line names an alert" in message
    assert "'Overview', 'Setup'" in message and "HighErrorRate" in message
    # …and what a file for one alert would need, with how many such sections it has
    assert "'alert: Name' in its front matter" in message and "(it has 0)" in message


def test_no_alerts_says_which_name_came_close_and_what_it_lacked() -> None:
    message = _no_alerts(
        """
        # Queue notes
        ## QueueSlow
        Look at the queue.
        """
    )
    assert message.startswith("no alert found: QueueSlow looks like an alert's name")
    assert "no severity" in message and "Diagnosis" in message


def test_no_alerts_points_at_entries_headed_alert_that_name_no_rule() -> None:
    message = _no_alerts(
        """
        # Server foundation alerts
        ## ManagedCluster
        ### Alert 1: Cluster importing is not finished in 10 minutes (sev-1)
        Check the Klusterlet's conditions.
        """
    )
    assert "'Alert 1: Cluster importing is not finished" in message
    assert "names no rule" in message
    assert "ManagedCluster" not in message  # a group of alerts, not a near miss


def test_no_alerts_explains_a_table_of_names_without_severity() -> None:
    message = _no_alerts(
        """
        # Alerts
        | Alert | Description |
        |---|---|
        | DiskFull | the disk is full |
        """
    )
    assert "the table 'Alert | Description' has no Severity or action column" in message
    assert "table row" not in message


def test_no_alerts_quotes_an_alert_line_that_names_no_rule() -> None:
    message = _no_alerts(
        """
        ## Incidents

        Alert: Server down for too long
        Check it.
        """
    )
    assert "'Alert: Server down for too long' names no rule (Alert: ServerDown)" in message


def test_a_file_named_after_the_part_of_a_rule_name_after_its_colon_matches_it() -> None:
    text = "# component_saturation_slo_out_of_bounds:pgbouncer_single_core\n## Meaning\nx\n"
    text += "## Diagnosis\ny\n"
    assert not [
        p for p in problems(text, source="pgbouncer_single_core.md") if p.code == "name-mismatch"
    ]
    found = problems(text, source="pgbouncer_saturation.md")
    assert [p.code for p in found if p.code == "name-mismatch"] == ["name-mismatch"]
