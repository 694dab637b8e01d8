"""Issue 17, item 21: plurals and articles are right."""

from __future__ import annotations

import pytest

from tocsin.words import article, count, plural


@pytest.mark.parametrize(
    ("n", "noun", "said"),
    [
        (1, "runbook", "1 runbook"),
        (0, "runbook", "0 runbooks"),
        (2, "runbook", "2 runbooks"),
        (1, "warning", "1 warning"),
        (3, "policy", "3 policies"),
        (2, "match", "2 matches"),
        (2, "day", "2 days"),
        (1, "alias", "1 alias"),
        (2, "alias", "2 aliases"),
    ],
)
def test_count(n: int, noun: str, said: str) -> None:
    assert count(n, noun) == said


def test_irregular_plural_given() -> None:
    assert count(2, "person", "people") == "2 people"
    assert plural("key") == "keys"


@pytest.mark.parametrize(
    ("word", "said"),
    [("admin", "an"), ("intake", "an"), ("responder", "a"), ("viewer", "a"), ("", "a")],
)
def test_article(word: str, said: str) -> None:
    assert article(word) == said
