"""The one rate limit: a token bucket refilled continuously (pure; the caller keeps the state
and passes the time)."""

from __future__ import annotations


def take(tokens: float, last: float, per_minute: float, now: float) -> tuple[float, float]:
    """Refill a bucket holding ``tokens`` at ``last`` up to ``now`` and take one token.
    Returns (tokens left, seconds to wait): a wait of 0 means the token was taken; otherwise
    nothing was taken and the bucket holds the refilled amount."""
    tokens = min(per_minute, tokens + (now - last) * per_minute / 60.0)
    if tokens >= 1:
        return tokens - 1, 0.0
    return tokens, (1 - tokens) * 60.0 / per_minute
