"""Heartbeats (a dead man's switch): a job, a script or a pipeline says it is alive by beating
(``POST /api/v1/heartbeats/{name}``, or by sending an alert that matches the monitor's
``from_alert`` matchers, as Prometheus's always-firing ``Watchdog`` does). When no beat comes
within ``interval + grace``, tocsin fires an alert of its own into the normal pipeline, so that
routing, grouping, escalation and runbooks apply; the next beat resolves it.

The rules, pure: when a monitor's beat is due (``deadline``), what a check at a time decides
(``check``: the alerts to send, the state it leaves, when to check again), and which monitors
a batch of received alerts beats (``beaten``). ``engine/heartbeat.py`` reads and writes the
state and sends the alerts through the store, as the intake would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tocsin import times
from tocsin.alerts.matchers import Matcher, matches_all
from tocsin.alerts.model import Alert

OK = "ok"  # beats come (or the first is not yet due)
MISSED = "missed"  # no beat within interval + grace: the monitor's alert fires
STATES = (OK, MISSED)

ALERTNAME = "HeartbeatMissed"  # the alert's name unless the monitor's labels name another
LABEL = "heartbeat"  # the label that names the monitor on its alert (always set)
# While missed, the alert is sent again this often with an end 4 times as far (as Prometheus
# resends a firing alert): it stays firing while the engine runs, and resolves by itself if
# every replica stops, as any source's alert does.
RESEND_S = 60.0
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}"  # it is a part of a URL path


@dataclass(frozen=True)
class Monitor:
    """A configured heartbeat (``heartbeats:`` in tocsin.yaml), built at load."""

    name: str
    interval_s: float
    grace_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)  # the alert's own, as configured
    annotations: Mapping[str, str] = field(default_factory=dict)
    matchers: tuple[Matcher, ...] = ()  # received alerts that match all of these beat it

    @property
    def timeout_s(self) -> float:
        """How long after a beat (or after watching began) the monitor is missed."""
        return self.interval_s + self.grace_s

    def alert_labels(self) -> dict[str, str]:
        """The labels of the alert it fires: ``alertname`` (``HeartbeatMissed`` unless the
        configured labels name another), the configured labels, and ``heartbeat=<name>``."""
        return {"alertname": ALERTNAME, **self.labels, LABEL: self.name}


@dataclass(frozen=True)
class Beats:
    """What is stored of a monitor: its state, when it was first watched, its last beat, and
    while missed, since when and the labels of the alert that fires."""

    state: str
    since: float
    last_beat: float | None = None
    missed_at: float | None = None
    labels: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Check:
    """What a check decides: the alerts to send (a firing one, a resolved one, or both when the
    configured labels changed while missed), the stored state it leaves, and when to check
    again."""

    alerts: list[Alert]
    state: Beats
    next_at: float


def deadline(monitor: Monitor, beats: Beats) -> float:
    """When the monitor is missed if no beat comes: its timeout after the last beat, or after
    watching began when none ever came."""
    start = beats.last_beat if beats.last_beat is not None else beats.since
    return start + monitor.timeout_s


def check(monitor: Monitor, beats: Beats, now: float) -> Check:
    """A check at ``now``: past the deadline, the alert fires (and is sent again every
    ``RESEND_S`` while it stays missed); before it, an alert that fired resolves."""
    due = deadline(monitor, beats)
    if now < due:
        if beats.state == MISSED:
            gone = [resolved(monitor, beats, now)] if beats.labels is not None else []
            return Check(gone, Beats(OK, beats.since, beats.last_beat), due)
        return Check([], beats, due)
    labels = monitor.alert_labels()
    missed_at = beats.missed_at if beats.state == MISSED and beats.missed_at else due
    alerts = []
    if beats.state == MISSED and beats.labels is not None and dict(beats.labels) != labels:
        alerts.append(resolved(monitor, beats, now))  # relabelled: the old alert ends
    alerts.append(firing(monitor, beats, missed_at, now))
    state = Beats(MISSED, beats.since, beats.last_beat, missed_at, labels)
    return Check(alerts, state, now + RESEND_S)


def firing(monitor: Monitor, beats: Beats, missed_at: float, now: float) -> Alert:
    """The monitor's alert, firing since it was missed."""
    return Alert(
        labels=monitor.alert_labels(),
        annotations=alert_annotations(monitor, beats),
        starts_at=times.to_dt(missed_at),
        ends_at=times.to_dt(now + 4 * RESEND_S),
        updated_at=times.to_dt(now),
    )


def resolved(monitor: Monitor, beats: Beats, now: float) -> Alert:
    """The alert that fired (with the labels it fired with), ended now."""
    labels = dict(beats.labels) if beats.labels is not None else monitor.alert_labels()
    start = beats.missed_at if beats.missed_at is not None else now
    return Alert(
        labels=labels,
        annotations=alert_annotations(monitor, beats),
        starts_at=times.to_dt(min(start, now)),
        ends_at=times.to_dt(now),
        updated_at=times.to_dt(now),
    )


def alert_annotations(monitor: Monitor, beats: Beats) -> dict[str, str]:
    """The configured annotations, a ``summary`` unless one is configured, and
    ``last_beat``: when the last beat came (ISO 8601), or ``never``."""
    last = times.to_dt(beats.last_beat).isoformat() if beats.last_beat is not None else "never"
    if beats.last_beat is not None:
        summary = f"No heartbeat from {monitor.name} since {last}"
    else:
        since = times.to_dt(beats.since).isoformat()
        summary = f"No heartbeat from {monitor.name} since it was first watched at {since}"
    return {"summary": summary, **monitor.annotations, "last_beat": last}


def beaten(monitors: Sequence[Monitor], alerts: Iterable[Alert], now: float) -> list[str]:
    """The names of the monitors that these received alerts beat: a firing alert that matches
    all of a monitor's ``from_alert`` matchers (a monitor without matchers is beaten only by
    its URL)."""
    watching = [m for m in monitors if m.matchers]
    if not watching:
        return []
    at = times.to_dt(now)
    names: list[str] = []
    for alert in alerts:
        if alert.resolved(at):
            continue
        for monitor in watching:
            if monitor.name not in names and matches_all(list(monitor.matchers), alert.labels):
                names.append(monitor.name)
        if len(names) == len(watching):
            break
    return names
