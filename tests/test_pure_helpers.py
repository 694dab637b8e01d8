"""The token bucket and the incident description rules (pure)."""

from __future__ import annotations

from tocsin.alerts.model import Alert
from tocsin.incidents.describe import common, incident_title
from tocsin.ratelimit import take


def test_token_bucket_takes_refills_and_says_how_long_to_wait() -> None:
    tokens, wait = take(1.0, 0.0, 60.0, 0.0)
    assert (tokens, wait) == (0.0, 0.0)
    tokens, wait = take(tokens, 0.0, 60.0, 0.5)  # half a token refilled: wait half a second
    assert (tokens, wait) == (0.5, 0.5)
    assert take(tokens, 0.5, 60.0, 1.0) == (0.0, 0.0)
    assert take(0.0, 0.0, 60.0, 3600.0) == (59.0, 0.0)  # never more than the rate


def test_common_pairs_and_titles() -> None:
    assert common([{"a": "1", "b": "2"}, {"a": "1", "b": "3"}]) == {"a": "1"}
    assert common([]) == {}
    disk = Alert(labels={"alertname": "Disk", "host": "a"})
    cpu = Alert(labels={"alertname": "Cpu", "host": "a"})
    assert incident_title({"alertname": "Disk", "host": "a"}, [disk]) == "Disk host=a"
    assert incident_title({"host": "a"}, [disk]) == "Disk host=a"
    assert incident_title({"host": "a"}, [disk, cpu]) == "2 alerts host=a"


def test_times_as_people_type_them() -> None:
    import pytest

    from tocsin.times import parse_when

    now = 1_800_000_000.0
    assert parse_when("now", now) == now
    assert parse_when("7d", now) == now + 7 * 86_400
    assert parse_when("30d", now, default_sign=-1) == now - 30 * 86_400
    assert parse_when("+2h", now, default_sign=-1) == now + 7200
    assert parse_when("-30m", now) == now - 1800
    assert parse_when("2027-01-15T08:00:00Z", now) == 1_800_000_000.0
    assert parse_when("2027-01-15T09:00:00+01:00", now) == 1_800_000_000.0
    assert parse_when("2027-01-15T08:00", now) == 1_800_000_000.0  # UTC without an offset
    for bad in ("P30D", "yesterday", "", "999999999d", "9" * 400 + "d", "\x00"):
        with pytest.raises(ValueError):
            parse_when(bad, now)
