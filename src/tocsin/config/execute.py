"""The ``execute:`` section checked by name: runners named once, the routes they serve known,
their host patterns valid RE2 (docs/execute.md)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

import re2

from tocsin.config.models import ExecuteConfig, Loc, RunnerConfig, ShellRunnerConfig, TocsinConfig
from tocsin.runbooks.curl import HttpCheck, parse_check


def check_execute(model: TocsinConfig, report: Callable[[Loc, str], None]) -> None:
    """Report each problem of ``execute:`` at its place."""
    receivers = {r.name for r in model.receivers} | {model.route.receiver or ""}
    seen: set[str] = set()
    for i, runner in enumerate(model.execute.runners):
        here: Loc = ("execute", "runners", i)
        if runner.name in seen:
            report((*here, "name"), f"runner {runner.name!r} is defined twice")
        seen.add(runner.name)
        for j, route in enumerate(runner.routes):
            if route not in receivers:
                report((*here, "routes", j), f"no receiver is named {route!r}")
        ssh = runner.ssh if isinstance(runner, ShellRunnerConfig) else None
        patterns = ssh.allow_hosts if ssh else []
        for j, pattern in enumerate(patterns):
            try:
                re2.compile(pattern)
            except re2.error as exc:
                report((*here, "ssh", "allow_hosts", j), f"not a valid RE2 pattern: {exc}")


LANGUAGES: dict[str, frozenset[str]] = {
    "promql": frozenset({"promql"}),
    "sql": frozenset({"sql"}),
    "http": frozenset({"bash"}),
}


def runbook_matches(globs: Sequence[str], source: str) -> bool:
    """Whether a runbook (its path relative to its runbook directory) is one of ``globs``:
    a glob matches the path (``team/pebble-*.md``) or the file name (``pebble-*.md``).
    No globs: every runbook."""
    if not globs:
        return True
    path = PurePosixPath(source.replace("\\", "/"))
    text = str(path).removeprefix("./")
    return any(fnmatch.fnmatchcase(text, g) or fnmatch.fnmatchcase(path.name, g) for g in globs)


def choose(
    execute: ExecuteConfig, language: str, text: str, source: str, receiver: str | None
) -> RunnerConfig | None:
    """The runner that runs a command: the first of ``execute.runners`` that serves its
    language (the http runner: a bash line that is one ``curl`` or ``wget`` GET or HEAD),
    its runbook file (``source``, relative to its runbook directory) and its route
    (``receiver``; None: no route, only a runner that names none serves it); None when
    none does. The order decides: an http runner listed before a shell runner takes the
    curl lines the shell runner would otherwise run."""
    for runner in execute.runners:
        if isinstance(runner, ShellRunnerConfig):
            served = language in runner.languages
        else:
            served = language in LANGUAGES[runner.type]
            if runner.type == "http":
                served = served and isinstance(parse_check(text), HttpCheck)
        if not served or not runbook_matches(runner.runbooks, source):
            continue
        if runner.routes and receiver not in runner.routes:
            continue
        return runner
    return None


def auto_diagnose(execute: ExecuteConfig, route_on: bool, source: str) -> bool:
    """Whether an incident's read commands from the runbook ``source`` run by themselves:
    its route turns it on (``auto_diagnose: true``), or ``execute.auto_diagnose_runbooks``
    names the file."""
    return route_on or (
        bool(execute.auto_diagnose_runbooks)
        and runbook_matches(execute.auto_diagnose_runbooks, source)
    )
