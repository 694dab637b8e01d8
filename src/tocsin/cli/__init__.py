"""The ``tocsin`` command line: thin commands over the packages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tocsin import __version__
from tocsin.runbooks import export as exporting
from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.render import alert_view, alerts_table, problem_lines

app = typer.Typer(
    help="tocsin: runbook-driven alert response.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runbooks_app = typer.Typer(help="Read, lint and export the runbook catalog.", no_args_is_help=True)
app.add_typer(runbooks_app, name="runbooks")

out = Console(soft_wrap=False, highlight=False)
if not out.is_terminal:
    out = Console(soft_wrap=False, highlight=False, width=160)
err = Console(stderr=True, highlight=False)

Paths = Annotated[
    list[Path],
    typer.Argument(
        help="Runbook files or directories (walked recursively for .md, .markdown, .txt)."
    ),
]


def _version(value: bool) -> None:
    if value:
        out.print(f"tocsin {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """tocsin reads the runbooks your team already writes and makes them run."""


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


# --------------------------------------------------------------------------- server

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="TOCSIN_DATA_DIR",
        help="Where the embedded SQLite database lives (default: ./data).",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="TOCSIN_DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql://"
        "user@host/db (default: SQLite in the "
        "data directory).",
    ),
]
ConfigPath = Annotated[
    Path, typer.Option("--config", "-c", envvar="TOCSIN_CONFIG", help="The tocsin.yaml to use.")
]

db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
routes_app = typer.Typer(help="The routing tree.", no_args_is_help=True)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tokens_app, name="tokens")
app.add_typer(routes_app, name="routes")
app.add_typer(config_app, name="config")


def _load_config(path: Path):  # type: ignore[no-untyped-def]
    from tocsin.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        raise typer.Exit(1) from None


def _engine(data_dir: Path | None, database_url: str | None):  # type: ignore[no-untyped-def]
    from tocsin.store.db import database_url as make_url
    from tocsin.store.db import make_engine, upgrade

    engine = make_engine(make_url(data_dir, database_url))
    upgrade(engine)
    return engine


@app.command()
def serve(
    config: ConfigPath = Path("tocsin.yaml"),
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to listen on.")
    ] = "127.0.0.1:9093",
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Server processes sharing the port and the database (one per core).",
        ),
    ] = 1,
) -> None:
    """Run the server: intake, API and the engine, on the embedded SQLite by default."""
    from tocsin.serve import ServeOptions, run_one, run_workers
    from tocsin.store.db import database_url as make_url

    _load_config(config)  # every problem reported before anything starts
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        err.print(f"tocsin: --listen must be HOST:PORT, not {listen!r}")
        raise typer.Exit(2)
    engine = _engine(data_dir, database_url)  # migrations, once
    options = ServeOptions(
        config=config,
        database_url=make_url(data_dir, database_url),
        host=host or "127.0.0.1",
        port=int(port),
        log_level=log_level,
    )
    url = f"http://{options.host}:{options.port}"
    processes = f", {workers} worker processes" if workers > 1 else ""
    out.print(
        f"tocsin {__version__} listening on {url} ({engine.url.render_as_string()}{processes})",
        markup=False,
        highlight=False,
    )
    engine.dispose()
    out.print(
        f"try:  curl -s {url}/-/healthy\n"
        f"      tocsin tokens create --role admin   # then, with TOKEN set:\n"
        f'      curl -s -H "Authorization: Bearer $TOKEN" -d '
        '\'[{"labels":{"alertname":"PebbleDatabaseDown","severity":"critical"}}]\' '
        f"{url}/api/v2/alerts\n"
        f"      amtool --alertmanager.url={url} --http.config.file=http.yml alert query",
        markup=False,
        highlight=False,
    )
    if workers == 1:
        run_one(options, reuse_port=False)
    else:
        raise typer.Exit(run_workers(options, workers))


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply database migrations (``serve`` does this at start too)."""
    from tocsin.store.db import current_revision

    engine = _engine(data_dir, database_url)
    out.print(f"database at revision {current_revision(engine)}", highlight=False)


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option("--role", help="viewer, responder, admin or intake.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token. It is printed once, alone on the last line; only its hash is kept."""
    import secrets

    from tocsin.clock import RealClock
    from tocsin.store import repo
    from tocsin.store.db import begin_write

    if role not in repo.ROLES:
        err.print(f"tocsin: --role must be one of {', '.join(repo.ROLES)}")
        raise typer.Exit(2)
    token = "tocsin_" + secrets.token_urlsafe(32)
    engine = _engine(data_dir, database_url)
    with begin_write(engine) as conn:
        repo.create_token(conn, name or role, role, token, RealClock().now())
    out.print(f"created a {role} token; keep it now, it is not shown again:", highlight=False)
    print(token)


@routes_app.command("test")
def routes_test(
    labels: Annotated[list[str], typer.Argument(help="LABEL=VALUE pairs of an alert.")],
    config: ConfigPath = Path("tocsin.yaml"),
    tree: Annotated[bool, typer.Option("--tree", help="Show the matched routes' keys.")] = False,
) -> None:
    """The receivers an alert with these labels goes to, as ``amtool config routes test``."""
    from tocsin.alerts.matchers import MatcherError, parse_matcher

    loaded = _load_config(config)
    alert: dict[str, str] = {}
    for pair in labels:
        try:
            matcher = parse_matcher(pair)
        except MatcherError as exc:
            err.print(f"tocsin: {exc}")
            raise typer.Exit(2) from None
        if matcher.op.value != "=":
            err.print(f"tocsin: {pair!r}: give labels as LABEL=VALUE")
            raise typer.Exit(2)
        alert[matcher.name] = matcher.value
    matched = loaded.route.match(alert)
    print(",".join(r.receiver for r in matched))
    if tree:
        for route in matched:
            print(
                f"  {route.receiver}: {route.key}  group_by={list(route.group_by)}"
                f"{' (all labels)' if route.group_by_all else ''}  group key "
                f"{route.group_key(alert)}"
            )


@config_app.command("check")
def config_check(config: ConfigPath = Path("tocsin.yaml")) -> None:
    """Validate the whole configuration; every error is printed with its place."""
    loaded = _load_config(config)
    routes = loaded.route.walk()
    paging = loaded.paging
    templates = sum(
        1
        for c in paging.channels.values()
        for part in ("title", "text", "html")
        if getattr(c.templates, part) is not None
    )
    out.print(
        f"{config}: OK — {len(routes)} routes, {len(loaded.receivers)} receivers, "
        f"{len(loaded.inhibit_rules)} inhibit rules; {len(paging.channels)} channels, "
        f"{len(paging.users)} users, {len(paging.schedules)} schedules, "
        f"{len(paging.policies)} escalation policies, {len(paging.levels)} severity levels; "
        f"{templates} custom templates rendered against sample alerts for every message kind",
        highlight=False,
        markup=False,
    )


# --------------------------------------------------------------------------- simulate


@app.command()
def simulate(
    scenario: Annotated[
        Path, typer.Argument(help="The scenario file (YAML); see docs/simulate.md.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, or json (one object per line).")
    ] = "table",
) -> None:
    """Run a scenario through the real pipeline on a virtual clock: who is paged, when.

    Exit status: 2 invalid scenario, 1 invalid configuration, 3 runaway simulation."""
    from tocsin import simulate as simulating
    from tocsin.config import ConfigError

    if fmt not in ("table", "json"):
        err.print(f"tocsin: unknown format {fmt!r}; choose table or json")
        raise typer.Exit(2)
    try:
        result = simulating.simulate_file(scenario)
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


def _register_paging() -> None:
    import tocsin.cli_updates  # noqa: F401  (incident update, incident updates)
    from tocsin import cli_incidents  # noqa: F401  (its commands join the incident group)
    from tocsin.cli_paging import register

    register(app)


_register_paging()


def _register_response() -> None:
    from tocsin.cli_response import register

    register(app)


_register_response()


def _register_reports() -> None:
    from tocsin.cli_reports import register

    register(app)


_register_reports()


def main() -> None:
    app()
