"""Delivery of the outbox: at least once, with the one retry policy, per-channel concurrency
and rate limits, dead letters onto the timeline and to the fallback channel.

A delivery is due work of kind ``deliver`` (its ref is the notification). The engine claims a
batch with a short lease (``delivery.lease``, renewed every third of it while sends run),
sends them concurrently and records each attempt as it completes (those completing together
in one transaction), so a slow channel holds back no other's record. A process that dies
between sending and recording leaves the lease to lapse, and the next claim sends again with
the same idempotency key: at least once, never silently dropped, and after a crash only what
was in flight goes out twice.

Messages of one group go out in the order they were decided (notification ids): for one
group (the incidents' group key) and channel, a message waits while an earlier one is still
to be sent (``outbox.to_send``, in the transaction that created or claimed the batch, so
that nothing stands between the commit and the send): the resolution of incident #2 reaches
a channel before the page of #5 that the same alert opened after it. Within a batch, such
messages are sent one after the other; a message that does not get through holds back the
later ones until it is sent or dead-lettered (``outbox.release_next`` then moves them up).

Deliveries are claimed by lane (``oncall/throttle``: the incident's severity, pages before
messages that only inform, then age), and the top lane has sends of its own on each channel
(``delivery.top_lane_concurrency``). A message to a person first passes the person's limit on
the channel (``_admit``, over the buckets in the database that every replica shares): over it,
the message is held back (settled, on the timeline) and ``engine/held`` later sends the person
one summary of what was held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sqlalchemy import Engine

from tocsin import logs, ratelimit, times
from tocsin.clock import Clock
from tocsin.config import ChannelConfig, Config
from tocsin.incidents.figures import page_of
from tocsin.metrics import Metrics
from tocsin.notify import sms as sms_channel
from tocsin.notify.base import Channel, ThreadRoot
from tocsin.notify.http import http_session
from tocsin.notify.message import Message, from_json
from tocsin.notify.registry import build_channel
from tocsin.notify.retry import Outcome, next_step, policy_from
from tocsin.oncall import throttle
from tocsin.store import outbox, repo, sms, threads
from tocsin.store.db import begin_write
from tocsin.store.kinds import DELIVER, HELD_SUMMARY

log = logging.getLogger("tocsin.engine.deliver")
ChannelFactory = Callable[[ChannelConfig, aiohttp.ClientSession], Channel]


def log_delivery(
    row: Any, outcome: Outcome, attempt: int, status: str, retry_in_s: float | None = None
) -> None:
    """One record per delivery attempt, with its outcome: ``sent``, ``retrying`` (a failed
    attempt tried again later) or ``dead`` (given up; the fallback channel, if any, next).
    The recipient is named, the message never logged."""
    facts: dict[str, Any] = {
        "incident": row.incident_id,
        "notification": row.id,
        "kind": row.kind,
        "channel": row.channel,
        "recipient": row.target,
        "status": status,
        "attempt": attempt,
    }
    if outcome.status:
        facts["response_status"] = outcome.status
    if not outcome.ok:
        facts["error"] = (outcome.error or f"status {outcome.status}")[:300]
    if retry_in_s is not None:
        facts["retry_in_s"] = round(retry_in_s, 3)
    level = logging.INFO if outcome.ok else logging.WARNING
    log.log(level, f"delivery {status}", extra=logs.fields(**facts))


@dataclass(frozen=True)
class StoreThreads:
    """``notify.base.Threads`` over the store (``store/threads.py``, table ``slack_messages``):
    where a Slack app channel keeps each incident's message, shared by every replica."""

    db: Engine
    clock: Clock

    def _root(self, incident_id: int, channel: str, conversation: str) -> ThreadRoot | None:
        with self.db.connect() as conn:
            found = threads.root(conn, incident_id, channel, conversation)
        return ThreadRoot(*found) if found is not None else None

    def _keep(self, incident_id: int, channel: str, conversation: str, root: ThreadRoot) -> None:
        with begin_write(self.db) as conn:
            now = self.clock.now()
            threads.keep(conn, incident_id, channel, conversation, root.channel_id, root.ts, now)

    async def get(self, incident_id: int, channel: str, conversation: str) -> ThreadRoot | None:
        return await asyncio.to_thread(self._root, incident_id, channel, conversation)

    async def put(
        self, incident_id: int, channel: str, conversation: str, root: ThreadRoot
    ) -> None:
        await asyncio.to_thread(self._keep, incident_id, channel, conversation, root)


@dataclass
class _Bucket:
    """A token bucket: ``rate_per_minute`` sends, refilled continuously."""

    per_minute: int
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 when a send may go now, else the seconds to wait."""
        self.tokens, wait = ratelimit.take(self.tokens, self.at, self.per_minute, now)
        self.at = now
        return wait


@dataclass
class _Result:
    item_id: int
    notification_id: int
    outcome: Outcome | None  # None: not attempted (rate limit or channel missing)
    duration_ms: float = 0.0
    wait_s: float = 0.0
    error: str = ""
    held: bool = False  # held back by its person's limit: settled when it was decided


def _lane(one: _Result | _Ready) -> int:
    return one.priority if isinstance(one, _Ready) else throttle.TOP


def _person(one: _Ready) -> str:
    return str((one.message.recipient or {}).get("name", ""))


class _Recorder:
    """Records results as they complete: the first in a transaction of its own, those that
    complete meanwhile together in the next (``record`` runs in a thread)."""

    def __init__(self, record: Callable[[list[_Result]], None], items: set[int]) -> None:
        self._record = record
        self._queue: list[_Result] = []
        self._task: asyncio.Task[None] | None = None
        self.outstanding = set(items)  # due items not yet recorded: their leases are renewed

    def add(self, result: _Result) -> None:
        self._queue.append(result)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            await asyncio.to_thread(self._record, batch)
            self.outstanding.difference_update(r.item_id for r in batch)

    async def close(self) -> None:
        while self._task is not None and not self._task.done():
            await self._task
        if self._queue:
            await self._drain()


@dataclass(frozen=True)
class _Ready:
    """A delivery ready to be attempted."""

    item_id: int
    notification_id: int
    channel: Channel
    cfg: ChannelConfig
    message: Message
    place: tuple[str, str] | None  # its group and channel, in whose order it goes
    waits: bool  # an earlier message of its place is still to be sent
    row: Any = None  # the notification row
    priority: int = throttle.TOP  # its lane


@dataclass
class Deliverer:
    db: Engine
    config: Config
    clock: Clock
    owner: str
    # None: channels built over the store (a Slack app keeps its messages in slack_messages)
    factory: ChannelFactory | None = None
    rand: Callable[[], float] = random.random
    metrics: Metrics | None = None  # counts sent and dead-lettered notifications
    _http: aiohttp.ClientSession | None = None  # made in the event loop, by _channel
    _channels: dict[str, Channel] = field(default_factory=dict)
    _built_for: Config | None = None  # the configuration the channels were built from
    _semaphores: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is held (``delivery.lease``), renewed while it runs."""
        return times.parse_duration(self.config.model.delivery.lease)

    @property
    def order_wait_s(self) -> float:
        return times.parse_duration(self.config.model.delivery.order_wait)

    def _channel(self, name: str) -> tuple[Channel | None, ChannelConfig | None, str]:
        if self.config is not self._built_for:  # configuration reloaded: rebuild channels
            self._channels.clear()
            self._built_for = self.config
        cfg = self.config.paging.channels.get(name)
        if cfg is None:
            return None, None, f"channel {name!r} is not configured"
        if name not in self._channels:
            if self._http is None:
                self._http = http_session()
            try:
                self._channels[name] = (
                    self.factory(cfg, self._http)
                    if self.factory is not None
                    else build_channel(
                        cfg,
                        http=self._http,
                        threads=StoreThreads(self.db, self.clock),
                        external_url=self.config.model.global_.external_url,
                    )
                )
            except Exception as exc:  # a channel that cannot be built is a dead letter
                return None, cfg, f"channel {name!r} cannot be used: {exc}"
        return self._channels[name], cfg, ""

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def run(self, limit: int = 200) -> int:
        """Deliver everything due now; how many deliveries were attempted or settled."""
        handled = 0
        while True:
            now = self.clock.now()
            claimed = await asyncio.to_thread(self._claim, now, limit)
            if not claimed:
                return handled
            handled += await self.send(claimed)
            if len(claimed) < limit:
                return handled

    async def send(
        self, claimed: list[tuple[Any, Any]], committed: Awaitable[bool] | None = None
    ) -> int:
        """Send claimed (due item, notification) pairs, concurrently but in order within a
        group and channel, and record each as it completes. The notifications are rows of
        ``outbox.to_send``: each knows its group and whether it waits for an earlier one.
        ``committed``: the deliveries were created in a transaction that may still be
        committing (the intake's): each message is read and its channel made ready meanwhile,
        but nothing goes out before the commit held, for a page must not name an incident that
        was never stored (its id could be given to another one); if it failed, there is
        nothing to send (the sender of the alerts posts again)."""
        ready = [self._prepare(item, row) for item, row in claimed]
        if committed is not None and not await committed:
            log.warning(
                "%d deliveries not sent now: their transaction failed, or the writer stopped"
                " before saying (what it committed goes out when its lease lapses)",
                len(claimed),
            )
            return 0
        if not ready:
            return 0
        chains: dict[tuple[str, str] | int, list[_Result | _Ready]] = {}
        for one in sorted(ready, key=lambda r: r.notification_id):
            place = one.place if isinstance(one, _Ready) else None
            chains.setdefault(place or -one.item_id, []).append(one)
        if any(self._limit(one) is not None for one in ready):
            try:
                admitted = await asyncio.to_thread(self._admit, list(chains.values()))
            except Exception:  # a page must not be lost to the bookkeeping of a limit
                log.exception("each person's limits could not be read: sending without")
                admitted = {}
            chains = {
                key: [admitted.get(one.item_id, one) for one in chain]
                for key, chain in chains.items()
            }
        recorder = _Recorder(self._record, {r.item_id for r in ready})
        # the top lane's chains first: they take their channel's sends before the others
        ordered = sorted(chains.values(), key=lambda c: min(_lane(one) for one in c))
        sends = asyncio.gather(*(self._chain(c, recorder) for c in ordered))
        renewal = asyncio.create_task(self._renew(recorder))  # runs after the sends start
        try:
            await sends
            await recorder.close()
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
        return len(claimed)

    async def _chain(self, chain: list[_Result | _Ready], recorder: _Recorder) -> None:
        """One group's messages to one channel, oldest first, each after the one before got
        through; once one waits or fails, the later ones wait for it."""
        held = False
        for one in chain:
            if held or (isinstance(one, _Ready) and one.waits):
                held = True
                result = _Result(one.item_id, one.notification_id, None, wait_s=self.order_wait_s)
            else:
                result = await self._send(one)
                if isinstance(one, _Ready) and not (result.outcome and result.outcome.ok):
                    held = True
            recorder.add(result)

    async def _renew(self, recorder: _Recorder) -> None:
        """While sends run: extend the lease of those not yet recorded, every third of it."""
        while True:
            lease = self.lease_s
            await asyncio.sleep(lease / 3)
            open_items = sorted(recorder.outstanding)
            if open_items:
                try:
                    await asyncio.to_thread(self._renew_leases, open_items, lease)
                except Exception:
                    log.exception("renewing the lease of %d deliveries failed", len(open_items))

    def _renew_leases(self, item_ids: list[int], lease: float) -> None:
        with begin_write(self.db) as conn:
            outbox.renew(conn, item_ids, self.owner, self.clock.now() + lease)

    def _claim(self, now: float, limit: int) -> list[tuple[Any, Any]]:
        with begin_write(self.db) as conn:
            items = repo.claim_due(
                conn, now, self.owner, self.lease_s, limit, kinds=[DELIVER], by_priority=True
            )
            rows = outbox.to_send(conn, [item.ref for item in items])
            return [(item, rows.get(item.ref)) for item in items]

    def _prepare(self, item: Any, row: Any) -> _Result | _Ready:
        """What can be done before sending: the channel and the message (or the result of a
        delivery that cannot be attempted)."""
        if row is None or row.status != "pending":
            return _Result(item.id, item.ref, None)
        channel, cfg, error = self._channel(row.channel)
        if channel is None or cfg is None:
            return _Result(item.id, row.id, Outcome(ok=False, error=error, transient=False))
        place = (row.order_group, row.channel) if row.order_group is not None else None
        message = from_json(json.loads(row.message))
        lane = int(getattr(item, "priority", throttle.TOP) or 0)
        waits = bool(row.order_waits)
        return _Ready(item.id, row.id, channel, cfg, message, place, waits, row, lane)

    def _limit(self, one: _Result | _Ready) -> throttle.Limit | None:
        """The limit per person of the channel a message goes to a person through (None:
        not to a person, a summary, or no limit)."""
        if not isinstance(one, _Ready) or not one.message.recipient:
            return None
        if one.message.kind == throttle.SUMMARY_KIND or not one.message.recipient.get("name"):
            return None
        return self.config.model.delivery.person_limit(one.cfg.type, one.cfg.person_limit)

    def _admit(self, chains: list[list[_Result | _Ready]]) -> dict[int, _Result]:
        """Each person's limit, in one transaction over the buckets replicas share: which
        messages to people go now, and which are held back (settled here, for a summary
        later). Top lanes first, then in the order decided. A message not tried now (it
        waits for an earlier one of its group) or tried before (a retry) takes no token."""
        candidates: list[tuple[_Ready, throttle.Limit]] = []
        for chain in chains:
            for one in chain:
                if isinstance(one, _Ready) and one.waits:
                    break  # it and the later ones of its chain wait: not now
                limit = self._limit(one)
                if isinstance(one, _Ready) and limit is not None and one.row.attempts == 0:
                    candidates.append((one, limit))
        if not candidates:
            return {}
        candidates.sort(key=lambda c: (c[0].priority, c[0].notification_id))
        now = self.clock.now()
        when = times.to_dt(now)
        out: dict[int, _Result] = {}
        with begin_write(self.db) as conn:
            pairs = {(_person(one), one.cfg.name) for one, _limit in candidates}
            stored = outbox.buckets(conn, pairs)
            state = {
                pair: throttle.Bucket(float(r.tokens), float(r.at)) for pair, r in stored.items()
            }
            held: list[tuple[_Ready, throttle.Limit, float]] = []
            whom: dict[tuple[str, str], _Ready] = {}
            for one, limit in candidates:
                pair = (_person(one), one.cfg.name)
                decision = throttle.decide(
                    state.get(pair), limit, one.message.kind, one.priority, now
                )
                state[pair] = decision.bucket
                whom.setdefault(pair, one)
                if not decision.send:
                    held.append((one, limit, decision.wait_s))
            ids = {
                pair: outbox.save_bucket(
                    conn,
                    pair[0],
                    pair[1],
                    bucket,
                    whom[pair].row.target,
                    dict(whom[pair].message.recipient or {}),
                )
                for pair, bucket in state.items()
            }
            for one, limit, wait in held:
                pair = (_person(one), one.cfg.name)
                outbox.hold(conn, ids[pair], one.row, now)
                repo.finish(conn, one.item_id, self.owner)
                outbox.release_next(conn, one.row, now)
                outbox.schedule(conn, HELD_SUMMARY, [ids[pair]], now + wait)
                repo.add_timeline(
                    conn,
                    one.row.incident_id,
                    when,
                    "held_back",
                    {
                        "channel": one.cfg.name,
                        "person": pair[0],
                        "kind": one.message.kind,
                        "notification": one.notification_id,
                        "limit": str(limit),
                        "summary_at": times.to_dt(now + wait).isoformat(),
                    },
                )
                log.info(
                    "delivery held back",
                    extra=logs.fields(
                        incident=one.row.incident_id,
                        notification=one.notification_id,
                        kind=one.message.kind,
                        channel=one.cfg.name,
                        recipient=pair[0],
                        limit=str(limit),
                    ),
                )
                out[one.item_id] = _Result(one.item_id, one.notification_id, None, held=True)
        if self.metrics is not None:
            for one, _limit, _wait in held:
                self.metrics.notifications_held.labels(one.cfg.type).inc()
        return out

    async def _send(self, ready: _Result | _Ready) -> _Result:
        if isinstance(ready, _Result):
            return ready
        cfg = ready.cfg
        if cfg.rate_per_minute:
            bucket = self._buckets.get(cfg.name)
            now = self.clock.now()
            if bucket is None or bucket.per_minute != cfg.rate_per_minute:
                bucket = self._buckets[cfg.name] = _Bucket(
                    cfg.rate_per_minute, cfg.rate_per_minute, now
                )
            wait = bucket.take(now)
            if wait > 0:
                return _Result(ready.item_id, ready.notification_id, None, wait_s=wait)
        # the top lane has sends of its own: a slow channel busy with warnings makes no
        # critical page wait for a turn
        top = ready.priority == throttle.TOP
        key = f"{cfg.name}\0top" if top else cfg.name
        semaphore = self._semaphores.get(key)
        if semaphore is None:
            size = self.config.model.delivery.top_lane_concurrency if top else cfg.concurrency
            semaphore = self._semaphores[key] = asyncio.Semaphore(size)
        async with semaphore:
            started = time.perf_counter()
            try:
                outcome = await ready.channel.send(ready.message)
            except Exception as exc:  # a channel must not raise; if it does, it is a failure
                log.exception("channel %s raised", cfg.name)
                outcome = Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
            elapsed = (time.perf_counter() - started) * 1000
        return _Result(ready.item_id, ready.notification_id, outcome, duration_ms=elapsed)

    def _remember(self, conn: Any, row: Any, ref: str, now: float) -> None:
        """What a gateway accepted, by its id: an SMS or a call (``Outcome.ref``), kept so
        that a reply, a key pressed and a status callback find the incident and the person
        (``store.sms``). Other channels' ids are not kept."""
        cfg = self.config.paging.channels.get(row.channel)
        if cfg is None or cfg.type not in sms_channel.TYPES:
            return
        message = from_json(json.loads(row.message))
        sms.record_sent(
            conn,
            sms.Sent(
                sid=ref,
                channel=row.channel,
                kind=cfg.type,
                to_number=sms_channel.number_of(message) or "",
                user=str((message.recipient or {}).get("name", "")),
                incident_id=row.incident_id,
            ),
            now,
        )

    def _record(self, results: list[_Result]) -> None:
        """One transaction for the batch; if it fails, one per result, so that one bad row
        does not lose the others' records."""
        try:
            with begin_write(self.db) as conn:
                for result in results:
                    self._record_one(conn, result)
        except Exception:
            for result in results:
                try:
                    with begin_write(self.db) as conn:
                        self._record_one(conn, result)
                except Exception:
                    log.exception("recording delivery %s failed", result.notification_id)

    def _record_one(self, conn: Any, result: _Result) -> None:
        now = self.clock.now()
        when = times.to_dt(now)
        if result.held:  # settled when it was held (``_admit``)
            return
        row = outbox.get(conn, result.notification_id)
        if result.outcome is None:
            if row is not None and row.status == "pending" and result.wait_s > 0:
                repo.reschedule(conn, result.item_id, self.owner, now + result.wait_s)
            else:
                repo.finish(conn, result.item_id, self.owner)
            return
        assert row is not None
        outcome = result.outcome
        outbox.record_attempt(
            conn,
            row.id,
            now,
            outcome.ok,
            outcome.status,
            outcome.error,
            result.duration_ms,
            self.owner,
        )
        attempt = row.attempts + 1
        if outcome.ok:
            log_delivery(row, outcome, attempt, "sent")
            if self.metrics is not None:
                self.metrics.notifications_sent.labels(row.channel).inc()
            repo.finish(conn, result.item_id, self.owner)
            outbox.release_next(conn, row, now)
            if outcome.ref is not None:
                self._remember(conn, row, outcome.ref, now)
            repo.add_timeline(
                conn,
                row.incident_id,
                when,
                "notified",
                {
                    "channel": row.channel,
                    "target": row.target,
                    "kind": row.kind,
                    "attempt": attempt,
                    "notification": row.id,
                    **page_of(row.kind, row.idempotency_key, row.message),
                },
            )
            return
        cfg = self.config.paging.channels.get(row.channel)
        policy = policy_from(cfg.retry) if cfg is not None else None
        step = next_step(policy, attempt, outcome, self.rand()) if policy else "dead"
        if not isinstance(step, str):  # a delay: try again then ("done" is ok, handled above)
            log_delivery(row, outcome, attempt, "retrying", retry_in_s=step)
            repo.reschedule(conn, result.item_id, self.owner, now + step)
            # each failure is on the record (a rate limit, a 5xx), not only the last one
            repo.add_timeline(
                conn,
                row.incident_id,
                when,
                "attempt_failed",
                {
                    "channel": row.channel,
                    "target": row.target,
                    "kind": row.kind,
                    "attempt": attempt,
                    "status": outcome.status,
                    "error": outcome.error[:500],
                    "retry_at": times.to_dt(now + step).isoformat(),
                    "notification": row.id,
                },
            )
            return
        log_delivery(row, outcome, attempt, "dead")
        outbox.mark_dead(conn, row.id)
        if self.metrics is not None:
            self.metrics.notifications_failed.labels(row.channel).inc()
        repo.finish(conn, result.item_id, self.owner)
        outbox.release_next(conn, row, now)
        fallback = cfg.fallback if cfg is not None else None
        repo.add_timeline(
            conn,
            row.incident_id,
            when,
            "notify_failed",
            {
                "channel": row.channel,
                "target": row.target,
                "kind": row.kind,
                "attempts": attempt,
                "error": outcome.error[:500] or f"status {outcome.status}",
                "dead_letter": True,
                "fallback": fallback,
                "notification": row.id,
            },
        )
        if fallback and row.fallback_of is None:
            message = json.loads(row.message)
            key = f"{row.idempotency_key}:fallback"
            message["idempotency_key"] = key
            outbox.enqueue(
                conn,
                [
                    outbox.Pending(
                        row.incident_id,
                        fallback,
                        row.target,
                        row.kind,
                        message,
                        key,
                        fallback_of=row.id,
                    )
                ],
                now,
                self.config.paging.levels,
            )
