"""Drift: the runbook catalog beside the alerting rules a Prometheus actually loaded.

Pure: the rules come in as ``LiveRule`` values (``rules_from_api`` reads the answer of
Prometheus's ``/api/v1/rules``); ``service/drift.py`` fetches them. Five kinds of finding,
each with what the runbook says and what the rule says:

- ``no_runbook``: an alerting rule that no runbook documents;
- ``no_rule``: a runbook alert that no loaded rule defines;
- ``threshold``: none of the numbers the runbook states for the alert (in its PromQL, or in
  its threshold in words, read with their units: ``5%`` is 5 or 0.05, ``500ms`` 0.5 or 500)
  is a constant the rule's expression compares with, in the same direction;
- ``for``: the runbook's ``for`` differs from the rule's;
- ``severity``: the rule's severity label names another level than the runbook's severity
  (through the configuration's levels and their aliases: ``P1`` and ``page`` are critical).

A runbook that states no number, no ``for`` or no severity gives no finding of that kind.
Names match as ``Catalog.find`` matches them: exactly first, else ignoring case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tocsin.errors import Invalid
from tocsin.oncall.severity import DEFAULT_LEVELS, Level, level_of
from tocsin.runbooks.model import Alert, Catalog, Problem, Runbook
from tocsin.runbooks.parse.thresholds import is_promql_expression
from tocsin.runbooks.text import normalize_severity
from tocsin.times import format_duration

Kind = Literal["no_runbook", "no_rule", "threshold", "for", "severity"]
KINDS: tuple[Kind, ...] = ("no_runbook", "no_rule", "threshold", "for", "severity")
TITLES: dict[str, str] = {
    "no_runbook": "Alerting rules with no runbook",
    "no_rule": "Runbook alerts that no rule defines",
    "threshold": "Thresholds that differ",
    "for": "Durations (`for`) that differ",
    "severity": "Severities that disagree",
}
# the lint problem of each kind (``tocsin runbooks lint --prometheus URL``): all warnings
CODES: dict[str, str] = {kind: "drift-" + kind.replace("_", "-") for kind in KINDS}
MAX_EXPR_CHARS = 20_000  # longer expressions are not read for constants
_SHOWN_EXPR = 300  # characters of an expression a finding shows


@dataclass(frozen=True)
class LiveRule:
    """An alerting rule as Prometheus loaded it."""

    name: str
    expr: str
    for_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    group: str = ""
    file: str = ""


@dataclass(frozen=True)
class Finding:
    """One difference between the catalog and the live rules."""

    kind: Kind
    alert: str
    runbook: str = ""  # what the runbook says ("" for no_runbook)
    rule: str = ""  # what the live rule says ("" for no_rule)
    note: str = ""  # how the two were read (units), or what more there is to know
    source: str | None = None  # the runbook file (None for no_runbook)
    line: int | None = None
    group: str | None = None  # the rule's group (None for no_rule)
    file: str | None = None  # the rule's file, as Prometheus names it
    expr: str | None = None  # the rule's expression, where it matters

    def message(self) -> str:
        """The finding in one sentence."""
        note = f" ({self.note})" if self.note else ""
        if self.kind == "no_runbook":
            where = f" in group {self.group}" if self.group else ""
            return f"{self.alert}: the alerting rule{where} has no runbook{note}"
        if self.kind == "no_rule":
            return f"{self.alert}: no alerting rule loaded in Prometheus defines it{note}"
        if self.kind == "threshold":
            return (
                f"{self.alert}: the runbook's threshold is {self.runbook}, the rule compares "
                f"with {self.rule}{note}"
            )
        if self.kind == "for":
            theirs = (
                "has no for: it fires at its first evaluation"
                if self.rule == "0s"
                else f"says for {self.rule}"
            )
            return f"{self.alert}: the runbook says for {self.runbook}, the rule {theirs}{note}"
        theirs = f"has {self.rule}" if self.rule.startswith("no ") else f"says {self.rule}"
        return f"{self.alert}: the runbook says {self.runbook}, the rule {theirs}{note}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message()}


# --------------------------------------------------------------------------- the API's answer


def _strings(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"a rule's {what} are not an object")
    return {str(k): str(v) for k, v in value.items()}


def rules_from_api(body: object) -> list[LiveRule]:
    """The alerting rules in an answer of ``/api/v1/rules`` (recording rules left out);
    ``Invalid`` when the answer is not that API's."""
    if not isinstance(body, dict):
        raise Invalid("the answer is not a JSON object")
    if body.get("status") != "success":
        error = body.get("error")
        raise Invalid(f"the answer says {error}" if error else "the answer is not a success")
    data = body.get("data")
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise Invalid("the answer has no data.groups")
    rules: list[LiveRule] = []
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("rules"), list):
            raise Invalid("a rule group without its rules")
        group_name, group_file = str(group.get("name") or ""), str(group.get("file") or "")
        for rule in group["rules"]:
            if not isinstance(rule, dict):
                raise Invalid(f"a rule of group {group_name} is not an object")
            if rule.get("type") != "alerting":
                continue  # a recording rule
            name, query, duration = rule.get("name"), rule.get("query"), rule.get("duration", 0)
            if not isinstance(name, str) or not isinstance(query, str):
                raise Invalid(f"an alerting rule of group {group_name} without name or query")
            if isinstance(duration, bool) or not isinstance(duration, int | float):
                raise Invalid(f"the rule {name} has a duration that is not a number")
            rules.append(
                LiveRule(
                    name=name,
                    expr=query,
                    for_s=float(duration),
                    labels=_strings(rule.get("labels"), "labels"),
                    annotations=_strings(rule.get("annotations"), "annotations"),
                    group=group_name,
                    file=group_file,
                )
            )
    return rules


# --------------------------------------------------------------------------- PromQL's constants

_DIRECTION = {">": "above", ">=": "above", "<": "below", "<=": "below", "==": "equal"}
_DIRECTION["!="] = "unequal"
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}
_OPPOSITE = {"above": "below", "below": "above"}


def number_text(value: float) -> str:
    """A number as a rule file writes it: ``0.05``, ``90``, ``1e+21``."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")


@dataclass(frozen=True)
class Bound:
    """A comparison with a constant: ``> 0.05`` (a constant on the left is turned round:
    ``0.9 < up`` is ``up > 0.9``)."""

    op: str
    value: float

    @property
    def direction(self) -> str:
        return _DIRECTION[self.op]

    def __str__(self) -> str:
        return f"{self.op} {number_text(self.value)}"


_STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_COMMENT = re.compile(r"#[^\n]*")
_TOKEN = re.compile(
    r"(?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w.])"
    r"|(?P<name>[A-Za-z_:][\w:]*|\d[\w.]*)"  # names, keywords, durations (offset 5m)
    r"|(?P<cmp>==|!=|>=|<=|>|<)"
    r"|(?P<op>[-+*/%^])"
    r"|(?P<open>\()"
    r"|(?P<close>\))"
    r"|(?P<other>\S)"
)
_CONSTANT_NAMES = frozenset({"inf", "nan"})
_SET_OPERATORS = frozenset({"and", "or", "unless"})


def _tokens(expr: str) -> list[tuple[str, str]]:
    text = _STRING.sub(" § ", expr[:MAX_EXPR_CHARS])  # a label value may hold anything
    text = _COMMENT.sub(" ", text)
    text = _BRACKETS.sub(" ", _BRACES.sub(" ", text))  # matchers, ranges, subqueries
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(text)]


def _operand(tokens: list[tuple[str, str]], start: int, step: int) -> float | None:
    """The value of the operand beside a comparison (``step`` 1: after it, -1: before it)
    when it is a constant (``0.05``, ``10 * 1024 ^ 3``, ``-1``), else None."""
    taken: list[tuple[str, str]] = []
    depth, at = 0, start
    if step == 1 and at < len(tokens) and tokens[at] == ("name", "bool"):
        at += 1
    while 0 <= at < len(tokens):
        kind, text = tokens[at]
        inward = "open" if step == 1 else "close"
        outward = "close" if step == 1 else "open"
        if kind == inward:
            depth += 1
        elif kind == outward:
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (
            kind in ("cmp", "other") or (kind == "name" and text.lower() in _SET_OPERATORS)
        ):
            break
        elif kind == "name" and text.lower() not in _CONSTANT_NAMES:
            return None  # a selector, a function, a modifier: not a constant
        elif kind in ("cmp", "other"):
            return None
        taken.append((kind, text))
        at += step
    if depth or not taken:
        return None
    if step == -1:
        taken.reverse()
    return _evaluate(taken)


class _Arithmetic:
    """The value of a constant expression's tokens: + - * / % ^, unary signs, parentheses."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def _peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def _next(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise ValueError("the expression ends early")
        self.at += 1
        return self.tokens[self.at - 1]

    def value(self) -> float:
        result = self._sum()
        if self.at != len(self.tokens):
            raise ValueError("more after the expression")
        return result

    def _sum(self) -> float:
        value = self._product()
        while self._peek() in ("+", "-"):
            op = self._next()[1]
            other = self._product()
            value = value + other if op == "+" else value - other
        return value

    def _product(self) -> float:
        value = self._unary()
        while self._peek() in ("*", "/", "%"):
            op = self._next()[1]
            other = self._unary()
            if op == "*":
                value *= other
            elif op == "/":
                value = value / other  # ZeroDivisionError: not read
            else:
                value = math.fmod(value, other)
        return value

    def _unary(self) -> float:
        if self._peek() in ("+", "-"):
            sign = -1.0 if self._next()[1] == "-" else 1.0
            return sign * self._unary()
        return self._power()

    def _power(self) -> float:
        base = self._atom()
        if self._peek() == "^":
            self._next()
            return math.pow(base, self._unary())
        return base

    def _atom(self) -> float:
        kind, text = self._next()
        if kind == "num":
            return float(int(text, 16)) if text[:2].lower() == "0x" else float(text)
        if kind == "name" and text.lower() == "inf":
            return math.inf
        if kind == "name" and text.lower() == "nan":
            return math.nan
        if kind == "open":
            self.depth += 1
            if self.depth > 32:
                raise ValueError("nested too deep")
            value = self._sum()
            if self._next()[0] != "close":
                raise ValueError("a parenthesis is not closed")
            self.depth -= 1
            return value
        raise ValueError(f"unexpected {text!r}")


def _evaluate(tokens: list[tuple[str, str]]) -> float | None:
    try:
        value = _Arithmetic(tokens).value()
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return None if math.isnan(value) else value


def bounds(expr: str) -> list[Bound]:
    """The comparisons with a constant in a PromQL expression, as the expression reads:
    ``rate(x[5m]) > 0.05 and up == 1`` gives ``> 0.05`` and ``== 1``. Numbers elsewhere (a
    quantile, a range, a label value, ``x > y * 2``) are no threshold and are left out."""
    tokens = _tokens(expr)
    found: list[Bound] = []
    for at, (kind, op) in enumerate(tokens):
        if kind != "cmp":
            continue
        right = _operand(tokens, at + 1, 1)
        if right is not None:
            found.append(Bound(op, right))
            continue
        left = _operand(tokens, at - 1, -1)
        if left is not None:
            found.append(Bound(_FLIP[op], left))
    return found


# --------------------------------------------------------------------------- the runbook's words


@dataclass(frozen=True)
class Stated:
    """A number the runbook states as the alert's threshold: as written, its direction
    (``above``, ``below``, ``equal``, ``unequal``; None when the text does not say), and the
    values it may be in a rule (``5%``: 5 or 0.05)."""

    text: str
    direction: str | None
    values: tuple[float, ...]
    percent: bool = False

    @property
    def read_as(self) -> str:
        """How its unit was read, when it has one: ``5% read as 5 or 0.05``."""
        if len(self.values) < 2:
            return ""
        return f"{self.text} read as {' or '.join(number_text(v) for v in self.values)}"


_SYMBOLS = r"!=|≠|<>|>=|≥|=>|<=|≤|=<|==|>|<|="
_WORDS_ABOVE = (
    r"above|over|exceeds?|exceeding|exceeded|beyond|greater\s+than|more\s+than|higher\s+than"
    r"|larger\s+than|at\s+least|reaches|reaching"
)
_WORDS_BELOW = (
    r"below|under|less\s+than|lower\s+than|fewer\s+than|smaller\s+than|at\s+most"
    r"|drops?\s+(?:below|under|to)|falls?\s+(?:below|under|to)"
)
_WORDS_EQUAL = r"equals?(?:\s+to)?|is\s+exactly"
_NUMBER = (
    r"(?<![\w.])(?P<sign>-)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exp>[+-]?\d+))?"
)
_UNIT = (
    r"(?:\s*(?P<unit>%|percent|per\s*cent"
    r"|milliseconds?|millis|ms|microseconds?|µs|us|ns|seconds?|secs?|s"
    r"|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|bytes?"
    r"|[kKMGTP]i?B|[kKMGT]))?(?![\w.])"
)
_STATED = re.compile(
    rf"(?P<op>{_SYMBOLS}|(?<![\w])(?:{_WORDS_ABOVE}|{_WORDS_BELOW}|{_WORDS_EQUAL})(?![\w]))"
    rf"(?:\s+or\s+equal(?:\s+to)?)?\s*{_NUMBER}{_UNIT}",
    re.IGNORECASE,
)
_PERCENT = re.compile(rf"{_NUMBER}\s*(?P<unit>%|percent\b|per\s*cent\b)", re.IGNORECASE)
_DURATION_WORDS = r"(?:ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)"
# a time window, not a threshold: "for 5 minutes", "in the last 10", "within 1h"
_WINDOW = re.compile(
    rf"\b(?:for|in|within|during)\s+(?:at\s+least\s+|more\s+than\s+|the\s+(?:last|past)\s+)?"
    rf"\d+(?:\.\d+)?\s*{_DURATION_WORDS}\b|\b(?:in|over|during)\s+the\s+(?:last|past)\s+\d+\w*",
    re.IGNORECASE,
)
# "over 5 minutes" is a window beside another number ("error rate over 5m > 5%"), and a
# threshold alone ("lag over 5 minutes")
_OVER = re.compile(rf"\bover\s+\d+(?:\.\d+)?\s*{_DURATION_WORDS}\b", re.IGNORECASE)
_SCALE = {
    "ms": (1e-3, 1.0),
    "us": (1e-6, 1.0),
    "ns": (1e-9, 1.0),
    "s": (1.0, 1e3),
    "m": (60.0, 1.0),
    "h": (3600.0, 1.0),
    "d": (86400.0, 1.0),
    "w": (604800.0, 1.0),
    "k": (1e3, 1.0),
    "M": (1e6, 1.0),
    "G": (1e9, 1.0),
    "T": (1e12, 1.0),
}
_BYTES = {"k": 1, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}


def _unit_key(unit: str) -> str:
    """``milliseconds`` → ``ms``, ``Minutes`` → ``m``, ``M`` (a million) stays ``M``."""
    if len(unit) == 1 and unit in "kKMGT":
        return "k" if unit == "K" else unit
    lowered = unit.lower()
    for key, words in (
        ("ms", ("ms", "millis", "millisecond", "milliseconds")),
        ("us", ("us", "µs", "microsecond", "microseconds")),
        ("ns", ("ns",)),
        ("s", ("s", "sec", "secs", "second", "seconds")),
        ("m", ("m", "min", "mins", "minute", "minutes")),
        ("h", ("h", "hr", "hrs", "hour", "hours")),
        ("d", ("d", "day", "days")),
        ("w", ("w", "week", "weeks")),
    ):
        if lowered in words:
            return key
    return lowered


def _values(number: float, unit: str) -> tuple[tuple[float, ...], bool]:
    """What a number with its unit may be in a rule, and whether it is a percentage."""
    if not unit or unit.lower() in ("byte", "bytes"):
        return (number,), False
    if unit == "%" or re.sub(r"\s", "", unit.lower()) == "percent":
        return (number, number / 100), True
    if unit.upper().endswith("B") and unit[0] in _BYTES:  # kB, MB, GiB
        power = _BYTES[unit[0]]
        if "i" in unit:
            return (number * 1024**power, number), False
        return (number * 1000**power, number * 1024**power, number), False
    key = _unit_key(unit)
    if key in _SCALE:
        first, second = _SCALE[key]
        return (number * first, number * second), False
    return (number,), False


_SYMBOL_DIRECTION = {"≠": "unequal", "<>": "unequal", "≥": "above", "=>": "above"}
_SYMBOL_DIRECTION |= {"≤": "below", "=<": "below", "=": "equal", **_DIRECTION}


def _direction(op: str) -> str:
    word = " ".join(op.lower().split())
    if word in _SYMBOL_DIRECTION:
        return _SYMBOL_DIRECTION[word]
    if re.fullmatch(_WORDS_ABOVE, word):
        return "above"
    if re.fullmatch(_WORDS_BELOW, word):
        return "below"
    return "equal"


def _number(match: re.Match[str]) -> float | None:
    text = match.group("num").replace(",", "")
    exponent = match.group("exp")
    try:
        value = float(text + (f"e{exponent}" if exponent else ""))
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(value):
        return None
    return -value if match.group("sign") else value


def _stated_in_words(text: str) -> list[Stated]:
    found: list[Stated] = []
    for match in _STATED.finditer(text):
        value = _number(match)
        if value is None:
            continue
        unit = match.group("unit") or ""
        values, percent = _values(value, unit)
        shown = " ".join(match.group().split())
        found.append(Stated(shown, _direction(match.group("op")), values, percent))
    return found


def stated(alert: Alert) -> list[Stated]:
    """The numbers the runbook gives as the alert's threshold: the constants of its PromQL
    (its ``expr``, or expressions in code spans of its threshold), else the numbers its
    threshold's words compare with (``> 5%``, ``above 500ms``; the ``for`` window left out),
    else the percentages it names (``alert at 85%``)."""
    if alert.expr:
        return [Stated(str(b), b.direction, (b.value,)) for b in bounds(alert.expr)]
    text = (alert.threshold or "")[:2000]
    if not text.strip():
        return []
    spans = [s for s in re.findall(r"`([^`]+)`", text) if is_promql_expression(s.strip())]
    if spans:
        return [Stated(str(b), b.direction, (b.value,)) for s in spans for b in bounds(s)]
    text = _WINDOW.sub(" ", text)
    found = _stated_in_words(_OVER.sub(" ", text)) or _stated_in_words(text)
    if found:
        return found
    percents = []
    for match in _PERCENT.finditer(text):
        value = _number(match)
        if value is not None:
            shown = " ".join(match.group().split())
            percents.append(Stated(shown, None, (value, value / 100), True))
    return percents


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _matches(said: Stated, value: float) -> bool:
    return any(_same(v, value) for v in said.values)


def _complement(said: Stated, value: float) -> bool:
    """A percentage said the other way round: ``< 15% free`` is ``> 0.85`` used."""
    if not said.percent:
        return False
    return _same(100 - said.values[0], value) or _same(1 - said.values[1], value)


def agree(said: list[Stated], found: list[Bound]) -> bool:
    """Whether the runbook's numbers and the rule's constants agree: in each direction the
    runbook states (above, below, ...), one of its numbers is one of the rule's constants in
    that direction (a percentage may be said the other way round: 15% free is 0.85 used).
    Nothing to compare (no number on either side, or no shared direction) agrees."""
    if not said or not found:
        return True
    by_direction: dict[str | None, list[Stated]] = {}
    for item in said:
        by_direction.setdefault(item.direction, []).append(item)
    for direction, items in by_direction.items():
        if direction is None:
            if not any(
                _matches(s, b.value) or _complement(s, b.value) for s in items for b in found
            ):
                return False
            continue
        same = [b for b in found if b.direction == direction]
        if same:
            if not any(_matches(s, b.value) for s in items for b in same):
                return False
            continue
        turned = [b for b in found if b.direction == _OPPOSITE.get(direction)]
        if (
            turned
            and any(s.percent for s in items)
            and not any(_complement(s, b.value) for s in items for b in turned)
        ):
            return False
    return True


# --------------------------------------------------------------------------- severities


def level_name(levels: Sequence[Level], value: str | None) -> str | None:
    """The level a severity names (``P1``, ``page`` → critical), through the levels' names
    and aliases, else the runbook reader's words, else the text itself in lower case."""
    if not value or not value.strip():
        return None
    found = level_of(levels, value)
    if found is not None:
        return found.name
    return normalize_severity(value) or value.strip().lower()


# --------------------------------------------------------------------------- the comparison


def _short(expr: str) -> str:
    text = " ".join(expr.split())
    return text if len(text) <= _SHOWN_EXPR else text[: _SHOWN_EXPR - 1] + "…"


def _compare(
    rb: Runbook, alert: Alert, rule: LiveRule, levels: Sequence[Level], severity_label: str
) -> list[Finding]:
    """What differs between one runbook alert and one rule of its name."""
    found: list[Finding] = []

    def differs(
        kind: Kind, ours: str, theirs: str, note: str = "", expr: str | None = None
    ) -> None:
        found.append(
            Finding(
                kind,
                alert.name,
                runbook=ours,
                rule=theirs,
                note=note,
                source=rb.source,
                line=alert.line,
                group=rule.group,
                file=rule.file,
                expr=expr,
            )
        )

    said = stated(alert)
    constants = bounds(rule.expr)
    if not agree(said, constants):
        differs(
            "threshold",
            ", ".join(s.text for s in said),
            ", ".join(str(b) for b in constants),
            "; ".join(s.read_as for s in said if s.read_as),
            _short(rule.expr),
        )
    if alert.for_s is not None and round(rule.for_s) != alert.for_s:
        differs(
            "for",
            format_duration(alert.for_s, "prometheus"),
            format_duration(rule.for_s, "prometheus"),
        )
    named = {
        n
        for n in (
            level_name(levels, s)
            for s in [alert.severity, *(v.severity for v in alert.severity_variants)]
        )
        if n
    }
    if alert.severity and named:
        theirs = rule.labels.get(severity_label)
        if level_name(levels, theirs) not in named:
            also = sorted(named - {level_name(levels, alert.severity)})
            ours = alert.severity + (f" (and {', '.join(also)} variants)" if also else "")
            label = f"{severity_label}={theirs}" if theirs else f"no {severity_label} label"
            differs("severity", ours, label)
    return found


def compare(
    catalog: Catalog,
    rules: Sequence[LiveRule],
    levels: Sequence[Level] = DEFAULT_LEVELS,
    severity_label: str = "severity",
) -> list[Finding]:
    """Every difference between the catalog and the live alerting rules, by kind, then
    alert name. A rule name several groups define is compared once per rule."""
    exact: dict[str, list[tuple[Runbook, Alert]]] = {}
    folded: dict[str, list[tuple[Runbook, Alert]]] = {}
    for rb, alert in catalog.alerts():
        exact.setdefault(alert.name, []).append((rb, alert))
        folded.setdefault(alert.name.lower(), []).append((rb, alert))
    covered: set[int] = set()
    findings: list[Finding] = []
    unbooked: dict[str, list[LiveRule]] = {}
    for rule in rules:
        places = exact.get(rule.name) or folded.get(rule.name.lower(), [])
        if not places:
            unbooked.setdefault(rule.name, []).append(rule)
            continue
        for rb, alert in places:
            covered.add(id(alert))
            findings.extend(_compare(rb, alert, rule, levels, severity_label))
    for name, same in unbooked.items():
        first = same[0]
        others = sorted({r.group for r in same[1:] if r.group != first.group})
        findings.append(
            Finding(
                "no_runbook",
                name,
                rule=_short(first.expr),
                note=f"also in group {', '.join(others)}" if others else "",
                group=first.group,
                file=first.file,
            )
        )
    for rb, alert in catalog.alerts():
        if id(alert) not in covered:
            said = alert.expr or " ".join((alert.threshold or "").split())
            findings.append(
                Finding(
                    "no_rule",
                    alert.name,
                    runbook=_short(said),
                    source=rb.source,
                    line=alert.line,
                )
            )
    order = {kind: i for i, kind in enumerate(KINDS)}
    findings.sort(
        key=lambda f: (order[f.kind], f.alert.lower(), f.source or "", f.line or 0, f.group or "")
    )
    return findings


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    """How many findings of each kind (every kind, zero included)."""
    tally: dict[str, int] = dict.fromkeys(KINDS, 0)
    for finding in findings:
        tally[finding.kind] += 1
    return tally


def problems(findings: Sequence[Finding], prometheus: str = "prometheus") -> list[Problem]:
    """The findings as lint problems (warnings, ``drift-…``): at the runbook's line, or, for
    a rule with no runbook, at the rule's file as Prometheus names it."""
    return [
        Problem(
            source=f.source or f.file or prometheus,
            line=f.line,
            level="warning",
            code=CODES[f.kind],
            message=f.message(),
            alert=f.alert,
        )
        for f in findings
    ]
