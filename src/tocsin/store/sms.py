"""SMS and calls sent through a Twilio-shaped gateway (``sms_sent``): the gateway's SID of
each message and call, with the incident, the person and the number it went to, and the
gateway's latest delivery status.

The deliverer records a row when a channel's ``Outcome`` carries the gateway's id
(``engine/deliver.py``); an SMS reply finds the latest incident paged to its number
(``latest_to``), a key pressed on a call and a status callback find their row by SID
(``get``). Status callbacks arrive in any order and may come twice: ``set_status`` never
moves a message back from a final status to an earlier one, and says whether the status
changed, so that a failure goes on the timeline once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tocsin.store.schema import incidents, sms_sent

MAX_SID = 64
MAX_STATUS = 20
MAX_CODE = 16

# Twilio's statuses in the order they happen; a later one wins, a final one stays.
_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "initiated": 2,
    "sending": 2,
    "ringing": 3,
    "sent": 3,
    "in-progress": 4,
    "delivered": 9,
    "undelivered": 9,
    "failed": 9,
    "read": 9,
    "completed": 9,
    "busy": 9,
    "no-answer": 9,
    "canceled": 9,
}
FINAL = 9


@dataclass(frozen=True)
class Sent:
    """What the gateway accepted: one SMS or call."""

    sid: str
    channel: str
    kind: str  # sms | voice
    to_number: str
    user: str  # "" when to no person
    incident_id: int
    status: str = "queued"


def record_sent(conn: Connection, sent: Sent, now: float) -> None:
    """Remember a message or call the gateway accepted (a SID seen before is kept as it is:
    a retried delivery whose first attempt was recorded)."""
    if get(conn, sent.sid) is not None:
        return
    conn.execute(
        insert(sms_sent).values(
            sid=sent.sid[:MAX_SID],
            channel=sent.channel,
            kind=sent.kind,
            to_number=sent.to_number[:20],
            user_name=sent.user,
            incident_id=sent.incident_id,
            status=sent.status[:MAX_STATUS],
            error_code=None,
            sent_at=now,
            updated_at=now,
        )
    )


def get(conn: Connection, sid: str) -> Any | None:
    """The row of a message or call by the gateway's SID."""
    return conn.execute(select(sms_sent).where(sms_sent.c.sid == sid[:MAX_SID])).first()


def latest_to(conn: Connection, number: str, statuses: tuple[str, ...] | None = None) -> Any | None:
    """The latest SMS or call to ``number``: the incident a bare "1" answers. With
    ``statuses``, the latest whose incident is in one of them (an acknowledgement answers the
    newest page still triggered, not a newer notice about one acknowledged already)."""
    query = select(sms_sent).where(sms_sent.c.to_number == number)
    if statuses is not None:
        query = query.join(incidents, incidents.c.id == sms_sent.c.incident_id).where(
            incidents.c.status.in_(statuses)
        )
    return conn.execute(
        query.order_by(sms_sent.c.sent_at.desc(), sms_sent.c.sid.desc()).limit(1)
    ).first()


def set_status(
    conn: Connection, sid: str, status: str, error_code: str | None, now: float
) -> tuple[Any | None, bool]:
    """The gateway's word on a message or call: the row (None: not ours) and whether its
    status changed. A final status is never replaced; an earlier one than the stored is
    ignored (callbacks come in any order)."""
    row = get(conn, sid)
    if row is None:
        return None, False
    status = status[:MAX_STATUS]
    old = _ORDER.get(row.status, 0)
    new = _ORDER.get(status, 0)
    if status == row.status or old >= FINAL or new < old:
        return row, False
    code = error_code[:MAX_CODE] if error_code else None
    conn.execute(
        update(sms_sent)
        .where(sms_sent.c.sid == row.sid)
        .values(status=status, error_code=code, updated_at=now)
    )
    return get(conn, sid), True
