"""On-call schedules: who is on call at an instant, and the timeline of shifts (pure).

Part of the escalate stage: a policy step that targets ``schedule:NAME`` pages whoever these
rules say is on call. A schedule stacks layers; each layer is a rotation (participants handing
off in turn) optionally limited to windows of local time, and a later layer wins wherever it is
active. Overrides from the database are applied last.

Time: every instant passed in or returned is aware, and returned instants are UTC. Rotations
and restriction windows are written in local wall time; a wall time becomes an instant by one
rule (``_resolve``): the first instant at which the local clock reads that time or later. So a
time in the spring-forward gap (02:30 on the last Sunday of March in Europe/Berlin) becomes the
end of the gap (03:00 local), and a time that happens twice in autumn becomes its first
occurrence. Because the rule is monotonic, consecutive shifts always meet exactly.

Nothing here reads a clock or does I/O: the engine passes ``at``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RotationKind = Literal["hourly", "daily", "weekly", "custom"]

MAX_BOUNDARIES = 100_000
"""The most boundaries ``shifts`` collects for one window; bounds the work per request."""

MAX_CYCLE = timedelta(days=2 * 366)
"""The longest rotation cycle ``next_handoff`` looks ahead over."""

_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Rotation:
    name: str
    kind: RotationKind
    participants: tuple[str, ...]  # user names, in hand-off order; non-empty
    start: datetime  # NAIVE local wall time of the first hand-off, in `timezone`
    timezone: str  # IANA name, e.g. "Europe/Berlin"
    length: int = 1  # units per shift: hours (hourly), days (daily), weeks (weekly)
    custom_s: float | None = None  # shift length in seconds, for kind == "custom" only


@dataclass(frozen=True)
class Restriction:
    """A window of local time (the schedule's timezone) when a layer applies."""

    weekdays: frozenset[int]  # 0 = Monday … 6 = Sunday; the day the window STARTS on
    start_min: int  # minutes after local midnight, 0..1439
    end_min: int  # 1..1440; end_min <= start_min: the window runs past midnight


@dataclass(frozen=True)
class Layer:
    rotation: Rotation
    restrictions: tuple[Restriction, ...] = ()  # empty = always


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str
    layers: tuple[Layer, ...]  # a later layer wins wherever it is active


@dataclass(frozen=True)
class Override:
    schedule: str
    start: datetime  # aware (UTC)
    end: datetime  # aware, > start
    user: str
    replaces: str | None = None  # None: add `user`; a name: replace that user; "*": everyone


@dataclass(frozen=True)
class Shift:
    users: tuple[str, ...]  # sorted, may be empty (nobody on call)
    start: datetime  # aware UTC
    end: datetime  # aware UTC


# --- validation ---------------------------------------------------------------------------


def problems(schedule: Schedule) -> list[str]:
    """What is wrong with a schedule, as messages for the config loader; empty when sound.
    The rules below assume a schedule without problems and raise ``ValueError`` otherwise."""
    found: list[str] = []
    where = f"schedule {schedule.name!r}"
    if not _zone_exists(schedule.timezone):
        found.append(f"{where}: unknown timezone {schedule.timezone!r}")
    if not schedule.layers:
        found.append(f"{where}: no layers, so nobody is ever on call")
    for i, layer in enumerate(schedule.layers):
        found.extend(f"{where}, layer {i}: {p}" for p in _rotation_problems(layer.rotation))
        for j, r in enumerate(layer.restrictions):
            found.extend(f"{where}, layer {i}, restriction {j}: {p}" for p in _window_problems(r))
    return found


def _rotation_problems(rotation: Rotation) -> list[str]:
    found: list[str] = []
    where = f"rotation {rotation.name!r}"
    if rotation.kind not in get_args(RotationKind):
        found.append(f"{where}: unknown kind {rotation.kind!r}")
    if not rotation.participants:
        found.append(f"{where}: no participants")
    if not _zone_exists(rotation.timezone):
        found.append(f"{where}: unknown timezone {rotation.timezone!r}")
    if rotation.start.tzinfo is not None:
        found.append(f"{where}: start must be a local wall time without a timezone")
    if rotation.length < 1:
        found.append(f"{where}: length must be at least 1, not {rotation.length}")
    if rotation.kind == "custom":
        if rotation.custom_s is None:
            found.append(f"{where}: kind custom needs custom_s (shift length in seconds)")
        elif not timedelta(seconds=rotation.custom_s) > timedelta(0):
            found.append(f"{where}: custom_s must be positive, not {rotation.custom_s}")
    elif rotation.custom_s is not None:
        found.append(f"{where}: custom_s is only used by kind custom")
    return found


def _window_problems(r: Restriction) -> list[str]:
    found: list[str] = []
    if not r.weekdays:
        found.append("no weekdays, so it never applies")
    if any(not 0 <= d <= 6 for d in r.weekdays):
        found.append(f"weekdays must be 0 (Monday) … 6 (Sunday), not {sorted(r.weekdays)}")
    if not 0 <= r.start_min <= 1439:
        found.append(f"start_min must be 0..1439, not {r.start_min}")
    if not 1 <= r.end_min <= 1440:
        found.append(f"end_min must be 1..1440, not {r.end_min}")
    return found


def _zone_exists(name: str) -> bool:
    try:
        _zone(name)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:  # ValueError: a malformed key
        raise ValueError(f"unknown timezone {name!r}") from e


# --- local wall time → instant --------------------------------------------------------------


def _resolve(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clock in ``tz`` reads ``wall`` or later.

    A wall time that exists once is that instant; one that exists twice (autumn) is its first
    occurrence; one in a spring-forward gap is the end of the gap, the transition instant, so
    a 02:30 hand-off on the spring day in Europe/Berlin happens at 03:00 local. zoneinfo alone
    would give 03:30 (PEP 495 maps a gap time with the offset before the transition), which
    is not the first instant after the gap."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first  # exists; fold=0 is the first occurrence when it exists twice
    # In a gap: with the offset after the transition we land before the gap, with the offset
    # before it after the gap. Bisect between them for the transition instant.
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = first
    if lo >= hi or _wall(lo, tz) >= wall:  # not a gap after all; zoneinfo's answer stands
        return first
    while hi - lo > _ONE_US:
        mid = lo + (hi - lo) // 2
        if _wall(mid, tz) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _aware(at: datetime, what: str = "at") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, not naive {at.isoformat()}")
    return at.astimezone(UTC)


# --- rotations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    """A rotation's hand-off instants: hand-off ``k`` starts shift ``k``. Fixed-length kinds
    step in absolute time; daily and weekly step in local wall time."""

    rotation: Rotation
    tz: ZoneInfo
    first: datetime  # hand-off 0, UTC
    step: timedelta  # absolute (hourly, custom) or wall-clock (daily, weekly)
    wall: bool

    def handoff(self, k: int) -> datetime:
        if self.wall:
            return _resolve(self.rotation.start + k * self.step, self.tz)
        return self.first + k * self.step

    def index(self, at: datetime) -> int | None:
        """The shift containing ``at`` (UTC), or None before the first hand-off. O(1): an
        estimate from the elapsed (wall) time, then at most a step or two of correction,
        since a DST change moves a hand-off by hours and a step is at least a day."""
        if at < self.first:
            return None
        if not self.wall:
            return (at - self.first) // self.step
        k = max(0, (_wall(at, self.tz) - self.rotation.start) // self.step)
        while k > 0 and self.handoff(k) > at:
            k -= 1
        while self.handoff(k + 1) <= at:
            k += 1
        return k

    def user(self, k: int) -> str:
        participants = self.rotation.participants
        return participants[k % len(participants)]


@lru_cache(maxsize=1024)
def _clock(rotation: Rotation) -> _Clock:
    if not rotation.participants:
        raise ValueError(f"rotation {rotation.name!r} has no participants")
    if rotation.length < 1:
        raise ValueError(f"rotation {rotation.name!r}: length must be at least 1")
    if rotation.start.tzinfo is not None:
        raise ValueError(f"rotation {rotation.name!r}: start must be a naive local wall time")
    tz = _zone(rotation.timezone)
    wall = rotation.kind in ("daily", "weekly")
    if rotation.kind == "hourly":
        step = timedelta(hours=rotation.length)
    elif rotation.kind == "daily":
        step = timedelta(days=rotation.length)
    elif rotation.kind == "weekly":
        step = timedelta(weeks=rotation.length)
    elif rotation.kind == "custom":
        if rotation.custom_s is None or not timedelta(seconds=rotation.custom_s) > timedelta(0):
            raise ValueError(f"rotation {rotation.name!r}: kind custom needs custom_s > 0")
        step = timedelta(seconds=rotation.custom_s)
    else:
        raise ValueError(f"rotation {rotation.name!r}: unknown kind {rotation.kind!r}")
    return _Clock(rotation, tz, _resolve(rotation.start, tz), step, wall)


def rotation_shift(rotation: Rotation, at: datetime) -> Shift | None:
    """The rotation's shift containing the aware instant ``at`` (one user), or None before the
    first hand-off. A hand-off instant starts the new shift."""
    clock = _clock(rotation)
    k = clock.index(_aware(at))
    if k is None:
        return None
    return Shift((clock.user(k),), clock.handoff(k), clock.handoff(k + 1))


def _handoffs(rotation: Rotation, start: datetime, end: datetime, budget: int) -> list[datetime]:
    """Hand-off instants in [start, end) where the user may change."""
    clock = _clock(rotation)
    if len(set(rotation.participants)) == 1:  # the user never changes after the first hand-off
        return [clock.first] if start <= clock.first < end else []
    last = clock.index(end - _ONE_US)
    if last is None:
        return []
    first_k = clock.index(start)
    k = 0 if first_k is None else first_k + 1
    if last - k + 1 > budget:
        raise _too_many()
    out = []
    while k <= last:
        out.append(clock.handoff(k))
        k += 1
    return out


# --- restriction windows ---------------------------------------------------------------------


def _window(r: Restriction, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants [start, end) of the window that starts on local ``day``."""
    midnight = datetime.combine(day, time())
    end_min = r.end_min if r.end_min > r.start_min else r.end_min + 1440
    return (
        _resolve(midnight + timedelta(minutes=r.start_min), tz),
        _resolve(midnight + timedelta(minutes=end_min), tz),
    )


def _inside(restrictions: Sequence[Restriction], at: datetime, tz: ZoneInfo) -> bool:
    # A window spans at most a day of wall time, so only windows starting on the local day of
    # `at` or the day before can hold it; one more day covers a start pushed over midnight by
    # a gap.
    today = _wall(at, tz).date()
    for back in (0, 1, 2):
        day = today - timedelta(days=back)
        for r in restrictions:
            if day.weekday() in r.weekdays:
                start, end = _window(r, day, tz)
                if start <= at < end:
                    return True
    return False


def _window_edges(
    restrictions: Sequence[Restriction], tz: ZoneInfo, start: datetime, end: datetime, budget: int
) -> set[datetime]:
    """Window edges in [start, end): for each restriction and weekday, one local day a week."""
    first_day = _wall(start, tz).date() - timedelta(days=2)
    last_day = _wall(end, tz).date()
    # Refuse a long window before doing the work: each full week of days whose windows lie
    # wholly inside [start, end) holds one edge per distinct (weekday, minute) slot.
    slots = {(w, r.start_min) for r in restrictions for w in r.weekdays} | {
        ((w + (r.end_min <= r.start_min) + r.end_min // 1440) % 7, r.end_min % 1440)
        for r in restrictions
        for w in r.weekdays
    }
    if len(slots) * (((last_day - first_day).days - 4) // 7) > budget:
        raise _too_many()
    out: set[datetime] = set()  # windows of different restrictions may share an edge
    for r in restrictions:
        for weekday in r.weekdays:
            day = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
            while day <= last_day:
                out.update(edge for edge in _window(r, day, tz) if start <= edge < end)
                if len(out) > budget:
                    raise _too_many()
                day += timedelta(weeks=1)
    return out


# --- who is on call ---------------------------------------------------------------------------


def on_call(
    schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()
) -> tuple[str, ...]:
    """Who is on call at ``at`` (sorted, without duplicates).

    The last layer active at ``at`` (inside one of its windows, or unrestricted, and its
    rotation has started) gives the users; nobody if no layer is active. Then this schedule's
    overrides covering ``at`` (start <= at < end) apply in order of start: ``replaces=None``
    adds the user, a name swaps that user (if on call) for the override's user, and ``"*"``
    hands the whole schedule to the override's user, also where nobody was on call."""
    at = _aware(at)
    users: set[str] = set()
    tz = _zone(schedule.timezone)
    for layer in reversed(schedule.layers):
        if layer.restrictions and not _inside(layer.restrictions, at, tz):
            continue
        shift = rotation_shift(layer.rotation, at)
        if shift is not None:
            users = set(shift.users)
            break
    covering = [
        o
        for o in overrides
        if o.schedule == schedule.name and _aware(o.start) <= at < _aware(o.end)
    ]
    for o in sorted(covering, key=lambda o: _aware(o.start)):  # stable: ties keep input order
        if o.replaces is None:
            users.add(o.user)
        elif o.replaces == "*":
            users = {o.user}
        elif o.replaces in users:
            users.discard(o.replaces)
            users.add(o.user)
    return tuple(sorted(users))


def _boundaries(
    schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override]
) -> list[datetime]:
    """Every instant in [start, end) where who is on call may change, with ``start`` first."""
    found = {start}
    tz = _zone(schedule.timezone)

    def budget() -> int:
        return MAX_BOUNDARIES - len(found)

    for layer in schedule.layers:
        found.update(_handoffs(layer.rotation, start, end, budget()))
        if layer.restrictions:
            found.update(_window_edges(layer.restrictions, tz, start, end, budget()))
        if len(found) > MAX_BOUNDARIES:
            raise _too_many()
    for o in overrides:
        if o.schedule == schedule.name:
            found.update(t for t in (_aware(o.start), _aware(o.end)) if start <= t < end)
    if len(found) > MAX_BOUNDARIES:
        raise _too_many()
    return sorted(found)


def _too_many() -> ValueError:
    return ValueError(f"the window holds more than {MAX_BOUNDARIES} boundaries; ask for less")


def _timeline(
    schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override]
) -> Iterator[Shift]:
    """Merged shifts covering [start, end), in order."""
    edges = [*_boundaries(schedule, start, end, overrides), end]
    current: Shift | None = None
    for lo, hi in pairwise(edges):
        users = on_call(schedule, lo, overrides)
        if current is not None and current.users == users:
            current = Shift(users, current.start, hi)
            continue
        if current is not None:
            yield current
        current = Shift(users, lo, hi)
    if current is not None:
        yield current


def shifts(
    schedule: Schedule, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Shift]:
    """The on-call timeline of [start, end): consecutive shifts with no gap and no overlap,
    equal neighbours merged, and shifts with nobody on call kept so gaps in coverage show.
    Raises ``ValueError`` if the window holds more than ``MAX_BOUNDARIES`` boundaries."""
    start, end = _aware(start, "start"), _aware(end, "end")
    if end < start:
        raise ValueError("end must not be before start")
    if end == start:
        return []
    return list(_timeline(schedule, start, end, overrides))


def user_shifts(
    schedule: Schedule,
    user: str,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
) -> list[Shift]:
    """The shifts of [start, end) in which ``user`` is on call (alone or with others)."""
    return [s for s in shifts(schedule, start, end, overrides) if user in s.users]


def next_handoff(
    schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()
) -> Shift | None:
    """The shift after the one containing ``at``: who takes over and when ("on call until …,
    next: …"). None if nobody different comes on within the look-ahead.

    The look-ahead runs a week plus two full cycles of the longest rotation (at most
    ``MAX_CYCLE``) past the last rotation start or override end, so the pattern of layers has
    repeated by then. The shift returned ends at the look-ahead's end at the latest."""
    at = _aware(at)
    horizon = _horizon(schedule, at, overrides)
    current = on_call(schedule, at, overrides)
    lo, size = at, timedelta(hours=1)
    while lo < horizon:  # growing chunks: a near hand-off costs little, a far one is found
        hi = min(lo + size, horizon)
        for edge in _boundaries(schedule, lo, hi, overrides):
            users = on_call(schedule, edge, overrides)
            if users != current:
                rest = shifts(schedule, edge, min(edge + 2 * size, horizon), overrides)
                return _extend(schedule, rest[0], horizon, overrides)
        lo, size = hi, size * 2
    return None


def _extend(
    schedule: Schedule, shift: Shift, horizon: datetime, overrides: Sequence[Override]
) -> Shift:
    """``shift`` with its end pushed to the next change of users, up to ``horizon``."""
    size = shift.end - shift.start
    while shift.end < horizon:
        more = shifts(schedule, shift.end, min(shift.end + size, horizon), overrides)
        if more[0].users != shift.users:
            break
        shift = Shift(shift.users, shift.start, more[0].end)
        size *= 2
    return shift


def _horizon(schedule: Schedule, at: datetime, overrides: Sequence[Override]) -> datetime:
    latest = at
    cycle = timedelta(weeks=1)
    for layer in schedule.layers:
        clock = _clock(layer.rotation)
        latest = max(latest, clock.first)
        # a wall-clock step can stretch by a DST change; a day per step is ample slack
        slack = timedelta(days=1) if clock.wall else timedelta(0)
        cycle = max(cycle, min(MAX_CYCLE, len(layer.rotation.participants) * (clock.step + slack)))
    for o in overrides:
        if o.schedule == schedule.name:
            latest = max(latest, _aware(o.end))
    return latest + 2 * cycle + timedelta(weeks=1)


MAX_OVERRIDE = timedelta(days=366)


def override_problems(
    override: Override, schedules: Collection[str], users: Collection[str]
) -> str | None:
    """Why an override cannot be made (None when it can): a schedule and users that exist,
    an end after the start, at most a year long."""
    if override.schedule not in schedules:
        return f"no schedule {override.schedule!r}"
    if override.user not in users:
        return f"no user {override.user!r}"
    if override.replaces not in (None, "*") and override.replaces not in users:
        return f"no user {override.replaces!r} to replace"
    if override.end <= override.start:
        return "end must be after start"
    if override.end - override.start > MAX_OVERRIDE:
        return "an override lasts at most a year"
    return None
