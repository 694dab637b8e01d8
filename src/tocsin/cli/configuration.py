"""``tocsin config check`` and ``tocsin routes test``: the configuration file read and checked
as the server would load it, with no server and no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tocsin.cli.options import ConfigPath, err, load, out
from tocsin.service.routes import route_plan
from tocsin.templating import printable
from tocsin.words import count

if TYPE_CHECKING:
    pass

routes_app = typer.Typer(help="The routing tree.", no_args_is_help=True)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)


@routes_app.command("test")
def routes_test(
    labels: Annotated[list[str], typer.Argument(help="LABEL=VALUE pairs of an alert.")],
    config: ConfigPath = Path("tocsin.yaml"),
    tree: Annotated[
        bool, typer.Option("--tree", help="Also show each route's grouping and group key.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Print only the receivers' names, comma-separated, as amtool does (scripts).",
        ),
    ] = False,
    output: Annotated[
        str,
        typer.Option(
            "--format", metavar="FORMAT", help="text, or json (the same plan, for programs)."
        ),
    ] = "text",
) -> None:
    """What tocsin would do with an alert with these labels, now: the routes it matches,
    their receivers, channels and escalation policy, and who each step would page (the
    schedules as configured, at the time the step would fire)."""
    from tocsin.alerts.matchers import MatcherError, parse_matcher

    if output not in ("text", "json"):
        err.print(f"tocsin: --format must be text or json, not {output!r}")
        raise typer.Exit(2)
    loaded = load(config)
    alert: dict[str, str] = {}
    for pair in labels:
        try:
            matcher = parse_matcher(pair)
        except MatcherError as exc:
            err.print(f"tocsin: {exc}")
            raise typer.Exit(2) from None
        if matcher.op.value != "=":
            err.print(f"tocsin: {pair!r}: give labels as LABEL=VALUE")
            raise typer.Exit(2)
        alert[matcher.name] = matcher.value
    matched = loaded.route.match(alert)
    if quiet:
        print(",".join(r.receiver for r in matched))
        return
    plan = route_plan(loaded, alert, datetime.now(UTC))
    if output == "json":
        print(json.dumps(plan, indent=2))
        return
    for line in plan_lines(plan, tree):
        print(printable(line))  # labels are the user's, but never raw to a terminal


def plan_lines(plan: dict[str, Any], tree: bool) -> list[str]:
    from tocsin.times import format_duration

    def after(seconds: float) -> str:
        return "now" if seconds < 0.5 else f"after {format_duration(seconds, 'short')}"

    at = plan["at"].replace("T", " ").replace("+00:00", " UTC")
    lines = [f"alert {plan['alert']}, at {at}"]
    if plan["severity"]:
        deadline = plan["ack_deadline_s"]
        lines.append(
            f"severity {plan['severity']}: "
            + (
                f"to be acknowledged within {format_duration(deadline, 'short')}"
                if deadline
                else "no acknowledgement deadline"
            )
        )
    routes = plan["routes"]
    for number, route in enumerate(routes, 1):
        lines.append("")
        more = " (continue: the next routes are tried too)" if route["continue"] else ""
        lines.append(
            f"route {number} of {len(routes)}: {route['route']} -> receiver "
            f"{route['receiver']}{more}"
        )
        if tree:
            lines.append(f"  group by {route['group_by']}, group key {route['group_key']}")
        first = after(route["group_wait_s"])
        channels = ", ".join(route["channels"]) or "none"
        lines.append(f"  channels: {channels} (first message {first}, then as it changes)")
        if route["policy"] is None:
            lines.append("  escalation policy: none (nobody is paged; the channels are told)")
            continue
        if route["policy_missing"]:
            lines.append(f"  escalation policy {route['policy']}: NOT CONFIGURED, nobody is paged")
            continue
        own = f" ({plan['alertname']}'s own path in the runbook)" if route["own_path"] else ""
        lines.append(f"  escalation policy {route['policy']}{own}, until acknowledged:")
        if not route["steps"]:
            lines.append("    no step applies to this alert: nobody is paged")
        for step in route["steps"]:
            who = "; ".join(
                f"{p['who']} by {', '.join(p['channels'])}" if p["channels"] else p["who"]
                for p in step["paged"]
            )
            lines.append(
                f"    step {step['step']}, {after(step['after_s'])}: "
                f"{', '.join(step['targets'])} -> {who or 'NOBODY'}"
            )
            lines += [f"      problem: {problem}" for problem in step["problems"]]
        if route["repeat"] and route["steps"]:
            rounds = route["repeat"]
            lines.append(f"    then from step 1 again ({rounds} more round{'s' * (rounds > 1)})")
        lines += [f"  note: {note}" for note in route["notes"]]
    if not routes:
        lines.append("no route matches")
    scheduled = any(
        t.startswith(("schedule:", "team:"))
        for r in routes
        for st in r["steps"]
        for t in st["targets"]
    )
    if scheduled:
        lines += [
            "",
            "on call: the schedules as configured; overrides are not read here (tocsin oncall)",
        ]
    return lines


@config_app.command("check")
def config_check(config: ConfigPath = Path("tocsin.yaml")) -> None:
    """Validate the whole configuration; every error is printed with its place."""
    from tocsin.cli.server import check_runners

    loaded = load(config)
    check_runners(loaded)  # its secrets read, its user and database URL checked
    routes = loaded.route.walk()
    paging = loaded.paging
    templates = sum(
        1
        for c in paging.channels.values()
        for part in ("title", "text", "html")
        if getattr(c.templates, part) is not None
    )
    counted = ", ".join(
        count(n, noun)
        for n, noun in (
            (len(routes), "route"),
            (len(loaded.receivers), "receiver"),
            (len(loaded.inhibit_rules), "inhibit rule"),
        )
    )
    people = ", ".join(
        count(n, noun)
        for n, noun in (
            (len(paging.channels), "channel"),
            (len(paging.users), "user"),
            (len(paging.schedules), "schedule"),
            (len(paging.policies), "escalation policy"),
            (len(paging.levels), "severity level"),
            (len(loaded.model.execute.runners), "runner"),
        )
    )
    out.print(
        f"{config}: OK — {counted}; {people}; {count(templates, 'custom template')} rendered "
        "against sample alerts for every message kind",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@config_app.command("convert")
def config_convert(
    source: Annotated[Path, typer.Argument(help="The alertmanager.yml to convert.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the tocsin.yaml here (default: print it)."),
    ] = None,
) -> None:
    """Write the tocsin.yaml equivalent to an alertmanager.yml: its receivers' Slack, email,
    webhook and PagerDuty configs as channels, each route's channels named; secrets kept as
    file references where they were files. The file is checked first: an error is printed
    with its place and nothing is written."""
    from tocsin.config.alertmanager import tocsin_yaml

    loaded = load(source)
    text = tocsin_yaml(loaded.model, source.name)
    if output is None:
        out.print(text, highlight=False, markup=False, soft_wrap=True, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"cannot write {output}: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    err.print(f"wrote {output}", highlight=False, markup=False)
