"""Delivery of the outbox: at least once, with the one retry policy, per-channel concurrency
and rate limits, dead letters onto the timeline and to the fallback channel.

A delivery is due work of kind ``deliver`` (its ref is the notification). The engine claims a
batch with a lease, sends them concurrently, then records every attempt in one transaction.
A process that dies between sending and recording leaves the lease to lapse, and the next
claim sends again with the same idempotency key: at least once, never silently dropped.
"""

from __future__ import annotations

import asyncio
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
from tocsin.notify.base import Channel
from tocsin.notify.http import http_session
from tocsin.notify.message import Message, from_json
from tocsin.notify.registry import build_channel
from tocsin.notify.retry import Outcome, next_step, policy_from
from tocsin.store import outbox, repo
from tocsin.store.db import begin_write
from tocsin.store.kinds import DELIVER

log = logging.getLogger("tocsin.engine.deliver")
LEASE_S = 120.0
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


def default_factory(cfg: ChannelConfig, http: aiohttp.ClientSession) -> Channel:
    return build_channel(cfg, http=http)


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


@dataclass(frozen=True)
class _Ready:
    """A delivery ready to be attempted."""

    item_id: int
    notification_id: int
    channel: Channel
    cfg: ChannelConfig
    message: Message


@dataclass
class Deliverer:
    db: Engine
    config: Config
    clock: Clock
    owner: str
    factory: ChannelFactory = default_factory
    rand: Callable[[], float] = random.random
    metrics: Metrics | None = None  # counts sent and dead-lettered notifications
    _http: aiohttp.ClientSession | None = None  # made in the event loop, by _channel
    _channels: dict[str, Channel] = field(default_factory=dict)
    _built_for: Config | None = None  # the configuration the channels were built from
    _semaphores: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

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
                self._channels[name] = self.factory(cfg, self._http)
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
        """Send claimed (due item, notification) pairs concurrently, then record them.
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
        results = await asyncio.gather(*(self._send(one) for one in ready))
        await asyncio.to_thread(self._record, list(results))
        return len(claimed)

    def _claim(self, now: float, limit: int) -> list[tuple[Any, Any]]:
        with begin_write(self.db) as conn:
            items = repo.claim_due(conn, now, self.owner, LEASE_S, limit, kinds=[DELIVER])
            rows = outbox.many(conn, [item.ref for item in items])
            return [(item, rows.get(item.ref)) for item in items]

    def _prepare(self, item: Any, row: Any) -> _Result | _Ready:
        """What can be done before sending: the channel and the message (or the result of a
        delivery that cannot be attempted)."""
        if row is None or row.status != "pending":
            return _Result(item.id, item.ref, None)
        channel, cfg, error = self._channel(row.channel)
        if channel is None or cfg is None:
            return _Result(item.id, row.id, Outcome(ok=False, error=error, transient=False))
        return _Ready(item.id, row.id, channel, cfg, from_json(json.loads(row.message)))

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
        semaphore = self._semaphores.get(cfg.name)
        if semaphore is None:
            semaphore = self._semaphores[cfg.name] = asyncio.Semaphore(cfg.concurrency)
        async with semaphore:
            started = time.perf_counter()
            try:
                outcome = await ready.channel.send(ready.message)
            except Exception as exc:  # a channel must not raise; if it does, it is a failure
                log.exception("channel %s raised", cfg.name)
                outcome = Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
            elapsed = (time.perf_counter() - started) * 1000
        return _Result(ready.item_id, ready.notification_id, outcome, duration_ms=elapsed)

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
            return
        log_delivery(row, outcome, attempt, "dead")
        outbox.mark_dead(conn, row.id)
        if self.metrics is not None:
            self.metrics.notifications_failed.labels(row.channel).inc()
        repo.finish(conn, result.item_id, self.owner)
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
            )
