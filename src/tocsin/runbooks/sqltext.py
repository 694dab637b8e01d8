"""SQL text read as its database reads it: where its string constants, quoted names and
comments are, and whether it is one statement (pure).

The sql runner (``execute/sql.py``) runs one statement per command: a ``read`` runs in a
read-only transaction, and a second statement after a ``;`` (``COMMIT; DELETE …``) could end
that transaction and run outside it. So the text is read with the lexical rules of the
database it goes to, and any ``;`` outside a constant, a quoted name or a comment that is
followed by more than blanks and comments refuses it. Text that a database would not finish
reading (an unterminated constant or comment) is refused too.

PostgreSQL: ``'…'`` with ``''`` (backslashes are plain characters: the runner sets
``standard_conforming_strings`` on in its transaction), ``E'…'`` with backslash escapes,
``$tag$…$tag$``, ``"…"`` names, ``--`` and nested ``/* */`` comments; ``$`` inside a name
belongs to it. SQLite: ``'…'``, ``"…"``, ```…```, ``[…]``, ``--`` and ``/* */``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tocsin.errors import Invalid

DIALECTS = ("postgresql", "sqlite")
Kind = Literal["code", "string", "name", "comment"]

_PG_NAME = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")
_SQLITE_NAME = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")


@dataclass(frozen=True)
class Span:
    kind: Kind
    start: int
    end: int


def spans(text: str, dialect: str) -> list[Span]:
    """The text cut into code, string constants, quoted names and comments, as ``dialect``
    reads it. ``Invalid`` when a constant, a name or a comment does not end."""
    if dialect not in DIALECTS:
        raise Invalid(f"SQL of {dialect} is not read here (only {', '.join(DIALECTS)})")
    pg = dialect == "postgresql"
    out: list[Span] = []
    i = 0
    n = len(text)
    code_start = 0
    last_name = (0, 0)  # the last bare word: ``E`` before a quote starts an escape string

    def close_code(at: int) -> None:
        if at > code_start:
            out.append(Span("code", code_start, at))

    while i < n:
        ch = text[i]
        end = -1
        kind: Kind = "code"
        if text.startswith("--", i):
            newline = text.find("\n", i)
            end, kind = (n if newline < 0 else newline), "comment"
        elif text.startswith("/*", i):
            end, kind = _block_comment(text, i, nested=pg), "comment"
        elif ch == "'":
            escapes = pg and last_name[1] == i and text[last_name[0] : i] in ("E", "e")
            end, kind = _quoted(text, i, "'", escapes), "string"
        elif ch == '"':
            end, kind = _quoted(text, i, '"', False), "name"
        elif not pg and ch == "`":
            end, kind = _quoted(text, i, "`", False), "name"
        elif not pg and ch == "[":
            close = text.find("]", i + 1)
            end, kind = (close + 1 if close >= 0 else 0), "name"
        elif pg and ch == "$" and (found := _DOLLAR.match(text, i)):
            tag = found.group()
            close = text.find(tag, found.end())
            end, kind = (close + len(tag) if close >= 0 else 0), "string"
        else:
            name = (_PG_NAME if pg else _SQLITE_NAME).match(text, i)
            if name:
                last_name = (i, name.end())
                i = name.end()
            else:
                i += 1
            continue
        if end <= i:
            what = {"string": "a string constant", "name": "a quoted name"}.get(kind, kind)
            raise Invalid(f"{what} does not end (from character {i + 1})")
        close_code(i)
        out.append(Span(kind, i, end))
        i = code_start = end
    close_code(n)
    return out


def _quoted(text: str, start: int, quote: str, escapes: bool) -> int:
    """The end of a quoted run (after its closing quote; a doubled quote is one quote
    inside; with ``escapes`` a backslash escapes the next character); 0 when it does not
    end."""
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if escapes and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and text[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return 0


def _block_comment(text: str, start: int, nested: bool) -> int:
    depth = 0
    i = start
    n = len(text)
    while i < n:
        if text.startswith("/*", i):
            depth = depth + 1 if nested or depth == 0 else depth
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return 0


def one_statement(text: str, dialect: str) -> list[Span]:
    """The spans of ``text`` when it is one statement (a ``;`` may end it, blanks and
    comments may follow); ``Invalid`` otherwise, with why."""
    found = spans(text, dialect)
    ended = False
    statement = False
    for span in found:
        if span.kind == "comment":
            continue
        part = text[span.start : span.end] if span.kind == "code" else "x"
        for ch in part:
            if ch.isspace():
                continue
            if ended:
                raise Invalid("it holds more than one statement (text after a ;)")
            if ch == ";":
                if not statement:
                    raise Invalid("it holds an empty statement (a ; with nothing before it)")
                ended = True
            else:
                statement = True
    if not statement:
        raise Invalid("it holds no statement")
    return found
