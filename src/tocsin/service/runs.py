"""Runbook commands run for an incident (docs/execute.md): the numbered steps a person can
run, a request to run one, an approval, a refusal, a run again, and the record of runs.

What may run, and with whose approval, is ``runbooks.gate``; this writes it down
(``store.runs``: the row and its timeline events) and wakes the executor, which runs what
is queued (``engine.executor``). Every front door (the API, the CLI, the console) calls
these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.engine.diagnose import (
    Step,
    follow_up,
    incident_sections,
    labels_by_name,
    numbered,
    record,
)
from tocsin.errors import Conflict, Forbidden, Invalid, NotFound
from tocsin.runbooks.gate import check_typed, confirmation, on_approve, on_request
from tocsin.service.context import Context
from tocsin.service.record import incident_row
from tocsin.store import repo
from tocsin.store import runs as store
from tocsin.store.db import begin_write
from tocsin.store.runs import Run

MAX_REASON_CHARS = 2000


def step_json(step: Step) -> dict[str, Any]:
    """A numbered step as the API answers it."""
    return {
        "number": step.number,
        "section": step.section,
        "title": step.title,
        "phase": step.phase,
        "language": step.language,
        "risk": step.risk,
        "code": step.code,
        "command": step.prepared.text,
        "params": step.prepared.params,
        "digest": step.prepared.digest,
        "unfilled": step.prepared.unfilled,
        "refused": step.prepared.refused,  # placeholder -> the label whose value is not plain
        "problem": step.prepared.problem,
        "runner": step.runner,
        "confirmation": confirmation(step.prepared.text) if step.risk == "destructive" else "",
    }


def steps(ctx: Context, incident_id: int, typed: Mapping[str, str] | None = None) -> list[Step]:
    """The incident's runbook commands, numbered, as they would run."""
    wrong = check_typed(typed or {})
    if wrong:
        raise Invalid("; ".join(wrong))
    with ctx.db.connect() as conn:
        row = incident_row(conn, incident_id)
        members = repo.incident_members(conn, row.id)
    pager = ctx.pager()
    names = [m.labels.get("alertname", "") for m in members]
    found = incident_sections(pager, names, row.severity)
    return numbered(pager, found, labels_by_name(members), row.receiver, typed)


def step(
    ctx: Context, incident_id: int, number: int, typed: Mapping[str, str] | None = None
) -> Step:
    found = steps(ctx, incident_id, typed)
    if not 1 <= number <= len(found):
        raise NotFound(
            f"incident {incident_id} has no step {number}"
            + (f" (its runbook has {len(found)} commands)" if found else " (no runbook commands)")
        )
    return found[number - 1]


def request(
    ctx: Context,
    incident_id: int,
    number: int,
    by: str,
    *,
    approve: bool = False,
    digest: str | None = None,
    typed: Mapping[str, str] | None = None,
) -> Run:
    """Ask to run step ``number``: a ``read`` command is queued at once; a ``change`` waits
    for an approval (``approve``: the asker approves the text they saw, whose ``digest``
    they give); a ``destructive`` one waits for a second person. Invalid, with the reason,
    when it cannot run (a placeholder not filled, no runner)."""
    chosen = step(ctx, incident_id, number, typed)
    return _request(ctx, incident_id, chosen, by, approve=approve, digest=digest)


def _request(
    ctx: Context, incident_id: int, chosen: Step, by: str, *, approve: bool, digest: str | None
) -> Run:
    if digest is not None and digest != chosen.prepared.digest:
        raise Conflict(f"step {chosen.number} is not the command shown: read it again")
    decision = on_request(
        chosen.risk,
        chosen.prepared,
        has_runner=chosen.runner is not None,
        approve=approve,
        given_digest=digest,
    )
    if decision.status == "refused":
        raise Invalid(f"step {chosen.number} cannot run: {decision.reason}")
    now = ctx.now()
    approved_by = by if decision.status == "queued" and chosen.risk != "read" else None
    with begin_write(ctx.db) as conn:
        incident_row(conn, incident_id)
        run = record(conn, incident_id, chosen, decision, by, now, approved_by)
    ctx.wake()
    return run


def approve(
    ctx: Context, run_id: int, by: str, digest: str | None, typed_confirmation: str | None = None
) -> Run:
    """Approve an awaiting run: the text the approver saw (``digest``) must be the run's; a
    destructive run needs someone other than who asked, and its confirmation typed."""
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        run = _get(conn, run_id)
        decision = on_approve(
            run.risk,
            run.status,
            run.command,
            run.digest,
            requested_by=run.requested_by,
            approver=by,
            given_digest=digest,
            typed_confirmation=typed_confirmation,
        )
        if decision.status == "refused":
            if run.status != "awaiting" or digest != run.digest:
                raise Conflict(decision.reason)
            if by == run.requested_by and run.risk == "destructive":
                raise Forbidden(decision.reason)
            raise Invalid(decision.reason)
        if not store.approve(conn, run, by, now):
            raise Conflict(f"run {run_id} no longer awaits an approval")
    ctx.wake()
    return run_of(ctx, run_id)


def refuse(ctx: Context, run_id: int, by: str, reason: str = "") -> Run:
    """Turn down an awaiting or queued run (it never runs)."""
    reason = reason.strip() or "refused"
    if len(reason) > MAX_REASON_CHARS:
        raise Invalid(f"reason: at most {MAX_REASON_CHARS} characters")
    with begin_write(ctx.db) as conn:
        run = _get(conn, run_id)
        if run.status not in ("awaiting", "queued"):
            raise Conflict(
                f"run {run_id} is {run.status}: only an awaiting or queued run is refused"
            )
        if not store.refuse(conn, run, by, reason, ctx.now()):
            raise Conflict(f"run {run_id} has started: it can no longer be refused")
        if run.automatic:  # the others' output goes out once none is left to run
            follow_up(ctx.pager(), conn, run.incident_id, ctx.now())
    ctx.wake()
    return run_of(ctx, run_id)


def rerun(ctx: Context, run_id: int, by: str, *, approve: bool = False) -> Run:
    """Ask to run a finished or refused run's step again, with the same values (it goes
    through the gates again: a change is approved again)."""
    with ctx.db.connect() as conn:
        run = _get(conn, run_id)
    if run.status not in ("finished", "refused"):
        raise Conflict(f"run {run_id} is {run.status}: only a finished or refused run runs again")
    # the same values: the alert's labels, and what a person typed then for the rest
    same = [s for s in steps(ctx, run.incident_id, run.labels) if s.prepared.digest == run.digest]
    if not same:  # the runbook changed, or its alert's labels did
        raise Conflict(f"step {run.step} reads differently now; ask for step {run.step} again")
    return _request(
        ctx, run.incident_id, same[0], by, approve=approve, digest=run.digest if approve else None
    )


def _get(conn: Any, run_id: int) -> Run:
    run = store.get(conn, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def run_of(ctx: Context, run_id: int) -> Run:
    with ctx.db.connect() as conn:
        return _get(conn, run_id)


def runs_of(ctx: Context, incident_id: int) -> list[Run]:
    """The incident's runs, newest first."""
    with ctx.db.connect() as conn:
        incident_row(conn, incident_id)
        return store.of_incident(conn, incident_id)
