"""Rich renderables for the catalog: the terminal views of ``tocsin runbooks``."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from tocsin.runbooks.model import PHASES, Alert, Catalog, Problem, Runbook
from tocsin.words import count

# the steps-per-phase columns of the catalog table, in words
PHASE_HEADERS = {
    "diagnose": "Diagnose",
    "remediate": "Remediate",
    "verify": "Verify",
    "prevent": "Prevent",
    "escalate": "Escalate",
    "other": "Other",
}

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "warning": "yellow",
    "info": "cyan",
}
RISK_STYLE = {"read": "green", "change": "yellow", "destructive": "bold red"}
_LEXERS = {
    "bash": "bash",
    "powershell": "powershell",
    "sql": "sql",
    "promql": "text",
    "python": "python",
    "yaml": "yaml",
    "json": "json",
}


def severity_text(severity: str | None) -> Text:
    if not severity:
        return Text("—", style="dim")
    return Text(severity, style=SEVERITY_STYLE.get(severity, ""))


def alerts_table(catalog: Catalog) -> Table:
    alerts, runbooks = (
        count(len(catalog.alerts()), "alert"),
        count(len(catalog.runbooks), "runbook"),
    )
    table = Table(
        title=f"{alerts} in {runbooks}",
        show_lines=False,
    )
    table.add_column("Alert", style="bold", no_wrap=True)
    table.add_column("Severity")
    for phase in PHASES:
        table.add_column(PHASE_HEADERS.get(phase, phase), justify="right", header_style="dim")
    table.add_column("Commands", justify="right")
    table.add_column("Source", style="dim", overflow="fold")
    for rb, alert in sorted(catalog.alerts(), key=lambda x: (x[1].name.lower(), x[0].source)):
        counts = alert.phase_counts()
        table.add_row(
            escape(alert.name),
            severity_text(alert.severity),
            *[str(counts[p]) if counts[p] else "·" for p in PHASES],
            str(len(alert.commands())),
            escape(f"{rb.source}:{alert.line}"),
        )
    return table


def alert_view(rb: Runbook, alert: Alert) -> RenderableType:
    parts: list[RenderableType] = []
    head = Text()
    head.append(alert.name, style="bold")
    head.append("  ")
    head.append_text(severity_text(alert.severity))
    if alert.severity_raw and alert.severity_raw.lower() != (alert.severity or ""):
        head.append(f"  ({alert.severity_raw})", style="dim")
    parts.append(head)
    parts.append(Text(f"{rb.source}:{alert.line} — {alert.title}", style="dim"))
    for label, value in (
        ("Summary", alert.summary),
        ("Threshold", alert.threshold),
        ("Expression", alert.expr),
        ("Meaning", alert.meaning),
        ("Impact", alert.impact),
        ("Symptoms", alert.symptoms),
    ):
        if value:
            parts.append(Text.assemble((f"{label}: ", "bold"), value))
    if alert.for_s is not None:
        parts.append(Text.assemble(("For: ", "bold"), f"{alert.for_s}s"))
    for phase in PHASES:
        steps = [s for s in alert.steps if s.phase == phase]
        if not steps:
            continue
        parts.append(Text(f"\n{phase.upper()}", style="bold underline"))
        for n, step in enumerate(steps, 1):
            parts.append(Text.assemble((f"{n}. {step.title}", "bold")))
            if step.text and step.text != step.title:
                parts.append(Text(step.text, style=""))
            for command in step.commands:
                tag = Text.assemble(
                    ("  ", ""),
                    (f"[{command.risk}]", RISK_STYLE[command.risk]),
                    (f" {command.language}", "dim"),
                    (f"  placeholders: {', '.join(command.placeholders)}", "magenta")
                    if command.placeholders
                    else ("", ""),
                )
                parts.append(tag)
                parts.append(
                    Syntax(
                        command.code,
                        _LEXERS.get(command.language, "text"),
                        theme="ansi_dark",
                        word_wrap=True,
                        padding=(0, 2),
                    )
                )
    if alert.escalation:
        parts.append(Text("\nESCALATION", style="bold underline"))
        for tier in alert.escalation:
            after = "?" if tier.after_s is None else f"{tier.after_s // 60} min"
            parts.append(Text(f"  after {after}: {tier.target}"))
    if alert.severity_variants:
        parts.append(Text("\nBY SEVERITY", style="bold underline"))
        for variant in alert.severity_variants:
            parts.append(Text.assemble((f"{variant.title}: ", "bold"), variant.text))
    return Panel(Group(*parts), title=escape(alert.name), title_align="left")


def problem_lines(problems: list[Problem]) -> list[Text]:
    """One line per problem, compiler style: ``path:line: error[code] message``."""
    lines = []
    for p in sorted(problems, key=lambda p: (p.source, p.line or 0, p.code)):
        where = p.source + (f":{p.line}" if p.line else "")
        style = "bold red" if p.level == "error" else "yellow"
        lines.append(
            Text.assemble((f"{where}: ", "dim"), (f"{p.level}[{p.code}]", style), f" {p.message}")
        )
    return lines
