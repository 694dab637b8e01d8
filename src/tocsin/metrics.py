"""Counters for ``/metrics`` (Prometheus text format).

One ``Metrics`` per application, each with its own registry (never the global one), so that
several applications in one process (tests, workers) do not clash. The intake writer counts
alerts after their commit; delivery counts sent, dead-lettered and held-back notifications as
it records them. Gauges read from the database at scrape time are the API's (``api/metrics.py``).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.multiprocess import MultiProcessCollector

# set by ``tocsin serve --workers N`` for its workers (prometheus-client's multiprocess mode)
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """``registry`` holds the counters; ``exposed`` is what ``/metrics`` shows. In one
    process they are the same. Under ``tocsin serve --workers N`` (``MULTIPROCESS_DIR`` set
    before the workers started) each worker's counters are kept in files in that directory
    and ``exposed`` sums those of every worker: a scrape reaches one worker, but its counters
    must not jump from one worker's to another's."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.exposed = self.registry
        if any(name in os.environ for name in (MULTIPROCESS_DIR, MULTIPROCESS_DIR.lower())):
            # as prometheus-client decides when it is imported: then counters go to files
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed)  # type: ignore[no-untyped-call]
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
        self.notifications_held = Counter(
            "tocsin_notifications_held",
            "Notifications to a person held back by the person's limit on the channel "
            "(told later in one summary), by channel type.",
            ["channel_type"],
            registry=self.registry,
        )
