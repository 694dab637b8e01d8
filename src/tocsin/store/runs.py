"""Runs of runbook commands (``runs``, docs/execute.md): one row per request, from the ask to
its output. Every change of a run is also on its incident's timeline (``run_requested``,
``run_approved``, ``run_started``, ``run_finished``, ``run_refused``), written here in the
same transaction.

Each function takes an open connection inside the caller's transaction. Starting a run is a
claim: ``claim`` moves it from ``queued`` to ``running`` only if it is still queued, so two
executors (two replicas) never start one run twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from tocsin import times
from tocsin.store import repo
from tocsin.store.schema import runs

# how much of a run's output goes on the timeline's event (the whole of it is in the row)
EVENT_OUTPUT_CHARS = 2000


@dataclass(frozen=True)
class Run:
    id: int
    incident_id: int
    step: int
    section: str
    language: str
    risk: str
    command: str
    digest: str
    status: str
    automatic: bool
    reason: str
    requested_by: str
    requested_at: float
    params: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    runner: str | None = None
    target: str | None = None
    approved_by: str | None = None
    approved_at: float | None = None
    started_at: float | None = None
    owner: str | None = None
    finished_at: float | None = None
    result: str | None = None
    exit_code: int | None = None
    output: str | None = None
    truncated: bool = False
    error: str | None = None
    told: bool = False

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def to_json(self) -> dict[str, Any]:
        """The run as the API answers it."""
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "step": self.step,
            "section": self.section,
            "language": self.language,
            "risk": self.risk,
            "command": self.command,
            "params": self.params,
            "digest": self.digest,
            "runner": self.runner,
            "target": self.target,
            "status": self.status,
            "automatic": self.automatic,
            "reason": self.reason,
            "requested_by": self.requested_by,
            "requested_at": _iso(self.requested_at),
            "approved_by": self.approved_by,
            "approved_at": _iso(self.approved_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_s": self.duration_s,
            "result": self.result,
            "exit_code": self.exit_code,
            "output": self.output,
            "truncated": self.truncated,
            "error": self.error,
        }


def _iso(at: float | None) -> str | None:
    return times.format_time(times.to_dt(at)) if at is not None else None


def _run(row: Any) -> Run:
    """A row as a ``Run``: its columns, the JSON ones read, the flags as booleans."""
    values = dict(row._mapping)
    values.update(
        params=json.loads(values["params"]),
        labels=json.loads(values["labels"]),
        automatic=bool(values["automatic"]),
        truncated=bool(values["truncated"]),
        told=bool(values["told"]),
    )
    return Run(**values)


def _event(conn: Connection, run: Run, now: float, kind: str, **more: Any) -> None:
    detail: dict[str, Any] = {"run": run.id, "step": run.step, "risk": run.risk}
    detail["command"] = run.command if len(run.command) <= 500 else run.command[:499] + "…"
    if run.runner:
        detail["runner"] = run.runner
    detail.update({k: v for k, v in more.items() if v is not None})
    repo.add_timeline(conn, run.incident_id, times.to_dt(now), kind, detail)


def add(
    conn: Connection,
    *,
    incident_id: int,
    step: int,
    section: str,
    language: str,
    risk: str,
    command: str,
    params: dict[str, str],
    labels: dict[str, str],
    digest: str,
    runner: str | None,
    target: str | None,
    status: str,
    automatic: bool,
    reason: str,
    requested_by: str,
    now: float,
    approved_by: str | None = None,
) -> Run:
    """A new run, and its events: requested, and approved or refused when it already is."""
    values = {
        "incident_id": incident_id,
        "step": step,
        "section": section,
        "language": language,
        "risk": risk,
        "command": command,
        "params": json.dumps(params, sort_keys=True),
        "labels": json.dumps(labels, sort_keys=True),
        "digest": digest,
        "runner": runner,
        "target": target,
        "status": status,
        "automatic": automatic,
        "reason": reason,
        "requested_by": requested_by,
        "requested_at": now,
        "approved_by": approved_by,
        "approved_at": now if approved_by else None,
    }
    key = conn.execute(insert(runs).values(**values)).inserted_primary_key
    assert key is not None
    run_id = int(key[0])
    run = get(conn, run_id)
    assert run is not None
    by = None if automatic else requested_by
    _event(conn, run, now, "run_requested", by=by, automatic=automatic or None)
    if status == "refused":
        _event(conn, run, now, "run_refused", reason=reason)
    elif approved_by:
        _event(conn, run, now, "run_approved", by=approved_by)
    return run


def get(conn: Connection, run_id: int) -> Run | None:
    row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
    return _run(row) if row is not None else None


def of_incident(conn: Connection, incident_id: int, limit: int = 200) -> list[Run]:
    """The incident's runs, newest first."""
    rows = conn.execute(
        select(runs)
        .where(runs.c.incident_id == incident_id)
        .order_by(runs.c.id.desc())
        .limit(limit)
    )
    return [_run(r) for r in rows]


def awaiting(conn: Connection, incident_id: int, risk: str, limit: int = 5) -> list[Run]:
    """The incident's runs of ``risk`` awaiting an approval, oldest first."""
    rows = conn.execute(
        select(runs)
        .where(
            and_(
                runs.c.incident_id == incident_id, runs.c.status == "awaiting", runs.c.risk == risk
            )
        )
        .order_by(runs.c.id)
        .limit(limit)
    )
    return [_run(r) for r in rows]


def with_status(conn: Connection, status: str, limit: int = 1000) -> list[Run]:
    """Runs in ``status``, oldest first."""
    rows = conn.execute(
        select(runs).where(runs.c.status == status).order_by(runs.c.id).limit(limit)
    )
    return [_run(r) for r in rows]


def approve(conn: Connection, run: Run, by: str, now: float) -> bool:
    """Queue an awaiting run; False (and nothing written) when it no longer awaits."""
    done = conn.execute(
        update(runs)
        .where(and_(runs.c.id == run.id, runs.c.status == "awaiting"))
        .values(status="queued", approved_by=by, approved_at=now, reason="")
    )
    if done.rowcount != 1:
        return False
    _event(conn, run, now, "run_approved", by=by)
    return True


def refuse(conn: Connection, run: Run, by: str, reason: str, now: float) -> bool:
    """A person turned it down; False (and nothing written) when it is no longer awaiting or
    queued (an executor started it first)."""
    done = conn.execute(
        update(runs)
        .where(and_(runs.c.id == run.id, runs.c.status.in_(("awaiting", "queued"))))
        .values(status="refused", reason=reason)
    )
    if done.rowcount != 1:
        return False
    _event(conn, run, now, "run_refused", by=by or None, reason=reason)
    return True


def claim(conn: Connection, run: Run, owner: str, target: str, now: float) -> bool:
    """Start it, if it is still queued (else another executor has, or a person refused it)."""
    done = conn.execute(
        update(runs)
        .where(and_(runs.c.id == run.id, runs.c.status == "queued"))
        .values(status="running", owner=owner, started_at=now, target=target)
    )
    if done.rowcount != 1:
        return False
    _event(conn, run, now, "run_started", target=target)
    return True


def finish(
    conn: Connection,
    run: Run,
    *,
    result: str,
    output: str,
    exit_code: int | None,
    truncated: bool,
    error: str,
    now: float,
) -> None:
    conn.execute(
        update(runs)
        .where(runs.c.id == run.id)
        .values(
            status="finished",
            result=result,
            output=output,
            exit_code=exit_code,
            truncated=truncated,
            error=error or None,
            finished_at=now,
        )
    )
    duration = round(now - run.started_at, 3) if run.started_at is not None else None
    shown = output if len(output) <= EVENT_OUTPUT_CHARS else output[: EVENT_OUTPUT_CHARS - 1] + "…"
    _event(
        conn,
        run,
        now,
        "run_finished",
        target=run.target,
        result=result,
        exit_code=exit_code,
        duration_s=duration,
        error=error or None,
        output=shown,
    )


def mark_told(conn: Connection, run_ids: list[int]) -> None:
    if run_ids:
        conn.execute(update(runs).where(runs.c.id.in_(run_ids)).values(told=True))


def open_count(conn: Connection, incident_id: int, automatic: bool) -> int:
    """The incident's runs not yet finished or refused (automatic ones, or people's)."""
    query = select(func.count()).where(
        runs.c.incident_id == incident_id,
        runs.c.automatic == automatic,
        runs.c.status.in_(("awaiting", "queued", "running")),
    )
    return int(conn.execute(query).scalar_one())


def untold(conn: Connection, incident_id: int) -> list[Run]:
    """The incident's automatic runs finished and not yet in a follow-up message."""
    rows = conn.execute(
        select(runs)
        .where(
            runs.c.incident_id == incident_id,
            runs.c.automatic.is_(True),
            runs.c.status == "finished",
            runs.c.told.is_(False),
        )
        .order_by(runs.c.step, runs.c.id)
    )
    return [_run(r) for r in rows]
