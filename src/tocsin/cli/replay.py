"""``tocsin replay``: the stored alert history of a window run through a candidate
configuration on the virtual clock (the pipeline of ``tocsin simulate``), side by side with
what really happened (``service/replay.py``), as a table or JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.options import Site, err, load, out, shown, with_site
from tocsin.cli.reports import Format, Hours, Since, Until, _hours, window
from tocsin.times import Zone, format_duration, format_time, parse_time, zone_of
from tocsin.words import count


def _span(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def _change(real: float | None, candidate: float | None, span: bool = False) -> str:
    if real is None or candidate is None:
        return ""
    delta = candidate - real
    if abs(delta) < 0.5:
        return ""
    shown_delta = format_duration(abs(delta)) if span else f"{abs(delta):g}"
    return ("+" if delta > 0 else "-") + shown_delta


def tables(result: dict[str, Any], zone: Zone = None) -> list[Any]:
    """The comparison as Rich renderables, in reading order (its JSON: ``Comparison``)."""
    real, cand = result["real"], result["candidate"]
    since = format_time(parse_time(result["since"]), zone)
    until = format_time(parse_time(result["until"]), zone)
    acks = result["acknowledgements"]
    parts: list[Any] = [
        f"[bold]{since} → {until}[/bold]: {count(result['alerts'], 'alert episode')} "
        f"replayed, {count(acks['real'], 'acknowledgement')} replayed "
        f"({count(acks['applied'], 'candidate incident')} acknowledged)"
    ]
    main = Table(title="what happened and what the candidate would have done", title_justify="left")
    main.add_column("")
    for column in ("happened", "candidate", "change"):
        main.add_column(column, justify="right")

    def row(name: str, a: float | None, b: float | None, span: bool = False) -> None:
        show = _span if span else (lambda v: "-" if v is None else f"{v:g}")
        main.add_row(name, show(a), show(b), _change(a, b, span))

    row("incidents opened", real["incidents"], cand["incidents"])
    row("pages", real["pages"], cand["pages"])
    row("pages out of hours", real["out_of_hours"], cand["out_of_hours"])
    row("alerts silenced", real["muted"]["silenced"], cand["muted"]["silenced"])
    row("alerts inhibited", real["muted"]["inhibited"], cand["muted"]["inhibited"])
    ra, ca = real["time_to_first_page"], cand["time_to_first_page"]
    row("time to first page p50", ra["median_s"], ca["median_s"], span=True)
    row("time to first page p90", ra["p90_s"], ca["p90_s"], span=True)
    row("incidents never paged", real["never_paged"], cand["never_paged"])
    parts.append(main)

    people = Table(title="pages per person", title_justify="left")
    for column, justify in (("person", "left"), ("time zone", "left")):
        people.add_column(column, justify=justify)  # type: ignore[arg-type]
    for column in ("happened", "out of hours", "candidate", "out of hours "):
        people.add_column(column, justify="right")
    before = {p["person"]: p for p in real["people"]}
    after = {p["person"]: p for p in cand["people"]}
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name), after.get(name)
        zone_name = (a or b or {}).get("timezone", "UTC")
        people.add_row(
            shown(name),
            shown(zone_name),
            str(a["pages"] if a else 0),
            str(a["out_of_hours"] if a else 0),
            str(b["pages"] if b else 0),
            str(b["out_of_hours"] if b else 0),
        )
    if before or after:
        parts.append(people)

    channels = Table(title="page deliveries per channel", title_justify="left")
    channels.add_column("channel")
    channels.add_column("happened", justify="right")
    channels.add_column("candidate", justify="right")
    for name in sorted(real["channels"].keys() | cand["channels"].keys()):
        channels.add_row(
            shown(name), str(real["channels"].get(name, 0)), str(cand["channels"].get(name, 0))
        )
    if real["channels"] or cand["channels"]:
        parts.append(channels)

    if result["first_page_changed"]:
        changed = Table(title="time to first page, where it changed", title_justify="left")
        for column in ("incident", "alert", "happened", "candidate incident", "candidate"):
            changed.add_column(column)
        for c in result["first_page_changed"]:
            cand_incident = c["candidate_incident"]
            changed.add_row(
                f"#{c['incident']}",
                shown(c["alertname"]),
                _span(c["real_s"]) if c["real_s"] is not None else "never paged",
                f"#{cand_incident}" if cand_incident is not None else "none",
                _span(c["candidate_s"]) if c["candidate_s"] is not None else "never paged",
            )
        parts.append(changed)
    for warning in result["warnings"]:
        parts.append(f"[yellow]warning:[/yellow] {shown(warning)}")
    return parts


@with_site
def replay(
    since: Since = "30d",
    until: Until = None,
    max_alerts: Annotated[
        int,
        typer.Option(
            "--max-alerts", help="Refuse a window that holds more alert episodes than this."
        ),
    ] = 10_000,
    hours: Hours = "08:00-18:00",
    output: Format = "table",
    in_force: Annotated[
        Path | None,
        typer.Option(
            "--in-force",
            help="The configuration in force (tocsin serve's): people's time zones where the "
            "candidate does not name them (an alertmanager.yml names nobody).",
        ),
    ] = None,
    *,
    site: Site,
) -> None:
    """What a candidate configuration (--config) would have done with the stored alerts of
    a window: incidents, pages per person and channel, pages out of hours, muted alerts and
    time to first page, beside what really happened. The database is this host's
    (--data-dir, --database-url); nothing is written to it. See docs/replay.md."""
    from tocsin import simulate
    from tocsin.errors import TocsinError
    from tocsin.service import replay as replaying
    from tocsin.service.context import local
    from tocsin.simulate.replay import play

    if output not in ("table", "json"):
        raise typer.BadParameter(f"--format must be table or json, not {output!r}")
    working = _hours(hours)
    start, end = window(since, until)
    config, db = site.open()
    current = load(in_force) if in_force is not None else config
    try:
        result = replaying.replay(
            local(current, db), config, start, end, play, max_alerts=max_alerts, hours=working
        )
    except simulate.ScenarioError as exc:
        for problem in exc.problems:
            err.print(f"tocsin: {problem}")
        raise typer.Exit(1) from None
    except TocsinError as exc:
        err.print(f"tocsin: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    data = result.to_json()
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    for part in tables(data, zone_of(os.environ.get("TZ"))):
        out.print(part)
