"""``tocsin config check`` and ``tocsin routes test``: the configuration file read and checked
as the server would load it, with no server and no database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tocsin.cli.options import ConfigPath, err, load, out

routes_app = typer.Typer(help="The routing tree.", no_args_is_help=True)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)


@routes_app.command("test")
def routes_test(
    labels: Annotated[list[str], typer.Argument(help="LABEL=VALUE pairs of an alert.")],
    config: ConfigPath = Path("tocsin.yaml"),
    tree: Annotated[bool, typer.Option("--tree", help="Show the matched routes' keys.")] = False,
) -> None:
    """The receivers an alert with these labels goes to, as ``amtool config routes test``."""
    from tocsin.alerts.matchers import MatcherError, parse_matcher

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
    print(",".join(r.receiver for r in matched))
    if tree:
        for route in matched:
            print(
                f"  {route.receiver}: {route.key}  group_by={list(route.group_by)}"
                f"{' (all labels)' if route.group_by_all else ''}  group key "
                f"{route.group_key(alert)}"
            )


@config_app.command("check")
def config_check(config: ConfigPath = Path("tocsin.yaml")) -> None:
    """Validate the whole configuration; every error is printed with its place."""
    loaded = load(config)
    routes = loaded.route.walk()
    paging = loaded.paging
    templates = sum(
        1
        for c in paging.channels.values()
        for part in ("title", "text", "html")
        if getattr(c.templates, part) is not None
    )
    out.print(
        f"{config}: OK — {len(routes)} routes, {len(loaded.receivers)} receivers, "
        f"{len(loaded.inhibit_rules)} inhibit rules; {len(paging.channels)} channels, "
        f"{len(paging.users)} users, {len(paging.schedules)} schedules, "
        f"{len(paging.policies)} escalation policies, {len(paging.levels)} severity levels; "
        f"{templates} custom templates rendered against sample alerts for every message kind",
        highlight=False,
        markup=False,
    )
