"""Catalog exports: JSON and YAML (the catalog as data) and a Prometheus rule file for the
alerts whose expression the runbooks state (``Rules.left_out`` says which it left out and
why)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tocsin.runbooks.links import section_url
from tocsin.runbooks.model import Catalog
from tocsin.times import format_duration

FORMATS = ("json", "yaml", "prometheus-rules")


def to_data(catalog: Catalog) -> dict[str, Any]:
    return catalog.model_dump(mode="json")


def to_json(catalog: Catalog) -> str:
    return json.dumps(to_data(catalog), indent=2, ensure_ascii=False) + "\n"


def to_yaml(catalog: Catalog) -> str:
    return yaml.safe_dump(to_data(catalog), sort_keys=False, allow_unicode=True, width=100)


@dataclass(frozen=True)
class Rules:
    """A Prometheus rule file and the alerts it left out, each with why."""

    rules: dict[str, Any]
    left_out: list[str] = field(default_factory=list)


def group_name(title: str) -> str:
    """A rule group's name from the runbook's title, as a readable slug:
    ``Alert Runbooks - Week 1, Day 6`` -> ``alert-runbooks-week-1-day-6``."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:100].strip("-") or "runbook"


def prometheus_rules(
    catalog: Catalog, runbooks_url: str | None = None, roots: Iterable[str | Path] = ()
) -> Rules:
    """One rule group per runbook, one alerting rule per alert with a known expression. Each
    rule's ``runbook_url`` is the section's web address (``links.section_url``, as pages link
    it), and only when ``runbooks_url`` is known: never a local path."""
    roots = list(roots)
    groups: list[dict[str, Any]] = []
    left_out: list[str] = []
    used: set[str] = set()
    for rb in catalog.runbooks:
        rules = []
        for alert in rb.alerts:
            if not alert.expr:
                why = "the runbook states no PromQL expression for it"
                if alert.threshold:
                    why += f", only a threshold in words ({' '.join(alert.threshold.split())[:80]})"
                left_out.append(f"{alert.name} ({rb.source}:{alert.line}): {why}")
                continue
            rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
            if alert.for_s:
                rule["for"] = format_duration(alert.for_s, "prometheus")
            if alert.severity:
                rule["labels"] = {"severity": alert.severity}
            annotations = {"summary": alert.summary or alert.title}
            url = section_url(runbooks_url, roots, rb.source, alert.title)
            if url is not None:
                annotations["runbook_url"] = url
            if alert.threshold:
                annotations["threshold"] = alert.threshold
            rule["annotations"] = annotations
            rules.append(rule)
        if not rules:
            continue
        base = group_name(rb.title)
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        groups.append({"name": name, "rules": rules})
    return Rules({"groups": groups}, left_out)


def rules_text(found: Rules) -> str:
    """The rule file as YAML."""
    return yaml.safe_dump(found.rules, sort_keys=False, allow_unicode=True, width=1000)


def to_prometheus_rules(
    catalog: Catalog, runbooks_url: str | None = None, roots: Iterable[str | Path] = ()
) -> str:
    return rules_text(prometheus_rules(catalog, runbooks_url, roots))


def export(catalog: Catalog, fmt: str) -> str:
    if fmt == "json":
        return to_json(catalog)
    if fmt == "yaml":
        return to_yaml(catalog)
    if fmt == "prometheus-rules":
        return to_prometheus_rules(catalog)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
