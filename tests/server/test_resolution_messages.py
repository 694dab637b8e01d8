"""An incident that resolves itself says so (issue 17, items 2 and 4): the message of an
auto-resolved incident reads "resolved", counts its alert as ended, and reaches the team
channel and the person paged; through the API and the engine, on a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink
from tests.server.test_paging import make
from tocsin.clock import VirtualClock


@pytest.fixture
def hooks() -> Iterator[dict[str, HttpSink]]:
    with HttpSink() as team, HttpSink() as pager, HttpSink() as backup:
        yield {"team": team, "pager": pager, "backup": backup}


def test_an_auto_resolved_incident_says_resolved(
    db: Engine, clock: VirtualClock, hooks: dict[str, HttpSink]
) -> None:
    for paging in make(db, clock, hooks):
        incident = paging.fire()
        [firing] = paging.new("team")
        assert firing["status"] == "triggered"
        [page] = paging.new("pager")
        assert page["recipient"]["name"] == "alice"
        paging.clock.advance(30)
        labels = {"alertname": "DatabaseDown", "severity": "critical", "service": "pebble-db"}
        ended = [{"labels": labels, "startsAt": "2027-01-15T08:00:00Z", "endsAt": paging.now()}]
        assert paging.api.post("/api/v2/alerts", ended).status_code == 200
        paging.advance(30)  # the group's next flush (group_interval 1m)
        [resolved] = paging.new("team")
        assert resolved["kind"] == "resolved" and resolved["status"] == "resolved"
        assert resolved["summary"] == (
            "Resolved automatically at 2027-01-15 08:01:00 UTC: the alert ended."
        )
        assert [a["status"] for a in resolved["alerts"]] == ["resolved"]
        assert resolved["diagnostics"] == [] and resolved["actor"] is None
        [told] = paging.new("pager")  # alice, who was paged, hears of it
        assert (told["kind"], told["status"], told["recipient"]["name"]) == (
            "resolved",
            "resolved",
            "alice",
        )
        record = paging.api.get(f"/api/v1/incidents/{incident}").json()
        assert record["status"] == "resolved"
        paging.advance(3600)
        paging.nothing_new()
