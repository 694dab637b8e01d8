"""The one clock: real in production, virtual in tests and ``tocsin simulate``, so an hour of
escalation is tested in milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from tocsin.errors import Unavailable


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


class Budget:
    """The time a piece of work may take, on a monotonic timer (not the clock of the world:
    a read's budget is wall time spent, whatever the virtual clock says). ``check`` raises
    ``Unavailable`` once it is spent (its message: ``what``, the budget, then ``hint``); long
    loops call it now and then."""

    def __init__(
        self,
        seconds: float,
        what: str,
        hint: str = "",
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.what = what
        self.hint = hint
        self._timer = timer
        self._deadline = timer() + seconds

    def spent(self) -> bool:
        return self._timer() >= self._deadline

    def left(self) -> float:
        """Seconds left (0 once spent)."""
        return max(0.0, self._deadline - self._timer())

    def check(self) -> None:
        if self.spent():
            message = f"{self.what} was cut short after its budget of {self.seconds:g} s"
            raise Unavailable(message + (f": {self.hint}" if self.hint else ""))
