"""The runbook-wide severity levels (``SEV1 … respond within 15 minutes``): from a table, a
section titled by a severity, or a list of ``**Severity 1** – …`` items.
"""

from __future__ import annotations

import re

from tocsin.runbooks.markdown import ListBlock, Paragraph, Section, Table, line_field, paragraphs_in
from tocsin.runbooks.model import SeverityLevel
from tocsin.runbooks.parse.sections import header_index
from tocsin.runbooks.text import is_severity_word, normalize_severity, parse_duration


def severity_levels_from_table(table: Table) -> list[SeverityLevel]:
    sev_col = header_index(table.header, r"severity|priority|^level$|^sev")
    resp_col = header_index(table.header, r"response|sla|ack|time to")
    if sev_col is None or resp_col is None:
        return []
    esc_col = header_index(table.header, r"escalation")
    levels = []
    for row in table.rows:
        if sev_col >= len(row):
            continue
        name = row[sev_col]
        response = row[resp_col] if resp_col < len(row) else ""
        others = [c for i, c in enumerate(row) if i not in (sev_col, resp_col, esc_col) and c]
        path: list[str] = []
        if esc_col is not None and esc_col < len(row):
            path = [p.strip() for p in re.split(r"\s*(?:→|->|=>|⇒)\s*", row[esc_col]) if p.strip()]
        levels.append(
            SeverityLevel(
                name=name,
                level=normalize_severity(name),
                response_time_s=parse_duration(response),
                description=" | ".join(others),
                escalation_path=path,
            )
        )
    return levels


def severity_level_from_section(section: Section) -> SeverityLevel | None:
    if not is_severity_word(section.title):
        return None
    found: dict[str, str] = {}
    for para in paragraphs_in(section.blocks):
        for line in para.lines:
            labelled = line_field(line)
            if labelled:
                found.setdefault(labelled[0].lower(), labelled[1])
    response = next((v for k, v in found.items() if "response" in k or "sla" in k), None)
    if response is None:
        return None
    return SeverityLevel(
        name=section.title,
        level=normalize_severity(section.title),
        response_time_s=parse_duration(response),
        description=found.get("impact", found.get("description", "")),
    )


def severity_levels_from_list(section: Section) -> list[SeverityLevel]:
    """``- **Severity 1** – data unavailable, respond within 15 minutes``."""
    levels = []
    for block in section.blocks:
        if not isinstance(block, ListBlock):
            continue
        for item in block.items:
            para = next((b for b in item.blocks if isinstance(b, Paragraph)), None)
            labelled = line_field(para.lines[0]) if para and para.lines else None
            if labelled is None or not is_severity_word(labelled[0]):
                continue
            rest = labelled[1].lstrip("-–—: ")
            levels.append(
                SeverityLevel(
                    name=labelled[0],
                    level=normalize_severity(labelled[0]),
                    response_time_s=parse_duration(rest),
                    description=rest,
                )
            )
    return levels
