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
from tocsin.runbooks.model import Catalog
from tocsin.runbooks.render import alert_view, alerts_table, problem_lines
from tocsin.words import count

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
    out.print(
        f"{count(errors, 'error')}, {count(warnings, 'warning')}: see `tocsin runbooks lint`",
        style="dim",
    )


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
        f"{count(errors, 'error')}, {count(len(catalog.problems) - errors, 'warning')} in "
        f"{count(len(catalog.runbooks), 'runbook')}",
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
    runbooks_url: Annotated[
        str | None,
        typer.Option(
            "--runbooks-url",
            help="Where the runbook directory can be read on the web (runbooks_url in "
            "tocsin.yaml): each rule's runbook_url is the section there.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Take runbooks_url from this tocsin.yaml (when --runbooks-url is not given).",
        ),
    ] = None,
) -> None:
    """The catalog as JSON or YAML, or a Prometheus rule file for alerts with an expression
    (the alerts it leaves out, and why, are listed on stderr)."""
    if fmt not in exporting.FORMATS:
        err.print(f"tocsin: unknown format {fmt!r}; choose one of {', '.join(exporting.FORMATS)}")
        raise typer.Exit(2)
    catalog = load_catalog(paths)
    if fmt == "prometheus-rules":
        text = _rules(catalog, paths, runbooks_url, config)
    else:
        text = exporting.export(catalog, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _rules(catalog: Catalog, paths: list[Path], url: str | None, config: Path | None) -> str:
    """The rule file; what it leaves out, and a missing runbooks_url, said on stderr."""
    if url is None and config is not None:
        from tocsin.config import ConfigError, load_config

        try:
            url = load_config(config).model.runbooks_url
        except ConfigError as exc:
            err.print(f"tocsin: {exc}", markup=False)
            raise typer.Exit(1) from None
    found = exporting.prometheus_rules(catalog, url, paths)
    written = sum(len(g["rules"]) for g in found.rules["groups"])
    total = written + len(found.left_out)
    if found.left_out:
        err.print(f"tocsin: wrote {written} of {total} alerts; left out:", soft_wrap=True)
        for line in found.left_out:
            err.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    if url is None and written:
        err.print(
            "tocsin: the rules carry no runbook_url: give --runbooks-url, or --config with "
            "runbooks_url set",
            soft_wrap=True,
        )
    return exporting.rules_text(found)
