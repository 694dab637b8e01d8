"""Alert storms (pure): when a route opens more than ``incidents`` incidents within
``window``, the rest are held in one digest instead of paging one by one.

The engine (``engine/storm.py``) reads how many incidents the route triggered in the window
and the route's storm (if one is running), asks ``decide`` what to do with an incident that
triggers now, and writes the answer. An incident over the threshold is still opened, recorded
and triggered; what changes is who hears of it:

- ``page``: the route is calm; the incident pages as always.
- ``lead``: the first incident over the threshold starts a storm and carries it: its
  escalation runs as always, but its messages are the digest (``digest``).
- ``hold``: a later one joins the running storm: no page of its own; the digest is updated
  (at most once per ``update_every``, ``next_update``). One more severe than the storm's
  lead pages on its own instead.

A storm runs while incidents keep joining it: one that finds no incident held for a whole
window behind it starts a new storm (its lead is paged again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tocsin.times import format_duration
from tocsin.words import count, number

DEFAULT_INCIDENTS = 20
DEFAULT_WINDOW_S = 60.0
DEFAULT_UPDATE_EVERY_S = 30.0

UPDATE_KIND = "storm_update"  # the message kind of a digest's update (templating.KINDS)
TOP = 5  # alert names and label values a digest names
MAX_DIGEST_CHARS = 1000  # a digest is a message's summary (incidents.messages)
MAX_VALUE_CHARS = 60  # a label value in a digest line


@dataclass(frozen=True)
class StormRule:
    """A route's ``storm:`` settings (config), in seconds."""

    enabled: bool = True
    incidents: int = DEFAULT_INCIDENTS
    window_s: float = DEFAULT_WINDOW_S
    update_every_s: float = DEFAULT_UPDATE_EVERY_S


@dataclass(frozen=True)
class Running:
    """The route's latest storm that has not ended, as the store keeps it."""

    storm_id: int
    lead_id: int
    last_held_at: float
    lead_rank: int = 0  # the lead's severity, ranked (0: the most severe level)


@dataclass(frozen=True)
class Activity:
    """What the decision reads: ``recent``, the route's incidents triggered within the window
    before this one (the store may stop counting at the threshold), and its running storm."""

    recent: int
    running: Running | None = None
    rank: int = 0  # the incident's severity, ranked as ``Running.lead_rank``


Action = Literal["page", "lead", "hold"]


@dataclass(frozen=True)
class Fold:
    action: Action
    storm_id: int | None = None  # hold: the storm it joins
    lead_id: int | None = None  # hold: the incident that carries the digest


def decide(rule: StormRule, activity: Activity, now: float) -> Fold:
    """Page, lead a new storm, or join the running one (module docstring). The N-th incident
    of a window pages; the N+1-th leads a storm; the ones after it are held in it. One more
    severe than the storm's lead is never held behind it: it pages on its own (a critical
    page does not wait behind a storm of warnings)."""
    if not rule.enabled or activity.recent < rule.incidents:
        return Fold("page")
    running = activity.running
    if running is not None and running.last_held_at > now - rule.window_s:
        if activity.rank < running.lead_rank:
            return Fold("page")
        return Fold("hold", running.storm_id, running.lead_id)
    return Fold("lead")


def next_update(rule: StormRule, last_update_at: float, now: float) -> float:
    """When the digest's next update may go out: at most one per ``update_every``."""
    return max(now, last_update_at + rule.update_every_s)


@dataclass(frozen=True)
class Facts:
    """What a digest says, as the store reads it."""

    route: str  # the route's name (``route_name``)
    window_s: float
    new_in_window: int  # the route's incidents triggered in the last window
    held: int  # incidents the storm holds (its lead included)
    open: int  # of them, still open
    acknowledged_by: str | None  # who acknowledged the lead (and so the storm)
    lead_id: int
    # each held incident's alerts' labels (the latest first; the store may bound them)
    incidents: Sequence[Sequence[Mapping[str, str]]]


@dataclass(frozen=True)
class Digest:
    title: str
    text: str
    top_alerts: list[tuple[str, int]]
    top_labels: list[tuple[str, int]]


def route_name(key: str, receiver: str) -> str:
    """A route as a digest names it: its matchers below the root, each level's without its
    braces (``team="db" / service="api"``), and its receiver; the root route is ``root``."""
    inner = key[3:] if key.startswith("{}/") else ""
    path = inner[1:-1].replace("}/{", " / ") if inner.startswith("{") else inner
    name = path or "root"
    return f"{name} (receiver {receiver})" if receiver else name


def tops(
    incidents: Iterable[Sequence[Mapping[str, str]]], n: int = TOP
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The most common alert names and ``label=value`` pairs (alertname aside), each counted
    once per incident, most first (ties by name); with more than one incident, a pair only
    one incident has is left out."""
    names: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    seen = 0
    for alerts in incidents:
        seen += 1
        names.update({(a.get("alertname") or "alert")[:MAX_VALUE_CHARS] for a in alerts})
        pairs.update(
            {f"{k}={v[:MAX_VALUE_CHARS]}" for a in alerts for k, v in a.items() if k != "alertname"}
        )

    def top(counter: Counter[str], least: int = 1) -> list[tuple[str, int]]:
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        return [(k, c) for k, c in ranked if c >= least][:n]

    # a label value of one incident alone (its instance) says nothing of the storm
    return top(names), top(pairs, 2 if seen > 1 else 1)


def _listed(items: list[tuple[str, int]]) -> str:
    return ", ".join(f"{name} ({n})" for name, n in items) or "none"


def digest(facts: Facts) -> Digest:
    """The digest's title and text: the route, how many new incidents in the window, how many
    the storm holds and how many are still open, the top alert names and label values (each
    with its count of incidents), and what acknowledging it does."""
    window = format_duration(facts.window_s, "short")
    title = (
        f"Storm on route {facts.route}: {count(facts.new_in_window, 'new incident')} in {window}"
    )
    names, labels = tops(facts.incidents)
    sampled = len(facts.incidents) < facts.held
    of = f" (of the latest {len(facts.incidents)})" if sampled else ""
    if facts.acknowledged_by:
        ack = f"Acknowledged by {facts.acknowledged_by}: it covers every incident held."
    else:
        ack = f"Acknowledging incident #{facts.lead_id} acknowledges every incident held."
    if facts.held <= 1:  # the lead alone: those before it were paged on their own
        held = (
            "Held in this digest: this incident so far; the route's next incidents join it"
            " instead of paging on their own."
        )
    else:
        held = (
            f"Held in this digest: {count(facts.held, 'incident')},"
            f" {number(facts.open)} still open."
        )
    lines = [
        f"{title}.",
        held,
        f"Top alerts{of}: {_listed(names)}.",
        f"Top labels{of}: {_listed(labels)}.",
        ack,
    ]
    return Digest(title, "\n".join(lines)[:MAX_DIGEST_CHARS], names, labels)
