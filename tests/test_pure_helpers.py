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
