"""The runner contract: a prepared command in, what came of it out.

A runner is called on a worker thread and blocks until the command ends or its timeout
passes; ``run`` never raises (a command that cannot be run is a ``Result`` with status
``error``). Nothing in a ``Request`` is built here: its text was filled and quoted by
``runbooks/gate.prepare`` from the alert's labels, and its ``params`` are the bound
parameters of an SQL statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tocsin.errors import Invalid

Status = Literal["ok", "failed", "timeout", "error", "stubbed"]
# ok: ran and succeeded (exit 0, a query answered, HTTP 2xx/3xx); failed: ran, did not
# succeed (a non-zero exit, an HTTP 4xx/5xx, a query the server refused); timeout: stopped at
# the runner's timeout; error: could not be run (a host not allowed, no connection, bad input);
# stubbed: not run at all (``tocsin simulate``'s runners), its output says so


@dataclass(frozen=True)
class Request:
    text: str  # the command as it runs: placeholders filled and quoted (SQL: ``:name`` params)
    language: str  # bash, powershell, sql, promql (http: a bash ``curl``/``wget`` line)
    params: Mapping[str, str] = field(default_factory=dict)  # SQL's bound parameters
    labels: Mapping[str, str] = field(default_factory=dict)  # the alert's (ssh's host label)
    # The command's risk is ``read`` (decided in pure code before it comes here): the sql
    # runner runs it in a read-only transaction and rolls it back; False (a change that was
    # approved) commits. The other runners do not read it: what a shell command does is its
    # own, and the http runner only ever sends GET and HEAD.
    read_only: bool = True


@dataclass(frozen=True)
class Result:
    status: Status
    output: str  # what it printed (stdout and stderr as they came), or a table; capped
    exit_code: int | None = None  # a process's exit status, an HTTP status code
    truncated: bool = False  # the output was longer than the runner's ``output_limit``
    duration_s: float = 0.0
    target: str = ""  # what was reached: ``local``, ``ssh ops@db1``, a URL's host, a database
    error: str = ""  # why it could not run or did not succeed, one line


class RunnerConfigError(Invalid):
    """A runner cannot be built from its configuration (a secret that cannot be read, a user
    to switch to while tocsin is not root, a database URL with no driver): raised at build,
    never by ``run``."""


class Runner(Protocol):
    name: str
    kind: str  # shell, promql, sql, http

    def serves(self, language: str, text: str) -> bool:
        """Whether this runner can run a command of ``language`` (the http runner: a bash
        line that is one ``curl`` or ``wget`` GET/HEAD)."""
        ...

    def target(self, request: Request) -> str:
        """Where the request would run (shown before it runs; ``error:`` and why when it
        could not, e.g. a host label that names a host not allowed)."""
        ...

    def run(self, request: Request) -> Result:
        """Run it, blocking; never raises."""
        ...

    def close(self) -> None:
        """Let go of what the runner holds (a database's connections, an HTTP client)."""
        ...
