"""Catalog exports: JSON and YAML (the catalog as data) and a Prometheus rule file for the
alerts whose expression the runbooks state."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tocsin.runbooks.model import Catalog
from tocsin.runbooks.text import slugify
from tocsin.times import format_duration

FORMATS = ("json", "yaml", "prometheus-rules")


def to_data(catalog: Catalog) -> dict[str, Any]:
    return catalog.model_dump(mode="json")


def to_json(catalog: Catalog) -> str:
    return json.dumps(to_data(catalog), indent=2, ensure_ascii=False) + "\n"


def to_yaml(catalog: Catalog) -> str:
    return yaml.safe_dump(to_data(catalog), sort_keys=False, allow_unicode=True, width=100)


def prometheus_rules(catalog: Catalog) -> dict[str, Any]:
    """One rule group per runbook, one alerting rule per alert with a known expression."""
    groups: list[dict[str, Any]] = []
    used: set[str] = set()
    for rb in catalog.runbooks:
        rules = []
        for alert in rb.alerts:
            if not alert.expr:
                continue
            rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
            if alert.for_s:
                rule["for"] = format_duration(alert.for_s, "prometheus")
            if alert.severity:
                rule["labels"] = {"severity": alert.severity}
            annotations = {"summary": alert.summary or alert.title}
            annotations["runbook_url"] = f"{rb.source}#{slugify(alert.title)}"
            if alert.threshold:
                annotations["threshold"] = alert.threshold
            rule["annotations"] = annotations
            rules.append(rule)
        if not rules:
            continue
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", rb.title).strip("-").lower() or "runbook"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        groups.append({"name": name, "rules": rules})
    return {"groups": groups}


def to_prometheus_rules(catalog: Catalog) -> str:
    return yaml.safe_dump(
        prometheus_rules(catalog), sort_keys=False, allow_unicode=True, width=1000
    )


def export(catalog: Catalog, fmt: str) -> str:
    if fmt == "json":
        return to_json(catalog)
    if fmt == "yaml":
        return to_yaml(catalog)
    if fmt == "prometheus-rules":
        return to_prometheus_rules(catalog)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
