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
from tocsin.templating import printable
from tocsin.times import format_duration


def _brief(detail: dict[str, Any]) -> str:
    """A timeline entry's detail on one line, the keys people read first."""
    keys = ("by", "stage", "message", "text", "alertname", "channel", "target", "reason")
    shown = [f"{k}={detail[k]}" for k in keys if detail.get(k) not in (None, "", [])]
    if detail.get("message"):
        shown = [s for s in shown if not s.startswith("text=")]  # the message, not its text
    if not shown:
        shown = [f"{k}={v}" for k, v in detail.items() if isinstance(v, str | int | float)][:4]
    return " ".join(" ".join(shown).split())[:160]


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
            (incident["opened_at"] or "-")[:19],
        )
    out.print(table)


@with_client
def show(
    number: Number,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    *,
    client: Client,
) -> None:
    """The incident: status, stage, people, response figures, alerts, runbook sections and
    the timeline."""
    record = client.incident(number)
    if output == "json":
        print(json.dumps(record, indent=2))
        return
    figures = record["figures"]
    out.print(f"[bold]#{record['number']} {shown(record['title'] or record['group_key'])}[/bold]")
    facts = Table.grid(padding=(0, 2))
    for name, value in (
        ("status", record["status"]),
        ("stage", record["stage"]),
        ("severity", record["severity"]),
        ("assignee", record["assignee"]),
        ("commander", record["commander"]),
        ("opened", record["opened_at"]),
        ("acknowledged", record["acknowledged_at"]),
        ("resolved", record["resolved_at"]),
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
            alert["starts_at"][:19],
        )
    out.print(alerts)
    for section in record["runbooks"]:
        out.print(f"[bold]runbook[/bold] {shown(section['runbook'])}: {shown(section['section'])}")
        if section["url"]:
            out.print(f"  {shown(section['url'])}")
        for variant in section["severity_variants"][:1]:
            if variant["matches"]:
                out.print(f"  for {shown(variant['severity'])}: {shown(variant['text'][:300])}")
        for step in section["steps"][:6]:
            out.print("  " + shown(f"[{step['phase']}] {step['title']}"))
            for command in step["commands"]:  # filled from the alert's labels (runbooks.fill)
                text = printable(command.get("filled", command["code"]), lines=True)
                for line in text.splitlines():
                    out.print("      " + line, markup=False, highlight=False)
    events = Table(title="timeline (UTC)", title_justify="left")
    for column in ("at", "kind", "detail"):
        events.add_column(column)
    for event in record["timeline"]:
        events.add_row(event["at"][:19], shown(event["kind"]), shown(_brief(event["detail"])))
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
