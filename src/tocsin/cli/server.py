"""``tocsin serve``, ``tocsin db upgrade`` and ``tocsin tokens create``: starting the server
(intake, API and engine) and preparing its database and its API tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tocsin import __version__
from tocsin.cli.options import ConfigPath, DatabaseUrl, DataDir, database, err, load, out

db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)


def serve(
    config: ConfigPath = Path("tocsin.yaml"),
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to listen on.")
    ] = "127.0.0.1:9093",
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            envvar="TOCSIN_LOG_LEVEL",
            metavar="LEVEL",
            help="The least severe records logged: debug, info, warning, error or critical. "
            "Default: logging.level in the configuration, else info.",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            envvar="TOCSIN_LOG_FORMAT",
            metavar="FORMAT",
            help="text: readable lines; json: one JSON object a line, for a log shipper. "
            "Default: logging.format in the configuration, else text.",
            show_default=False,
        ),
    ] = None,
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
    from tocsin.logs import FORMATS, LEVELS
    from tocsin.serve import ServeOptions, run_one, run_workers
    from tocsin.store.db import database_url as make_url

    if log_level is not None and log_level.lower() not in LEVELS:
        err.print(f"tocsin: --log-level must be one of {', '.join(LEVELS)}, not {log_level!r}")
        raise typer.Exit(2)
    if log_format is not None and log_format.lower() not in FORMATS:
        err.print(f"tocsin: --log-format must be one of {', '.join(FORMATS)}, not {log_format!r}")
        raise typer.Exit(2)
    load(config)  # every problem reported before anything starts
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        err.print(f"tocsin: --listen must be HOST:PORT, not {listen!r}")
        raise typer.Exit(2)
    engine = database(data_dir, database_url)  # migrations, once
    options = ServeOptions(
        config=config,
        database_url=make_url(data_dir, database_url),
        host=host or "127.0.0.1",
        port=int(port),
        log_level=log_level.lower() if log_level else None,
        log_format=log_format.lower() if log_format else None,
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

    engine = database(data_dir, database_url)
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
    engine = database(data_dir, database_url)
    with begin_write(engine) as conn:
        repo.create_token(conn, name or role, role, token, RealClock().now())
    out.print(f"created a {role} token; keep it now, it is not shown again:", highlight=False)
    print(token)
