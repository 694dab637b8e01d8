"""Channels (Slack channels, mailing lists, PagerDuty) and contacts (who to call, with their
email, phone, Slack handle) a runbook names, from the text of every section. A runbook-wide
stage.
"""

from __future__ import annotations

import re
from typing import Literal

from tocsin.runbooks.markdown import (
    Code,
    ListBlock,
    Paragraph,
    Section,
    Table,
    block_text,
    line_field,
)
from tocsin.runbooks.model import Channel, Contact, Runbook
from tocsin.runbooks.text import severities_mentioned

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


def channels_and_contacts(rb: Runbook, section: Section, in_contacts: bool) -> None:
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
            if re.search(r"[a-z]", match.group(1)):
                rest = plain[match.end() :].strip(" :-–()").split("\n", 1)[0]
                name = "#" + match.group(1).rstrip(".")
                _add_channel(rb.channels, "slack", name, rest, severities_mentioned(rest))
        for match in _EMAIL.finditer(plain):
            rest = plain[match.end() :].split("\n", 1)[0].strip(" :-–()")
            _add_channel(rb.channels, "email", match.group(0), rest, mentioned)
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
        channels_and_contacts(rb, child, contact_section)


def _add_channel(
    channels: list[Channel],
    kind: Literal["slack", "email"],
    name: str,
    rest: str,
    severities: set[str],
) -> None:
    """A channel the runbook names, once. ``rest`` is what follows the name on its line; the
    channel's severity is the one severity ``severities`` holds, if it holds one."""
    if any(c.kind == kind and c.name == name for c in channels):
        return
    channels.append(
        Channel(
            kind=kind,
            name=name,
            text=rest[:200],
            severity=next(iter(severities)) if len(severities) == 1 else None,
        )
    )
