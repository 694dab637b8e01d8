from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.oncall.schedule import (
    Layer,
    Override,
    Restriction,
    Rotation,
    RotationKind,
    Schedule,
    Shift,
    next_handoff,
    on_call,
    problems,
    rotation_shift,
    shifts,
    user_shifts,
)

BERLIN = ZoneInfo("Europe/Berlin")
ALL_WEEK = frozenset(range(7))


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=UTC)


def berlin(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """An instant given as Berlin wall time (the January dates used here are CET, UTC+1)."""
    return datetime(y, m, d, h, mi, tzinfo=BERLIN)


def user_at(rotation: Rotation, at: datetime) -> str | None:
    shift = rotation_shift(rotation, at)
    return None if shift is None else shift.users[0]


def single(rotation: Rotation, name: str = "primary", tz: str = "UTC") -> Schedule:
    return Schedule(name, tz, (Layer(rotation),))


# --- rotations ----------------------------------------------------------------------------

HOURLY = Rotation("h", "hourly", ("a", "b", "c"), datetime(2026, 1, 5, 9, 0), "UTC")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 1, 5, 8, 59, 59), None),  # before the first hand-off
        (utc(2026, 1, 5, 9, 0), "a"),  # exactly at the first hand-off
        (utc(2026, 1, 5, 9, 59, 59), "a"),
        (utc(2026, 1, 5, 10, 0), "b"),  # exactly at a hand-off: the new user
        (utc(2026, 1, 5, 11, 30), "c"),
        (utc(2026, 1, 5, 12, 0), "a"),  # wrap-around
        (utc(2026, 1, 6, 9, 0), "a"),  # 24 shifts later, 24 % 3 == 0
    ],
)
def test_hourly(at: datetime, expected: str | None) -> None:
    assert user_at(HOURLY, at) == expected


def test_hourly_shift_bounds_and_length() -> None:
    two_hours = Rotation("h", "hourly", ("a", "b"), datetime(2026, 1, 5, 9, 0), "UTC", length=2)
    assert rotation_shift(two_hours, utc(2026, 1, 5, 12, 15)) == Shift(
        ("b",), utc(2026, 1, 5, 11), utc(2026, 1, 5, 13)
    )
    assert user_at(two_hours, utc(2026, 1, 5, 13)) == "a"


@pytest.mark.parametrize(
    ("length", "at", "expected"),
    [
        (1, berlin(2026, 1, 5, 8, 59), None),
        (1, berlin(2026, 1, 5, 9, 0), "a"),
        (1, berlin(2026, 1, 6, 8, 59), "a"),
        (1, berlin(2026, 1, 6, 9, 0), "b"),
        (1, berlin(2026, 1, 7, 9, 0), "c"),
        (1, berlin(2026, 1, 8, 9, 0), "a"),
        (2, berlin(2026, 1, 6, 9, 0), "a"),
        (2, berlin(2026, 1, 7, 9, 0), "b"),
        (2, berlin(2026, 1, 11, 8, 59), "c"),
        (2, berlin(2026, 1, 11, 9, 0), "a"),
    ],
)
def test_daily(length: int, at: datetime, expected: str | None) -> None:
    rotation = Rotation(
        "d", "daily", ("a", "b", "c"), datetime(2026, 1, 5, 9, 0), "Europe/Berlin", length=length
    )
    assert user_at(rotation, at) == expected


def test_daily_shift_is_in_utc() -> None:
    rotation = Rotation("d", "daily", ("a", "b"), datetime(2026, 1, 5, 9, 0), "Europe/Berlin")
    assert rotation_shift(rotation, utc(2026, 1, 6, 12)) == Shift(
        ("b",), utc(2026, 1, 6, 8), utc(2026, 1, 7, 8)
    )


@pytest.mark.parametrize(
    ("length", "at", "expected"),
    [
        (1, utc(2026, 1, 5, 13, 59), None),  # Monday 09:00 in New York (EST) is 14:00Z
        (1, utc(2026, 1, 5, 14, 0), "a"),
        (1, utc(2026, 1, 12, 13, 59), "a"),
        (1, utc(2026, 1, 12, 14, 0), "b"),
        (1, utc(2026, 1, 19, 14, 0), "a"),
        (2, utc(2026, 1, 12, 14, 0), "a"),
        (2, utc(2026, 1, 19, 14, 0), "b"),
        (2, utc(2026, 2, 2, 14, 0), "a"),
    ],
)
def test_weekly(length: int, at: datetime, expected: str | None) -> None:
    rotation = Rotation(
        "w", "weekly", ("a", "b"), datetime(2026, 1, 5, 9, 0), "America/New_York", length=length
    )
    assert user_at(rotation, at) == expected


def test_custom() -> None:
    rotation = Rotation(
        "c", "custom", ("a", "b", "c"), datetime(2026, 1, 1), "Asia/Kolkata", custom_s=90 * 60
    )
    # 2026-01-01 00:00 in Kolkata (UTC+05:30) is 2025-12-31 18:30Z
    assert user_at(rotation, utc(2025, 12, 31, 18, 29)) is None
    assert rotation_shift(rotation, utc(2025, 12, 31, 18, 30)) == Shift(
        ("a",), utc(2025, 12, 31, 18, 30), utc(2025, 12, 31, 20, 0)
    )
    assert user_at(rotation, utc(2025, 12, 31, 20, 0)) == "b"
    assert user_at(rotation, utc(2025, 12, 31, 23, 0)) == "a"  # 4.5 h = 3 shifts: wrapped


def test_rotation_started_long_ago() -> None:
    users = tuple("abcdefg")
    rotation = Rotation("old", "daily", users, datetime(2000, 1, 1, 9, 0), "Europe/Berlin")
    # 2000-01-01 to 2026-01-01 is 26 * 365 + 7 leap days = 9497 days; 9497 % 7 == 5
    assert user_at(rotation, berlin(2026, 1, 1, 9, 0)) == "f"
    assert user_at(rotation, berlin(2026, 1, 1, 8, 59)) == "e"
    # 2000-01-01 to 2100-01-01 is 100 * 365 + 25 leap days (2100 is not one) = 36525 days
    assert user_at(rotation, berlin(2100, 1, 1, 9, 0)) == users[36525 % 7]


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        rotation_shift(HOURLY, datetime(2026, 1, 5, 10))


# --- layers and restrictions ---------------------------------------------------------------

WEEKDAYS = Rotation("weekdays", "daily", ("alice", "bob"), datetime(2026, 1, 5, 9), "Europe/Berlin")
WEEKEND = Rotation("weekend", "weekly", ("wendy",), datetime(2026, 1, 3, 0), "Europe/Berlin")
NIGHTS = Rotation("nights", "weekly", ("nick",), datetime(2026, 1, 1, 0), "Europe/Berlin")

WEEKEND_OVER_WEEKDAYS = Schedule(
    "primary",
    "Europe/Berlin",
    (
        Layer(WEEKDAYS),
        Layer(WEEKEND, (Restriction(frozenset({5, 6}), 0, 1440),)),
    ),
)

NIGHTS_OVER_DAYS = Schedule(
    "primary",
    "Europe/Berlin",
    (
        Layer(WEEKDAYS),
        # Monday to Friday nights, 22:00 until 06:00 the next morning
        Layer(NIGHTS, (Restriction(frozenset(range(5)), 22 * 60, 6 * 60),)),
    ),
)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (berlin(2026, 1, 9, 23, 59), ("alice",)),  # Friday: the weekday layer (day 4 → alice)
        (berlin(2026, 1, 10, 0, 0), ("wendy",)),  # Saturday 00:00: the weekend layer wins
        (berlin(2026, 1, 11, 23, 59), ("wendy",)),  # Sunday night
        (berlin(2026, 1, 12, 0, 0), ("alice",)),  # Monday 00:00: weekdays (day 6 → alice)
        (berlin(2026, 1, 12, 9, 0), ("bob",)),  # Monday 09:00 hand-off (day 7 → bob)
    ],
)
def test_weekend_layer_over_weekday_layer(at: datetime, expected: tuple[str, ...]) -> None:
    assert on_call(WEEKEND_OVER_WEEKDAYS, at) == expected


def test_restricted_layer_not_started_yet_lets_the_lower_layer_through() -> None:
    late = Rotation("late", "weekly", ("wendy",), datetime(2026, 2, 7, 0), "Europe/Berlin")
    schedule = Schedule(
        "primary",
        "Europe/Berlin",
        (Layer(WEEKDAYS), Layer(late, (Restriction(frozenset({5, 6}), 0, 1440),))),
    )
    assert on_call(schedule, berlin(2026, 1, 10, 12)) == ("bob",)
    assert on_call(schedule, berlin(2026, 2, 7, 12)) == ("wendy",)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (berlin(2026, 1, 9, 21, 59), ("alice",)),  # Friday evening: days
        (berlin(2026, 1, 9, 22, 0), ("nick",)),  # Friday 22:00: the night window opens
        (berlin(2026, 1, 10, 5, 59), ("nick",)),  # Saturday morning: Friday's window
        (berlin(2026, 1, 10, 6, 0), ("alice",)),  # it ends at 06:00
        (berlin(2026, 1, 10, 23, 0), ("bob",)),  # Saturday night: no window starts Saturday
        (berlin(2026, 1, 12, 3, 0), ("alice",)),  # Monday 03:00: no window started Sunday
        (berlin(2026, 1, 12, 22, 30), ("nick",)),
    ],
)
def test_night_window_past_midnight(at: datetime, expected: tuple[str, ...]) -> None:
    assert on_call(NIGHTS_OVER_DAYS, at) == expected


def test_no_layer_active_means_nobody() -> None:
    schedule = Schedule(
        "primary",
        "Europe/Berlin",
        (Layer(NIGHTS, (Restriction(frozenset(range(5)), 22 * 60, 6 * 60),)),),
    )
    assert on_call(schedule, berlin(2026, 1, 7, 12)) == ()
    assert on_call(schedule, berlin(2026, 1, 7, 23)) == ("nick",)


# --- overrides -------------------------------------------------------------------------------

PAIR = single(Rotation("p", "daily", ("alice", "bob"), datetime(2026, 1, 5, 9), "UTC"))
NOON = utc(2026, 1, 5, 12)  # alice's shift


def cover(user: str, replaces: str | None = None, schedule: str = "primary") -> Override:
    return Override(schedule, utc(2026, 1, 5, 10), utc(2026, 1, 5, 14), user, replaces)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (cover("carol"), ("alice", "carol")),  # added
        (cover("carol", "alice"), ("carol",)),  # replaces alice
        (cover("carol", "bob"), ("alice",)),  # bob is not on call: nothing changes
        (cover("carol", "*"), ("carol",)),  # replaces everyone
        (cover("alice"), ("alice",)),  # adding someone already on call: no duplicate
        (cover("carol", schedule="secondary"), ("alice",)),  # another schedule's override
    ],
)
def test_override_kinds(override: Override, expected: tuple[str, ...]) -> None:
    assert on_call(PAIR, NOON, [override]) == expected


def test_override_covers_start_but_not_end() -> None:
    override = cover("carol", "*")
    assert on_call(PAIR, utc(2026, 1, 5, 9, 59), [override]) == ("alice",)
    assert on_call(PAIR, utc(2026, 1, 5, 10), [override]) == ("carol",)
    assert on_call(PAIR, utc(2026, 1, 5, 13, 59), [override]) == ("carol",)
    assert on_call(PAIR, utc(2026, 1, 5, 14), [override]) == ("alice",)


def test_overrides_apply_in_order_of_start() -> None:
    add_dave = Override("primary", utc(2026, 1, 5, 11), utc(2026, 1, 5, 14), "dave")
    all_carol = Override("primary", utc(2026, 1, 5, 10), utc(2026, 1, 5, 14), "carol", "*")
    # carol takes over first (earlier start), then dave is added, whatever the list order
    assert on_call(PAIR, NOON, [add_dave, all_carol]) == ("carol", "dave")
    late_star = Override("primary", utc(2026, 1, 5, 11, 30), utc(2026, 1, 5, 14), "erin", "*")
    assert on_call(PAIR, NOON, [late_star, add_dave]) == ("erin",)


def test_star_override_fills_a_gap_in_coverage() -> None:
    schedule = Schedule(
        "primary",
        "Europe/Berlin",
        (Layer(NIGHTS, (Restriction(frozenset(range(5)), 22 * 60, 6 * 60),)),),
    )
    at = berlin(2026, 1, 7, 12)
    star = Override("primary", at, at + timedelta(hours=1), "carol", "*")
    named = Override("primary", at, at + timedelta(hours=1), "carol", "nick")
    assert on_call(schedule, at, [star]) == ("carol",)
    assert on_call(schedule, at, [named]) == ()


# --- timelines ------------------------------------------------------------------------------


def assert_covers(timeline: list[Shift], start: datetime, end: datetime) -> None:
    assert timeline[0].start == start
    assert timeline[-1].end == end
    for before, after in pairwise(timeline):
        assert before.end == after.start
        assert before.users != after.users  # equal neighbours are merged
    assert all(s.start < s.end for s in timeline)


def test_shifts_cover_the_window_and_merge_equal_neighbours() -> None:
    rotation = Rotation("r", "daily", ("a", "a", "b"), datetime(2026, 1, 5, 9), "UTC")
    start, end = utc(2026, 1, 4, 12), utc(2026, 1, 11, 12)
    timeline = shifts(single(rotation), start, end)
    assert timeline == [
        Shift((), utc(2026, 1, 4, 12), utc(2026, 1, 5, 9)),  # not started yet: a visible gap
        Shift(("a",), utc(2026, 1, 5, 9), utc(2026, 1, 7, 9)),  # two days of a, merged
        Shift(("b",), utc(2026, 1, 7, 9), utc(2026, 1, 8, 9)),
        Shift(("a",), utc(2026, 1, 8, 9), utc(2026, 1, 10, 9)),
        Shift(("b",), utc(2026, 1, 10, 9), utc(2026, 1, 11, 9)),
        Shift(("a",), utc(2026, 1, 11, 9), utc(2026, 1, 11, 12)),  # cut at the window end
    ]
    assert_covers(timeline, start, end)


def test_shifts_with_layers_and_overrides() -> None:
    start, end = berlin(2026, 1, 9, 12), berlin(2026, 1, 10, 12)
    override = Override("primary", berlin(2026, 1, 10, 1), berlin(2026, 1, 10, 3), "olga", "nick")
    timeline = shifts(NIGHTS_OVER_DAYS, start, end, [override])
    assert [(s.users, s.start, s.end) for s in timeline] == [
        (("alice",), berlin(2026, 1, 9, 12), berlin(2026, 1, 9, 22)),
        (("nick",), berlin(2026, 1, 9, 22), berlin(2026, 1, 10, 1)),
        (("olga",), berlin(2026, 1, 10, 1), berlin(2026, 1, 10, 3)),
        (("nick",), berlin(2026, 1, 10, 3), berlin(2026, 1, 10, 6)),
        (("alice",), berlin(2026, 1, 10, 6), berlin(2026, 1, 10, 9)),
        (("bob",), berlin(2026, 1, 10, 9), berlin(2026, 1, 10, 12)),
    ]
    assert all(s.start.tzinfo is UTC and s.end.tzinfo is UTC for s in timeline)
    assert_covers(timeline, start, end)


def test_shifts_of_an_empty_window_and_bad_windows() -> None:
    assert shifts(PAIR, NOON, NOON) == []
    with pytest.raises(ValueError, match="before"):
        shifts(PAIR, NOON, NOON - timedelta(seconds=1))


def test_shifts_refuse_too_many_boundaries() -> None:
    every_second = Rotation("s", "custom", ("a", "b"), datetime(2026, 1, 1), "UTC", custom_s=1)
    with pytest.raises(ValueError, match="100000 boundaries"):
        shifts(single(every_second), utc(2026, 1, 1), utc(2026, 1, 3))
    # five one-hour windows a day: ten edges a day, 100,000 edges in about 27 years
    windows = tuple(Restriction(ALL_WEEK, 120 * i, 120 * i + 60) for i in range(5))
    many_windows = Schedule("primary", "UTC", (Layer(WEEKDAYS), Layer(NIGHTS, windows)))
    assert len(shifts(many_windows, utc(2026, 1, 1), utc(2026, 2, 1))) == 310
    with pytest.raises(ValueError, match="100000 boundaries"):
        shifts(many_windows, utc(2026, 1, 1), utc(2060, 1, 1))


def test_user_shifts() -> None:
    start, end = utc(2026, 1, 5, 9), utc(2026, 1, 9, 9)
    override = Override("primary", utc(2026, 1, 6, 12), utc(2026, 1, 6, 13), "alice")
    assert user_shifts(PAIR, "alice", start, end, [override]) == [
        Shift(("alice",), utc(2026, 1, 5, 9), utc(2026, 1, 6, 9)),
        Shift(("alice", "bob"), utc(2026, 1, 6, 12), utc(2026, 1, 6, 13)),
        Shift(("alice",), utc(2026, 1, 7, 9), utc(2026, 1, 8, 9)),
    ]
    assert user_shifts(PAIR, "zoe", start, end) == []


def test_next_handoff() -> None:
    assert next_handoff(PAIR, NOON) == Shift(("bob",), utc(2026, 1, 6, 9), utc(2026, 1, 7, 9))
    # exactly at a hand-off, the shift containing `at` is the new one
    assert next_handoff(PAIR, utc(2026, 1, 6, 9)) == Shift(
        ("alice",), utc(2026, 1, 7, 9), utc(2026, 1, 8, 9)
    )
    override = Override("primary", utc(2026, 1, 5, 15), utc(2026, 1, 5, 16), "carol", "*")
    assert next_handoff(PAIR, NOON, [override]) == Shift(
        ("carol",), utc(2026, 1, 5, 15), utc(2026, 1, 5, 16)
    )
    # before the rotation starts nobody is on call; the next shift is its first
    assert next_handoff(PAIR, utc(2026, 1, 1)) == Shift(
        ("alice",), utc(2026, 1, 5, 9), utc(2026, 1, 6, 9)
    )


def test_next_handoff_far_away_and_never() -> None:
    yearly = Rotation("y", "weekly", ("a", "b"), datetime(2026, 1, 5, 9), "UTC", length=52)
    assert next_handoff(single(yearly), utc(2026, 1, 6)) == Shift(
        ("b",), utc(2027, 1, 4, 9), utc(2028, 1, 3, 9)
    )
    alone = Rotation("alone", "hourly", ("a",), datetime(2026, 1, 5, 9), "UTC")
    assert next_handoff(single(alone), utc(2026, 1, 6)) is None


def test_next_handoff_across_a_weekend_layer() -> None:
    # Friday afternoon: alice until Saturday 00:00, then wendy for the weekend
    assert next_handoff(WEEKEND_OVER_WEEKDAYS, berlin(2026, 1, 9, 15)) == Shift(
        ("wendy",), berlin(2026, 1, 10, 0), berlin(2026, 1, 12, 0)
    )


# --- validation ------------------------------------------------------------------------------


def test_sound_schedules_have_no_problems() -> None:
    assert problems(WEEKEND_OVER_WEEKDAYS) == []
    assert problems(NIGHTS_OVER_DAYS) == []


def test_problems() -> None:
    broken = Schedule(
        "ops",
        "Mars/Olympus",
        (
            Layer(Rotation("empty", "daily", (), datetime(2026, 1, 1), "Europe/Berlin")),
            Layer(Rotation("tz", "daily", ("a",), datetime(2026, 1, 1), "Nowhere/Land")),
            Layer(Rotation("custom", "custom", ("a",), datetime(2026, 1, 1), "UTC")),
            Layer(Rotation("zero", "weekly", ("a",), datetime(2026, 1, 1), "UTC", length=0)),
            Layer(
                Rotation("ok", "daily", ("a",), datetime(2026, 1, 1), "UTC"),
                (Restriction(frozenset({7}), 1440, 0),),
            ),
        ),
    )
    assert problems(broken) == [
        "schedule 'ops': unknown timezone 'Mars/Olympus'",
        "schedule 'ops', layer 0: rotation 'empty': no participants",
        "schedule 'ops', layer 1: rotation 'tz': unknown timezone 'Nowhere/Land'",
        "schedule 'ops', layer 2: rotation 'custom': kind custom needs custom_s "
        "(shift length in seconds)",
        "schedule 'ops', layer 3: rotation 'zero': length must be at least 1, not 0",
        "schedule 'ops', layer 4, restriction 0: weekdays must be 0 (Monday) … 6 (Sunday), not [7]",
        "schedule 'ops', layer 4, restriction 0: start_min must be 0..1439, not 1440",
        "schedule 'ops', layer 4, restriction 0: end_min must be 1..1440, not 0",
    ]


def test_more_problems() -> None:
    odd = Schedule(
        "ops",
        "UTC",
        (
            Layer(
                Rotation("neg", "custom", ("a",), datetime(2026, 1, 1), "UTC", custom_s=0),
                (Restriction(frozenset(), 0, 60),),
            ),
            Layer(Rotation("stray", "daily", ("a",), datetime(2026, 1, 1), "UTC", custom_s=60)),
            Layer(Rotation("aware", "daily", ("a",), utc(2026, 1, 1), "UTC")),
        ),
    )
    assert problems(odd) == [
        "schedule 'ops', layer 0: rotation 'neg': custom_s must be positive, not 0",
        "schedule 'ops', layer 0, restriction 0: no weekdays, so it never applies",
        "schedule 'ops', layer 1: rotation 'stray': custom_s is only used by kind custom",
        "schedule 'ops', layer 2: rotation 'aware': start must be a local wall time without "
        "a timezone",
    ]
    assert problems(Schedule("none", "UTC", ())) == [
        "schedule 'none': no layers, so nobody is ever on call"
    ]


def test_rules_refuse_what_problems_reports() -> None:
    with pytest.raises(ValueError, match="participants"):
        rotation_shift(Rotation("e", "daily", (), datetime(2026, 1, 1), "UTC"), NOON)
    with pytest.raises(ValueError, match="timezone"):
        rotation_shift(Rotation("t", "daily", ("a",), datetime(2026, 1, 1), "No/Where"), NOON)
    with pytest.raises(ValueError, match="custom_s"):
        rotation_shift(Rotation("c", "custom", ("a",), datetime(2026, 1, 1), "UTC"), NOON)


# --- property: the timeline is a partition of the window ----------------------------------

TIMEZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
KINDS: list[RotationKind] = ["hourly", "daily", "weekly", "custom"]


@st.composite
def rotations(draw: st.DrawFn) -> Rotation:
    kind = draw(st.sampled_from(KINDS))
    return Rotation(
        name="r",
        kind=kind,
        participants=draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4).map(tuple)),
        start=draw(
            st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1)).map(
                lambda d: d.replace(second=0, microsecond=0)
            )
        ),
        timezone=draw(st.sampled_from(TIMEZONES)),
        length=draw(st.integers(1, 3)),
        custom_s=draw(st.floats(600, 3 * 86400)) if kind == "custom" else None,
    )


restrictions = st.builds(
    Restriction,
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    start_min=st.integers(0, 1439),
    end_min=st.integers(1, 1440),
)


@settings(max_examples=60, deadline=None)
@given(
    layers=st.lists(
        st.builds(Layer, rotations(), st.lists(restrictions, max_size=2).map(tuple)),
        min_size=1,
        max_size=3,
    ),
    tz=st.sampled_from(TIMEZONES),
    start=st.datetimes(datetime(2025, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
    span=st.timedeltas(timedelta(minutes=1), timedelta(days=20)),
)
def test_shifts_partition_the_window(
    layers: list[Layer], tz: str, start: datetime, span: timedelta
) -> None:
    schedule = Schedule("s", tz, tuple(layers))
    end = start + span
    timeline = shifts(schedule, start, end)
    assert_covers(timeline, start, end)
    for shift in timeline:
        assert on_call(schedule, shift.start) == shift.users
        assert on_call(schedule, shift.end - timedelta(microseconds=1)) == shift.users


@settings(max_examples=60, deadline=None)
@given(rotation=rotations(), at=st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1)))
def test_rotation_shifts_meet_exactly(rotation: Rotation, at: datetime) -> None:
    at = at.replace(tzinfo=UTC)
    shift = rotation_shift(rotation, at)
    if shift is None:
        first = rotation_shift(rotation, at + timedelta(days=800))
        assert first is not None
        return
    assert shift.start <= at < shift.end
    following = rotation_shift(rotation, shift.end)
    assert following is not None and following.start == shift.end
    previous = rotation_shift(rotation, shift.start - timedelta(microseconds=1))
    assert previous is None or previous.end == shift.start


def test_override_problems_name_what_is_wrong() -> None:
    from datetime import UTC, datetime, timedelta

    from tocsin.oncall.schedule import Override, override_problems

    start = datetime(2027, 1, 1, tzinfo=UTC)

    def check(**kw: object) -> str | None:
        fields: dict[str, object] = {
            "schedule": "primary",
            "start": start,
            "end": start + timedelta(hours=8),
            "user": "bob",
            "replaces": None,
        }
        fields.update(kw)
        return override_problems(Override(**fields), {"primary"}, {"alice", "bob"})  # type: ignore[arg-type]

    assert check() is None and check(replaces="*") is None and check(replaces="alice") is None
    assert check(schedule="x") == "no schedule 'x'"
    assert check(user="zed") == "no user 'zed'"
    assert check(replaces="zed") == "no user 'zed' to replace"
    assert check(end=start) == "end must be after start"
    assert check(end=start + timedelta(days=400)) == "an override lasts at most a year"
