"""The one retry policy, as a table."""

from __future__ import annotations

from typing import Literal

import pytest

from tocsin.config import RetryConfig
from tocsin.notify.retry import (
    Outcome,
    Policy,
    next_step,
    parse_retry_after,
    policy_from,
    smtp_outcome,
)

P = Policy(max_attempts=5, initial_s=1.0, max_s=60.0)

Step = Literal["done", "dead"] | float
CASES: list[tuple[str, int, Outcome, float, Step]] = [
    # name, attempt, outcome, rand, expected
    ("ok", 1, Outcome(ok=True, status=200), 0.5, "done"),
    ("ok even on the last attempt", 5, Outcome(ok=True, status=202), 0.5, "done"),
    ("timeout: retry, rand 0 halves the delay", 1, Outcome(ok=False, error="timeout"), 0.0, 0.5),
    ("connection refused", 2, Outcome(ok=False, error="refused"), 0.0, 1.0),
    ("500", 3, Outcome(ok=False, status=500), 0.0, 2.0),
    ("502 full jitter top", 3, Outcome(ok=False, status=502), 0.999999, 3.999998),
    ("503", 1, Outcome(ok=False, status=503), 0.5, 0.75),
    ("408", 1, Outcome(ok=False, status=408), 0.0, 0.5),
    ("429", 1, Outcome(ok=False, status=429), 0.0, 0.5),
    ("400 is permanent", 1, Outcome(ok=False, status=400), 0.0, "dead"),
    ("401 is permanent", 1, Outcome(ok=False, status=401), 0.0, "dead"),
    ("404 is permanent", 1, Outcome(ok=False, status=404), 0.0, "dead"),
    ("410 is permanent", 1, Outcome(ok=False, status=410), 0.0, "dead"),
    ("a 3xx is not followed: permanent", 1, Outcome(ok=False, status=301), 0.0, "dead"),
    ("HTTP 421 is permanent", 1, Outcome(ok=False, status=421), 0.0, "dead"),
    ("SMTP 421 is transient", 1, smtp_outcome(421, "closing"), 0.0, 0.5),
    ("SMTP 450", 1, smtp_outcome(450, "busy"), 0.0, 0.5),
    ("SMTP 451", 1, smtp_outcome(451, "local error"), 0.0, 0.5),
    ("SMTP 452", 1, smtp_outcome(452, "storage"), 0.0, 0.5),
    ("SMTP 550 is permanent", 1, smtp_outcome(550, "no such user"), 0.0, "dead"),
    ("SMTP 535 auth is permanent", 1, smtp_outcome(535, "auth"), 0.0, "dead"),
    ("transient hint wins over a 5xx", 1, Outcome(False, 500, transient=False), 0.0, "dead"),
    ("last attempt: dead", 5, Outcome(ok=False, status=500), 0.0, "dead"),
    ("beyond the last attempt: dead", 9, Outcome(ok=False), 0.0, "dead"),
    ("capped at max", 20, Outcome(ok=False), 0.0, "dead"),
    ("retry-after honoured", 1, Outcome(False, 429, retry_after_s=30.0), 0.0, 30.0),
    ("retry-after above max_s", 1, Outcome(False, 503, retry_after_s=600.0), 0.0, 600.0),
    ("retry-after capped at 1 h", 1, Outcome(False, 429, retry_after_s=86400.0), 0.0, 3600.0),
    ("retry-after shorter: backoff", 4, Outcome(False, 429, retry_after_s=1.0), 0.0, 4.0),
    ("retry-after on a 400: dead", 1, Outcome(False, 400, retry_after_s=5.0), 0.0, "dead"),
]


@pytest.mark.parametrize(
    ("attempt", "outcome", "rand", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_next_step(attempt: int, outcome: Outcome, rand: float, expected: Step) -> None:
    got = next_step(P, attempt, outcome, rand)
    if isinstance(expected, str):
        assert got == expected
    else:
        assert got == pytest.approx(expected)


def test_backoff_is_capped_and_jittered_within_half_to_full() -> None:
    policy = Policy(max_attempts=100, initial_s=1.0, max_s=300.0)
    for attempt in (1, 5, 9, 10, 50, 99):
        full = min(300.0, 2.0 ** (attempt - 1))
        for rand in (0.0, 0.25, 0.5, 0.999):
            step = next_step(policy, attempt, Outcome(ok=False), rand)
            assert isinstance(step, float)
            assert full / 2 <= step < full or step == pytest.approx(full / 2)


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError):
        next_step(P, 0, Outcome(ok=False), 0.0)


def test_policy_from_config() -> None:
    cfg = RetryConfig(max_attempts=3, initial_backoff="500ms", max_backoff="2m", timeout="5s")
    assert policy_from(cfg) == Policy(max_attempts=3, initial_s=0.5, max_s=120.0)
    assert policy_from(RetryConfig()) == Policy(max_attempts=8, initial_s=1.0, max_s=300.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("30", 30.0),
        (" 0 ", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = 1445412420.0  # 2015-10-21T07:27:00Z
    assert parse_retry_after(value, now) == expected
