"""``duties:`` in ``tocsin.yaml``: what a resolved incident still asks of people, per severity.

The seed runbooks' post-incident sections ask for an incident report within 24 hours, a
postmortem within 48, and a post-mortem meeting for critical incidents. These are the
defaults; a team writes its own::

    duties:
      severities:              # a severity level's name -> its deadlines from the resolution
        critical: {report: 24h, postmortem: 48h, meeting: 7d}
        warning: {postmortem: 5d}
      remind_before: 2h        # the owner is reminded this long before each deadline

A level not named has no duties (``severities: {}`` turns them off). When an incident is
resolved, each duty of its severity becomes an action item (``duty`` set) owned by the
incident's commander, else its assignee, else who acknowledged or resolved it, due that long
after the resolution (``engine/duties.py``). ``plan`` is the pure rule, tested without a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tocsin.times import parse_duration

# the kinds of duty, in the order they fall due by default, and the action item each becomes
DUTY_TITLES: Final = {
    "report": "Write the incident report",
    "postmortem": "Complete the postmortem",
    "meeting": "Hold the post-mortem meeting",
}


def _valid_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_valid_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeverityDuties(_Strict):
    """A severity's deadlines, each counted from the resolution (omitted: no such duty)."""

    report: Duration | None = None
    postmortem: Duration | None = None
    meeting: Duration | None = None


def _seed_defaults() -> dict[str, SeverityDuties]:
    return {"critical": SeverityDuties(report="24h", postmortem="48h", meeting="7d")}


@dataclass(frozen=True)
class Duty:
    kind: str  # report | postmortem | meeting
    title: str
    due_at: float  # epoch seconds
    remind_at: float  # epoch seconds, never before the resolution


class DutiesConfig(_Strict):
    severities: dict[str, SeverityDuties] = Field(default_factory=_seed_defaults)
    remind_before: Duration = "2h"

    def deadlines(self, severity: str | None) -> dict[str, float]:
        """The duties of ``severity`` (a level's name, any case): kind -> seconds after the
        resolution, in ``DUTY_TITLES`` order; empty when the level has none."""
        if not severity:
            return {}
        wanted = severity.strip().casefold()
        for name, duties in self.severities.items():
            if name.strip().casefold() == wanted:
                return {
                    kind: parse_duration(text)
                    for kind in DUTY_TITLES
                    if (text := getattr(duties, kind)) is not None
                }
        return {}

    def plan(self, severity: str | None, resolved_at: float) -> list[Duty]:
        """The duties an incident of ``severity`` resolved at ``resolved_at`` carries, soonest
        due first, with when its owner is reminded of each."""
        before = parse_duration(self.remind_before)
        out = []
        for kind, after in self.deadlines(severity).items():
            due = resolved_at + after
            out.append(Duty(kind, DUTY_TITLES[kind], due, max(resolved_at, due - before)))
        return sorted(out, key=lambda d: (d.due_at, list(DUTY_TITLES).index(d.kind)))
