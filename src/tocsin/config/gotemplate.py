"""Alertmanager's Go templates, translated to the one sandboxed renderer (``templating.py``).

An ``alertmanager.yml`` writes its text fields (``title``, ``text``, ``html``, ...) and its
``templates:`` files in Go's ``text/template`` language, which cannot run in Python. The
common subset is translated, when the configuration loads, into Jinja text that the one
sandboxed renderer runs against the Alertmanager-shaped view of a message (the context's
``alertmanager``: ``templating.AlertmanagerView``). Anything else is refused here, with the
line and column within the text, what is not supported and what to write instead: a
template is never accepted and then rendered differently or not at all.

The translation is type-directed: Alertmanager's template data has a fixed shape (``Data``,
``Alerts``, ``Alert``, ``KV``, ``Pairs``, ``Strings``), so every field, method and function
is checked here against the type it applies to, as Go would when the template runs. A
missing map key (``.Labels.nosuch``) renders as "", as Go's ``missingkey=zero`` makes
Alertmanager render a missing label of its ``map[string]string``.

Label and annotation values reach the renderer only as data in the context; the Jinja text
holds only the template author's own text and literals, each quoted here. Pure: no I/O (the
loader passes the files' texts in).

Public: ``translate``, ``parse_defines``, ``GoTemplateError``, ``DEFAULT_NAMES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json import dumps as json_quote

__all__ = ["DEFAULT_NAMES", "GoTemplateError", "parse_defines", "translate"]

# The names Alertmanager's own default.tmpl defines. A field that is only a reference to one
# of them (``{{ template "slack.default.title" . }}``) means "the default text": tocsin's own.
DEFAULT_NAMES = frozenset(
    """__alertmanager __alertmanagerURL __subject __description __text_alert_list
    __text_alert_list_markdown slack.default.title slack.default.username
    slack.default.fallback slack.default.callbackid slack.default.pretext
    slack.default.titlelink slack.default.iconemoji slack.default.iconurl slack.default.text
    slack.default.footer slack.default.color pagerduty.default.description
    pagerduty.default.client pagerduty.default.clientURL pagerduty.default.instances
    opsgenie.default.message opsgenie.default.description opsgenie.default.source
    wechat.default.message wechat.default.to_user wechat.default.to_party
    wechat.default.to_tag wechat.default.agent_id victorops.default.state_message
    victorops.default.entity_display_name victorops.default.monitoring_tool
    pushover.default.title pushover.default.message pushover.default.url sns.default.subject
    sns.default.message telegram.default.message discord.default.content
    discord.default.title discord.default.message webex.default.message
    msteams.default.summary msteams.default.title msteams.default.text
    msteamsv2.default.title msteamsv2.default.text jira.default.summary
    jira.default.description jira.default.priority rocketchat.default.title
    rocketchat.default.alias rocketchat.default.titlelink rocketchat.default.emoji
    rocketchat.default.iconurl rocketchat.default.text mattermost.default.color
    mattermost.default.username mattermost.default.title mattermost.default.titlelink
    mattermost.default.fallback mattermost.default.text email.default.subject
    email.default.html""".split()
)

# What a template may hold at most: a text field or a templates: file is configuration, but
# bounded all the same (and inlining ``template`` calls may not nest without end).
MAX_SOURCE = 200_000
MAX_DEPTH = 20
# What one field may inline in all: each ``{{ template }}`` call counts its define's length
# (and a little for the call), so a define called many times inside another called many times
# (10 calls a level, 8 levels: 10^8 copies) is refused at load, not translated into gigabytes.
MAX_INLINED = 1_000_000
_CALL_COST = 100


class GoTemplateError(ValueError):
    """A Go template tocsin cannot run: where (the caller's ``where``: file:line and the
    field), the line and column within the text, what is not supported, what to write."""

    def __init__(self, where: str, line: int, column: int, what: str, instead: str) -> None:
        self.where = where
        self.line = line
        self.column = column
        self.what = what
        self.instead = instead
        tail = f"; {instead}" if instead else ""
        super().__init__(f"{where}: line {line}, column {column}: {what}{tail}")


# --- lexing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
    kind: str  # field var ident str num bool nil ( ) | , := = dot char
    value: str
    off: int  # offset in the source


@dataclass(frozen=True)
class _Seg:
    """A piece of the source: text (trims applied) or an action's tokens."""

    text: str | None
    toks: tuple[_Tok, ...]
    off: int
    end: int = 0  # an action: the offset after its closing delimiter
    ltrim: bool = False  # an action: {{- trims the text before it
    rtrim: bool = False  # an action: -}} trims the text after it


_SPACE = " \t\r\n"
_DIGITS = "0123456789"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xXoObB][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9]*)?(?:[eE][+-]?\d+)?i?)"
)
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
}


class _Source:
    """The text being read, and its errors with line and column."""

    def __init__(self, text: str, where: str, context: str = "") -> None:
        self.text = text
        self.where = where
        self.context = context  # "in {{ template "x" }}: " for a define's body

    def error(self, off: int, what: str, instead: str = "") -> GoTemplateError:
        line = self.text.count("\n", 0, off) + 1
        column = off - (self.text.rfind("\n", 0, off) + 1) + 1
        return GoTemplateError(self.where, line, column, self.context + what, instead)


def _unquote(src: _Source, body: str, off: int) -> str:
    """A Go interpreted string literal's value (``strconv.Unquote``), ``body`` without quotes."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            size = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise src.error(off + i, "a malformed escape in a string")
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise src.error(off + i, "an escape that is no Unicode character")
            out.append(chr(code))
            i += 2 + size
        elif nxt and nxt in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise src.error(off + i, "a malformed octal escape in a string")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise src.error(off + i, f"an unknown escape \\{nxt} in a string")
    return "".join(out)


def _right_delim(text: str, i: int) -> tuple[int, bool] | None:
    """At ``i``: the end of an action (``}}``, or `` -}}`` which trims what follows): the
    offset after it and whether it trims; None if no action ends there."""
    if text.startswith("}}", i):
        return i + 2, False
    if i < len(text) and text[i] in _SPACE and text.startswith("-}}", i + 1):
        return i + 4, True
    return None


def _tokens(src: _Source, start: int) -> tuple[list[_Tok], int, bool]:
    """The tokens of the action from ``start`` to its closing delimiter: the tokens, the
    offset after the delimiter and whether it trims the text after it."""
    text = src.text
    toks: list[_Tok] = []
    i = start
    while True:
        if i >= len(text):
            raise src.error(start - 2, "an action that is never closed with }}")
        end = _right_delim(text, i)
        if end is not None:
            return toks, end[0], end[1]
        ch = text[i]
        if ch in _SPACE:
            i += 1
        elif ch in "()|,":
            toks.append(_Tok(ch, ch, i))
            i += 1
        elif text.startswith(":=", i):
            toks.append(_Tok(":=", ":=", i))
            i += 2
        elif ch == "=":
            toks.append(_Tok("=", "=", i))
            i += 1
        elif ch == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                if text[j] == "\n":
                    raise src.error(i, "a string that is not closed on its line")
                j += 2 if text[j] == "\\" else 1
            if j >= len(text):
                raise src.error(i, "a string that is never closed")
            toks.append(_Tok("str", _unquote(src, text[i + 1 : j], i + 1), i))
            i = j + 1
        elif ch == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise src.error(i, "a raw string that is never closed")
            toks.append(_Tok("str", text[i + 1 : j].replace("\r", ""), i))
            i = j + 1
        elif ch == "'":
            raise src.error(i, "a character constant ('x')", 'write a string in double quotes: "x"')
        elif ch == ".":
            found = _IDENT.match(text, i + 1)
            if found and found.start() == i + 1:
                toks.append(_Tok("field", found.group(), i))
                i = found.end()
            elif text[i + 1 : i + 2].isdigit():
                raise src.error(i, "a number that is not a whole number")
            elif text[i + 1 : i + 2].isalpha():
                raise src.error(
                    i, "a field name that is not plain ASCII", 'write index .Labels "name"'
                )
            else:
                toks.append(_Tok("dot", ".", i))
                i += 1
        elif ch == "$":
            found = _IDENT.match(text, i + 1)
            name = found.group() if found and found.start() == i + 1 else ""
            toks.append(_Tok("var", "$" + name, i))
            i += 1 + len(name)
        elif ch in _DIGITS or (ch in "+-" and text[i + 1 : i + 2] in tuple(_DIGITS)):
            # ASCII digits only: str.isdigit() takes "²" and "١", which no number matches
            found = _NUMBER.match(text, i)
            assert found is not None
            literal = found.group()
            if not re.fullmatch(r"[+-]?[0-9]+", literal):
                raise src.error(i, f"the number {literal}", "write a whole decimal number")
            if len(literal.lstrip("+-")) > 18:  # Go's int is 64 bits; int() refuses 4,300 digits
                raise src.error(i, f"the number {literal[:20]}…", "write a smaller number")
            toks.append(_Tok("num", literal, i))
            i = found.end()
        elif ch.isalpha() or ch == "_":
            found = _IDENT.match(text, i)
            if found is None:
                raise src.error(i, "a name that is not plain ASCII", "use ASCII names")
            word = found.group()
            kind = "bool" if word in ("true", "false") else "nil" if word == "nil" else "ident"
            toks.append(_Tok(kind, word, i))
            i = found.end()
        else:
            raise src.error(i, f"an unexpected character {ch!r} in an action")


def _segments(src: _Source) -> list[_Seg]:
    """The source cut into text and actions, Go's ``{{-``/``-}}`` trims applied to the text
    and comments (``{{/* ... */}}``) dropped."""
    text = src.text
    out: list[_Seg] = []
    pos = 0
    trim_next = False
    while True:
        i = text.find("{{", pos)
        chunk = text[pos:] if i < 0 else text[pos:i]
        if trim_next:
            chunk = chunk.lstrip(_SPACE)
        if i < 0:
            if chunk:
                out.append(_Seg(chunk, (), pos))
            return out
        start = i + 2
        trim = text[start : start + 1] == "-" and text[start + 1 : start + 2] in _SPACE
        if trim and start + 1 < len(text):
            chunk = chunk.rstrip(_SPACE)
            start += 2
        if chunk:
            out.append(_Seg(chunk, (), pos))
        if text.startswith("/*", start):
            close = text.find("*/", start + 2)
            if close < 0:
                raise src.error(i, "a comment that is never closed with */}}")
            end = _right_delim(text, close + 2)
            if end is None:
                raise src.error(close, "a comment that does not end with */}}")
            pos, trim_next = end
            continue
        toks, pos, trim_next = _tokens(src, start)
        if not toks:
            raise src.error(i, "an empty action {{ }}")
        out.append(_Seg(None, tuple(toks), i, pos, trim, trim_next))


# --- parsing -------------------------------------------------------------------------------


@dataclass
class _Operand:
    kind: str  # field (chain on dot), var, ident, str, num, bool, nil, pipe (parenthesised)
    value: str
    off: int
    chain: list[_Tok] = field(default_factory=list)  # .A.B after a var, dot or ( )
    pipe: _Pipe | None = None


@dataclass
class _Cmd:
    args: list[_Operand]
    off: int


@dataclass
class _Pipe:
    decl: list[_Tok]  # $x := / $k, $v :=
    cmds: list[_Cmd]
    off: int


@dataclass
class _Text:
    text: str
    off: int


@dataclass
class _Print:
    pipe: _Pipe
    off: int


@dataclass
class _If:
    kind: str  # if | with
    branches: list[tuple[_Pipe, list[_Node]]]
    other: list[_Node] | None
    off: int


@dataclass
class _Range:
    pipe: _Pipe
    body: list[_Node]
    other: list[_Node] | None
    off: int


@dataclass
class _Call:
    name: str
    pipe: _Pipe | None
    off: int


@dataclass
class _Define:
    name: str
    body: list[_Node]
    text: str  # the body's Go source
    off: int


_Node = _Text | _Print | _If | _Range | _Call | _Define


class _Parser:
    def __init__(self, src: _Source) -> None:
        self.src = src
        self.segs = _segments(src)
        self.i = 0
        self.in_file = False  # a templates: file, where {{ define }} may stand at the top

    def error(self, off: int, what: str, instead: str = "") -> GoTemplateError:
        return self.src.error(off, what, instead)

    def parse(self, allow_define: bool) -> list[_Node]:
        self.in_file = allow_define
        body, stop = self.nodes(top=True)
        if stop is not None:
            raise self.error(stop.off, f"{{{{ {stop.toks[0].value} }}}} with nothing to close")
        return body

    def nodes(self, top: bool = False) -> tuple[list[_Node], _Seg | None]:
        """Nodes up to an ``else`` or ``end`` (returned) or the end of the text."""
        out: list[_Node] = []
        while self.i < len(self.segs):
            seg = self.segs[self.i]
            self.i += 1
            if seg.text is not None:
                out.append(_Text(seg.text, seg.off))
                continue
            first = seg.toks[0]
            word = first.value if first.kind == "ident" else ""
            if word in ("else", "end"):
                return out, seg
            if word in ("if", "with"):
                out.append(self.conditional(seg, word))
            elif word == "range":
                out.append(self.range(seg))
            elif word == "template":
                out.append(self.call(seg))
            elif word == "define":
                if not (self.in_file and top):
                    raise self.error(
                        first.off,
                        "{{ define }} inside a text field"
                        if not self.in_file
                        else "{{ define }} inside another block",
                        "move it to a file listed in templates: and call it with "
                        '{{ template "name" . }}',
                    )
                out.append(self.define(seg))
            elif word == "block":
                raise self.error(
                    first.off,
                    "{{ block }}",
                    'define the text in a templates: file and write {{ template "name" . }}',
                )
            elif word in ("break", "continue"):
                raise self.error(
                    first.off,
                    f"{{{{ {word} }}}}",
                    "choose the alerts with {{ if }} inside the range instead",
                )
            else:
                pipe = self.pipeline(list(seg.toks), seg.off)
                out.append(_Print(pipe, seg.off))
        return out, None  # the caller of a block says which one lacks its end

    def closing(self, stop: _Seg) -> None:
        """An ``{{ end }}`` holds nothing else."""
        if len(stop.toks) > 1:
            raise self.error(stop.toks[1].off, "something after {{ end }}")

    def body_until(self, opener: str, off: int) -> tuple[list[_Node], _Seg]:
        body, stop = self.nodes()
        if stop is None:
            raise self.error(off, f"{{{{ {opener} }}}} without its {{{{ end }}}}")
        return body, stop

    def conditional(self, seg: _Seg, word: str) -> _If:
        pipe = self.pipeline(list(seg.toks[1:]), seg.toks[0].off, control=word)
        branches: list[tuple[_Pipe, list[_Node]]] = []
        other: list[_Node] | None = None
        while True:
            body, stop = self.body_until(word, seg.off)
            branches.append((pipe, body))
            toks = stop.toks
            if toks[0].value == "end":
                self.closing(stop)
                break
            # else, else if, else with
            if len(toks) > 1 and toks[1].kind == "ident" and toks[1].value in ("if", "with"):
                if toks[1].value != word or word == "with":
                    raise self.error(
                        toks[1].off,
                        f"{{{{ else {toks[1].value} }}}} in {{{{ {word} }}}}",
                        f"nest an {{{{ {toks[1].value} }}}} inside {{{{ else }}}}",
                    )
                pipe = self.pipeline(list(toks[2:]), toks[1].off, control=word)
                continue
            if len(toks) > 1:
                raise self.error(toks[1].off, "something after {{ else }}")
            other, stop = self.body_until(word, seg.off)
            if stop.toks[0].value != "end":
                raise self.error(stop.off, f"a second {{{{ else }}}} in one {{{{ {word} }}}}")
            self.closing(stop)
            break
        return _If(word, branches, other, seg.off)

    def range(self, seg: _Seg) -> _Range:
        pipe = self.pipeline(list(seg.toks[1:]), seg.toks[0].off, control="range")
        body, stop = self.body_until("range", seg.off)
        other: list[_Node] | None = None
        if stop.toks[0].value == "else":
            if len(stop.toks) > 1:
                raise self.error(stop.toks[1].off, "something after {{ else }} in a range")
            other, stop = self.body_until("range", seg.off)
            if stop.toks[0].value != "end":
                raise self.error(stop.off, "a second {{ else }} in one {{ range }}")
        self.closing(stop)
        return _Range(pipe, body, other, seg.off)

    def call(self, seg: _Seg) -> _Call:
        toks = seg.toks
        if len(toks) < 2 or toks[1].kind != "str":
            raise self.error(toks[0].off, "{{ template }} without a quoted name")
        pipe = self.pipeline(list(toks[2:]), toks[1].off) if len(toks) > 2 else None
        if pipe is not None and pipe.decl:
            raise self.error(pipe.off, "a declaration in {{ template }}")
        return _Call(toks[1].value, pipe, seg.off)

    def define(self, seg: _Seg) -> _Define:
        toks = seg.toks
        if len(toks) != 2 or toks[1].kind != "str":
            raise self.error(toks[0].off, '{{ define }} without one quoted name: {{ define "x" }}')
        body, stop = self.body_until("define", seg.off)
        if stop.toks[0].value != "end":
            raise self.error(stop.off, "{{ else }} in a {{ define }}")
        self.closing(stop)
        text = self.src.text[seg.end : stop.off]
        # the trims of the define's own delimiters apply to its body's edges
        if seg.rtrim:
            text = text.lstrip(_SPACE)
        if stop.ltrim:
            text = text.rstrip(_SPACE)
        return _Define(toks[1].value, body, text, seg.off)

    # pipelines

    def pipeline(self, toks: list[_Tok], off: int, control: str = "") -> _Pipe:
        decl: list[_Tok] = []
        operator = ""
        if len(toks) >= 2 and toks[0].kind == "var" and toks[1].kind in (":=", "="):
            decl, operator, toks = [toks[0]], toks[1].kind, toks[2:]
        elif (
            len(toks) >= 4
            and toks[0].kind == "var"
            and toks[1].kind == ","
            and toks[2].kind == "var"
            and toks[3].kind in (":=", "=")
        ):
            decl, operator, toks = [toks[0], toks[2]], toks[3].kind, toks[4:]
        if len(decl) == 2 and control != "range":
            raise self.error(decl[0].off, "two variables outside a {{ range }}")
        if decl and control == "if":
            raise self.error(
                decl[0].off,
                "a variable declared in {{ if }}",
                "declare it in its own action before the {{ if }}",
            )
        if operator == "=":
            raise self.error(
                decl[0].off,
                f"assigning to {decl[0].value} with =",
                "declare a new variable with := where it is needed",
            )
        if not toks:
            raise self.error(off, "a missing value")
        pos = 0
        cmds: list[_Cmd] = []
        while True:
            cmd, pos = self.command(toks, pos, off)
            cmds.append(cmd)
            if pos >= len(toks):
                break
            if toks[pos].kind != "|":
                raise self.error(toks[pos].off, f"an unexpected {toks[pos].value!r}")
            pos += 1
            if pos >= len(toks):
                raise self.error(toks[pos - 1].off, "a | with nothing after it")
        return _Pipe(decl, cmds, toks[0].off)

    def command(self, toks: list[_Tok], pos: int, off: int) -> tuple[_Cmd, int]:
        args: list[_Operand] = []
        start = toks[pos].off if pos < len(toks) else off
        while pos < len(toks) and toks[pos].kind not in ("|", ")"):
            operand, pos = self.operand(toks, pos)
            args.append(operand)
        if not args:
            raise self.error(start, "an empty command")
        if pos < len(toks) and toks[pos].kind == ")":
            raise self.error(toks[pos].off, "an unmatched )")
        return _Cmd(args, start), pos

    def operand(self, toks: list[_Tok], pos: int) -> tuple[_Operand, int]:
        tok = toks[pos]
        if tok.kind in (",", ":=", "="):
            raise self.error(tok.off, f"an unexpected {tok.value!r}")
        if tok.kind == "(":
            depth, j = 0, pos
            while j < len(toks):
                if toks[j].kind == "(":
                    depth += 1
                elif toks[j].kind == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(toks):
                raise self.error(tok.off, "an unclosed (")
            inner = toks[pos + 1 : j]
            if not inner:
                raise self.error(tok.off, "empty parentheses ()")
            pipe = self.pipeline(inner, tok.off)
            if pipe.decl:
                raise self.error(tok.off, "a declaration inside parentheses")
            operand = _Operand("pipe", "(", tok.off, pipe=pipe)
            pos = j + 1
        elif tok.kind == "field":
            # ``.A.B``: dot, then its chain
            operand = _Operand("field", ".", tok.off, chain=[tok])
            pos += 1
        else:
            operand = _Operand(tok.kind, tok.value, tok.off)
            pos += 1
        return self.chain(operand, toks, pos)

    def chain(self, operand: _Operand, toks: list[_Tok], pos: int) -> tuple[_Operand, int]:
        """Fields right after a term (no space) continue it: ``$a.Labels``, ``(x).Name``;
        ``.A .B`` are two operands, as Go's lexer reads them."""
        while pos < len(toks) and toks[pos].kind == "field" and _adjacent(toks[pos - 1], toks[pos]):
            if operand.kind not in ("field", "var", "dot", "pipe"):
                raise self.error(toks[pos].off, f"a field of {operand.value}")
            operand.chain.append(toks[pos])
            pos += 1
        return operand, pos


def _adjacent(prev: _Tok, tok: _Tok) -> bool:
    """Whether ``tok`` follows ``prev`` with no space: the field continues a chain."""
    width = {"field": 1 + len(prev.value), "var": len(prev.value), "dot": 1, ")": 1}
    return prev.off + width.get(prev.kind, 10**9) == tok.off


# --- types and translation -----------------------------------------------------------------

# The types of Alertmanager's template data (template/template.go), and what tocsin's view
# (``templating.AlertmanagerView``) calls each field.
_FIELDS: dict[str, dict[str, str]] = {
    "Data": {
        "Receiver": "str",
        "Status": "str",
        "Alerts": "Alerts",
        "GroupLabels": "KV",
        "CommonLabels": "KV",
        "CommonAnnotations": "KV",
        "ExternalURL": "str",
    },
    "Alert": {
        "Status": "str",
        "Labels": "KV",
        "Annotations": "KV",
        "StartsAt": "time",
        "EndsAt": "time",
        "GeneratorURL": "str",
        "Fingerprint": "str",
    },
    "Pair": {"Name": "str", "Value": "str"},
}
# Methods without arguments, as Go calls them in a field chain.
_METHODS: dict[str, dict[str, str]] = {
    "Alerts": {"Firing": "AlertList", "Resolved": "AlertList"},
    "KV": {"SortedPairs": "Pairs", "Names": "Strings", "Values": "Strings", "String": "str"},
    "Pairs": {"Names": "Strings", "Values": "Strings", "String": "str"},
}
_ELEMENT = {
    "Alerts": "Alert",
    "AlertList": "Alert",
    "Pairs": "Pair",
    "Strings": "str",
    "KV": "str",
}
_PRINTABLE = {"str", "int", "KV", "Pairs", "Strings", "time", "bool"}
_DESCRIBE = {
    "Data": "the notification's data (.)",
    "Alerts": "a list of alerts",
    "AlertList": "a list of alerts",
    "Alert": "an alert",
    "KV": "a set of labels",
    "Pairs": "a list of label pairs",
    "Pair": "a label pair",
    "Strings": "a list of strings",
    "str": "a string",
    "int": "a number",
    "bool": "a true/false value",
    "time": "a time",
    "nil": "nothing (nil)",
    "any": "a value of more than one type",
}

_NOT_AVAILABLE = {
    "RouteLabels": "tocsin has no route labels: write the labels you mean",
    "NotificationReason": "tocsin sends no notification reason: leave it out",
}

_FUNCTION_ADVICE = {
    "printf": "write the text and the values next to each other: {{ .Labels.x }}/{{ .Labels.y }}",
    "print": "write the values next to each other",
    "println": "write the values next to each other, and the newline as text",
    "html": "leave it out: tocsin escapes HTML itself in html fields",
    "js": "leave it out: the value is printed as text",
    "urlquery": "leave it out, or link to the incident: {{ .ExternalURL }}",
    "safeHtml": "leave it out: tocsin escapes HTML itself in html fields",
    "safeUrl": "leave it out: the value is printed as text",
    "urlUnescape": "leave it out: the value is printed as it is",
    "match": "route on the label in the routing tree instead of matching it in the text",
    "reReplaceAll": "print the value as it is, or set the text you want as an annotation",
    "tz": 'print the time in UTC, in a layout: {{ .StartsAt.Format "2006-01-02 15:04" }}',
    "now": "leave it out: tocsin's messages say when they were sent",
    "since": "print the start time: {{ .StartsAt }}",
    "humanizeDuration": "print the start time: {{ .StartsAt }}",
    "toDate": 'print the time in UTC, in a layout: {{ .StartsAt.Format "2006-01-02 15:04" }}',
    "mustToDate": 'print the time in UTC, in a layout: {{ .StartsAt.Format "2006-01-02 15:04" }}',
    "toJson": "use a webhook channel: it sends the alerts as JSON",
    "base64encode": "leave it out",
    "base64decode": "leave it out",
    "stringSlice": 'write the strings as text, or join a label list: .Values | join ", "',
    "list": "range over the alerts or labels instead",
    "append": "range over the alerts or labels instead",
    "dict": "pass . to the template and read the fields there",
    "slice": "range over the whole list instead",
    "call": "leave it out",
    "routeLabels": "tocsin has no route labels: write the labels you mean",
}

SUPPORTED_FUNCTIONS = (
    "eq ne lt le gt ge and or not len index toUpper toLower title trimSpace join date".split()
)


@dataclass(frozen=True)
class _Val:
    expr: str  # Jinja expression
    type: str


def _describe(value: _Val) -> str:
    return _DESCRIBE.get(value.type, value.type)


def _jinja_str(value: str) -> str:
    """A Jinja string literal whose value is exactly ``value``: Jinja decodes its literals
    with Python's ``unicode-escape``, so everything but plain printable ASCII is escaped."""
    out = ["'"]
    for ch in value:
        code = ord(ch)
        if ch in "\\'":
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append("'")
    return "".join(out)


def _text(value: str) -> str:
    """Literal text as Jinja text: as it is, but ``{`` (which could open a Jinja tag) and
    ``\\r`` (which Jinja would make a newline) as expressions that print themselves (neither
    is changed by HTML escaping)."""
    return re.sub(r"[{\r]", lambda m: "{{ " + _jinja_str(m.group()) + " }}", value)


def _tag(body: str) -> str:
    # ``+`` on both sides: the renderer's trim_blocks and lstrip_blocks do not apply, so the
    # text around a tag is kept as Go keeps it.
    return "{%+ " + body + " +%}"


@dataclass
class _Scope:
    dot: _Val
    root: _Val
    names: dict[str, _Val]


class _Translator:
    def __init__(self, where: str, defines: Mapping[str, str]) -> None:
        self.where = where
        self.defines = defines
        self.counter = 0
        self.stack: list[str] = []
        self.parsed: dict[str, tuple[_Source, list[_Node]]] = {}
        self.inlined = 0  # the characters of defines inlined so far (MAX_INLINED)

    def fresh(self, name: str) -> str:
        self.counter += 1
        return f"go_{name}_{self.counter}"

    # nodes

    def nodes(self, src: _Source, nodes: list[_Node], scope: _Scope, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                out.append(_text(node.text))
            elif isinstance(node, _Print):
                self.print(src, node, scope, out)
            elif isinstance(node, _If):
                self.conditional(src, node, scope, out)
            elif isinstance(node, _Range):
                self.range(src, node, scope, out)
            elif isinstance(node, _Call):
                self.call(src, node, scope, out)
            else:  # a define where none may be: refused by the parser
                raise src.error(node.off, "{{ define }} here")

    def declare(self, src: _Source, var: _Tok, value: _Val, scope: _Scope) -> str:
        name = var.value
        if name == "$" or not re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", name):
            raise src.error(var.off, f"the variable name {name}")
        jinja = self.fresh(name[1:])
        scope.names[name] = _Val(jinja, value.type)
        return jinja

    def print(self, src: _Source, node: _Print, scope: _Scope, out: list[str]) -> None:
        value = self.pipe(src, node.pipe, scope)
        if node.pipe.decl:
            jinja = self.declare(src, node.pipe.decl[0], value, scope)
            out.append(_tag(f"set {jinja} = {value.expr}"))
            return
        out.append(self.printed(src, value, node.off))

    def printed(self, src: _Source, value: _Val, off: int) -> str:
        if value.type == "bool":
            return "{{ " + f"'true' if {value.expr} else 'false'" + " }}"
        if value.type not in _PRINTABLE:
            raise src.error(
                off,
                f"printing {_DESCRIBE.get(value.type, value.type)} as Go prints it",
                "print its fields instead, e.g. {{ .Labels.alertname }}",
            )
        return "{{ " + value.expr + " }}"

    def conditional(self, src: _Source, node: _If, scope: _Scope, out: list[str]) -> None:
        if node.kind == "with":
            pipe, body = node.branches[0]
            value = self.pipe(src, pipe, scope)
            inner = _Scope(scope.dot, scope.root, dict(scope.names))
            dot = self.fresh("dot")
            out.append(_tag(f"set {dot} = {value.expr}"))
            inner.dot = _Val(dot, value.type)
            if pipe.decl:
                jinja = self.declare(src, pipe.decl[0], value, inner)
                out.append(_tag(f"set {jinja} = {dot}"))
            out.append(_tag(f"if {dot}"))
            self.nodes(src, body, inner, out)
            if node.other is not None:
                out.append(_tag("else"))
                self.nodes(src, node.other, _Scope(scope.dot, scope.root, dict(scope.names)), out)
            out.append(_tag("endif"))
            return
        for n, (pipe, body) in enumerate(node.branches):
            value = self.pipe(src, pipe, scope)
            out.append(_tag(("if " if n == 0 else "elif ") + value.expr))
            self.nodes(src, body, _Scope(scope.dot, scope.root, dict(scope.names)), out)
        if node.other is not None:
            out.append(_tag("else"))
            self.nodes(src, node.other, _Scope(scope.dot, scope.root, dict(scope.names)), out)
        out.append(_tag("endif"))

    def range(self, src: _Source, node: _Range, scope: _Scope, out: list[str]) -> None:
        value = self.pipe(src, node.pipe, scope)
        element = _ELEMENT.get(value.type)
        if element is None:
            raise src.error(
                node.pipe.off,
                f"ranging over {_DESCRIBE.get(value.type, value.type)}",
                "range over .Alerts, .Alerts.Firing, .Alerts.Resolved, a label set "
                "(.CommonLabels) or a list (.GroupLabels.SortedPairs)",
            )
        inner = _Scope(scope.dot, scope.root, dict(scope.names))
        decl = node.pipe.decl
        dot = self.fresh("dot")
        inner.dot = _Val(dot, element)
        if value.type == "KV":
            key = self.fresh("key")
            out.append(_tag(f"for {key}, {dot} in {value.expr}|dictsort(true)"))
            if len(decl) == 2:
                inner.names[decl[0].value] = _Val(key, "str")
        else:
            out.append(_tag(f"for {dot} in {value.expr}"))
            if len(decl) == 2:
                index = self.fresh("index")
                out.append(_tag(f"set {index} = loop.index0"))
                inner.names[decl[0].value] = _Val(index, "int")
        if decl:
            var = decl[-1]
            if not re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", var.value):
                raise src.error(var.off, f"the variable name {var.value}")
            inner.names[var.value] = _Val(dot, element)
        self.nodes(src, node.body, inner, out)
        if node.other is not None:
            out.append(_tag("else"))
            self.nodes(src, node.other, _Scope(scope.dot, scope.root, dict(scope.names)), out)
        out.append(_tag("endfor"))

    def call(self, src: _Source, node: _Call, scope: _Scope, out: list[str]) -> None:
        name = node.name
        if name not in self.defines:
            if name in DEFAULT_NAMES:
                raise src.error(
                    node.off,
                    f'Alertmanager\'s default template "{name}" inside other text',
                    "write the field as only "
                    f'{{{{ template "{name}" . }}}} to use tocsin\'s own default, or write '
                    "the text you want",
                )
            raise src.error(
                node.off,
                f'{{{{ template "{name}" }}}}: no file listed in templates: defines "{name}"',
                f'add {{{{ define "{name}" }}}}...{{{{ end }}}} to a templates: file',
            )
        if name in self.stack:
            raise src.error(
                node.off,
                f'template "{name}" calls itself',
                "write the text without recursion",
            )
        if len(self.stack) >= MAX_DEPTH:
            raise src.error(node.off, f"templates nested more than {MAX_DEPTH} deep")
        self.inlined += len(self.defines[name]) + _CALL_COST
        if self.inlined > MAX_INLINED:
            raise src.error(
                node.off,
                f"templates inlined into more than {MAX_INLINED:,} characters "
                "(a define called many times inside another called many times)",
                "call each define fewer times, or write the text once",
            )
        value = _Val("none", "nil") if node.pipe is None else self.pipe(src, node.pipe, scope)
        body_src, body = self.parsed_define(name)
        dot = self.fresh("dot")
        out.append(_tag(f"set {dot} = {value.expr}"))
        inner = _Scope(_Val(dot, value.type), _Val(dot, value.type), {})
        self.stack.append(name)
        try:
            self.nodes(body_src, body, inner, out)
        finally:
            self.stack.pop()

    def parsed_define(self, name: str) -> tuple[_Source, list[_Node]]:
        if name not in self.parsed:
            body_src = _Source(
                self.defines[name],
                self.where,
                f'in {{{{ define "{name}" }}}} (the line and column within its body): ',
            )
            self.parsed[name] = (body_src, _Parser(body_src).parse(allow_define=False))
        return self.parsed[name]

    # pipelines

    def pipe(self, src: _Source, pipe: _Pipe, scope: _Scope) -> _Val:
        value: _Val | None = None
        for cmd in pipe.cmds:
            value = self.command(src, cmd, scope, value)
        assert value is not None
        return value

    def command(self, src: _Source, cmd: _Cmd, scope: _Scope, piped: _Val | None) -> _Val:
        first = cmd.args[0]
        if first.kind == "ident" and not first.chain:
            args = [self.operand(src, a, scope) for a in cmd.args[1:]]
            if piped is not None:
                args.append(piped)
            return self.function(src, first, args)
        if (
            first.kind in ("field", "var", "dot", "pipe")
            and first.chain
            and (len(cmd.args) > 1 or piped is not None)
        ):
            # a method with arguments: the last of the chain
            receiver = self.operand(src, first, scope, upto=len(first.chain) - 1)
            args = [self.operand(src, a, scope) for a in cmd.args[1:]]
            if piped is not None:
                args.append(piped)
            return self.method(src, receiver, first.chain[-1], args)
        if len(cmd.args) > 1 or piped is not None:
            where = cmd.args[1].off if len(cmd.args) > 1 else first.off
            shown = json_quote(first.value) if first.kind == "str" else first.value
            raise src.error(where, f"arguments given to {shown}, which takes none")
        return self.operand(src, first, scope)

    def operand(self, src: _Source, op: _Operand, scope: _Scope, upto: int | None = None) -> _Val:
        if op.kind in ("field", "dot"):
            value = scope.dot
        elif op.kind == "var":
            if op.value == "$":
                value = scope.root
            elif op.value in scope.names:
                value = scope.names[op.value]
            else:
                raise src.error(op.off, f"the undefined variable {op.value}")
        elif op.kind == "pipe":
            assert op.pipe is not None
            value = self.pipe(src, op.pipe, scope)
            value = _Val(f"({value.expr})", value.type)
        elif op.kind == "str":
            value = _Val(_jinja_str(op.value), "str")
        elif op.kind == "num":
            value = _Val(str(int(op.value)), "int")
        elif op.kind == "bool":
            value = _Val("true" if op.value == "true" else "false", "bool")
        elif op.kind == "nil":
            raise src.error(op.off, "nil", 'compare with an empty string instead: eq .x ""')
        else:  # a function name as an argument: a call without arguments
            return self.function(src, op, [])
        chain = op.chain if upto is None else op.chain[:upto]
        for tok in chain:
            value = self.field(src, value, tok)
        return value

    def field(self, src: _Source, value: _Val, tok: _Tok) -> _Val:
        name = tok.value
        typ = value.type
        method = _METHODS.get(typ, {}).get(name)
        if method is not None:
            if name == "String":
                return _Val(f"({value.expr}|string)", "str")
            return _Val(f"{value.expr}.{name}()", method)
        if typ == "Data" and name in _NOT_AVAILABLE:
            raise src.error(tok.off, f".{name}", _NOT_AVAILABLE[name])
        found = _FIELDS.get(typ, {}).get(name)
        if found is not None:
            return _Val(f"{value.expr}.{name}", found)
        if typ == "KV":
            if name in ("Remove",):
                raise src.error(tok.off, f".{name} without its argument")
            # a map key: Alertmanager's missingkey=zero renders a missing one as ""
            return _Val(f"{value.expr}.get({_jinja_str(name)}, '')", "str")
        if typ == "Strings" and name == "Join":
            raise src.error(tok.off, ".Join without its separator", '.Join ", "')
        if typ == "time":
            raise src.error(
                tok.off,
                f"the time method .{name}",
                'print the time, as it is or in a layout: {{ .StartsAt.Format "2006-01-02 '
                '15:04:05" }}',
            )
        if typ == "nil":
            raise src.error(
                tok.off,
                f".{name} of nothing: the template was called without data",
                'pass the data where it is called: {{ template "name" . }}',
            )
        fields = sorted({**_FIELDS.get(typ, {}), **_METHODS.get(typ, {})})
        have = f"it has {', '.join('.' + f for f in fields)}" if fields else "it has no fields"
        raise src.error(tok.off, f"no field .{name} in {_DESCRIBE.get(typ, typ)}", have)

    def method(self, src: _Source, receiver: _Val, tok: _Tok, args: list[_Val]) -> _Val:
        name = tok.value
        if receiver.type == "KV" and name == "Remove":
            if len(args) != 1 or args[0].type != "Strings":
                raise src.error(
                    tok.off, ".Remove takes one list of names: .Remove .GroupLabels.Names"
                )
            return _Val(f"{receiver.expr}.Remove({args[0].expr})", "KV")
        if receiver.type == "Strings" and name == "Join":
            if len(args) != 1 or args[0].type != "str":
                raise src.error(tok.off, '.Join takes one separator: .Join ", "')
            return _Val(f"({receiver.expr}|join({args[0].expr}))", "str")
        if receiver.type == "time" and name == "Format":
            if len(args) != 1 or args[0].type != "str":
                raise src.error(tok.off, '.Format takes one layout: .Format "2006-01-02 15:04:05"')
            return _Val(f"{receiver.expr}.Format({args[0].expr})", "str")
        if receiver.type == "time" or name == "Format":
            raise src.error(
                tok.off,
                f"the time method .{name}",
                'print the time, as it is or in a layout: {{ .StartsAt.Format "2006-01-02 '
                '15:04:05" }}',
            )
        raise src.error(
            tok.off, f".{name} with arguments on {_DESCRIBE.get(receiver.type, receiver.type)}"
        )

    def function(self, src: _Source, op: _Operand, args: list[_Val]) -> _Val:
        name = op.value
        handler = _FUNCTIONS.get(name)
        if handler is None:
            advice = _FUNCTION_ADVICE.get(name)
            if name in ("if", "range", "with", "else", "end", "define", "template", "block"):
                raise src.error(op.off, f"{name} where a value is expected")
            raise src.error(
                op.off,
                f"the function {name}",
                advice or "the functions tocsin translates are " + ", ".join(SUPPORTED_FUNCTIONS),
            )
        return handler(src, op, args)


def _want(src: _Source, op: _Operand, args: list[_Val], count: int, at_least: bool = False) -> None:
    if (len(args) < count) if at_least else (len(args) != count):
        raise src.error(
            op.off,
            f"{op.value} with {len(args)} argument{'s' if len(args) != 1 else ''}",
            f"{op.value} takes {'at least ' if at_least else ''}{count}",
        )


def _comparable(src: _Source, op: _Operand, a: _Val, b: _Val, ordered: bool) -> None:
    allowed = {"str", "int"} if ordered else {"str", "int", "bool"}
    if a.type not in allowed or b.type != a.type:
        raise src.error(
            op.off,
            f"{op.value} of {_DESCRIBE.get(a.type, a.type)} and {_DESCRIBE.get(b.type, b.type)}",
            'compare two strings or two numbers, e.g. eq .Status "firing"',
        )


def _eq(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
    _want(src, op, args, 2, at_least=True)
    for other in args[1:]:
        _comparable(src, op, args[0], other, ordered=False)
    if op.value == "ne":
        _want(src, op, args, 2)
        return _Val(f"({args[0].expr} != {args[1].expr})", "bool")
    tests = " or ".join(f"{args[0].expr} == {b.expr}" for b in args[1:])
    return _Val(f"({tests})", "bool")


def _order(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
    _want(src, op, args, 2)
    _comparable(src, op, args[0], args[1], ordered=True)
    sign = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op.value]
    return _Val(f"({args[0].expr} {sign} {args[1].expr})", "bool")


def _logic(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
    _want(src, op, args, 1, at_least=True)
    types = {a.type for a in args}
    # Go's and/or return one of their arguments, as Jinja's do
    return _Val(
        "(" + f" {op.value} ".join(a.expr for a in args) + ")",
        types.pop() if len(types) == 1 else "any",
    )


def _not(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
    _want(src, op, args, 1)
    return _Val(f"(not {args[0].expr})", "bool")


def _len(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
    _want(src, op, args, 1)
    if args[0].type not in _ELEMENT:
        raise src.error(
            op.off,
            f"len of {_DESCRIBE.get(args[0].type, args[0].type)}",
            "count alerts or labels: len .Alerts.Firing, len .CommonLabels",
        )
    return _Val(f"({args[0].expr}|length)", "int")


def _index(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
    _want(src, op, args, 2)
    target, key = args
    if target.type == "KV" and key.type == "str":
        return _Val(f"{target.expr}.get({key.expr}, '')", "str")
    if target.type in ("Alerts", "AlertList", "Pairs", "Strings") and key.type == "int":
        return _Val(f"{target.expr}[{key.expr}]", _ELEMENT[target.type])
    raise src.error(
        op.off,
        f"index of {_describe(target)} by {_describe(key)}",
        'index a label set by a name (index .Labels "name") or a list by a number',
    )


def _string_filter(jinja: str) -> Callable[[_Source, _Operand, list[_Val]], _Val]:
    def handler(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
        _want(src, op, args, 1)
        if args[0].type != "str":
            raise src.error(
                op.off,
                f"{op.value} of {_DESCRIBE.get(args[0].type, args[0].type)}",
                "give it a string",
            )
        return _Val(f"({args[0].expr}|{jinja})", "str")

    return handler


def _date(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
    _want(src, op, args, 2)
    layout, moment = args
    if layout.type != "str" or moment.type != "time":
        raise src.error(op.off, "date takes a layout and a time", 'date "15:04" .StartsAt')
    return _Val(f"{moment.expr}.Format({layout.expr})", "str")


def _join(src: _Source, op: _Operand, args: list[_Val]) -> _Val:
    _want(src, op, args, 2)
    sep, items = args
    if sep.type != "str" or items.type != "Strings":
        raise src.error(
            op.off,
            f"join of {_describe(items)} with {_describe(sep)}",
            'join a list of strings: .GroupLabels.SortedPairs.Values | join ", "',
        )
    return _Val(f"({items.expr}|join({sep.expr}))", "str")


_FUNCTIONS: dict[str, Callable[[_Source, _Operand, list[_Val]], _Val]] = {
    "eq": _eq,
    "ne": _eq,
    "lt": _order,
    "le": _order,
    "gt": _order,
    "ge": _order,
    "and": _logic,
    "or": _logic,
    "not": _not,
    "len": _len,
    "index": _index,
    "toUpper": _string_filter("upper"),
    "toLower": _string_filter("lower"),
    "title": _string_filter("title"),
    "trimSpace": _string_filter("trim"),
    "join": _join,
    "date": _date,
}

ROOT = "alertmanager"  # the context's name for Alertmanager's data (``templating``)


def _only_default(nodes: list[_Node], defines: Mapping[str, str]) -> bool:
    """Whether the text is only ``{{ template "<a default>" . }}`` (space around it aside)."""
    rest = [n for n in nodes if not (isinstance(n, _Text) and not n.text.strip())]
    if len(rest) != 1 or not isinstance(rest[0], _Call):
        return False
    call = rest[0]
    if call.name not in DEFAULT_NAMES or call.name in defines:
        return False
    pipe = call.pipe
    return (
        pipe is not None
        and len(pipe.cmds) == 1
        and len(pipe.cmds[0].args) == 1
        and pipe.cmds[0].args[0].kind in ("dot", "var")
        and pipe.cmds[0].args[0].value in (".", "$")
        and not pipe.cmds[0].args[0].chain
    )


def _too_deep(src: _Source) -> GoTemplateError:
    """A template nested deeper than the parser's (Python's) recursion goes: a refusal, not
    a crash of the load."""
    return src.error(
        0, "if, range, with and parentheses nested too deep", "nest them fewer levels deep"
    )


def translate(source: str, *, where: str, defines: Mapping[str, str] | None = None) -> str | None:
    """The Jinja text (for ``templating``'s one sandboxed renderer, over the context's
    ``alertmanager`` view) that renders what Alertmanager renders for the Go template
    ``source``; None when ``source`` only names one of Alertmanager's default templates
    (use tocsin's own default). ``defines``: the ``{{ define }}`` bodies of the
    ``templates:`` files (``parse_defines``), inlined where ``{{ template }}`` calls them.
    GoTemplateError (a ValueError) for anything outside the subset, saying where, what and
    what to write instead."""
    src = _Source(source, where)
    if len(source) > MAX_SOURCE:
        raise src.error(0, f"a template longer than {MAX_SOURCE:,} characters", "shorten it")
    defs = dict(defines or {})
    try:
        nodes = _Parser(src).parse(allow_define=False)
        if _only_default(nodes, defs):
            return None
        root = _Val(ROOT, "Data")
        out: list[str] = []
        _Translator(where, defs).nodes(src, nodes, _Scope(root, root, {}), out)
    except RecursionError:
        raise _too_deep(src) from None
    text = "".join(out)
    if text.endswith("\n"):
        # the renderer drops one trailing newline of a template; Go keeps it
        text += "{{ '' }}"
    return text


def parse_defines(text: str, *, where: str) -> dict[str, str]:
    """The ``{{ define "name" }}...{{ end }}`` bodies of a ``templates:`` file, by name, as
    Go source for ``translate``'s ``defines``. Each body is checked for Go's syntax here
    (GoTemplateError with its line and column in the file); what it may use is checked where
    it is called, since that decides what ``.`` is. Text outside the defines is not used
    (as Alertmanager does not use it); a name defined twice in one file is refused, as Go
    refuses it. Across files a later file's define replaces an earlier one's, as in
    Alertmanager: merge the results in the order of ``templates:``."""
    src = _Source(text, where)
    if len(text) > MAX_SOURCE:
        raise src.error(0, f"a templates file longer than {MAX_SOURCE:,} characters", "split it")
    try:
        nodes = _Parser(src).parse(allow_define=True)
    except RecursionError:
        raise _too_deep(src) from None
    out: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, _Define):
            if node.name in out:
                raise src.error(
                    node.off,
                    f'a second {{{{ define "{node.name}" }}}} in one file',
                    "keep one of them",
                )
            out[node.name] = node.text
    return out
