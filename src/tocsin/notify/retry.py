"""The one retry policy: after a delivery attempt, deliver again later, or give up.

Every channel reports an attempt as an ``Outcome``; the outbox asks ``next_step`` what to do
with it: ``"done"``, a delay in seconds before the next attempt, or ``"dead"`` (dead-letter it
onto the timeline and hand it to the fallback channel). Pure: the caller passes the attempt
number and the random draw, so every case is a line in a table test.

Which failures are worth retrying:

- no answer at all (timeout, refused or reset connection: ``status`` None): yes;
- HTTP 408, 429 and every 5xx: yes; any other 4xx (and 3xx, and a 2xx the channel refused to
  call a success): no, the same request will fail the same way;
- SMTP replies: 4yz is a *transient* negative reply by RFC 5321 (421 service not available,
  450/451/452 mailbox busy, local error, insufficient storage, 454 TLS unavailable), 5yz a
  permanent one. SMTP and HTTP reuse the same numbers with other meanings (HTTP 421 is
  "misdirected request", 451 "unavailable for legal reasons"), so the code alone cannot say
  which protocol spoke: the email channel sets ``Outcome.transient`` (see ``smtp_outcome``),
  and when ``transient`` is set it decides, whatever the status.

Backoff is exponential, ``initial * 2**(attempt-1)`` capped at ``max``, then jittered to
``[delay/2, delay)`` so that retries of many messages after an outage do not arrive in step.
A ``Retry-After`` from the receiver (Slack and PagerDuty send it with 429, servers with 503)
is honoured: the delay is at least that long, but never more than an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Literal, Protocol

from tocsin.times import parse_duration

MAX_RETRY_AFTER_S = 3600.0
_RETRYABLE_HTTP = frozenset({408, 429})


@dataclass(frozen=True)
class Outcome:
    """The result of one delivery attempt."""

    ok: bool
    status: int | None = None  # HTTP status or SMTP reply code; None: no answer
    retry_after_s: float | None = None  # what the receiver asked us to wait
    error: str = ""
    transient: bool | None = None  # set by the channel when it knows better than the status
    # the receiver's id for what it accepted (a Twilio message or call SID): the deliverer
    # keeps it where replies and status callbacks look for it (engine/deliver.py)
    ref: str | None = None


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    initial_s: float
    max_s: float


class RetrySettings(Protocol):
    """A channel's ``retry`` settings as ``policy_from`` reads them (the configuration's
    channel models fit; notify does not import the configuration)."""

    max_attempts: int
    initial_backoff: str  # Prometheus durations
    max_backoff: str
    timeout: str  # per attempt (the channel's own bound)


def policy_from(cfg: RetrySettings) -> Policy:
    return Policy(
        max_attempts=cfg.max_attempts,
        initial_s=parse_duration(cfg.initial_backoff),
        max_s=parse_duration(cfg.max_backoff),
    )


def retryable(outcome: Outcome) -> bool:
    """Whether the same message, sent again later, may succeed."""
    if outcome.transient is not None:
        return outcome.transient
    status = outcome.status
    if status is None:
        return True
    return status in _RETRYABLE_HTTP or 500 <= status <= 599


def backoff(policy: Policy, attempt: int, rand: float) -> float:
    """Delay after failed attempt number ``attempt`` (1-based), jittered by ``rand`` in [0, 1)."""
    # 2**62 s is beyond any cap; bounding the exponent keeps the float finite.
    delay = min(policy.max_s, policy.initial_s * 2.0 ** min(attempt - 1, 62))
    rand = min(max(rand, 0.0), 1.0)
    return delay * (0.5 + rand / 2)


def next_step(
    policy: Policy, attempt: int, outcome: Outcome, rand: float
) -> Literal["done", "dead"] | float:
    """What to do after attempt number ``attempt`` (1-based) ended with ``outcome``."""
    if attempt < 1:
        raise ValueError(f"attempts are numbered from 1, got {attempt}")
    if outcome.ok:
        return "done"
    if not retryable(outcome) or attempt >= policy.max_attempts:
        return "dead"
    delay = backoff(policy, attempt, rand)
    if outcome.retry_after_s is not None and outcome.retry_after_s > 0:
        delay = max(delay, min(outcome.retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def smtp_outcome(code: int, error: str) -> Outcome:
    """A failed SMTP reply: 4yz transient, 5yz (and anything else) permanent."""
    return Outcome(ok=False, status=code, error=error, transient=400 <= code <= 499)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """HTTP ``Retry-After`` in seconds from ``now``: delay-seconds or an HTTP date. None when
    absent or unreadable (the backoff applies then)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
