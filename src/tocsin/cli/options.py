"""What every ``tocsin`` command shares: the consoles, the option types, and the one way a
command opens its site (the configuration file and the database).

The CLI is a front door like the HTTP API: a command parses its options here, opens the
configuration and the database through :class:`Site`, and calls into the packages below.
``--config``, ``--data-dir`` and ``--database-url`` read ``TOCSIN_CONFIG``, ``TOCSIN_DATA_DIR``
and ``TOCSIN_DATABASE_URL`` when not given, in every command. Command modules import this
module, never the app module (``tocsin.cli``), which imports them.
"""

from __future__ import annotations

import functools
import getpass
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from tocsin.templating import printable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tocsin.config import Config

out = Console(soft_wrap=False, highlight=False)
if not out.is_terminal:
    out = Console(soft_wrap=False, highlight=False, width=160)
# an error or a warning is one line, however long: a terminal wraps it, a log keeps it whole
err = Console(stderr=True, highlight=False, soft_wrap=True)


def shown(value: object) -> str:
    """Data (a label, a title, a note, a name) for ``out.print`` or a table cell: control
    characters shown as escapes (``templating.printable``: an ESC reaches no terminal), and
    never Rich markup (``[bold]`` prints as typed)."""
    return escape(printable(value))


ConfigPath = Annotated[
    Path, typer.Option("--config", "-c", envvar="TOCSIN_CONFIG", help="The tocsin.yaml to use.")
]
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
By = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who acts (kept on the timeline): a user in the configuration; default: the OS "
        "user, if it is one. With --url the token's user acts and --by is not needed.",
    ),
]
Number = Annotated[int, typer.Argument(help="The incident number.")]


def os_user() -> str | None:
    """The name this process runs as, when the system knows one (``getpass.getuser``)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def load(path: Path) -> Config:
    """The configuration at ``path``; on a problem every one is printed and the command exits 1."""
    from tocsin.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        raise typer.Exit(1) from None


def database(data_dir: Path | None, database_url: str | None) -> Engine:
    """An engine on the database URL given, else SQLite in the data directory; migrated."""
    from tocsin.store.db import database_url as make_url
    from tocsin.store.db import make_engine, upgrade

    engine = make_engine(make_url(data_dir, database_url))
    upgrade(engine)
    return engine


@dataclass(frozen=True)
class Site:
    """Which configuration and which database a command works on, as its options name them."""

    config: Path
    data_dir: Path | None
    database_url: str | None

    def open(self) -> tuple[Config, Engine]:
        """The loaded configuration (problems reported first) and the migrated database."""
        return load(self.config), database(self.data_dir, self.database_url)


_SITE_OPTIONS = (
    ("config", ConfigPath, Path("tocsin.yaml")),
    ("data_dir", DataDir, None),
    ("database_url", DatabaseUrl, None),
)


def with_site(command: Callable[..., None]) -> Callable[..., None]:
    """The command with ``--config``, ``--data-dir`` and ``--database-url`` as its last options
    in place of its keyword-only parameter ``site``, which it receives as a :class:`Site`."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "site"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, kind, default in _SITE_OPTIONS
    ]

    @functools.wraps(command)
    def run(**options: Any) -> None:
        where = Site(*(options.pop(name) for name, _kind, _default in _SITE_OPTIONS))
        command(**options, site=where)

    shown = signature.replace(parameters=[*kept, *added])
    run.__signature__ = shown  # type: ignore[attr-defined]  # what typer reads
    run.__annotations__ = {p.name: p.annotation for p in shown.parameters.values()}
    return run
