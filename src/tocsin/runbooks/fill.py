"""A runbook command with its placeholders filled from an alert's labels (pure).

``kubectl -n pebble describe pod {{ $labels.pod }}`` for an alert with
``pod=pebble-api-7d9f-x2`` becomes ``kubectl -n pebble describe pod pebble-api-7d9f-x2``.
The placeholders are the ones ``commands.find_placeholders`` finds (and lint checks):
``{{ $labels.x }}``, ``$X`` / ``${X}`` and ``<x>``, matched to label names by
``commands.placeholder_key`` (``<pod-name>`` and ``$POD`` are filled from the label ``pod``).

A label value is untrusted: it is quoted for the command's language where it stands (a shell
word, an SQL string literal, a PromQL label-value string, a PowerShell single-quoted string),
so that running the command passes the value as data and never evaluates it. Commands in
other languages are not filled. What no label fills stays as written (``<suspicious_ip>``),
and ``Filled.unfilled`` names it, so a person sees what is left to type.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from tocsin.runbooks.commands import placeholder_key, placeholder_spans

# Languages whose quoting rules ``fill`` knows; a command in another is shown as written.
FILLED_LANGUAGES = frozenset({"bash", "", "sql", "promql", "powershell"})

_DIRECT = re.compile(r"\$labels\.([A-Za-z_]\w*)|\.Labels\.([A-Za-z_]\w*)")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# PowerShell reads typographic quotes as quotes too
_PS_SINGLE = "'\u2018\u2019\u201a\u201b"
_PS_DOUBLE = '"\u201c\u201d\u201e'


@dataclass(frozen=True)
class Filled:
    text: str  # the command, its placeholders filled where a label fills them
    filled: dict[str, str] = field(default_factory=dict)  # placeholder -> label name
    unfilled: list[str] = field(default_factory=list)  # placeholders left as written


def label_for(placeholder: str, labels: Mapping[str, str]) -> str | None:
    """The label that fills a placeholder, or None: ``{{ $labels.x }}`` names it; else the
    label whose ``placeholder_key`` is the placeholder's (``<pod-name>``, ``$POD``: ``pod``)."""
    direct = _DIRECT.search(placeholder)
    if direct:
        name = direct.group(1) or direct.group(2)
        if name in labels:
            return name
        key = name.lower()
    elif "$value" in placeholder or ".Value" in placeholder:
        return None  # the alert's value, not a label
    elif placeholder.startswith("$"):
        variable = _VARIABLE.match(placeholder)
        key = placeholder_key(variable.group(1)) if variable else placeholder_key(placeholder)
    else:
        key = placeholder_key(placeholder)
    if not key:
        return None
    for name in sorted(labels):
        if name.lower() == key:
            return name
    for name in sorted(labels):
        if placeholder_key(name) == key:
            return name
    return None


def context_at(code: str, end: int, language: str) -> str:
    """The quote the code is inside at ``end``: '' (none), "'", '"' or '`'."""
    state = ""
    i = 0
    while i < end:
        ch = code[i]
        if language == "powershell":
            if state == "" and ch == "`":
                i += 2
                continue
            if state == "":
                state = "'" if ch in _PS_SINGLE else '"' if ch in _PS_DOUBLE else ""
            elif state == "'" and ch in _PS_SINGLE:
                state = ""
            elif state == '"' and ch == "`":
                i += 2
                continue
            elif state == '"' and ch in _PS_DOUBLE:
                state = ""
        elif language == "sql":
            if state == "" and ch in "'\"":
                state = ch
            elif state == ch:
                state = ""
        elif language == "promql":
            if state == "" and ch in "'\"`":
                state = ch
            elif state in "'\"" and state and ch == "\\":
                i += 2
                continue
            elif state == ch:
                state = ""
        else:  # the shell
            if state in ("", '"') and ch == "\\":
                i += 2
                continue
            if state == "" and ch in "'\"":
                state = ch
            elif state == ch:
                state = ""
        i += 1
    return state


def quote(value: str, language: str, inside: str = "") -> str | None:
    """``value`` as data of ``language`` where the code is inside the quote ``inside``
    ('' none, "'", '"', '`'); None when it cannot be written there safely."""
    if language in ("bash", ""):
        plain = shlex.quote(value)
        if inside == "'":
            return value.replace("'", "'\"'\"'")  # close, a quoted quote, reopen
        if inside == '"':  # close the double quotes around a single-quoted word: no $, `, !
            return value if plain == value else f'"{plain}"'
        return plain
    if language == "sql":
        if inside == '"':
            return value.replace('"', '""')
        doubled = value.replace("'", "''")
        return doubled if inside == "'" else f"'{doubled}'"
    if language == "promql":
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        if inside == '"':
            return escaped
        if inside == "'":
            return escaped.replace('\\"', '"').replace("'", "\\'")
        if inside == "`":
            return None if "`" in value else value
        return f'"{escaped}"'
    if language == "powershell":
        if inside == '"':
            return "".join(f"`{c}" if c in "`$" or c in _PS_DOUBLE else c for c in value)
        doubled = "".join(c * 2 if c in _PS_SINGLE else c for c in value)
        return doubled if inside == "'" else f"'{doubled}'"
    return None


def fill(code: str, language: str, labels: Mapping[str, str]) -> Filled:
    """The command with every placeholder a label fills replaced by the label's value,
    quoted for ``language`` where it stands; the rest left as written."""
    filled: dict[str, str] = {}
    unfilled: list[str] = []
    parts: list[str] = []
    last = 0
    for start, end in placeholder_spans(code, language):
        placeholder = code[start:end]
        name = label_for(placeholder, labels) if language in FILLED_LANGUAGES else None
        text = None
        if name is not None:
            text = quote(labels[name], language, context_at(code, start, language))
        if text is None:
            if placeholder not in unfilled:
                unfilled.append(placeholder)
            continue
        filled[placeholder] = name or ""
        parts.append(code[last:start])
        parts.append(text)
        last = end
    parts.append(code[last:])
    return Filled("".join(parts), filled, unfilled)
