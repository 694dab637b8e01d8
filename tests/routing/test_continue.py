"""``continue: true`` (issue 17, item 19): an alert that several routes take opens one
incident, on the route that pages (the first naming an escalation policy, else the last that
takes it); the others only add their channels to it. Before, each route opened an incident of
its own, the continued one with no policy and a deadline nobody could meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.alerts.model import Alert
from tocsin.config import parse_config
from tocsin.routing.group import groups_of

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  channels: [team]
  routes:
    - matchers: ['severity="critical"']     # the Alertmanager habit: tell a second channel
      receiver: critical-room
      channels: [critical-room]
      continue: true
    - matchers: ['service="db"']
      receiver: dba
      escalation_policy: dba
      channels: [dba-room]
    - matchers: ['service="api"']
      receiver: pager
      escalation_policy: api
      continue: true                        # pages, and tells the api room below too
    - matchers: ['service="api"']
      receiver: api-room
      channels: [api-room]
receivers: [{name: default}, {name: critical-room}, {name: dba}, {name: pager}, {name: api-room}]
channels:
  - {name: team, type: console}
  - {name: critical-room, type: console}
  - {name: dba-room, type: console}
  - {name: api-room, type: console}
users: [{name: ann, contact: [team]}]
escalation_policies:
  - {name: dba, steps: [{targets: ['user:ann']}]}
  - {name: api, steps: [{targets: ['user:ann']}]}
"""


def _alert(**labels: str) -> Alert:
    return Alert(
        labels={"alertname": "Down", **labels},
        annotations={},
        starts_at=NOW - timedelta(minutes=5),
        ends_at=NOW + timedelta(hours=1),
        updated_at=NOW,
    )


def test_a_continued_route_only_notifies() -> None:
    root = parse_config(CONFIG).route
    routed = root.routed({"alertname": "Down", "severity": "critical", "service": "db"})
    assert routed is not None
    assert routed.route.receiver == "dba" and routed.route.escalation_policy == "dba"
    assert [r.receiver for r in routed.notify] == ["critical-room"]
    assert routed.channels == ["dba-room", "critical-room"]
    groups = groups_of({"a": _alert(severity="critical", service="db")}, root, NOW)
    assert [g.route.receiver for g in groups.values()] == ["dba"]  # one incident, not two


def test_the_paging_route_owns_the_incident_wherever_it_is() -> None:
    """A paging route with ``continue: true`` before a route that only tells a room."""
    root = parse_config(CONFIG).route
    routed = root.routed({"alertname": "Down", "service": "api"})
    assert routed is not None
    assert routed.route.receiver == "pager"
    assert routed.channels == ["team", "api-room"]  # the pager's (inherited), then the room's
    groups = groups_of({"a": _alert(service="api")}, root, NOW)
    assert [g.route.receiver for g in groups.values()] == ["pager"]


def test_with_no_policy_the_last_route_owns_it() -> None:
    root = parse_config(CONFIG).route
    routed = root.routed({"alertname": "Down", "severity": "critical"})
    assert routed is not None
    assert routed.route.receiver == "critical-room" and not routed.notify


def test_the_incident_gets_the_channels_of_the_routes_its_alerts_continued_through() -> None:
    """Alerts of one incident, some of which a continued route took: its channels join."""
    root = parse_config(CONFIG).route
    dba = next(r for r in root.walk() if r.receiver == "dba")
    plain = {"alertname": "Down", "service": "db"}
    critical = {**plain, "severity": "critical"}
    assert root.continued_channels(dba.id, [plain]) == []
    assert root.continued_channels(dba.id, [plain, critical]) == ["critical-room"]
    other = next(r for r in root.walk() if r.receiver == "pager")
    assert root.continued_channels(other.id, [critical]) == []  # not that incident's route
