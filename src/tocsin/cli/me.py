"""``tocsin me``: a person's own contact methods and notification rules (``contacts``,
``rules``) and a test through one of them (``test NAME``), on a server (the token's user) or
on this host (``--by``, or ``--user`` for another person). Changing them is done in the
console (``/me/notifications``) or through the API (docs/paging.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.client import Client, refusals, with_client
from tocsin.cli.options import By, out, shown

me_app = typer.Typer(help="Your contact methods and notification rules.", no_args_is_help=True)

User = Annotated[
    str | None, typer.Option("--user", help="Another person's (an admin on a server).")
]
Format = Annotated[str, typer.Option("--format", help="table or json.")]


def _view(client: Client, by: str | None, user: str | None) -> dict[str, Any]:
    with refusals():
        return client.contacts(client.actor(by), user)


@me_app.command("contacts")
@with_client
def contacts(user: User = None, by: By = None, output: Format = "table", *, client: Client) -> None:
    """Your contact methods: channel, address, where each came from, verified or not."""
    view = _view(client, by, user)
    if output == "json":
        print(json.dumps(view, indent=2))
        return
    table = Table(title=f"contact methods of {shown(view['user'])} ({view['origin']})")
    for column in ("name", "channel", "address", "from", "state"):
        table.add_column(column)
    for m in view["methods"]:
        table.add_row(
            shown(m["name"]),
            shown(m["channel"]),
            shown(m["address"] or "-"),
            "configuration" if m["source"] == "config" else "you",
            "not verified" if m["needs_verification"] else "ready",
        )
    out.print(table)


@me_app.command("rules")
@with_client
def rules(user: User = None, by: By = None, output: Format = "table", *, client: Client) -> None:
    """Your notification rules: which method pages you how long after a step pages you."""
    view = _view(client, by, user)
    if output == "json":
        print(json.dumps(view["rules"], indent=2))
        return
    table = Table(title=f"notification rules of {shown(view['user'])}")
    table.add_column("after")
    table.add_column("through")
    for r in view["rules"]:
        table.add_row(shown(r["after"]), shown(r["contact"]))
    out.print(table)


@me_app.command("test")
@with_client
def test(
    name: Annotated[str, typer.Argument(help="The contact method.")],
    user: User = None,
    by: By = None,
    *,
    client: Client,
) -> None:
    """Send a test message through one contact method alone."""
    with refusals(f"{name}: "):
        sent = client.test_contact(name, client.actor(by), user)
    if sent.get("sent"):
        out.print(f"test sent to {shown(sent['user'])} through {shown(name)} ({sent['channel']})")
        return
    raise typer.BadParameter(f"the test through {name} failed: {sent.get('error', '')}")
