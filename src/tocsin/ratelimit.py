"""The one rate limit: a token bucket refilled continuously (pure; the caller keeps the state
and passes the time)."""

from __future__ import annotations


def take(
    tokens: float, last: float, per_minute: float, now: float, burst: float | None = None
) -> tuple[float, float]:
    """Refill a bucket holding ``tokens`` at ``last`` up to ``now`` and take one token.
    The bucket holds at most ``burst`` tokens (default: a minute's worth). Returns (tokens
    left, seconds to wait): a wait of 0 means the token was taken; otherwise nothing was
    taken and the bucket holds the refilled amount."""
    tokens = refill(tokens, last, per_minute, now, burst)
    if tokens >= 1:
        return tokens - 1, 0.0
    return tokens, (1 - tokens) * 60.0 / per_minute


def refill(
    tokens: float, last: float, per_minute: float, now: float, burst: float | None = None
) -> float:
    """What a bucket holding ``tokens`` at ``last`` holds at ``now`` (at most ``burst``)."""
    cap = per_minute if burst is None else burst
    return min(cap, tokens + max(0.0, now - last) * per_minute / 60.0)
