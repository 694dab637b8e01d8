"""A signed inbound request acts once (``store.inbound``), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from tocsin.store import inbound
from tocsin.store.schema import inbound_seen


def test_first_time_then_replay_refused(db: Engine) -> None:
    with db.begin() as conn:
        assert inbound.first_time(conn, "slack", "v0=abc", 1000.0)
        assert not inbound.first_time(conn, "slack", "v0=abc", 1001.0)
        assert inbound.first_time(conn, "twilio", "v0=abc", 1001.0)  # sources apart


def test_old_rows_dropped_as_new_come(db: Engine) -> None:
    with db.begin() as conn:
        assert inbound.first_time(conn, "slack", "a", 1000.0)
    with db.begin() as conn:
        assert inbound.first_time(conn, "slack", "b", 1000.0 + inbound.KEEP_S + 1)
        left = conn.execute(select(func.count()).select_from(inbound_seen)).scalar_one()
    assert left == 1


def test_long_key_bounded(db: Engine) -> None:
    with db.begin() as conn:
        assert inbound.first_time(conn, "pagerduty", "x" * 5000, 1.0)
        assert not inbound.first_time(conn, "pagerduty", "x" * 5000, 2.0)


def test_an_undated_sources_requests_are_remembered_longer(db: Engine) -> None:
    """Twilio signs no time: its requests outlive a day, and another source's pruning."""
    later = 1000.0 + 2 * inbound.KEEP_S
    with db.begin() as conn:
        assert inbound.first_time(conn, "twilio", "sms:SM1", 1000.0, inbound.KEEP_UNDATED_S)
    with db.begin() as conn:
        assert inbound.first_time(conn, "slack", "v0=new", later)  # prunes Slack's only
        assert not inbound.first_time(conn, "twilio", "sms:SM1", later, inbound.KEEP_UNDATED_S)
    end = 1000.0 + inbound.KEEP_UNDATED_S + 1
    with db.begin() as conn:
        assert inbound.first_time(conn, "twilio", "sms:SM1", end, inbound.KEEP_UNDATED_S)
