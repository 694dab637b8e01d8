"""An incident's runbook commands as they would run, the diagnostics that run by themselves
when it triggers, and the follow-up message that carries their output (docs/execute.md).

``numbered`` is the one numbering of an incident's commands (the record, the console, the CLI
and the API name a step by it). ``plan`` runs in the trigger's transaction: it only writes
rows (the runs to make, queued), so the page never waits for a command; the executor
(``engine/executor.py``) runs them after the commit. When the last automatic run of an
incident ends, ``follow_up`` sends their output to the incident's channels and to everyone
paged for it, as one ``diagnostics`` message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import Connection

from tocsin.alerts.model import Alert
from tocsin.config.execute import auto_diagnose, choose
from tocsin.engine import messages
from tocsin.engine.stage import Settings
from tocsin.incidents.messages import DIAGNOSTICS_KIND, diagnostics_text
from tocsin.incidents.sections import sections
from tocsin.runbooks.gate import AUTOMATIC, Candidate, Decision, Prepared, auto_plan, prepare
from tocsin.runbooks.links import relative_path
from tocsin.store import repo, runs


@dataclass(frozen=True)
class Step:
    """A command of the incident's runbook sections, numbered as the record shows them."""

    number: int
    section: str  # "pebble-api.md: High error rate"
    source: str  # the runbook file, relative to its runbook directory
    title: str  # the step it belongs to
    phase: str  # its phase: diagnose, remediate, verify, …
    language: str
    risk: str
    code: str  # as the runbook writes it
    prepared: Prepared  # as it would run here
    runner: str | None  # the runner that would run it, None when none does
    labels: dict[str, str]  # what filled it


class Labelled(Protocol):
    @property
    def labels(self) -> dict[str, str]: ...


def labels_by_name(members: Sequence[Labelled]) -> dict[str, dict[str, str]]:
    """The labels of the first alert of each name (what fills that name's commands)."""
    out: dict[str, dict[str, str]] = {}
    for member in members:
        out.setdefault(member.labels.get("alertname", ""), dict(member.labels))
    return out


def incident_sections(s: Settings, names: list[str], severity: str | None) -> list[dict[str, Any]]:
    """The runbook sections of an incident's alert names, their sources relative to the
    runbook directories (the order every numbering follows)."""
    found = sections(s.catalog, sorted(names), severity)
    roots = s.config.runbook_paths()
    for section in found:
        section["source"] = relative_path(section["source"], roots)
    return found


def numbered(
    s: Settings,
    found: list[dict[str, Any]],
    labels: Mapping[str, Mapping[str, str]],
    receiver: str,
    typed: Mapping[str, str] | None = None,
) -> list[Step]:
    """Every command of the sections ``found``, numbered from 1 in the order they are shown,
    prepared from its alert's ``labels`` and the values a person ``typed``."""
    out: list[Step] = []
    execute = s.config.model.execute
    for section in found:
        given = next((labels[n] for n in section["alerts"] if n in labels), {})
        values = {**(typed or {}), **given}  # what fills it (and is kept with its runs)
        name = f"{section['source']}: {section['section']}"
        for step in section["steps"]:
            for command in step["commands"]:
                prepared = prepare(command["code"], command["language"], given, typed)
                runner = choose(
                    execute, command["language"], prepared.text, section["source"], receiver
                )
                where = {"runner": runner.name if runner else "", **values}
                prepared = replace(prepared, where=where)
                out.append(
                    Step(
                        number=len(out) + 1,
                        section=name,
                        source=section["source"],
                        title=step["title"],
                        phase=step["phase"],
                        language=command["language"],
                        risk=command["risk"],
                        code=command["code"],
                        prepared=prepared,
                        runner=runner.name if runner else None,
                        labels=values,
                    )
                )
    return out


def plan(
    s: Settings,
    conn: Connection,
    incident: Any,
    members: list[Alert],
    severity: str | None,
    now: float,
) -> int:
    """The read commands that run by themselves as the incident triggers, where its route or
    runbook turns ``auto_diagnose`` on: queued (the executor runs them after this commit),
    and those that cannot run recorded with why. How many were queued."""
    execute = s.config.model.execute
    if not execute.runners or s.catalog is None:
        return 0
    route = s.config.route.find(incident.route_id)
    route_on = bool(route and route.auto_diagnose)
    if not route_on and not execute.auto_diagnose_runbooks:
        return 0
    names = [m.labels.get("alertname", "") for m in members]
    found = incident_sections(s, names, severity)
    steps = [
        st
        for st in numbered(s, found, labels_by_name(members), incident.receiver)
        if auto_diagnose(execute, route_on, st.source)
    ]
    by_number = {st.number: st for st in steps}
    candidates = [Candidate(st.number, st.risk, st.prepared, st.runner, st.phase) for st in steps]
    queued = 0
    for candidate, decision in auto_plan(candidates, execute.auto_limit):
        step = by_number[candidate.step]
        record(conn, incident.id, step, decision, AUTOMATIC, now, automatic=True)
        queued += decision.status == "queued"
    return queued


def record(
    conn: Connection,
    incident_id: int,
    step: Step,
    decision: Decision,
    by: str,
    now: float,
    approved_by: str | None = None,
    automatic: bool = False,
) -> runs.Run:
    """A run of ``step`` as ``decision`` has it (queued, awaiting or refused), asked for by
    ``by`` (``automatic``: by the incident's trigger), with its timeline events."""
    return runs.add(
        conn,
        incident_id=incident_id,
        step=step.number,
        section=step.section,
        language=step.language,
        risk=step.risk,
        command=step.prepared.text,
        params=step.prepared.params,
        labels=step.labels,
        digest=step.prepared.digest,
        runner=step.runner,
        target=None,
        status=decision.status,
        automatic=automatic,
        reason=decision.reason,
        requested_by=by,
        now=now,
        approved_by=approved_by,
    )


def follow_up(s: Settings, conn: Connection, incident_id: int, now: float) -> bool:
    """Once none of the incident's automatic runs is still to run, their output in one
    ``diagnostics`` message to its channels and everyone paged for it. Whether it went."""
    if runs.open_count(conn, incident_id, automatic=True):
        return False
    done = runs.untold(conn, incident_id)
    if not done:
        return False
    incident = repo.get_incident(conn, incident_id)
    if incident is None:
        return False
    link = messages.incident_url(s, incident_id, conn, now)  # signed: opens without a sign-in
    text = diagnostics_text(
        [
            {
                "step": r.step,
                "risk": r.risk,
                "language": r.language,
                "command": r.command,
                "result": r.result,
                "exit_code": r.exit_code,
                "duration_s": r.duration_s,
                "output": r.output or "",
                "truncated": r.truncated,
                "error": r.error or "",
                "target": r.target or "",
            }
            for r in done
        ],
        link,
    )
    event = f"diagnostics:{done[0].id}-{done[-1].id}"
    channels = messages.channels_of(incident)
    messages.to_channels(s, conn, incident, DIAGNOSTICS_KIND, channels, now, event, text=text)
    runs.mark_told(conn, [r.id for r in done])
    return True
