"""``tocsin users password|remove-password``: a person's password for the console, set and
removed on the server host (``service.passwords``). The password is read from the terminal
(hidden, twice) or from standard input, never from the command line; only its hash is kept."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tocsin.cli.options import DatabaseUrl, DataDir, database, err, out, shown
from tocsin.cli.server import TokenConfig, _users
from tocsin.words import article

users_app = typer.Typer(help="People's passwords for the console.", no_args_is_help=True)

User = Annotated[str, typer.Argument(help="The user's name (one of the configuration's users).")]


def _read_stdin(limit: int) -> str:
    """The password on standard input: its first line, without the line's end."""
    text = sys.stdin.read(limit + 3)
    line = text.split("\n", 1)[0]
    return line.removesuffix("\r")


@users_app.command("password")
def password(
    user: User,
    role: Annotated[
        str,
        typer.Option("--role", help="What the password signs in as: viewer, responder or admin."),
    ],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from standard input (its first line) instead of asking.",
        ),
    ] = False,
    config: TokenConfig = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a user's password for the console, and the role it signs in as. It replaces any
    password before it and ends the sessions signed in with that one. Asked twice, hidden;
    only its hash is kept."""
    from tocsin.clock import RealClock
    from tocsin.errors import Invalid
    from tocsin.service import passwords

    try:
        passwords.check_role(role)
    except Invalid as exc:
        err.print(f"tocsin: --{exc}", markup=False)
        raise typer.Exit(2) from None
    users = _users(config)
    if password_stdin:
        given = _read_stdin(passwords.MAX_CHARS)
    else:
        given = typer.prompt(
            f"New password for {user}", hide_input=True, confirmation_prompt=True, err=True
        )
    engine = database(data_dir, database_url)
    try:
        made = passwords.set_password(engine, RealClock().now(), user, role, given, users)
    except Invalid as exc:
        err.print(f"tocsin: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(
        f"{shown(made.user)} signs in to the console as {article(role)} {role} with this "
        "password; sessions signed in with one before it are ended",
        highlight=False,
    )


@users_app.command("remove-password")
def remove_password(
    user: Annotated[str, typer.Argument(help="The user's name.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a user's password: they can no longer sign in with it, and its sessions end.
    Their API tokens are not touched."""
    from tocsin.errors import NotFound
    from tocsin.service import passwords

    try:
        passwords.remove_password(database(data_dir, database_url), user)
    except NotFound as exc:
        err.print(f"tocsin: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(
        f"removed the password of {shown(user.strip())}; its sessions are ended", highlight=False
    )
