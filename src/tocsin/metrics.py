"""Counters this process keeps for ``/metrics`` (Prometheus text format).

One ``Metrics`` per application, each with its own registry (never the global one), so that
several applications in one process (tests, workers) do not clash. The intake writer counts
alerts after their commit; delivery counts sent and dead-lettered notifications as it records
them. Gauges read from the database at scrape time are the API's (``api/metrics.py``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts_received = Counter(
            "tocsin_alerts_received",
            "Alerts stored by intake (after a durable commit), by intake source.",
            ["source"],
            registry=self.registry,
        )
        self.notifications_sent = Counter(
            "tocsin_notifications_sent",
            "Notifications delivered, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.notifications_failed = Counter(
            "tocsin_notifications_failed",
            "Notifications that could not be delivered after their retries (dead letters), "
            "by channel.",
            ["channel"],
            registry=self.registry,
        )
