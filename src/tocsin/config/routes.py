"""The Alertmanager half of ``tocsin.yaml``: the routing tree and inhibition rules built from
their models, the checks Alertmanager makes on them, and the document ``amtool`` reads back.

Between loading (``load.py``) and routing (``tocsin.routing``): a route inherits its receiver,
``group_by`` and timings from its parent as in Alertmanager, plus tocsin's own options
(escalation policy, channels, auto-resolve).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from tocsin.alerts.inhibit import InhibitRule
from tocsin.alerts.matchers import Matcher, MatcherError, Op, parse_matcher
from tocsin.config.models import Loc, RouteConfig, StormConfig, TocsinConfig
from tocsin.incidents.storm import StormRule
from tocsin.routing.intervals import Interval, parse_interval
from tocsin.routing.tree import (
    DEFAULT_GROUP_INTERVAL_S,
    DEFAULT_GROUP_WAIT_S,
    DEFAULT_REPEAT_INTERVAL_S,
    Route,
)
from tocsin.times import parse_duration


def check_routes(
    model: TocsinConfig,
    report: Callable[[Loc, str], None],
    dropped: Mapping[str, set[str]] | None = None,
) -> None:
    """Report what Alertmanager refuses in receivers and routes: a receiver defined twice or
    undefined, matchers or ``continue`` on the root route, bad legacy label names and regexes.
    ``dropped``: names of items the file declares but that could not be read (their own
    error is reported already), by section."""
    names = [r.name for r in model.receivers]
    declared = set(names) | set((dropped or {}).get("receivers", ()))
    for i, name in enumerate(names):
        if name in names[:i]:
            report(("receivers", i), f"receiver {name!r} is defined twice")
    root = model.route
    # each at the key it is about, so that it is told apart from an error of another key
    if root.receiver is None:
        report(("route", "receiver"), "the root route must name a receiver")
    given = [k for k in ("matchers", "match", "match_re") if getattr(root, k)]
    if given:
        report(("route", given[0]), "the root route must not have any matchers")
    if root.continue_:
        report(("route", "continue"), "cannot have continue in root route")
    if root.mute_time_intervals:
        report(("route", "mute_time_intervals"), "root route must not have any mute time intervals")
    if root.active_time_intervals:
        report(
            ("route", "active_time_intervals"), "root route must not have any active time intervals"
        )
    intervals = _check_interval_names(model, report)

    def visit(route: RouteConfig, path: Loc) -> None:
        if route.receiver is not None and route.receiver not in declared:
            report((*path, "receiver"), f"undefined receiver {route.receiver!r} used in route")
        for key in (*route.match, *route.match_re):
            if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", key):
                report((*path, "match"), f"invalid label name {key!r}")
        for key, value in route.match_re.items():
            try:
                Matcher.create(key, Op.RE, value)
            except MatcherError as exc:
                report((*path, "match_re", key), str(exc))
        for key in ("mute_time_intervals", "active_time_intervals"):
            for i, name in enumerate(getattr(route, key)):
                if name not in intervals:
                    report((*path, key, i), f'undefined time interval "{name}" used in route')
        for i, child in enumerate(route.routes):
            visit(child, (*path, "routes", i))

    visit(root, ("route",))


def _check_interval_names(model: TocsinConfig, report: Callable[[Loc, str], None]) -> set[str]:
    """The names of the time intervals (both keys), each reported if given twice, as
    Alertmanager reports it."""
    seen: set[str] = set()
    for key, what in (
        ("mute_time_intervals", "mute time interval"),
        ("time_intervals", "time interval"),
    ):
        for i, named in enumerate(getattr(model, key)):
            if named.name in seen:
                report((key, i, "name"), f'{what} "{named.name}" is not unique')
            seen.add(named.name)
    return seen


def time_intervals(model: TocsinConfig) -> dict[str, tuple[Interval, ...]]:
    """The named time intervals of both keys, parsed (``routing/intervals.py``)."""
    out: dict[str, tuple[Interval, ...]] = {}
    for named in [*model.mute_time_intervals, *model.time_intervals]:
        out[named.name] = tuple(
            parse_interval(
                times=[(t.start_time, t.end_time) for t in spec.times],
                weekdays=spec.weekdays,
                days_of_month=spec.days_of_month,
                months=spec.months,
                years=spec.years,
                location=spec.location,
            )
            for spec in named.time_intervals
        )
    return out


def _legacy(match: dict[str, str], match_re: dict[str, str]) -> list[Matcher]:
    out = [Matcher.create(k, Op.EQ, v) for k, v in match.items()]
    out += [Matcher.create(k, Op.RE, v) for k, v in match_re.items()]
    return out


def storm_rule(config: StormConfig | None, inherited: StormRule) -> StormRule:
    """A route's storm settings: what its ``storm:`` gives, the rest ``inherited`` (its
    parent's, or for the root the top-level ``storm:``'s over the built-in defaults)."""
    if config is None:
        return inherited
    return StormRule(
        enabled=config.enabled if config.enabled is not None else inherited.enabled,
        incidents=config.incidents if config.incidents is not None else inherited.incidents,
        window_s=parse_duration(config.window) if config.window else inherited.window_s,
        update_every_s=parse_duration(config.update_every)
        if config.update_every
        else inherited.update_every_s,
    )


def build_route(
    config: RouteConfig, parent: Route | None = None, storm: StormConfig | None = None
) -> Route:
    """The routing tree with Alertmanager's inheritance of receiver, group_by and timings
    (``storm``: the top-level ``storm:`` section, the root's defaults)."""
    matchers = [parse_matcher(m) for m in config.matchers] + _legacy(config.match, config.match_re)
    group_by = config.group_by
    inherited_by = parent.group_by if parent else ()
    inherited_all = parent.group_by_all if parent else False

    def seconds(value: str | None, inherited: float | None, default: float) -> float:
        if value is not None:
            return parse_duration(value)
        return inherited if inherited is not None else default

    receiver = config.receiver or (parent.receiver if parent else "")
    route = Route(
        receiver=receiver,
        matchers=tuple(matchers),
        group_by=tuple(n for n in (group_by or []) if n != "...")
        if group_by is not None
        else inherited_by,
        group_by_all=("..." in group_by) if group_by is not None else inherited_all,
        group_wait_s=seconds(
            config.group_wait, parent.group_wait_s if parent else None, DEFAULT_GROUP_WAIT_S
        ),
        group_interval_s=seconds(
            config.group_interval,
            parent.group_interval_s if parent else None,
            DEFAULT_GROUP_INTERVAL_S,
        ),
        repeat_interval_s=seconds(
            config.repeat_interval,
            parent.repeat_interval_s if parent else None,
            DEFAULT_REPEAT_INTERVAL_S,
        ),
        continue_=config.continue_,
        options={
            "escalation_policy": config.escalation_policy
            or (parent.options.get("escalation_policy") if parent else None),
            # an explicit `channels: []` stops the parent's channels; leaving it out inherits
            "channels": config.channels
            if "channels" in config.model_fields_set
            else (parent.options.get("channels", []) if parent else []),
            "auto_resolve": config.auto_resolve
            if config.auto_resolve is not None
            else (parent.options.get("auto_resolve", True) if parent else True),
            "storm": storm_rule(
                config.storm, parent.storm if parent else storm_rule(storm, StormRule())
            ),
            "auto_diagnose": config.auto_diagnose
            if config.auto_diagnose is not None
            else (parent.options.get("auto_diagnose", False) if parent else False),
            # as Alertmanager: a route's own, never its parent's
            "mute_time_intervals": list(config.mute_time_intervals),
            "active_time_intervals": list(config.active_time_intervals),
        },
    )
    route.routes = [build_route(child, route) for child in config.routes]
    return route


def inhibit_rules(model: TocsinConfig) -> list[InhibitRule]:
    """The inhibition rules, ``*_matchers`` lists and legacy ``*_match``/``*_match_re`` as one."""
    return [
        InhibitRule(
            source_matchers=tuple(
                [parse_matcher(m) for m in r.source_matchers]
                + _legacy(r.source_match, r.source_match_re)
            ),
            target_matchers=tuple(
                [parse_matcher(m) for m in r.target_matchers]
                + _legacy(r.target_match, r.target_match_re)
            ),
            equal=tuple(r.equal),
        )
        for r in model.inhibit_rules
    ]


def alertmanager_yaml(model: TocsinConfig) -> str:
    """The configuration as Alertmanager would read it (route, receivers, inhibit rules), so
    ``amtool config show`` and ``amtool config routes`` work against tocsin."""
    tocsin_only = {"escalation_policy", "channels", "auto_resolve", "storm", "auto_diagnose"}

    def route_dict(route: RouteConfig) -> dict[str, Any]:
        data = route.model_dump(by_alias=True, exclude_none=True, exclude=tocsin_only)
        data = {k: v for k, v in data.items() if v not in ([], {}, False) or k == "routes"}
        data["routes"] = [route_dict(r) for r in route.routes]
        if not data["routes"]:
            del data["routes"]
        return data

    doc = {
        "global": {"resolve_timeout": model.global_.resolve_timeout},
        "route": route_dict(model.route),
        "receivers": [{"name": r.name} for r in model.receivers],
    }
    for key in ("mute_time_intervals", "time_intervals"):
        if getattr(model, key):
            doc[key] = [
                t.model_dump(exclude_none=True, exclude_defaults=True) for t in getattr(model, key)
            ]
    if model.inhibit_rules:
        doc["inhibit_rules"] = [
            r.model_dump(exclude_none=True, exclude_defaults=True) for r in model.inhibit_rules
        ]
    return yaml.safe_dump(doc, sort_keys=False)
