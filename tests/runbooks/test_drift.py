"""Drift (``runbooks/drift.py``): the catalog beside the rules Prometheus loaded, without a
network: the constants of PromQL, the numbers of a threshold in words, the five kinds of
finding, and the answer of ``/api/v1/rules``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.errors import Invalid
from tocsin.oncall.severity import Level
from tocsin.runbooks.drift import (
    CODES,
    KINDS,
    Bound,
    Finding,
    LiveRule,
    agree,
    bounds,
    compare,
    counts,
    number_text,
    problems,
    rules_from_api,
    stated,
)
from tocsin.runbooks.export import prometheus_rules
from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.model import Alert, Catalog, Runbook, SeverityVariant
from tocsin.times import parse_duration

# --------------------------------------------------------------------------- PromQL


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up == 0", ["== 0"]),
        ('up{job="api"} == 0', ["== 0"]),
        (
            'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
            " > 0.05",
            ["> 0.05"],
        ),
        ("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 0.5", ["> 0.5"]),
        ("node_filesystem_avail_bytes < 10 * 1024 ^ 3", ["< 10737418240"]),
        ("x >= 90 and y <= 1e3", [">= 90", "<= 1000"]),
        ("0.9 < up", ["> 0.9"]),  # a constant on the left is turned round
        ("-1 >= x", ["<= -1"]),
        ("x > bool 5", ["> 5"]),
        ("(x > (5 + 3))", ["> 8"]),
        ("time() - cert_expiry > 86400 * 7", ["> 604800"]),
        ("x != 1", ["!= 1"]),
        ("x > 0x10", ["> 16"]),
        ("x > y", []),  # two vectors: no constant
        ("x > on(instance) y", []),
        ("x > 2 * y", []),  # not a constant: 2 * y
        ("x offset 5m > 3", ["> 3"]),  # the offset's 5m is no threshold
        ('up{code="> 5", le="0.5"} == 1', ["== 1"]),  # label values are no threshold
        ("absent(up)", []),
        ("x > 1 / 0", []),
        ("rate(x[5m:1m]) > 2 # a comment > 7", ["> 2"]),
    ],
)
def test_the_constants_a_rule_compares_with(expr: str, expected: list[str]) -> None:
    assert [str(b) for b in bounds(expr)] == expected


@given(
    st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda v: v != 0),
)
def test_any_constant_written_as_prometheus_writes_it_is_read_back(op: str, value: float) -> None:
    found = bounds(f'sum(rate(x{{a="b"}}[5m])) {op} {number_text(value)}')
    assert len(found) == 1 and found[0].op == op
    assert math.isclose(found[0].value, value, rel_tol=1e-12)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_no_text_makes_the_readers_raise(text: str) -> None:
    bounds(text)
    stated(Alert(name="A", title="A", line=1, threshold=text))
    stated(Alert(name="A", title="A", line=1, expr=text))


# --------------------------------------------------------------------------- the runbook's words


def _said(threshold: str) -> list[tuple[str, str | None, tuple[float, ...]]]:
    alert = Alert(name="A", title="A", line=1, threshold=threshold)
    return [(s.text, s.direction, s.values) for s in stated(alert)]


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        ("> 5% error rate for 5 minutes", [("> 5%", "above", (5.0, 0.05))]),
        ("< 15% free space for 5 minutes", [("< 15%", "below", (15.0, 0.15))]),
        ("95th percentile > 1 second for 10 minutes", [("> 1 second", "above", (1.0, 1000.0))]),
        ("p99 latency above 500ms", [("above 500ms", "above", (0.5, 500.0))]),
        ("> 10 attempts/second for 5 minutes", [("> 10", "above", (10.0,))]),
        ("cpu>90%", [(">90%", "above", (90.0, 0.9))]),
        ("exceeds 2.5 percent", [("exceeds 2.5 percent", "above", (2.5, 0.025))]),
        ("at least 5% of requests failed in the past 10", [("at least 5%", "above", (5, 0.05))]),
        (
            "queue greater than or equal to 1,000",
            [("greater than or equal to 1,000", "above", (1e3,))],
        ),
        ("HTTP 500 errors over 1%", [("over 1%", "above", (1.0, 0.01))]),  # 500 is no threshold
        ("5xx rate > 2%", [("> 2%", "above", (2.0, 0.02))]),
        ("error rate over 5m > 5%", [("> 5%", "above", (5.0, 0.05))]),  # over 5m: the window
        ("replication lag over 5 minutes", [("over 5 minutes", "above", (300.0, 5.0))]),
        ("free disk below 10 GB", [("below 10 GB", "below", (1e10, 10 * 1024**3, 10.0))]),
        ("memory above 2GiB", [("above 2GiB", "above", (2 * 1024**3, 2.0))]),
        ("Alert at 85%, critical at 95%", [("85%", None, (85, 0.85)), ("95%", None, (95, 0.95))]),
        ("No successful backup in 24 hours", []),  # a window, no threshold
        ("the instance is down", []),
        ("", []),
    ],
)
def test_the_numbers_a_threshold_in_words_states(
    threshold: str, expected: list[tuple[str, str | None, tuple[float, ...]]]
) -> None:
    found = _said(threshold)
    assert [(t, d) for t, d, _ in found] == [(t, d) for t, d, _ in expected]
    for (_, _, values), (_, _, wanted) in zip(found, expected, strict=True):
        assert len(values) == len(wanted)
        assert all(math.isclose(a, b) for a, b in zip(values, wanted, strict=True))


def test_the_runbooks_own_promql_is_read_exactly() -> None:
    said = stated(Alert(name="A", title="A", line=1, expr="x > 0.05", threshold="x > 0.05"))
    assert [(s.text, s.values) for s in said] == [("> 0.05", (0.05,))]
    # a threshold shared by two alerts keeps no expr; its code span is still PromQL
    shared = Alert(
        name="A", title="A", line=1, threshold="`histogram_quantile(0.95, x) > 1` for 10m"
    )
    assert [(s.text, s.values) for s in stated(shared)] == [("> 1", (1.0,))]


@pytest.mark.parametrize(
    ("threshold", "expr", "agrees"),
    [
        ("> 5%", "x > 0.05", True),
        ("> 5%", "x * 100 > 5", True),
        ("> 5%", "x > 0.1", False),
        ("> 90%", "x > 0.9", True),
        ("> 90%", "x > 90", True),
        ("> 90%", "x > 0.8", False),
        ("above 500ms", "x > 0.5", True),
        ("above 500ms", "x > 500", True),
        ("above 500ms", "x > 1", False),
        ("< 15% free", "free / size < 0.15", True),
        ("< 15% free", "used / size > 0.85", True),  # the same said the other way round
        ("< 15% free", "used / size > 0.9", False),
        ("Alert at 85%, critical at 95%", "x > 0.95", True),
        ("Alert at 85%, critical at 95%", "free < 0.15", True),
        ("Alert at 85%, critical at 95%", "x > 0.5", False),
        ("> 10 attempts/second", "rate(x[1m]) > 10", True),
        ("> 10 attempts/second", "rate(x[1m]) > 20", False),
        ("> 10 attempts/second", "rate(x[1m]) < 3", True),  # no shared direction: not compared
        ("the instance is down", "up == 0", True),  # no number in the runbook
        ("> 5%", "absent(up)", True),  # no constant in the rule
        ("== 0", "up < 1", True),
    ],
)
def test_a_threshold_agrees_with_a_rule(threshold: str, expr: str, agrees: bool) -> None:
    said = stated(Alert(name="A", title="A", line=1, threshold=threshold))
    assert agree(said, bounds(expr)) is agrees


@given(
    st.sampled_from([">", "<"]),
    st.integers(min_value=1, max_value=99),
    st.integers(min_value=1, max_value=99),
)
def test_a_percentage_agrees_with_its_fraction_and_no_other(
    op: str, percent: int, other: int
) -> None:
    said = stated(Alert(name="A", title="A", line=1, threshold=f"{op} {percent}%"))
    assert agree(said, [Bound(op, percent / 100)])
    assert agree(said, [Bound(op, float(percent))])
    if other != percent:
        assert not agree(said, [Bound(op, other / 100)])


# --------------------------------------------------------------------------- the comparison


def _catalog(*alerts: Alert, source: str = "runbooks/web.md") -> Catalog:
    return Catalog(runbooks=[Runbook(source=source, title="Web", alerts=list(alerts))])


def _rule(name: str, expr: str = "up == 0", for_s: float = 0, **labels: str) -> LiveRule:
    return LiveRule(name, expr, for_s, labels, {}, "web", "/etc/prometheus/web.yml")


def _kinds(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.kind, f.alert) for f in findings]


def test_each_kind_of_finding_and_an_alert_that_agrees() -> None:
    catalog = _catalog(
        Alert(name="Agrees", title="t", line=3, severity="critical", expr="x > 0.05", for_s=300),
        Alert(name="NoRule", title="t", line=10, severity="warning", threshold="> 5%"),
        Alert(name="Threshold", title="t", line=20, severity="warning", threshold="> 5% for 5m"),
        Alert(name="For", title="t", line=30, severity="warning", for_s=300),
        Alert(name="Severity", title="t", line=40, severity="critical"),
    )
    rules = [
        _rule("Agrees", "x > 0.05", 300, severity="critical"),
        _rule("NoRunbook", "y > 1", severity="info"),
        _rule("Threshold", "rate(errors[5m]) > 0.1", severity="warning"),
        _rule("For", "up == 0", 600, severity="warning"),
        _rule("Severity", "up == 0", severity="warning"),
    ]
    findings = compare(catalog, rules)
    assert _kinds(findings) == [
        ("no_runbook", "NoRunbook"),
        ("no_rule", "NoRule"),
        ("threshold", "Threshold"),
        ("for", "For"),
        ("severity", "Severity"),
    ]
    by_kind = {f.kind: f for f in findings}
    assert by_kind["no_runbook"].group == "web" and by_kind["no_runbook"].source is None
    assert by_kind["no_runbook"].rule == "y > 1"
    assert (by_kind["no_rule"].source, by_kind["no_rule"].line) == ("runbooks/web.md", 10)
    threshold = by_kind["threshold"]
    assert (threshold.runbook, threshold.rule) == ("> 5%", "> 0.1")
    assert threshold.note == "> 5% read as 5 or 0.05"
    assert threshold.expr == "rate(errors[5m]) > 0.1"
    assert threshold.message() == (
        "Threshold: the runbook's threshold is > 5%, the rule compares with > 0.1 "
        "(> 5% read as 5 or 0.05)"
    )
    assert (by_kind["for"].runbook, by_kind["for"].rule) == ("5m", "10m")
    assert by_kind["for"].message() == "For: the runbook says for 5m, the rule says for 10m"
    assert (by_kind["severity"].runbook, by_kind["severity"].rule) == (
        "critical",
        "severity=warning",
    )
    assert (by_kind["severity"].source, by_kind["severity"].line) == ("runbooks/web.md", 40)
    assert by_kind["severity"].message() == (
        "Severity: the runbook says critical, the rule says severity=warning"
    )
    assert counts(findings) == dict.fromkeys(KINDS, 1)
    # the alert that agrees gives nothing: with its rule alone, the others have no rule
    assert _kinds(compare(catalog, rules[:1])) == [
        ("no_rule", "For"),
        ("no_rule", "NoRule"),
        ("no_rule", "Severity"),
        ("no_rule", "Threshold"),
    ]


def test_names_match_as_the_catalog_finds_them_exactly_first_then_ignoring_case() -> None:
    catalog = _catalog(
        Alert(name="HighCPU", title="t", line=1, severity="critical"),
        Alert(name="highcpu", title="t", line=2, severity="warning"),
        Alert(name="DiskFull", title="t", line=3, severity="warning"),
    )
    findings = compare(
        catalog,
        [_rule("HighCPU", severity="critical"), _rule("DISKFULL", severity="warning")],
    )
    # HighCPU matched exactly (not highcpu, which no rule defines); DISKFULL ignoring case
    assert _kinds(findings) == [("no_rule", "highcpu")]


@pytest.mark.parametrize(
    ("ours", "theirs", "finding"),
    [
        ("critical", "critical", None),
        ("critical", "P1", None),
        ("critical", "page", None),
        ("critical", "CRITICAL", None),
        ("high", "error", None),
        ("warning", "ticket", None),
        ("critical", "warning", "severity=warning"),
        ("warning", "P1", "severity=P1"),
        ("critical", None, "no severity label"),
        ("critical", "whatever", "severity=whatever"),
        (None, "critical", None),  # the runbook states none: lint says so, not drift
    ],
)
def test_severities_are_compared_through_the_levels(
    ours: str | None, theirs: str | None, finding: str | None
) -> None:
    catalog = _catalog(Alert(name="A", title="t", line=1, severity=ours))
    rule = LiveRule("A", "up == 0", 0, {"severity": theirs} if theirs else {})
    found = [f.rule for f in compare(catalog, [rule]) if f.kind == "severity"]
    assert found == ([finding] if finding else [])


def test_a_rule_without_a_severity_label_says_so() -> None:
    catalog = _catalog(Alert(name="A", title="t", line=1, severity="critical"))
    (found,) = compare(catalog, [LiveRule("A", "up == 0")])
    assert found.message() == "A: the runbook says critical, the rule has no severity label"


def test_configured_levels_and_label_decide_severities() -> None:
    levels = (Level("sev1", aliases=("critical", "urgent")), Level("sev2", aliases=("warning",)))
    catalog = _catalog(Alert(name="A", title="t", line=1, severity="critical"))
    agreeing = LiveRule("A", "up == 0", 0, {"priority": "urgent"})
    assert compare(catalog, [agreeing], levels, "priority") == []
    other = LiveRule("A", "up == 0", 0, {"priority": "sev2", "severity": "critical"})
    assert [f.rule for f in compare(catalog, [other], levels, "priority")] == ["priority=sev2"]


def test_a_rule_per_severity_is_compared_with_the_runbooks_variants() -> None:
    variants = [SeverityVariant(severity="warning", title="Warning", text="", line=5)]
    alert = Alert(
        name="A", title="t", line=1, severity="critical", threshold="warning at 80%, page at 90%"
    )
    catalog = _catalog(alert.model_copy(update={"severity_variants": variants}))
    rules = [_rule("A", "x > 0.9", severity="critical"), _rule("A", "x > 0.8", severity="warning")]
    assert compare(catalog, rules) == []
    only_critical = _catalog(alert)
    found = compare(only_critical, rules)
    assert [(f.kind, f.rule, f.runbook) for f in found] == [
        ("severity", "severity=warning", "critical")
    ]


def test_for_compares_only_what_the_runbook_states() -> None:
    catalog = _catalog(
        Alert(name="Silent", title="t", line=1, severity="info"),
        Alert(name="Waits", title="t", line=2, severity="info", for_s=120),
    )
    rules = [_rule("Silent", for_s=900, severity="info"), _rule("Waits", for_s=0, severity="info")]
    found = compare(catalog, rules)
    assert [(f.kind, f.alert, f.rule) for f in found] == [("for", "Waits", "0s")]
    assert found[0].message() == (
        "Waits: the runbook says for 2m, the rule has no for: it fires at its first evaluation"
    )


def test_a_rule_name_in_several_groups_without_runbook_is_one_finding() -> None:
    rules = [
        LiveRule("Orphan", "x > 1", 0, {}, {}, "a", "/r/a.yml"),
        LiveRule("Orphan", "x > 2", 0, {}, {}, "b", "/r/b.yml"),
    ]
    found = compare(Catalog(), rules)
    assert len(found) == 1
    assert (found[0].group, found[0].file, found[0].note) == ("a", "/r/a.yml", "also in group b")


def test_findings_become_lint_warnings() -> None:
    catalog = _catalog(Alert(name="Gone", title="t", line=7, severity="info"))
    found = problems(compare(catalog, [_rule("Orphan")]))
    assert [(p.source, p.line, p.level, p.code, p.alert) for p in found] == [
        ("/etc/prometheus/web.yml", None, "warning", "drift-no-runbook", "Orphan"),
        ("runbooks/web.md", 7, "warning", "drift-no-rule", "Gone"),
    ]
    assert sorted(CODES.values()) == sorted(
        ["drift-no-runbook", "drift-no-rule", "drift-threshold", "drift-for", "drift-severity"]
    )


def _exported(catalog: Catalog) -> list[LiveRule]:
    """The rules ``runbooks export -f prometheus-rules`` writes, as Prometheus would load them."""
    return [
        LiveRule(
            rule["alert"],
            rule["expr"],
            parse_duration(rule["for"]) if "for" in rule else 0.0,
            rule.get("labels", {}),
            rule.get("annotations", {}),
            group["name"],
            "rules.yml",
        )
        for group in prometheus_rules(catalog).rules["groups"]
        for rule in group["rules"]
    ]


@pytest.mark.parametrize("where", ["examples", "seeds"])
def test_the_rules_exported_from_the_runbooks_agree_with_them(
    where: str, examples_dir: Path, seeds_dir: Path
) -> None:
    catalog = load_catalog([examples_dir if where == "examples" else seeds_dir])
    rules = _exported(catalog)
    assert rules
    findings = compare(catalog, rules)
    # only the alerts the export left out (no expression) have no rule; nothing else differs
    left_out = {line.split()[0] for line in prometheus_rules(catalog).left_out}
    assert {f.kind for f in findings} <= {"no_rule"}
    assert {f.alert for f in findings} <= left_out


# --------------------------------------------------------------------------- the API's answer

ANSWER: dict[str, Any] = {  # Prometheus 2.42's answer to /api/v1/rules?type=alert
    "status": "success",
    "data": {
        "groups": [
            {
                "name": "web",
                "file": "/tmp/rules.yml",
                "rules": [
                    {
                        "state": "inactive",
                        "name": "HighErrorRate",
                        "query": "sum(rate(x[5m])) > 0.05",
                        "duration": 600,
                        "keepFiringFor": 0,
                        "labels": {"severity": "critical"},
                        "annotations": {"summary": "errors"},
                        "alerts": [],
                        "health": "ok",
                        "type": "alerting",
                    },
                    {"name": "job:x:rate5m", "query": "rate(x[5m])", "type": "recording"},
                ],
                "interval": 1,
            }
        ]
    },
}


def test_the_rules_api_answer_is_read() -> None:
    assert rules_from_api(ANSWER) == [
        LiveRule(
            "HighErrorRate",
            "sum(rate(x[5m])) > 0.05",
            600.0,
            {"severity": "critical"},
            {"summary": "errors"},
            "web",
            "/tmp/rules.yml",
        )
    ]
    assert rules_from_api({"status": "success", "data": {"groups": []}}) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "not a JSON object"),
        ({"status": "error", "error": "bad_data"}, "the answer says bad_data"),
        ({"status": "success", "data": {}}, "no data.groups"),
        ({"status": "success", "data": {"groups": [{"name": "g"}]}}, "without its rules"),
        (
            {"status": "success", "data": {"groups": [{"rules": [{"type": "alerting"}]}]}},
            "without name or query",
        ),
        (
            {
                "status": "success",
                "data": {
                    "groups": [
                        {
                            "rules": [
                                {"type": "alerting", "name": "A", "query": "x", "duration": "5m"}
                            ]
                        }
                    ]
                },
            },
            "duration that is not a number",
        ),
    ],
)
def test_an_answer_that_is_not_the_rules_api_is_refused(body: object, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        rules_from_api(body)
