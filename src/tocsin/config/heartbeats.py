"""``heartbeats:`` of tocsin.yaml built into the monitors the engine checks and the intake
matches (``alerts.heartbeat.Monitor``): durations in seconds, ``from_alert`` matchers parsed
once at load."""

from __future__ import annotations

from tocsin.alerts.heartbeat import Monitor
from tocsin.alerts.matchers import parse_matcher
from tocsin.config.models import HeartbeatConfig
from tocsin.times import parse_duration


def build_monitors(configs: list[HeartbeatConfig]) -> tuple[Monitor, ...]:
    """One monitor per configured heartbeat, in the file's order."""
    return tuple(
        Monitor(
            name=c.name,
            interval_s=parse_duration(c.interval),
            grace_s=parse_duration(c.grace),
            labels=dict(c.labels),
            annotations=dict(c.annotations),
            matchers=tuple(parse_matcher(text) for text in c.from_alert),
        )
        for c in configs
    )
