"""Steps and their commands: ordered and lettered lists, sub-headings and paragraphs of an
alert's sections become ``Step`` values, each with the commands of its code blocks and inline
code spans (language, cleaned code, placeholders, risk from ``runbooks.risk``). Code that is a
message template or an alert rule definition is not a command.
"""

from __future__ import annotations

import re
from typing import Any

from tocsin.runbooks.commands import (
    find_placeholders,
    guess_language,
    normalize_language,
    strip_prompts,
)
from tocsin.runbooks.markdown import (
    Block,
    Code,
    Line,
    ListBlock,
    ListItem,
    Paragraph,
    Quote,
    Section,
    Table,
    block_text,
    codes_in,
    line_field,
    paragraphs_in,
)
from tocsin.runbooks.model import Command, Phase, Step
from tocsin.runbooks.parse.thresholds import yaml_rules
from tocsin.runbooks.parse.vocabulary import phase_of
from tocsin.runbooks.risk import classify, is_command_word, is_sql_statement
from tocsin.runbooks.text import clean_spaces, load_yaml


def inline_commands(line: Line, line_no: int) -> list[Command]:
    out = []
    for seg in line.segments:
        if seg.kind != "code":
            continue
        words = seg.text.split()
        if len(words) < 2 or not (
            is_command_word(words[0], words[1]) or is_sql_statement(seg.text)
        ):
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
    return bool(yaml_rules(load_yaml(code.code)))


def _commands_of(blocks: list[Block]) -> list[Command]:
    out = []
    for code in codes_in(blocks):
        if not is_template_code(code):
            out.append(_command(code.code, code.info, code.line))
    for para in paragraphs_in(blocks):
        for line in para.lines:
            out.extend(inline_commands(line, para.line))
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
        title=short(title),
        text=text,
        commands=_commands_of(item.blocks),
        line=item.line,
    )


def short(title: str, limit: int = 120) -> str:
    title = clean_spaces(title).rstrip(":")
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


_LETTERED = re.compile(r"^\s*(?:[a-h]|i{1,3}|iv|v|vi{1,3})[.)]\s+\S|^\s*step\s+\d+\s*[:.)-]", re.I)


def steps_from_blocks(
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
                    title=short(step_title),
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
                    current["commands"].extend(inline_commands(ln, block.line))
                continue
            if isinstance(nxt, Code) and text.endswith(":") and len(text) <= 100:
                flush()
                current = start(text, block.line)
                continue
            if current is None:
                current = start(title, block.line)
            current["text"].append(text)
            for ln in block.lines:
                current["commands"].extend(inline_commands(ln, block.line))
        else:
            if current is None:
                current = start(title, block.line)
            current["text"].append(block_text(block))
            if isinstance(block, Quote):
                current["commands"].extend(_commands_of(block.blocks))
            elif isinstance(block, Table):
                for row in block.cells:
                    for cell in row:
                        current["commands"].extend(inline_commands(cell, block.line))
    flush()
    return steps


def section_steps(section: Section, inherited: Phase | None) -> list[Step]:
    phase = phase_of(section.title) or inherited
    steps = steps_from_blocks(section.blocks, phase, section.title, section.line, section.value)
    for child in section.children:
        steps.extend(section_steps(child, phase))
    return steps
