"""The grouping decisions of ``routing.group``, table-driven and without a database: which
groups a batch's alerts join, which open an incident, and when each group's flush falls due
(the cases the intake's writer has always decided this way)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.alerts.matchers import parse_matcher
from tocsin.alerts.model import Alert
from tocsin.routing.group import (
    Group,
    GroupRoute,
    Joining,
    OpenGroup,
    due_now,
    first_flush_at,
    groups_of,
    joining,
    next_flush_at,
)
from tocsin.routing.tree import Route, finalize

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
T = NOW.timestamp()


def _tree() -> Route:
    return finalize(
        Route(
            receiver="default",
            group_by=("alertname",),
            routes=[
                Route(
                    receiver="pager",
                    matchers=(parse_matcher('severity="critical"'),),
                    group_by=("alertname",),
                    group_wait_s=0.0,
                    continue_=True,
                ),
                Route(
                    receiver="everything",
                    matchers=(parse_matcher('service=~"api|web"'),),
                    group_by_all=True,
                ),
            ],
        )
    )


def _alert(labels: dict[str, str], ended: bool = False) -> Alert:
    ends = NOW - timedelta(minutes=1) if ended else NOW + timedelta(hours=1)
    return Alert(
        labels=labels,
        annotations={},
        starts_at=NOW - timedelta(hours=1),
        ends_at=ends,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        # no child matches: the root, grouped by alertname
        (
            {"a": _alert({"alertname": "Disk"})},
            {'{}:{alertname="Disk"}': ("default", {"alertname": "Disk"}, ["a"], True)},
        ),
        # two fingerprints of one alertname share a group
        (
            {
                "a": _alert({"alertname": "Disk", "host": "1"}),
                "b": _alert({"alertname": "Disk", "host": "2"}),
            },
            {'{}:{alertname="Disk"}': ("default", {"alertname": "Disk"}, ["a", "b"], True)},
        ),
        # continue: the critical route and its next sibling both take the alert, but it opens
        # one incident, on the last of them (neither names a policy); the route it continued
        # from only notifies (issue 17, item 19; it opened a second incident before)
        (
            {"a": _alert({"alertname": "Down", "severity": "critical", "service": "api"})},
            {
                '{}/{service=~"api|web"}:{alertname="Down", service="api", severity="critical"}': (
                    "everything",
                    {"alertname": "Down", "service": "api", "severity": "critical"},
                    ["a"],
                    True,
                ),
            },
        ),
        # a group whose alerts have all ended is not firing; one live alert makes it firing
        (
            {"a": _alert({"alertname": "Disk"}, ended=True)},
            {'{}:{alertname="Disk"}': ("default", {"alertname": "Disk"}, ["a"], False)},
        ),
        (
            {
                "a": _alert({"alertname": "Disk", "host": "1"}, ended=True),
                "b": _alert({"alertname": "Disk", "host": "2"}),
            },
            {'{}:{alertname="Disk"}': ("default", {"alertname": "Disk"}, ["a", "b"], True)},
        ),
        # a label the route groups by that the alert lacks is left out
        ({"a": _alert({"host": "1"})}, {"{}:{}": ("default", {}, ["a"], True)}),
    ],
)
def test_groups_of(
    alerts: dict[str, Alert], expected: dict[str, tuple[str, dict[str, str], list[str], bool]]
) -> None:
    groups = groups_of(alerts, _tree(), NOW)
    assert {
        key: (g.route.receiver, g.labels, g.fingerprints, g.firing) for key, g in groups.items()
    } == expected


def test_a_group_carries_its_routes_timing() -> None:
    groups = groups_of({"a": _alert({"alertname": "X", "severity": "critical"})}, _tree(), NOW)
    route = groups['{}/{severity="critical"}:{alertname="X"}'].route
    assert route == GroupRoute('{}/{severity="critical"}/0', "pager", 0.0, 300.0, 4 * 3600.0)


ROUTE = GroupRoute("r", "default", 30.0, 300.0, 3600.0)


@pytest.mark.parametrize(
    ("firing", "open_keys", "keys", "new"),
    [
        ({"g": True}, [], ["g"], ["g"]),  # a firing group with no incident opens one
        ({"g": False}, [], [], []),  # resolved only, no incident: nothing to respond to
        ({"g": False}, ["g"], ["g"], []),  # resolved only, open incident: joins it
        ({"g": True}, ["g"], ["g"], []),  # firing, open incident: joins it
        (
            {"a": True, "b": False, "c": True, "d": False},
            ["c", "d"],
            ["a", "c", "d"],
            ["a"],
        ),  # in the batch's order
    ],
)
def test_joining(
    firing: dict[str, bool], open_keys: list[str], keys: list[str], new: list[str]
) -> None:
    wanted = {k: Group(ROUTE, {}, ["fp"], f) for k, f in firing.items()}
    found = {k: OpenGroup(1, None, 300.0) for k in open_keys}
    assert joining(wanted, found) == Joining(keys, new)


@pytest.mark.parametrize(
    ("group_wait_s", "at"),
    [(30.0, T + 30), (0.0, T)],  # a new incident's first flush: after group_wait
)
def test_first_flush_at(group_wait_s: float, at: float) -> None:
    assert first_flush_at(ROUTE._replace(group_wait_s=group_wait_s), T) == at


@pytest.mark.parametrize(
    ("last_flush_at", "interval", "at"),
    [
        (None, 300.0, T),  # never flushed: now
        (T - 100, 300.0, T + 200),  # a group_interval after the last flush
        (T - 1000, 300.0, T),  # that time has passed: now
        (T - 300, 300.0, T),  # exactly now
    ],
)
def test_next_flush_at(last_flush_at: float | None, interval: float, at: float) -> None:
    assert next_flush_at(OpenGroup(7, last_flush_at, interval), T) == at


@pytest.mark.parametrize(
    ("due", "touched", "later"),
    [
        ({}, [], None),
        ({1: T, 2: T - 5}, [1, 2], None),  # due now or before: flushed at intake
        ({1: T + 30}, [], T + 30),  # a group_wait: the engine's, later
        ({3: T + 60, 1: T, 2: T + 30}, [1], T + 30),  # the earliest of those left
    ],
)
def test_due_now(due: dict[int, float], touched: list[int], later: float | None) -> None:
    assert due_now(due, T) == (touched, later)
