"""``tocsin serve``, ``tocsin db upgrade`` and ``tocsin tokens create|list|revoke``: starting
the server (intake, API and engine) and preparing its database and its API tokens."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tocsin import __version__
from tocsin.cli.options import (
    ConfigPath,
    DatabaseUrl,
    DataDir,
    database,
    err,
    load,
    out,
    shown,
)
from tocsin.words import article

if TYPE_CHECKING:
    from tocsin.config import Config

db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)


def check_runners(config: Config) -> None:
    """Build every configured runner once (its secrets read, its user looked up, its database
    URL checked) and let go of them: one that cannot be used is said now, exit 1."""
    from tocsin.execute.base import RunnerConfigError
    from tocsin.execute.registry import build_runners

    try:
        build_runners(config.model.execute).close()
    except RunnerConfigError as exc:
        err.print(f"tocsin: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


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
    from tocsin.clock import RealClock
    from tocsin.logs import FORMATS, LEVELS
    from tocsin.serve import ServeOptions, first_signin, listening_socket, run_one, run_workers
    from tocsin.store import linkkey
    from tocsin.store.db import database_url as make_url

    if log_level is not None and log_level.lower() not in LEVELS:
        err.print(f"tocsin: --log-level must be one of {', '.join(LEVELS)}, not {log_level!r}")
        raise typer.Exit(2)
    if log_format is not None and log_format.lower() not in FORMATS:
        err.print(f"tocsin: --log-format must be one of {', '.join(FORMATS)}, not {log_format!r}")
        raise typer.Exit(2)
    host, _, port = listen.rpartition(":")
    if not port.isdigit():
        err.print(f"tocsin: --listen must be HOST:PORT, not {listen!r}")
        raise typer.Exit(2)
    try:  # taken by another server: say so now, not in a traceback after the banner
        listening_socket(host or "127.0.0.1", int(port), reuse_port=False).close()
    except OSError as exc:
        err.print(
            f"tocsin: cannot listen on {listen}: {exc.strerror or exc} (another server may "
            "be using it: stop it, or choose another address with --listen HOST:PORT)"
        )
        raise typer.Exit(1) from None
    if config == Path("tocsin.yaml") and not config.exists():
        config = builtin_config(Path(data_dir or "data"))
        out.print(
            f"no ./tocsin.yaml and no --config: running on the built-in configuration, written "
            f"to {config} (one route, told to this terminal; nobody is paged). Copy it to "
            "./tocsin.yaml to change it (docs/config.md).",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    loaded = load(config)  # every problem reported before anything starts
    check_runners(loaded)  # a runner that cannot be used stops the start, with why
    engine = database(data_dir, database_url)  # migrations, once
    # every process of the server finds the key of signed links there (store.linkkey)
    os.environ["TOCSIN_DATA_DIR"] = str(Path(data_dir or "data").resolve())
    linkkey.link_key(engine)  # created on the first start, owner-only
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
    first = first_signin(engine, url, RealClock().now())
    engine.dispose()
    out.print(f"console: {url}/", markup=False, highlight=False)
    if first is not None:
        out.print(
            f"first sign-in (no admin yet; good once, for a day): {first}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        banner(loaded, url, sys.argv[0], config, data_dir, database_url),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if workers == 1:
        run_one(options, reuse_port=False)
    else:
        raise typer.Exit(run_workers(options, workers))


BUILTIN = "builtin-tocsin.yaml"


def builtin_config(data_dir: Path) -> Path:
    """The built-in configuration's file in the data directory, written there the first time
    (a person's changes to it are kept: it is not written again)."""
    from importlib.resources import files

    path = data_dir / BUILTIN
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(files("tocsin.config").joinpath("builtin.yaml").read_text())
    return path


def example_alert(loaded: Config) -> dict[str, str]:
    """Labels of an alert the loaded configuration pages for: a runbook alert (its name and
    severity) whose route names an escalation policy, else any runbook alert, else a test."""
    from tocsin.runbooks.loader import load_catalog

    catalog = load_catalog(loaded.runbook_paths())
    candidates = [
        {"alertname": alert.name, "severity": alert.severity or "critical"}
        for _, alert in sorted(catalog.alerts(), key=lambda found: found[1].name)
    ]
    for labels in candidates:
        routed = loaded.route.routed(labels)
        if routed is not None and routed.route.escalation_policy:
            return labels
    return candidates[0] if candidates else {"alertname": "TocsinTest", "severity": "critical"}


def banner(
    loaded: Config,
    url: str,
    program: str,
    config: Path,
    data_dir: Path | None,
    database_url: str | None,
) -> str:
    """What to try, as commands that work when pasted: this program's path, this server's
    configuration and database, a user of the configuration and an alert it pages for."""
    tocsin = shlex.quote(program if os.sep in program else "tocsin")
    site = f"--config {shlex.quote(str(config))}"
    if database_url and os.environ.get("TOCSIN_DATABASE_URL") == database_url:
        site += ' --database-url "$TOCSIN_DATABASE_URL"'  # its password stays off the screen
    elif database_url:
        site += f" --database-url {shlex.quote(database_url)}"  # as typed on the command line
    else:
        site += f" --data-dir {shlex.quote(str(data_dir or 'data'))}"
    users = sorted(loaded.paging.users)
    user = f" --user {shlex.quote(users[0])}" if users else ""
    body = shlex.quote(json.dumps([{"labels": example_alert(loaded)}], separators=(",", ":")))
    http = shlex.quote(str(Path(data_dir or "data") / "amtool.yml"))
    return (
        f"try:  curl -s {url}/-/healthy\n"
        f"      TOKEN=$({tocsin} tokens create{user} --role admin {site} | tail -1)\n"
        f'      curl -s -H "Authorization: Bearer $TOKEN" -d {body} {url}/api/v2/alerts\n'
        f"      TOCSIN_URL={url} TOCSIN_TOKEN=$TOKEN {tocsin} incident list\n"
        f"      (umask 077; printf 'authorization:\\n  credentials: %s\\n' \"$TOKEN\" > {http})\n"
        f"      amtool --alertmanager.url={url} --http.config.file={http} alert query"
    )


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply database migrations (``serve`` does this at start too)."""
    from tocsin.store.db import current_revision

    engine = database(data_dir, database_url)
    out.print(f"database at revision {current_revision(engine)}", highlight=False)


def _users(config: Path | None) -> list[str]:
    """The users of the configuration (``--config``, else ./tocsin.yaml when there is one):
    a token of a person must name one of them."""
    if config is None:
        config = Path("tocsin.yaml")
        if not config.exists():
            return []
    return list(load(config).paging.users)


TokenConfig = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="TOCSIN_CONFIG",
        help="The tocsin.yaml whose users a token may belong to (default: ./tocsin.yaml, "
        "if there is one).",
    ),
]


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option("--role", help="viewer, responder, admin or intake.")],
    user: Annotated[
        str,
        typer.Option(
            "--user",
            help="Who acts with the token: the name the timeline shows for what is done with "
            "it. One of the configuration's users, if it has any (any name for intake).",
        ),
    ] = "",
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    config: TokenConfig = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token for a user. It is printed once, alone on the last line; only its
    hash is kept."""
    from tocsin.clock import RealClock
    from tocsin.errors import Invalid
    from tocsin.service import tokens
    from tocsin.store.repo import ROLES

    if role not in ROLES:
        err.print(f"tocsin: --role must be one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    if not user:
        user = role
        if role not in tokens.MACHINE_ROLES:
            err.print(
                f"tocsin: warning: no --user given: what is done with this token is recorded "
                f"as done by {role!r}; give each person a token of their own with --user NAME",
                markup=False,
                soft_wrap=True,
            )
    users = _users(config)
    engine = database(data_dir, database_url)
    try:
        made, secret = tokens.create(engine, RealClock().now(), user, role, name, users)
    except Invalid as exc:
        err.print(f"tocsin: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(
        f"created {article(role)} {role} token (id {made.id}) for {shown(made.user)}; "
        "keep it now, it is not shown again:",
        highlight=False,
    )
    print(secret)


@tokens_app.command("list")
def tokens_list(
    revoked: Annotated[bool, typer.Option("--revoked", help="Revoked tokens too.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The API tokens: id, user, role, what each is for, when it was made (and revoked).
    Never their secrets."""
    from rich.table import Table

    from tocsin.service import tokens

    found = tokens.tokens(database(data_dir, database_url), revoked=revoked)
    if not found:
        out.print("no tokens" if revoked else "no active tokens")
        return
    table = Table()
    columns = ["id", "user", "role", "for", "created"] + (["revoked"] if revoked else [])
    for column in columns:
        table.add_column(column)
    for token in found:
        shape = tokens.token_json(token)
        cells = [str(token.id), shown(token.user), token.role, shown(token.name)]
        cells.append(_when(shape["created_at"]))
        if revoked:
            cells.append(_when(shape["revoked_at"]) if shape["revoked_at"] else "")
        table.add_row(*cells)
    out.print(table)


def _when(at: str) -> str:
    """An RFC 3339 time as people read it: to the second, with its zone."""
    return at[:19].replace("T", " ") + " UTC"


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (tocsin tokens list).")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API token: servers refuse it from now on (within ten seconds)."""
    from tocsin.clock import RealClock
    from tocsin.errors import TocsinError
    from tocsin.service import tokens

    try:
        revoked = tokens.revoke(database(data_dir, database_url), RealClock().now(), token_id)
    except TocsinError as exc:
        err.print(f"tocsin: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(
        f"revoked token {revoked.id} ({revoked.role}, of {shown(revoked.user)})", highlight=False
    )
