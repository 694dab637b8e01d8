"""The document's structure as the parse stages read it: alerts written one ``Alert: Name``
block after another become sections of their own (the first stage), and the text of a section
or the column of a table that later stages look for.
"""

from __future__ import annotations

import re

from tocsin.runbooks.markdown import (
    Block,
    Code,
    ListBlock,
    ListItem,
    Paragraph,
    Section,
    any_field,
    block_text,
)
from tocsin.runbooks.parse.names import names_from_field
from tocsin.runbooks.parse.vocabulary import NAME_FIELDS


def split_field_alerts(section: Section) -> None:
    """Alerts written without headings of their own, one ``Alert: Name`` block after another
    (often between ``---`` rules), or one list item each (``- **Alert:** `ApiDown``` with its
    fields in a nested list), become sections of their own."""
    for child in section.children:
        if not child.label:
            split_field_alerts(child)
    _split_list_alerts(section)
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


def _item_names(item: ListItem) -> list[str]:
    first = item.blocks[0] if item.blocks else None
    if not isinstance(first, Paragraph) or not first.lines:
        return []
    found = any_field(first.lines[0])
    if not found or found[0].lower() not in NAME_FIELDS:
        return []
    return names_from_field(first.lines[0], found[1])[0]


def _split_list_alerts(section: Section) -> None:
    """List items that each open with an ``Alert:`` field naming a rule become sections."""
    pieces: list[Section] = []
    kept: list[Block] = []
    for block in section.blocks:
        named = (
            [(item, _item_names(item)) for item in block.items]
            if isinstance(block, ListBlock)
            else []
        )
        if not any(names for _item, names in named):
            kept.append(block)
            continue
        assert isinstance(block, ListBlock)
        rest = [item for item, names in named if not names]
        if rest:
            kept.append(ListBlock(ordered=block.ordered, items=rest, line=block.line))
        for item, names in named:
            if names:
                pieces.append(
                    Section(
                        title=" / ".join(names),
                        level=section.level + 0.5,
                        line=item.line,
                        blocks=item.blocks,
                    )
                )
    if pieces:
        section.blocks = kept
        section.children = sorted([*section.children, *pieces], key=lambda c: c.line)


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
