"""The channels of a simulation: each configured channel replaced by one that records what a
human would receive and answers as the scenario says.

Where delivery ends in a simulation. The engine's deliverer sends through these exactly as it
sends through the real ones (``notify/``), so retries, dead letters and fallback channels run
as in production; nothing leaves the process. A channel's failures count its attempts,
whichever message they carry. The runner (``run.py``) makes them and keeps what they record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tocsin.clock import VirtualClock
from tocsin.notify.message import Message
from tocsin.notify.retry import Outcome
from tocsin.simulate.scenario import ChannelFailure


class Switchboard(Protocol):
    """What the simulated channels share: the clock, each channel's attempts so far, and the
    record of every attempt (the runner)."""

    clock: VirtualClock
    attempts: dict[str, int]

    def record(self, sent: Sent) -> None: ...


@dataclass(frozen=True)
class Sent:
    """One delivery attempt that reached a simulated channel: what a human would receive."""

    at: float
    channel: str
    ok: bool
    status: int | None
    message: Message


class SimulatedChannel:
    """Stands in for a configured channel: records each attempt, answers as the scenario
    says (``ChannelFailure``), and succeeds otherwise."""

    def __init__(
        self, name: str, kind: str, runner: Switchboard, failure: ChannelFailure | None
    ) -> None:
        self.name = name
        self.kind = kind
        self._runner = runner
        self._failure = failure

    async def send(self, message: Message) -> Outcome:
        runner = self._runner
        attempt = runner.attempts[self.name] = runner.attempts.get(self.name, 0) + 1
        f = self._failure
        if f is None or (f.fail != "always" and attempt > int(f.fail)):
            runner.record(Sent(runner.clock.now(), self.name, True, 200, message))
            return Outcome(ok=True, status=200)
        runner.record(Sent(runner.clock.now(), self.name, False, f.status, message))
        error = f.error or (
            f"simulated failure (status {f.status})" if f.status else "simulated: no answer"
        )
        return Outcome(ok=False, status=f.status, error=error, retry_after_s=f.retry_after)
