"""Alertmanager's Go-template text fields (a receiver's ``title``, ``text``, ``html`` …) as
tocsin's channel templates (the one sandboxed Jinja2 renderer, ``templating.py``).

``translate`` is the one door: the Jinja text of a field, None where the field names
Alertmanager's own default template (``{{ template "slack.default.title" . }}``: tocsin's
default text is used), or ``GoTemplateError`` saying why the field cannot be carried over.

This version carries over text without template actions (escaped for Jinja2, so that it
renders as written) and Alertmanager's default templates; any other Go template is refused at
load, never rendered wrong. The translation of the common subset (``.Status``,
``.CommonLabels.x``, ``range``, ``if`` …) replaces it.
"""

from __future__ import annotations

import re


class GoTemplateError(ValueError):
    """A Go template tocsin cannot carry over; the message says what to write instead."""


# ``{{ template "slack.default.title" . }}``, with Go's trim markers and spacing
_DEFAULT_REFERENCE = re.compile(
    r"\s*\{\{-?\s*template\s+\"[A-Za-z0-9_.]+\.default\.[A-Za-z0-9_.]+\"\s+\.\s*-?\}\}\s*"
)


def is_default_reference(source: str) -> bool:
    """Whether ``source`` is nothing but a reference to one of Alertmanager's default
    templates (``<integration>.default.<part>``)."""
    return _DEFAULT_REFERENCE.fullmatch(source) is not None


def _literal(text: str, where: str) -> str:
    """Text that Jinja2 renders exactly as written: one with a Jinja2 tag start (``{%``,
    ``{#``) is one raw block."""
    if "{%" not in text and "{#" not in text:
        return text
    if "endraw" in text:
        raise GoTemplateError(f"{where}: text with both `{{%` and `endraw` cannot be carried over")
    return "{% raw %}" + text + "{% endraw %}"


def translate(source: str, *, where: str) -> str | None:
    """The Jinja2 text of Alertmanager's Go-template ``source`` (the field at ``where``,
    e.g. ``slack_configs[0].title``); None when it names Alertmanager's default template,
    meaning "use tocsin's default"; ``GoTemplateError`` for what cannot be carried over."""
    if is_default_reference(source):
        return None
    if "{{" not in source:
        return _literal(source, where)
    raise GoTemplateError(
        f"Go templates are not supported here yet: {where} uses template actions ({{{{ … }}}});"
        " write the text as a Jinja2 template under the channel's `templates:` in tocsin.yaml"
        " (`tocsin config convert` writes the channels), or leave the field out to use"
        " tocsin's default text"
    )
