"""Severity levels with acknowledgement deadlines (the seeds' "response time" tables).

An incident's severity is the highest of its alerts' ``severity`` labels, read through the
levels' names and aliases (``P1``, ``sev1``, ``critical``…). A level with a deadline starts a
timer when the incident triggers; a deadline missed before acknowledgement is recorded and
escalates at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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
    # its name and aliases in lower case, made once (a storm asks for them per incident)
    _names: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = frozenset({self.name.lower(), *(a.lower() for a in self.aliases)})
        object.__setattr__(self, "_names", names)

    def names(self) -> frozenset[str]:
        return self._names


DEFAULT_LEVELS: tuple[Level, ...] = (
    Level("critical", 300.0, ("p1", "sev1", "page")),
    Level("high", 900.0, ("p2", "sev2", "error")),
    Level("warning", 3600.0, ("p3", "sev3", "ticket")),
    Level("info", None, ("p4", "sev4", "none")),
)


def level_of(levels: Sequence[Level], value: str | None) -> Level | None:
    """The level a severity label names: by name or alias, else by the runbook reader's
    normalization (``P1 - Critical`` → critical)."""
    at = _position(levels, value)
    return levels[at] if at is not None else None


def rank(levels: Sequence[Level], value: str | None) -> int:
    """Position of a severity among the levels, 0 most severe; unknown after all known."""
    at = _position(levels, value)
    return at if at is not None else len(levels)


# the names and aliases of a tuple of levels (the configuration's: immutable), by its id
_INDEXES: dict[int, tuple[Sequence[Level], dict[str, int]]] = {}


def _index(levels: Sequence[Level]) -> dict[str, int]:
    """Each name and alias of ``levels`` (lower case) and the position of the first level
    that has it; made once for a tuple, each time for a list (it may change)."""
    if not isinstance(levels, tuple):
        return _names_of(levels)
    entry = _INDEXES.get(id(levels))
    if entry is None or entry[0] is not levels:
        if len(_INDEXES) >= 64:  # configurations loaded again and again: the old go
            _INDEXES.clear()
        entry = _INDEXES[id(levels)] = (levels, _names_of(levels))
    return entry[1]


def _names_of(levels: Sequence[Level]) -> dict[str, int]:
    index: dict[str, int] = {}
    for at, level in enumerate(levels):
        for name in level.names():
            index.setdefault(name, at)
    return index


def _position(levels: Sequence[Level], value: str | None) -> int | None:
    """Where among ``levels`` the level ``value`` names is (the first that names it), by
    name or alias, else by the runbook reader's normalization."""
    if not value:
        return None
    index = _index(levels)
    found = index.get(value.strip().lower())
    if found is not None:
        return found
    normal = normalize_severity(value)
    return index.get(normal) if normal is not None else None


def highest(levels: Sequence[Level], values: Iterable[str | None]) -> str | None:
    """The most severe of several severity labels (the level's name; an unknown label is
    kept as written when nothing known is present)."""
    best: tuple[int, str] | None = None
    for value in values:
        if not value:
            continue
        at = _position(levels, value)
        key = (at, levels[at].name) if at is not None else (len(levels), value)
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
