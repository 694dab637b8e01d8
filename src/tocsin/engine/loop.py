"""The due-work loop: claim what is due (with a lease), carry it out in a transaction, and
reschedule or finish it. One loop per process; several processes share the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from tocsin.clock import Clock
from tocsin.config import Config
from tocsin.engine import updates as status_updates
from tocsin.engine.deliver import ChannelFactory, Deliverer, default_factory
from tocsin.engine.paging import Pager
from tocsin.incidents.flush import ALERT_EVENT_KINDS, alert_events, decide, mute
from tocsin.runbooks.model import Catalog
from tocsin.store import bulk, outbox, repo
from tocsin.store.db import begin_write
from tocsin.store.schema import due_work
from tocsin.store.wakeup import Listener

log = logging.getLogger("tocsin.engine")
LEASE_S = 60.0
INLINE_LIMIT = 100  # flushes done in an intake transaction; more is backpressure


class DueWorkEngine:
    def __init__(
        self,
        db: Engine,
        config: Config,
        clock: Clock,
        owner: str | None = None,
        catalog: Catalog | None = None,
        channel_factory: ChannelFactory = default_factory,
    ):
        self.db = db
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()
        self._wakes_at = math.inf  # while a pass runs, any new work may have been missed
        self.pager = Pager(config, catalog)
        self.deliverer = Deliverer(db, config, clock, self.owner, channel_factory)
        self._config = config

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        """A reloaded configuration: new flushes, escalations and deliveries use it; running
        escalations keep the policy they snapshotted."""
        self._config = config
        self.pager.config = config
        self.deliverer.config = config

    def sleeps_past(self, due_at: float) -> bool:
        """Whether work falling due at ``due_at`` needs a wake-up: the loop is running a pass
        (which may have missed it) or sleeps until later. Read from other threads."""
        return due_at < self._wakes_at

    def run_due(self, limit: int = 100) -> int:
        """Carry out everything due now (deliveries aside); how many items were handled.
        The deliveries it creates are left for ``Deliverer.run``."""
        handled = 0
        while True:
            count, _created = self.run_batch(limit, take=False)
            handled += count
            if count < limit:
                return handled

    def run_batch(self, limit: int = 100, take: bool = True) -> tuple[int, list[Any]]:
        """Claim and carry out up to ``limit`` due items in one transaction: the claim holds
        until the work commits (row locks with SKIP LOCKED on PostgreSQL, the write lock on
        SQLite), so no lease is needed for work done inside it. With ``take``, the
        deliveries it created come back leased to this engine, to be sent at once. When one
        item fails, the batch is done again one item per transaction so that the failing
        item rolls back alone (and is tried again after its lease lapses)."""
        now = self.clock.now()
        try:
            with begin_write(self.db) as conn:
                _fresh(conn)
                items = repo.claim_due(
                    conn, now, self.owner, LEASE_S, limit, exclude=[outbox.DELIVER]
                )
                _prefetch(conn, items)
                for item in items:
                    self._handle(conn, item, now)
                created = outbox.take_new(conn, self.owner, now, LEASE_S) if take else []
                outbox.forget_new(conn)
            count = len(items)
        except Exception:
            log.warning("a batch of due work failed; doing it item by item", exc_info=True)
            created, count = [], 0
            with self.db.connect() as conn:
                ids = [
                    r.id
                    for r in conn.execute(
                        select(due_work.c.id)
                        .where(due_work.c.due_at <= now, due_work.c.kind != outbox.DELIVER)
                        .order_by(due_work.c.due_at, due_work.c.id)
                        .limit(limit)
                    )
                ]
            for item_id in ids:
                try:
                    with begin_write(self.db) as conn:
                        _fresh(conn)
                        item = repo.claim_one(conn, item_id, now, self.owner, LEASE_S)
                        if item is None:
                            continue
                        count += 1
                        self._handle(conn, item, now)
                        if take:
                            created += outbox.take_new(conn, self.owner, now, LEASE_S)
                except Exception:
                    log.exception("due work %s failed; tried again in %.0f s", item_id, LEASE_S)
                    # its work rolled back with its claim: hold it for a lease, then again
                    with begin_write(self.db) as conn:
                        repo.claim_one(conn, item_id, now, self.owner, LEASE_S)
        if count and self.db.dialect.name == "sqlite":
            time.sleep(0.001)  # let other processes' writers take the lock in between
        return count, created

    def flush_inline(self, conn: Connection, incidents: list[int]) -> tuple[list[Any], bool]:
        """In the intake's transaction: the flushes of the incidents it touched that are due
        now (new groups with no group_wait), up to ``INLINE_LIMIT``, and the deliveries they
        create, leased to this engine to send after the commit; and whether that was all of
        them (the rest stay with the engine's loop, as does other due work)."""
        if not incidents:
            return [], True
        now = self.clock.now()
        _fresh(conn)
        items = repo.claim_due(
            conn,
            now,
            self.owner,
            LEASE_S,
            INLINE_LIMIT,
            kinds=[repo.FLUSH],
            refs=incidents[: INLINE_LIMIT * 10],
        )
        _prefetch(conn, items)
        for item in items:
            self._handle(conn, item, now)
        return outbox.take_new(conn, self.owner, now, LEASE_S), len(incidents) <= INLINE_LIMIT

    def _handle(self, conn: Connection, item: Any, now: float) -> None:
        if item.kind == repo.FLUSH:
            self._flush(conn, item.id, item.ref, now)
        elif item.kind == outbox.ESCALATE:
            escalated = self.pager.escalate(
                conn, item.ref, now, reason="not acknowledged in time", when_due=True
            )
            if not escalated:
                repo.finish(conn, item.id, self.owner)
        elif item.kind == outbox.DEADLINE:
            repo.finish(conn, item.id, self.owner)
            self.pager.deadline(conn, item.ref, now)
        elif item.kind == outbox.ACK_TIMEOUT:
            repo.finish(conn, item.id, self.owner)
            self.pager.ack_timeout(conn, item.ref, now)
        elif item.kind == status_updates.REMINDER:
            status_updates.handle_due(conn, self.pager, item, self.owner, now)
        else:
            log.warning("unknown due work kind %r; dropped", item.kind)
            repo.finish(conn, item.id, self.owner)

    async def run_once(self, limit: int = 100) -> int:
        """One pass: due work batch by batch, each batch's new messages sent as soon as it
        has committed; then the other deliveries due (retries, work left by others)."""
        handled = 0
        while True:
            count, created = await asyncio.to_thread(self.run_batch, limit)
            handled += count
            if created:
                handled += await self.deliverer.send(created)
            if count < limit:
                break
        handled += await self.deliverer.run()
        return handled

    def _flush(self, conn: object, item_id: int, incident_id: int, now_ts: float) -> None:
        from sqlalchemy import Connection

        assert isinstance(conn, Connection)
        now = repo.to_dt(now_ts)
        # locked before its alerts are read (on PostgreSQL; see repo.lock_incidents): an
        # alert the intake is adding is waited for, and then seen
        incident = repo.get_incident(conn, incident_id, lock=True)
        if incident is None or incident.status == "resolved":
            repo.finish(conn, item_id, self.owner)
            return
        ahead: _Prefetched | None = conn.info.get(_PREFETCH)
        stored = ahead.members.get(incident_id) if ahead else None
        if stored is None:
            stored = repo.incident_members(conn, incident_id)
        members = {a.fingerprint: a.alert for a in stored}
        # inhibition sources are only needed when a member is the target of some rule
        rules = self.config.inhibit_rules
        targeted = any(rule.is_target(a.labels) for rule in rules for a in members.values())
        firing_all = (
            {a.fingerprint: a.labels for a in repo.active_alerts(conn, now)} if targeted else {}
        )
        # read once per transaction: every flush in a batch has the same now
        silences = conn.info.get(_SILENCES)
        if silences is None:
            silences = conn.info[_SILENCES] = repo.active_silences(conn, now)
        muting = mute(members, silences, self.config.inhibit_rules, firing_all, now)
        history = ahead.histories.get(incident_id) if ahead else None
        sent, last_said = history or _histories(conn, [incident_id])[incident_id]
        for kind, fp, detail in alert_events(members, muting, now, last_said):
            alert = members[fp]
            repo.add_timeline(
                conn,
                incident_id,
                now,
                kind,
                {"fingerprint": fp, "alertname": alert.labels.get("alertname", ""), **detail},
            )
        last = repo.to_dt(incident.last_flush_at) if incident.last_flush_at else None
        decision = decide(
            members, muting, now, incident.last_flush_digest, last, incident.repeat_interval_s, sent
        )
        values: dict[str, object] = {}
        if decision.send:
            repo.add_timeline(
                conn,
                incident_id,
                now,
                "group_flushed",
                {
                    "firing": [_brief(fp, members[fp]) for fp in decision.firing],
                    "resolved": [_brief(fp, members[fp]) for fp in decision.resolved],
                    "muted": {
                        fp: {
                            "silenced_by": muting.silenced_by.get(fp, []),
                            "inhibited_by": muting.inhibited_by.get(fp, []),
                        }
                        for fp in decision.muted
                    },
                },
            )
            values.update(last_flush_at=now_ts, last_flush_digest=decision.digest)
            if decision.firing:
                values["title"] = self.pager.incident_title(conn, incident, members, now_ts)
            self.pager.flushed(
                conn, incident, members, decision.firing, decision.all_resolved, now_ts
            )
        route = self.config.route.find(incident.route_id)
        auto_resolve = bool(route.options.get("auto_resolve", True)) if route else True
        if incident.reopened_at is not None and auto_resolve:
            # a person reopened it after its alerts had ended: only alerts that end after
            # the reopening resolve it again
            ends = [repo.to_ts(a.ends_at) for a in members.values() if a.ends_at]
            auto_resolve = bool(ends) and max(ends) > incident.reopened_at
        if decision.all_resolved and auto_resolve:
            values.update(status="resolved", resolved_at=now_ts)
            repo.add_timeline(conn, incident_id, now, "resolved", {"reason": "all alerts resolved"})
            self.pager.stopped(conn, incident_id)
            repo.finish(conn, item_id, self.owner)
        elif decision.all_resolved:
            # the route keeps it open for a person to resolve; a new alert flushes it again
            if decision.send:
                repo.add_timeline(
                    conn, incident_id, now, "alerts_resolved", {"auto_resolve": False}
                )
            repo.finish(conn, item_id, self.owner)
        else:
            repo.reschedule(conn, item_id, self.owner, now_ts + incident.group_interval_s)
        if values:
            repo.update_incident(conn, incident_id, **values)

    async def run_forever(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        """The loop: handle what is due, then sleep until the next due time, a wake-up from
        new work, or ``idle_s``, whichever comes first."""
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self.wake.set)

        listener = Listener(self.db, wake)
        listener.start()
        try:
            while not stop.is_set():
                self._wakes_at = math.inf
                self.wake.clear()  # before the pass: a wake-up during it is not lost
                try:
                    await self.run_once()
                    with self.db.connect() as conn:
                        nxt = repo.next_due_at(conn)
                except Exception:
                    log.exception("engine pass failed")
                    nxt = None
                now = self.clock.now()
                delay = idle_s if nxt is None else min(idle_s, max(0.0, nxt - now))
                self._wakes_at = now + delay
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=delay)
        finally:
            await asyncio.to_thread(listener.stop)
            await self.deliverer.close()


def _brief(fp: str, alert: object) -> dict[str, object]:
    from tocsin.alerts.model import Alert

    assert isinstance(alert, Alert)
    return {
        "fingerprint": fp,
        "labels": alert.labels,
        "starts_at": alert.starts_at.isoformat() if alert.starts_at else None,
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
    }


_SILENCES = "tocsin_silences"


_PREFETCH = "tocsin_prefetched"


@dataclass
class _Prefetched:
    """What a batch's flushes read, read for all of them at once: members and history."""

    members: dict[int, list[Any]]
    histories: dict[int, History]


def _prefetch(conn: Connection, items: list[Any]) -> None:
    """Before a batch: the members and history of every incident it flushes, in a few
    statements instead of two per flush. Nothing else in a batch changes them before its
    flush (an incident has one flush item; escalations do not touch members or history)."""
    refs = [item.ref for item in items if item.kind == repo.FLUSH]
    if len(refs) < 2:  # a flush alone locks its incident itself (``_flush``)
        conn.info.pop(_PREFETCH, None)
        return
    repo.lock_incidents(conn, refs)  # before reading: no intake adds to them meanwhile
    conn.info[_PREFETCH] = _Prefetched(repo.members_of(conn, refs), _histories(conn, refs))


def _fresh(conn: Connection) -> None:
    """At the start of a transaction: nothing cached by an earlier one on this connection."""
    conn.info.pop(_SILENCES, None)
    conn.info.pop(_PREFETCH, None)
    outbox.forget_new(conn)


History = tuple[set[str], dict[str, str]]
_HISTORIES_SQL = (
    "SELECT incident_id, kind, detail FROM timeline WHERE incident_id IN ({in_})"
    " AND kind IN ("
    + ",".join(f"'{k}'" for k in ("group_flushed", *ALERT_EVENT_KINDS))
    + ") ORDER BY incident_id, id"
)


def _histories(conn: Connection, incident_ids: list[int]) -> dict[int, History]:
    """For each incident: the fingerprints ever sent as firing, and what the timeline last
    said of each alert (one statement per thousand incidents)."""
    found: dict[int, History] = {i: (set(), {}) for i in incident_ids}
    for incident_id, kind, text in bulk.select_in(conn, _HISTORIES_SQL, incident_ids):
        sent, last = found[incident_id]
        detail = json.loads(text)
        if kind == "group_flushed":
            sent.update(entry["fingerprint"] for entry in detail.get("firing", []))
        elif "fingerprint" in detail:
            last[detail["fingerprint"]] = ALERT_EVENT_KINDS[kind]
    return found
