"""Signed inbound requests seen (``inbound_seen``): each request from Slack, an SMS gateway or
PagerDuty is acted on once. A verifier accepts a signed request only if it has not been seen
(``first_time``); the same request again, a replay, is refused and changes nothing. A source's
rows older than its ``keep_s`` are dropped as its new ones come: Slack and PagerDuty refuse
requests that old by their own timestamps (``KEEP_S``, a day); an SMS gateway's signature
covers no time at all, so its requests are remembered longer (``KEEP_UNDATED_S``), or a
captured request could act again the day after."""

from __future__ import annotations

from sqlalchemy import Connection, delete, text

from tocsin.store.schema import inbound_seen

KEEP_S = 86400.0  # a day: longer than any dated source's own window
KEEP_UNDATED_S = 400 * 86400.0  # a source whose requests carry no time (Twilio's)
MAX_KEY = 200


def first_time(conn: Connection, source: str, key: str, now: float, keep_s: float = KEEP_S) -> bool:
    """Record the request ``key`` of ``source`` (a signature, a message id, an event id) in the
    caller's transaction; False when it was seen before (a replay). ``keep_s``: how long this
    source's requests are remembered (its older rows are dropped now)."""
    c = inbound_seen.c
    conn.execute(delete(inbound_seen).where(c.source == source[:32], c.seen_at < now - keep_s))
    inserted = conn.execute(
        text(
            "INSERT INTO inbound_seen (source, key, seen_at) VALUES (:source, :key, :now)"
            " ON CONFLICT DO NOTHING"
        ),
        {"source": source[:32], "key": key[:MAX_KEY], "now": now},
    )
    return inserted.rowcount == 1


def forget(conn: Connection, source: str, key: str) -> None:
    """Drop the record of ``key``: a request taken but not carried out (its work failed), so
    that the sender's next attempt is taken rather than refused as a replay."""
    c = inbound_seen.c
    conn.execute(delete(inbound_seen).where(c.source == source[:32], c.key == key[:MAX_KEY]))
