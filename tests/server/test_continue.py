"""``continue: true`` through the real server (issue 17, item 19): an alert that a route takes
and continues past opens one incident, on the route that pages; the continued route's channel
hears of it (firing and acknowledged), and no second incident, with no policy and a deadline
nobody could meet, is opened."""

from __future__ import annotations

from collections.abc import Iterator
from textwrap import dedent

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink
from tests.server.conftest import Api
from tests.server.test_paging import Paging
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  channels: [team]
  routes:
    - matchers: ['severity="critical"']     # tell the critical room, then go on
      receiver: critical-room
      channels: [backup]
      continue: true
    - matchers: ['service="pebble-db"']
      receiver: db
      escalation_policy: db
receivers: [{{name: default}}, {{name: critical-room}}, {{name: db}}]
channels:
  - {{name: team, type: webhook, url: "{team}"}}
  - {{name: pager, type: webhook, url: "{pager}"}}
  - {{name: backup, type: webhook, url: "{backup}"}}
users:
  - {{name: alice, contact: [pager]}}
severities:
  levels: [{{name: critical, ack_deadline: 3m}}]
escalation_policies:
  - {{name: db, steps: [{{targets: ["user:alice"], delay: 5m}}]}}
"""


@pytest.fixture
def paging(db: Engine, clock: VirtualClock) -> Iterator[Paging]:
    with HttpSink() as team, HttpSink() as pager, HttpSink() as backup:
        sinks = {"team": team, "pager": pager, "backup": backup}
        text = dedent(CONFIG).format(team=team.url, pager=pager.url, backup=backup.url)
        state = AppState(db=db, config=parse_config(text), clock=clock)
        with TestClient(create_app(state, run_engine=False)) as client:
            yield Paging(Api(client, state, db), clock, sinks)


def test_a_continued_route_notifies_and_opens_no_incident(paging: Paging) -> None:
    incident = paging.fire()  # DatabaseDown, critical, pebble-db: both routes take it
    [only] = paging.api.get("/api/v1/incidents").json()
    assert only["id"] == incident and only["receiver"] == "db"
    [page] = paging.new("pager")
    assert page["kind"] == "firing" and page["recipient"]["name"] == "alice"
    [team] = paging.new("team")
    [room] = paging.new("backup")  # the continued route's channel hears of the incident
    assert team["kind"] == room["kind"] == "firing"
    assert room["incident_id"] == incident
    acked = paging.api.post(f"/api/v1/incidents/{incident}/ack", {}, role="responder")
    assert acked.status_code == 200
    paging.run()
    assert [m["kind"] for m in paging.new("backup")] == ["acknowledged"]
    paging.advance(10 * 60)  # no second incident runs into its deadline or escalates
    assert len(paging.api.get("/api/v1/incidents").json()) == 1
    assert "deadline_missed" not in paging.kinds(incident)
