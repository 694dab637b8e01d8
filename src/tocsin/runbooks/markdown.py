"""Markdown to a tree of sections: the first step of reading a runbook.

markdown-it-py (CommonMark, tables, front matter) does the parsing; this module only
regroups its syntax tree into what runbooks are made of: sections opened by headings or by a
paragraph that is a bold label alone (``**Investigation**:``), each holding paragraphs, lists,
code blocks and tables, with their source lines. Nothing here is specific to one team's style.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from mdit_py_plugins.front_matter import front_matter_plugin

from tocsin.runbooks.text import clean_spaces, load_yaml, slugify

# Deeper nesting than this is rendered as text by the parser: bounded recursion on
# pathological input, and no real runbook nests lists or quotes 32 levels deep.
MAX_NESTING = 32


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING, "html": False})
    return md.enable("table").use(front_matter_plugin)


_MD = _parser()


@dataclass(frozen=True)
class Segment:
    """One piece of inline text: plain, strong (bold) or code."""

    kind: str  # "text" | "strong" | "code"
    text: str


@dataclass
class Line:
    """One line of a paragraph (split at soft and hard breaks)."""

    segments: list[Segment]

    @property
    def text(self) -> str:
        return clean_spaces("".join(_render_segment(s) for s in self.segments))

    @property
    def plain(self) -> str:
        return clean_spaces("".join(s.text for s in self.segments))


def _render_segment(seg: Segment) -> str:
    return f"`{seg.text}`" if seg.kind == "code" else seg.text


@dataclass(frozen=True)
class Link:
    href: str
    text: str
    line: int


@dataclass
class Paragraph:
    lines: list[Line]
    line: int

    @property
    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines if ln.text)


@dataclass
class Code:
    info: str
    code: str
    line: int
    indented: bool = False


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    line: int
    cells: list[list[Line]] = field(default_factory=list)  # rows' cells with inline code

    @property
    def text(self) -> str:
        out = [" | ".join(self.header)]
        out += [" | ".join(r) for r in self.rows]
        return "\n".join(out)


@dataclass
class ListItem:
    blocks: list[Block]
    line: int


@dataclass
class ListBlock:
    ordered: bool
    items: list[ListItem]
    line: int


@dataclass
class Quote:
    blocks: list[Block]
    line: int


Block = Paragraph | Code | Table | ListBlock | Quote


@dataclass
class Section:
    """A heading (level 1-6) or a bold-label pseudo-heading (level = enclosing + 0.5)."""

    title: str
    level: float
    line: int
    label: bool = False
    value: str = ""  # text after a label on its own line: "**Escalation**: page X"
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    anchor: str = ""
    title_segments: list[Segment] = field(default_factory=list)

    def walk(self) -> Iterator[Section]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Document:
    front_matter: dict[str, Any]
    root: Section
    links: list[Link]
    anchors: set[str]


def _segments(inline: SyntaxTreeNode, links: list[Link], line: int) -> list[Line]:
    """Inline children to lines of segments; links become their text (recorded apart)."""
    lines: list[Line] = [Line([])]

    def add(kind: str, text: str) -> None:
        if text:
            lines[-1].segments.append(Segment(kind, text))

    def visit(node: SyntaxTreeNode, strong: bool) -> None:
        for child in node.children:
            kind = child.type
            if kind == "text":
                add("strong" if strong else "text", child.content)
            elif kind == "code_inline":
                add("code", child.content)
            elif kind in ("softbreak", "hardbreak"):
                lines.append(Line([]))
            elif kind == "strong":
                visit(child, True)
            elif kind == "link":
                href = str(child.attrs.get("href", ""))
                before = len(lines[-1].segments)
                visit(child, strong)
                text = "".join(s.text for s in lines[-1].segments[before:])
                links.append(Link(href=href, text=clean_spaces(text), line=line))
            elif kind == "image":
                add("text", str(child.attrs.get("alt", "") or ""))
            elif kind == "html_inline":
                add("text", child.content)
            else:
                visit(child, strong)

    visit(inline, False)
    return lines


_HTML_NAMES = (
    r"details|summary|br|div|p|span|b|i|u|em|strong|code|pre|sup|sub|kbd|hr|img|a|table|tr|"
    r"td|th|tbody|thead|ul|ol|li|blockquote|center|font|small|big|section|article|nav|h[1-6]"
)
_HTML_TAG = re.compile(rf"</?(?:{_HTML_NAMES})(?:\s[^>]*)?/?>", re.I)
_HTML_ONLY = re.compile(rf"^\s*(?:</?(?:{_HTML_NAMES})(?:\s[^>]*)?/?>\s*)+$", re.I)


def _line_of(node: SyntaxTreeNode, default: int) -> int:
    try:
        mapped = node.map
    except AttributeError:
        return default
    return mapped[0] + 1 if mapped else default


def _cell_line(cell: SyntaxTreeNode, links: list[Link], line: int) -> Line:
    segments: list[Segment] = []
    for child in cell.children:
        if child.type == "inline":
            for ln in _segments(child, links, line):
                segments.extend(ln.segments)
    return Line(segments)


def _blocks(nodes: list[SyntaxTreeNode], links: list[Link], base: int) -> list[Block]:
    out: list[Block] = []
    for node in nodes:
        line = _line_of(node, base)
        kind = node.type
        if kind == "paragraph":
            inline = node.children[0] if node.children else None
            lines = _segments(inline, links, line) if inline is not None else []
            kept = [ln for ln in lines if ln.segments and not _HTML_ONLY.match(ln.plain)]
            if kept:
                out.append(Paragraph(kept, line))
        elif kind == "fence":
            out.append(Code(info=node.info.strip(), code=node.content, line=line))
        elif kind == "code_block":
            out.append(Code(info="", code=node.content, line=line, indented=True))
        elif kind in ("bullet_list", "ordered_list"):
            items = [
                ListItem(_blocks(item.children, links, _line_of(item, line)), _line_of(item, line))
                for item in node.children
            ]
            out.append(ListBlock(ordered=kind == "ordered_list", items=items, line=line))
        elif kind == "table":
            header: list[str] = []
            rows: list[list[str]] = []
            cells: list[list[Line]] = []
            for part in node.children:
                for tr in part.children:
                    row = [_cell_line(c, links, _line_of(tr, line)) for c in tr.children]
                    if part.type == "thead":
                        header = [c.plain for c in row]
                    else:
                        rows.append([c.plain for c in row])
                        cells.append(row)
            out.append(Table(header=header, rows=rows, line=line, cells=cells))
        elif kind == "blockquote":
            out.append(Quote(_blocks(node.children, links, line), line))
        elif kind in ("html_block",):
            text = _HTML_TAG.sub("", node.content).strip()
            if text:
                out.append(Paragraph([Line([Segment("text", text)])], line))
        # hr and front_matter carry nothing a section needs.
    return out


def label_of(paragraph: Paragraph) -> tuple[str, str] | None:
    """``**Investigation**:`` / ``**Severity:** P1`` / ``**Option A: restart**`` when the
    paragraph is one line that opens with bold text: (label, rest). None otherwise."""
    if len(paragraph.lines) != 1:
        return None
    return line_field(paragraph.lines[0])


def line_field(line: Line) -> tuple[str, str] | None:
    """(label, value) for a line that opens with bold text (``**Label**: value``)."""
    segs = [s for s in line.segments if s.text.strip()]
    if not segs or segs[0].kind != "strong":
        return None
    label = clean_spaces(segs[0].text)
    rest = clean_spaces("".join(_render_segment(s) for s in line.segments[1:]))
    # the leading strong segment may be preceded by empty text segments
    first = next(i for i, s in enumerate(line.segments) if s.text.strip())
    rest = clean_spaces("".join(_render_segment(s) for s in line.segments[first + 1 :]))
    if label.endswith(":"):
        label = label[:-1].strip()
    elif rest.startswith(":"):
        rest = rest[1:].strip()
    return label, rest


_PLAIN_FIELD = re.compile(
    r"^\s*(severity|priority|sev|level|threshold|condition|expression|expr|query|trigger|"
    r"fires when|alert|alert name|alertname|impact|summary|description|symptoms?|meaning|"
    r"last updated|last reviewed|review cycle|review frequency|owner|runbook|playbook|"
    r"dashboards?)\s*:\s*(.*)$",
    re.I,
)


def plain_field(line: Line) -> tuple[str, str] | None:
    """``Severity: critical`` written without bold, for the field names runbooks share."""
    if not line.segments or line.segments[0].kind != "text":
        return None
    found = _PLAIN_FIELD.match(line.text)
    return (found.group(1), found.group(2).strip()) if found else None


def any_field(line: Line) -> tuple[str, str] | None:
    return line_field(line) or plain_field(line)


def parse_document(
    text: str,
    plain_label: Callable[[str], bool] | None = None,
    valued_label: Callable[[str, str], bool] | None = None,
) -> Document:
    """Parse Markdown text into a Document. Never raises on any str input.

    ``plain_label`` says which one-line paragraphs ending in a colon (``How to fix:``) open a
    section, as bold labels do; ``valued_label`` which bold labels open one though a value
    follows them (``**DiskFull** — critical``)."""
    tokens = _MD.parse(text)
    tree = SyntaxTreeNode(tokens)
    front: dict[str, Any] = {}
    links: list[Link] = []
    root = Section(title="", level=0, line=1)
    stack: list[Section] = [root]
    anchors: set[str] = set()
    seen_slugs: dict[str, int] = {}

    for node in tree.children:
        line = _line_of(node, 1)
        if node.type == "front_matter":
            loaded = load_yaml(node.content)
            if isinstance(loaded, dict):
                front = {str(k): v for k, v in loaded.items()}
            continue
        if node.type == "heading":
            level = int(node.tag[1:]) if node.tag[1:].isdigit() else 6
            segs: list[Segment] = []
            if node.children:
                for ln in _segments(node.children[0], links, line):
                    segs.extend(ln.segments)
            title = clean_spaces("".join(s.text for s in segs))
            slug = slugify(title)
            count = seen_slugs.get(slug, 0)
            seen_slugs[slug] = count + 1
            anchor = slug if count == 0 else f"{slug}-{count}"
            anchors.add(anchor)
            section = Section(
                title=title, level=level, line=line, anchor=anchor, title_segments=segs
            )
            while stack[-1].level >= level:
                stack.pop()
            stack[-1].children.append(section)
            stack.append(section)
            continue
        if node.type == "hr":
            while stack[-1].label:  # a thematic break ends a labelled part
                stack.pop()
            continue
        blocks = _blocks([node], links, line)
        for block in blocks:
            labelled = label_of(block) if isinstance(block, Paragraph) else None
            if labelled is None and isinstance(block, Paragraph) and plain_label is not None:
                labelled = _plain_label(block, plain_label)
            if labelled is not None and (
                _is_pseudo_heading(labelled)
                or (valued_label is not None and valued_label(*labelled))
            ):
                while stack[-1].label:
                    stack.pop()
                parent = stack[-1]
                section = Section(
                    title=labelled[0],
                    value=labelled[1],
                    level=parent.level + 0.5,
                    line=block.line,
                    label=True,
                )
                parent.children.append(section)
                stack.append(section)
            else:
                if labelled is not None or (
                    isinstance(block, Paragraph) and block.lines and any_field(block.lines[0])
                ):
                    # "**Escalation**: page X" after "**Resolution**:" is a field of the
                    # heading's section, not more of the resolution.
                    while stack[-1].label:
                        stack.pop()
                stack[-1].blocks.append(block)
    return Document(front_matter=front, root=root, links=links, anchors=anchors)


def _plain_label(paragraph: Paragraph, accept: Callable[[str], bool]) -> tuple[str, str] | None:
    """``How to fix:`` / ``Steps:`` alone on a line, when ``accept`` knows the words."""
    if len(paragraph.lines) != 1:
        return None
    text = paragraph.lines[0].plain
    if not text.endswith(":") or len(text) > 60 or len(text.split()) > 6:
        return None
    title = text[:-1].strip()
    return (title, "") if title and accept(title) else None


def _is_pseudo_heading(labelled: tuple[str, str]) -> bool:
    """A bold label opens a section when it stands alone (``**Remediation**:``), or carries
    a short note (``**Option C: DR procedure required** (if above fails)``). Labels with a
    value (``**Severity**: P1``) are fields of the enclosing section, not sections."""
    label, rest = labelled
    if not label or len(label) > 120:
        return False
    return rest == "" or (rest.startswith("(") and rest.endswith(")"))


def block_text(block: Block, indent: str = "") -> str:
    """Prose of a block for display; code is left out (it becomes commands)."""
    if isinstance(block, Paragraph):
        return "\n".join(indent + ln.text for ln in block.lines if ln.text)
    if isinstance(block, Table):
        return "\n".join(indent + row for row in block.text.splitlines())
    if isinstance(block, ListBlock):
        lines = []
        for n, item in enumerate(block.items, 1):
            bullet = f"{n}. " if block.ordered else "- "
            body = [block_text(b, "") for b in item.blocks if not isinstance(b, Code)]
            text = "\n".join(t for t in body if t)
            first, *rest = text.splitlines() or [""]
            lines.append(indent + bullet + first)
            lines.extend(indent + "   " + r for r in rest)
        return "\n".join(lines)
    if isinstance(block, Quote):
        return "\n".join(block_text(b, indent + "> ") for b in block.blocks)
    return ""


_Kind = TypeVar("_Kind", Code, Paragraph)


def _nested(blocks: list[Block], kind: type[_Kind]) -> Iterator[_Kind]:
    """Every block of this kind in these blocks, those in list items and quotes included, in
    document order."""
    for block in blocks:
        if isinstance(block, kind):
            yield block
        elif isinstance(block, ListBlock):
            for item in block.items:
                yield from _nested(item.blocks, kind)
        elif isinstance(block, Quote):
            yield from _nested(block.blocks, kind)


def codes_in(blocks: list[Block]) -> Iterator[Code]:
    """Every code block in these blocks, nested ones included, in document order."""
    return _nested(blocks, Code)


def paragraphs_in(blocks: list[Block]) -> Iterator[Paragraph]:
    return _nested(blocks, Paragraph)
