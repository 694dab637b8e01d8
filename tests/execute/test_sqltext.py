"""SQL text read as PostgreSQL and SQLite read it (pure): one statement or refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.errors import Invalid
from tocsin.runbooks.fill import fill
from tocsin.runbooks.sqltext import one_statement, spans

BOTH = ("postgresql", "sqlite")

ONE = [
    "SELECT 1",
    "SELECT 1;",
    "SELECT 1 ;  -- done\n",
    "SELECT 1; /* done */",
    "SELECT 'a;b'",
    "SELECT 'it''s; fine'",
    'SELECT "odd;name" FROM t',
    "SELECT 1 -- ; DROP TABLE t",
    "SELECT 1 /* ; DROP TABLE t */",
    "SELECT x::int FROM t WHERE a = :a",
]
MORE = [
    "SELECT 1; SELECT 2",
    "SELECT 1;SELECT 2;",
    "SELECT 1; COMMIT; DELETE FROM t",
    "SELECT 1 -- comment\n; DELETE FROM t",
    "SELECT '\\'; DELETE FROM t; --'",  # a backslash is a plain character in a '' string
    "SELECT 1; /* c */ DELETE FROM t",
]


@pytest.mark.parametrize("dialect", BOTH)
@pytest.mark.parametrize("text", ONE)
def test_one_statement(text: str, dialect: str) -> None:
    one_statement(text, dialect)


@pytest.mark.parametrize("dialect", BOTH)
@pytest.mark.parametrize("text", MORE)
def test_more_than_one(text: str, dialect: str) -> None:
    with pytest.raises(Invalid, match="more than one statement"):
        one_statement(text, dialect)


@pytest.mark.parametrize(
    ("text", "dialect", "why"),
    [
        ("", "postgresql", "no statement"),
        ("  -- only a comment", "sqlite", "no statement"),
        (";", "postgresql", "an empty statement"),
        ("; SELECT 1", "sqlite", "an empty statement"),
        ("SELECT 'open", "postgresql", "a string constant does not end"),
        ('SELECT "open', "sqlite", "a quoted name does not end"),
        ("SELECT 1 /* open", "postgresql", "comment does not end"),
        ("SELECT $a$ open", "postgresql", "a string constant does not end"),
        ("SELECT [open", "sqlite", "a quoted name does not end"),
        ("SELECT 1", "mysql", "SQL of mysql is not read here"),
    ],
)
def test_refused(text: str, dialect: str, why: str) -> None:
    with pytest.raises(Invalid, match=why):
        one_statement(text, dialect)


def test_postgresql_rules() -> None:
    # E'' strings take backslash escapes; dollar quotes hold anything; comments nest
    one_statement("SELECT E'\\'; DELETE FROM t; --'", "postgresql")
    one_statement("SELECT $$;$$, $tag$ ; $$ ; $tag$", "postgresql")
    one_statement("SELECT 1 /* a /* nested ; */ still ; */", "postgresql")
    # a $ inside a name belongs to it: no dollar quote starts there
    with pytest.raises(Invalid, match="more than one"):
        one_statement("SELECT a$b$; DELETE FROM t; SELECT $b$ $b$", "postgresql")
    # only a bare E makes an escape string
    with pytest.raises(Invalid, match="more than one"):
        one_statement("SELECT note'\\'; DELETE FROM t; --'", "postgresql")


def test_sqlite_rules() -> None:
    one_statement("SELECT `a;b`, [c;d] FROM t", "sqlite")
    # SQLite block comments do not nest: the first */ ends it
    with pytest.raises(Invalid, match="more than one"):
        one_statement("SELECT 1 /* a /* b */ ; DELETE FROM t; /* */", "sqlite")
    # no dollar quotes in SQLite
    with pytest.raises(Invalid, match="more than one"):
        one_statement("SELECT $a$; DELETE FROM t; $a$", "sqlite")


def test_spans_name_each_part() -> None:
    text = "SELECT 'a', \"b\" -- c\n"
    kinds = [(s.kind, text[s.start : s.end]) for s in spans(text, "postgresql")]
    assert kinds == [
        ("code", "SELECT "),
        ("string", "'a'"),
        ("code", ", "),
        ("name", '"b"'),
        ("code", " "),
        ("comment", "-- c"),
        ("code", "\n"),
    ]


@given(st.text(max_size=60))
def test_a_filled_label_value_is_one_constant(value: str) -> None:
    """Whatever a label holds, the filler's SQL quoting leaves one statement with the value
    inside one string constant, in both dialects."""
    filled = fill("SELECT * FROM t WHERE host = {{ $labels.host }}", "sql", {"host": value})
    for dialect in BOTH:
        found = one_statement(filled.text, dialect)
        strings = [s for s in found if s.kind == "string"]
        assert len(strings) == 1
        inner = filled.text[strings[0].start + 1 : strings[0].end - 1]
        assert inner.replace("''", "'") == value
