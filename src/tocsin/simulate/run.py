"""The run of ``tocsin simulate``: a scenario played through the real pipeline on a virtual
clock, and its timeline read back.

The simulation takes alerts in as the Alertmanager API does (``parse_v2``, ``repo.ingest``),
lets the real engine (``DueWorkEngine``) flush groups, trigger incidents, escalate, miss
deadlines and deliver the outbox with the real retry policy, on a ``VirtualClock`` over an
in-memory SQLite database, with every channel replaced by a simulated one (``channels.py``).
The runner is one piece: the clock, the database, the alerts still firing and what the
channels recorded are its state, read back at the end into a ``Result`` (``results.py``).

How it runs:

- A fired alert keeps firing until a ``resolve`` event: it is posted once with ``startsAt`` =
  now and ``endsAt`` beyond the end of the simulation; ``resolve`` posts the same labels and
  ``startsAt`` with ``endsAt`` = now, as Prometheus does.
- Consecutive ``fire``/``resolve`` events at one instant are posted as one batch (Prometheus
  sends its alerts together); after each batch or action the engine runs what is due.
- Events at an instant come before the engine's work due at that same instant: an
  acknowledgement at +3m beats a 3m acknowledgement deadline.
- Between events the clock jumps from one due time to the next (group flushes, escalation
  steps, deadlines, acknowledgement timeouts, delivery retries) and the engine runs at each.
- Idle time is skipped: a group flush that found nothing new (the pass wrote nothing on the
  timeline and queued no message) finds nothing new again until the next scenario event or
  its group's ``repeat_interval``, since only the scenario's events change the alerts. Its
  next flushes are moved, on the group's ``group_interval`` beat, to the first one at or after
  that moment; the flushes passed over are counted (``Result.skipped``), not run. A month of
  firing alerts then takes a few hundred engine passes, not tens of thousands.
- ``{alertname: X}`` names the open incident that holds a firing scenario alert called X (the
  lowest-numbered one that escalates, else the lowest-numbered one). An action the pipeline
  refuses (acknowledging a resolved incident, escalating an acknowledged one) is shown as
  ``action_refused``.
- Override ``start`` (default: the event's time) and ``end`` are offsets from the scenario's
  start, or absolute times.
- Firing alerts are not re-sent as Prometheus re-sends them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.pool import StaticPool

from tocsin import logs, times
from tocsin.alerts.model import Alert
from tocsin.alerts.payloads import StructuralError, format_time, parse_v2
from tocsin.clock import VirtualClock
from tocsin.config import ChannelConfig, Config
from tocsin.engine.executor import Executor
from tocsin.engine.loop import DueWorkEngine
from tocsin.errors import TocsinError
from tocsin.incidents.describe import incident_title
from tocsin.incidents.figures import Event, figures
from tocsin.notify.base import Channel
from tocsin.oncall.schedule import Override
from tocsin.runbooks.loader import load_catalog
from tocsin.simulate.channels import Sent, SimulatedChannel
from tocsin.simulate.results import Entry, IncidentSummary, Result, iso, span
from tocsin.simulate.runners import StubRunners
from tocsin.simulate.scenario import (
    ALERT_ACTIONS,
    IncidentRef,
    Scenario,
    ScenarioError,
    Step,
    check_against,
    covers,
    load_scenario,
    scenario_config,
    timestamp,
)
from tocsin.store import outbox, repo
from tocsin.store.db import begin_write, database_url, make_engine, upgrade
from tocsin.store.kinds import FLUSH
from tocsin.store.schema import due_work, incidents, notifications, timeline

MAX_STEPS = 100_000  # engine passes; more means a runaway scenario
OWNER = "simulate"  # the engine's lease owner and the alerts' source


class SimulationError(TocsinError):
    """The simulation could not finish: a runaway scenario or due work that cannot be done."""


class _Collect(logging.Handler):
    """Warnings and errors the pipeline logs, kept for the report."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, logs.FIELDS):  # an event the timeline holds already (tocsin.logs)
            return
        line = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line += f" ({type(exc).__name__}: {exc})"
        self.lines.append(line)


@dataclass(frozen=True)
class _Noted:
    """An entry of the scenario's own, placed after the timeline rows written before it."""

    after_id: int
    seq: int
    entry: Entry


def _full_backoff() -> float:
    return 1.0


class _Runner:
    """One simulation: its clock, its database and engine, the alerts still firing, and what
    the channels received (the ``Switchboard`` of ``channels.py``)."""

    def __init__(
        self,
        scenario: Scenario,
        config: Config,
        max_steps: int,
        skip_idle: bool = True,
        database: str = "sqlite://",
    ) -> None:
        self.scenario = scenario
        self.skip_idle = skip_idle
        self.config = config
        self.max_steps = max_steps
        self.clock = VirtualClock(scenario.start)
        self.attempts: dict[str, int] = {}
        self.sent: list[Sent] = []
        self.sent_after: list[int] = []  # the last timeline id when each attempt was made
        self.noted: list[_Noted] = []
        self.firing: dict[str, tuple[dict[str, str], datetime]] = {}  # fp: labels, startsAt
        self.steps = 0
        self.skipped = 0  # idle group flushes passed over (see _skip_idle)
        self.limits = config.limits
        # one connection for all: every thread sees the same in-memory database
        self.db: Engine = make_engine(database, poolclass=StaticPool)
        upgrade(self.db)
        paths = config.runbook_paths()
        self.engine = DueWorkEngine(
            self.db,
            config,
            self.clock,
            owner=OWNER,
            catalog=load_catalog(paths) if paths else None,
            channel_factory=self.channel,
            heartbeats=False,  # a scenario sends no beats: they would all be missed
        )
        # runbook commands an incident starts run on stubs: nothing runs in a simulation
        self.executor = Executor(
            self.db, self.engine.pager, self.clock, OWNER, StubRunners, one_at_a_time=True
        )
        seed = scenario.model.seed
        # without a seed every retry waits its full backoff, so times can be worked by hand
        self.engine.deliverer.rand = (
            random.Random(seed).random if seed is not None else _full_backoff
        )

    def record(self, sent: Sent) -> None:
        self.sent.append(sent)
        with self.db.connect() as conn:  # no transaction is open while channels send
            self.sent_after.append(_last_timeline_id(conn))

    def channel(self, cfg: ChannelConfig, _http: aiohttp.ClientSession) -> Channel:
        return SimulatedChannel(cfg.name, cfg.type, self, self.scenario.channels.get(cfg.name))

    async def run(self) -> None:
        try:
            for at, batch in _batches(self.events()):
                await self._until(at, inclusive=False)
                self.clock.set(max(self.clock.now(), at))
                self._apply(batch)
                await self._until(at, inclusive=True)
            await self._until(self.scenario.end, inclusive=True)
            self.clock.set(max(self.clock.now(), self.scenario.end))
        finally:
            await self.engine.deliverer.close()

    def events(self) -> Iterable[Step]:
        """The events to play, in time order: the scenario's (``tocsin replay`` plays stored
        history instead, read as it goes: ``simulate/replay.py``)."""
        return self.scenario.steps

    def resolving(self, selector: dict[str, str]) -> list[tuple[dict[str, str], datetime]]:
        """The firing alerts a ``resolve`` event ends (labels, startsAt): every one that has
        the selector's labels."""
        return [
            (labels, since) for labels, since in self.firing.values() if covers(labels, selector)
        ]

    # ---- time

    def _wakeup(self) -> float | None:
        """When the engine next has something to claim: the earliest due time; for work due
        already, just after a lease still held (an item whose handling failed is claimed
        again only when its lease lapses)."""
        with self.db.connect() as conn:
            nxt = repo.next_due_at(conn)
            if nxt is None or nxt > self.clock.now():
                return nxt
            rows = conn.execute(select(due_work.c.due_at, due_work.c.lease_until)).all()
        return min(
            float(due) if lease is None or lease < due else float(lease) + 0.001
            for due, lease in rows
        )

    async def _until(self, t: float, inclusive: bool) -> None:
        """Run the engine at each due time up to ``t`` (before ``t`` unless inclusive)."""
        while True:
            nxt = self._wakeup()
            if nxt is None or nxt > t or (nxt == t and not inclusive):
                return
            self.clock.set(max(self.clock.now(), nxt))
            self.steps += 1
            if self.steps > self.max_steps:
                now = self.clock.now()
                raise SimulationError(
                    f"{self.scenario.source}: more than {self.max_steps} engine passes by "
                    f"{iso(now)} (+{span(now - self.scenario.start)}): the scenario keeps "
                    "making work due; shorten `until` or check the channels' retry settings"
                )
            before = self._due_now(nxt)
            passed = await self.engine.run_once()
            ran = await self.executor.drain()
            if ran:  # their follow-up message goes out in this same moment
                passed += ran + await self.engine.run_once()
            if passed == 0 and self._wakeup() == nxt:
                raise SimulationError(
                    f"{self.scenario.source}: due work at {iso(nxt)} cannot be carried out "
                    "(the engine claimed nothing)"
                )
            self._skip_idle(before, t)

    def _due_now(self, now: float) -> tuple[list[int], int, int] | None:
        """Before a pass: the flush items due (None when anything else is due too), and how
        far the timeline and the outbox reach."""
        with self.db.connect() as conn:
            due = conn.execute(
                select(due_work.c.id, due_work.c.kind).where(due_work.c.due_at <= now)
            ).all()
            if not due or any(kind != FLUSH for _id, kind in due):
                return None
            noted = conn.execute(select(func.max(notifications.c.id))).scalar_one_or_none()
            return [int(i) for i, _kind in due], _last_timeline_id(conn), int(noted or 0)

    def _skip_idle(self, before: tuple[list[int], int, int] | None, t: float) -> None:
        """After a pass of flushes alone that wrote nothing: move each of those flushes on its
        group's beat to the first flush at or after ``t`` (the next scenario event, or the
        end) or the group's repeat, whichever comes first. The flushes between would find
        what this one found: the same alerts, already said."""
        if before is None or not self.skip_idle:
            return
        ids, last_row, last_note = before
        with begin_write(self.db) as conn:
            noted = conn.execute(select(func.max(notifications.c.id))).scalar_one_or_none()
            if _last_timeline_id(conn) != last_row or int(noted or 0) != last_note:
                return  # the pass said something: not idle
            rows = conn.execute(
                select(
                    due_work.c.id,
                    due_work.c.due_at,
                    incidents.c.group_interval_s,
                    incidents.c.repeat_interval_s,
                    incidents.c.last_flush_at,
                )
                .join(incidents, incidents.c.id == due_work.c.ref)
                .where(due_work.c.id.in_(ids), due_work.c.lease_owner.is_(None))
            ).all()
            for row in rows:
                beat = float(row.group_interval_s)
                if beat <= 0 or float(row.due_at) <= self.clock.now():
                    continue
                bound = t
                if row.last_flush_at is not None:
                    bound = min(bound, float(row.last_flush_at) + float(row.repeat_interval_s))
                due, passed = float(row.due_at), 0
                while due < bound:  # as the engine adds it, flush after flush
                    due += beat
                    passed += 1
                if passed:
                    conn.execute(update(due_work).where(due_work.c.id == row.id).values(due_at=due))
                    self.skipped += passed

    # ---- events

    def _apply(self, batch: list[Step]) -> None:
        now = self.clock.now()
        if batch[0].event.action in ALERT_ACTIONS:
            self._post(batch, now)
            return
        [step] = batch
        ev = step.event
        with begin_write(self.db) as conn:
            after = _last_timeline_id(conn)
            if ev.override is not None:
                self._override(conn, step, now, after)
                return
            ref = ev.ack or ev.resolve_incident or ev.escalate
            assert ref is not None
            incident_id, why = self._incident(conn, ref)
            if incident_id is not None:
                pager = self.engine.pager
                if ev.ack is not None:
                    why = pager.acknowledge(conn, incident_id, ref.by, now)
                elif ev.resolve_incident is not None:
                    why = pager.resolve(conn, incident_id, ref.by, now)
                else:  # as POST /api/v1/incidents/{id}/escalate does
                    status = repo.get_incident(conn, incident_id).status
                    if status != "triggered":
                        why = f"the incident is {status}; only a triggered incident escalates"
                    elif not pager.escalate(
                        conn, incident_id, now, reason="escalated by hand", by=ref.by
                    ):
                        why = "the incident has no escalation left to run"
            if why is not None:
                detail = {"event": step.index, "action": ev.action, "by": ref.by, "reason": why}
                self._note(after, now, "action_refused", incident_id, None, detail)

    def _post(self, batch: list[Step], now: float) -> None:
        """Post the batch's fire/resolve events as one Alertmanager API v2 request would."""
        when = times.to_dt(now)
        beyond = times.to_dt(self.scenario.end + self.config.resolve_timeout_s + 1)
        alerts: list[tuple[Step, Alert]] = []
        for step in batch:
            ev = step.event
            if ev.fire is not None:
                # startsAt given: with endsAt alone, Alertmanager's default is startsAt = endsAt
                bodies = [
                    {
                        "labels": ev.fire,
                        "annotations": ev.annotations or {},
                        "startsAt": format_time(when),
                        "endsAt": format_time(beyond),
                    }
                ]
            else:
                assert ev.resolve is not None
                bodies = [
                    {"labels": labels, "startsAt": format_time(since), "endsAt": format_time(when)}
                    for labels, since in self.resolving(ev.resolve)
                ]
            for body in bodies:
                try:
                    parsed = parse_v2([body], when, self.config.resolve_timeout_s, self.limits)
                    errors = parsed.errors
                except StructuralError as exc:
                    errors = [str(exc)]
                if errors:
                    loc = ("events", step.index, ev.action)
                    problems = self.scenario.problems()
                    for e in errors:
                        problems.near(loc, e)
                    raise ScenarioError.listing(problems)
                alerts.append((step, parsed.alerts[0]))
        with begin_write(self.db) as conn:
            after = _last_timeline_id(conn)
            repo.ingest(conn, [a for _s, a in alerts], when, self.config.route, source=OWNER)
            for step, alert in alerts:
                fp = alert.fingerprint
                fired = step.event.fire is not None
                if fired:
                    assert alert.starts_at is not None
                    self.firing.setdefault(fp, (alert.labels, alert.starts_at))
                else:
                    self.firing.pop(fp, None)
                joined = sorted(repo.incidents_of(conn, fp))
                detail: dict[str, Any] = {
                    "event": step.index,
                    "fingerprint": fp,
                    "labels": alert.labels,
                    "incidents": joined,
                }
                if fired and alert.annotations:
                    detail["annotations"] = alert.annotations
                kind = "alert_fired" if fired else "alert_resolved"
                self._note(after, now, kind, joined[0] if joined else None, None, detail)

    def _override(self, conn: Connection, step: Step, now: float, after: int) -> None:
        o = step.event.override
        assert o is not None
        start = timestamp(o.start, self.scenario.start) if o.start is not None else now
        end = timestamp(o.end, self.scenario.start)
        override = Override(o.schedule, times.to_dt(start), times.to_dt(end), o.user, o.replaces)
        new_id = outbox.add_override(conn, override, o.by, now, o.reason)
        detail = {
            "event": step.index,
            "override": new_id,
            "user": o.user,
            "replaces": o.replaces,
            "start": iso(start),
            "end": iso(end),
            "by": o.by,
        }
        self._note(after, now, "override", None, f"schedule:{o.schedule}", detail)

    def _incident(self, conn: Connection, ref: IncidentRef) -> tuple[int | None, str | None]:
        """The incident an action names, or why there is none."""
        if ref.incident is not None:
            if repo.get_incident(conn, ref.incident) is None:
                return None, f"no incident {ref.incident}"
            return ref.incident, None
        found = sorted(
            {
                i
                for fp, (labels, _since) in self.firing.items()
                if labels.get("alertname") == ref.alertname
                for i in repo.incidents_of(conn, fp)
            }
        )
        if not found:
            return None, f"no open incident holds a firing alert named {ref.alertname!r}"
        escalating = [i for i in found if repo.get_incident(conn, i).escalation]
        return (escalating or found)[0], None

    def _note(
        self,
        after: int,
        now: float,
        kind: str,
        incident: int | None,
        target: str | None,
        detail: dict[str, Any],
    ) -> None:
        entry = Entry(now, now - self.scenario.start, kind, incident, target, None, detail)
        self.noted.append(_Noted(after, len(self.noted), entry))

    # ---- reading back

    def result(self, logged: list[str]) -> Result:
        keyed = [((n.entry.at, n.after_id + 0.5, n.seq), n.entry) for n in self.noted]
        with self.db.connect() as conn:
            # the scenario's own alert_fired / alert_resolved carry the moment the alert was
            # posted; the pipeline's (written at its flush) would say it twice. Post-incident
            # duties (engine/duties.py: action items, their reminders) are not paging
            own = ("alert_fired", "alert_resolved", "action_item", "duty_reminder")
            query = select(timeline).where(timeline.c.kind.not_in(own)).order_by(timeline.c.id)
            for row in conn.execute(query):
                entry: Entry | None = self._entry(conn, row)
                if entry is not None and row.kind == "alerts_changed":  # only the muting's
                    entry = _muting_only(entry)
                if entry is not None:
                    keyed.append(((row.at, float(row.id), 0), entry))
            keyed.sort(key=lambda pair: pair[0])
            entries = [e for _key, e in keyed]
            rows = conn.execute(select(incidents).order_by(incidents.c.id)).all()
            summaries = [_summary(conn, row, entries, self.scenario.start) for row in rows]
        return Result(
            self.scenario,
            entries,
            summaries,
            self.sent,
            _warnings(entries, summaries) + _unsimulated(self.engine.config) + logged,
            self.steps,
            self.skipped,
        )

    def _entry(self, conn: Connection, row: Any) -> Entry:
        """A timeline row, with who was paged for a delivery (from its outbox message)."""
        detail = json.loads(row.detail)
        target, channel = detail.get("target"), detail.get("channel")
        if row.kind == "escalated":
            target = ", ".join(detail.get("targets", [])) or None
        if row.kind in ("notified", "notify_failed", "attempt_failed") and "notification" in detail:
            note = outbox.get(conn, int(detail["notification"]))
            message = json.loads(note.message) if note is not None else {}
            detail["recipient"] = (message.get("recipient") or {}).get("name")
            detail.setdefault("attempt", detail.get("attempts"))
            if note is not None and note.fallback_of is not None:
                detail["fallback_of"] = note.fallback_of
            if message.get("runbook_url"):
                detail["runbook_url"] = message["runbook_url"]
        return Entry(
            row.at, row.at - self.scenario.start, row.kind, row.incident_id, target, channel, detail
        )


def _muting_only(entry: Entry) -> Entry | None:
    """A flush's ``alerts_changed`` without what fired or resolved (the scenario says that at
    the moment each alert was posted); None when nothing was silenced or inhibited."""
    d = entry.detail
    if not d.get("silenced") and not d.get("inhibited"):
        return None
    muted = [a for a in d.get("alerts", []) if a.get("kind") in ("silenced", "inhibited")]
    detail = {**d, "fired": 0, "resolved": 0, "alerts": muted}
    detail.pop("still_firing", None)
    return replace(entry, detail=detail)


def _last_timeline_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(timeline.c.id))).scalar_one_or_none() or 0)


def _batches(steps: Iterable[Step]) -> Iterator[tuple[float, list[Step]]]:
    """Steps as they are applied: consecutive fire/resolve events at one instant together,
    every other event alone."""
    batch: list[Step] = []
    for step in steps:
        if (
            batch
            and step.at == batch[0].at
            and step.event.action in ALERT_ACTIONS
            and batch[0].event.action in ALERT_ACTIONS
        ):
            batch.append(step)
            continue
        if batch:
            yield batch[0].at, batch
        batch = [step]
    if batch:
        yield batch[0].at, batch


def _summary(conn: Connection, row: Any, entries: list[Entry], start: float) -> IncidentSummary:
    """An incident's summary; its figures are ``incidents.figures``'s, as ``incident show``,
    the postmortem and the reports count them."""
    mine = [e for e in entries if e.incident == row.id]
    fig = figures((Event(e.at, e.kind, e.detail) for e in mine), float(row.opened_at))
    acked = next((e for e in mine if e.kind == "acknowledged"), None)
    members = [a.alert for a in repo.incident_members(conn, row.id)]
    return IncidentSummary(
        id=row.id,
        title=incident_title(json.loads(row.group_labels), members),
        status=row.status,
        severity=row.severity,
        policy=json.loads(row.escalation)["policy"]["name"] if row.escalation else None,
        triggered_s=row.triggered_at - start if row.triggered_at is not None else None,
        ack_s=fig.time_to_acknowledge_s,
        acknowledged_by=acked.detail.get("by") if acked else None,
        resolve_s=fig.time_to_resolve_s,
        pages=fig.pages_sent,
        messages=fig.messages_sent,
        dead_letters=sum(
            1 for e in mine if e.kind == "notify_failed" and e.detail.get("dead_letter")
        ),
        escalations=fig.escalations,
        deadlines_missed=fig.deadline_misses,
    )


def _warnings(entries: list[Entry], summaries: list[IncidentSummary]) -> list[str]:
    """What a reader should not miss: nobody paged, actions refused, pages that failed."""
    out = [
        f"incident #{s.id} ({s.title}) matched no escalation policy: nobody was paged"
        for s in summaries
        if s.policy is None and s.triggered_s is not None
    ]
    for e in entries:
        if e.kind == "action_refused":
            d = e.detail
            out.append(f"events[{d['event']}] {d['action']} refused: {d['reason']}")
        elif e.kind == "notify_failed" and "reason" in e.detail:
            out.append(f"incident #{e.incident}: {e.detail['reason']}")
    return list(dict.fromkeys(out))


def _unsimulated(config: Config) -> list[str]:
    """What the configuration has that a simulation leaves out, said rather than ignored."""
    if not config.heartbeats:
        return []
    names = ", ".join(m.name for m in config.heartbeats[:10])
    more = ", …" if len(config.heartbeats) > 10 else ""
    return [
        "heartbeats are not simulated (a scenario sends no beats): no HeartbeatMissed"
        f" fires here for {names}{more}"
    ]


def run(
    scenario: Scenario,
    config: Config,
    max_steps: int = MAX_STEPS,
    skip_idle: bool = True,
    database: str = "sqlite://",
) -> Result:
    """Run a scenario (one event loop for the whole simulation) and read its timeline.
    Raises ScenarioError for names the configuration lacks, SimulationError for a runaway.
    ``skip_idle=False`` runs every idle flush too (the same timeline, more passes);
    ``database`` (a new SQLite file's URL) keeps the simulated database for ``tocsin
    incident show`` and the other readers."""
    check_against(scenario, config)
    runner = _Runner(scenario, config, max_steps, skip_idle, database)
    collect = _Collect()
    logger = logging.getLogger("tocsin")
    propagate = logger.propagate
    logger.addHandler(collect)
    logger.propagate = False  # the pipeline's warnings belong in the report
    try:
        asyncio.run(runner.run())
        return runner.result(collect.lines)
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
        runner.db.dispose()


def simulate_file(
    path: str | Path, max_steps: int = MAX_STEPS, keep: str | Path | None = None
) -> Result:
    """Load, check and run a scenario file: raises ScenarioError, ConfigError (the
    configuration is invalid) or SimulationError. ``keep``: a directory without a database
    yet, where the simulated database stays (``tocsin.db``) for ``incident show``, the
    postmortem and the report to read; SimulationError when it has one."""
    scenario = load_scenario(path)
    config = scenario_config(scenario)
    database = "sqlite://"
    if keep is not None:
        if (Path(keep) / "tocsin.db").exists():
            raise SimulationError(
                f"{keep} already holds a database; keep the simulation in a new directory"
            )
        database = database_url(keep, None)
    return run(scenario, config, max_steps, database=database)
