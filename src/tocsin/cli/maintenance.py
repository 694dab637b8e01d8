"""``tocsin maintenance add | list | end``: maintenance windows from the terminal.

- ``tocsin maintenance add --receiver team-db --duration 2h -m "failover test"`` or
  ``tocsin maintenance add 'service="api"' --end 2027-01-15T18:00Z -m deploy`` prints the new
  window; ``--time-interval NAME`` makes it recur (only while that configured interval holds);
- ``tocsin maintenance list [--all]``;
- ``tocsin maintenance end ID...``: an incident a window held that still fires pages now.

Like every operating command they work through a ``client.Client``: a running server's
``/api/v1/maintenance`` (``--url``), or this host's database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.client import Client, refusals, with_client
from tocsin.cli.options import By, out, shown
from tocsin.cli.silences import _duration, _when

maintenance_app = typer.Typer(
    help="Maintenance windows: alerts kept and shown, nobody paged.", no_args_is_help=True
)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@maintenance_app.command("add")
@with_client
def maintenance_add(
    matchers: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[MATCHER]...",
            help="A service: 'service=\"api\"' (every firing alert of an incident must match).",
        ),
    ] = None,
    receiver: Annotated[
        str | None, typer.Option("--receiver", "-r", help="A route, by its receiver.")
    ] = None,
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why.")] = "",
    duration: Annotated[
        str | None, typer.Option("--duration", "-d", help="How long from the start: 30m, 2h.")
    ] = None,
    start: Annotated[str, typer.Option("--start", help="ISO 8601, now, +1h.")] = "now",
    end: Annotated[
        str | None, typer.Option("--end", help="ISO 8601 or +2h (instead of --duration).")
    ] = None,
    time_interval: Annotated[
        str | None,
        typer.Option("--time-interval", help="Recur: only while this configured interval holds."),
    ] = None,
    by: By = None,
    *,
    client: Client,
) -> None:
    """Hold the pages of a route's (--receiver) or a service's (MATCHER) incidents."""
    now = datetime.now(UTC)
    begins = _when(start, now)
    ends = None
    if end:
        ends = _when(end, begins)
    elif duration:
        ends = begins + timedelta(seconds=_duration(duration))
    window: dict[str, Any] = {
        "matchers": list(matchers or []),
        "receiver": receiver,
        "startsAt": _iso(begins) if start != "now" else None,
        "endsAt": _iso(ends) if ends else None,
        "timeInterval": time_interval,
        "comment": comment.strip(),
    }
    with refusals():
        made = client.add_maintenance(window, client.actor(by))
    out.print(f"maintenance window {made['id']} {shown(made['state'])}{_until(made)}")


def _until(window: dict[str, Any]) -> str:
    ends = window.get("endsAt")
    return f" until {_at(ends)}" if ends else " until ended"


def _at(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@maintenance_app.command("list")
@with_client
def maintenance_list(
    past: Annotated[bool, typer.Option("--all", help="Ended windows too.")] = False,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    *,
    client: Client,
) -> None:
    """Maintenance windows not over (--all: the ended ones too), newest first."""
    found = client.maintenance(past)
    if output == "json":
        print(json.dumps(found, indent=2))
        return
    table = Table(title=f"maintenance windows ({len(found)})", title_justify="left")
    for column in ("id", "state", "for", "from", "until", "recurs", "by", "comment"):
        table.add_column(column)
    for w in found:
        what = " ".join([*([f"receiver={w['receiver']}"] if w["receiver"] else []), *w["matchers"]])
        table.add_row(
            str(w["id"]),
            shown(w["state"]),
            shown(what),
            _at(w["startsAt"]),
            _at(w["endedAt"] or w["endsAt"]) if (w["endedAt"] or w["endsAt"]) else "until ended",
            shown(w["timeInterval"] or ""),
            shown(w["createdBy"]),
            shown(w["comment"][:80]),
        )
    out.print(table)


@maintenance_app.command("end")
@with_client
def maintenance_end(
    ids: Annotated[list[int], typer.Argument(metavar="ID...", help="The windows' ids.")],
    by: By = None,
    *,
    client: Client,
) -> None:
    """End maintenance windows now: what they held and still fires pages."""
    who = client.actor(by)
    for window_id in ids:
        with refusals():
            client.end_maintenance(window_id, who)
        out.print(f"maintenance window {window_id} ended")
