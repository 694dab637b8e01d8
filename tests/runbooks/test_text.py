from datetime import date
from functools import partial

import pytest

from tocsin import times
from tocsin.runbooks.text import (
    camel_join,
    is_camel_identifier,
    is_severity_word,
    normalize_severity,
    parse_date,
    parse_duration,
    parse_range_start,
    parse_review_cycle,
    slugify,
)

format_duration = partial(times.format_duration, style="prometheus")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CRITICAL", "critical"),
        ("Critical", "critical"),
        ("P1 - Critical", "critical"),
        ("P2 - High", "high"),
        ("P3 - Medium", "warning"),
        ("P4 - Low", "info"),
        ("Medium", "warning"),
        ("Low", "info"),
        ("Info", "info"),
        ("WARNING", "warning"),
        ("Warning (can escalate to Critical)", "warning"),
        ("Warning (escalates to Critical if repeated)", "warning"),
        ("Sev-1", "critical"),
        ("SEV2", "high"),
        ("p3", "warning"),
        ("page", "critical"),
        ("ticket", "warning"),
        ("1", "critical"),
        ("Severity 3", "warning"),
        ("Priority 2", "high"),
        ("", None),
        (None, None),
        ("whenever", None),
    ],
)
def test_normalize_severity(raw: str | None, expected: str | None) -> None:
    assert normalize_severity(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Critical", True),
        ("P1 - Critical", True),
        ("Warning", True),
        ("Severity: High", True),
        ("HighCPUUsage", False),
        ("Critical Alerts", False),
        ("", False),
    ],
)
def test_is_severity_word(text: str, expected: bool) -> None:
    assert is_severity_word(text) is expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5 minutes", 300),
        ("30 minutes", 1800),
        ("15 min", 900),
        ("2 hours", 7200),
        ("24 hours", 86400),
        ("Immediate (within 15 minutes)", 900),
        ("Within 1 hour", 3600),
        ("10+ minutes", 600),
        ("1h30m", 5400),
        ("5m", 300),
        ("30 seconds", 30),
        ("Best effort", None),
        ("Next business day", None),
        ("Immediately", 0),
        ("", None),
    ],
)
def test_parse_duration(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0-5 min", 0),
        ("5-15 min", 300),
        ("60+ min", 3600),
        ("1 hour", 3600),
        ("0 min", 0),
        ("15-30 minutes", 900),
        ("2 hours", 7200),
        ("Level 2 (30-60 minutes)", 1800),
    ],
)
def test_parse_range_start(text: str, seconds: int) -> None:
    assert parse_range_start(text) == seconds


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 59, 120, 5400, 90061)] == [
        "0s",
        "59s",
        "2m",
        "1h30m",
        "1d1h1m1s",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("November 5, 2025", date(2025, 11, 5)),
        ("2025-01-31", date(2025, 1, 31)),
        ("January 2026", date(2026, 1, 31)),
        ("5 Nov 2025", date(2025, 11, 5)),
        ("someday", None),
        ("2025-02-30", None),
    ],
)
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Quarterly or after major incidents", 92),
        ("Monthly", 31),
        ("every 6 months", 186),
        ("90 days", 90),
        ("Weekly", 7),
        ("when we remember", None),
    ],
)
def test_parse_review_cycle(text: str, days: int | None) -> None:
    assert parse_review_cycle(text) == days


@pytest.mark.parametrize(
    ("name", "camel"),
    [
        ("HighCPUUsage", True),
        ("APIUnresponsive", True),
        ("etcdNoLeader", True),
        ("node_down", True),
        ("Watchdog", False),
        ("Impact", False),
        ("Docker Commands", False),
    ],
)
def test_is_camel_identifier(name: str, camel: bool) -> None:
    assert is_camel_identifier(name) is camel


def test_camel_join_and_slugify() -> None:
    assert camel_join("CPU Throttling High") == "CPUThrottlingHigh"
    assert slugify("1. APIUnresponsive") == "1-apiunresponsive"
    assert slugify("Backup & DR Alerts") == "backup--dr-alerts"
    assert slugify("PostgreSQL Connection Exhausted") == "postgresql-connection-exhausted"
