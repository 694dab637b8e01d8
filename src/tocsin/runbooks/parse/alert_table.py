"""Alerts listed one per row of a table (``| Alert | Severity | Description | Action |``), in
the sections that are not alerts: the name, severity and threshold come from their columns,
the steps from the action columns and the sections their links point to.
"""

from __future__ import annotations

import re

from tocsin.runbooks.markdown import Document, Section, Table
from tocsin.runbooks.model import Alert, Runbook, Step
from tocsin.runbooks.parse.names import NAME_SPLIT, is_code_name
from tocsin.runbooks.parse.sections import header_index
from tocsin.runbooks.parse.steps import inline_commands, section_steps, short
from tocsin.runbooks.parse.thresholds import expression
from tocsin.runbooks.parse.vocabulary import phase_of
from tocsin.runbooks.text import is_identifier, is_severity_word, normalize_severity

ALERT_COLUMN = r"^(alert|alerts|alert name|alertname|alert rule|rule|name)$"
_SEVERITY_COLUMN = r"severity|priority|^sev|^level$"
NAMED_ALERT_COLUMN = r"^(alert|alerts|alert name|alertname|alert rule)$"


def _cell_name(text: str, explicit: bool) -> str | None:
    """A name written in an alert column as it is: one word with punctuation
    (``MysqlTooManyConnections(>80%)``) or, in a column headed Alert, a few words
    (``TLS certificate expiring``). Sentences and severities are not names."""
    text = text.strip(" *`")
    if not explicit or not text or len(text) > 80 or is_severity_word(text):
        return None
    if " " not in text:
        return text if is_code_name(text) else None
    words = text.split()
    if len(words) > 6 or not text[0].isalpha() or text.endswith((".", ":", "!", "?")):
        return None
    return text


def table_alerts(runbook: Runbook, table: Table, doc: Document) -> None:
    """A table with one alert per row (``| Alert | Severity | Description | Action |``)."""
    col = header_index(table.header, ALERT_COLUMN)
    if col is None:
        return
    explicit = re.search(NAMED_ALERT_COLUMN, table.header[col].lower()) is not None
    sev_col = header_index(table.header, _SEVERITY_COLUMN)
    desc_col = header_index(
        table.header,
        r"description|summary|meaning|condition|threshold|"
        r"trigger|fires|expression|when",
    )
    action_cols = [
        i
        for i, h in enumerate(table.header)
        if re.search(
            r"action|response|what to do|first step|remediation|"
            r"mitigation|runbook|procedure|playbook|fix|steps|diagnos|"
            r"investigat|check",
            h.lower(),
        )
        and i not in (col, sev_col)
    ]
    if sev_col is None and not action_cols:
        return
    anchors = {s.anchor: s for s in doc.root.walk() if s.anchor}
    for r, cells in enumerate(table.cells):
        if col >= len(cells):
            continue
        line_no = table.line + 2 + r
        names = [
            seg.text.strip()
            for seg in cells[col].segments
            if seg.kind == "code" and is_identifier(seg.text.strip())
        ]
        if not names:
            parts = [p for p in NAME_SPLIT.split(cells[col].plain) if p]
            names = parts if parts and all(is_identifier(p) for p in parts) else []
        if not names:
            named = _cell_name(cells[col].plain, explicit and sev_col is not None)
            names = [named] if named else []
        if not names:
            continue
        severity_raw = (
            cells[sev_col].plain if sev_col is not None and sev_col < len(cells) else None
        )
        threshold = cells[desc_col].text if desc_col is not None and desc_col < len(cells) else None
        steps: list[Step] = []
        for a in action_cols:
            if a >= len(cells) or not cells[a].plain:
                continue
            header = table.header[a]
            steps.append(
                Step(
                    phase=phase_of(header) or phase_of(cells[a].plain, step=True) or "other",
                    title=short(cells[a].plain, 80),
                    text=cells[a].text,
                    commands=inline_commands(cells[a], line_no),
                    line=line_no,
                )
            )
            for link in doc.links:
                target = anchors.get(link.href[1:].lower()) if link.href.startswith("#") else None
                if link.line == line_no and target is not None:
                    steps.extend(section_steps(target, None))
        expr, for_s = expression(
            threshold, Section(title="", level=0, line=line_no), names[0], shared=len(names) > 1
        )
        for name in names:
            if any(a.name == name for a in runbook.alerts):
                continue
            runbook.alerts.append(
                Alert(
                    name=name,
                    title=name,
                    severity=normalize_severity(severity_raw),
                    severity_raw=severity_raw or None,
                    threshold=threshold,
                    expr=expr,
                    for_s=for_s,
                    line=line_no,
                    summary=threshold,
                    shares_section_with=[n for n in names if n != name],
                    steps=[st.model_copy(deep=True) for st in steps],
                )
            )
