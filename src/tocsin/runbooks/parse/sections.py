"""The document's structure as the parse stages read it: alerts written one ``Alert: Name``
block after another become sections of their own (the first stage), and the text of a section
or the column of a table that later stages look for.
"""

from __future__ import annotations

import re

from tocsin.runbooks.markdown import Code, Paragraph, Section, any_field, block_text
from tocsin.runbooks.parse.names import names_from_field
from tocsin.runbooks.parse.vocabulary import NAME_FIELDS


def split_field_alerts(section: Section) -> None:
    """Alerts written without headings of their own, one ``Alert: Name`` block after another
    (often between ``---`` rules), become sections of their own."""
    for child in section.children:
        if not child.label:
            split_field_alerts(child)
    starts: list[tuple[int, list[str]]] = []
    for block in section.blocks:
        if isinstance(block, Paragraph) and block.lines:
            found = any_field(block.lines[0])
            if found and found[0].lower() in NAME_FIELDS:
                names, _rest = names_from_field(block.lines[0], found[1])
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


def text_of(section: Section, include_children: bool = True) -> str:
    """A section's prose (code left out), with its children's under their titles."""
    parts = [section.value] if section.value else []
    parts += [block_text(b) for b in section.blocks]
    if include_children:
        for child in section.children:
            child_text = text_of(child)
            parts.append(f"{child.title}:\n{child_text}" if child_text else child.title)
    return "\n".join(p for p in parts if p).strip()


def text_with_code(section: Section) -> str:
    """A section's own text, its code included (a threshold may be written as code)."""
    parts = [section.value] if section.value else []
    for block in section.blocks:
        parts.append(block.code.strip() if isinstance(block, Code) else block_text(block))
    return "\n".join(p for p in parts if p).strip()


def header_index(header: list[str], pattern: str, exclude: str | None = None) -> int | None:
    """The first column of a table whose header matches ``pattern`` (and not ``exclude``)."""
    for i, cell in enumerate(header):
        lowered = cell.lower()
        if re.search(pattern, lowered) and not (exclude and re.search(exclude, lowered)):
            return i
    return None
