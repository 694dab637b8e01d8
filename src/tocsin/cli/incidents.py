"""``tocsin incident list | show | note | assign | reopen``: the incident record from the
terminal.

The commands belong to the ``incident`` group (registered in ``tocsin.cli``) and work through
a ``client.Client`` (a running server with ``--url``, or this host's database), as
``tocsin incident ack`` does.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.client import Client, refusals, with_client
from tocsin.cli.options import By, Number, err, out, shown
from tocsin.incidents.describe import event_sentence
from tocsin.templating import printable
from tocsin.times import format_duration, format_time, parse_time, zone_of


def _zone() -> Any:
    """The zone of times printed: the machine's local zone when ``TZ`` is set, else UTC."""
    import os

    return zone_of(os.environ.get("TZ"))


def _when(value: str | None, zone: Any) -> str:
    """An ISO 8601 time of the record as people read it (to the second, with its zone)."""
    return format_time(parse_time(value), zone) if value else "-"


BRIEF_STEPS = 6  # runbook steps shown with --brief
SHOWN_ALERTS = 100  # alerts listed by `incident show` (JSON has them all)


@with_client
def list_incidents(
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Comma-separated statuses (default: triggered,acknowledged)."
        ),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every status, resolved included.")] = False,
    severity: Annotated[
        str | None, typer.Option("--severity", help="Comma-separated severities.")
    ] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="Only this user's.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    *,
    client: Client,
) -> None:
    """Incidents, newest first: open ones unless --status or --all."""
    statuses = None if every else (status or "triggered,acknowledged").split(",")
    found, total = client.incidents(
        statuses, severity.split(",") if severity else None, assignee, limit
    )
    if output == "json":
        print(json.dumps(found, indent=2))
        return
    zone = _zone()
    table = Table(title=f"incidents ({len(found)} of {total})", title_justify="left")
    for column in ("#", "status", "severity", "title", "assignee", "opened"):
        table.add_column(column)
    for incident in found:
        table.add_row(
            str(incident["number"]),
            shown(incident["status"]),
            shown(incident["severity"] or "-"),
            shown((incident["title"] or incident["group_key"])[:80]),
            shown(incident["assignee"] or "-"),
            _when(incident["opened_at"], zone),
        )
    out.print(table)


@with_client
def show(
    number: Number,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    brief: Annotated[
        bool, typer.Option("--brief", help=f"Show the first {BRIEF_STEPS} runbook steps only.")
    ] = False,
    *,
    client: Client,
) -> None:
    """The incident: status, stage, people, response figures, alerts, runbook steps, timeline.

    Times are in the zone of TZ when it is set, else UTC."""
    record = client.incident(number)
    if output == "json":
        print(json.dumps(record, indent=2))
        return
    figures = record["figures"]
    zone = _zone()
    out.print(f"[bold]#{record['number']} {shown(record['title'] or record['group_key'])}[/bold]")
    facts = Table.grid(padding=(0, 2))
    for name, value in (
        ("status", record["status"]),
        ("stage", record["stage"]),
        ("severity", record["severity"]),
        ("assignee", record["assignee"]),
        ("commander", record["commander"]),
        ("opened", _when(record["opened_at"], zone)),
        ("acknowledged", _when(record["acknowledged_at"], zone)),
        ("resolved", _when(record["resolved_at"], zone)),
        ("time to acknowledge", format_duration(figures["time_to_acknowledge_s"])),
        ("time to resolve", format_duration(figures["time_to_resolve_s"])),
        ("pages sent", f"{figures['pages_sent']} (messages {figures['messages_sent']})"),
        ("escalations", str(figures["escalations"])),
    ):
        facts.add_row(name, shown(value if value is not None else "-"))
    out.print(facts)
    listed = record["alerts"][:SHOWN_ALERTS]  # a storm's thousands: the first, and how many
    title = "alerts"
    if len(record["alerts"]) > len(listed):
        title = f"alerts: the first {len(listed)} of {len(record['alerts']):,} (all: --format json)"
    alerts = Table(title=title, title_justify="left")
    for column in ("status", "alert", "labels", "since"):
        alerts.add_column(column)
    for alert in listed:
        labels = " ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        alerts.add_row(
            shown(alert["status"]),
            shown(alert["labels"].get("alertname", "")),
            shown(labels[:120]),
            _when(alert["starts_at"], zone),
        )
    out.print(alerts)
    for section in record["runbooks"]:
        out.print(f"[bold]runbook[/bold] {shown(section['runbook'])}: {shown(section['section'])}")
        if section["url"]:
            out.print(f"  {shown(section['url'])}")
        for variant in section["severity_variants"][:1]:
            if variant["matches"]:
                out.print(f"  for {shown(variant['severity'])}: {shown(variant['text'][:300])}")
        steps = section["steps"]
        for step in steps[:BRIEF_STEPS] if brief else steps:
            out.print("  " + shown(f"[{step['phase']}] {step['title']}"))
            for command in step["commands"]:  # filled from the alert's labels (runbooks.fill)
                text = printable(command.get("filled", command["code"]), lines=True)
                for line in text.splitlines():
                    out.print("      " + line, markup=False, highlight=False)
        if brief and len(steps) > BRIEF_STEPS:
            out.print(f"  … {len(steps) - BRIEF_STEPS} more steps (all of them without --brief)")
    shown_events = record["timeline"]
    total = record.get("timeline_total", len(shown_events))
    title = "timeline"
    if total > len(shown_events):  # a long timeline: the latest events, and how many in all
        title = f"timeline: the latest {len(shown_events)} of {total:,} events"
    events = Table(title=title, title_justify="left")
    for column in ("at", "what"):
        events.add_column(column)
    for event in shown_events:
        what = event_sentence(event["kind"], event["detail"], zone)
        events.add_row(_when(event["at"], zone), shown(what))
    out.print(events)


def _write(number: int, act: Any, by: str | None, client: Client) -> str:
    """Who acted, after ``act(who)``; a refusal names the incident."""
    with refusals(f"incident {number}: "):
        who = client.actor(by)
        act(who)
    return who


@with_client
def note(
    number: Number,
    text: Annotated[str, typer.Argument(help="The note.")],
    by: By = None,
    *,
    client: Client,
) -> None:
    """Add a note to the incident's timeline."""
    noted: dict[str, Any] = {}
    who = _write(number, lambda who: noted.update(client.note(number, text, who)), by, client)
    out.print(f"incident {number}: note added by {shown(noted.get('by') or who)}")


@with_client
def assign(
    number: Number,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="A user; '' clears it.")
    ] = None,
    commander: Annotated[
        str | None, typer.Option("--commander", help="The incident commander; '' clears it.")
    ] = None,
    by: By = None,
    *,
    client: Client,
) -> None:
    """Set the incident's assignee and/or incident commander."""
    changes = {k: v for k, v in (("assignee", assignee), ("commander", commander)) if v is not None}
    if not changes:
        err.print("tocsin: give --assignee or --commander")
        raise typer.Exit(2)

    _write(number, lambda who: client.assign(number, changes, who), by, client)
    out.print(
        f"incident {number}: "
        + ", ".join(f"{k} {shown(v or '(none)')}" for k, v in changes.items())
    )


@with_client
def reopen(
    number: Number,
    reason: Annotated[str, typer.Option("--reason")] = "",
    by: By = None,
    *,
    client: Client,
) -> None:
    """Reopen a resolved incident (it becomes acknowledged by you)."""
    who = _write(number, lambda who: client.reopen(number, reason, who), by, client)
    out.print(f"incident {number}: reopened by {shown(who)}")
