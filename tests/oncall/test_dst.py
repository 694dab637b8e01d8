"""Rotations and windows across the 2026 DST changes. Every expected instant is a literal worked
out by hand from the zone rules, never recomputed with the code under test:

- Europe/Berlin: CET (UTC+1) → CEST (UTC+2) on 2026-03-29 at 02:00 local (01:00Z), 02:00-03:00
  does not exist; CEST → CET on 2026-10-25 at 03:00 local (01:00Z), 02:00-03:00 happens twice.
- America/New_York: EST (UTC-5) → EDT (UTC-4) on 2026-03-08 at 02:00 local (07:00Z),
  02:00-03:00 does not exist; EDT → EST on 2026-11-01 at 02:00 local (06:00Z), 01:00-02:00
  happens twice.

The rule under test: a hand-off at a wall time that does not exist happens at the end of the gap
(03:00 local); one at a wall time that exists twice happens at its first occurrence.
"""

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from tocsin.oncall.schedule import (
    Layer,
    Restriction,
    Rotation,
    Schedule,
    Shift,
    rotation_shift,
    shifts,
)

H = timedelta(hours=1)
USERS = ("a", "b", "c")


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def rotation_shifts(rotation: Rotation, first: datetime, count: int) -> list[Shift]:
    """``count`` shifts from the one starting at ``first``, each found from the previous end."""
    out: list[Shift] = []
    at = first
    for _ in range(count):
        shift = rotation_shift(rotation, at)
        assert shift is not None
        out.append(shift)
        at = shift.end
    return out


def check(
    rotation: Rotation, handoffs: list[datetime], lengths: list[timedelta], local: list[str]
) -> None:
    assert rotation_shift(rotation, handoffs[0] - timedelta(microseconds=1)) is None
    got = rotation_shifts(rotation, handoffs[0], len(handoffs) - 1)
    tz = ZoneInfo(rotation.timezone)
    assert [s.start for s in got] + [got[-1].end] == handoffs
    for before, after in pairwise(got):
        assert before.end == after.start  # no gap, no overlap
    assert [s.end - s.start for s in got] == lengths
    assert [h.astimezone(tz).strftime("%m-%d %H:%M") for h in handoffs] == local
    assert [s.users[0] for s in got] == [USERS[i % 3] for i in range(len(got))]
    # the timeline of a one-layer schedule hands off at exactly the same instants
    schedule = Schedule("s", rotation.timezone, (Layer(rotation),))
    timeline = shifts(schedule, handoffs[0], handoffs[-1])
    assert [s.start for s in timeline] == handoffs[:-1]


# --- daily hand-off at 02:30 local ---------------------------------------------------------


def test_berlin_daily_0230_spring() -> None:
    rotation = Rotation("d", "daily", USERS, datetime(2026, 3, 25, 2, 30), "Europe/Berlin")
    check(
        rotation,
        [
            utc(2026, 3, 25, 1, 30),  # 02:30 CET
            utc(2026, 3, 26, 1, 30),
            utc(2026, 3, 27, 1, 30),
            utc(2026, 3, 28, 1, 30),
            utc(2026, 3, 29, 1, 0),  # 02:30 does not exist: 03:00 CEST, the end of the gap
            utc(2026, 3, 30, 0, 30),  # 02:30 CEST
            utc(2026, 3, 31, 0, 30),
            utc(2026, 4, 1, 0, 30),
        ],
        # the lost hour is shared by the shifts either side of the 03:00 hand-off
        [24 * H, 24 * H, 24 * H, 23.5 * H, 23.5 * H, 24 * H, 24 * H],
        [
            "03-25 02:30",
            "03-26 02:30",
            "03-27 02:30",
            "03-28 02:30",
            "03-29 03:00",
            "03-30 02:30",
            "03-31 02:30",
            "04-01 02:30",
        ],
    )


def test_berlin_daily_0230_autumn() -> None:
    rotation = Rotation("d", "daily", USERS, datetime(2026, 10, 21, 2, 30), "Europe/Berlin")
    check(
        rotation,
        [
            utc(2026, 10, 21, 0, 30),  # 02:30 CEST
            utc(2026, 10, 22, 0, 30),
            utc(2026, 10, 23, 0, 30),
            utc(2026, 10, 24, 0, 30),
            utc(2026, 10, 25, 0, 30),  # 02:30 happens twice: the first, still CEST
            utc(2026, 10, 26, 1, 30),  # 02:30 CET
            utc(2026, 10, 27, 1, 30),
            utc(2026, 10, 28, 1, 30),
        ],
        [24 * H, 24 * H, 24 * H, 24 * H, 25 * H, 24 * H, 24 * H],
        [
            "10-21 02:30",
            "10-22 02:30",
            "10-23 02:30",
            "10-24 02:30",
            "10-25 02:30",
            "10-26 02:30",
            "10-27 02:30",
            "10-28 02:30",
        ],
    )
    shift = rotation_shift(rotation, utc(2026, 10, 25, 12))
    assert shift is not None
    assert shift.start.astimezone(ZoneInfo("Europe/Berlin")).utcoffset() == 2 * H  # first one


def test_new_york_daily_0230_spring() -> None:
    rotation = Rotation("d", "daily", USERS, datetime(2026, 3, 5, 2, 30), "America/New_York")
    check(
        rotation,
        [
            utc(2026, 3, 5, 7, 30),  # 02:30 EST
            utc(2026, 3, 6, 7, 30),
            utc(2026, 3, 7, 7, 30),
            utc(2026, 3, 8, 7, 0),  # 02:30 does not exist: 03:00 EDT
            utc(2026, 3, 9, 6, 30),  # 02:30 EDT
            utc(2026, 3, 10, 6, 30),
            utc(2026, 3, 11, 6, 30),
        ],
        [24 * H, 24 * H, 23.5 * H, 23.5 * H, 24 * H, 24 * H],
        [
            "03-05 02:30",
            "03-06 02:30",
            "03-07 02:30",
            "03-08 03:00",
            "03-09 02:30",
            "03-10 02:30",
            "03-11 02:30",
        ],
    )


def test_new_york_daily_0230_autumn() -> None:
    # New York repeats 01:00-02:00, so 02:30 exists once on 2026-11-01 (EST)
    rotation = Rotation("d", "daily", USERS, datetime(2026, 10, 29, 2, 30), "America/New_York")
    check(
        rotation,
        [
            utc(2026, 10, 29, 6, 30),  # 02:30 EDT
            utc(2026, 10, 30, 6, 30),
            utc(2026, 10, 31, 6, 30),
            utc(2026, 11, 1, 7, 30),  # 02:30 EST
            utc(2026, 11, 2, 7, 30),
            utc(2026, 11, 3, 7, 30),
            utc(2026, 11, 4, 7, 30),
        ],
        [24 * H, 24 * H, 25 * H, 24 * H, 24 * H, 24 * H],
        [
            "10-29 02:30",
            "10-30 02:30",
            "10-31 02:30",
            "11-01 02:30",
            "11-02 02:30",
            "11-03 02:30",
            "11-04 02:30",
        ],
    )


def test_new_york_daily_0130_autumn_takes_the_first_occurrence() -> None:
    rotation = Rotation("d", "daily", USERS, datetime(2026, 10, 30, 1, 30), "America/New_York")
    check(
        rotation,
        [
            utc(2026, 10, 30, 5, 30),  # 01:30 EDT
            utc(2026, 10, 31, 5, 30),
            utc(2026, 11, 1, 5, 30),  # 01:30 happens twice: the first, still EDT
            utc(2026, 11, 2, 6, 30),  # 01:30 EST
        ],
        [24 * H, 24 * H, 25 * H],
        ["10-30 01:30", "10-31 01:30", "11-01 01:30", "11-02 01:30"],
    )


@pytest.mark.parametrize(
    ("start", "handoffs", "lengths"),
    [
        (
            datetime(2026, 3, 27, 9, 0),
            [utc(2026, 3, 27, 8), utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)],
            [24 * H, 23 * H, 24 * H],  # a hand-off outside the gap: the spring day is 23 h
        ),
        (
            datetime(2026, 10, 23, 9, 0),
            [
                utc(2026, 10, 23, 7),
                utc(2026, 10, 24, 7),
                utc(2026, 10, 25, 8),
                utc(2026, 10, 26, 8),
            ],
            [24 * H, 25 * H, 24 * H],
        ),
    ],
)
def test_berlin_daily_0900(
    start: datetime, handoffs: list[datetime], lengths: list[timedelta]
) -> None:
    rotation = Rotation("d", "daily", USERS, start, "Europe/Berlin")
    local = [f"{h.month:02}-{h.day:02} 09:00" for h in handoffs]
    check(rotation, handoffs, lengths, local)


# --- weekly and hourly ------------------------------------------------------------------------


def test_berlin_weekly_sunday_0230() -> None:
    # 2026-03-15 is a Sunday; the spring change is on Sunday 2026-03-29
    spring = Rotation("w", "weekly", USERS, datetime(2026, 3, 15, 2, 30), "Europe/Berlin")
    check(
        spring,
        [
            utc(2026, 3, 15, 1, 30),
            utc(2026, 3, 22, 1, 30),
            utc(2026, 3, 29, 1, 0),  # 03:00 CEST, the end of the gap
            utc(2026, 4, 5, 0, 30),
            utc(2026, 4, 12, 0, 30),
        ],
        [168 * H, 167.5 * H, 167.5 * H, 168 * H],
        ["03-15 02:30", "03-22 02:30", "03-29 03:00", "04-05 02:30", "04-12 02:30"],
    )
    autumn = Rotation("w", "weekly", USERS, datetime(2026, 10, 11, 2, 30), "Europe/Berlin")
    check(
        autumn,
        [
            utc(2026, 10, 11, 0, 30),
            utc(2026, 10, 18, 0, 30),
            utc(2026, 10, 25, 0, 30),  # the first 02:30
            utc(2026, 11, 1, 1, 30),
            utc(2026, 11, 8, 1, 30),
        ],
        [168 * H, 168 * H, 169 * H, 168 * H],
        ["10-11 02:30", "10-18 02:30", "10-25 02:30", "11-01 02:30", "11-08 02:30"],
    )


def test_new_york_weekly_monday_0900() -> None:
    rotation = Rotation("w", "weekly", USERS, datetime(2026, 3, 2, 9, 0), "America/New_York")
    check(
        rotation,
        [utc(2026, 3, 2, 14), utc(2026, 3, 9, 13), utc(2026, 3, 16, 13)],
        [167 * H, 168 * H],
        ["03-02 09:00", "03-09 09:00", "03-16 09:00"],
    )


def test_hourly_across_spring_stays_3600_s() -> None:
    rotation = Rotation("h", "hourly", USERS, datetime(2026, 3, 28, 23, 0), "Europe/Berlin")
    check(
        rotation,
        [utc(2026, 3, 28, 22), utc(2026, 3, 28, 23), *(utc(2026, 3, 29, h) for h in range(4))],
        [H] * 5,
        ["03-28 23:00", "03-29 00:00", "03-29 01:00", "03-29 03:00", "03-29 04:00", "03-29 05:00"],
    )


def test_hourly_across_autumn_stays_3600_s() -> None:
    rotation = Rotation("h", "hourly", USERS, datetime(2026, 10, 24, 23, 0), "Europe/Berlin")
    check(
        rotation,
        [*(utc(2026, 10, 24, h) for h in (21, 22, 23)), *(utc(2026, 10, 25, h) for h in range(3))],
        [H] * 5,
        # 02:00 twice: CEST at 00:00Z, then CET at 01:00Z
        ["10-24 23:00", "10-25 00:00", "10-25 01:00", "10-25 02:00", "10-25 02:00", "10-25 03:00"],
    )


def test_first_handoff_in_the_gap_is_the_end_of_the_gap() -> None:
    rotation = Rotation("h", "hourly", USERS, datetime(2026, 3, 29, 2, 30), "Europe/Berlin")
    assert rotation_shift(rotation, utc(2026, 3, 29, 0, 59)) is None
    assert rotation_shift(rotation, utc(2026, 3, 29, 1, 0)) == Shift(
        ("a",), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)
    )


# --- restriction windows ----------------------------------------------------------------------

DAYS = Rotation("days", "daily", ("dora",), datetime(2026, 3, 1, 9, 0), "Europe/Berlin")
NIGHTS = Rotation("nights", "daily", ("nick",), datetime(2026, 3, 1, 9, 0), "Europe/Berlin")


def layered(*windows: Restriction) -> Schedule:
    return Schedule("s", "Europe/Berlin", (Layer(DAYS), Layer(NIGHTS, windows)))


def test_night_window_across_spring_is_seven_hours() -> None:
    schedule = layered(Restriction(frozenset({5}), 22 * 60, 6 * 60))  # Saturday 22:00 - 06:00
    assert shifts(schedule, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == [
        Shift(("dora",), utc(2026, 3, 28, 12), utc(2026, 3, 28, 21)),  # 22:00 CET
        Shift(("nick",), utc(2026, 3, 28, 21), utc(2026, 3, 29, 4)),  # until 06:00 CEST
        Shift(("dora",), utc(2026, 3, 29, 4), utc(2026, 3, 29, 12)),
    ]


def test_window_edges_in_the_gap_and_in_the_repeated_hour() -> None:
    # Sunday 02:30-03:30 on the spring day: 02:30 does not exist, so 03:00 CEST to 03:30 CEST
    spring = layered(Restriction(frozenset({6}), 150, 210))
    assert shifts(spring, utc(2026, 3, 29, 0), utc(2026, 3, 29, 2)) == [
        Shift(("dora",), utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)),
        Shift(("nick",), utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)),
        Shift(("dora",), utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2)),
    ]
    # Sunday 00:00-02:30 on the autumn day: ends at the first 02:30 (CEST)
    autumn = layered(Restriction(frozenset({6}), 0, 150))
    assert shifts(autumn, utc(2026, 10, 24, 20), utc(2026, 10, 25, 3)) == [
        Shift(("dora",), utc(2026, 10, 24, 20), utc(2026, 10, 24, 22)),
        Shift(("nick",), utc(2026, 10, 24, 22), utc(2026, 10, 25, 0, 30)),
        Shift(("dora",), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3)),
    ]
