"""``tocsin incident show | note | assign | reopen``: the incident record from the terminal.

The commands belong to the ``incident`` group (registered in ``tocsin.cli``) and work on the
database directly, as ``tocsin incident ack`` does.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.options import By, Number, Site, err, out, shown, with_site
from tocsin.incidents.describe import event_sentence
from tocsin.times import format_duration, format_time, parse_time, zone_of


def _state(site: Site) -> Any:
    from tocsin.service.context import local

    loaded, engine = site.open()
    return local(loaded, engine, runbooks=True)


def _zone() -> Any:
    """The zone of times printed: the machine's local zone when ``TZ`` is set, else UTC."""
    import os

    return zone_of(os.environ.get("TZ"))


def _when(value: str | None, zone: Any) -> str:
    """An ISO 8601 time of the record as people read it (to the second, with its zone)."""
    return format_time(parse_time(value), zone) if value else "-"


BRIEF_STEPS = 6  # runbook steps shown with --brief


@with_site
def show(
    number: Number,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    brief: Annotated[
        bool, typer.Option("--brief", help=f"Show the first {BRIEF_STEPS} runbook steps only.")
    ] = False,
    *,
    site: Site,
) -> None:
    """The incident: status, stage, people, response figures, alerts, runbook steps, timeline.

    Times are in the zone of TZ when it is set, else UTC."""
    from tocsin.errors import NotFound
    from tocsin.service.record import record as incident_record

    state = _state(site)
    try:
        record = incident_record(state, number, with_timeline=True)
    except NotFound as exc:
        err.print(f"tocsin: {exc.message}")
        raise typer.Exit(1) from None
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
    alerts = Table(title="alerts", title_justify="left")
    for column in ("status", "alert", "labels", "since"):
        alerts.add_column(column)
    for alert in record["alerts"]:
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
        if brief and len(steps) > BRIEF_STEPS:
            out.print(f"  … {len(steps) - BRIEF_STEPS} more steps (all of them without --brief)")
    events = Table(title="timeline", title_justify="left")
    for column in ("at", "what"):
        events.add_column(column)
    for event in record["timeline"]:
        what = event_sentence(event["kind"], event["detail"], zone)
        events.add_row(_when(event["at"], zone), shown(what))
    out.print(events)


def _write(number: int, act: Any, site: Site) -> None:
    from tocsin.errors import TocsinError

    state = _state(site)
    try:
        act(state)
    except TocsinError as refused:
        err.print(f"tocsin: incident {number}: {shown(refused.message)}")
        raise typer.Exit(1) from None


@with_site
def note(
    number: Number,
    text: Annotated[str, typer.Argument(help="The note.")],
    by: By = "cli",
    *,
    site: Site,
) -> None:
    """Add a note to the incident's timeline."""
    from tocsin.service import incidents

    _write(number, lambda ctx: incidents.note(ctx, number, text, by), site)
    out.print(f"incident {number}: note added by {shown(by)}")


@with_site
def assign(
    number: Number,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="A user; '' clears it.")
    ] = None,
    commander: Annotated[
        str | None, typer.Option("--commander", help="The incident commander; '' clears it.")
    ] = None,
    by: By = "cli",
    *,
    site: Site,
) -> None:
    """Set the incident's assignee and/or incident commander."""
    from tocsin.service import incidents

    changes = {k: v for k, v in (("assignee", assignee), ("commander", commander)) if v is not None}
    if not changes:
        err.print("tocsin: give --assignee or --commander")
        raise typer.Exit(2)

    _write(number, lambda ctx: incidents.assign(ctx, number, changes, by), site)
    out.print(
        f"incident {number}: "
        + ", ".join(f"{k} {shown(v or '(none)')}" for k, v in changes.items())
    )


@with_site
def reopen(
    number: Number,
    reason: Annotated[str, typer.Option("--reason")] = "",
    by: By = "cli",
    *,
    site: Site,
) -> None:
    """Reopen a resolved incident (it becomes acknowledged by you)."""
    from tocsin.service import incidents

    _write(number, lambda ctx: incidents.reopen(ctx, number, reason, by), site)
    out.print(f"incident {number}: reopened by {shown(by)}")
