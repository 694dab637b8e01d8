"""``GET /metrics``: Prometheus text format. The counters (``tocsin.metrics``) and
gauges read from the database at scrape time: the outbox depth, the engine's lag, the open
incidents by severity, and alert storms by route (incidents held in digests, storms
running). It needs a token that may read, sent as Prometheus sends one:
``authorization: {credentials: TOKEN}`` (bearer) or ``basic_auth`` with the token as password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tocsin.api.auth import require
from tocsin.api.state import AppState
from tocsin.metrics import Metrics
from tocsin.oncall import throttle
from tocsin.store import outbox, reports, storms

router = APIRouter()


class LiveCollector(Collector):
    """Gauges computed from the database when Prometheus scrapes."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        with self.state.db.connect() as conn:
            live = reports.live(conn, self.state.clock.now())
            storm_figures = storms.figures(conn, self.state.clock.now())
            queue = outbox.queued_by_lane(conn)
        yield GaugeMetricFamily(
            "tocsin_outbox_depth",
            "Notifications waiting in the outbox (pending).",
            value=live.outbox_depth,
        )
        yield GaugeMetricFamily(
            "tocsin_engine_lag_seconds",
            "Now minus the oldest due time of work that is due and not leased (0 if none).",
            value=live.engine_lag_s,
        )
        lanes = GaugeMetricFamily(
            "tocsin_delivery_queue",
            "Deliveries still to be sent (due now or later: retries, held for their order), by"
            " lane: the severity level and page or info (oncall/throttle).",
            labels=["lane"],
        )
        levels = self.state.config.paging.levels
        queued: dict[str, int] = {}
        for value in range(len(levels) * 2 + 2):
            queued[throttle.lane_name(value, levels)] = 0
        for value, count in queue.items():
            name = throttle.lane_name(value, levels)
            queued[name] = queued.get(name, 0) + count
        for name, count in queued.items():
            lanes.add_metric([name], count)
        yield lanes
        family = GaugeMetricFamily(
            "tocsin_open_incidents", "Incidents not resolved, by severity.", labels=["severity"]
        )
        counts = {level.name: 0 for level in self.state.config.paging.levels}
        counts.update(live.open_incidents)
        for severity, count in sorted(counts.items()):
            family.add_metric([severity], count)
        yield family
        held = CounterMetricFamily(
            "tocsin_storm_incidents_held",
            "Incidents held in storm digests (paged through their storm's lead), by route.",
            labels=["route"],
        )
        active = GaugeMetricFamily(
            "tocsin_storms_active",
            "Alert storms running now (an incident held within the window), by route.",
            labels=["route"],
        )
        for route in storm_figures:
            held.add_metric([route.route], route.held)
            active.add_metric([route.route], route.active)
        yield held
        yield active


def install(state: AppState) -> Metrics:
    """The application's metrics: counters, and the gauges over ``state``'s database."""
    metrics = Metrics()
    metrics.exposed.register(LiveCollector(state))
    return metrics


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    require(request, "read")
    metrics: Metrics = request.app.state.metrics
    body = await asyncio.to_thread(generate_latest, metrics.exposed)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
