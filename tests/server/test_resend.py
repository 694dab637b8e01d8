"""Prometheus's re-sends on the virtual clock (issue 18): every firing alert posted again each
``--rules.alert.resend-delay`` with the same ``startsAt`` and an ``endsAt`` four delays ahead.
However the flushes fall between the rounds, and with a round late by most of the margin, no
alert that is still being sent is ever resolved; once the sends stop, every alert resolves at
its last ``endsAt``. ``bench/storm.py --shapes resend`` measures the same at full size."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.server.conftest import Api, make_state
from tocsin import times
from tocsin.api.app import create_app
from tocsin.clock import VirtualClock

DELAY_S = 60  # Prometheus's default --rules.alert.resend-delay
ALERTS = 40

ROUTES = {
    # each alert a group of its own, flushed at once (the bench's resend shape)
    "per-alert": "group_by: [alertname, instance]\n  group_wait: 0s\n  group_interval: 5m",
    # every alert in one group, flushed every second (its tally's earliest end moves on)
    "one-group": "group_wait: 0s\n  group_interval: 1s",
}


@pytest.fixture(params=sorted(ROUTES))
def resend_api(request: pytest.FixtureRequest, db: Engine, clock: VirtualClock) -> Iterator[Api]:
    text = (
        "global: {resolve_timeout: 5m}\n"
        f"route:\n  receiver: default\n  {ROUTES[request.param]}\n"
        "receivers: [{name: default}]\n"
        "limits: {max_alerts_per_batch: 1000}\n"
    )
    state = make_state(db, clock, text)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)


def _send(api: Api, clock: VirtualClock, starts_at: str) -> None:
    """One round of re-sends, as Prometheus posts them."""
    ends_at = times.to_dt(clock.now() + 4 * DELAY_S).isoformat()
    body = [
        {
            "labels": {"alertname": "Resent", "instance": f"h{n}", "severity": "warning"},
            "startsAt": starts_at,
            "endsAt": ends_at,
        }
        for n in range(ALERTS)
    ]
    assert api.post("/api/v2/alerts", body, role="intake").status_code == 200


def _resolved(api: Api) -> list[str]:
    """What tocsin took as resolved: alerts no longer active, incidents resolved, and
    resolutions on any timeline."""
    active = api.get("/api/v2/alerts").json()
    found = [f"{ALERTS - len(active)} alerts not active"] if len(active) != ALERTS else []
    incidents = api.get("/api/v1/incidents?limit=100").json()
    for incident in incidents:
        if incident["status"] == "resolved":
            found.append(f"incident {incident['id']} resolved")
        for event in api.get(f"/api/v1/incidents/{incident['id']}/timeline").json():
            if event["kind"] == "resolved" or (
                event["kind"] == "group_flushed" and event["detail"].get("resolved")
            ):
                found.append(f"incident {incident['id']}: {event['kind']}")
    return found


def test_alerts_re_sent_every_delay_are_never_resolved_while_sent(
    resend_api: Api, clock: VirtualClock
) -> None:
    api = resend_api
    starts_at = times.to_dt(clock.now()).isoformat()
    # on time, then one round late by most of the margin (endsAt is 4 delays ahead), then on time
    gaps = [DELAY_S] * 5 + [3 * DELAY_S + 45] + [DELAY_S] * 5
    _send(api, clock, starts_at)
    api.run_engine()
    for gap in gaps:
        for _ in range(gap // 15):  # the engine runs between the rounds as it would
            clock.advance(15)
            api.run_engine()
            assert _resolved(api) == []
        clock.advance(gap % 15)
        _send(api, clock, starts_at)
        api.run_engine()
        assert _resolved(api) == []
    assert len(api.get("/api/v1/incidents?limit=100").json()) in (1, ALERTS)
    # the sends stop: every alert ends at its last endsAt, and is resolved then
    clock.advance(4 * DELAY_S - 1)
    api.run_engine()
    assert _resolved(api) == []
    clock.advance(1)
    api.run_engine()
    clock.advance(300)  # the per-alert groups' next flush (group_interval)
    api.run_engine()
    assert api.get("/api/v2/alerts").json() == []
    assert all(
        incident["status"] == "resolved"
        for incident in api.get("/api/v1/incidents?limit=100").json()
    )
