"""Label matchers with Alertmanager's semantics: ``=``, ``!=``, ``=~``, ``!~``; regular
expressions are RE2 (linear time, as in Prometheus) and fully anchored.

The one matcher implementation of tocsin: routes, silences, inhibition rules and API filters
all use it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import re2

from tocsin.errors import Invalid

MAX_REGEX_LENGTH = 4096

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=32768)
def _compiled(value: str) -> Any:
    """The anchored RE2 of a matcher's regex, compiled once per process: silences are read
    (and their matchers made) on every flush and listing. RE2 objects are thread-safe."""
    return re2.compile(f"^(?:{value})$", _OPTIONS)


class MatcherError(Invalid):
    """A matcher that cannot be parsed or compiled; the message says why."""


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    _regex: Any = field(default=None, compare=False, repr=False, hash=False)

    @classmethod
    def create(cls, name: str, op: Op | str, value: str) -> Matcher:
        op = Op(op)
        regex = None
        if op in (Op.RE, Op.NRE):
            if len(value) > MAX_REGEX_LENGTH:
                raise MatcherError(
                    f"regular expression for {name!r} is longer than {MAX_REGEX_LENGTH} characters"
                )
            try:
                regex = _compiled(value)
            except re2.error as exc:
                detail = (
                    exc.args[0].decode()
                    if exc.args and isinstance(exc.args[0], bytes)
                    else str(exc)
                )
                raise MatcherError(f"invalid regular expression {value!r}: {detail}") from None
        return cls(name=name, op=op, value=value, _regex=regex)

    @property
    def is_regex(self) -> bool:
        return self.op in (Op.RE, Op.NRE)

    @property
    def is_equal(self) -> bool:
        return self.op in (Op.EQ, Op.RE)

    def matches(self, value: str) -> bool:
        if self.op is Op.EQ:
            return value == self.value
        if self.op is Op.NE:
            return value != self.value
        found = self._regex.fullmatch(value) is not None
        return found if self.op is Op.RE else not found

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        """A missing label matches as the empty string (Prometheus semantics)."""
        return self.matches(labels.get(self.name, ""))

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches_labels(labels) for m in matchers)


_MATCHER_RE = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.S)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body = raw[1:-1]
        out = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                i += 2
                continue
            if ch == '"':
                raise MatcherError(f"unescaped double quote in {raw!r}")
            out.append(ch)
            i += 1
        return "".join(out)
    if '"' in raw:
        raise MatcherError(f"unbalanced quotes in {raw!r}")
    return raw


def parse_matcher(text: str) -> Matcher:
    """``alertname="Probe"``, ``severity=~"crit|warn"``, ``env!=prod``."""
    found = _MATCHER_RE.match(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, op, raw = found.groups()
    return Matcher.create(name, op, _unquote(raw))


def parse_matchers(text: str) -> list[Matcher]:
    """A matcher list as Alertmanager writes it: ``{a="b", c=~"d"}`` or ``a=b,c!=d``."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(f"missing closing brace in {text!r}")
        body = body[1:-1]
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in body:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quoted:
        raise MatcherError(f"unbalanced quotes in {text!r}")
    parts.append("".join(current))
    return [parse_matcher(p) for p in parts if p.strip()]


def from_api(name: str, value: str, is_regex: bool, is_equal: bool = True) -> Matcher:
    """A matcher in the v2 API's JSON shape (``isRegex``, ``isEqual``)."""
    ops = {(True, True): Op.RE, (True, False): Op.NRE, (False, True): Op.EQ, (False, False): Op.NE}
    return Matcher.create(name, ops[(is_regex, is_equal)], value)


def validate_label_name(name: str) -> bool:
    """Prometheus's label name rule, ``[a-zA-Z_][a-zA-Z0-9_]*``: for ASCII text exactly what
    ``str.isidentifier`` accepts (and no trailing newline slips through as with ``$``)."""
    return name.isascii() and name.isidentifier()


def matches_filter(matchers: list[Matcher], labels: dict[str, str]) -> bool:
    """Alertmanager's ``matchFilterLabels``: an empty-valued matcher is satisfied by a
    missing label (=) or by any present label (!=)."""
    for m in matchers:
        present = m.name in labels
        value = labels.get(m.name, "")
        if m.op in (Op.NE, Op.NRE):
            if m.value == "" and present:
                continue
        elif m.value == "" and not present:
            continue
        if not m.matches(value):
            return False
    return True
