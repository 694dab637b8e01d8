"""``tocsin runbooks list | show | lint | export``: the runbook catalog read from files, with no
server and no database (the catalog the engine attaches to incidents, seen from the terminal)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tocsin.cli.options import err, out
from tocsin.runbooks import export as exporting
from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.render import alert_view, alerts_table, problem_lines

runbooks_app = typer.Typer(help="Read, lint and export the runbook catalog.", no_args_is_help=True)

Paths = Annotated[
    list[Path],
    typer.Argument(
        help="Runbook files or directories (walked recursively for .md, .markdown, .txt)."
    ),
]


@runbooks_app.command("list")
def list_alerts(paths: Paths) -> None:
    """A table of alerts: severity, steps per phase, commands, source."""
    catalog = load_catalog(paths)
    out.print(alerts_table(catalog))
    errors = sum(1 for p in catalog.problems if p.level == "error")
    warnings = len(catalog.problems) - errors
    out.print(f"{errors} errors, {warnings} warnings: see `tocsin runbooks lint`", style="dim")


@runbooks_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Alert name, e.g. HighCPUUsage.")],
    paths: Annotated[list[Path] | None, typer.Argument(help="Where to look (default: .)")] = None,
) -> None:
    """One alert's runbook, rendered for a terminal (every runbook that documents it)."""
    catalog = load_catalog(paths or [Path(".")])
    found = catalog.find(name)
    if not found:
        err.print(f"tocsin: no runbook documents an alert named {name!r}")
        raise typer.Exit(1)
    for rb, alert in found:
        out.print(alert_view(rb, alert))


@runbooks_app.command("lint")
def lint(paths: Paths) -> None:
    """Problems in the runbooks; exit status 1 when any is an error."""
    catalog = load_catalog(paths)
    for line in problem_lines(catalog.problems):
        out.print(line, soft_wrap=True)
    errors = sum(1 for p in catalog.problems if p.level == "error")
    out.print(
        f"{errors} errors, {len(catalog.problems) - errors} warnings in "
        f"{len(catalog.runbooks)} runbooks",
        style="bold" if errors else "dim",
    )
    if catalog.has_errors:
        raise typer.Exit(1)


@runbooks_app.command("export")
def export(
    paths: Paths,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json, yaml or prometheus-rules.")
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """The catalog as JSON or YAML, or a Prometheus rule file for alerts with an expression."""
    if fmt not in exporting.FORMATS:
        err.print(f"tocsin: unknown format {fmt!r}; choose one of {', '.join(exporting.FORMATS)}")
        raise typer.Exit(2)
    text = exporting.export(load_catalog(paths), fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
