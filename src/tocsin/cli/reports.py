"""``tocsin report``: response times, pages, noisy alerts, missed deadlines, out-of-hours
pages and runbook coverage over a window, from this host's database or a server's
``GET /api/v1/reports`` (``--url``)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, time
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.client import Client, with_client
from tocsin.cli.options import err, out, shown
from tocsin.times import Zone, format_duration, format_time, parse_time, zone_of

# The options of a window of history, the same for `tocsin report` and `tocsin replay`.
Since = Annotated[
    str, typer.Option("--since", help="A duration back from now (30d, 12h) or ISO 8601.")
]
Until = Annotated[
    str | None, typer.Option("--until", help="The end: a duration back or ISO 8601 (now).")
]
Hours = Annotated[
    str, typer.Option("--working-hours", help="Working hours, Monday to Friday, local.")
]
Format = Annotated[str, typer.Option("--format", help="table or json.")]


def _span(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def window(since: str, until: str | None) -> tuple[float, float]:
    """The window ``--since`` .. ``--until`` (now when not given), as epoch seconds; a
    window that cannot be read, or that ends before it starts, exits 2 saying why."""
    from tocsin.times import parse_since

    now = datetime.now(UTC).timestamp()
    try:
        start = parse_since(since, now)
        end = parse_since(until, now) if until else now
    except ValueError as exc:
        err.print(f"tocsin: {exc}")
        raise typer.Exit(2) from None
    if start >= end:
        err.print("tocsin: --since must be before --until")
        raise typer.Exit(2)
    return start, end


def _hours(text: str) -> Any:
    from tocsin.incidents.stats import WorkingHours

    try:
        start, _, end = text.partition("-")
        hours = WorkingHours(start=time.fromisoformat(start), end=time.fromisoformat(end))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not HH:MM-HH:MM") from None
    if hours.start >= hours.end:
        raise typer.BadParameter(f"{text!r}: the start must be before the end")
    return hours


def _response_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(title.split(" ")[-1])
    for column in ("incidents", "acked", "ack median", "ack p90", "resolved", "res median"):
        table.add_column(column, justify="right")
    table.add_column("res p90", justify="right")
    for row in rows:
        ack, res = row["time_to_acknowledge"], row["time_to_resolve"]
        table.add_row(
            shown(row["key"]),
            str(row["incidents"]),
            str(ack["count"]),
            _span(ack["median_s"]),
            _span(ack["p90_s"]),
            str(res["count"]),
            _span(res["median_s"]),
            _span(res["p90_s"]),
        )
    return table


def tables(report: dict[str, Any], zone: Zone = None) -> list[Any]:
    """The report as Rich renderables, in reading order; its window in ``zone`` (UTC)."""
    parts: list[Any] = []
    since, until = (format_time(parse_time(report[k]), zone) for k in ("since", "until"))
    pages = report["pages_per_incident"]
    misses = report["deadline_misses"]
    mean = f"{pages['mean']:.1f}" if pages["mean"] is not None else "-"
    by_severity = ", ".join(f"{k} {v}" for k, v in misses["by_severity"].items())
    parts.append(
        f"[bold]{since} → {until}[/bold]: "
        f"{report['incidents']} incidents, {pages['total']} pages "
        f"(mean {mean}, max {pages['max']} per incident), "
        f"{misses['count']} missed deadlines" + (f" ({by_severity})" if by_severity else "")
    )
    response = report["response"]
    parts.append(_response_table("time to acknowledge and resolve overall", [response["overall"]]))
    for key, name in (
        ("by_severity", "severity"),
        ("by_service", "service"),
        ("by_alert", "alert"),
    ):
        if response[key]:
            parts.append(_response_table(f"by {name}", response[key]))
    if report["noisiest_alerts"]:
        noisy = Table(title="noisiest alerts", title_justify="left")
        noisy.add_column("alert")
        noisy.add_column("episodes", justify="right")
        noisy.add_column("incidents", justify="right")
        for row in report["noisiest_alerts"]:
            noisy.add_row(shown(row["alert"]), str(row["episodes"]), str(row["incidents"]))
        parts.append(noisy)
    if report["out_of_hours_pages"]:
        people = Table(title="pages per person", title_justify="left")
        people.add_column("person")
        people.add_column("time zone")
        people.add_column("pages", justify="right")
        people.add_column("out of hours", justify="right")
        for row in report["out_of_hours_pages"]:
            people.add_row(
                shown(row["person"]),
                shown(row["timezone"]),
                str(row["pages"]),
                str(row["out_of_hours"]),
            )
        parts.append(people)
    coverage = report["runbook_coverage"]
    missing = shown(", ".join(coverage["without_runbook"])) or "none"
    unseen = shown(", ".join(coverage["runbooks_not_seen"])) or "none"
    parts.append(f"[bold]fired without a runbook:[/bold] {missing}")
    parts.append(f"[bold]runbook alerts not seen:[/bold] {unseen}")
    if report.get("overdue_action_items"):
        late = Table(title="overdue action items", title_justify="left")
        for column in ("id", "incident", "title", "owner", "due (UTC)"):
            late.add_column(column)
        for item in report["overdue_action_items"]:
            duty = f" ({item['duty']} duty)" if item.get("duty") else ""
            late.add_row(
                str(item["id"]),
                f"#{item['incident_id']}",
                shown(item["title"]) + duty,
                shown(item["owner"]),
                str(item["due_at"]),
            )
        parts.append(late)
    return parts


@with_client
def report(
    since: Since = "30d",
    until: Until = None,
    hours: Hours = "08:00-18:00",
    output: Format = "table",
    *,
    client: Client,
) -> None:
    """Response times, pages, noisiest alerts, missed deadlines, out-of-hours pages and
    runbook coverage of the incidents opened in a window."""

    if output not in ("table", "json"):
        raise typer.BadParameter(f"--format must be table or json, not {output!r}")
    working = _hours(hours)
    start, end = window(since, until)
    result = client.report(start, end, working)
    if output == "json":
        print(json.dumps(result, indent=2))
        return
    for part in tables(result, zone_of(os.environ.get("TZ"))):
        out.print(part)
