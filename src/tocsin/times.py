"""The vocabulary of time: how tocsin reads the durations and times people write, and how it
writes durations back for each audience. Pure; every caller uses these.

- ``parse_duration``: a Prometheus duration (``30s``, ``5m``, ``1h30m``), as Alertmanager's
  configuration and tocsin's own write them.
- ``parse_time``: an ISO 8601 / RFC 3339 time, UTC when it carries no offset.
- ``parse_when``: a time as a person types it at a prompt or in a query (``now``, ``+2h``,
  ``-30m``, ``7d``, or an ISO time), relative to a given now.
- ``format_duration``: one formatter with a named style per audience (a report's words, a
  status update's short form, a rule file's Prometheus form, a timeline's fixed-width clock).
- ``format_time``: a moment as people read it, to the second and with its zone
  (``2026-12-05 07:25:04 UTC``, ``2026-12-05 08:25:04 CET``); ``zone_of`` the zone a name
  (a user's ``timezone``, the ``TZ`` variable) stands for, UTC when none or unknown.
  Machine-readable JSON keeps ISO 8601 (``datetime.isoformat``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from tocsin.errors import Invalid

# Seconds per unit, in the order Prometheus requires them (1y2w3d4h5m6s7ms).
UNIT_SECONDS: dict[str, float] = {
    "y": 365 * 86_400,
    "w": 7 * 86_400,
    "d": 86_400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": 0.001,
}
_DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")

MAX_OFFSET_S = 100 * 366 * 86_400  # a relative time further than a century is a typo


@lru_cache(maxsize=64)
def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration (``30s``, ``5m``, ``1h30m``, ``4h``); ``Invalid``
    (a ValueError) names the text when it is not one. The configuration's durations are read
    on every page (a link's expiry, a delivery's lease): each is parsed once (what fails to
    parse is not kept)."""
    found = _DURATION.match(text.strip()) if text else None
    if not text or found is None or text.strip() == "":
        raise Invalid(f"not a valid duration string: {text!r}")
    values = found.groups()[1::2]
    return sum(int(v) * unit for v, unit in zip(values, UNIT_SECONDS.values(), strict=True) if v)


def to_dt(ts: float) -> datetime:
    """Epoch seconds (how the store and the clock keep time) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def to_ts(dt: datetime) -> float:
    """An aware datetime as epoch seconds."""
    return dt.timestamp()


def aware(at: datetime) -> datetime:
    """A time that carries its offset: a naive one is taken as UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class OutOfRange(Invalid):
    """A well-formed time that names no instant tocsin can keep: before year 1 or after year
    9999 once in UTC (``9999-12-31T20:00:00-14:00``), or further from a given now than
    ``MAX_OFFSET_S`` allows."""


def parse_time(text: str, around: float | None = None) -> datetime:
    """An ISO 8601 / RFC 3339 time (``2027-01-15T09:00``, ``…Z``, ``…+01:00``), aware, in
    UTC when it carries no offset; ``Invalid`` when it is not one, ``OutOfRange`` (an
    ``Invalid``) when it is one outside years 1 to 9999 in UTC or, given ``around`` (epoch
    seconds), more than a century from it."""
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise Invalid(f"{text[:50]!r} is not an ISO 8601 time") from None
    at = aware(parsed)
    try:
        seconds = at.astimezone(UTC).timestamp()
    except (ValueError, OverflowError):
        raise OutOfRange(f"{text[:50]!r} is outside years 1 to 9999 in UTC") from None
    if around is not None and abs(seconds - around) > MAX_OFFSET_S:
        raise OutOfRange(f"{text[:50]!r} is more than a century away")
    return at


def parse_when(text: str, now: float, default_sign: int = 1) -> float:
    """A time as people type it, in epoch seconds: ``now``; a duration from ``now``
    (``+2h``, ``-30m``; unsigned ``7d`` counts ``default_sign`` way: +1 ahead, -1 back); or
    ISO 8601 (``2027-01-15T09:00``, ``…Z``; UTC when it has no offset). ``Invalid`` says what
    is accepted; durations are bounded to a century, so no answer overflows."""
    value = text.strip()
    if value == "now":
        return now
    sign = default_sign
    if value and value[0] in "+-":
        sign, value = (1 if value[0] == "+" else -1), value[1:]
    seconds: float | None
    try:
        seconds = parse_duration(value)
    except ValueError:
        seconds = None
    except OverflowError:
        seconds = MAX_OFFSET_S + 1
    if seconds is not None:
        if seconds > MAX_OFFSET_S:
            raise Invalid(f"{text[:50]!r} is more than a century away")
        return now + sign * seconds
    try:
        return parse_time(value, around=now).timestamp()
    except OutOfRange:
        raise Invalid(f"{text[:50]!r} is more than a century away") from None
    except (ValueError, OverflowError):
        raise Invalid(
            f"{text[:50]!r} is neither a duration (7d, +2h, -30m) nor an ISO 8601 time"
        ) from None


def parse_since(text: str, now: float) -> float:
    """The start of a period looking back (reports: ``--since 30d`` is 30 days ago)."""
    return parse_when(text, now, default_sign=-1)


DurationStyle = Literal["words", "short", "prometheus", "clock"]


def format_duration(seconds: float | None, style: DurationStyle = "words") -> str:
    """A duration for its reader:

    - ``words`` (reports, the incident record): ``42 s``, ``7 min 0 s``, ``2 h 5 min 0 s``,
      ``3 d 4 h 0 min``, negative with a sign, ``n/a`` for None;
    - ``short`` (status updates, as a person says it): ``45s``, ``12m``, ``1h 05m``, ``2d 3h``;
    - ``prometheus`` (rule and config files): ``0s``, ``2m``, ``1h30m``, ``1d2h``;
    - ``clock`` (the simulated timeline, fixed width): ``7.5s``, ``5m00s``, ``1h05m00s``,
      ``2d03h05m``.
    """
    if seconds is None:
        return "n/a"
    if style == "clock" and seconds < 59.95:
        rounded = round(seconds, 1)
        return f"{int(rounded)}s" if rounded == int(rounded) else f"{rounded}s"
    total = round(seconds) if style in ("words", "clock") else int(seconds)
    sign = "-" if total < 0 and style == "words" else ""
    total = abs(total) if style == "words" else max(0, total)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if style == "prometheus":
        parts = zip((days, hours, minutes, secs), "dhms", strict=True)
        return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"
    if style == "short":
        if days:
            return f"{days}d {hours}h"
        if hours:
            return f"{hours}h {minutes:02d}m"
        return f"{minutes}m" if minutes else f"{secs}s"
    if style == "clock":
        if days:
            return f"{days}d{hours:02d}h{minutes:02d}m"
        if hours:
            return f"{hours}h{minutes:02d}m{secs:02d}s"
        return f"{minutes}m{secs:02d}s"
    if days:
        return f"{sign}{days} d {hours} h {minutes} min"
    if hours:
        return f"{sign}{hours} h {minutes} min {secs} s"
    if minutes:
        return f"{sign}{minutes} min {secs} s"
    return f"{sign}{secs} s"


Zone = str | tzinfo | None


def zone_of(zone: Zone) -> tzinfo:
    """The time zone a name stands for (``Europe/Berlin``, ``UTC``; a ``TZ`` value with a
    leading ``:``), UTC for None, an empty name or one the zone database does not know."""
    if isinstance(zone, tzinfo):
        return zone
    name = (zone or "").strip().removeprefix(":")
    if not name or name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return UTC


def format_time(at: datetime | float | None, zone: Zone = None) -> str:
    """A moment for people: to the second, in ``zone`` (UTC by default), with the zone's
    abbreviation (``2026-12-05 07:25:04 UTC``, ``2027-01-15 09:00:00 CET``) or, where the
    zone has none, its offset (``2027-01-15 11:00:00 +03:00``). ``-`` for None; a naive
    datetime is UTC."""
    if at is None:
        return "-"
    moment = to_dt(at) if isinstance(at, int | float) else aware(at)
    local = moment.astimezone(zone_of(zone))
    name = local.tzname() or ""
    if not name or name[0] in "+-":
        offset = local.strftime("%z")
        name = f"{offset[:3]}:{offset[3:5]}" if offset else "UTC"
    return f"{local:%Y-%m-%d %H:%M:%S} {name}"
