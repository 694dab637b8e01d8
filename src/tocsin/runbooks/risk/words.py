"""Words of a command block: comments stripped (shell and PowerShell ``#``, SQL ``--`` and
``/* */``), shell text split into simple commands with their redirections, ``$(…)`` and
backtick substitutions lifted out, and the positional arguments of a command line.

The readers of this package read these words; nothing here decides a risk.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Set as AbstractSet

from tocsin.errors import Invalid


def strip_hash_comments(code: str) -> str:
    """Drop ``# …`` comments (shell, PowerShell, YAML, Python) outside quotes."""
    out = []
    for line in code.splitlines():
        quote = ""
        cut = len(line)
        escaped = False
        for i, ch in enumerate(line):
            if escaped:
                escaped = False
                continue
            if ch == "\\" and quote != "'":
                escaped = True
                continue
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif (
                ch == "#"
                and (i == 0 or line[i - 1] in " \t;|&(")
                and not (i + 1 < len(line) and line[i + 1] == "{")
            ):
                cut = i
                break
        out.append(line[:cut].rstrip())
    return "\n".join(out)


def strip_between(text: str, start: str, end: str) -> str:
    """Remove every ``start … end`` span, in linear time."""
    out: list[str] = []
    i = 0
    while True:
        j = text.find(start, i)
        if j == -1:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = text.find(end, j + len(start))
        if k == -1:
            return "".join(out)
        out.append(" ")
        i = k + len(end)


def strip_sql_comments(sql: str) -> str:
    sql = strip_between(sql, "/*", "*/")
    return "\n".join(re.sub(r"--(?!\w).*$|^\s*--.*$", "", ln) for ln in sql.splitlines())


# Put among a command's redirect targets when its standard input is another command's output.
PIPED = "\x00piped"


def split_commands(code: str) -> list[tuple[list[str], list[str]]]:
    """Shell text to simple commands: (words, redirect targets). Splits at ; & && || | newlines,
    parentheses and ``$(…)``; keeps quoted strings whole."""
    lexer = shlex.shlex(code, posix=True, punctuation_chars="();<>|&\n")
    lexer.whitespace = " \t\r"
    lexer.commenters = ""
    lexer.wordchars += "${}:@%+,[]!^#"
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: fall back to plain words per line
        tokens = []
        for line in code.splitlines():
            tokens.extend(re.findall(r"[^\s;|&()<>]+|[;|&()<>]+", line))
            tokens.append("\n")
    commands: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    redirects: list[str] = []
    expect_target = False
    for tok in tokens:
        if expect_target:
            redirects.append(tok)
            expect_target = False
            continue
        if tok and set(tok) <= set("<>&|") and ">" in tok:
            if tok.endswith("&") and tok != ">&":
                continue  # 2>&1: the next word is a descriptor, not a file
            expect_target = True
            continue
        if tok and (set(tok) <= set(";&|()\n<") or tok == "$"):
            if words or redirects:
                commands.append((words, redirects))
            words, redirects = [], []
            if tok in ("|", "|&"):
                redirects.append(PIPED)  # the next command reads this one's output
            continue
        words.append(tok)
    if words or redirects:
        commands.append((words, redirects))
    return commands


def strip_options(args: list[str], with_value: AbstractSet[str]) -> list[str]:
    """Positional arguments, skipping options (and the values of options that take one)."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg.startswith("-") and arg != "-":
            if arg in with_value:
                skip = True
            continue
        out.append(arg)
    return out


def after_double_dash(args: list[str]) -> list[str] | None:
    return args[args.index("--") + 1 :] if "--" in args else None


class TooComplex(Invalid):
    """A command too convoluted to read: never taken as safe."""


def substitutions(text: str, depth: int = 0) -> tuple[str, list[str]]:
    """``$(…)`` and backtick substitutions: the text with each replaced by a plain word, and
    the commands inside them (nested ones included)."""
    inner: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$(", i) and not text.startswith("$((", i):
            depth, j = 1, i + 2
            while j < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            body = text[i + 2 : j - 1]
            if depth > 8:
                raise TooComplex("substitutions nested too deeply")
            nested, more = substitutions(body, depth + 1)
            inner.append(nested)
            inner.extend(more)
            out.append("SUBST")
            i = j
        elif text[i] == "`":
            j = text.find("`", i + 1)
            if j == -1:
                out.append(text[i:])
                break
            inner.append(text[i + 1 : j])
            out.append("SUBST")
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out), inner
