"""A Slack app's message per incident and conversation (``slack_messages``): the first message
a chat channel posted for an incident there, which later messages edit in place and reply
under. The engine keeps them for its channels (``engine.deliver.StoreThreads``, the
``notify.base.Threads`` of the channels it builds); ``incident_of`` finds the incident a
message in Slack belongs to (a button pressed on it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from tocsin.store.schema import slack_messages

MAX_NAME = 200  # the channel's and the conversation's columns


def _key(incident_id: int, channel: str, conversation: str) -> Any:
    c = slack_messages.c
    return and_(
        c.incident_id == incident_id,
        c.channel == channel[:MAX_NAME],
        c.conversation == conversation[:MAX_NAME],
    )


def root(
    conn: Connection, incident_id: int, channel: str, conversation: str
) -> tuple[str, str] | None:
    """(Slack channel ID, ts) of the incident's message in the conversation, or None."""
    row = conn.execute(
        select(slack_messages.c.slack_channel, slack_messages.c.ts).where(
            _key(incident_id, channel, conversation)
        )
    ).first()
    return (row.slack_channel, row.ts) if row is not None else None


def keep(
    conn: Connection,
    incident_id: int,
    channel: str,
    conversation: str,
    slack_channel: str,
    ts: str,
    now: float,
) -> None:
    """Keep (Slack channel ID, ts) as the incident's message in the conversation, in place of
    any kept before (the old one was deleted in Slack, or a retry posted it again)."""
    conn.execute(delete(slack_messages).where(_key(incident_id, channel, conversation)))
    conn.execute(
        insert(slack_messages).values(
            incident_id=incident_id,
            channel=channel[:MAX_NAME],
            conversation=conversation[:MAX_NAME],
            slack_channel=slack_channel,
            ts=ts,
            at=now,
        )
    )


def incident_of(conn: Connection, slack_channel: str, ts: str) -> int | None:
    """The incident whose kept message is ``ts`` in the Slack channel, or None."""
    row = conn.execute(
        select(slack_messages.c.incident_id).where(
            slack_messages.c.slack_channel == slack_channel, slack_messages.c.ts == ts
        )
    ).first()
    return int(row.incident_id) if row is not None else None
