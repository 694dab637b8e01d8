"""``tocsin heartbeats list | beat NAME``: heartbeat monitors (a dead man's switch) from the
terminal. ``beat`` is for scripts and cron jobs (``tocsin heartbeats beat nightly-backup
--url ...`` at the end of the job); ``list`` shows each monitor's state, last beat and
deadline. Both work through a ``client.Client``: a running server (``--url``, an intake
token beats), or this host's database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.client import Client, with_client
from tocsin.cli.options import out, shown

heartbeats_app = typer.Typer(
    help="Heartbeats: alert when a job or a pipeline stops checking in.", no_args_is_help=True
)


def _at(text: str | None) -> str:
    if text is None:
        return "never"
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _every(monitor: dict[str, Any]) -> str:
    from tocsin.times import format_duration

    every = format_duration(monitor["interval_s"], "prometheus")
    grace = monitor["grace_s"]
    return every + (f" + {format_duration(grace, 'prometheus')}" if grace else "")


@heartbeats_app.command("list")
@with_client
def heartbeats_list(
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    *,
    client: Client,
) -> None:
    """The configured heartbeats: state, last beat, and when each is missed."""
    found = client.heartbeats()
    if output == "json":
        print(json.dumps(found, indent=2))
        return
    table = Table(title=f"heartbeats ({len(found)})", title_justify="left")
    for column in ("name", "state", "every (+ grace)", "last beat", "missed at", "from alert"):
        table.add_column(column)
    for monitor in found:
        state = monitor["state"]
        table.add_row(
            shown(monitor["name"]),
            f"[red]{state}[/red]" if state == "missed" else state,
            _every(monitor),
            _at(monitor["last_beat"]),
            _at(monitor["missed_since"] or monitor["deadline"]),
            shown(" ".join(monitor["from_alert"])),
        )
    out.print(table)


@heartbeats_app.command("beat")
@with_client
def heartbeats_beat(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The heartbeat's name.")],
    *,
    client: Client,
) -> None:
    """Beat the heartbeat NAME (a missed one's alert resolves)."""
    done = client.beat(name)
    out.print(f"heartbeat {shown(done['name'])}: beat at {_at(done['last_beat'])}")
