"""Response commands: an incident's postmortem, and action items.

- ``tocsin incident postmortem N [--output FILE]``
- ``tocsin incident postmortem N --status draft|in-review|published [--by NAME]``
- ``tocsin actions list [--overdue] [--status S] [--owner X] [--incident N] [--format table|json]``
- ``tocsin actions add N TITLE --owner X [--due 7d]``
- ``tocsin actions done ID``

Like the paging commands they work through a ``client.Client``: a running server (``--url``
and a token), or this host's database (``--data-dir``/``--database-url``, as ``serve``).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tocsin.cli.client import Client, refusals, with_client
from tocsin.cli.options import By, Number, err, out, shown

actions_app = typer.Typer(
    help="Action items: follow-ups from incident reviews.", no_args_is_help=True
)


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _utc(iso: str) -> str:
    """``2027-01-15T08:00:00Z`` as ``2027-01-15 08:00:00 UTC``."""
    return iso.replace("T", " ").replace("Z", " UTC")


@with_client
def postmortem(
    number: Number,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Set the postmortem's status instead of printing it: draft, in-review or "
            "published (publishing closes its postmortem duty).",
        ),
    ] = None,
    by: By = None,
    *,
    client: Client,
) -> None:
    """The incident's postmortem draft in Markdown: timeline, figures, action items; or,
    with --status, move it to draft, in review or published."""
    from tocsin.incidents.postmortem import POSTMORTEM_STATUSES

    if status is not None:
        if status not in POSTMORTEM_STATUSES:
            err.print(f"tocsin: --status must be one of {', '.join(POSTMORTEM_STATUSES)}")
            raise typer.Exit(2)
        if output is not None:
            err.print("tocsin: --status and --output do not go together")
            raise typer.Exit(2)
        with refusals(f"incident {number}: "):
            changed = client.postmortem_status(number, status, client.actor(by))
        same = " (unchanged)" if changed["was"] == status else f" (was {changed['was']})"
        out.print(f"postmortem of incident {number}: {status}{same}")
        return
    text = client.postmortem(number)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"tocsin: cannot write {output}: {exc}")
        raise typer.Exit(1) from None
    err.print(f"postmortem of incident {number} written to {output}")


@actions_app.command("list")
@with_client
def actions_list(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open items past due.")] = False,
    status: Annotated[str | None, typer.Option("--status", help="open, done or cancelled.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's.")] = None,
    incident: Annotated[
        int | None, typer.Option("--incident", help="Only this incident's.")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 1000,
    *,
    client: Client,
) -> None:
    """Action items, soonest due first."""
    from tocsin.incidents.postmortem import ACTION_STATUSES

    if status is not None and status not in ACTION_STATUSES:
        err.print(f"tocsin: --status must be one of {', '.join(ACTION_STATUSES)}")
        raise typer.Exit(2)
    if output not in ("table", "json"):
        err.print("tocsin: --format must be table or json")
        raise typer.Exit(2)
    items, total = client.action_items(incident, status, owner, overdue, limit)
    if output == "json":
        print(json.dumps(items, indent=2))
        return
    table = Table(title=f"action items ({total})")
    for column in ("id", "incident", "title", "owner", "due (UTC)", "status"):
        table.add_column(column)
    for item in items:
        state = shown(item["status"]) + (" [red](overdue)[/red]" if item["overdue"] else "")
        due = _utc(item["due_at"]).removesuffix(" UTC")[:16]
        # titles and owners are data: never rich markup, never a terminal's escape
        title = shown(item["title"]) + (
            f" [dim]({item['duty']} duty)[/dim]" if item.get("duty") else ""
        )
        table.add_row(
            str(item["id"]), f"#{item['incident_id']}", title, shown(item["owner"]), due, state
        )
    out.print(table)


def _due(text: str | None, now: float) -> float | None:
    from tocsin.errors import Invalid
    from tocsin.service.postmortem import due_at

    try:
        return due_at(text, now)
    except Invalid as exc:
        raise typer.BadParameter(exc.message, param_hint="--due") from None


@actions_app.command("add")
@with_client
def actions_add(
    number: Number,
    title: Annotated[str, typer.Argument(help="What is to be done.")],
    owner: Annotated[str, typer.Option("--owner", help="Who will do it: a user or a team.")],
    due: Annotated[
        str | None, typer.Option("--due", help="A duration (7d, 36h) or ISO 8601; default 7d.")
    ] = None,
    by: By = None,
    *,
    client: Client,
) -> None:
    """Add an action item to an incident (on its timeline too); prints its id."""

    title, owner = title.strip(), owner.strip()
    if not title or len(title) > 500:
        raise typer.BadParameter("a title has 1 to 500 characters", param_hint="TITLE")
    if not owner or len(owner) > 200:
        raise typer.BadParameter("an owner has 1 to 200 characters", param_hint="--owner")
    _due(due, _now())  # a bad --due is a usage error here, before anything is asked
    who = client.actor(by)
    item = client.add_action_item(number, title, owner, who, due)
    out.print(
        f"action item {item['id']} on incident {number}, {shown(owner)}, due {_utc(item['due_at'])}"
    )


@actions_app.command("done")
@with_client
def actions_done(
    item_id: Annotated[int, typer.Argument(metavar="ID", help="The action item's id.")],
    by: By = None,
    *,
    client: Client,
) -> None:
    """Mark an action item done."""
    client.close_action_item(item_id, client.actor(by))
    out.print(f"action item {item_id} done")
