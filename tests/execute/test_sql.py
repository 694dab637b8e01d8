"""The SQL runner on a real PostgreSQL (a throwaway database on the local server; the tests
skip when none answers) and on a SQLite file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.execute.conftest import free_port, postgres_database, runner_config
from tocsin.execute.base import Request, RunnerConfigError
from tocsin.execute.sql import SqlRunner

ROWS = 250


@dataclass(frozen=True)
class Database:
    dialect: str
    dsn: str
    query: Callable[[str], list[tuple[object, ...]]]  # a direct read, past the runner

    def runner(self, **fields: object) -> SqlRunner:
        fields.setdefault("timeout", "10s")
        return SqlRunner(runner_config(type="sql", dsn={"value": self.dsn}, **fields))


SCHEMA = [
    "CREATE TABLE hosts (id integer PRIMARY KEY, name text NOT NULL, state text NOT NULL)",
    *(
        f"INSERT INTO hosts VALUES ({i}, 'db{i}', '{'down' if i % 50 == 0 else 'up'}')"
        for i in range(1, ROWS + 1)
    ),
]


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "app.db"
        with sqlite3.connect(path) as conn:
            for statement in SCHEMA:
                conn.execute(statement)

        def read_sqlite(sql: str) -> list[tuple[object, ...]]:
            with sqlite3.connect(path) as conn:
                return conn.execute(sql).fetchall()

        yield Database("sqlite", f"sqlite:///{path}", read_sqlite)
        return
    with postgres_database() as url:
        with psycopg.connect(url, autocommit=True) as pg:
            for statement in SCHEMA:
                pg.execute(statement)

        def read_postgres(sql: str) -> list[tuple[object, ...]]:
            with psycopg.connect(url) as pg:
                return pg.execute(sql).fetchall()

        yield Database("postgresql", url, read_postgres)


def sql(text: str, read_only: bool = True, **params: str) -> Request:
    return Request(text, "sql", params=params, read_only=read_only)


def test_a_select_with_a_bound_parameter(database: Database) -> None:
    runner = database.runner()
    result = runner.run(sql("SELECT id, name, state FROM hosts WHERE name = :name", name="db7"))
    assert result.status == "ok", result
    assert result.output == "id  name  state\n--  ----  -----\n7   db7   up"
    assert result.target.startswith(f"{database.dialect} ")
    assert "@" not in result.target and "postgres@" not in result.target
    runner.close()


def test_rows_past_max_rows_are_not_shown(database: Database) -> None:
    result = database.runner(max_rows=5).run(sql("SELECT id FROM hosts ORDER BY id"))
    lines = result.output.splitlines()
    assert lines[2:7] == ["1", "2", "3", "4", "5"]
    assert lines[7] == "… more rows (the first 5 are shown)" and len(lines) == 8
    assert not result.truncated


def test_the_output_limit(database: Database) -> None:
    result = database.runner(max_rows=1000, output_limit=256).run(sql("SELECT * FROM hosts"))
    assert result.status == "ok" and result.truncated and len(result.output.encode()) <= 256


def test_a_write_under_read_only_is_refused_by_the_database(database: Database) -> None:
    runner = database.runner()
    result = runner.run(sql("UPDATE hosts SET state = 'drained' WHERE id = :id", id="7"))
    assert result.status == "failed"
    if database.dialect == "postgresql":
        assert result.error == "cannot execute UPDATE in a read-only transaction"
    else:
        assert result.error == "not authorized (a read runs SELECT only)"
    for text in (
        "DELETE FROM hosts",
        "CREATE TABLE other (a integer)",
        "INSERT INTO hosts VALUES (999, 'x', 'y')",
        "DROP TABLE hosts",
    ):
        assert runner.run(sql(text)).status == "failed", text
    if database.dialect == "sqlite":
        for text in ("PRAGMA query_only = OFF", "ATTACH DATABASE ':memory:' AS other"):
            assert runner.run(sql(text)).status == "failed", text
    assert database.query("SELECT count(*) FROM hosts WHERE state = 'drained'") == [(0,)]
    assert database.query("SELECT count(*) FROM hosts") == [(ROWS,)]


def test_a_change_commits(database: Database) -> None:
    runner = database.runner()
    changed = runner.run(
        sql("UPDATE hosts SET state = :state WHERE id = :id", False, state="drained", id="7")
    )
    assert changed.status == "ok" and changed.output == "1 row", changed
    assert database.query("SELECT state FROM hosts WHERE id = 7") == [("drained",)]
    # and a read after it on the same pool is read-only again
    again = runner.run(sql("UPDATE hosts SET state = 'up' WHERE id = 7"))
    assert again.status == "failed"
    assert database.query("SELECT state FROM hosts WHERE id = 7") == [("drained",)]


def test_the_statement_timeout(database: Database) -> None:
    runner = database.runner(timeout="1s")
    slow = (
        "SELECT pg_sleep(10)"
        if database.dialect == "postgresql"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT count(*) FROM c"
    )
    start = time.monotonic()
    result = runner.run(sql(slow))
    assert result.status == "timeout" and result.error.startswith("stopped after 1s: ")
    assert time.monotonic() - start < 3
    assert runner.run(sql("SELECT 1 AS one")).status == "ok"  # the connection is fine after


def test_more_than_one_statement_is_refused_before_anything_runs(database: Database) -> None:
    runner = database.runner()
    for text in (
        "SELECT 1; UPDATE hosts SET state = 'x'",
        "SELECT 1; COMMIT; UPDATE hosts SET state = 'x'",
        "SELECT 1;\nUPDATE hosts SET state = 'x' -- comment",
        "SELECT 1 /* c */ ; /* c */ DELETE FROM hosts",
        "SELECT '\\'; UPDATE hosts SET state = 'x'; --'",
    ):
        result = runner.run(sql(text, read_only=False))
        assert result.status == "error", text
        assert result.error == "refused: it holds more than one statement (text after a ;)"
    assert database.query("SELECT count(*) FROM hosts WHERE state = 'x'") == [(0,)]
    one = runner.run(sql("SELECT 'a;b' AS x; -- a comment after it"))
    assert one.status == "ok" and one.output.endswith("a;b")


def test_colons_percents_and_backslashes_in_constants_are_text(database: Database) -> None:
    result = database.runner().run(
        sql(
            "SELECT 'db:1' AS a, '50%' AS b, /* :c */ :d AS d, 'x\\:y' AS e, "
            '\'%(d)s\' AS f, ":g" AS h FROM (SELECT 1 AS ":g") AS t -- :e',
            d="x:y",
        )
    )
    assert result.status == "ok", result
    assert result.output.splitlines()[2].split() == ["db:1", "50%", "x:y", "x\\:y", "%(d)s", "1"]


def test_postgresql_casts_and_slices_are_no_parameters() -> None:
    with postgres_database() as url:
        runner = SqlRunner(runner_config(type="sql", dsn={"value": url}))
        result = runner.run(sql("SELECT '7'::int + :n::int AS a, (ARRAY[1,2,3])[2:3] AS b", n="1"))
        assert result.status == "ok", result
        assert result.output.splitlines()[2].split() == ["8", "[2,", "3]"]
        runner.close()


def test_a_missing_parameter_is_an_error(database: Database) -> None:
    result = database.runner().run(sql("SELECT :nothing AS x"))
    assert result.status == "error" and "nothing" in result.error


def test_what_the_database_says_is_one_bounded_line(database: Database) -> None:
    result = database.runner().run(sql("SELECT * FROM no_such_table_" + "x" * 400))
    assert result.status == "failed" and "\n" not in result.error
    assert "no_such_table" in result.error and len(result.error) <= 300


def test_postgresql_escape_strings_are_read_as_postgresql_reads_them() -> None:
    with postgres_database() as url:
        runner = SqlRunner(runner_config(type="sql", dsn={"value": url}))
        result = runner.run(sql("SELECT E'it\\'s; fine' AS x, $q$a;b$q$ AS y"))
        assert result.status == "ok", result
        assert result.output.splitlines()[2].split("  ") == ["it's; fine", "a;b"]
        runner.close()


def test_no_server_is_an_error() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    result = SqlRunner(runner_config(type="sql", dsn={"value": dsn})).run(sql("SELECT 1"))
    assert result.status == "error" and "connection" in result.error.lower()


def test_build_refuses_what_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOCSIN_TEST_NO_DSN", raising=False)
    with pytest.raises(RunnerConfigError, match="dsn: environment variable TOCSIN_TEST_NO_DSN"):
        SqlRunner(runner_config(type="sql", dsn={"env": "TOCSIN_TEST_NO_DSN"}))
    with pytest.raises(RunnerConfigError, match="runs on PostgreSQL and SQLite, not mysql"):
        SqlRunner(runner_config(type="sql", dsn={"value": "mysql://reader@db/app"}))
    with pytest.raises(RunnerConfigError, match="dsn is not a database URL"):
        SqlRunner(runner_config(type="sql", dsn={"value": "not a url"}))
