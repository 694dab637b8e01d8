"""The summary of what a person's limit on a channel held back (due work ``held_summary``,
its ref a contact bucket).

``engine/deliver`` holds a message to a person that is over the person's limit on the channel
(``oncall/throttle.decide``) and schedules this for when the bucket has a token again. Then
the person receives one message saying what was held (``throttle.summary``: how many, since
when, which incidents, the held pages with their links), instead of the backlog. The summary
takes the bucket's token; if another message took it meanwhile, the summary waits for the
next one. Each incident it covers says so on its timeline (``held_summary``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection

from tocsin import logs, times
from tocsin.engine import messages
from tocsin.engine.stage import Settings
from tocsin.oncall import throttle
from tocsin.store import outbox, repo

log = logging.getLogger("tocsin.engine.held")


def due(s: Settings, conn: Connection, item: Any, owner: str, now: float) -> None:
    bucket = outbox.bucket(conn, item.ref)
    rows = outbox.held(conn, item.ref) if bucket is not None else []
    if bucket is None or not rows:
        repo.finish(conn, item.id, owner)
        return
    cfg = s.config.paging.channels.get(bucket.channel)
    delivery = s.config.model.delivery
    limit = delivery.person_limit(cfg.type, cfg.person_limit) if cfg is not None else None
    recipient = json.loads(bucket.recipient)
    if limit is not None:
        after, wait = throttle.take(throttle.Bucket(bucket.tokens, bucket.at), limit, now)
        if wait > 0:  # another message took the token: the next one
            repo.reschedule(conn, item.id, owner, now + wait)
            return
        outbox.save_bucket(conn, bucket.person, bucket.channel, after, bucket.target, recipient)
    levels = s.config.paging.levels
    held: list[throttle.Held] = []
    lane = throttle.priority("resolved", None, levels)
    for row in rows:
        message = json.loads(row.message)
        severity = message.get("severity")
        lane = min(lane, throttle.priority(row.kind, severity, levels))
        held.append(
            throttle.Held(
                row.incident_id,
                row.kind,
                str(message.get("title", "")),
                severity,
                str(message.get("external_url", "")),
                float(row.at),
            )
        )
    title, text = throttle.summary(held, limit or throttle.Limit(1, 60.0), bucket.channel, now)
    incident = repo.get_incident(conn, rows[-1].incident_id)
    key = f"held:{bucket.id}:{rows[-1].id}"
    composed = messages.message(
        s, conn, incident, throttle.SUMMARY_KIND, now, key, recipient=recipient, text=text
    )
    composed["title"] = title
    pending = outbox.Pending(
        incident.id,
        bucket.channel,
        bucket.target,
        throttle.SUMMARY_KIND,
        composed,
        key,
        priority=lane,
    )
    ids = outbox.enqueue(conn, [pending], now, levels)
    outbox.summarized(conn, [r.id for r in rows], ids[0] if ids else 0)
    when = times.to_dt(now)
    per_incident: dict[int, int] = {}
    for row in rows:
        per_incident[row.incident_id] = per_incident.get(row.incident_id, 0) + 1
    for incident_id, count in per_incident.items():
        repo.add_timeline(
            conn,
            incident_id,
            when,
            "held_summary",
            {
                "channel": bucket.channel,
                "person": bucket.person,
                "held": count,
                "total": len(rows),
                "incidents": len(per_incident),
                "notification": ids[0] if ids else None,
            },
        )
    log.info(
        "held messages summed up",
        extra=logs.fields(
            channel=bucket.channel,
            recipient=bucket.person,
            held=len(rows),
            incidents=len(per_incident),
        ),
    )
    repo.finish(conn, item.id, owner)
