"""Grouping decisions: which groups a batch's alerts join, which of them open an incident, and
when each group's next flush falls due. Stage three of the data path (mute → **route/group** →
incident), as plain functions over values: the intake's writer (``store.repo``) reads and
writes what these decide, and they are tested without a database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from tocsin.alerts.model import Alert
from tocsin.routing.tree import Route


class GroupRoute(NamedTuple):
    """What storing a group needs of its route (plain values: a batch crosses to the writer
    process as data, ``store.repo.Prepared.to_wire``)."""

    id: str
    receiver: str
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float

    @classmethod
    def of(cls, route: Route) -> GroupRoute:
        return cls(
            route.id,
            route.receiver,
            route.group_wait_s,
            route.group_interval_s,
            route.repeat_interval_s,
        )


@dataclass
class Group:
    """The alerts of one batch in one group (route, group labels), by fingerprint."""

    route: GroupRoute
    labels: dict[str, str]
    fingerprints: list[str]
    firing: bool = False  # a resolved-only batch opens no incident (nothing to respond to)


def groups_of(latest: Mapping[str, Alert], route: Route, now: datetime) -> dict[str, Group]:
    """The group of each alert (by fingerprint), by group key, in the order first seen: one
    per alert, on the route its incident is on (``Route.routed``: other routes that take it
    through ``continue: true`` only notify). A group is firing when any of its alerts has not
    ended at ``now``."""
    groups: dict[str, Group] = {}
    for fp, alert in latest.items():
        routed = route.routed(alert.labels)
        if routed is None:
            continue
        owner = routed.route
        key = owner.group_key(alert.labels)
        group = groups.get(key)
        if group is None:
            labels = owner.group_labels(alert.labels)
            group = groups[key] = Group(GroupRoute.of(owner), labels, [])
        group.fingerprints.append(fp)
        if not alert.resolved(now):
            group.firing = True
    return groups


class OpenGroup(NamedTuple):
    """A group's open incident, as the store found it."""

    incident_id: int
    last_flush_at: float | None
    group_interval_s: float


@dataclass(frozen=True)
class Joining:
    """Where a batch's groups go: ``keys`` join an incident (in the batch's order), ``new``
    of them open one (a resolved-only group with no open incident joins none)."""

    keys: list[str]
    new: list[str]


def joining(wanted: Mapping[str, Group], open_keys: Mapping[str, object]) -> Joining:
    keys = [k for k in wanted if k in open_keys or wanted[k].firing]
    return Joining(keys, [k for k in keys if k not in open_keys])


def first_flush_at(route: GroupRoute, now: float) -> float:
    """A new incident's first flush: after its route's group_wait."""
    return now + route.group_wait_s


def next_flush_at(found: OpenGroup, now: float) -> float:
    """An open incident with news: its next flush a group_interval after its last one (now,
    if it was never flushed or that time has passed)."""
    base = found.last_flush_at + found.group_interval_s if found.last_flush_at else now
    return max(now, base)


def due_now(due: Mapping[int, float], now: float) -> tuple[list[int], float | None]:
    """The incidents whose flush is due already (in order), and when the earliest of the
    others falls due (None when there is none)."""
    touched = [i for i, at in due.items() if at <= now]
    later = min((at for at in due.values() if at > now), default=None)
    return touched, later
