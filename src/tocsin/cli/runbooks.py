"""``tocsin runbooks list | show | lint | export | drift``: the runbook catalog read from files,
with no server and no database (the catalog the engine attaches to incidents, seen from the
terminal); ``drift`` compares it with the alerting rules a Prometheus loaded, here or on a
server (``--url``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.client import Client, LocalClient, SiteConfig, Token, Url, connect
from tocsin.cli.options import err, out, shown
from tocsin.errors import TocsinError
from tocsin.runbooks import drift as drifting
from tocsin.runbooks import export as exporting
from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.model import Catalog
from tocsin.runbooks.render import alert_view, alerts_table, problem_lines
from tocsin.times import format_time, parse_time
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


Prometheus = Annotated[
    str | None,
    typer.Option(
        "--prometheus",
        metavar="URL",
        help="The Prometheus whose loaded rules to compare with, such as "
        "http://prometheus:9090 (default: the first runner of type promql in the "
        "configuration's execute.runners).",
    ),
]


@runbooks_app.command("lint")
def lint(
    paths: Paths,
    prometheus: Prometheus = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Also compare with the Prometheus this tocsin.yaml configures (a runner "
            "of type promql), with its severity levels.",
        ),
    ] = None,
) -> None:
    """Problems in the runbooks; exit status 1 when any is an error. With --prometheus or
    --config, also where the runbooks drifted from the alerting rules Prometheus loaded
    (warnings `drift-...`; exit status 2 when they cannot be read)."""
    catalog = load_catalog(paths)
    problems = list(catalog.problems)
    failed, compared = "", ""
    if prometheus is not None or config is not None:
        from tocsin.config import load_config
        from tocsin.service.drift import compare_with

        try:
            loaded = load_config(config) if config is not None else None
            report = compare_with(catalog, loaded, prometheus, time.time())
        except TocsinError as exc:
            failed = exc.message
        else:
            problems += drifting.problems(report.findings, report.prometheus)
            compared = (
                f"; compared with {count(report.rules, 'alerting rule')} of {report.prometheus}"
            )
    for line in problem_lines(problems):
        out.print(line, soft_wrap=True)
    errors = sum(1 for p in problems if p.level == "error")
    out.print(
        f"{count(errors, 'error')}, {count(len(problems) - errors, 'warning')} in "
        f"{count(len(catalog.runbooks), 'runbook')}{shown(compared)}",
        style="bold" if errors else "dim",
    )
    if failed:
        err.print(f"tocsin: cannot compare with the live rules: {shown(failed)}")
        raise typer.Exit(2)
    if errors:
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


# --------------------------------------------------------------------------- drift

_NONE = "—"


def _where(finding: dict[str, Any]) -> str:
    """Where the runbook and the rule are: ``runbooks/web.md:12 · group web``."""
    parts = []
    if finding.get("source"):
        line = f":{finding['line']}" if finding.get("line") else ""
        parts.append(f"{finding['source']}{line}")
    if finding.get("group") is not None:
        parts.append(f"group {finding['group']}")
    if not finding.get("source") and finding.get("file"):
        parts.append(str(finding["file"]))
    return " · ".join(parts)


def drift_tables(report: dict[str, Any]) -> list[Any]:
    """One table per kind that has findings, in the order of ``runbooks.drift.KINDS``."""
    parts: list[Any] = []
    for kind in report["kinds"]:
        found = [f for f in report["findings"] if f["kind"] == kind]
        if not found:
            continue
        title = drifting.TITLES.get(kind, kind).replace("`", "")
        table = Table(title=f"{title} ({len(found)})", title_justify="left")
        table.add_column("Alert", style="bold", no_wrap=True)
        table.add_column("The runbook says", overflow="fold")
        table.add_column("The rule says", overflow="fold")
        if any(f.get("note") for f in found):
            table.add_column("Note", style="dim", overflow="fold")
        table.add_column("Where", style="dim", overflow="fold")
        for f in found:
            cells = [shown(f["alert"]), shown(f["runbook"] or _NONE), shown(f["rule"] or _NONE)]
            if len(table.columns) == 5:
                cells.append(shown(f.get("note") or ""))
            table.add_row(*cells, shown(_where(f)))
        parts.append(table)
    return parts


def _that(n: int, noun: str, verb: str, many: str | None = None) -> str:
    """``1 threshold that differs``, ``2 thresholds that differ``."""
    return f"{count(n, noun, many)} that {verb}{'s' if n == 1 else ''}"


def drift_summary(report: dict[str, Any]) -> str:
    """How many findings of each kind, against which Prometheus, read when."""
    tally = report["counts"]
    said = [
        count(tally["no_runbook"], "alerting rule") + " with no runbook",
        count(tally["no_rule"], "runbook alert") + " that no rule defines",
        _that(tally["threshold"], "threshold", "differ"),
        _that(tally["for"], "for duration", "differ"),
        _that(tally["severity"], "severity", "disagree", "severities"),
    ]
    read = format_time(parse_time(report["read_at"]))
    return (
        f"{count(sum(tally.values()), 'finding')}: {', '.join(said)}. Compared "
        f"{count(report['alerts'], 'runbook alert')} with the "
        f"{count(report['rules'], 'alerting rule')} of {report['prometheus']}, read {read}."
    )


@runbooks_app.command("drift")
def drift(
    prometheus: Prometheus = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="The report as JSON (what GET /api/v1/runbooks/drift answers)."
        ),
    ] = False,
    config: SiteConfig = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Where the runbooks drifted from the alerting rules Prometheus loaded: rules with no
    runbook, runbook alerts no rule defines, thresholds, `for` durations and severities
    that differ. Exit status 0 when none, 1 when there are findings, 2 when the rules
    cannot be read (no Prometheus configured or given, or it did not answer)."""
    client: Client | None = None
    try:
        client = connect(config, None, None, url, token)
        report = client.drift(prometheus)
    except TocsinError as exc:
        from tocsin.service.drift import NOT_CONFIGURED

        message = exc.message
        if message == NOT_CONFIGURED and isinstance(client, LocalClient):
            message += ", or give one: --prometheus URL"
        err.print(f"tocsin: {shown(message)}", soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        for table in drift_tables(report):
            out.print(table)
        out.print(shown(drift_summary(report)), soft_wrap=True)
    if report["findings"]:
        raise typer.Exit(1)
