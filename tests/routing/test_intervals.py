"""Time intervals: Alertmanager's ``timeinterval_test.go`` tables, ported (times in Go's
RFC822Z layout, ``02 Jan 06 15:04 -0700``), then DST and routes' muting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from tocsin.routing.intervals import (
    Interval,
    IntervalError,
    active,
    parse_interval,
    parse_times,
    route_muted_by,
)


def at(text: str) -> datetime:
    """A time in Go's RFC822Z layout, as the Alertmanager tests write them."""
    day = text.split(" ", 1)[0]
    return datetime.strptime(f"{int(day):02d}{text[len(day) :]}", "%d %b %y %H:%M %z")


def from_yaml(entry: dict[str, object]) -> Interval:
    """An interval entry as the configuration gives it."""
    times = entry.get("times") or []
    assert isinstance(times, list)
    return parse_interval(
        times=[(t.get("start_time"), t.get("end_time")) for t in times],
        weekdays=list(entry.get("weekdays") or []),  # type: ignore[call-overload]
        days_of_month=list(entry.get("days_of_month") or []),  # type: ignore[call-overload]
        months=list(entry.get("months") or []),  # type: ignore[call-overload]
        years=list(entry.get("years") or []),  # type: ignore[call-overload]
        location=entry.get("location"),  # type: ignore[arg-type]
    )


# timeIntervalTestCases: an interval, times in it, times out of it
CONTAINS = [
    (Interval(), ["02 Jan 06 15:04 +0000", "03 Jan 07 10:04 +0000", "04 Jan 06 09:04 +0000"], []),
    (  # 9am to 5pm, monday to friday
        Interval(times=((540, 1020),), weekdays=((1, 5),)),
        ["04 May 20 15:04 +0000", "05 May 20 10:04 +0000", "09 Jun 20 09:04 +0000"],
        ["03 May 20 15:04 +0000", "04 May 20 08:59 +0000", "05 May 20 05:00 +0000"],
    ),
    (  # Easter 2020
        Interval(days_of_month=((4, 6),), months=((4, 4),), years=((2020, 2020),)),
        ["04 Apr 20 15:04 +0000", "05 Apr 20 00:00 +0000", "06 Apr 20 23:05 +0000"],
        [
            "03 May 18 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
        ],
    ),
    (  # negative days of month: the last 3 days of each month
        Interval(days_of_month=((-3, -1),)),
        [
            "31 Jan 20 15:04 +0000",
            "30 Jan 20 15:04 +0000",
            "29 Jan 20 15:04 +0000",
            "30 Jun 20 00:00 +0000",
            "29 Feb 20 23:05 +0000",
        ],
        [
            "03 May 18 15:04 +0000",
            "27 Jan 20 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
            "01 Mar 20 00:00 +0000",
        ],
    ),
    (  # out of bound days are clamped to the month
        Interval(months=((6, 6),), days_of_month=((-31, 31),)),
        ["30 Jun 20 00:00 +0000", "01 Jun 20 00:00 +0000"],
        ["31 May 20 00:00 +0000", "1 Jul 20 00:00 +0000"],
    ),
    (  # another zone: 9am to 5pm AEST, monday to friday
        Interval(times=((540, 1020),), weekdays=((1, 5),), location="Australia/Sydney"),
        ["06 Apr 21 13:00 +1000"],
        ["06 Apr 21 13:00 +0000"],
    ),
    (  # the same zone in its daylight saving time
        Interval(
            times=((540, 1020),),
            weekdays=((1, 5),),
            months=((11, 11),),
            location="Australia/Sydney",
        ),
        ["01 Nov 21 09:00 +1100", "31 Oct 21 22:00 +0000"],
        ["31 Oct 21 21:00 +0000"],
    ),
]


@pytest.mark.parametrize(("interval", "inside", "outside"), CONTAINS)
def test_contains_time(interval: Interval, inside: list[str], outside: list[str]) -> None:
    for text in inside:
        assert interval.contains(at(text)), text
    for text in outside:
        assert not interval.contains(at(text)), text


# timeStringTestCases
@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        ("00:00", "24:00", (0, 1440)),
        ("01:35", "17:39", (95, 1059)),
        ("09:35", "09:39", (575, 579)),
        ("17:31", "17:31", None),  # begin and end the same
        ("12:30", "24:01", None),  # end out of range
        ("09:30", "07:41", None),  # start after end
        ("24:00", "17:41", None),  # start out of range and after end
        ("14:03", None, None),  # no end
    ],
)
def test_parse_time_range(start: str, end: str | None, minutes: tuple[int, int] | None) -> None:
    if minutes is None:
        with pytest.raises(IntervalError):
            parse_times(start, end)
    else:
        assert parse_times(start, end) == minutes


# yamlUnmarshalTestCases: a document, the intervals, times in and out, or Alertmanager's error
UNMARSHAL = [
    (
        "- weekdays: ['monday:friday']\n  times:\n    - start_time: '09:00'\n"
        "      end_time: '17:00'\n",
        [Interval(weekdays=((1, 5),), times=((540, 1020),))],
        ["08 Jul 20 09:00 +0000", "08 Jul 20 16:59 +0000"],
        ["08 Jul 20 05:00 +0000", "08 Jul 20 08:59 +0000"],
        None,
    ),
    (
        # the last week, but Saturday, of the first quarter during business hours, 2020-2025
        # and 2030-2035
        "- weekdays: ['monday:friday', 'sunday']\n  months: ['january:march']\n"
        "  days_of_month: ['-7:-1']\n  years: ['2020:2025', '2030:2035']\n"
        "  times:\n    - start_time: '09:00'\n      end_time: '17:00'\n",
        [
            Interval(
                weekdays=((1, 5), (0, 0)),
                times=((540, 1020),),
                months=((1, 3),),
                days_of_month=((-7, -1),),
                years=((2020, 2025), (2030, 2035)),
            )
        ],
        [
            "27 Jan 21 09:00 +0000",
            "28 Jan 21 16:59 +0000",
            "29 Jan 21 13:00 +0000",
            "31 Mar 25 13:00 +0000",
            "31 Jan 35 13:00 +0000",
        ],
        [
            "30 Jan 21 13:00 +0000",  # Saturday
            "01 Apr 21 13:00 +0000",  # 4th month
            "30 Jan 26 13:00 +0000",  # 2026
            "31 Jan 35 17:01 +0000",  # after 5pm
        ],
        None,
    ),
    (
        "- weekdays: ['monday:friday']\n  times:\n    - start_time: '09:00'\n"
        "      end_time: '17:00'",
        [Interval(weekdays=((1, 5),), times=((540, 1020),))],
        ["01 Apr 21 13:00 +0000"],
        [],
        None,
    ),
    (
        "- times:\n    - start_time: '01:99'\n      end_time: '23:59'",
        None,
        [],
        [],
        "couldn't parse timestamp 01:99, invalid format",
    ),
    (
        "- times:\n    - start_time: '00:00'\n      end_time: '99:99'",
        None,
        [],
        [],
        "couldn't parse timestamp 99:99, invalid format",
    ),
    ("- weekdays: ['friday:monday']", None, [], [], "start day cannot be before end day"),
    ("- weekdays: ['blurgsday:flurgsday']\n", None, [], [], "blurgsday is not a valid weekday"),
    ("- weekdays: ['1:3']\n", None, [], [], "1 is not a valid weekday"),
    ("- weekdays: ['-2:-1']\n", None, [], [], "-2 is not a valid weekday"),
    ("- days_of_month: ['0']\n", None, [], [], "0 is not a valid day of the month: out of range"),
    (
        "- days_of_month: ['-50:-20']\n",
        None,
        [],
        [],
        "-50 is not a valid day of the month: out of range",
    ),
    (
        "- days_of_month: ['1:50']\n",
        None,
        [],
        [],
        "50 is not a valid day of the month: out of range",
    ),
    ("- days_of_month: ['1:-1']\n", [Interval(days_of_month=((1, -1),))], [], [], None),
    (
        "- days_of_month: ['-15:5']\n",
        None,
        [],
        [],
        "end day must be negative if start day is negative",
    ),
    ("- days_of_month: ['10:-25']\n", None, [], [], "end day -25 is always before start day 10"),
    ("- months: ['January:december']\n", [Interval(months=((1, 12),))], [], [], None),
    (
        "- years: ['2020:2022']\n  location: 'Australia/Sydney'\n",
        [Interval(years=((2020, 2022),), location="Australia/Sydney")],
        [],
        [],
        None,
    ),
    ("- months: ['martius:june']\n", None, [], [], "martius is not a valid month"),
    ("- months: ['march:junius']\n", None, [], [], "junius is not a valid month"),
    (
        "- months: ['december:january']\n",
        None,
        [],
        [],
        "end month january is before start month december",
    ),
    ("- years: ['2022:2020']\n", None, [], [], "end year 2020 is before start year 2022"),
]


@pytest.mark.parametrize(("text", "intervals", "inside", "outside", "error"), UNMARSHAL)
def test_yaml_unmarshal(
    text: str,
    intervals: list[Interval] | None,
    inside: list[str],
    outside: list[str],
    error: str | None,
) -> None:
    entries = yaml.safe_load(text)
    if error is not None:
        with pytest.raises(IntervalError) as caught:
            [from_yaml(e) for e in entries]
        assert str(caught.value) == error
        return
    parsed = [from_yaml(e) for e in entries]
    assert parsed == intervals
    for text_at in inside:
        assert active(parsed, at(text_at)), text_at
    for text_at in outside:
        assert not active(parsed, at(text_at)), text_at


# completeTestCases: from the document to whether a time is in it
COMPLETE = [
    (
        "weekdays: ['monday:wednesday', 'saturday', 'sunday']\ntimes:\n"
        "  - start_time: '13:00'\n    end_time: '15:00'\n"
        "days_of_month: ['1', '10', '20:-1']\nyears: ['2020:2023']\nmonths: ['january:march']\n",
        ["10 Jan 21 13:00 +0000", "30 Jan 21 14:24 +0000"],
        ["09 Jan 21 13:00 +0000", "20 Jan 21 12:59 +0000", "02 Feb 21 13:00 +0000"],
    ),
    (  # a range that begins after the month's end is not clamped onto its last day
        "days_of_month: ['30:31']\nyears: ['2020:2023']\nmonths: ['february']\n",
        [],
        ["28 Feb 21 13:00 +0000"],
    ),
]


@pytest.mark.parametrize(("text", "inside", "outside"), COMPLETE)
def test_time_interval_complete(text: str, inside: list[str], outside: list[str]) -> None:
    interval = from_yaml(yaml.safe_load(text))
    for t in inside:
        assert interval.contains(at(t)), t
    for t in outside:
        assert not interval.contains(at(t)), t


def test_other_errors_as_alertmanager_words_them() -> None:
    with pytest.raises(IntervalError, match=r'^strconv\.Atoi: parsing "x": invalid syntax$'):
        from_yaml({"years": ["x"]})
    with pytest.raises(IntervalError, match=r"^couldn't parse range 1:2:3, invalid format$"):
        from_yaml({"years": ["1:2:3"]})
    with pytest.raises(IntervalError, match=r"^unknown time zone Mars/Olympus$"):
        from_yaml({"location": "Mars/Olympus"})
    with pytest.raises(IntervalError, match=r"^both start and end times must be provided$"):
        from_yaml({"times": [{"end_time": "10:00"}]})


# --- DST: the wall clock of the location, on both sides of a change ---

BERLIN_OFFICE = Interval(times=((540, 1020),), weekdays=((1, 5),), location="Europe/Berlin")


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        # Friday 2021-03-26, CET (+01:00): 09:00 local is 08:00 UTC
        ("2021-03-26T07:59:00", False),
        ("2021-03-26T08:00:00", True),
        ("2021-03-26T15:59:00", True),
        ("2021-03-26T16:00:00", False),
        # Monday 2021-03-29, after the change to CEST (+02:00): 09:00 local is 07:00 UTC
        ("2021-03-29T06:59:00", False),
        ("2021-03-29T07:00:00", True),
        ("2021-03-29T14:59:00", True),
        ("2021-03-29T15:00:00", False),
        # Monday 2021-11-01, back on CET
        ("2021-11-01T07:30:00", False),
        ("2021-11-01T08:00:00", True),
    ],
)
def test_office_hours_follow_the_wall_clock_across_dst(utc: str, inside: bool) -> None:
    when = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert BERLIN_OFFICE.contains(when) is inside


def test_the_repeated_hour_of_a_fall_back_is_in_both_times() -> None:
    # 2021-11-07 in New York: 01:00-02:00 happens twice (EDT, then EST)
    night = Interval(times=((60, 120),), location="America/New_York")
    first = datetime(2021, 11, 7, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = first + timedelta(hours=1)  # 01:30 EST
    assert night.contains(first) and night.contains(second)
    assert not night.contains(second + timedelta(hours=1))  # 02:30 EST


def test_the_last_day_of_a_month_shortened_by_dst_is_its_calendar_last_day() -> None:
    # March 2021 in Europe/London has 31 days; its DST change takes an hour away
    last = Interval(days_of_month=((-1, -1),), location="Europe/London")
    assert last.contains(datetime(2021, 3, 31, 12, tzinfo=UTC))
    assert not last.contains(datetime(2021, 3, 30, 12, tzinfo=UTC))


def test_a_time_just_before_midnight_in_the_zone_is_that_days() -> None:
    # 23:30 UTC on a Sunday is Monday 09:30 in Sydney (+10:00)
    sydney = Interval(weekdays=((1, 1),), location="Australia/Sydney")
    assert sydney.contains(datetime(2021, 6, 6, 23, 30, tzinfo=UTC))
    assert not sydney.contains(datetime(2021, 6, 6, 13, 30, tzinfo=UTC))


# --- a route's muting: mute_time_intervals mute while they hold; active_time_intervals mute
# while none of them holds ---

NAMED = {
    "nights": (Interval(times=((0, 480),)),),
    "weekends": (Interval(weekdays=((6, 6), (0, 0))),),
    "office": (Interval(times=((540, 1020),), weekdays=((1, 5),)),),
}


@pytest.mark.parametrize(
    ("mute", "active_in", "when", "muted_by"),
    [
        ([], [], datetime(2021, 6, 7, 3, tzinfo=UTC), []),
        (["nights"], [], datetime(2021, 6, 7, 3, tzinfo=UTC), ["nights"]),
        (["nights"], [], datetime(2021, 6, 7, 9, tzinfo=UTC), []),
        (["nights", "weekends"], [], datetime(2021, 6, 6, 3, tzinfo=UTC), ["nights", "weekends"]),
        ([], ["office"], datetime(2021, 6, 7, 10, tzinfo=UTC), []),
        ([], ["office"], datetime(2021, 6, 7, 18, tzinfo=UTC), ["office"]),
        ([], ["office", "weekends"], datetime(2021, 6, 6, 18, tzinfo=UTC), []),
        (["nights"], ["office"], datetime(2021, 6, 7, 3, tzinfo=UTC), ["nights", "office"]),
    ],
)
def test_route_muted_by(
    mute: list[str], active_in: list[str], when: datetime, muted_by: list[str]
) -> None:
    assert route_muted_by(mute, active_in, NAMED, when) == muted_by
