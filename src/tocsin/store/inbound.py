"""Signed inbound requests seen (``inbound_seen``): each request from Slack, an SMS gateway or
PagerDuty is acted on once. A verifier accepts a signed request only if it has not been seen
(``first_time``); the same request again, a replay, is refused and changes nothing. Rows older
than ``KEEP_S`` are dropped as new ones come: every source refuses requests that old by their
own timestamps, or has unique ids that are never sent twice."""

from __future__ import annotations

from sqlalchemy import Connection, delete, text

from tocsin.store.schema import inbound_seen

KEEP_S = 86400.0  # a day: longer than any source's own window
MAX_KEY = 200


def first_time(conn: Connection, source: str, key: str, now: float) -> bool:
    """Record the request ``key`` of ``source`` (a signature, a message id, an event id) in the
    caller's transaction; False when it was seen before (a replay)."""
    conn.execute(delete(inbound_seen).where(inbound_seen.c.seen_at < now - KEEP_S))
    inserted = conn.execute(
        text(
            "INSERT INTO inbound_seen (source, key, seen_at) VALUES (:source, :key, :now)"
            " ON CONFLICT DO NOTHING"
        ),
        {"source": source[:32], "key": key[:MAX_KEY], "now": now},
    )
    return inserted.rowcount == 1
