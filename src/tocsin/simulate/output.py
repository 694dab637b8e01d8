"""What ``tocsin simulate`` prints: the timeline as JSON lines or as a Rich table sized to the
terminal, the summary per incident, and the warnings.

The last stage of a simulation: it reads a ``Result`` (``results.py``) and writes nothing back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from tocsin import times
from tocsin.incidents.describe import event_sentence
from tocsin.simulate.results import Entry, Result, span
from tocsin.words import count


def json_lines(result: Result) -> Iterator[str]:
    """One JSON object per timeline entry."""
    for entry in result.entries:
        yield json.dumps(entry.to_json(), ensure_ascii=False)


def _short(e: Entry) -> str:
    """The table's detail column: what happened, as a sentence (``incidents.describe``, the
    one for every timeline a person reads), never JSON."""
    return event_sentence(e.kind, e.detail)


_STYLES = {
    "alert_fired": "bold red",
    "alert_resolved": "green",
    "escalated": "yellow",
    "deadline_missed": "bold red",
    "escalation_exhausted": "bold red",
    "notify_failed": "red",
    "attempt_failed": "red",
    "acknowledged": "cyan",
    "resolved": "green",
    "action_refused": "magenta",
}


def timeline_table(result: Result, width: int = 120) -> Table:
    """The timeline as a Rich table for a terminal ``width`` columns wide. From 100 columns
    it has a clock and a channel column; narrower, the offsets stand for the clock and the
    channel goes under the target, so that 80 columns still leave room for the detail."""
    scenario = result.scenario
    start = times.to_dt(scenario.start)
    days = start.date() != times.to_dt(scenario.end).date()
    wide = width >= 100
    table = Table(
        title=f"{scenario.source}: {start:%a %Y-%m-%d %H:%M} UTC + "
        f"{span(scenario.end - scenario.start)}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("offset", justify="right", no_wrap=True)
    if wide:
        table.add_column("UTC", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("inc", justify="right", no_wrap=True)
    if wide:
        table.add_column("target/recipient", overflow="fold", max_width=25)
        table.add_column("channel", overflow="fold", max_width=16)
    else:
        table.add_column("target/channel", overflow="fold", max_width=16)
    table.add_column("detail", overflow="fold", ratio=1)
    for e in result.entries:
        who = e.target or ""
        if e.kind in ("notified", "notify_failed", "attempt_failed"):
            who = e.detail.get("recipient") or ("" if who == f"channel:{e.channel}" else who)
        cells: list[RenderableType] = [f"+{span(e.offset_s)}"]
        if wide:
            cells.append(times.to_dt(e.at).strftime("%a %H:%M:%S" if days else "%H:%M:%S"))
        cells += [e.kind, f"#{e.incident}" if e.incident is not None else ""]
        if wide:
            cells += [Text(who), Text(e.channel or "")]
        else:
            lines = Text(who)
            if e.channel:
                lines.append(("\n" if who else "") + e.channel, style="dim")
            cells.append(lines)
        cells.append(Text(_short(e)))
        table.add_row(*cells, style=_STYLES.get(e.kind))
    return table


def summary(result: Result) -> list[Text]:
    """Per incident: time to acknowledge and to resolve (from when it triggered), pages
    delivered, escalations, deadlines missed, dead letters."""
    out = [Text("Incidents", style="bold")]
    for s in result.incidents:
        head = f"#{s.id} {s.title}" + (f" ({s.severity})" if s.severity else "")
        head += f", policy {s.policy}" if s.policy else ", no escalation policy"
        out.append(Text(f"  {head}: {s.status}"))
        facts = [
            f"triggered +{span(s.triggered_s)}" if s.triggered_s is not None else "never triggered"
        ]
        if s.ack_s is not None:
            facts.append(f"acknowledged after {span(s.ack_s)} by {s.acknowledged_by}")
        else:
            facts.append("not acknowledged")
        facts.append(
            f"resolved after {span(s.resolve_s)}" if s.resolve_s is not None else "not resolved"
        )
        out.append(Text("     " + ", ".join(facts)))
        counts = [
            count(s.pages, "page"),
            count(s.escalations, "escalation"),
            count(s.deadlines_missed, "deadline missed", "deadlines missed"),
            count(s.dead_letters, "dead letter"),
        ]
        out.append(Text("     " + ", ".join(counts)))
    return out


def report(result: Result, width: int = 120) -> list[RenderableType]:
    """Everything ``--format table`` prints, in order."""
    out: list[RenderableType] = [timeline_table(result, width), *summary(result)]
    if result.warnings:
        out.append(Text("Warnings", style="bold"))
        out.extend(Text(f"  - {w}") for w in result.warnings)
    return out
