"""A channel's templates: its own title/text/html (``templates`` of a channel in
``tocsin.yaml``) over the defaults of ``tocsin.templating``, compiled once when the channel is
built and rendered for every message it sends.

Slack and PagerDuty use the title; Slack uses a configured ``text`` template in place of its
status and alert sections; email uses all three; the webhook sends data, not text. If a
configured template fails on a real message (``config check`` renders it against sample data,
but a real message can differ), the default is used and the text says so: a page is never
dropped for a template. A template that does not compile is a ``TemplateError`` when the
channel is built.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape as html_escape
from typing import Any, Protocol

from tocsin.notify.message import Message, message_context
from tocsin.templating import (
    DEFAULT_TEMPLATES,
    Template,
    TemplateError,
    check_template,
    compile_template,
    one_line,
    render,
)

log = logging.getLogger("tocsin.notify.channels")  # one name for every channel's log


class TemplateSources(Protocol):
    """A channel's own title/text/html templates (``tocsin.yaml``); None keeps the default."""

    title: str | None
    text: str | None
    html: str | None


@dataclass(frozen=True)
class Rendered:
    title: str  # one line
    text: str
    html: str


class ChannelTemplateSet:
    """A channel's title/text/html templates, compiled once when the channel is built."""

    def __init__(self, channel: str, cfg: TemplateSources) -> None:
        self.defaults = {
            part: compile_template(source, f"default.{part}", html=html)
            for part, (source, html) in DEFAULT_TEMPLATES.items()
        }
        self.custom: dict[str, Template] = {}
        for part, (_, html) in DEFAULT_TEMPLATES.items():
            source = getattr(cfg, part)
            if source is not None:
                self.custom[part] = check_template(source, f"{channel}.{part}", html=html)

    def has_custom(self, part: str) -> bool:
        return part in self.custom

    def render(self, part: str, context: Mapping[str, Any]) -> str:
        custom = self.custom.get(part)
        if custom is not None:
            try:
                out = render(custom, context)
            except TemplateError as exc:
                log.warning("%s; the default template is used instead", exc)
                out = render(self.defaults[part], context)
                note = f"[tocsin: {exc}; the default template was used]"
                if part == "text":
                    out = f"{note}\n\n{out}"
                elif part == "html":
                    out = f"<p><em>{html_escape(note)}</em></p>\n{out}"
            return one_line(out) if part == "title" else out
        out = render(self.defaults[part], context)
        return one_line(out) if part == "title" else out

    def render_all(self, message: Message) -> Rendered:
        context = message_context(message)
        return Rendered(
            title=self.render("title", context),
            text=self.render("text", context),
            html=self.render("html", context),
        )
