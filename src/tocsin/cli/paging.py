"""Paging commands: who is on call, acknowledging/resolving/escalating incidents, overrides.

They work through a ``client.Client``: on a running server (``--url`` and a token), or on the
database of this host (the same ``--data-dir``/``--database-url`` as ``serve``), while the
server runs or not; a running server's engine delivers what they put in the outbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Annotated

import typer
from rich.table import Table

from tocsin.cli.client import Client, refusals, with_client
from tocsin.cli.options import By, Number, err, out, shown

override_app = typer.Typer(help="Schedule overrides.", no_args_is_help=True)


def _zone() -> tzinfo:
    """The zone of times printed: the machine's local zone when ``TZ`` is set, else UTC."""
    import os

    from tocsin.times import zone_of

    return zone_of(os.environ.get("TZ"))


def _time(value: str | datetime | None, zone: tzinfo) -> str:
    """A time for the table: to the second, with its zone (``-`` for none)."""
    from tocsin.times import format_time, parse_time

    if value is None or value == "":
        return "-"
    return format_time(parse_time(value) if isinstance(value, str) else value, zone)


def _person(user: dict[str, str | None]) -> str:
    """An on-call person as the table names them: ``Bob Builder (bob)``, or ``bob``."""
    full = user.get("full_name")
    return f"{full} ({user['name']})" if full else str(user["name"])


def _parse_when(text: str | None, now: datetime) -> datetime:
    """ISO 8601 (``2027-01-15T09:00``, UTC when no offset), ``now``, or ``+2h``/``-30m``."""
    from tocsin.times import parse_when

    if not text:
        return now
    try:
        return datetime.fromtimestamp(parse_when(text, now.timestamp()), UTC)
    except (ValueError, OverflowError, OSError):
        raise typer.BadParameter(f"{text!r} is not a time (ISO 8601, now, +2h)") from None


@with_client
def oncall(
    schedule: Annotated[str | None, typer.Argument(help="One schedule (default: all).")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When: ISO 8601, now, +2h (default now).")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    *,
    client: Client,
) -> None:
    """Who is on call, until when, and who is next (overrides included)."""
    when = _parse_when(at, datetime.now(UTC))
    rows = client.oncall(when, schedule)
    if output == "json":
        print(json.dumps(rows, indent=2))
        return
    zone = _zone()
    table = Table(title=f"on call at {_time(when, zone)}")
    for column in ("schedule", "on call", "until", "next"):
        table.add_column(column)
    for row in rows:
        nxt = row["next"]
        table.add_row(
            shown(row["schedule"]),
            shown(", ".join(_person(u) for u in row["users"])) or "[red]nobody[/red]",
            _time(row["until"], zone),
            shown(", ".join(nxt["users"])) if nxt else "-",
        )
    out.print(table)


def _act(action: str, number: int, by: str | None, client: Client) -> None:
    from tocsin.errors import NotFound

    with refusals(f"incident {number}: "):
        who = client.actor(by)
        try:
            done = client.page(action, number, who)
        except NotFound:
            raise NotFound("no such incident") from None
    recorded = done.get(_RECORDED.get(action, ""))  # whom the record names, as the server says
    out.print(f"incident {number}: {action} done by {shown(recorded or who)}")
    if done.get("warning"):  # resolved while alerts still fire: what will happen
        err.print(f"warning: {shown(done['warning'])}")


_RECORDED = {"ack": "acknowledged_by", "resolve": "resolved_by"}


def _incident_command(action: str, help_text: str) -> Callable[..., None]:
    """``tocsin incident ACTION N``: the three actions share one signature."""

    def command(number: Number, by: By = None, *, client: Client) -> None:
        _act(action, number, by, client)

    command.__doc__ = help_text
    return with_client(command)


ack = _incident_command("ack", "Acknowledge: escalation stops.")
resolve = _incident_command("resolve", "Resolve by hand: escalation stops, the channels are told.")
escalate = _incident_command("escalate", "Escalate now: the next step of the policy fires at once.")


@override_app.command("add")
@with_client
def override_add(
    schedule: Annotated[str, typer.Argument(help="The schedule.")],
    user: Annotated[str, typer.Argument(help="Who takes the shift.")],
    start: Annotated[str, typer.Option("--start", help="ISO 8601, now, +1h.")] = "now",
    end: Annotated[str, typer.Option("--end", help="ISO 8601 or +8h.")] = "+8h",
    replaces: Annotated[
        str | None,
        typer.Option("--replaces", help="Whom the user stands in for (* for anyone on call)."),
    ] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
    by: By = None,
    *,
    client: Client,
) -> None:
    """Put someone on call in a schedule for a while, in addition to or instead of others."""
    from tocsin.service.paging import MAX_REASON_CHARS

    now = datetime.now(UTC)
    begins = _parse_when(start, now)
    ends = _parse_when(end, begins)
    if len(reason) > MAX_REASON_CHARS:
        raise typer.BadParameter(f"at most {MAX_REASON_CHARS} characters", param_hint="--reason")
    who = client.actor(by)
    made = client.add_override(schedule, user, begins, ends, who, replaces, reason)
    out.print(
        f"override {made['id']}: {shown(user)} on call in {shown(schedule)} from {made['start']} "
        f"to {made['end']}" + (f" instead of {shown(replaces)}" if replaces else "")
    )


@override_app.command("list")
@with_client
def override_list(
    schedule: Annotated[str | None, typer.Argument(help="One schedule (default: all).")] = None,
    *,
    client: Client,
) -> None:
    """Overrides that have not ended."""
    found = client.overrides(schedule)
    table = Table()
    zone = _zone()
    for column in ("id", "schedule", "user", "instead of", "start", "end"):
        table.add_column(column)
    for o in found:
        table.add_row(
            str(o["id"]),
            shown(o["schedule"]),
            shown(o["user"]),
            shown(o["replaces"] or "-"),
            _time(o["start"], zone),
            _time(o["end"], zone),
        )
    out.print(table)


@override_app.command("delete")
@with_client
def override_delete(
    override_id: Annotated[int, typer.Argument(help="The override's id.")],
    *,
    client: Client,
) -> None:
    """Remove an override."""
    client.delete_override(override_id)
    out.print(f"override {override_id} deleted")
