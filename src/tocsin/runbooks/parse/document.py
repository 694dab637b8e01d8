"""The entry point of runbook parsing: one document's stages in order, assembling the
``Runbook``. Sections with enough alert evidence become alerts; the others give the
runbook-wide parts (severity levels, escalation, templates, channels, contacts, metadata).
"""

from __future__ import annotations

import re
from pathlib import PurePath

from tocsin.runbooks.markdown import Code, Document, Section, Table, codes_in, parse_document
from tocsin.runbooks.model import Problem, Runbook, Template
from tocsin.runbooks.parse.alert_table import table_alerts
from tocsin.runbooks.parse.alerts import (
    Context,
    alert_evidence,
    build_alerts,
    inherited_severity,
    single_alert_file,
)
from tocsin.runbooks.parse.contacts import channels_and_contacts
from tocsin.runbooks.parse.escalation import tiers_from_section
from tocsin.runbooks.parse.metadata import metadata
from tocsin.runbooks.parse.sections import split_field_alerts
from tocsin.runbooks.parse.severity import (
    severity_level_from_section,
    severity_levels_from_list,
    severity_levels_from_table,
)
from tocsin.runbooks.parse.vocabulary import accept_plain_label, accept_valued_label


def parse_runbook(text: str, source: str) -> tuple[Runbook, list[Problem], Document]:
    """Read one runbook. Returns the runbook, the problems found in this document alone, and
    the parsed document (for lint)."""
    doc = parse_document(text, accept_plain_label, accept_valued_label)
    split_field_alerts(doc.root)
    front = doc.front_matter
    first_h1 = next((s for s in doc.root.children if s.level == 1 and not s.label), None)
    stem = PurePath(source).stem
    title = str(front.get("title") or (first_h1.title if first_h1 else "") or stem)
    ctx = Context(source=source, runbook=Runbook(source=source, title=title))
    non_alert: list[Section] = [doc.root]

    def walk(section: Section, parents: list[Section]) -> None:
        names = alert_evidence(section, parents) if section is not doc.root else None
        if names:
            build_alerts(ctx, section, names, front, inherited_severity(parents))
            return
        if section is not doc.root:
            non_alert.append(section)
        for child in section.children:
            walk(child, [*parents, section])

    walk(doc.root, [])

    for section in non_alert:
        for block in section.blocks:
            if isinstance(block, Table):
                table_alerts(ctx.runbook, block, doc)
    if not ctx.runbook.alerts:
        single_alert_file(ctx, doc, first_h1, front, stem)

    for section in non_alert:
        for listed in severity_levels_from_list(section):
            if not any(x.name == listed.name for x in ctx.runbook.severity_levels):
                ctx.runbook.severity_levels.append(listed)
        for block in section.blocks:
            if isinstance(block, Table):
                for level in severity_levels_from_table(block):
                    if not any(x.name == level.name for x in ctx.runbook.severity_levels):
                        ctx.runbook.severity_levels.append(level)
        section_level = severity_level_from_section(section)
        if section_level and not any(
            x.name == section_level.name for x in ctx.runbook.severity_levels
        ):
            ctx.runbook.severity_levels.append(section_level)
        if not section.label and "escalat" in section.title.lower() and not ctx.runbook.escalation:
            ctx.runbook.escalation = tiers_from_section(section)
        if re.search(r"template", section.title, re.I) and not section.label:
            _templates(ctx.runbook, section)
    channels_and_contacts(ctx.runbook, doc.root, False)
    metadata(ctx.runbook, non_alert, front)
    return ctx.runbook, ctx.problems, doc


def _templates(runbook: Runbook, section: Section) -> None:
    """Communication templates: the code blocks of a section titled ``… template …``."""

    def add(name: str, code: Code) -> None:
        if not any(t.text == code.code.rstrip("\n") for t in runbook.templates):
            runbook.templates.append(
                Template(name=name, text=code.code.rstrip("\n"), line=code.line)
            )

    for code in codes_in(section.blocks):
        add(section.title, code)
    for child in section.children:
        for code in codes_in(child.blocks):
            add(child.title, code)
