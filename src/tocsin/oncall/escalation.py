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
from dataclasses import dataclass, field, replace
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
    # what a reader of the configuration should know (a runbook's path left unused); not stored
    notes: tuple[str, ...] = field(default=(), compare=False)
    # alerts escalated by a path of their own (a runbook's), by the value of ``variant_label``
    variants: Mapping[str, Policy] = field(default_factory=dict, compare=False)
    variant_label: str = "alertname"

    def for_labels(self, labels: Mapping[str, str]) -> Policy:
        """The policy an incident with these (common) labels escalates by: its alert's own,
        if it has one, else this one."""
        return self.variants.get(labels.get(self.variant_label, ""), self)

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


# The message kind of a step's page. The step that starts an escalation is the first page a
# person gets for the incident, and reads as one ("[FIRING:1] ..."), as the channels' first
# message does; a step after it (the next step, the next round, "escalate now") says that the
# incident escalated ("[ESCALATED step 2] ...").
FIRST_PAGE = "firing"
ESCALATED = "escalation"
PAGE_KINDS = frozenset({FIRST_PAGE, ESCALATED})


@dataclass(frozen=True)
class Page:
    """A step that fires: page its targets. ``first``: the first step fired since the
    escalation (re)started."""

    step: int
    round: int
    targets: tuple[Target, ...]
    first: bool = False

    @property
    def kind(self) -> str:
        """The message kind of this page (``FIRST_PAGE`` or ``ESCALATED``)."""
        return FIRST_PAGE if self.first else ESCALATED


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
    first = state.step == -1  # nothing fired yet: this step starts the escalation
    return State(step, rnd, now + fired.delay_s), Page(step, rnd, fired.targets, first)


def progress(snapshot: Mapping[str, Any], status: str) -> dict[str, Any]:
    """Where an incident's escalation stands, for a person (the console's header): its
    policy; the step fired last (1-based, of how many) in which round, and its targets;
    then the next step that applies, its targets and when it is due, or why there is none
    (acknowledged or resolved: escalation stops; or the policy is exhausted). ``snapshot``
    is the incident's stored escalation (policy, labels, state)."""
    policy = Policy.from_json(snapshot["policy"])
    state = State.from_json(snapshot.get("state", {}))
    labels = snapshot.get("labels", {})
    fired = policy.steps[state.step] if 0 <= state.step < len(policy.steps) else None
    out: dict[str, Any] = {
        "policy": policy.name,
        "steps": len(policy.steps),
        "step": state.step + 1 if fired else None,
        "round": state.round + 1,
        "targets": [str(t) for t in fired.targets] if fired else [],
        "next": None,
        "stopped": None,
    }
    if status in ("acknowledged", "resolved"):
        out["stopped"] = status
        return out
    if state.exhausted or state.next_at is None:
        out["stopped"] = "exhausted"
        return out
    found = _next_index(policy, state, labels if isinstance(labels, Mapping) else {})
    if found is None:
        out["stopped"] = "exhausted"
        return out
    step, rnd = found
    out["next"] = {
        "step": step + 1,
        "round": rnd + 1,
        "targets": [str(t) for t in policy.steps[step].targets],
        "at": state.next_at,
    }
    return out


def start(policy: Policy, labels: Mapping[str, str], now: float) -> tuple[State, Page | None]:
    return advance(policy, State(), labels, now)


Tiers = Sequence[tuple[int | None, str]]  # (seconds after the start, role)
NO_TARGET = "none"  # a role mapped to this pages nobody (an action such as "Initiate DR")


def from_tiers(
    name: str,
    tiers: Tiers,
    roles: Mapping[str, str],
    *,
    last_delay_s: float = 1800.0,
    repeat: int = 0,
    ack_timeout_s: float | None = None,
    alerts: Mapping[str, Tiers] | None = None,
    alert_label: str = "alertname",
) -> Policy:
    """A policy from a runbook's escalation matrix: tiers of (minutes after start in seconds,
    role), each role mapped to targets (``"Senior engineer": "schedule:secondary"``; several
    targets separated by commas; ``none`` for a tier that pages nobody, whose time goes to the
    tier before). A step's delay is the gap to the next tier; the last tier waits
    ``last_delay_s``. Every role must be mapped: an unmapped role is an error naming the
    roles, never a step that pages nobody.

    ``alerts``: the runbook's alerts that have an escalation path of their own, by name. An
    alert whose roles are all mapped escalates by its own path (a variant of the policy,
    chosen by ``for_labels`` where ``alert_label`` is its name), preceded by the matrix's
    tiers before the path's first time; every other alert, and a group of several, by the
    matrix. One with a role unmapped keeps the matrix, and the policy's ``notes`` say so and
    what to map."""
    if not tiers:
        raise PolicyError(f"policy {name!r}: the runbook has no escalation matrix")
    lookup = {k.strip().lower(): v for k, v in roles.items()}
    missing = _unmapped(tiers, lookup)
    if missing:
        raise PolicyError(
            f"policy {name!r}: no target for the runbook's role(s) "
            + ", ".join(repr(r) for r in missing)
            + "; map each under from_runbook.roles"
        )
    steps = _steps(name, tiers, lookup, last_delay_s)
    variants: dict[str, Policy] = {}
    notes: list[str] = []
    for alert, path in (alerts or {}).items():
        if not path:
            continue
        unmapped = _unmapped(path, lookup)
        if unmapped:
            notes.append(
                f"policy {name!r}: {alert}'s own escalation path in the runbook ("
                + ", ".join(f"{(after or 0) // 60} min {role}" for after, role in path)
                + ") is not used, the matrix is: no target for "
                + ", ".join(repr(r) for r in unmapped)
                + f"; map them under from_runbook.roles ({NO_TARGET!r} for a tier that"
                " pages nobody) to use it"
            )
            continue
        # a path that starts later ("after 10 min: the lead") follows the matrix until then
        begins = path[0][0] or 0
        whole = [tier for tier in tiers if (tier[0] or 0) < begins] + list(path)
        variants[alert] = Policy(
            name=name,
            steps=tuple(_steps(name, whole, lookup, last_delay_s)),
            repeat=repeat,
            ack_timeout_s=ack_timeout_s,
        )
    return Policy(
        name=name,
        steps=tuple(steps),
        repeat=repeat,
        ack_timeout_s=ack_timeout_s,
        notes=tuple(notes),
        variants=variants,
        variant_label=alert_label,
    )


def _unmapped(tiers: Tiers, lookup: Mapping[str, str]) -> list[str]:
    return [role for _after, role in tiers if role.strip().lower() not in lookup]


def _steps(name: str, tiers: Tiers, lookup: Mapping[str, str], last_delay_s: float) -> list[Step]:
    """The steps of mapped tiers; a tier mapped to ``none`` is left out, its time given to
    the step before (a first tier left out fires nothing: the next one fires at the start)."""
    starts = [after or 0 for after, _role in tiers]
    for a, b in pairwise(starts):
        if b < a:
            raise PolicyError(f"policy {name!r}: the runbook's escalation times go backwards")
    kept = [
        (start, lookup[role.strip().lower()])
        for start, (_after, role) in zip(starts, tiers, strict=True)
        if lookup[role.strip().lower()].strip().lower() != NO_TARGET
    ]
    if not kept:
        raise PolicyError(f"policy {name!r}: every role of the path is mapped to {NO_TARGET!r}")
    steps = []
    for i, (start, targets) in enumerate(kept):
        delay = kept[i + 1][0] - start if i + 1 < len(kept) else last_delay_s
        parsed = tuple(Target.parse(t) for t in targets.split(",") if t.strip())
        steps.append(Step(targets=parsed, delay_s=float(delay)))
    # tiers that start together fire together: a zero delay moves on at once
    return steps
