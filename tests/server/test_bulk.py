"""store/bulk.py's multi-row insert on both databases: the rows it reports are exactly the
ones it inserted, however many statements it took and whatever a conflict skipped."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tocsin.store import bulk
from tocsin.store.db import begin_write

COLUMNS = ("kind", "ref", "due_at", "attempts")


def _insert(engine: Engine, refs: range) -> list[tuple[int, int]]:
    with begin_write(engine) as conn:
        rows = bulk.insert(
            conn,
            "due_work",
            COLUMNS,
            [("test", ref, float(ref), 0) for ref in refs],
            returning=("ref", "id"),
            on_conflict="(kind, ref) DO NOTHING",
        )
    return sorted((int(ref), int(id_)) for ref, id_ in rows)


def test_insert_returns_the_new_rows_only(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "MAX_PARAMS", 4 * 7)  # seven rows per statement: several
    first = _insert(db, range(0, 20))
    assert [ref for ref, _ in first] == list(range(20))
    assert len({id_ for _, id_ in first}) == 20
    # 10..19 are there already (DO NOTHING): only 20..29 are new, and only they come back
    second = _insert(db, range(10, 30))
    assert [ref for ref, _ in second] == list(range(20, 30))
    with db.connect() as conn:
        stored = dict(bulk.fetch(conn, "SELECT ref, id FROM due_work WHERE kind = {p}", ["test"]))
    assert dict(first + second) == stored


def test_insert_of_nothing_new_returns_nothing(db: Engine) -> None:
    _insert(db, range(3))
    assert _insert(db, range(3)) == []


def test_insert_returns_text_and_large_integers_exactly(db: Engine) -> None:
    """Text (quotes, newlines, non-ASCII) and the largest integer a column holds on both
    databases come back as they went in."""
    kind = 'a="\\"é\nü"'  # due_work.kind holds 32 characters
    with begin_write(db) as conn:
        rows = bulk.insert(
            conn,
            "due_work",
            COLUMNS,
            [("text", 2**31 - 1, 0.0, 0), (kind, 7, 0.0, 0)],
            returning=("kind", "ref"),
        )
    assert sorted(rows) == sorted([("text", 2**31 - 1), (kind, 7)])
