"""Lint: what a runbook reviewer would point out, as problems with source, line and level.

Errors are gaps that leave a responder without guidance or with a contradiction (an alert
listed but never documented, one alert with two severities); warnings are worth fixing but do
not block (no severity, destructive commands, placeholders nothing fills, stale reviews).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import PurePath

from tocsin.runbooks.commands import placeholder_key
from tocsin.runbooks.markdown import Document
from tocsin.runbooks.model import Alert, Catalog, Problem, Runbook
from tocsin.runbooks.parse.alerts import why_no_alerts
from tocsin.runbooks.risk import classify
from tocsin.runbooks.text import is_camel_identifier, is_identifier

# Labels an alert commonly carries whatever its rule: Prometheus adds instance and job to
# every target, and Kubernetes alerts carry their object's namespace, pod, container, node.
_COMMON_LABELS = frozenset(
    {
        "alertname",
        "instance",
        "job",
        "severity",
        "namespace",
        "pod",
        "container",
        "node",
        "service",
        "deployment",
        "statefulset",
        "daemonset",
        "cluster",
        "endpoint",
    }
)


def _problem(
    rb: Runbook, line: int | None, level: str, code: str, message: str, alert: str | None = None
) -> Problem:
    return Problem(
        source=rb.source,
        line=line,
        level="error" if level == "error" else "warning",
        code=code,
        message=message,
        alert=alert,
    )


def lint_document(doc: Document, rb: Runbook) -> list[Problem]:
    """Checks that need the document itself: its table of contents and links."""
    problems: list[Problem] = []
    names = {a.name for a in rb.alerts}
    reported: set[str] = set()
    for link in doc.links:
        if not link.href.startswith("#"):
            continue
        text = link.text.strip("` ")
        anchor = link.href[1:].lower()
        known = doc.anchors | {re.sub(r"-+", "-", a) for a in doc.anchors}
        exists = anchor in known or re.sub(r"-+", "-", anchor) in known
        if is_camel_identifier(text) and text not in names and not exists:
            if text not in reported:
                reported.add(text)
                problems.append(
                    _problem(
                        rb,
                        link.line,
                        "error",
                        "toc-undocumented",
                        f"{text} is listed in the table of contents but has no section",
                        text,
                    )
                )
            continue
        # GitHub keeps "--" where punctuation stood; GitLab and others fold it to "-"
        if anchor and not exists:
            problems.append(
                _problem(
                    rb,
                    link.line,
                    "warning",
                    "broken-link",
                    f"link to {link.href} points at no heading",
                )
            )
    declared = doc.front_matter.get("alerts")
    if isinstance(declared, str):
        declared = [declared]
    if isinstance(declared, list):
        for name in (str(d) for d in declared):
            if name not in names and name not in reported:
                reported.add(name)
                problems.append(
                    _problem(
                        rb,
                        1,
                        "error",
                        "toc-undocumented",
                        f"{name} is listed in the front matter but has no section",
                        name,
                    )
                )
    if not rb.alerts and _has_content(doc):
        problems.append(
            _problem(
                rb,
                None,
                "warning",
                "no-alerts",
                f"no alert found: {why_no_alerts(doc, PurePath(rb.source).stem)}",
            )
        )
    stem = PurePath(rb.source).stem
    if (
        len(rb.alerts) == 1
        and is_identifier(stem)
        and stem != rb.alerts[0].name
        and not rb.alerts[0].name.endswith(f":{stem}")  # a rule named "record:stem"
        and (is_camel_identifier(stem))
    ):
        alert = rb.alerts[0]
        problems.append(
            _problem(
                rb,
                alert.line,
                "warning",
                "name-mismatch",
                f"the file is named {stem} but documents {alert.name}",
                alert.name,
            )
        )
    return problems


def _has_content(doc: Document) -> bool:
    return bool(doc.root.children or doc.root.blocks)


def _expr_labels(alert: Alert) -> set[str]:
    if not alert.expr:
        return set()
    labels = set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*\"", alert.expr))
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", alert.expr):
        labels.update(x.strip() for x in group.split(",") if x.strip())
    return labels


def _fillable(placeholder: str, alert: Alert) -> bool:
    if "$labels" in placeholder or ".Labels" in placeholder or "$value" in placeholder:
        return True
    if re.fullmatch(r"\$\{?[A-Z][A-Z0-9_]*[^}]*\}?", placeholder):
        return True  # an environment variable: filled from the runner's environment
    key = placeholder_key(placeholder)
    return key in _COMMON_LABELS or key in _expr_labels(alert)


def lint_alert(rb: Runbook, alert: Alert) -> list[Problem]:
    problems: list[Problem] = []
    name = alert.name
    if alert.severity is None:
        if alert.severity_raw:
            problems.append(
                _problem(
                    rb,
                    alert.line,
                    "warning",
                    "unknown-severity",
                    f"{name}: severity {alert.severity_raw!r} is not one of "
                    "critical, high, warning, info (or P1-P4)",
                    name,
                )
            )
        else:
            problems.append(
                _problem(
                    rb, alert.line, "warning", "missing-severity", f"{name} has no severity", name
                )
            )
    counts = alert.phase_counts()
    if counts["diagnose"] + counts["remediate"] + counts["verify"] == 0:
        problems.append(
            _problem(
                rb,
                alert.line,
                "warning",
                "no-actions",
                f"{name} has no diagnosis or remediation steps",
                name,
            )
        )
    unfilled: dict[str, int] = {}
    for command in alert.commands():
        if command.risk == "destructive":
            lines = [
                ln.strip()
                for ln in command.code.splitlines()
                if ln.strip() and not ln.strip().startswith(("#", "--"))
            ]
            guilty = [ln for ln in lines if classify(ln, command.language).risk == "destructive"]
            first = (guilty or lines or [""])[0][:80]
            problems.append(
                _problem(
                    rb,
                    command.line,
                    "warning",
                    "destructive-command",
                    f"{name}: destructive command ({command.risk_reason}): {first}",
                    name,
                )
            )
        for placeholder in command.placeholders:
            if not _fillable(placeholder, alert):
                unfilled.setdefault(placeholder, command.line)
    for placeholder, line in unfilled.items():
        problems.append(
            _problem(
                rb,
                line,
                "warning",
                "unfillable-placeholder",
                f"{name}: placeholder {placeholder} matches no label of the "
                "alert; a responder must type it in",
                name,
            )
        )
    return problems


def lint_catalog(catalog: Catalog, today: date) -> list[Problem]:
    """Checks over the whole catalog: per alert, across runbooks, and review dates."""
    problems: list[Problem] = []
    by_name: dict[str, list[tuple[Runbook, Alert]]] = defaultdict(list)
    for rb, alert in catalog.alerts():
        problems.extend(lint_alert(rb, alert))
        by_name[alert.name].append((rb, alert))
    for name, places in by_name.items():
        severities = {a.severity for _rb, a in places if a.severity}
        if len(severities) < 2:
            continue
        for rb, alert in places:
            if not alert.severity:
                continue
            others = ", ".join(
                f"{a.severity} in {r.source}:{a.line}"
                for r, a in places
                if a.severity and a.severity != alert.severity
            )
            problems.append(
                _problem(
                    rb,
                    alert.line,
                    "error",
                    "conflicting-severity",
                    f"{name} is {alert.severity} here but {others}",
                    name,
                )
            )
    for rb in catalog.runbooks:
        meta = rb.metadata
        if meta.review_cycle_days is None:
            continue
        if meta.last_updated_date is None:
            problems.append(
                _problem(
                    rb,
                    None,
                    "warning",
                    "review-undated",
                    f"review cycle {meta.review_cycle!r} but no readable last-updated date",
                )
            )
            continue
        due = date.fromisoformat(meta.last_updated_date) + timedelta(days=meta.review_cycle_days)
        if due < today:
            problems.append(
                _problem(
                    rb,
                    None,
                    "warning",
                    "review-overdue",
                    f"last updated {meta.last_updated_date}, review cycle "
                    f"{meta.review_cycle!r}: review was due {due.isoformat()}",
                )
            )
    return problems
