"""What a simulation leaves: its timeline (``Entry``), a summary per incident
(``IncidentSummary``) and the whole ``Result``, as ``output.py`` prints them and the tests read
them.

The timeline lists, in time order (same instant: the order they were written), the kinds the
pipeline writes (opened, group_flushed, silenced, inhibited, triggered, escalated,
escalation_exhausted, deadline_missed, acknowledged, ack_expired, notified, attempt_failed,
notify_failed, resolved, and the others of docs/response.md) and the simulation's own
(``EXTRA_KINDS``): alert_fired, alert_resolved, override, action_refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tocsin import times
from tocsin.simulate.channels import Sent
from tocsin.simulate.scenario import Scenario
from tocsin.times import format_duration

# kinds the simulation adds to the pipeline's timeline
EXTRA_KINDS = ("alert_fired", "alert_resolved", "override", "action_refused")


def iso(ts: float) -> str:
    """A moment of the timeline as its JSON says it (``2027-01-15T08:03:00Z``)."""
    return times.to_dt(ts).isoformat().replace("+00:00", "Z")


def span(seconds: float) -> str:
    """An offset or a duration of the timeline, fixed width (``7.5s``, ``5m00s``, ``1h05m00s``)."""
    return format_duration(seconds, style="clock")


@dataclass(frozen=True)
class Entry:
    """One line of the simulated timeline."""

    at: float
    offset_s: float
    kind: str
    incident: int | None
    target: str | None
    channel: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        offset = round(self.offset_s, 3)
        return {
            "at": iso(self.at),
            "offset_s": int(offset) if offset == int(offset) else offset,
            "kind": self.kind,
            "incident": self.incident,
            "target": self.target,
            "channel": self.channel,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class IncidentSummary:
    id: int
    title: str
    status: str
    severity: str | None
    policy: str | None
    triggered_s: float | None  # offset from the scenario's start
    # the figures are incidents.figures's, as incident show, the postmortem and reports say
    ack_s: float | None  # time to acknowledge: from the first page to the first acknowledgement
    acknowledged_by: str | None
    resolve_s: float | None  # time to resolve: from the first alert to resolved
    pages: int  # people paged: one per person and step, however many channels carried it
    messages: int  # every message delivered
    dead_letters: int
    escalations: int  # escalation steps taken after the first page
    deadlines_missed: int


@dataclass
class Result:
    scenario: Scenario
    entries: list[Entry]
    incidents: list[IncidentSummary]
    sent: list[Sent]  # every delivery attempt, in order
    warnings: list[str] = field(default_factory=list)
    steps: int = 0  # engine passes
    skipped: int = 0  # idle group flushes passed over instead of run (run.py)

    def kinds(self, incident: int | None = None) -> list[str]:
        return [e.kind for e in self.entries if incident is None or e.incident == incident]
