"""Escalation: who is paged after how long, from a list (``After 15 minutes: page the team
lead``), a table (an escalation matrix) or a section's sub-sections. Read for an alert's own
escalation section and for the runbook-wide one.
"""

from __future__ import annotations

import re

from tocsin.runbooks.markdown import (
    Code,
    ListBlock,
    ListItem,
    Paragraph,
    Section,
    Table,
    block_text,
    line_field,
)
from tocsin.runbooks.model import EscalationTier
from tocsin.runbooks.parse.names import TRAILING_PAREN
from tocsin.runbooks.parse.sections import header_index, text_of
from tocsin.runbooks.text import clean_spaces, parse_duration, parse_range_start

_ESCALATION_VERB = re.compile(
    r"(?<![-\w])(?:escalate(?:\s+\w+)?\s+to|page|notify|engage|contact|call|alert|inform|involve|"
    r"loop\s+in|bring\s+in|hand\s+off\s+to)\s+(?:the\s+|an?\s+)?(.+?)"
    r"(?=\s*(?:\(|,|;|\.(?:\s|$)|$|\s+if\s|\s+for\s|\s+when\s|\s+with\s|\s+about\s))",
    re.I | re.M,
)


_ACTOR_VERB = re.compile(
    r"^(.+?)\s+(acknowledges|attempts|investigates|responds|joins|receives|follows|"
    r"coordinates|reviews|takes|handles|triages|works|is\s+paged|gets\s+paged)\b",
    re.I,
)


def escalation_target(text: str) -> str:
    """Who a tier reaches: ``If unresolved, page secondary on-call`` -> ``secondary on-call``;
    ``On-call engineer attempts restart`` -> ``On-call engineer``."""
    text = clean_spaces(text)
    found = _ESCALATION_VERB.search(text)
    if found and found.group(1).strip():
        return found.group(1).strip(" .")
    actor = _ACTOR_VERB.match(text)
    if actor:
        return actor.group(1).strip()
    return text.strip(" .")


AFTER_RE = re.compile(r"\b(?:after|in|within|past|beyond|over|>)\s*(\d+\s*\+?\s*\w+)", re.I)


def _tier_from_item(item: ListItem, index: int) -> EscalationTier | None:
    para = next((b for b in item.blocks if isinstance(b, Paragraph)), None)
    if para is None or not para.lines:
        return None
    text = "\n".join(block_text(b) for b in item.blocks if not isinstance(b, Code)).strip()
    labelled = line_field(para.lines[0])
    if labelled is not None:
        label, value = labelled
        start = parse_range_start(label) if re.search(r"\d", label) else None
        if start is not None:
            return EscalationTier(after_s=start, target=escalation_target(value), text=value)
        after = AFTER_RE.search(text)
        delay = parse_duration(after.group(1)) if after else None
        return EscalationTier(
            after_s=delay if delay is not None else (0 if index == 0 else None),
            target=label,
            text=text,
        )
    lead = re.match(
        r"^\s*([\d.]{1,6}\s*(?:-|–|to)?\s*[\d.]{0,6}\s*\+?\s*[a-zA-Z]{1,10})\s*[:→-]+\s*(.+)",
        text[:300],
    )
    if lead and parse_range_start(lead.group(1)) is not None:
        return EscalationTier(
            after_s=parse_range_start(lead.group(1)),
            target=escalation_target(lead.group(2)),
            text=lead.group(2),
        )
    after = AFTER_RE.search(text)
    if after and _ESCALATION_VERB.search(text) and parse_duration(after.group(1)) is not None:
        return EscalationTier(
            after_s=parse_duration(after.group(1)), target=escalation_target(text), text=text
        )
    return None


def _tiers_from_table(table: Table) -> list[EscalationTier]:
    time_col = header_index(
        table.header, r"time|after|when|delay|elapsed|minute|duration", exclude=r"response time"
    )
    if time_col is None:
        return []
    contact_col = header_index(
        table.header,
        r"contact|who|owner|target|notify|person|role|"
        r"escalate to|responder",
    )
    action_col = header_index(table.header, r"action|what|step|description")
    tiers = []
    for row in table.rows:
        if time_col >= len(row):
            continue
        start = parse_range_start(row[time_col])
        action = row[action_col] if action_col is not None and action_col < len(row) else ""
        others = [c for i, c in enumerate(row) if i != time_col]
        text = action or " | ".join(others)
        if contact_col is not None and contact_col < len(row) and row[contact_col]:
            target = row[contact_col]
        else:
            target = escalation_target(text)
        tiers.append(EscalationTier(after_s=start, target=target, text=text))
    return tiers


def tiers_from_section(section: Section) -> list[EscalationTier]:
    tiers: list[EscalationTier] = []
    for block in section.blocks:
        if isinstance(block, Table):
            tiers.extend(_tiers_from_table(block))
        elif isinstance(block, ListBlock):
            for index, item in enumerate(block.items):
                tier = _tier_from_item(item, len(tiers) if tiers else index)
                if tier is not None:
                    tiers.append(tier)
    for child in section.children:
        start = parse_range_start(child.title) if re.search(r"\d", child.title) else None
        if start is not None and not child.label:
            body = text_of(child)
            lines = [ln.lstrip("-*0123456789. ").strip() for ln in body.splitlines()]
            escalated = [
                m
                for m in (_ESCALATION_VERB.search(ln) for ln in lines)
                if m and m.group(0).lower().startswith("escalate")
            ]
            actors = [m for m in (_ACTOR_VERB.match(ln) for ln in lines) if m]
            if escalated:
                target = escalated[0].group(1).strip(" .")
            elif actors:
                target = actors[0].group(1)
            else:
                target = re.sub(
                    r"^\s*(level|tier|stage|step)\s*\d+\s*[:.-]?\s*", "", child.title, flags=re.I
                )
                target = TRAILING_PAREN.sub("", target)
                target = re.sub(r"\s+(escalation|response)$", "", target.strip(), flags=re.I)
            tiers.append(EscalationTier(after_s=start, target=target.strip(), text=body))
        elif child.label and not child.children and "channel" not in child.title.lower():
            tiers.extend(tiers_from_section(child))
    return tiers
