"""Small pure readers for the words runbooks use: severities, durations, dates, names.

Every function here takes text a team wrote by hand and returns a normalized value or None;
none of them raises on odd input.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

import yaml

from tocsin.times import UNIT_SECONDS

SEVERITIES = ("critical", "high", "warning", "info")

# Ordered: the first severity word found in the text, reading left to right, decides
# ("Warning (can escalate to Critical)" is a warning).
_SEVERITY_WORDS: dict[str, str] = {
    "p0": "critical",
    "p1": "critical",
    "sev0": "critical",
    "sev1": "critical",
    "s1": "critical",
    "critical": "critical",
    "crit": "critical",
    "emergency": "critical",
    "fatal": "critical",
    "disaster": "critical",
    "blocker": "critical",
    "p2": "high",
    "sev2": "high",
    "s2": "high",
    "high": "high",
    "major": "high",
    "error": "high",
    "severe": "high",
    "p3": "warning",
    "sev3": "warning",
    "s3": "warning",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "moderate": "warning",
    "minor": "warning",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
    "sev5": "info",
    "s4": "info",
    "low": "info",
    "info": "info",
    "informational": "info",
    "notice": "info",
    "none": "info",
    "page": "critical",
    "pager": "critical",
    "urgent": "critical",
    "ticket": "warning",
}
_SEVERITY_RE = re.compile(
    r"(?<![A-Za-z0-9])(" + "|".join(sorted(_SEVERITY_WORDS, key=len, reverse=True)) + r")"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_SEV_DASH_RE = re.compile(
    r"(?<![A-Za-z0-9])(severity|priority|sev|p|s)(?:[\s-]|::?\s*)?([0-5])(?![0-9])", re.IGNORECASE
)


def _sev_token(match: re.Match[str]) -> str:
    prefix = match.group(1).lower()
    return ("sev" if prefix in ("severity", "priority") else prefix) + match.group(2)


def normalize_severity(raw: str | None) -> str | None:
    """Map a severity as written (``P1 - Critical``, ``CRITICAL``, ``Warning (can escalate
    to Critical)``, ``Sev-2``) to critical | high | warning | info, or None."""
    if not raw:
        return None
    text = raw[:200].strip()
    if re.fullmatch(r"[0-5]", text):  # "Severity: 1" in a severity field
        text = "sev" + text
    text = _SEV_DASH_RE.sub(_sev_token, text)
    for match in _SEVERITY_RE.finditer(text):
        before = text[max(0, match.start() - 4) : match.start()].lower()
        if re.search(r"(non-?|not |no )$", before):
            continue  # "non-critical", "no page"
        return _SEVERITY_WORDS[match.group(1).lower()]
    return None


_ANY_SEVERITY_RE = re.compile(f"{_SEV_DASH_RE.pattern}|{_SEVERITY_RE.pattern}", re.IGNORECASE)


def _negated(text: str, start: int) -> bool:
    return re.search(r"(non-?|not |no |n't )$", text[max(0, start - 5) : start].lower()) is not None


def severity_phrase(text: str) -> str | None:
    """The first severity a passage about severity names, as written: ``This alert might
    create S1 incidents`` -> ``S1``; ``~severity::4`` -> ``severity::4``; ``This alert is low
    severity`` -> ``low``. For text whose subject is the severity (a ``Severity`` section)."""
    text = text[:2000]
    for match in _ANY_SEVERITY_RE.finditer(text):
        if not _negated(text, match.start()):
            return match.group(0)
    return None


_STATED_LEVEL = (
    r"critical|crit|warning|warn|info|informational|high|medium|low|major|minor|emergency|"
    r"p[0-5]|sev[\s-]?[0-5]|severity[\s-]?[0-5]"
)
_STATEMENT_RE = re.compile(
    rf"\b(?:a|an)\s+(?:single\s+|separate\s+)?(?P<a>{_STATED_LEVEL})"
    r"(?:[\s-](?:level|severity|priority))?\s+alert\b"
    rf"|\b(?:pages?|paged|fires?|is\s+raised|raised)\s+(?:as|at)\s+(?:an?\s+)?(?P<b>{_STATED_LEVEL})\b"
    rf"|\b(?:severity|priority)\s+(?:is|of)\s+(?P<c>{_STATED_LEVEL})\b"
    r"|\b(?:this|the)\s+alert\s+is\s+(?:(?:usually|generally|always|considered|a|an)\s+)*"
    rf"(?P<d>{_STATED_LEVEL})\b(?!\s+(?:you|that|about|of|us)\b)",
    re.IGNORECASE,
)


def severity_statement(text: str) -> str | None:
    """A severity that prose about an alert states of it in so many words: ``It is a single
    critical alert``, ``It pages as P2``, ``its severity is warning``, ``This alert is
    critical``. Severity words used otherwise (``a critical failure``, ``an S3 bucket``, ``the
    alert is warning you``) are not read."""
    text = text[:5000]
    for match in _STATEMENT_RE.finditer(text):
        if not _negated(text, match.start()):
            return match.group("a") or match.group("b") or match.group("c") or match.group("d")
    return None


def severities_mentioned(text: str) -> set[str]:
    """Every normalized severity a piece of text names."""
    text = _SEV_DASH_RE.sub(_sev_token, text[:2000])
    return {_SEVERITY_WORDS[m.group(1).lower()] for m in _SEVERITY_RE.finditer(text)}


def is_severity_word(text: str) -> bool:
    """True when the whole text is just a severity (``Critical``, ``P2 - High``)."""
    stripped = _SEV_DASH_RE.sub(_sev_token, text.strip())
    stripped = re.sub(r"[\s\-–:()*]+", " ", stripped).strip().lower()
    if not stripped:
        return False
    words = [w for w in stripped.split() if w not in {"severity", "level", "priority"}]
    return bool(words) and all(
        w in _SEVERITY_WORDS or _SEV_DASH_RE.fullmatch(w) is not None for w in words
    )


_UNIT_SECONDS: dict[str, int] = {}
for _names, _secs in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "wk", "wks", "week", "weeks"), 7 * 86400),
):
    for _n in _names:
        _UNIT_SECONDS[_n] = _secs

_NUMBER = r"(\d+(?:\.\d+)?)"
_UNIT = (
    r"(seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|"
    r"weeks|week|wks|wk|w)"
)
_DURATION_RE = re.compile(_NUMBER + r"\s*\+?\s*" + _UNIT + r"(?![A-Za-z])", re.IGNORECASE)
_RANGE_RE = re.compile(
    _NUMBER + r"\s*(?:-|–|to)\s*" + _NUMBER + r"\s*\+?\s*" + _UNIT + r"(?![A-Za-z])",
    re.IGNORECASE,
)
_OPEN_RANGE_RE = re.compile(_NUMBER + r"\s*\+\s*" + _UNIT + r"(?![A-Za-z])", re.IGNORECASE)
_WORD_DURATIONS = {"an hour": 3600, "a day": 86400, "a week": 7 * 86400, "half an hour": 1800}
_PROM_DURATION_RE = re.compile(r"(?:(\d+)(ms|s|m|h|d|w|y))+")


def _to_seconds(number: str, unit: str) -> int:
    return round(float(number) * _UNIT_SECONDS[unit.lower()])


def parse_duration(text: str | None) -> int | None:
    """Seconds in the first duration of the text: ``5 minutes``, ``1h``, ``24 hours``,
    ``within 15 minutes``, ``10+ minutes``. Compound Prometheus durations (``1h30m``) add up.
    ``Best effort`` or ``Next business day`` give None: they are no fixed time."""
    if not text:
        return None
    text = text[:500]
    prom = re.search(r"(?<![\w.])((?:\d+(?:ms|s|m|h|d|w|y))+)(?![\w])", text)
    plain = _DURATION_RE.search(text)
    if prom and (plain is None or prom.start() <= plain.start()):
        total = 0.0
        for num, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", prom.group(1)):
            total += int(num) * UNIT_SECONDS[unit]
        return round(total)
    if plain:
        return _to_seconds(plain.group(1), plain.group(2))
    lowered = text.lower()
    for words, secs in _WORD_DURATIONS.items():
        if words in lowered:
            return secs
    if re.search(r"\b(immediate(ly)?|at once|asap|0 min)\b", lowered):
        return 0
    return None


def parse_range_start(text: str | None) -> int | None:
    """Start of a time range as escalation tables write it: ``0-5 min`` -> 0, ``5-15 min``
    -> 300, ``60+ min`` -> 3600, ``1 hour`` -> 3600, ``Immediate`` -> 0."""
    if not text:
        return None
    text = text[:200]
    ranged = _RANGE_RE.search(text)
    if ranged:
        return _to_seconds(ranged.group(1), ranged.group(3))
    opened = _OPEN_RANGE_RE.search(text)
    if opened:
        return _to_seconds(opened.group(1), opened.group(2))
    return parse_duration(text)


_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})


def parse_date(text: str | None) -> date | None:
    """A date as runbooks write it: ``2025-01-31``, ``November 5, 2025``, ``5 Nov 2025``,
    ``January 2026`` (a month alone counts as its last day, so a review is never called
    overdue early)."""
    if not text:
        return None
    text = text[:200]
    iso = re.search(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    try:
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        words = re.findall(r"[A-Za-z]+|\d+", text)
        month = next((_MONTHS[w.lower()] for w in words if w.lower() in _MONTHS), None)
        year = next((int(w) for w in words if w.isdigit() and len(w) == 4), None)
        if month is None or year is None:
            return None
        days = [int(w) for w in words if w.isdigit() and len(w) <= 2 and 1 <= int(w) <= 31]
        day = days[0] if days else calendar.monthrange(year, month)[1]
        return date(year, month, day)
    except ValueError:
        return None


_CYCLES = {
    "daily": 1,
    "weekly": 7,
    "biweekly": 14,
    "fortnightly": 14,
    "monthly": 31,
    "bimonthly": 62,
    "quarterly": 92,
    "semiannually": 183,
    "semi-annually": 183,
    "biannually": 183,
    "half-yearly": 183,
    "annually": 366,
    "yearly": 366,
}


def parse_review_cycle(text: str | None) -> int | None:
    """Days between reviews: ``Quarterly or after major incidents`` -> 92, ``Monthly`` -> 31,
    ``every 6 months`` -> 186, ``90 days`` -> 90."""
    if not text:
        return None
    lowered = text.lower()[:200]
    for word, days in _CYCLES.items():
        if re.search(rf"\b{re.escape(word)}\b", lowered):
            return days
    every = re.search(r"(\d+)\s*(day|week|month|year)s?", lowered)
    if every:
        count = int(every.group(1))
        return count * {"day": 1, "week": 7, "month": 31, "year": 366}[every.group(2)]
    return None


IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_:]*")


def is_identifier(text: str) -> bool:
    """An alert-rule name as Prometheus accepts it, and at least two characters."""
    return len(text) >= 2 and IDENTIFIER_RE.fullmatch(text) is not None


def is_camel_identifier(text: str) -> bool:
    """Identifier shaped like a rule name rather than an English word: ``HighCPUUsage``,
    ``etcdNoLeader``, ``node_down``. ``Watchdog`` or ``Impact`` are not."""
    if not is_identifier(text):
        return False
    return (
        "_" in text.strip("_")
        or re.search(r"[a-z0-9][A-Z]", text) is not None
        or re.search(r"[A-Z]{2,}[a-z]", text) is not None
    )


def camel_join(title: str) -> str | None:
    """``CPU Throttling High`` -> ``CPUThrottlingHigh``; None when the words do not make an
    identifier."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    if not words:
        return None
    joined = "".join(w if w[:1].isupper() or w.isupper() else w[:1].upper() + w[1:] for w in words)
    return joined if is_identifier(joined) else None


def slugify(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def clean_spaces(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: a few hundred bytes of aliases can expand to
    gigabytes (a "billion laughs"), and runbooks never need them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not accepted in runbooks")
        return super().compose_node(parent, index)


def load_yaml(text: str, max_bytes: int = 100_000) -> Any:
    """YAML from a runbook (front matter, rule blocks), or None when it is too large, not
    YAML, too deep, or uses aliases. Never raises."""
    if len(text) > max_bytes:
        return None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError, OverflowError):
        return None
