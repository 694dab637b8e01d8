"""The Alembic migrations create exactly the tables the code declares."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from tocsin.store import repo
from tocsin.store.db import alembic_config, begin_write, make_engine, upgrade
from tocsin.store.schema import metadata


def test_migrations_match_the_schema(db: Engine) -> None:
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_0004_keeps_each_fingerprints_current_episode(database_url: str) -> None:
    """alert_current goes; the latest row of each fingerprint is its current episode, before
    and after, and a downgrade rebuilds the table from the history."""
    engine = make_engine(database_url)
    upgrade(engine, "0003")
    episode = {"labels": "{}", "annotations": "{}", "updated_at": 1.0, "timeout": False}
    with engine.begin() as conn:
        for id_, fp, starts in ((1, "a" * 16, 1.0), (2, "b" * 16, 1.0), (3, "a" * 16, 5.0)):
            conn.execute(
                text(
                    "INSERT INTO alerts (id, fingerprint, labels, annotations, starts_at,"
                    " ends_at, updated_at, timeout, generator_url, source) VALUES (:id, :fp,"
                    " :labels, :annotations, :starts, :ends, :updated_at, :timeout, '', 'api')"
                ),
                {"id": id_, "fp": fp, "starts": starts, "ends": starts + 3, **episode},
            )
        conn.execute(text("INSERT INTO alert_current VALUES ('aaaaaaaaaaaaaaaa', 3)"))
        conn.execute(text("INSERT INTO alert_current VALUES ('bbbbbbbbbbbbbbbb', 2)"))
    upgrade(engine)
    with engine.connect() as conn:
        assert "alert_current" not in inspect(conn).get_table_names()
        current = repo.current_alerts(conn, ["a" * 16, "b" * 16, "c" * 16])
    assert {fp: stored.id for fp, stored in current.items()} == {"a" * 16: 3, "b" * 16: 2}
    with begin_write(engine) as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT fingerprint, alert_id FROM alert_current")).all()
    assert sorted(tuple(r) for r in rows) == [("a" * 16, 3), ("b" * 16, 2)]
    engine.dispose()
