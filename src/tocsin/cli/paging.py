"""Paging commands: who is on call, acknowledging/resolving/escalating incidents, overrides.

They work on the database directly (the same ``--data-dir``/``--database-url`` as ``serve``),
so they work while the server runs and when it does not; a running server's engine delivers
what they put in the outbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from tocsin.cli.options import By, Number, Site, err, out, shown, with_site

override_app = typer.Typer(help="Schedule overrides.", no_args_is_help=True)


def _parse_when(text: str | None, now: datetime) -> datetime:
    """ISO 8601 (``2027-01-15T09:00``, UTC when no offset), ``now``, or ``+2h``/``-30m``."""
    from tocsin.times import parse_when

    if not text:
        return now
    try:
        return datetime.fromtimestamp(parse_when(text, now.timestamp()), UTC)
    except (ValueError, OverflowError, OSError):
        raise typer.BadParameter(f"{text!r} is not a time (ISO 8601, now, +2h)") from None


@with_site
def oncall(
    schedule: Annotated[str | None, typer.Argument(help="One schedule (default: all).")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When: ISO 8601, now, +2h (default now).")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    *,
    site: Site,
) -> None:
    """Who is on call, until when, and who is next (overrides included)."""
    from tocsin.service.context import local
    from tocsin.service.paging import oncall_now

    loaded, engine = site.open()
    if schedule is not None and schedule not in loaded.paging.schedules:
        known = ", ".join(sorted(loaded.paging.schedules)) or "none"
        err.print(f"tocsin: no schedule {schedule!r} (schedules: {known})")
        raise typer.Exit(1)
    when = _parse_when(at, datetime.now(UTC))
    rows = oncall_now(local(loaded, engine), when, schedule)
    if output == "json":
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"on call at {when.isoformat(timespec='minutes')}")
    for column in ("schedule", "on call", "until", "next"):
        table.add_column(column)
    for row in rows:
        nxt = row["next"]
        table.add_row(
            row["schedule"],
            ", ".join(u["name"] for u in row["users"]) or "[red]nobody[/red]",
            (row["until"] or "-")[:16],
            ", ".join(nxt["users"]) if nxt else "-",
        )
    out.print(table)


def _act(action: str, number: int, by: str, site: Site) -> None:
    from tocsin.errors import NotFound, TocsinError
    from tocsin.service import incidents
    from tocsin.service.context import local

    loaded, engine = site.open()
    act = {"ack": incidents.acknowledge, "resolve": incidents.resolve}.get(action)
    error = None
    done: dict[str, object] = {}
    try:
        done = (act or incidents.escalate)(local(loaded, engine), number, by)
    except TocsinError as exc:
        if act is None:
            error = "the incident is not triggered or has no escalation left"
        else:
            error = "no such incident" if isinstance(exc, NotFound) else exc.message
    if error:
        err.print(f"tocsin: incident {number}: {error}")
        raise typer.Exit(1)
    out.print(f"incident {number}: {action} done by {by}")
    if done.get("warning"):
        err.print(f"warning: {shown(done['warning'])}")


def _incident_command(action: str, help_text: str) -> Callable[..., None]:
    """``tocsin incident ACTION N``: the three actions share one signature."""

    def command(number: Number, by: By = "cli", *, site: Site) -> None:
        _act(action, number, by, site)

    command.__doc__ = help_text
    return with_site(command)


ack = _incident_command("ack", "Acknowledge: escalation stops.")
resolve = _incident_command("resolve", "Resolve by hand: escalation stops, the channels are told.")
escalate = _incident_command("escalate", "Escalate now: the next step of the policy fires at once.")


@override_app.command("add")
@with_site
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
    by: By = "cli",
    *,
    site: Site,
) -> None:
    """Put someone on call in a schedule for a while, in addition to or instead of others."""
    from tocsin.errors import Invalid
    from tocsin.service.context import local
    from tocsin.service.paging import MAX_REASON_CHARS, add_override

    loaded, engine = site.open()
    now = datetime.now(UTC)
    begins = _parse_when(start, now)
    ends = _parse_when(end, begins)
    if len(reason) > MAX_REASON_CHARS:
        err.print(f"tocsin: --reason has at most {MAX_REASON_CHARS} characters")
        raise typer.Exit(2)
    ctx = local(loaded, engine)
    try:
        made = add_override(ctx, schedule, user, begins, ends, by, replaces=replaces, reason=reason)
    except Invalid as exc:
        err.print(f"tocsin: {exc.message}")
        raise typer.Exit(1) from None
    out.print(
        f"override {made['id']}: {user} on call in {schedule} from {made['start']} "
        f"to {made['end']}" + (f" instead of {replaces}" if replaces else "")
    )


@override_app.command("list")
@with_site
def override_list(
    schedule: Annotated[str | None, typer.Argument(help="One schedule (default: all).")] = None,
    *,
    site: Site,
) -> None:
    """Overrides that have not ended."""
    from tocsin.service.context import local
    from tocsin.service.paging import overrides

    loaded, engine = site.open()
    found = overrides(local(loaded, engine), schedule)
    table = Table()
    for column in ("id", "schedule", "user", "instead of", "start", "end"):
        table.add_column(column)
    for i, o in found:
        table.add_row(
            str(i),
            o.schedule,
            o.user,
            o.replaces or "-",
            o.start.isoformat(timespec="minutes"),
            o.end.isoformat(timespec="minutes"),
        )
    out.print(table)


@override_app.command("delete")
@with_site
def override_delete(
    override_id: Annotated[int, typer.Argument(help="The override's id.")],
    *,
    site: Site,
) -> None:
    """Remove an override."""
    from tocsin.errors import NotFound
    from tocsin.service.context import local
    from tocsin.service.paging import remove_override

    loaded, engine = site.open()
    try:
        remove_override(local(loaded, engine), override_id)
    except NotFound as exc:
        err.print(f"tocsin: {exc.message}")
        raise typer.Exit(1) from None
    out.print(f"override {override_id} deleted")
