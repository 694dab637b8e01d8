"""Alert names and ``Label: value`` fields: the names a heading holds (``HighCPU / HighMemory``,
``1. DiskFull (critical)``), the fields of a section's paragraphs and lists, and the names an
``Alert:`` field lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tocsin.runbooks.markdown import Block, Line, ListBlock, ListItem, Paragraph, Quote, any_field
from tocsin.runbooks.text import clean_spaces, is_camel_identifier, is_identifier, is_severity_word

_NUMBERING = re.compile(r"^\s*(?:\d+(?:\.\d+)*[.):]?\s+)?", re.I)


# "Alert: X", "Alert Name: \"X\"", "Alertname - X", "Title: X", "Rule #3: X": the heading says
# outright that it names an alert
_NAME_LABEL = re.compile(
    r"^(?:(?:alert(?:\s*name)?|alertname|alert\s+rule|rule|title)\s*(?:#?\s*\d+\s*)?[:#-]\s*"
    r"|(?:alert\s*name|alertname)\s+(?=\S+$))",  # "Alert Name VaultIsSealed"
    re.I,
)
# emoji and arrows before a heading's words
_MARKS = re.compile(r"^[^\w`\"'\u201c\u2018(\[]+")
# a severity before the name: "[P1] DatabaseDown", "(critical) X", "Critical: X", "SEV2 - X"
_LEADING_SEVERITY = re.compile(
    r"^[\[(]?\s*((?:p|s|sev|severity)[\s-]?[0-5]|critical|warning|high|info|low|medium|major|"
    r"minor)\s*[\])]?\s*(?:[-–—:|]\s*|\s+(?=\S))",
    re.I,
)
# "Aler Name: ConcourseEndpointDown", "Rule 4: DiskFull": a short label, then a rule name
_AFTER_LABEL = re.compile(r"^[A-Za-z][\w ]{0,24}:\s*([A-Za-z_][\w:]*)$")
_ALERT_LABEL = re.compile(r"^\s*(?:\d+[.)]?\s+)?alert(?:\s*name)?\s*(?:#?\s*\d+\s*)?[:#-]", re.I)


def is_alert_heading(title: str) -> bool:
    """A heading that says it is an alert's entry, named or not (``Alert 2: Cluster unreachable
    for 10 minutes``)."""
    return _ALERT_LABEL.match(title) is not None


TRAILING_PAREN = re.compile(r"\s*[\(\[]([^)\]]*)[\)\]]\s*$")


NAME_SPLIT = re.compile(r"\s*(?:/|,|&|\||\+|\band\b|\bor\b)\s*")


_QUOTES = " `*:\"'\u201c\u201d\u2018\u2019"


# A name written as code may carry what rule names as Prometheus shows them do not
# (``TiKV_space_used_more_than_80%``, ``MysqlTooManyConnections(>80%)``): one word, no spaces.
_CODE_NAME = re.compile(r"[A-Za-z_][\w:.%()<>=+-]{1,119}")


def is_code_name(text: str) -> bool:
    """A name as written in code or a table's alert column: an identifier, or one word that is
    rule-shaped once its punctuation is set aside (``NODE_disk_used_more_than_80%``)."""
    if is_identifier(text):
        return True
    core = re.sub(r"[^\w:]", "", text)
    return _CODE_NAME.fullmatch(text) is not None and is_camel_identifier(core)


def rule_shaped(name: str) -> bool:
    """Shaped like a rule name rather than an English word (``HighCPUUsage``, ``node_down``,
    ``TiKV_space_used_more_than_80%``)."""
    return is_camel_identifier(name) or (
        not is_identifier(name) and is_camel_identifier(re.sub(r"[^\w:]", "", name))
    )


@dataclass(frozen=True)
class HeadingNames:
    names: list[str]
    severity: str | None  # a severity written in the heading: "X (Critical)"
    labelled: bool  # the heading says it names an alert: "Alert Name: X"


def heading_names(title: str, code_only: bool = False) -> HeadingNames:
    """Alert names a heading carries, a severity written in it, and whether it says outright
    that it names an alert: ``1. APIUnresponsive``; ``TestWatcherDown (Critical)``;
    ``HighAPILatency / CriticalAPILatency``; ``Alert Name: "KubeAPIDown"``; a heading that is
    one code span may hold a name with punctuation (``TiKV_space_used_more_than_80%``)."""
    if len(title) > 300:  # no alert name is that long
        return HeadingNames([], None, False)
    text = _MARKS.sub("", title).strip()  # "🔴 DatabaseDown", "→ X"
    text = _NUMBERING.sub("", text, count=1).strip()
    labelled = _NAME_LABEL.match(text)
    if labelled:
        text = _NUMBERING.sub("", text[labelled.end() :], count=1)
    severity = None
    leading = _LEADING_SEVERITY.match(text)
    rest = text[leading.end() :] if leading else ""
    first = re.match(r"[`\"']?([A-Za-z_][\w:]*)", rest)
    if leading and first and is_camel_identifier(first.group(1)):
        severity = leading.group(1).strip()  # "[P1] DatabaseDown", "Critical: DiskFull"
        text = rest
    paren = TRAILING_PAREN.search(text)
    if paren and is_severity_word(paren.group(1)):
        severity = paren.group(1).strip()
        text = text[: paren.start()]
    text = re.sub(r"\s*[-–—:]\s*(critical|warning|high|info|p[0-5])\s*$", "", text, flags=re.I)
    text = re.sub(r"^the\s+|\s+(alert|runbook|playbook)$", "", text.strip(_QUOTES), flags=re.I)
    text = text.strip(_QUOTES)
    if code_only and " " not in text and is_code_name(text):
        return HeadingNames([text], severity, bool(labelled))
    parts = [p.strip(_QUOTES) for p in NAME_SPLIT.split(text) if p.strip(_QUOTES)]
    if parts and all(is_identifier(p) for p in parts):
        return HeadingNames(parts, severity, bool(labelled))
    lead = re.match(r"^`?([A-Za-z_][\w:]*)`?\s*(?:\s*[-–—:]\s+.+|\s*\([^)]*\))$", text)
    if lead and is_camel_identifier(lead.group(1)):
        return HeadingNames([lead.group(1)], severity, bool(labelled))  # "HighCPUUsage - CPU …"
    after = _AFTER_LABEL.match(text)
    if after and is_camel_identifier(after.group(1)):
        return HeadingNames([after.group(1)], severity, False)
    return HeadingNames([], severity, False)


def title_names(title: str) -> tuple[list[str], str | None]:
    """Alert names a heading carries, and a severity written in it:
    ``1. APIUnresponsive`` -> (["APIUnresponsive"], None);
    ``TestWatcherDown (Critical)`` -> (["TestWatcherDown"], "Critical");
    ``HighAPILatency / CriticalAPILatency`` -> both names."""
    found = heading_names(title)
    return found.names, found.severity


_KNOWN_FIELDS_RE = re.compile(
    r"^(severity|priority|sev|severity level|threshold|condition|expression|expr|trigger|"
    r"fires when|alert|alert name|alertname|impact|summary|description|symptoms?|meaning)$",
    re.I,
)


def list_fields(block: Block) -> list[ListItem]:
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


def field_lines(blocks: list[Block]) -> list[tuple[str, str, Line, int]]:
    """``**Label**: value`` or ``Severity: value`` lines of the paragraphs (and quoted notes)
    directly in a section. A label alone on its line takes the paragraph's next lines as its
    value (``Threshold:`` then ``expr for 10m`` on the next line)."""
    out = []
    paragraphs = [b for b in blocks if isinstance(b, Paragraph)]
    for quote in (b for b in blocks if isinstance(b, Quote)):
        paragraphs.extend(b for b in quote.blocks if isinstance(b, Paragraph))
    for block in blocks:
        for item in list_fields(block):
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


def names_from_field(line: Line, field_value: str = "") -> tuple[list[str], str]:
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
    parts = [p for p in NAME_SPLIT.split(value) if p]
    if parts and all(is_camel_identifier(p) for p in parts):
        return parts, ""
    return [], value


def mentioned_alert(blocks: list[Block]) -> str | None:
    """The alert the opening paragraphs name outright: a rule name in code next to the word
    alert (``This page is for the `PostgresDiskAlmostFull` alert``, ``alert `DiskFull```)."""
    paragraphs = [b for b in blocks if isinstance(b, Paragraph)][:3]
    for paragraph in paragraphs:
        for line in paragraph.lines:
            segs = line.segments
            for i, seg in enumerate(segs):
                name = seg.text.strip()
                if seg.kind != "code" or not is_camel_identifier(name):
                    continue
                before = segs[i - 1].text if i > 0 else ""
                after = segs[i + 1].text if i + 1 < len(segs) else ""
                if re.search(r"\balert(?:name)?\s*[:=]?\s*$", before, re.I) or re.match(
                    r"\s*alert\b", after, re.I
                ):
                    return name
    return None
