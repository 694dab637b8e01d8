"""The vocabulary of time (tocsin.times): one parser per kind of text, one formatter with a
style per audience. Table-driven, no clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tocsin.errors import Invalid
from tocsin.times import (
    DurationStyle,
    OutOfRange,
    format_duration,
    format_time,
    parse_duration,
    parse_since,
    parse_time,
    parse_when,
    zone_of,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z

FORMATS: list[tuple[float | None, DurationStyle, str]] = [
    (None, "words", "n/a"),
    (0, "words", "0 s"),
    (420, "words", "7 min 0 s"),
    (7325, "words", "2 h 2 min 5 s"),
    (-90, "words", "-1 min 30 s"),
    (90_061, "words", "1 d 1 h 1 min"),
    (45, "short", "45s"),
    (3900, "short", "1h 05m"),
    (-5, "short", "0s"),
    (2 * 86_400 + 3 * 3600, "short", "2d 3h"),
    (0, "prometheus", "0s"),
    (5400, "prometheus", "1h30m"),
    (86_460, "prometheus", "1d1m"),
    (7.5, "clock", "7.5s"),
    (59.96, "clock", "1m00s"),
    (3900, "clock", "1h05m00s"),
    (90_061, "clock", "1d01h01m"),
]


@pytest.mark.parametrize(("seconds", "style", "text"), FORMATS)
def test_format_duration(seconds: float | None, style: DurationStyle, text: str) -> None:
    assert format_duration(seconds, style) == text


@pytest.mark.parametrize("seconds", [0, 1, 59, 60, 61, 3599, 3600, 86_399, 86_400, 987_654])
def test_prometheus_style_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds, "prometheus")) == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("1w", 604_800), ("1y", 31_536_000)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", " ", "5 minutes", "1m1h", "-5m", "1.5h"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(Invalid, match="not a valid duration"):
        parse_duration(text)


def test_parse_time_is_utc_without_offset() -> None:
    assert parse_time("2027-01-15T08:00") == datetime(2027, 1, 15, 8, tzinfo=UTC)
    assert parse_time("2027-01-15T09:00:00+01:00").timestamp() == NOW
    with pytest.raises(Invalid, match="not an ISO 8601 time"):
        parse_time("yesterday")


def test_since_counts_back_and_when_ahead() -> None:
    assert parse_since("30d", NOW) == NOW - 30 * 86_400
    assert parse_when("30d", NOW) == NOW + 30 * 86_400
    assert parse_since("+1h", NOW) == NOW + 3600
    with pytest.raises(Invalid, match="century"):
        parse_when("200y", NOW)


# A well-formed time that no UTC date holds, or (given a now) more than a century from it, is
# OutOfRange (an Invalid: a 4xx), never an OverflowError (issue 17, item 25).
OUT_OF_RANGE: list[tuple[str, float | None, str]] = [
    ("9999-12-31T20:00:00-14:00", None, "years 1 to 9999"),
    ("9999-12-31T23:59:59-00:01", None, "years 1 to 9999"),
    ("0001-01-01T00:00:00+00:01", None, "years 1 to 9999"),
    ("0001-01-01T09:00:00+14:00", None, "years 1 to 9999"),
    ("9999-12-31T20:00:00-14:00", NOW, "years 1 to 9999"),
    ("9999-01-01T00:00:00Z", NOW, "century"),
    ("1000-01-01T00:00:00Z", NOW, "century"),
    ("1800-01-01T00:00:00Z", NOW, "century"),
    ("2127-06-01T00:00:00Z", NOW, "century"),
]


@pytest.mark.parametrize(("text", "around", "says"), OUT_OF_RANGE)
def test_parse_time_refuses_times_out_of_range(text: str, around: float | None, says: str) -> None:
    with pytest.raises(OutOfRange, match=says):
        parse_time(text, around=around)


IN_RANGE: list[tuple[str, float | None, float]] = [
    ("9999-12-31T23:59:59Z", None, 253_402_300_799.0),
    ("9999-12-31T23:59:59+14:00", None, 253_402_250_399.0),
    ("0001-01-01T00:00:00Z", None, -62_135_596_800.0),
    ("0001-01-01T00:00:00-14:00", None, -62_135_546_400.0),
    ("1927-01-16T08:00:00Z", NOW, -1_355_673_600.0),
    ("2127-01-14T08:00:00Z", NOW, 4_955_587_200.0),
]


@pytest.mark.parametrize(("text", "around", "seconds"), IN_RANGE)
def test_parse_time_takes_the_ends_of_its_range(
    text: str, around: float | None, seconds: float
) -> None:
    assert parse_time(text, around=around).timestamp() == seconds


@pytest.mark.parametrize(
    "text", ["9999-12-31T20:00:00-14:00", "0001-01-01T00:00:00+00:01", "1800-01-01T00:00:00Z"]
)
def test_parse_when_refuses_a_time_out_of_range(text: str) -> None:
    with pytest.raises(Invalid, match="century"):
        parse_when(text, NOW)


# --- times people read (issue 17, item 9) ---------------------------------------------------

TIMES: list[tuple[float | datetime, str | None, str]] = [
    (1_796_455_504.372, None, "2026-12-05 07:25:04 UTC"),  # no microseconds
    (datetime(2026, 12, 5, 7, 25, 4, 372000), "UTC", "2026-12-05 07:25:04 UTC"),  # naive: UTC
    (NOW, "Europe/Berlin", "2027-01-15 09:00:00 CET"),
    (NOW + 180 * 86_400, "Europe/Berlin", "2027-07-14 10:00:00 CEST"),
    (NOW, "America/New_York", "2027-01-15 03:00:00 EST"),
    (NOW, "Europe/Istanbul", "2027-01-15 11:00:00 +03:00"),  # no abbreviation: the offset
    (NOW, "Asia/Kathmandu", "2027-01-15 13:45:00 +05:45"),
    (NOW, ":Europe/Paris", "2027-01-15 09:00:00 CET"),  # TZ's leading colon
    (NOW, "Not/AZone", "2027-01-15 08:00:00 UTC"),
    (NOW, "", "2027-01-15 08:00:00 UTC"),
]


@pytest.mark.parametrize(("at", "zone", "text"), TIMES)
def test_format_time(at: float | datetime, zone: str | None, text: str) -> None:
    assert format_time(at, zone) == text


def test_format_time_of_nothing_and_zone_objects() -> None:
    assert format_time(None) == "-"
    assert format_time(NOW, zone_of("Europe/Berlin")) == "2027-01-15 09:00:00 CET"
    assert zone_of(None) is UTC and zone_of("GMT") is UTC
