"""The runbook sections in front of an incident's responder (pure).

For each alert name of the incident, the catalog's sections for it: a section written for
several alerts (``shares_section_with``) appears once, naming all the incident's alerts it
covers; where a section has guidance per severity (``## Critical`` / ``## Warning``), the
variant for the incident's severity comes first and is marked ``matches``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tocsin.runbooks.model import Catalog

MAX_COMMANDS = 20


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().lower() == b.strip().lower())


def sections(
    catalog: Catalog | None,
    alert_names: Iterable[str],
    severity: str | None,
    link: Any = None,
) -> list[dict[str, Any]]:
    """The sections for these alert names, in the order the names first appear. ``link``
    (source, section title) -> URL or None gives each section its web link."""
    if catalog is None:
        return []
    names = list(dict.fromkeys(n for n in alert_names if n))
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for name in names:
        for book, entry in catalog.find(name):
            key = (book.source, entry.line)
            if key in seen:
                if name not in seen[key]["alerts"]:
                    seen[key]["alerts"].append(name)
                continue
            variants = [
                {
                    "severity": v.severity,
                    "title": v.title,
                    "text": v.text,
                    "matches": _same(v.severity, severity),
                }
                for v in entry.severity_variants
            ]
            variants.sort(key=lambda v: not v["matches"])
            section = {
                "runbook": book.title,
                "source": book.source,
                "section": entry.title,
                "line": entry.line,
                "url": link(book.source, entry.title) if link else None,
                "alerts": [name],
                "shares_section_with": list(entry.shares_section_with),
                "severity": entry.severity,
                "threshold": entry.threshold,
                "impact": entry.impact,
                "symptoms": entry.symptoms,
                "severity_variants": variants,
                "steps": [
                    {
                        "phase": step.phase,
                        "title": step.title,
                        "commands": [
                            {"language": c.language, "code": c.code, "risk": c.risk}
                            for c in step.commands[:MAX_COMMANDS]
                        ],
                    }
                    for step in entry.steps
                ],
                "escalation": [
                    {"after_s": t.after_s, "target": t.target} for t in entry.escalation
                ],
            }
            seen[key] = section
            out.append(section)
    return out
