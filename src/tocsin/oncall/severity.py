"""Severity levels with acknowledgement deadlines (the seeds' "response time" tables).

An incident's severity is the highest of its alerts' ``severity`` labels, read through the
levels' names and aliases (``P1``, ``sev1``, ``critical``…). A level with a deadline starts a
timer when the incident triggers; a deadline missed before acknowledgement is recorded and
escalates at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tocsin.runbooks.model import SeverityLevel as RunbookLevel
from tocsin.runbooks.text import normalize_severity
from tocsin.times import format_duration

# the order used when levels do not say otherwise, most severe first
DEFAULT_ORDER = ("critical", "high", "error", "warning", "info")


@dataclass(frozen=True)
class Level:
    name: str
    ack_deadline_s: float | None = None
    aliases: tuple[str, ...] = ()
    update_every_s: float | None = None  # a status update is due this often while it runs

    def names(self) -> set[str]:
        return {self.name.lower(), *(a.lower() for a in self.aliases)}


DEFAULT_LEVELS: tuple[Level, ...] = (
    Level("critical", 300.0, ("p1", "sev1", "page")),
    Level("high", 900.0, ("p2", "sev2", "error")),
    Level("warning", 3600.0, ("p3", "sev3", "ticket")),
    Level("info", None, ("p4", "sev4", "none")),
)


def level_of(levels: Sequence[Level], value: str | None) -> Level | None:
    """The level a severity label names: by name or alias, else by the runbook reader's
    normalization (``P1 - Critical`` → critical)."""
    if not value:
        return None
    text = value.strip().lower()
    for level in levels:
        if text in level.names():
            return level
    normal = normalize_severity(value)
    if normal is not None:
        for level in levels:
            if normal in level.names():
                return level
    return None


def rank(levels: Sequence[Level], value: str | None) -> int:
    """Position of a severity among the levels, 0 most severe; unknown after all known."""
    level = level_of(levels, value)
    return levels.index(level) if level is not None else len(levels)


def highest(levels: Sequence[Level], values: Iterable[str | None]) -> str | None:
    """The most severe of several severity labels (the level's name; an unknown label is
    kept as written when nothing known is present)."""
    best: tuple[int, str] | None = None
    for value in values:
        if not value:
            continue
        level = level_of(levels, value)
        key = (levels.index(level), level.name) if level else (len(levels), value)
        if best is None or key[0] < best[0]:
            best = key
    return best[1] if best else None


def from_runbook(levels: Sequence[RunbookLevel]) -> tuple[Level, ...]:
    """Levels from a runbook's severity table: the normalized level as name, the row's own
    name and its ``P1``-style token as aliases, the response time as the deadline."""
    out: dict[str, Level] = {}
    for row in levels:
        name = row.level or normalize_severity(row.name) or row.name.strip().lower()
        aliases = {row.name.strip()}
        token = row.name.split()[0].strip(" -:") if row.name.split() else ""
        if token and token.lower() != name:
            aliases.add(token)
        if name in out:
            continue
        out[name] = Level(
            name=name,
            ack_deadline_s=float(row.response_time_s) if row.response_time_s else None,
            aliases=tuple(sorted(aliases)),
        )
    order = {n: i for i, n in enumerate(DEFAULT_ORDER)}
    return tuple(sorted(out.values(), key=lambda lv: order.get(lv.name, len(order))))


def no_table(source: str, used: Iterable[str | None]) -> str:
    """What to say when ``severities.from_runbook`` names a runbook without a severity table:
    the alternatives, with the levels its alerts use."""
    levels = sorted(
        {u.strip().lower() for u in used if u},
        key=lambda n: (DEFAULT_ORDER.index(n) if n in DEFAULT_ORDER else len(DEFAULT_ORDER), n),
    )
    defaults = ", ".join(f"{lv.name} {_deadline(lv)}" for lv in DEFAULT_LEVELS)
    example = ", ".join(
        f"{{name: {name}, ack_deadline: {_default_deadline(name)}}}"
        for name in (levels or ["critical", "warning"])
    )
    return (
        f"{source} has no severity table (levels with their response times). Write the "
        f"levels under severities.levels instead, e.g. levels: [{example}], or leave out "
        f"severities.from_runbook for the defaults ({defaults})"
        + (f"; its alerts use {', '.join(levels)}" if levels else "")
    )


def _deadline(level: Level) -> str:
    if level.ack_deadline_s is None:
        return "none"
    return format_duration(level.ack_deadline_s, "prometheus")


def _default_deadline(name: str) -> str:
    for level in DEFAULT_LEVELS:
        if name in level.names() and level.ack_deadline_s:
            return _deadline(level)
    return "1h"
