"""Alert sections: which sections are alerts (the evidence: a name shaped like an alert rule,
a severity, sub-sections such as Impact / Diagnosis / Mitigation, a parent heading about
alerts), and each alert's parts: severity, threshold, prose fields, steps, escalation. Also the
file that is one alert (``# CPU Throttling High`` / ``## Meaning`` …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tocsin.runbooks.markdown import (
    Block,
    Document,
    ListBlock,
    Paragraph,
    Section,
    Table,
    any_field,
    codes_in,
    paragraphs_in,
)
from tocsin.runbooks.model import (
    Alert,
    EscalationTier,
    Phase,
    Problem,
    Runbook,
    SeverityVariant,
    Step,
    Template,
)
from tocsin.runbooks.parse.alert_table import NAMED_ALERT_COLUMN
from tocsin.runbooks.parse.escalation import AFTER_RE, escalation_target, tiers_from_section
from tocsin.runbooks.parse.names import (
    HeadingNames,
    field_lines,
    heading_names,
    is_alert_heading,
    list_fields,
    mentioned_alert,
    names_from_field,
    rule_shaped,
)
from tocsin.runbooks.parse.sections import header_index, text_of, text_with_code
from tocsin.runbooks.parse.steps import inline_commands, section_steps, short, steps_from_blocks
from tocsin.runbooks.parse.thresholds import expression, rule_severity
from tocsin.runbooks.parse.vocabulary import (
    NAME_FIELDS,
    REFERENCE_FIELDS,
    SEVERITY_FIELDS,
    SEVERITY_SECTIONS,
    STOP_NAMES,
    THRESHOLD_FIELDS,
    accept_valued_label,
    is_structural,
    norm,
    phase_of,
    prose_field,
    severity_heading,
)
from tocsin.runbooks.text import (
    camel_join,
    is_identifier,
    is_severity_word,
    normalize_severity,
    parse_duration,
    severity_phrase,
    severity_statement,
)


@dataclass
class Context:
    """One document's parse: the runbook assembled so far and the problems found."""

    source: str
    runbook: Runbook
    problems: list[Problem] = field(default_factory=list)


_THRESHOLD_INLINE = re.compile(r"\bthreshold\s*:\s*(.{3,300}?)(?:\n\s*\n|$)", re.I | re.S)


_FIRES_WHEN = re.compile(r"^.*?\b(fires|triggers|alerts|pages|goes off)\s+(when|if)\b\s*:?", re.I)


def _code_only(section: Section) -> bool:
    """The heading is a name written as code (a ``#### TiDB_schema_error`` heading whose text is
    one code span), numbering aside."""
    segs = [seg for seg in section.title_segments if seg.text.strip()]
    return any(seg.kind == "code" for seg in segs) and all(
        seg.kind == "code" or re.fullmatch(r"[\s\d.):#-]*", seg.text) for seg in segs
    )


def _heading_names(section: Section) -> HeadingNames:
    if section.label:  # "**QueueBacklogHigh** — warning"
        return HeadingNames([section.title], None, False)
    return heading_names(section.title, _code_only(section))


def _table_severity(blocks: list[Block]) -> str | None:
    """A severity in a small table under an alert's heading: one row under a ``Severity``
    column, or a ``| Severity | critical |`` row of a key/value table."""
    for block in blocks:
        if not isinstance(block, Table):
            continue
        col = header_index(block.header, r"^(severity|priority|sev|severity level)$")
        if col is not None and len(block.rows) == 1 and col < len(block.rows[0]):
            return block.rows[0][col] or None
        for row in [block.header, *block.rows]:
            if len(row) == 2 and norm(row[0]) in SEVERITY_FIELDS and is_severity_word(row[1]):
                return row[1]
    return None


_SEVERITY_LABEL = re.compile(
    r"^\s*-?\s*severity\s*[:=]\s*[\"']?([\w-]+)[\"']?\s*,?\s*$", re.I | re.M
)


def _severity_label_in_code(section: Section) -> str | None:
    """A ``severity=warning`` / ``severity: critical`` label line in a code block of the
    section (the alert's labels as shown)."""
    for code in codes_in([b for s in section.walk() for b in s.blocks]):
        for match in _SEVERITY_LABEL.finditer(code.code[:20_000]):
            if is_severity_word(match.group(1)):
                return match.group(1)
    return None


def inherited_severity(parents: list[Section]) -> str | None:
    """The severity a heading over a group of alerts gives them (``### Emergency-level
    alerts``), the nearest one."""
    for parent in reversed(parents):
        if parent.title and not parent.label:
            found = severity_heading(parent.title)
            if found:
                return found
    return None


def alert_evidence(section: Section, parents: list[Section]) -> list[str] | None:
    if section.label and not accept_valued_label(section.title, section.value):
        return None
    fields = field_lines(section.blocks)
    for label, value, line, _ln in fields:
        if label.lower() in NAME_FIELDS and not section.label:
            names, _rest = names_from_field(line, value)
            if names:
                return names
    found = _heading_names(section)
    names = found.names
    if not names:
        return None
    if any(is_severity_word(n) or n.lower() in STOP_NAMES for n in names):
        return None
    score = 3 if found.labelled else 0  # "Alert Name: X" says it outright
    if all(rule_shaped(n) for n in names):
        score += 2
    if (
        found.severity
        or section.label  # a bold rule name with a severity after it
        or any(label.lower() in SEVERITY_FIELDS for label, *_ in fields)
        or _table_severity(section.blocks)
    ):
        score += 2
    structure = sum(1 for child in section.children if is_structural(child.title))
    structure += sum(1 for label, *_ in fields if is_structural(label))
    score += min(structure, 2)
    if any("alert" in p.title.lower() for p in parents if p.title):
        score += 1
    if section.level == 1:
        score += 1
    if score < 3:
        return None
    if _holds_alerts(section, parents, names):
        return None  # "# PaymentService" holding "## HighErrorRate": a container
    return names


def _holds_alerts(section: Section, parents: list[Section], names: list[str]) -> bool:
    """Whether alerts other than ``names`` stand below the section, at any depth (``## TiDB``
    / ``### Critical-level alerts`` / ``#### TiDB_schema_error``), or entries headed Alert
    (``### Alert 1: …``)."""
    for child in section.children:
        if not child.label and is_alert_heading(child.title):
            return True
        inner = alert_evidence(child, [*parents, section])
        if inner is not None:
            if not set(inner) <= set(names):
                return True
        elif _holds_alerts(child, [*parents, section], names):
            return True
    return False


def build_alerts(
    ctx: Context,
    section: Section,
    names: list[str],
    front: dict[str, Any],
    group_severity: str | None = None,
) -> None:
    """The alerts ``names`` that ``section`` documents. ``group_severity``: the severity a
    heading over the section gives its alerts (``### Critical-level alerts``)."""
    fields = field_lines(section.blocks)
    severity_raw = _heading_names(section).severity
    if section.label:  # "**QueueBacklogHigh** — warning"
        severity_raw = section.value.strip(" -–—:()[]") or None
    threshold = None
    summary = None
    prose: dict[str, list[str]] = {"impact": [], "symptoms": [], "meaning": [], "summary": []}
    steps: list[Step] = []
    variants: list[SeverityVariant] = []
    tiers: list[EscalationTier] = []
    field_paragraph_lines: set[int] = set()

    for label, value, line, line_no in fields:
        key = label.lower()
        if key in NAME_FIELDS:
            _n, rest = names_from_field(line, value)
            summary = rest or summary
        elif key in SEVERITY_FIELDS:
            severity_raw = severity_raw or value.strip("` ") or None
        elif is_severity_word(label):  # "**Sev 2** (Sev 1 if all nodes are affected)"
            severity_raw = severity_raw or f"{label} {value}".strip()
        elif key in THRESHOLD_FIELDS:
            threshold = threshold or value
        elif key in REFERENCE_FIELDS:
            pass
        elif prose_field(label):
            prose[prose_field(label) or "summary"].append(value)
        else:
            phase = phase_of(label)
            steps.append(
                Step(
                    phase=phase or "other",
                    title=short(label),
                    text=value,
                    commands=inline_commands(line, line_no),
                    line=line_no,
                )
            )
            if phase == "escalate":
                tier_text = value
                after = AFTER_RE.search(tier_text)
                if after and parse_duration(after.group(1)) is not None:
                    tiers.append(
                        EscalationTier(
                            after_s=parse_duration(after.group(1)),
                            target=escalation_target(tier_text),
                            text=tier_text,
                        )
                    )
        field_paragraph_lines.add(line_no)

    other_blocks = [
        b
        for b in section.blocks
        if not (
            isinstance(b, Paragraph)
            and b.line in field_paragraph_lines
            and all(any_field(ln) for ln in b.lines)
        )
    ]
    trimmed: list[Block] = []
    for block in other_blocks:
        fields_here = list_fields(block)
        if fields_here and isinstance(block, ListBlock):
            kept_items = [i for i in block.items if i not in fields_here]
            if kept_items:
                trimmed.append(ListBlock(ordered=block.ordered, items=kept_items, line=block.line))
        else:
            trimmed.append(block)
    if trimmed:
        steps.extend(steps_from_blocks(trimmed, None, section.title, section.line))
    severity_raw = severity_raw or _table_severity(section.blocks)

    templates: list[Template] = []

    def visit(child: Section, inherited: Phase | None) -> None:
        nonlocal threshold, severity_raw
        lowered = norm(child.title)
        if lowered in SEVERITY_SECTIONS:  # "## Severities": "This alert might create S1 incidents"
            severity_raw = severity_raw or severity_phrase(text_of(child))
            return
        for label, value, _line, _no in field_lines(child.blocks):
            if label.lower() in SEVERITY_FIELDS and value.strip("` "):
                # "## Impact" holding "**Severity:** Error"
                severity_raw = severity_raw or value.strip("` ")
        title_key = prose_field(child.title)
        if title_key:
            prose[title_key].append(text_of(child))
            for label, value, _line, _no in field_lines(child.blocks):
                if label.lower() in THRESHOLD_FIELDS and threshold is None:
                    threshold = value
            for grandchild in child.children:
                if any(codes_in([b for s in grandchild.walk() for b in s.blocks])):
                    visit(grandchild, inherited)  # commands under "## Meaning" stay commands
            return
        if lowered in THRESHOLD_FIELDS:
            threshold = threshold or text_with_code(child)
            return
        if (
            child.label
            and is_severity_word(child.title)
            and (not child.blocks or severity_raw is None)
        ):
            # "**Sev 2** (Sev 1 if all nodes are affected)" on its own line
            severity_raw = severity_raw or f"{child.title} {child.value}".strip()
            steps.extend(steps_from_blocks(child.blocks, inherited, section.title, child.line))
            for grandchild in child.children:
                visit(grandchild, inherited)
            return
        if is_severity_word(child.title):
            steps.extend(section_steps(child, inherited))  # its commands stay visible
            variants.append(
                SeverityVariant(
                    severity=normalize_severity(child.title) or child.title,
                    title=child.title,
                    text=text_of(child),
                    line=child.line,
                )
            )
            return
        if "template" in lowered or lowered.startswith("communication"):
            for code in codes_in(child.blocks):
                templates.append(
                    Template(
                        name=f"{names[0]}: {child.title}",
                        text=code.code.rstrip("\n"),
                        alert=names[0],
                        line=code.line,
                    )
                )
            if any(codes_in(child.blocks)):
                return
        own = phase_of(child.title)
        phase = own or inherited
        if phase == "escalate":
            tiers.extend(tiers_from_section(child))
        steps.extend(steps_from_blocks(child.blocks, phase, child.title, child.line, child.value))
        for grandchild in child.children:
            visit(grandchild, phase)

    for child in section.children:
        visit(child, None)

    stated = severity_raw  # the section says it; else each name's rule may, else less direct
    fallback = group_severity
    if fallback is None:
        for key in ("severity", "priority"):
            if front.get(key) is not None and len(ctx.runbook.alerts) == 0:
                fallback = str(front[key])
    if fallback is None:
        # "It is a single critical alert that …", "It pages as P2 during the day"
        for text in [p.text for p in paragraphs_in(section.blocks)] + [
            t for key in ("meaning", "summary", "impact") for t in prose[key]
        ]:
            fallback = severity_statement(text)
            if fallback:
                break
    fallback = fallback or _severity_label_in_code(section)
    if threshold is None:
        # "Fires when `x > 1` for 5 minutes." / "… behind its leader. Threshold: `x` for 10m"
        prose_text = [p.text for p in paragraphs_in(section.blocks)] + [
            t for key in ("symptoms", "meaning", "summary", "impact") for t in prose[key]
        ]
        for text in prose_text:
            inline = _THRESHOLD_INLINE.search(text)
            if inline:
                threshold = inline.group(1).strip()
                break
            for ln in text.splitlines():
                if _FIRES_WHEN.search(ln):
                    threshold = threshold or _FIRES_WHEN.sub("", ln, count=1).strip()
    for name in names:
        severity_raw = stated or rule_severity(section, name) or fallback
        expr, for_s = expression(threshold, section, name, shared=len(names) > 1)
        if any(a.name == name for a in ctx.runbook.alerts):
            ctx.problems.append(
                Problem(
                    source=ctx.source,
                    line=section.line,
                    level="warning",
                    code="duplicate-alert",
                    alert=name,
                    message=f"{name} is documented twice in this runbook; the first "
                    "section is used",
                )
            )
            continue
        ctx.runbook.alerts.append(
            Alert(
                name=name,
                title=section.title or name,
                severity=normalize_severity(severity_raw),
                severity_raw=severity_raw,
                threshold=threshold,
                expr=expr,
                for_s=for_s,
                line=section.line,
                summary=summary or ("\n".join(prose["summary"]) or None),
                impact="\n".join(prose["impact"]) or None,
                symptoms="\n".join(prose["symptoms"]) or None,
                meaning="\n".join(prose["meaning"]) or None,
                shares_section_with=[n for n in names if n != name],
                severity_variants=variants,
                escalation=tiers,
                steps=[s.model_copy(deep=True) for s in steps],
            )
        )
    ctx.runbook.templates.extend(templates)


def single_alert_file(
    ctx: Context, doc: Document, first_h1: Section | None, front: dict[str, Any], stem: str
) -> None:
    """One alert per file (``# CPU Throttling High`` / ``## Meaning`` …): the name comes from
    the front matter (``alert:``), else the file name, else the alert the opening paragraphs
    name (``This page is for the `DiskFull` alert``), else the heading's words. Without sections
    such as Meaning or Diagnosis only a name the front matter or the text gives outright
    counts."""
    section = first_h1 if first_h1 is not None else doc.root
    structural = sum(1 for c in section.children if is_structural(c.title)) >= 2
    declared = front.get("alert") or front.get("alertname")
    mentioned = mentioned_alert(section.blocks)
    candidates = [str(declared)] if declared else []
    if structural:
        candidates += [str(front["name"])] if front.get("name") and not declared else []
        candidates.append(stem)
    candidates += [mentioned] if mentioned else []
    if structural:  # the H1's words, or the front matter's title when there is no H1
        candidates.append(camel_join(section.title or ctx.runbook.title) or "")
    name = next((c for c in candidates if c and is_identifier(c)), None)
    if name is None:
        return
    if section is doc.root:
        section = Section(
            title=ctx.runbook.title,
            level=1,
            line=1,
            blocks=doc.root.blocks,
            children=doc.root.children,
        )
    build_alerts(ctx, section, [name], front)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + " …"


def why_no_alerts(doc: Document, stem: str) -> str:
    """Why no alert can be read from a document, in the terms of the rules above: entries
    headed Alert that name no rule, names that came close and what they lacked, what the
    headings are, and what a file for one alert needs."""
    sections = [s for s in doc.root.walk() if s is not doc.root]
    headings = [s for s in sections if not s.label]
    sentences = []
    unnamed = [s.title for s in headings if is_alert_heading(s.title)]
    if unnamed:
        sentences.append(
            f"'{_clip(unnamed[0], 50)}' names no rule: an alert's entry needs the rule's name "
            "(Alert: ClusterImportStuck)"
        )
    groups = {id(s) for s in headings if any(is_alert_heading(c.title) for c in s.children)}
    near = [
        n
        for s in headings
        if id(s) not in groups
        for n in _heading_names(s).names
        if rule_shaped(n) and n.lower() not in STOP_NAMES
    ]
    table = next(
        (
            b
            for sec in [doc.root, *sections]
            for b in sec.blocks
            if isinstance(b, Table) and header_index(b.header, NAMED_ALERT_COLUMN) is not None
        ),
        None,
    )
    if near:
        shown = ", ".join(near[:3]) + (" …" if len(near) > 3 else "")
        sentences.append(
            f"{shown} {'looks' if len(near) == 1 else 'look'} like an alert's name, but nothing "
            "else says so: no severity (**Severity:** warning), no sections such as Impact, "
            "Diagnosis or Mitigation, no heading above about alerts"
        )
    elif not unnamed:
        if headings:
            titles = ", ".join(f"'{_clip(s.title, 40)}'" for s in headings[:5])
            where = f"headings here are {titles}{' …' if len(headings) > 5 else ''}"
        else:
            where = "the file has no headings"
        sentences.append(
            f"no heading{'' if table else ', table row'} or 'Alert:' line names an alert: "
            f"{where}; an alert's name is one word shaped like a rule (HighErrorRate, node_down)"
        )
    for section in [doc.root, *sections]:
        named = [v for key, v, _l, _n in field_lines(section.blocks) if key.lower() in NAME_FIELDS]
        if named and named[0]:
            sentences.append(f"'Alert: {_clip(named[0], 40)}' names no rule (Alert: ServerDown)")
            break
    if table is not None:
        header = " | ".join(table.header)[:60]
        col = header_index(table.header, NAMED_ALERT_COLUMN) or 0
        if any(col < len(row) and is_identifier(row[col].strip("` ")) for row in table.rows):
            sentences.append(f"the table '{header}' has no Severity or action column")
        else:
            sentences.append(f"the rows of the table '{header}' name no rule")
    h1s = [s for s in headings if s.level == 1]
    if len(h1s) <= 1 and not (unnamed or near or table):
        top = h1s[0] if h1s else doc.root
        found = sum(1 for c in top.children if is_structural(c.title))
        sentences.append(
            "a file for one alert needs 'alert: Name' in its front matter, opening lines that "
            "name it (the `DiskFull` alert), or two sections such as Meaning, Impact, Diagnosis "
            f"or Mitigation (it has {found})"
        )
    return "; ".join(sentences)
