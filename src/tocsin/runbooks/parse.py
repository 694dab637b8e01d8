"""A runbook document to a ``Runbook``: which sections are alerts, and what each holds.

General rules only, no per-team cases. An alert section is recognized by what on-call
runbooks have in common: a name shaped like an alert rule (``HighCPUUsage``, in a heading or an
``Alert:`` field), a severity, sub-sections such as Impact / Symptoms / Diagnosis / Mitigation,
and a parent heading that talks about alerts. Enough of that evidence makes a section an alert.
Sections that are not alerts give the runbook-wide parts: severity levels, escalation
matrices, communication templates, channels, contacts and review metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from tocsin.runbooks.commands import (
    find_placeholders,
    guess_language,
    normalize_language,
    promql_words_ok,
    strip_prompts,
)
from tocsin.runbooks.markdown import (
    Block,
    Code,
    Document,
    Line,
    ListBlock,
    ListItem,
    Paragraph,
    Quote,
    Section,
    Table,
    any_field,
    block_text,
    codes_in,
    line_field,
    paragraphs_in,
    parse_document,
)
from tocsin.runbooks.model import (
    Alert,
    Channel,
    Command,
    Contact,
    EscalationTier,
    Phase,
    Problem,
    Runbook,
    SeverityLevel,
    SeverityVariant,
    Step,
    Template,
)
from tocsin.runbooks.risk import classify, is_command_word
from tocsin.runbooks.text import (
    camel_join,
    clean_spaces,
    is_camel_identifier,
    is_identifier,
    is_severity_word,
    load_yaml,
    normalize_severity,
    parse_date,
    parse_duration,
    parse_range_start,
    parse_review_cycle,
    severities_mentioned,
)

# --------------------------------------------------------------------------- vocabulary

_PROSE_FIELDS: dict[str, str] = {
    "impact": "impact",
    "business impact": "impact",
    "user impact": "impact",
    "customer impact": "impact",
    "symptom": "symptoms",
    "symptoms": "symptoms",
    "signs": "symptoms",
    "meaning": "meaning",
    "what it means": "meaning",
    "description": "summary",
    "summary": "summary",
    "overview": "summary",
    "context": "summary",
}
_SEVERITY_FIELDS = {"severity", "priority", "sev", "severity level", "level", "alert severity"}
_THRESHOLD_FIELDS = {
    "threshold",
    "condition",
    "trigger",
    "fires when",
    "expression",
    "expr",
    "query",
    "alert condition",
    "triggers",
}
_REFERENCE_FIELDS = {"dashboards", "dashboard", "runbook", "playbook", "owner", "links", "see also"}
_THRESHOLD_INLINE = re.compile(r"\bthreshold\s*:\s*(.{3,300}?)(?:\n\s*\n|$)", re.I | re.S)
_FIRES_WHEN = re.compile(r"^.*?\b(fires|triggers|alerts|pages|goes off)\s+(when|if)\b\s*:?", re.I)
_NAME_FIELDS = {"alert", "alert name", "alertname", "alerts", "alert rule", "rule", "alert id"}
_GENERIC_TITLES = (
    "response steps",
    "steps",
    "procedure",
    "actions",
    "runbook",
    "what to do",
    "playbook",
    "response",
    "example commands",
    "commands",
    "notes",
    "procedures",
)
_PHASE_KEYWORDS: list[tuple[Phase, tuple[str, ...]]] = [
    ("escalate", ("escalat", "paging", "page on-call", "page the", "who to call")),
    ("other", ("communicat", "status page", "announce")),
    (
        "prevent",
        (
            "prevent",
            "long-term",
            "long term",
            "follow-up",
            "follow up",
            "post-mortem",
            "postmortem",
            "post-incident",
            "lessons",
            "avoid",
            "harden",
        ),
    ),
    ("verify", ("verif", "validat", "confirm", "smoke test", "post-check")),
    (
        "remediate",
        (
            "remediat",
            "mitigat",
            "resolution",
            "resolv",
            "fix",
            "repair",
            "recover",
            "restart",
            "rollback",
            "roll back",
            "workaround",
            "restore",
            "cleanup",
            "clean up",
            "clean",
            "scale",
            "kill",
            "increase",
            "reduce",
            "block",
            "enable",
            "disable",
            "emergency",
            "rebuild",
            "expand",
            "failover",
            "intervention",
            "terminate",
            "flush",
            "clear",
            "apply",
            "rotate",
            "optimi",
            "upgrade",
            "reset",
            "remove",
            "free up",
            "unblock",
            "drain",
            "delete",
            "re-run",
            "rerun",
            "roll it back",
            "revert",
            "failover",
            "fail over",
            "purge",
        ),
    ),
    (
        "diagnose",
        (
            "diagnos",
            "investigat",
            "troubleshoot",
            "triage",
            "identify",
            "check",
            "debug",
            "analy",
            "inspect",
            "review",
            "immediate action",
            "detect",
            "find",
            "look",
            "query",
            "queries",
            "determine",
            "assess",
            "examine",
            "root cause",
            "common cause",
            "common issue",
            "what to check",
            "logs",
            "monitor",
            "first response",
            "initial response",
            "status",
            "gather",
            "collect",
            "fetch",
            "get the",
            "view",
            "observe",
            "measure",
        ),
    ),
]
_STOP_NAMES = {
    "runbook",
    "runbooks",
    "alerts",
    "alert",
    "overview",
    "index",
    "readme",
    "introduction",
    "contents",
    "summary",
    "impact",
    "meaning",
    "diagnosis",
    "mitigation",
    "symptoms",
    "remediation",
    "investigation",
    "resolution",
    "prevention",
    "escalation",
    "description",
    "tools",
    "contacts",
    "configuration",
    "email",
    "slack",
    "pagerduty",
    "references",
    "resources",
    "appendix",
    "glossary",
    "changelog",
    "notes",
    "example",
    "examples",
    "testing",
    "purpose",
    "audience",
    "scope",
    "background",
    "dashboard",
    "dashboards",
}
_STRUCTURE_WORDS = (
    "impact",
    "symptom",
    "meaning",
    "diagnos",
    "investigat",
    "remediat",
    "mitigat",
    "resolution",
    "response step",
    "immediate action",
    "threshold",
    "escalat",
    "prevent",
    "description",
    "troubleshoot",
    "fix",
    "verif",
    "runbook",
    "severity",
    "recovery",
    "triage",
)


def _norm(title: str) -> str:
    title = title[:300]
    title = re.sub(r"^\s*(step\s+)?\d+(\.\d+)*[.):]?\s+", "", title, flags=re.I)
    title = re.sub(r"^\s*(?:[a-h]|i{1,3}|iv|vi{0,3})[.)]\s+", "", title, flags=re.I)
    title = re.sub(r"\s*\([^)]*\)\s*$", "", title)
    return clean_spaces(title.strip(" :*-–")).lower()


def phase_of(title: str, step: bool = False) -> Phase | None:
    """Phase a heading names (``Detailed Troubleshooting`` -> diagnose); None when the title
    is generic (``Response Steps``) or conditional (``If restart doesn't help``). The keyword
    that comes first decides (``Identify blocking queries`` is a diagnosis). A step's own
    title (``step=True``) is read after its condition: ``If the deploy is bad, roll back``
    -> remediate."""
    lowered = _norm(title)
    if step:
        lowered = re.sub(r"^(if|when|once|after)\b(?! to\b)[^,:]*[,:]\s*", "", lowered)
        lowered = re.sub(
            r"^(as a last resort|otherwise|then|finally|optionally)[,:]?\s*", "", lowered
        )
        if re.match(r"^(page|notify|call|contact|escalate|inform|alert)\b", lowered):
            return "escalate"
    if not lowered or re.match(
        r"^(if|when(?! to\b)|option|case|scenario|otherwise|else)\b", lowered
    ):
        return None
    if lowered in _GENERIC_TITLES:
        return None
    best: tuple[int, int, Phase] | None = None
    for rank, (phase, words) in enumerate(_PHASE_KEYWORDS):
        for word in words:
            at = lowered.find(word)
            while at > 0 and lowered[at - 1].isalpha():  # only at the start of a word
                at = lowered.find(word, at + 1)
            if at != -1 and (best is None or (at, rank) < best[:2]):
                best = (at, rank, phase)
    return best[2] if best else None


def accept_plain_label(title: str) -> bool:
    """Which plain one-line paragraphs (``How to fix:``, ``Steps:``, ``What it means:``) open a
    section: the words runbooks use to head their parts."""
    lowered = _norm(title)
    if prose_field(title) or lowered in _THRESHOLD_FIELDS or lowered in _GENERIC_TITLES:
        return True
    if re.match(r"^(if|when|option|case|scenario|otherwise|else)\b", lowered):
        return False
    return phase_of(title) is not None and len(lowered.split()) <= 4


def prose_field(title: str) -> str | None:
    lowered = _norm(title)
    return _PROSE_FIELDS.get(lowered)


def _is_structural(title: str) -> bool:
    lowered = _norm(title)
    return any(w in lowered for w in _STRUCTURE_WORDS)


# --------------------------------------------------------------------------- names


_NUMBERING = re.compile(r"^\s*(?:alert\s*[:#-]\s*)?(?:\d+(?:\.\d+)*[.):]?\s+)?", re.I)
_TRAILING_PAREN = re.compile(r"\s*[\(\[]([^)\]]*)[\)\]]\s*$")
_NAME_SPLIT = re.compile(r"\s*(?:/|,|&|\||\+|\band\b|\bor\b)\s*")


def title_names(title: str) -> tuple[list[str], str | None]:
    """Alert names a heading carries, and a severity written in it:
    ``1. APIUnresponsive`` -> (["APIUnresponsive"], None);
    ``TestWatcherDown (Critical)`` -> (["TestWatcherDown"], "Critical");
    ``HighAPILatency / CriticalAPILatency`` -> both names."""
    if len(title) > 300:  # no alert name is that long
        return [], None
    text = _NUMBERING.sub("", title, count=1).strip()
    severity = None
    paren = _TRAILING_PAREN.search(text)
    if paren and is_severity_word(paren.group(1)):
        severity = paren.group(1).strip()
        text = text[: paren.start()]
    text = re.sub(r"\s*[-–—:]\s*(critical|warning|high|info|p[0-5])\s*$", "", text, flags=re.I)
    text = text.strip(" `*:")
    parts = [p.strip(" `*") for p in _NAME_SPLIT.split(text) if p.strip(" `*")]
    if parts and all(is_identifier(p) for p in parts):
        return parts, severity
    lead = re.match(r"^`?([A-Za-z_][\w:]*)`?\s*(?:\s[-–—:]\s+.+|\s*\([^)]*\))$", text)
    if lead and is_camel_identifier(lead.group(1)):
        return [lead.group(1)], severity  # "HighCPUUsage - CPU above 90%"
    return [], severity


_KNOWN_FIELDS_RE = re.compile(
    r"^(severity|priority|sev|severity level|threshold|condition|expression|expr|trigger|"
    r"fires when|alert|alert name|alertname|impact|summary|description|symptoms?|meaning)$",
    re.I,
)


def _list_fields(block: Block) -> list[ListItem]:
    """Items of a list that are known fields (``- **Severity**: critical``)."""
    if not isinstance(block, ListBlock):
        return []
    found = []
    for item in block.items:
        para = item.blocks[0] if item.blocks and isinstance(item.blocks[0], Paragraph) else None
        labelled = any_field(para.lines[0]) if para and para.lines else None
        if labelled and labelled[1] and _KNOWN_FIELDS_RE.match(labelled[0].strip()):
            found.append(item)
    return found


def _field_lines(blocks: list[Block]) -> list[tuple[str, str, Line, int]]:
    """``**Label**: value`` or ``Severity: value`` lines of the paragraphs (and quoted notes)
    directly in a section. A label alone on its line takes the paragraph's next lines as its
    value (``Threshold:`` then ``expr for 10m`` on the next line)."""
    out = []
    paragraphs = [b for b in blocks if isinstance(b, Paragraph)]
    for quote in (b for b in blocks if isinstance(b, Quote)):
        paragraphs.extend(b for b in quote.blocks if isinstance(b, Paragraph))
    for block in blocks:
        for item in _list_fields(block):
            first = item.blocks[0]
            assert isinstance(first, Paragraph)
            paragraphs.append(Paragraph([first.lines[0]], item.line))
    for block in paragraphs:
        lines = block.lines
        k = 0
        while k < len(lines):
            found = any_field(lines[k])
            if found is not None:
                label, value = found
                line = lines[k]
                if not value and k + 1 < len(lines) and any_field(lines[k + 1]) is None:
                    rest = lines[k + 1 :]
                    value = " ".join(ln.text for ln in rest)
                    line = Line([s for ln in lines[k:] for s in ln.segments])
                    k = len(lines)
                out.append((label, value, line, block.line))
            k += 1
    return out


def _names_from_field(line: Line, field_value: str = "") -> tuple[list[str], str]:
    """Names in an ``Alert:`` field: leading code spans (``\\`InstanceDown\\` - text``) or a
    bare identifier; the rest is the alert's summary."""
    segs = [s for s in line.segments if s.text.strip()][1:]
    names: list[str] = []
    rest_at = 0
    for i, seg in enumerate(segs):
        stripped = seg.text.strip(" :,/")
        if seg.kind == "code" and is_identifier(seg.text.strip()):
            names.append(seg.text.strip())
            rest_at = i + 1
        elif seg.kind == "text" and stripped == "":
            rest_at = i + 1
            continue
        else:
            break
    rest = clean_spaces("".join(s.text for s in segs[rest_at:])).lstrip(":-–— ")
    if names:
        return names, rest
    value = clean_spaces("".join(s.text for s in segs)).lstrip(": ") or field_value
    parts = [p for p in _NAME_SPLIT.split(value) if p]
    if parts and all(is_camel_identifier(p) for p in parts):
        return parts, ""
    return [], value


# --------------------------------------------------------------------------- parse state


@dataclass
class _Context:
    source: str
    runbook: Runbook
    problems: list[Problem] = field(default_factory=list)


def _text_of(section: Section, include_children: bool = True) -> str:
    parts = [section.value] if section.value else []
    parts += [block_text(b) for b in section.blocks]
    if include_children:
        for child in section.children:
            child_text = _text_of(child)
            parts.append(f"{child.title}:\n{child_text}" if child_text else child.title)
    return "\n".join(p for p in parts if p).strip()


def _text_with_code(section: Section) -> str:
    parts = [section.value] if section.value else []
    for block in section.blocks:
        parts.append(block.code.strip() if isinstance(block, Code) else block_text(block))
    return "\n".join(p for p in parts if p).strip()


def _inline_commands(line: Line, line_no: int) -> list[Command]:
    out = []
    for seg in line.segments:
        if seg.kind != "code":
            continue
        words = seg.text.split()
        if len(words) < 2 or not is_command_word(words[0], words[1]):
            continue
        out.append(_command(seg.text, "", line_no, inline=True))
    return out


def _command(code: str, info: str, line: int, inline: bool = False) -> Command:
    language = normalize_language(info)
    cleaned = strip_prompts(code) if language in ("bash", "powershell", "") else code.rstrip("\n")
    if not language:
        language = guess_language(cleaned)
    verdict = classify(code, language)
    return Command(
        language=language,
        code=cleaned,
        risk=verdict.risk,
        risk_reason=verdict.reason,
        placeholders=find_placeholders(cleaned, language),
        line=line,
        inline=inline,
    )


_TEMPLATE_START = re.compile(r"^\s*\[[A-Z][A-Z _-]{2,}\]")


_RULE_DEFINITION = re.compile(r"^\s*(-\s+)?alert:\s*\S+", re.M)


def is_template_code(code: Code) -> bool:
    """A block that is reference material, not a command: a communication template
    (``[INCIDENT] …``) or a Prometheus alerting rule that is YAML through and through."""
    language = normalize_language(code.info)
    if language == "" and _TEMPLATE_START.match(code.code):
        return True
    if language not in ("yaml", "") or _RULE_DEFINITION.search(code.code) is None:
        return False
    return bool(_yaml_rules(load_yaml(code.code)))


def _commands_of(blocks: list[Block]) -> list[Command]:
    out = []
    for code in codes_in(blocks):
        if not is_template_code(code):
            out.append(_command(code.code, code.info, code.line))
    for para in paragraphs_in(blocks):
        for line in para.lines:
            out.extend(_inline_commands(line, para.line))
    return out


def _step_from_item(item: ListItem, phase: Phase | None, default_title: str) -> Step:
    title = default_title
    first_para = next((b for b in item.blocks if isinstance(b, Paragraph)), None)
    if first_para is not None and first_para.lines:
        labelled = line_field(first_para.lines[0])
        title = labelled[0] if labelled else first_para.lines[0].plain
    text = "\n".join(block_text(b) for b in item.blocks if not isinstance(b, Code)).strip()
    own = phase_of(title, step=True) if phase is None else phase
    return Step(
        phase=own or "other",
        title=_short(title),
        text=text,
        commands=_commands_of(item.blocks),
        line=item.line,
    )


def _short(title: str, limit: int = 120) -> str:
    title = clean_spaces(title).rstrip(":")
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


_LETTERED = re.compile(r"^\s*(?:[a-h]|i{1,3}|iv|v|vi{1,3})[.)]\s+\S|^\s*step\s+\d+\s*[:.)-]", re.I)


def _steps_from_blocks(
    blocks: list[Block], phase: Phase | None, title: str, line: int, value: str = ""
) -> list[Step]:
    """Steps in a phase section: each list item is a step; a run of paragraphs, tables and
    code blocks is one step (a short paragraph ending in ``:`` before code starts a new one)."""
    steps: list[Step] = []
    current: dict[str, Any] | None = None

    def flush() -> None:
        nonlocal current
        if current is not None and (current["text"] or current["commands"]):
            step_title = current["title"]
            own = phase or phase_of(step_title, step=True) or "other"
            steps.append(
                Step(
                    phase=own,
                    title=_short(step_title),
                    text="\n".join(current["text"]).strip(),
                    commands=current["commands"],
                    line=current["line"],
                )
            )
        current = None

    def start(step_title: str, at: int) -> dict[str, Any]:
        return {"title": step_title, "text": [], "commands": [], "line": at}

    if value:
        current = start(title, line)
        current["text"].append(value)
    for i, block in enumerate(blocks):
        previous = blocks[i - 1] if i else None
        if isinstance(block, ListBlock):
            flush()
            steps.extend(_step_from_item(item, phase, title) for item in block.items)
        elif isinstance(block, Code):
            if is_template_code(block):
                continue
            if current is None and isinstance(previous, ListBlock) and steps:
                # a fence written at column 0 after "3. roll back:" belongs to that item
                steps[-1].commands.append(_command(block.code, block.info, block.line))
                continue
            if current is None:
                current = start(title, block.line)
            current["commands"].append(_command(block.code, block.info, block.line))
        elif isinstance(block, Paragraph):
            text = block.text
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            if _LETTERED.match(text):
                flush()
                current = start(block.lines[0].text, block.line)
                current["text"].append(text)
                for ln in block.lines:
                    current["commands"].extend(_inline_commands(ln, block.line))
                continue
            if isinstance(nxt, Code) and text.endswith(":") and len(text) <= 100:
                flush()
                current = start(text, block.line)
                continue
            if current is None:
                current = start(title, block.line)
            current["text"].append(text)
            for ln in block.lines:
                current["commands"].extend(_inline_commands(ln, block.line))
        else:
            if current is None:
                current = start(title, block.line)
            current["text"].append(block_text(block))
            if isinstance(block, Quote):
                current["commands"].extend(_commands_of(block.blocks))
            elif isinstance(block, Table):
                for row in block.cells:
                    for cell in row:
                        current["commands"].extend(_inline_commands(cell, block.line))
    flush()
    return steps


# --------------------------------------------------------------------------- escalation

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


_AFTER_RE = re.compile(r"\b(?:after|in|within|past|beyond|over|>)\s*(\d+\s*\+?\s*\w+)", re.I)


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
        after = _AFTER_RE.search(text)
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
    after = _AFTER_RE.search(text)
    if after and _ESCALATION_VERB.search(text) and parse_duration(after.group(1)) is not None:
        return EscalationTier(
            after_s=parse_duration(after.group(1)), target=escalation_target(text), text=text
        )
    return None


def _header_index(header: list[str], pattern: str, exclude: str | None = None) -> int | None:
    for i, cell in enumerate(header):
        lowered = cell.lower()
        if re.search(pattern, lowered) and not (exclude and re.search(exclude, lowered)):
            return i
    return None


def _tiers_from_table(table: Table) -> list[EscalationTier]:
    time_col = _header_index(
        table.header, r"time|after|when|delay|elapsed|minute|duration", exclude=r"response time"
    )
    if time_col is None:
        return []
    contact_col = _header_index(
        table.header,
        r"contact|who|owner|target|notify|person|role|"
        r"escalate to|responder",
    )
    action_col = _header_index(table.header, r"action|what|step|description")
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


def _tiers_from_section(section: Section) -> list[EscalationTier]:
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
            body = _text_of(child)
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
                target = _TRAILING_PAREN.sub("", target)
                target = re.sub(r"\s+(escalation|response)$", "", target.strip(), flags=re.I)
            tiers.append(EscalationTier(after_s=start, target=target.strip(), text=body))
        elif child.label and not child.children and "channel" not in child.title.lower():
            tiers.extend(_tiers_from_section(child))
    return tiers


# --------------------------------------------------------------------------- alerts


def _alert_evidence(section: Section, parents: list[Section]) -> list[str] | None:
    if section.label:
        return None
    fields = _field_lines(section.blocks)
    for label, value, line, _ln in fields:
        if label.lower() in _NAME_FIELDS:
            names, _rest = _names_from_field(line, value)
            if names:
                return names
    names, heading_severity = title_names(section.title)
    if not names:
        return None
    if any(is_severity_word(n) or n.lower() in _STOP_NAMES for n in names):
        return None
    score = 0
    if all(is_camel_identifier(n) for n in names):
        score += 2
    if heading_severity or any(label.lower() in _SEVERITY_FIELDS for label, *_ in fields):
        score += 2
    structure = sum(1 for child in section.children if _is_structural(child.title))
    structure += sum(1 for label, *_ in fields if _is_structural(label))
    score += min(structure, 2)
    if any("alert" in p.title.lower() for p in parents if p.title):
        score += 1
    if section.level == 1:
        score += 1
    if score < 3:
        return None
    for child in section.children:
        if not child.label and _alert_evidence(child, [*parents, section]):
            return None  # "# PaymentService" holding "## HighErrorRate": a container
    return names


def _build_alerts(ctx: _Context, section: Section, names: list[str], front: dict[str, Any]) -> None:
    fields = _field_lines(section.blocks)
    _names, heading_severity = title_names(section.title)
    severity_raw = heading_severity
    threshold = None
    summary = None
    prose: dict[str, list[str]] = {"impact": [], "symptoms": [], "meaning": [], "summary": []}
    steps: list[Step] = []
    variants: list[SeverityVariant] = []
    tiers: list[EscalationTier] = []
    field_paragraph_lines: set[int] = set()

    for label, value, line, line_no in fields:
        key = label.lower()
        if key in _NAME_FIELDS:
            _n, rest = _names_from_field(line, value)
            summary = rest or summary
        elif key in _SEVERITY_FIELDS:
            severity_raw = severity_raw or value.strip("` ") or None
        elif is_severity_word(label):  # "**Sev 2** (Sev 1 if all nodes are affected)"
            severity_raw = severity_raw or f"{label} {value}".strip()
        elif key in _THRESHOLD_FIELDS:
            threshold = threshold or value
        elif key in _REFERENCE_FIELDS:
            pass
        elif prose_field(label):
            prose[prose_field(label) or "summary"].append(value)
        else:
            phase = phase_of(label)
            steps.append(
                Step(
                    phase=phase or "other",
                    title=_short(label),
                    text=value,
                    commands=_inline_commands(line, line_no),
                    line=line_no,
                )
            )
            if phase == "escalate":
                tier_text = value
                after = _AFTER_RE.search(tier_text)
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
        fields_here = _list_fields(block)
        if fields_here and isinstance(block, ListBlock):
            kept_items = [i for i in block.items if i not in fields_here]
            if kept_items:
                trimmed.append(ListBlock(ordered=block.ordered, items=kept_items, line=block.line))
        else:
            trimmed.append(block)
    if trimmed:
        steps.extend(_steps_from_blocks(trimmed, None, section.title, section.line))

    templates: list[Template] = []

    def visit(child: Section, inherited: Phase | None) -> None:
        nonlocal threshold, severity_raw
        title_key = prose_field(child.title)
        if title_key:
            prose[title_key].append(_text_of(child))
            for label, value, _line, _no in _field_lines(child.blocks):
                if label.lower() in _THRESHOLD_FIELDS and threshold is None:
                    threshold = value
            return
        lowered = _norm(child.title)
        if lowered in _THRESHOLD_FIELDS:
            threshold = threshold or _text_with_code(child)
            return
        if (
            child.label
            and is_severity_word(child.title)
            and (not child.blocks or severity_raw is None)
        ):
            # "**Sev 2** (Sev 1 if all nodes are affected)" on its own line
            severity_raw = severity_raw or f"{child.title} {child.value}".strip()
            steps.extend(_steps_from_blocks(child.blocks, inherited, section.title, child.line))
            for grandchild in child.children:
                visit(grandchild, inherited)
            return
        if is_severity_word(child.title):
            steps.extend(_section_steps(child, inherited))  # its commands stay visible
            variants.append(
                SeverityVariant(
                    severity=normalize_severity(child.title) or child.title,
                    title=child.title,
                    text=_text_of(child),
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
            tiers.extend(_tiers_from_section(child))
        steps.extend(_steps_from_blocks(child.blocks, phase, child.title, child.line, child.value))
        for grandchild in child.children:
            visit(grandchild, phase)

    for child in section.children:
        visit(child, None)

    if severity_raw is None:
        for key in ("severity", "priority"):
            if front.get(key) is not None and len(ctx.runbook.alerts) == 0:
                severity_raw = str(front[key])
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
        expr, for_s = _expression(threshold, section, name, shared=len(names) > 1)
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


# --------------------------------------------------------------------------- thresholds

_COMPARISON = re.compile(
    r"(==|!=|>=|<=|>|<)\s*(bool\s+)?-?[\d(][\d\s.()*+/-]*(e[+-]?\d+)?\s*\)?\s*$", re.I
)
_FOR_CLAUSE = re.compile(
    r"\s+for\s+(?:at\s+least\s+|more\s+than\s+|>\s*)?((?:\d+[a-z]+){2,}|\d+\s*\+?\s*[a-zA-Z]+)"
    r"\s*\.?\s*$",
    re.I,
)


def is_promql_expression(text: str, require_comparison: bool = True) -> bool:
    """A threshold written as PromQL (``up{job="backend"} == 0``, ``absent(up{job="x"})``)
    rather than prose (``95th percentile > 1 second``)."""
    if not text or len(text) > 2000:
        return False
    if text.count("(") != text.count(")") or text.count("{") != text.count("}"):
        return False
    if not promql_words_ok(text):
        return False
    if _COMPARISON.search(text):
        return bool(re.search(r"[A-Za-z_:][\w:]*", text))
    return not require_comparison and bool(
        re.search(r"[A-Za-z_:][\w:]*\s*(\{[^}]*[=~]|\[|\()", text)
    )


def _expression(
    threshold: str | None, section: Section, name: str, shared: bool
) -> tuple[str | None, int | None]:
    """PromQL and ``for`` of the alert: from a Prometheus rule for this alert shown in a YAML
    block of its section, else from a threshold written as PromQL
    (``up{job="backend"} == 0 for 2 minutes``). A threshold shared by several alert names
    gives only the ``for``: which name it belongs to is not said."""
    rule = _rule_from_yaml(section, name)
    if rule is not None:
        return rule
    expr, for_s = None, None
    if threshold:
        text = threshold.strip()
        spans = re.findall(r"`([^`]+)`", text)
        found_for = _FOR_CLAUSE.search(text)
        if found_for:
            for_s = parse_duration(found_for.group(1))
            text = text[: found_for.start()]
        candidates = [s.strip() for s in spans] + [text.replace("`", "").strip()]
        candidates = [re.sub(r"\s+", " ", c) for c in candidates]
        if not shared:
            expr = next((c for c in candidates if is_promql_expression(c)), None)
            # a code span is written as an expression: it may be one without a comparison
            expr = expr or next((c for c in spans if is_promql_expression(c, False)), None)
    return expr, for_s


def _rule_from_yaml(section: Section, name: str) -> tuple[str, int | None] | None:
    for code in codes_in(section.blocks + [b for c in section.children for b in c.blocks]):
        if normalize_language(code.info) not in ("yaml", "") or "expr" not in code.code:
            continue
        loaded = load_yaml(code.code)
        for rule in _yaml_rules(loaded):
            expr = rule.get("expr")
            if isinstance(expr, (str, int, float)) and rule.get("alert") == name:
                for_value = rule.get("for")
                if len(str(expr)) > 4000:
                    return None
                return str(expr).strip(), parse_duration(str(for_value)) if for_value else None
    return None


def _yaml_rules(loaded: object, depth: int = 0) -> list[dict[str, Any]]:
    if depth > 6:
        return []
    if isinstance(loaded, dict):
        if "alert" in loaded and "expr" in loaded:
            return [loaded]
        return [r for v in loaded.values() for r in _yaml_rules(v, depth + 1)]
    if isinstance(loaded, list):
        return [r for v in loaded for r in _yaml_rules(v, depth + 1)]
    return []


# --------------------------------------------------------------------------- runbook-wide


def _severity_levels_from_table(table: Table) -> list[SeverityLevel]:
    sev_col = _header_index(table.header, r"severity|priority|^level$|^sev")
    resp_col = _header_index(table.header, r"response|sla|ack|time to")
    if sev_col is None or resp_col is None:
        return []
    esc_col = _header_index(table.header, r"escalation")
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


def _severity_level_from_section(section: Section) -> SeverityLevel | None:
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


_SLACK_CHANNEL = re.compile(r"(?<![\w&/#@])#([a-z0-9][a-z0-9._-]{0,79})(?![\w-])")
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}\b")
_HANDLE = re.compile(r"(?<![\w.@])@([A-Za-z0-9][\w.-]*[A-Za-z0-9])")
_PHONE = re.compile(r"\+\d[\d\s().A-Za-z-]{5,}[\dA-Za-z]")
_KIND_WORDS = {
    "slack",
    "email",
    "e-mail",
    "phone",
    "on-call",
    "oncall",
    "pagerduty",
    "pager",
    "mobile",
    "hotline",
    "24/7 hotline",
}


def _channels_and_contacts(ctx: _Context, section: Section, in_contacts: bool) -> None:
    rb = ctx.runbook
    contact_section = in_contacts or bool(
        re.search(r"contact|escalation contact|who to call", section.title, re.I)
    )
    group = section.title
    items: list[tuple[str, str]] = []  # (text, label context)
    for block in section.blocks:
        if isinstance(block, Paragraph):
            for line in block.lines:
                labelled = line_field(line)
                if labelled and not labelled[1]:
                    group = labelled[0]
                items.append((line.text, group))
        elif isinstance(block, ListBlock):
            for item in block.items:
                text = "\n".join(block_text(b) for b in item.blocks if not isinstance(b, Code))
                items.append((text, group))
        elif isinstance(block, Table):
            items.extend((" | ".join(row), group) for row in block.rows)
    for text, label_context in items:
        plain = text.replace("`", "").replace("**", "")[:4000]
        mentioned = severities_mentioned(plain)
        for match in _SLACK_CHANNEL.finditer(plain):
            if not re.search(r"[a-z]", match.group(1)):
                continue
            name = "#" + match.group(1).rstrip(".")
            if any(c.kind == "slack" and c.name == name for c in rb.channels):
                continue
            rest = plain[match.end() :].strip(" :-–()")
            rest = rest.split("\n", 1)[0]
            own = severities_mentioned(rest)
            rb.channels.append(
                Channel(
                    kind="slack",
                    name=name,
                    text=rest[:200],
                    severity=next(iter(own)) if len(own) == 1 else None,
                )
            )
        for match in _EMAIL.finditer(plain):
            name = match.group(0)
            if not any(c.kind == "email" and c.name == name for c in rb.channels):
                rest = plain[match.end() :].split("\n", 1)[0].strip(" :-–()")
                rb.channels.append(
                    Channel(
                        kind="email",
                        name=name,
                        text=rest[:200],
                        severity=next(iter(mentioned)) if len(mentioned) == 1 else None,
                    )
                )
        if re.search(r"\bpagerduty\b", plain, re.I) and not any(
            c.kind == "pagerduty" for c in rb.channels
        ):
            rb.channels.append(
                Channel(kind="pagerduty", name="PagerDuty", text=plain.split("\n", 1)[0][:200])
            )
        if contact_section:
            label = re.match(r"^\s*([^:\n]{1,60}?)\s*:", plain)
            name = label.group(1).strip() if label else label_context
            if name.lower().strip() in _KIND_WORDS or not name or name[:1] in "#@":
                name = label_context or name
            name = re.sub(r"\s*\[.*$", "", name).strip() or label_context
            for m in _EMAIL.finditer(plain):
                rb.contacts.append(Contact(name=name, kind="email", value=m.group(0)))
            for m in _PHONE.finditer(plain):
                rb.contacts.append(Contact(name=name, kind="phone", value=m.group(0).strip()))
            for m in _HANDLE.finditer(plain):
                rb.contacts.append(Contact(name=name, kind="slack", value="@" + m.group(1)))
            for m in _SLACK_CHANNEL.finditer(plain):
                if re.search(r"[a-z]", m.group(1)):
                    rb.contacts.append(Contact(name=name, kind="slack", value="#" + m.group(1)))
            if re.search(r"\bpagerduty\b", plain, re.I):
                rb.contacts.append(
                    Contact(
                        name=name, kind="pagerduty", value=plain.split(":", 1)[-1].strip()[:200]
                    )
                )
    for child in section.children:
        _channels_and_contacts(ctx, child, contact_section)


_META_KEYS = {
    "last updated": "last_updated",
    "last_updated": "last_updated",
    "updated": "last_updated",
    "lastupdated": "last_updated",
    "last reviewed": "last_updated",
    "date": "last_updated",
    "last review": "last_updated",
    "reviewed": "last_updated",
    "review frequency": "review_cycle",
    "review cycle": "review_cycle",
    "review_cycle": "review_cycle",
    "review schedule": "review_cycle",
    "review": "review_cycle",
    "review interval": "review_cycle",
    "review every": "review_cycle",
    "review period": "review_cycle",
    "reviewed on": "last_updated",
    "last modified": "last_updated",
    "updated at": "last_updated",
    "lastreviewed": "last_updated",
    "document owner": "owner",
    "owner": "owner",
    "maintained by": "owner",
    "maintainer": "owner",
    "team": "owner",
    "version": "version",
}


def _metadata(ctx: _Context, sections: list[Section], front: dict[str, Any]) -> None:
    meta = ctx.runbook.metadata
    for key, value in list(front.items())[:200]:
        if isinstance(value, (str, int, float)) or hasattr(value, "isoformat"):
            meta.fields[str(key)[:200]] = str(value)[:1000]
    for section in sections:
        for label, value, _line, _no in _field_lines(section.blocks):
            if value and len(meta.fields) < 200:
                meta.fields.setdefault(label, value)
    for key, value in meta.fields.items():
        attr = _META_KEYS.get(re.sub(r"[\s_-]+", " ", key.lower()).strip())
        if attr and getattr(meta, attr) is None:
            setattr(meta, attr, value)
    when = parse_date(meta.last_updated)
    meta.last_updated_date = when.isoformat() if when else None
    meta.review_cycle_days = parse_review_cycle(meta.review_cycle)


# --------------------------------------------------------------------------- entry


def _split_field_alerts(section: Section) -> None:
    """Alerts written without headings of their own, one ``Alert: Name`` block after another
    (often between ``---`` rules), become sections of their own."""
    for child in section.children:
        if not child.label:
            _split_field_alerts(child)
    starts: list[tuple[int, list[str]]] = []
    for block in section.blocks:
        if isinstance(block, Paragraph) and block.lines:
            found = any_field(block.lines[0])
            if found and found[0].lower() in _NAME_FIELDS:
                names, _rest = _names_from_field(block.lines[0], found[1])
                if names:
                    starts.append((block.line, names))
    if len(starts) < 2 and not (starts and section.level == 0):
        return
    headings_after = [c.line for c in section.children if not c.label and c.line > starts[-1][0]]
    last_end = min(headings_after, default=10**9)
    first = starts[0][0]
    pieces: list[Section] = []
    for k, (line, names) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else last_end
        pieces.append(
            Section(
                title=" / ".join(names),
                level=section.level + 0.5,
                line=line,
                blocks=[b for b in section.blocks if line <= b.line < end],
                children=[c for c in section.children if line < c.line < end],
            )
        )
    section.children = (
        [c for c in section.children if c.line < first]
        + pieces
        + [c for c in section.children if c.line >= last_end]
    )
    section.blocks = [b for b in section.blocks if b.line < first or b.line >= last_end]


_ALERT_COLUMN = r"^(alert|alerts|alert name|alertname|alert rule|rule|name)$"


def _section_steps(section: Section, inherited: Phase | None) -> list[Step]:
    phase = phase_of(section.title) or inherited
    steps = _steps_from_blocks(section.blocks, phase, section.title, section.line, section.value)
    for child in section.children:
        steps.extend(_section_steps(child, phase))
    return steps


def _table_alerts(ctx: _Context, table: Table, doc: Document) -> None:
    """A table with one alert per row (``| Alert | Severity | Description | Action |``)."""
    col = _header_index(table.header, _ALERT_COLUMN)
    if col is None:
        return
    sev_col = _header_index(table.header, r"severity|priority|^sev|^level$")
    desc_col = _header_index(
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
            parts = [p for p in _NAME_SPLIT.split(cells[col].plain) if p]
            names = parts if parts and all(is_identifier(p) for p in parts) else []
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
                    title=_short(cells[a].plain, 80),
                    text=cells[a].text,
                    commands=_inline_commands(cells[a], line_no),
                    line=line_no,
                )
            )
            for link in doc.links:
                target = anchors.get(link.href[1:].lower()) if link.href.startswith("#") else None
                if link.line == line_no and target is not None:
                    steps.extend(_section_steps(target, None))
        expr, for_s = _expression(
            threshold, Section(title="", level=0, line=line_no), names[0], shared=len(names) > 1
        )
        for name in names:
            if any(a.name == name for a in ctx.runbook.alerts):
                continue
            ctx.runbook.alerts.append(
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


def _severity_levels_from_list(section: Section) -> list[SeverityLevel]:
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


def parse_runbook(text: str, source: str) -> tuple[Runbook, list[Problem], Document]:
    """Read one runbook. Returns the runbook, the problems found in this document alone, and
    the parsed document (for lint)."""
    doc = parse_document(text, accept_plain_label)
    _split_field_alerts(doc.root)
    front = doc.front_matter
    first_h1 = next((s for s in doc.root.children if s.level == 1 and not s.label), None)
    stem = PurePath(source).stem
    title = str(front.get("title") or (first_h1.title if first_h1 else "") or stem)
    ctx = _Context(source=source, runbook=Runbook(source=source, title=title))
    non_alert: list[Section] = [doc.root]

    def walk(section: Section, parents: list[Section]) -> None:
        names = _alert_evidence(section, parents) if section is not doc.root else None
        if names:
            _build_alerts(ctx, section, names, front)
            return
        if section is not doc.root:
            non_alert.append(section)
        for child in section.children:
            walk(child, [*parents, section])

    walk(doc.root, [])

    for section in non_alert:
        for block in section.blocks:
            if isinstance(block, Table):
                _table_alerts(ctx, block, doc)
    if not ctx.runbook.alerts:
        _single_alert_file(ctx, doc, first_h1, front, stem)

    for section in non_alert:
        for listed in _severity_levels_from_list(section):
            if not any(x.name == listed.name for x in ctx.runbook.severity_levels):
                ctx.runbook.severity_levels.append(listed)
        for block in section.blocks:
            if isinstance(block, Table):
                for level in _severity_levels_from_table(block):
                    if not any(x.name == level.name for x in ctx.runbook.severity_levels):
                        ctx.runbook.severity_levels.append(level)
        section_level = _severity_level_from_section(section)
        if section_level and not any(
            x.name == section_level.name for x in ctx.runbook.severity_levels
        ):
            ctx.runbook.severity_levels.append(section_level)
        if not section.label and "escalat" in section.title.lower() and not ctx.runbook.escalation:
            ctx.runbook.escalation = _tiers_from_section(section)
        if re.search(r"template", section.title, re.I) and not section.label:
            _templates(ctx, section)
    _channels_and_contacts(ctx, doc.root, False)
    _metadata(ctx, non_alert, front)
    return ctx.runbook, ctx.problems, doc


def _templates(ctx: _Context, section: Section) -> None:
    def add(name: str, code: Code) -> None:
        if not any(t.text == code.code.rstrip("\n") for t in ctx.runbook.templates):
            ctx.runbook.templates.append(
                Template(name=name, text=code.code.rstrip("\n"), line=code.line)
            )

    for code in codes_in(section.blocks):
        add(section.title, code)
    for child in section.children:
        for code in codes_in(child.blocks):
            add(child.title, code)


def _single_alert_file(
    ctx: _Context, doc: Document, first_h1: Section | None, front: dict[str, Any], stem: str
) -> None:
    """One alert per file (``# CPU Throttling High`` / ``## Meaning`` …): the name comes from
    the front matter, else the file name, else the heading's words."""
    section = first_h1 if first_h1 is not None else doc.root
    structural = sum(1 for c in section.children if _is_structural(c.title))
    if structural < 2:
        return
    declared = front.get("alert") or front.get("alertname") or front.get("name")
    candidates = [str(declared)] if declared else []
    candidates += [stem, camel_join(section.title or "") or ""]
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
    _build_alerts(ctx, section, [name], front)
