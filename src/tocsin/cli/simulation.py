"""``tocsin simulate``: a scenario run through the real pipeline on a virtual clock (the
simulator in ``tocsin.simulate``), printed as a table or as JSON lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tocsin.cli.options import err, out


def simulate(
    scenario: Annotated[
        Path, typer.Argument(help="The scenario file (YAML); see docs/simulate.md.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, or json (one object per line).")
    ] = "table",
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep",
            help="A new directory where the simulated database stays, for tocsin incident "
            "show, postmortem and report with --data-dir.",
        ),
    ] = None,
) -> None:
    """Run a scenario through the real pipeline on a virtual clock: who is paged, when.

    Exit status: 2 invalid scenario, 1 invalid configuration, 3 runaway simulation."""
    from tocsin import simulate as simulating
    from tocsin.config import ConfigError

    if fmt not in ("table", "json"):
        err.print(f"tocsin: unknown format {fmt!r}; choose table or json")
        raise typer.Exit(2)
    try:
        result = simulating.simulate_file(scenario, keep=keep)
    except simulating.ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        for config_problem in exc.problems:
            print(str(config_problem), file=sys.stderr)
        raise typer.Exit(1) from None
    except simulating.SimulationError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        raise typer.Exit(3) from None
    if fmt == "json":
        for line in simulating.json_lines(result):
            print(line)
        return
    width = min(out.width, 120)
    for part in simulating.report(result, width):
        out.print(part, width=width)
