"""Alert names and ``Label: value`` fields: the names a heading holds (``HighCPU / HighMemory``,
``1. DiskFull (critical)``), the fields of a section's paragraphs and lists, and the names an
``Alert:`` field lists.
"""

from __future__ import annotations

import re

from tocsin.runbooks.markdown import Block, Line, ListBlock, ListItem, Paragraph, Quote, any_field
from tocsin.runbooks.text import clean_spaces, is_camel_identifier, is_identifier, is_severity_word

_NUMBERING = re.compile(r"^\s*(?:alert\s*[:#-]\s*)?(?:\d+(?:\.\d+)*[.):]?\s+)?", re.I)


TRAILING_PAREN = re.compile(r"\s*[\(\[]([^)\]]*)[\)\]]\s*$")


NAME_SPLIT = re.compile(r"\s*(?:/|,|&|\||\+|\band\b|\bor\b)\s*")


def title_names(title: str) -> tuple[list[str], str | None]:
    """Alert names a heading carries, and a severity written in it:
    ``1. APIUnresponsive`` -> (["APIUnresponsive"], None);
    ``TestWatcherDown (Critical)`` -> (["TestWatcherDown"], "Critical");
    ``HighAPILatency / CriticalAPILatency`` -> both names."""
    if len(title) > 300:  # no alert name is that long
        return [], None
    text = _NUMBERING.sub("", title, count=1).strip()
    severity = None
    paren = TRAILING_PAREN.search(text)
    if paren and is_severity_word(paren.group(1)):
        severity = paren.group(1).strip()
        text = text[: paren.start()]
    text = re.sub(r"\s*[-–—:]\s*(critical|warning|high|info|p[0-5])\s*$", "", text, flags=re.I)
    text = text.strip(" `*:")
    parts = [p.strip(" `*") for p in NAME_SPLIT.split(text) if p.strip(" `*")]
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
