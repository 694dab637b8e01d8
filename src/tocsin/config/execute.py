"""The ``execute:`` section checked by name: runners named once, the routes they serve known,
their host patterns valid RE2 (docs/execute.md)."""

from __future__ import annotations

from collections.abc import Callable

import re2

from tocsin.config.models import Loc, ShellRunnerConfig, TocsinConfig


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
