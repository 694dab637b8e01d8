"""Time intervals, as Alertmanager's ``timeinterval`` package: when a route's notifications are
muted (``mute_time_intervals``) or allowed (``active_time_intervals``), and when a recurring
maintenance window holds pages.

Part of routing: a route names intervals; the flush (``engine/flush.py``) asks ``route_muted_by``
whether the route is muted now. Pure: parsing with Alertmanager's own error messages (so
``tocsin config check`` and ``amtool check-config`` say the same), and ``Interval.contains``
with its rules: ``times`` are minutes of the day, the end excluded (``24:00`` allowed);
``weekdays`` by name (``monday:friday``); ``days_of_month`` may count from the end of the
month (``-1`` is the last day) and are clamped to the month; ``months`` by name or number;
``years``; all read in ``location`` (an IANA zone, UTC by default), so a ``09:00-17:00``
interval in ``Europe/Berlin`` is 09:00-17:00 on the wall clock on both sides of a DST change.

One difference from Alertmanager, on purpose: the days of a month are the calendar's.
Alertmanager counts them as the month's hours over 24, so in a month whose DST change
shortens it (March in Europe) its ``-1`` falls on the 30th.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tocsin.errors import Invalid

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_TIME = re.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")
_INT = re.compile(r"^[+-]?[0-9]+$")  # what Go's strconv.Atoi takes

Range = tuple[int, int]  # inclusive (begin, end); times: minutes, the end excluded


class IntervalError(Invalid):
    """A time interval Alertmanager would refuse; the message is Alertmanager's."""


@dataclass(frozen=True)
class Interval:
    """One entry of a named time interval: the time is in it when every field given holds
    (a field left out holds always); within a field, any of its ranges."""

    times: tuple[Range, ...] = ()
    weekdays: tuple[Range, ...] = ()  # 0 = Sunday
    days_of_month: tuple[Range, ...] = ()  # negative: from the end of the month (-1: last)
    months: tuple[Range, ...] = ()  # 1 = January
    years: tuple[Range, ...] = ()
    location: str = "UTC"

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` (an aware time) is in this interval, read in its location."""
        t = at.astimezone(zone(self.location))
        if self.times:
            minute = t.hour * 60 + t.minute
            if not any(start <= minute < end for start, end in self.times):
                return False
        if self.days_of_month and not any(_in_month(r, t) for r in self.days_of_month):
            return False
        if self.months and not any(b <= t.month <= e for b, e in self.months):
            return False
        weekday = (t.weekday() + 1) % 7  # Python: Monday = 0; Go: Sunday = 0
        if self.weekdays and not any(b <= weekday <= e for b, e in self.weekdays):
            return False
        return not self.years or any(b <= t.year <= e for b, e in self.years)


def _in_month(days: Range, t: datetime) -> bool:
    """A ``days_of_month`` range on the day of ``t``: negative days count from the month's
    end; a range that begins after the month's end holds no day of it; the rest is clamped
    to the month (Alertmanager's ``clamp``)."""
    length = calendar.monthrange(t.year, t.month)[1]
    begin = length + days[0] + 1 if days[0] < 0 else days[0]
    end = length + days[1] + 1 if days[1] < 0 else days[1]
    if begin > length:
        return False
    begin = min(max(begin, -length), length)
    end = min(max(end, -length), length)
    return begin <= t.day <= end


def zone(name: str) -> ZoneInfo:
    """The IANA zone of a ``location`` (``UTC`` or empty: UTC)."""
    if name in ("", "UTC"):
        return ZoneInfo("UTC")
    if name == "Local":
        raise IntervalError(
            "location Local (the server's own zone) is not supported: name the IANA zone, "
            "e.g. Europe/Berlin"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise IntervalError(f"unknown time zone {name}") from None


def contains_any(intervals: Sequence[Interval], at: datetime) -> bool:
    """Whether ``at`` is in any entry of a named interval (Alertmanager's ``Mutes``)."""
    return any(i.contains(at) for i in intervals)


def active(intervals: Sequence[Interval], at: datetime) -> bool:
    """The same as ``contains_any``: whether a named interval holds at ``at``."""
    return contains_any(intervals, at)


def route_muted_by(
    mute: Sequence[str],
    active_in: Sequence[str],
    named: Mapping[str, Sequence[Interval]],
    at: datetime,
) -> list[str]:
    """The names of the intervals that mute a route at ``at`` (empty: it notifies).
    ``mute``: its ``mute_time_intervals``, each muting while it holds; ``active_in``: its
    ``active_time_intervals``, which mute while none of them holds (then all of them are
    named). An unknown name is refused at load, so it is not looked for here."""
    found = [name for name in mute if contains_any(named.get(name, ()), at)]
    if active_in and not any(contains_any(named.get(name, ()), at) for name in active_in):
        found.extend(name for name in active_in if name not in found)
    return found


# --- parsing, as Alertmanager's UnmarshalYAML, with its messages ---


def parse_time(text: str) -> int:
    """``HH:MM`` as minutes of the day (``24:00`` is 1440)."""
    if not _TIME.match(text):
        raise IntervalError(f"couldn't parse timestamp {text}, invalid format")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_times(start: str | None, end: str | None) -> Range:
    """A ``times`` entry: ``start_time`` up to ``end_time``, the end excluded."""
    if not start or not end:
        raise IntervalError("both start and end times must be provided")
    begin, stop = parse_time(start), parse_time(end)
    if begin >= stop:
        raise IntervalError("start time cannot be equal or greater than end time")
    return (begin, stop)


def _atoi(text: str) -> int:
    if not _INT.match(text):
        raise IntervalError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def _weekday(text: str) -> int:
    if text not in WEEKDAYS:
        raise IntervalError(f"{text} is not a valid weekday")
    return WEEKDAYS.index(text)


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    if not _INT.match(text):
        raise IntervalError(f"{text} is not a valid month")
    return int(text)


def _range(text: str, read: Callable[[str], int]) -> Range:
    """``a:b`` or ``a`` (lower-cased, as Alertmanager reads it), each end through ``read``."""
    text = text.lower()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2:
            raise IntervalError(f"couldn't parse range {text}, invalid format")
        return (read(parts[0]), read(parts[1]))
    value = read(text)
    return (value, value)


def parse_weekdays(text: str) -> Range:
    begin, end = _range(text, _weekday)
    if begin > end:
        raise IntervalError("start day cannot be before end day")
    return (begin, end)


def parse_days_of_month(text: str) -> Range:
    begin, end = _range(text, _atoi)
    for value in (begin, end):
        if value == 0 or value < -31 or value > 31:
            raise IntervalError(f"{value} is not a valid day of the month: out of range")
    if begin < 0 < end:
        raise IntervalError("end day must be negative if start day is negative")
    # always before, whatever the month's length (28 days at least)
    if (28 + begin if begin < 0 else begin) > (28 + end if end < 0 else end):
        raise IntervalError(f"end day {end} is always before start day {begin}")
    return (begin, end)


def parse_months(text: str) -> Range:
    begin, end = _range(text, _month)
    if begin > end:
        raise IntervalError(
            f"end month {_month_name(end)} is before start month {_month_name(begin)}"
        )
    return (begin, end)


def _month_name(number: int) -> str:
    return MONTHS[number - 1] if 1 <= number <= 12 else ""


def parse_years(text: str) -> Range:
    begin, end = _range(text, _atoi)
    if begin > end:
        raise IntervalError(f"end year {end} is before start year {begin}")
    return (begin, end)


def parse_interval(
    times: Sequence[tuple[str | None, str | None]] = (),
    weekdays: Sequence[str] = (),
    days_of_month: Sequence[str] = (),
    months: Sequence[str] = (),
    years: Sequence[str] = (),
    location: str | None = None,
) -> Interval:
    """One entry of a named time interval from its configuration's strings."""
    name = location or "UTC"
    zone(name)
    return Interval(
        times=tuple(parse_times(start, end) for start, end in times),
        weekdays=tuple(parse_weekdays(w) for w in weekdays),
        days_of_month=tuple(parse_days_of_month(d) for d in days_of_month),
        months=tuple(parse_months(m) for m in months),
        years=tuple(parse_years(y) for y in years),
        location=name,
    )
