"""The scenario of ``tocsin simulate``: the file read, validated and placed on the timeline.

The first stage of a simulation: a scenario is a configuration, a start time and timed events.
``parse_scenario`` checks it alone (every problem at once, at ``file:line:column``, found as
``tocsin.yaml``'s are, by ``config.Problems``), ``scenario_config`` loads its configuration and
``check_against`` checks what it names against that configuration. ``run.py`` plays it.

Scenario format (YAML)::

    description: Pebble's API goes down and nobody answers   # optional
    config: ../tocsin.yaml       # the tocsin.yaml to use, relative to this file, or:
    # config_inline: {...}       # a whole tocsin.yaml inline (its paths relative to this file)
    start: 2027-01-15T08:00:00Z  # the virtual clock's start (ISO 8601; UTC without an offset)
    until: 2h                    # the end: start + a duration, or an absolute time
                                 #   (default: 1h after the last event); at most 90d
    seed: 7                      # optional: retries wait a jittered backoff drawn from this
                                 #   seed; without it every retry waits its full backoff
    channels:                    # optional: channels that fail (the others always succeed)
      slack-oncall: {fail: 2, status: 503}    # the first 2 attempts on it fail, then success
      pagerduty: {fail: always, status: 500}  # every attempt fails: retries, dead letter
      email: {fail: 1, status: 404}           # a 4xx other than 408/429 is not retried
      hook: {fail: 1, status: 429, retry_after: 2m}   # status null: no answer (a timeout)
    events:                      # run in time order (same time: file order)
      - at: 0s                   # offset from start (duration or seconds) or an ISO time
        fire: {alertname: DatabaseDown, severity: critical, service: pebble-db}
        annotations: {summary: "Primary database unreachable"}   # optional, with fire
      - at: 20m
        resolve: {alertname: DatabaseDown}    # every firing alert that has these labels
      - at: 3m
        ack: {incident: 1, by: alice}         # or {alertname: DatabaseDown, by: alice}
      - at: 9m
        resolve_incident: {incident: 1, by: bob}
      - at: 2m
        escalate: {incident: 1, by: alice}    # "escalate now": the next step fires at once
      - at: 0s
        override: {schedule: primary, user: bob, replaces: alice, start: 0s, end: 4h}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from tocsin.config import (
    Config,
    Problems,
    load_config,
    parse_config,
    read_source,
    yaml_positions,
)
from tocsin.config.models import Loc
from tocsin.errors import Invalid
from tocsin.times import MAX_OFFSET_S, aware, format_duration, parse_time
from tocsin.times import parse_duration as duration

DEFAULT_TAIL_S = 3600.0  # without `until`, run this long after the last event
MAX_SPAN_S = 90 * 86_400.0  # the longest simulation: start to end
EARLIEST_START = datetime(1000, 1, 1, tzinfo=UTC)  # so that every time of a run is a date
LATEST_START = datetime(9000, 1, 1, tzinfo=UTC)  # with four digits for its year


class ScenarioError(Invalid):
    """The scenario is invalid; ``problems`` holds one ``file:line:col: where: message`` each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    @classmethod
    def listing(cls, problems: Problems) -> ScenarioError:
        """The error for the problems found, each as ``tocsin.yaml``'s are written."""
        return cls([str(p) for p in problems.found])


def _moment(value: object) -> float | datetime:
    """An offset from the start in seconds (``90s``, ``5m``, ``1h30m``, a number), or an
    absolute time (ISO 8601, UTC when it has no offset)."""
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        try:
            return duration(value)
        except ValueError:
            pass
        try:
            return parse_time(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is neither a duration (90s, 5m, 1h30m) nor an ISO 8601 time")


def _seconds(value: object) -> float:
    if isinstance(value, str):
        return duration(value)
    raise ValueError(f"{value!r} is not a duration (90s, 5m, 1h30m)")


def _fail(value: object) -> int | str:
    if value == "always" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError(f"{value!r}: give how many attempts fail (0, 1, 2…) or `always`")


Moment = Annotated[float | datetime, BeforeValidator(_moment)]
Seconds = Annotated[float, BeforeValidator(_seconds)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelFailure(_Strict):
    fail: Annotated[int | Literal["always"], BeforeValidator(_fail)]
    status: int | None = Field(503, ge=100, le=599)  # None: no answer at all (a timeout)
    retry_after: Seconds | None = None  # what the receiver asks us to wait
    error: str = ""


class IncidentRef(_Strict):
    incident: int | None = Field(None, ge=1)
    alertname: str | None = None
    by: str = Field("simulator", min_length=1)

    @model_validator(mode="after")
    def _one(self) -> IncidentRef:
        if (self.incident is None) == (self.alertname is None):
            raise ValueError("give either incident (its number) or alertname")
        return self


class OverrideEvent(_Strict):
    schedule: str
    user: str
    replaces: str | None = None  # None: join the schedule; "*": replace whoever is on call
    start: Moment | None = None  # default: the event's time
    end: Moment
    by: str = "simulator"
    reason: str = ""


ACTIONS = ("fire", "resolve", "ack", "resolve_incident", "escalate", "override")
ALERT_ACTIONS = ("fire", "resolve")


class Event(_Strict):
    at: Moment
    fire: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    resolve: dict[str, str] | None = None
    ack: IncidentRef | None = None
    resolve_incident: IncidentRef | None = None
    escalate: IncidentRef | None = None
    override: OverrideEvent | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Event:
        given = [name for name in ACTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            got = f" (got {', '.join(given)})" if given else ""
            raise ValueError(f"an event needs exactly one of {', '.join(ACTIONS)}{got}")
        if self.annotations is not None and self.fire is None:
            raise ValueError("annotations go with fire")
        if self.fire is not None and not self.fire:
            raise ValueError("fire needs the alert's labels")
        if self.resolve is not None and not self.resolve:
            raise ValueError("resolve needs labels that pick the alerts to resolve")
        return self

    @property
    def action(self) -> str:
        return next(name for name in ACTIONS if getattr(self, name) is not None)


class ScenarioModel(_Strict):
    description: str = ""
    config: str | None = None
    config_inline: dict[str, Any] | None = None
    start: datetime
    until: Moment | None = None
    seed: int | None = None
    channels: dict[str, ChannelFailure] = Field(default_factory=dict)
    events: list[Event] = Field(default_factory=list)

    @model_validator(mode="after")
    def _config(self) -> ScenarioModel:
        if (self.config is None) == (self.config_inline is None):
            raise ValueError("give either config (a path) or config_inline (a mapping)")
        return self


@dataclass(frozen=True)
class Step:
    """An event at its absolute time; ``index`` is its place in the file's ``events``."""

    at: float
    index: int
    event: Event


@dataclass(frozen=True)
class Scenario:
    source: str  # the file, for messages
    base_dir: Path
    model: ScenarioModel
    start: float
    end: float
    steps: tuple[Step, ...]  # in time order
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    config_text: str | None = None  # config_inline as written, at its place in the file

    @property
    def channels(self) -> dict[str, ChannelFailure]:
        return self.model.channels

    def problems(self) -> Problems:
        """An empty list of problems placed in this scenario's file: ``near(loc, message)``
        adds ``file:line:col: events[3].at: message``, at the deepest part of ``loc`` found."""
        return Problems(self.source, self.positions)


def timestamp(moment: float | datetime, start: float) -> float:
    """A moment of the scenario (an offset from ``start``, or a time) as a Unix timestamp."""
    return moment.timestamp() if isinstance(moment, datetime) else start + moment


def covers(labels: dict[str, str], selector: dict[str, str]) -> bool:
    """Whether an alert's labels hold every label of a ``resolve`` selector."""
    return all(labels.get(k) == v for k, v in selector.items())


def parse_scenario(
    text: str, source: str = "scenario.yaml", base_dir: Path | None = None
) -> Scenario:
    """Validate a scenario; raise ScenarioError listing every problem found."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ScenarioError([f"{where}: invalid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}: a scenario must be a mapping"])
    positions = yaml_positions(text)
    problems = Problems(source, positions)
    try:
        model = ScenarioModel.model_validate(data)
    except ValidationError as exc:
        places: list[tuple[int, int]] = []
        for error in exc.errors():
            # pydantic adds its validators' names (function-before[...]) to the location
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            problems.near(loc, error["msg"].removeprefix("Value error, "))
            places.append(problems.place(loc) or (0, 0))
        # in the order of the file, not of the models
        found = sorted(zip(places, map(str, problems.found), strict=True))
        raise ScenarioError([text for _place, text in found]) from None
    try:
        in_range = EARLIEST_START <= aware(model.start) < LATEST_START
    except OverflowError:  # before year 1 in UTC
        in_range = False
    if not in_range:
        problems.near(("start",), "must be from the year 1000 to before the year 9000")
        raise ScenarioError.listing(problems)
    start = aware(model.start).timestamp()
    longest = format_duration(MAX_SPAN_S, "prometheus")
    beyond = f"more than {longest} after start (the longest simulation)"
    steps = []
    for i, event in enumerate(model.events):
        at = timestamp(event.at, start)
        if at < start:
            problems.near(("events", i, "at"), "before start")
        elif at - start > MAX_SPAN_S:
            problems.near(("events", i, "at"), beyond)
        steps.append(Step(at, i, event))
    steps.sort(key=lambda s: (s.at, s.index))
    last = steps[-1].at if steps else start
    end = timestamp(model.until, start) if model.until is not None else last + DEFAULT_TAIL_S
    if end <= start:
        problems.near(("until",), "must be after start")
    elif end - start > MAX_SPAN_S and model.until is not None:
        problems.near(("until",), f"{beyond}; simulate a shorter span")
    elif end < last:
        message = f"before the last event (events[{steps[-1].index}])"
        problems.near(("until",), message)
    firing: list[dict[str, str]] = []
    for step in steps:
        ev, loc = step.event, ("events", step.index)
        if ev.fire is not None and ev.fire not in firing:
            firing.append(ev.fire)
        elif ev.resolve is not None:
            matched = [labels for labels in firing if covers(labels, ev.resolve)]
            if not matched:
                message = "no alert with these labels is firing at that time"
                problems.near((*loc, "resolve"), message)
            firing = [labels for labels in firing if labels not in matched]
        elif ev.override is not None:
            o = ev.override
            o_start = timestamp(o.start, start) if o.start is not None else step.at
            o_end = timestamp(o.end, start)
            if max(abs(o_start - start), abs(o_end - start)) > MAX_OFFSET_S:
                problems.near((*loc, "override"), "more than a century from start")
            elif o_end <= o_start:
                message = "end must be after start"
                problems.near((*loc, "override", "end"), message)
    if problems.found:
        raise ScenarioError.listing(problems)
    return Scenario(
        source=source,
        base_dir=base_dir or Path("."),
        model=model,
        start=start,
        end=end,
        steps=tuple(steps),
        positions=positions,
        config_text=_inline_text(text) if model.config_inline is not None else None,
    )


def _inline_text(text: str) -> str | None:
    """``config_inline`` as written in the scenario, preceded by as many blank lines and
    spaces as it is in the file, so that the configuration's errors point into the file."""
    root = yaml.compose(text)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "config_inline":
                begin, end = value.start_mark, value.end_mark
                before = "\n" * int(begin.line) + " " * int(begin.column)
                return before + text[int(begin.index) : int(end.index)]
    return None


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    text = read_source(path, lambda why: ScenarioError([f"{path}: {why}"]))
    return parse_scenario(text, str(path), path.parent)


def scenario_config(scenario: Scenario) -> Config:
    """The scenario's configuration; ``ConfigError`` (with places) when it is invalid."""
    if scenario.model.config is not None:
        # normalized, so that messages and runbook links read examples/tocsin.yaml, not
        # examples/scenarios/../tocsin.yaml
        return load_config(os.path.normpath(scenario.base_dir / scenario.model.config))
    text = scenario.config_text
    if text is None:  # a scenario built without its text: no positions to keep
        text = yaml.safe_dump(scenario.model.config_inline, sort_keys=False)
    return parse_config(text, scenario.source, scenario.base_dir)


def check_against(scenario: Scenario, config: Config) -> None:
    """What the scenario names must exist in the configuration (ScenarioError otherwise)."""
    paging = config.paging
    problems = scenario.problems()
    for name in scenario.channels:
        if name not in paging.channels:
            problems.near(("channels", name), f"the configuration has no channel {name!r}")
    for step in scenario.steps:
        o = step.event.override
        if o is None:
            continue
        loc = ("events", step.index, "override")
        if o.schedule not in paging.schedules:
            message = f"the configuration has no schedule {o.schedule!r}"
            problems.near((*loc, "schedule"), message)
        if o.user not in paging.users:
            message = f"the configuration has no user {o.user!r}"
            problems.near((*loc, "user"), message)
        if o.replaces not in (None, "*") and o.replaces not in paging.users:
            message = f"the configuration has no user {o.replaces!r} to replace"
            problems.near((*loc, "replaces"), message)
    if problems.found:
        raise ScenarioError.listing(problems)
