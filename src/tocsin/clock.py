"""The one clock: real in production, virtual in tests and ``tocsin simulate``, so an hour of
escalation is tested in milliseconds."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """UTC seconds since the epoch."""
        ...


class RealClock:
    def now(self) -> float:
        return time.time()


class VirtualClock:
    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a virtual clock only moves forward")
        self._now += seconds

    def set(self, at: float) -> None:
        if at < self._now:
            raise ValueError("a virtual clock only moves forward")
        self._now = at
