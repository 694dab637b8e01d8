"""The risk classes a command is given: read (only observes), change (changes state, can be
undone) or destructive (loses data or cannot be undone), each with the reason for it.

Every reader in this package returns a ``Verdict``; ``a | b`` keeps the higher risk, so a block
takes the highest risk of the commands in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tocsin.runbooks.model import RISK_ORDER, Risk


@dataclass(frozen=True)
class Verdict:
    risk: Risk
    reason: str

    def __or__(self, other: Verdict) -> Verdict:
        return other if RISK_ORDER[other.risk] > RISK_ORDER[self.risk] else self


READ = Verdict("read", "only observes")


def read(reason: str) -> Verdict:
    return Verdict("read", reason)


def change(reason: str) -> Verdict:
    return Verdict("change", reason)


def destroy(reason: str) -> Verdict:
    return Verdict("destructive", reason)


Reader = Callable[[list[str]], Verdict]
"""A tool's reader: the words after the tool's name to a verdict. A reader of a tool that runs
another command (``docker exec``, ``find -exec``, ``strace``) is also given a ``Reader`` for
that command (the shell's, ``shell.simple`` without redirects)."""

TextReader = Callable[[str], Verdict]
"""A reader of text: shell, SQL or PowerShell."""
