"""Escalation policies and the escalation state machine (pure).

A policy is an ordered list of steps. Escalation fires the first step when it starts; each
fired step then waits its ``delay`` for an acknowledgement before the next step fires. After
the last step the whole policy runs again ``repeat`` more times (the last step's delay is the
pause before the next round), then escalation is exhausted. A step with matchers fires only
for incidents whose labels match them; the others are skipped without waiting.

The policy in force is snapshotted (``to_json``) when escalation starts, so editing the
configuration never changes an escalation already running. Acknowledging or resolving stops
escalation (the caller drops the due step); "escalate now" fires the next step at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any, Literal

from tocsin.alerts.matchers import Matcher, parse_matcher
from tocsin.errors import Invalid

TargetKind = Literal["user", "schedule", "team", "channel"]
TARGET_KINDS: tuple[TargetKind, ...] = ("user", "schedule", "team", "channel")


class PolicyError(Invalid):
    pass


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    name: str

    @staticmethod
    def parse(text: str) -> Target:
        """``schedule:primary``, ``user:alice``, ``team:platform``, ``channel:slack-ops``."""
        kind, sep, name = text.partition(":")
        kind = kind.strip().lower()
        if not sep or not name.strip() or kind not in TARGET_KINDS:
            raise PolicyError(
                f"target {text!r} must be KIND:NAME with KIND one of {', '.join(TARGET_KINDS)}"
            )
        return Target(kind, name.strip())

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Step:
    targets: tuple[Target, ...]
    delay_s: float  # how long to wait for an acknowledgement before the next step
    matchers: tuple[Matcher, ...] = ()

    def applies(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels.get(m.name, "")) for m in self.matchers)


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0  # extra rounds after the first
    ack_timeout_s: float | None = None  # an acknowledgement lapses after this; escalation restarts

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "repeat": self.repeat,
            "ack_timeout_s": self.ack_timeout_s,
            "steps": [
                {
                    "targets": [str(t) for t in s.targets],
                    "delay_s": s.delay_s,
                    "matchers": [str(m) for m in s.matchers],
                }
                for s in self.steps
            ],
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Policy:
        return Policy(
            name=str(data["name"]),
            repeat=int(data.get("repeat", 0)),
            ack_timeout_s=data.get("ack_timeout_s"),
            steps=tuple(
                Step(
                    targets=tuple(Target.parse(t) for t in s["targets"]),
                    delay_s=float(s["delay_s"]),
                    matchers=tuple(parse_matcher(m) for m in s.get("matchers", [])),
                )
                for s in data["steps"]
            ),
        )


@dataclass(frozen=True)
class State:
    """Where an escalation is: the last step fired (-1 before the first) in which round, and
    when the next step is due (None when exhausted)."""

    step: int = -1
    round: int = 0
    next_at: float | None = None
    exhausted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "round": self.round,
            "next_at": self.next_at,
            "exhausted": self.exhausted,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> State:
        return State(
            int(data.get("step", -1)),
            int(data.get("round", 0)),
            data.get("next_at"),
            bool(data.get("exhausted", False)),
        )


@dataclass(frozen=True)
class Page:
    """A step that fires: page its targets."""

    step: int
    round: int
    targets: tuple[Target, ...]


def _next_index(policy: Policy, state: State, labels: Mapping[str, str]) -> tuple[int, int] | None:
    """The (step, round) that fires after ``state``, skipping steps that do not apply."""
    step, rnd = state.step, state.round
    for _ in range((policy.repeat + 1) * max(1, len(policy.steps)) + 1):
        step += 1
        if step >= len(policy.steps):
            step, rnd = 0, rnd + 1
            if rnd > policy.repeat:
                return None
        if policy.steps[step].applies(labels):
            return step, rnd
    return None


def advance(
    policy: Policy, state: State, labels: Mapping[str, str], now: float
) -> tuple[State, Page | None]:
    """Fire the next step that applies (the first one when escalation starts). Returns the
    new state and the page to send, or an exhausted state and None."""
    if state.exhausted:
        return state, None
    found = _next_index(policy, state, labels)
    if found is None:
        return replace(state, next_at=None, exhausted=True), None
    step, rnd = found
    fired = policy.steps[step]
    return State(step, rnd, now + fired.delay_s), Page(step, rnd, fired.targets)


def start(policy: Policy, labels: Mapping[str, str], now: float) -> tuple[State, Page | None]:
    return advance(policy, State(), labels, now)


def from_tiers(
    name: str,
    tiers: Sequence[tuple[int | None, str]],
    roles: Mapping[str, str],
    *,
    last_delay_s: float = 1800.0,
    repeat: int = 0,
    ack_timeout_s: float | None = None,
) -> Policy:
    """A policy from a runbook's escalation matrix: tiers of (minutes after start in seconds,
    role), each role mapped to targets (``"Senior engineer": "schedule:secondary"``; several
    targets separated by commas). A step's delay is the gap to the next tier; the last tier
    waits ``last_delay_s``. Every role must be mapped: an unmapped role is an error naming
    the roles, never a step that pages nobody."""
    if not tiers:
        raise PolicyError(f"policy {name!r}: the runbook has no escalation matrix")
    lookup = {k.strip().lower(): v for k, v in roles.items()}
    missing = [role for _after, role in tiers if role.strip().lower() not in lookup]
    if missing:
        raise PolicyError(
            f"policy {name!r}: no target for the runbook's role(s) "
            + ", ".join(repr(r) for r in missing)
            + "; map each under from_runbook.roles"
        )
    starts = [after or 0 for after, _role in tiers]
    for a, b in pairwise(starts):
        if b < a:
            raise PolicyError(f"policy {name!r}: the runbook's escalation times go backwards")
    steps = []
    for i, (_after, role) in enumerate(tiers):
        delay = starts[i + 1] - starts[i] if i + 1 < len(starts) else last_delay_s
        targets = tuple(
            Target.parse(t) for t in lookup[role.strip().lower()].split(",") if t.strip()
        )
        steps.append(Step(targets=targets, delay_s=float(delay)))
    # tiers that start together fire together: a zero delay moves on at once
    return Policy(name=name, steps=tuple(steps), repeat=repeat, ack_timeout_s=ack_timeout_s)
