"""Words for counts and kinds in what people read: ``1 runbook``, ``2 runbooks``,
``2,900 alerts``, ``an admin token``. One place, so that no message says ``1 runbooks``,
``2900 alerts`` or ``a admin``."""

from __future__ import annotations


def plural(noun: str) -> str:
    """``noun``'s plural: ``runbook`` → ``runbooks``, ``policy`` → ``policies``,
    ``match`` → ``matches``."""
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def number(n: int) -> str:
    """A count as people read it, with thousands separators: ``2,900``, ``200,000``."""
    return f"{n:,}"


def count(n: int, noun: str, many: str | None = None) -> str:
    """``1 runbook``, ``0 runbooks``, ``2,900 runbooks`` (``many``: an irregular plural)."""
    return f"{number(n)} {noun if n == 1 else many or plural(noun)}"


def article(word: str) -> str:
    """``a`` or ``an`` before ``word``, by its first letter (``an admin``, ``a viewer``)."""
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"
