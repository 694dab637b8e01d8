"""The configured runners, built once, and the choice of one for a command.

``build_runners`` makes every runner of ``execute.runners`` at start (a secret is read, a
database URL checked, a user looked up then); a runner that cannot be used is a
``RunnerConfigError`` that names it, and nothing is left open.

``Runners.choose`` takes the first runner, in the file's order, that serves the command's
language (the http runner: a bash line that is one ``curl``/``wget`` GET or HEAD), whose
``runbooks`` globs match the runbook (its path relative to its runbook directory, or its
file name) and whose ``routes`` name the incident's receiver (none named: every runbook,
every route). The order decides: an http runner listed before a shell runner takes the
curl lines the shell runner would otherwise run; listed after it, it never gets them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tocsin.config.execute import choose
from tocsin.config.execute import runbook_matches as runbook_matches
from tocsin.config.models import ExecuteConfig
from tocsin.execute.base import Runner, RunnerConfigError
from tocsin.execute.http import HttpRunner
from tocsin.execute.promql import PromqlRunner
from tocsin.execute.shell import ShellRunner
from tocsin.execute.sql import SqlRunner
from tocsin.notify.base import SecretResolver, resolve_secret

BUILDERS: dict[str, Callable[[Any, SecretResolver], Runner]] = {
    "shell": ShellRunner,
    "promql": PromqlRunner,
    "sql": SqlRunner,
    "http": lambda config, _resolver: HttpRunner(config),
}


@dataclass(frozen=True)
class Entry:
    """A runner and what it serves."""

    runner: Runner
    runbooks: tuple[str, ...] = ()
    routes: frozenset[str] = frozenset()


class Runners:
    """The configured runners, in the file's order."""

    def __init__(self, entries: Sequence[Entry] = (), model: ExecuteConfig | None = None) -> None:
        self.entries = list(entries)
        self.model = model or ExecuteConfig()

    def __iter__(self) -> Iterator[Runner]:
        return (entry.runner for entry in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, name: str) -> Runner | None:
        return next((e.runner for e in self.entries if e.runner.name == name), None)

    def choose(
        self, language: str, text: str, runbook_source: str, route: str | None
    ) -> Runner | None:
        """The first runner that serves the command's language (and text), its runbook and
        its route (``config.execute.choose``, the one rule the service and the engine
        follow); None when none does (the command is shown, not run)."""
        chosen = choose(self.model, language, text, runbook_source, route)
        return self.get(chosen.name) if chosen is not None else None

    def close(self) -> None:
        """Close every runner (database pools, HTTP clients)."""
        for entry in self.entries:
            entry.runner.close()


def build_runners(model: ExecuteConfig, resolver: SecretResolver = resolve_secret) -> Runners:
    """Every configured runner, built; ``RunnerConfigError`` for one that cannot be used
    (those built before it are closed)."""
    built: list[Entry] = []
    names: set[str] = set()
    try:
        for config in model.runners:
            if config.name in names:
                raise RunnerConfigError(f"runner {config.name!r} is defined twice")
            names.add(config.name)
            runner = BUILDERS[config.type](config, resolver)
            built.append(Entry(runner, tuple(config.runbooks), frozenset(config.routes)))
    except BaseException:
        Runners(built).close()
        raise
    return Runners(built, model)
