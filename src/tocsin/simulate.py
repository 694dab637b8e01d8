"""``tocsin simulate``: a scenario run through the real pipeline on a virtual clock.

A scenario is a configuration, a start time and timed events. The simulation takes alerts in
as the Alertmanager API does (``parse_v2``, ``repo.ingest``), lets the real engine
(``DueWorkEngine``) flush groups, trigger incidents, escalate, miss deadlines and deliver the
outbox with the real retry policy, on a ``VirtualClock`` over an in-memory SQLite database,
and reads the timeline back. Nothing leaves the process: every channel is replaced by one that
records the message and answers as the scenario says (success by default), so retries, dead
letters and fallback channels run exactly as in production. An hour of escalation takes well
under a second, which is also how the tests use it. See docs/simulate.md.

Scenario format (YAML)::

    description: Pebble's API goes down and nobody answers   # optional
    config: ../tocsin.yaml       # the tocsin.yaml to use, relative to this file, or:
    # config_inline: {...}       # a whole tocsin.yaml inline (its paths relative to this file)
    start: 2027-01-15T08:00:00Z  # the virtual clock's start (ISO 8601; UTC without an offset)
    until: 2h                    # the end: start + a duration, or an absolute time
                                 #   (default: 1h after the last event)
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

How it runs:

- A fired alert keeps firing until a ``resolve`` event: it is posted once with ``startsAt`` =
  now and ``endsAt`` beyond the end of the simulation; ``resolve`` posts the same labels and
  ``startsAt`` with ``endsAt`` = now, as Prometheus does.
- Consecutive ``fire``/``resolve`` events at one instant are posted as one batch (Prometheus
  sends its alerts together); after each batch or action the engine runs what is due.
- Events at an instant come before the engine's work due at that same instant: an
  acknowledgement at +3m beats a 3m acknowledgement deadline.
- Between events the clock jumps from one due time to the next (group flushes, escalation
  steps, deadlines, acknowledgement timeouts, delivery retries) and the engine runs at each.
- ``{alertname: X}`` names the open incident that holds a firing scenario alert called X (the
  lowest-numbered one that escalates, else the lowest-numbered one). An action the pipeline
  refuses (acknowledging a resolved incident, escalating an acknowledged one) is shown as
  ``action_refused``.
- Override ``start`` (default: the event's time) and ``end`` are offsets from the scenario's
  start, or absolute times.
- A channel's failures count its attempts, whichever message they carry.
- Firing alerts are not re-sent as Prometheus re-sends them.

The timeline lists, in time order (same instant: the order they were written), the kinds the
pipeline writes (opened, group_flushed, silenced, inhibited, triggered, escalated,
escalation_exhausted, deadline_missed, acknowledged, ack_expired, notified, notify_failed,
resolved, and the others of docs/response.md) and the
simulation's own: alert_fired, alert_resolved, override, action_refused, and attempt_failed
(a delivery attempt that failed and is retried; the pipeline records only the last outcome).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

import aiohttp
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.pool import StaticPool

from tocsin.alerts.model import Alert
from tocsin.alerts.payloads import StructuralError, format_time, parse_v2
from tocsin.clock import VirtualClock
from tocsin.config import (
    ChannelConfig,
    Config,
    load_config,
    parse_config,
    read_source,
    yaml_positions,
)
from tocsin.engine.loop import DueWorkEngine
from tocsin.errors import Invalid, TocsinError
from tocsin.incidents.describe import incident_title
from tocsin.notify.base import Channel
from tocsin.notify.message import Message
from tocsin.notify.retry import Outcome
from tocsin.oncall.schedule import Override
from tocsin.runbooks.loader import load_catalog
from tocsin.store import outbox, repo
from tocsin.store.db import begin_write, make_engine, upgrade
from tocsin.store.schema import due_work, incidents, notifications, timeline
from tocsin.times import format_duration, parse_time
from tocsin.times import parse_duration as duration

MAX_STEPS = 100_000  # engine passes; more means a runaway scenario
DEFAULT_TAIL_S = 3600.0  # without `until`, run this long after the last event
OWNER = "simulate"  # the engine's lease owner and the alerts' source
# kinds the simulation adds to the pipeline's timeline
EXTRA_KINDS = ("alert_fired", "alert_resolved", "override", "action_refused", "attempt_failed")

Loc = tuple[str | int, ...]


_span = partial(format_duration, style="clock")  # the timeline's fixed-width offsets


class ScenarioError(Invalid):
    """The scenario is invalid; ``problems`` holds one ``file:line:col: where: message`` each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class SimulationError(TocsinError):
    """The simulation could not finish: a runaway scenario or due work that cannot be done."""


# --------------------------------------------------------------------------- the scenario


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _moment(value: object) -> float | datetime:
    """An offset from the start in seconds (``90s``, ``5m``, ``1h30m``, a number), or an
    absolute time (ISO 8601, UTC when it has no offset)."""
    if isinstance(value, datetime):
        return _aware(value)
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

    def problem(self, loc: Loc, message: str) -> str:
        return _problem(self.source, self.positions, loc, message)


def _problem(source: str, positions: dict[Loc, tuple[int, int]], loc: Loc, message: str) -> str:
    """``file:line:col: events[3].at: message``, at the deepest part of ``loc`` found."""
    where = source
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in positions:
            line, column = positions[loc[:cut]]
            where = f"{source}:{line}:{column}"
            break
    dotted = ""
    for part in loc:
        dotted += f"[{part}]" if isinstance(part, int) else (f".{part}" if dotted else part)
    return f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}"


def _ts(moment: float | datetime, start: float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else start + moment


def _covers(labels: dict[str, str], selector: dict[str, str]) -> bool:
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
    try:
        model = ScenarioModel.model_validate(data)
    except ValidationError as exc:
        found: list[tuple[tuple[int, int], str]] = []
        for error in exc.errors():
            # pydantic adds its validators' names (function-before[...]) to the location
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            message = error["msg"].removeprefix("Value error, ")
            place = next(
                (positions[loc[:cut]] for cut in range(len(loc), -1, -1) if loc[:cut] in positions),
                (0, 0),
            )
            found.append((place, _problem(source, positions, loc, message)))
        raise ScenarioError([text for _place, text in sorted(found)]) from None
    start = _aware(model.start).timestamp()
    problems = []
    steps = []
    for i, event in enumerate(model.events):
        at = _ts(event.at, start)
        if at < start:
            problems.append(_problem(source, positions, ("events", i, "at"), "before start"))
        steps.append(Step(at, i, event))
    steps.sort(key=lambda s: (s.at, s.index))
    last = steps[-1].at if steps else start
    end = _ts(model.until, start) if model.until is not None else last + DEFAULT_TAIL_S
    if end <= start:
        problems.append(_problem(source, positions, ("until",), "must be after start"))
    elif end < last:
        message = f"before the last event (events[{steps[-1].index}])"
        problems.append(_problem(source, positions, ("until",), message))
    firing: list[dict[str, str]] = []
    for step in steps:
        ev, loc = step.event, ("events", step.index)
        if ev.fire is not None and ev.fire not in firing:
            firing.append(ev.fire)
        elif ev.resolve is not None:
            matched = [labels for labels in firing if _covers(labels, ev.resolve)]
            if not matched:
                message = "no alert with these labels is firing at that time"
                problems.append(_problem(source, positions, (*loc, "resolve"), message))
            firing = [labels for labels in firing if labels not in matched]
        elif ev.override is not None:
            o = ev.override
            o_start = _ts(o.start, start) if o.start is not None else step.at
            if _ts(o.end, start) <= o_start:
                message = "end must be after start"
                problems.append(_problem(source, positions, (*loc, "override", "end"), message))
    if problems:
        raise ScenarioError(problems)
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
    problems = [
        scenario.problem(("channels", name), f"the configuration has no channel {name!r}")
        for name in scenario.channels
        if name not in paging.channels
    ]
    for step in scenario.steps:
        o = step.event.override
        if o is None:
            continue
        loc = ("events", step.index, "override")
        if o.schedule not in paging.schedules:
            message = f"the configuration has no schedule {o.schedule!r}"
            problems.append(scenario.problem((*loc, "schedule"), message))
        if o.user not in paging.users:
            message = f"the configuration has no user {o.user!r}"
            problems.append(scenario.problem((*loc, "user"), message))
        if o.replaces not in (None, "*") and o.replaces not in paging.users:
            message = f"the configuration has no user {o.replaces!r} to replace"
            problems.append(scenario.problem((*loc, "replaces"), message))
    if problems:
        raise ScenarioError(problems)


# --------------------------------------------------------------------------- channels


@dataclass(frozen=True)
class Sent:
    """One delivery attempt that reached a simulated channel: what a human would receive."""

    at: float
    channel: str
    ok: bool
    status: int | None
    message: Message


class SimulatedChannel:
    """Stands in for a configured channel: records each attempt, answers as the scenario
    says (``ChannelFailure``), and succeeds otherwise."""

    def __init__(
        self, name: str, kind: str, runner: _Runner, failure: ChannelFailure | None
    ) -> None:
        self.name = name
        self.kind = kind
        self._runner = runner
        self._failure = failure

    async def send(self, message: Message) -> Outcome:
        runner = self._runner
        attempt = runner.attempts[self.name] = runner.attempts.get(self.name, 0) + 1
        f = self._failure
        if f is None or (f.fail != "always" and attempt > int(f.fail)):
            runner.record(Sent(runner.clock.now(), self.name, True, 200, message))
            return Outcome(ok=True, status=200)
        runner.record(Sent(runner.clock.now(), self.name, False, f.status, message))
        error = f.error or (
            f"simulated failure (status {f.status})" if f.status else "simulated: no answer"
        )
        return Outcome(ok=False, status=f.status, error=error, retry_after_s=f.retry_after)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Entry:
    """One line of the simulated timeline."""

    at: float
    offset_s: float
    kind: str
    incident: int | None
    target: str | None
    channel: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        offset = round(self.offset_s, 3)
        return {
            "at": _iso(self.at),
            "offset_s": int(offset) if offset == int(offset) else offset,
            "kind": self.kind,
            "incident": self.incident,
            "target": self.target,
            "channel": self.channel,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class IncidentSummary:
    id: int
    title: str
    status: str
    severity: str | None
    policy: str | None
    triggered_s: float | None  # offset from the scenario's start
    ack_s: float | None  # from triggered (else opened) to the first acknowledgement
    acknowledged_by: str | None
    resolve_s: float | None  # from triggered (else opened) to resolved
    pages: int  # escalation messages delivered (to people and to channel targets)
    messages: int  # every message delivered
    dead_letters: int
    escalations: int
    deadlines_missed: int


@dataclass
class Result:
    scenario: Scenario
    entries: list[Entry]
    incidents: list[IncidentSummary]
    sent: list[Sent]  # every delivery attempt, in order
    warnings: list[str] = field(default_factory=list)
    steps: int = 0  # engine passes

    def kinds(self, incident: int | None = None) -> list[str]:
        return [e.kind for e in self.entries if incident is None or e.incident == incident]


def _iso(ts: float) -> str:
    return repo.to_dt(ts).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- the run


class _Collect(logging.Handler):
    """Warnings and errors the pipeline logs, kept for the report."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line += f" ({type(exc).__name__}: {exc})"
        self.lines.append(line)


@dataclass(frozen=True)
class _Noted:
    """An entry of the scenario's own, placed after the timeline rows written before it."""

    after_id: int
    seq: int
    entry: Entry


def _full_backoff() -> float:
    return 1.0


class _Runner:
    def __init__(self, scenario: Scenario, config: Config, max_steps: int) -> None:
        self.scenario = scenario
        self.config = config
        self.max_steps = max_steps
        self.clock = VirtualClock(scenario.start)
        self.attempts: dict[str, int] = {}
        self.sent: list[Sent] = []
        self.sent_after: list[int] = []  # the last timeline id when each attempt was made
        self.noted: list[_Noted] = []
        self.firing: dict[str, tuple[dict[str, str], datetime]] = {}  # fp: labels, startsAt
        self.steps = 0
        self.limits = config.limits
        # one connection for all: every thread sees the same in-memory database
        self.db: Engine = make_engine("sqlite://", poolclass=StaticPool)
        upgrade(self.db)
        paths = config.runbook_paths()
        self.engine = DueWorkEngine(
            self.db,
            config,
            self.clock,
            owner=OWNER,
            catalog=load_catalog(paths) if paths else None,
            channel_factory=self.channel,
        )
        seed = scenario.model.seed
        # without a seed every retry waits its full backoff, so times can be worked by hand
        self.engine.deliverer.rand = (
            random.Random(seed).random if seed is not None else _full_backoff
        )

    def record(self, sent: Sent) -> None:
        self.sent.append(sent)
        with self.db.connect() as conn:  # no transaction is open while channels send
            self.sent_after.append(_last_timeline_id(conn))

    def channel(self, cfg: ChannelConfig, _http: aiohttp.ClientSession) -> Channel:
        return SimulatedChannel(cfg.name, cfg.type, self, self.scenario.channels.get(cfg.name))

    async def run(self) -> None:
        try:
            for at, batch in _batches(self.scenario.steps):
                await self._until(at, inclusive=False)
                self.clock.set(max(self.clock.now(), at))
                self._apply(batch)
                await self._until(at, inclusive=True)
            await self._until(self.scenario.end, inclusive=True)
            self.clock.set(max(self.clock.now(), self.scenario.end))
        finally:
            await self.engine.deliverer.close()

    # ---- time

    def _wakeup(self) -> float | None:
        """When the engine next has something to claim: the earliest due time; for work due
        already, just after a lease still held (an item whose handling failed is claimed
        again only when its lease lapses)."""
        with self.db.connect() as conn:
            nxt = repo.next_due_at(conn)
            if nxt is None or nxt > self.clock.now():
                return nxt
            rows = conn.execute(select(due_work.c.due_at, due_work.c.lease_until)).all()
        return min(
            float(due) if lease is None or lease < due else float(lease) + 0.001
            for due, lease in rows
        )

    async def _until(self, t: float, inclusive: bool) -> None:
        """Run the engine at each due time up to ``t`` (before ``t`` unless inclusive)."""
        while True:
            nxt = self._wakeup()
            if nxt is None or nxt > t or (nxt == t and not inclusive):
                return
            self.clock.set(max(self.clock.now(), nxt))
            self.steps += 1
            if self.steps > self.max_steps:
                now = self.clock.now()
                raise SimulationError(
                    f"{self.scenario.source}: more than {self.max_steps} engine passes by "
                    f"{_iso(now)} (+{_span(now - self.scenario.start)}): the scenario keeps "
                    "making work due; shorten `until` or check the channels' retry settings"
                )
            if await self.engine.run_once() == 0 and self._wakeup() == nxt:
                raise SimulationError(
                    f"{self.scenario.source}: due work at {_iso(nxt)} cannot be carried out "
                    "(the engine claimed nothing)"
                )

    # ---- events

    def _apply(self, batch: list[Step]) -> None:
        now = self.clock.now()
        if batch[0].event.action in ALERT_ACTIONS:
            self._post(batch, now)
            return
        [step] = batch
        ev = step.event
        with begin_write(self.db) as conn:
            after = _last_timeline_id(conn)
            if ev.override is not None:
                self._override(conn, step, now, after)
                return
            ref = ev.ack or ev.resolve_incident or ev.escalate
            assert ref is not None
            incident_id, why = self._incident(conn, ref)
            if incident_id is not None:
                pager = self.engine.pager
                if ev.ack is not None:
                    why = pager.acknowledge(conn, incident_id, ref.by, now)
                elif ev.resolve_incident is not None:
                    why = pager.resolve(conn, incident_id, ref.by, now)
                else:  # as POST /api/v1/incidents/{id}/escalate does
                    status = repo.get_incident(conn, incident_id).status
                    if status != "triggered":
                        why = f"the incident is {status}; only a triggered incident escalates"
                    elif not pager.escalate(
                        conn, incident_id, now, reason="escalated by hand", by=ref.by
                    ):
                        why = "the incident has no escalation left to run"
            if why is not None:
                detail = {"event": step.index, "action": ev.action, "by": ref.by, "reason": why}
                self._note(after, now, "action_refused", incident_id, None, detail)

    def _post(self, batch: list[Step], now: float) -> None:
        """Post the batch's fire/resolve events as one Alertmanager API v2 request would."""
        when = repo.to_dt(now)
        beyond = repo.to_dt(self.scenario.end + self.config.resolve_timeout_s + 1)
        alerts: list[tuple[Step, Alert]] = []
        for step in batch:
            ev = step.event
            if ev.fire is not None:
                # startsAt given: with endsAt alone, Alertmanager's default is startsAt = endsAt
                bodies = [
                    {
                        "labels": ev.fire,
                        "annotations": ev.annotations or {},
                        "startsAt": format_time(when),
                        "endsAt": format_time(beyond),
                    }
                ]
            else:
                assert ev.resolve is not None
                bodies = [
                    {"labels": labels, "startsAt": format_time(since), "endsAt": format_time(when)}
                    for labels, since in self.firing.values()
                    if _covers(labels, ev.resolve)
                ]
            for body in bodies:
                try:
                    parsed = parse_v2([body], when, self.config.resolve_timeout_s, self.limits)
                    errors = parsed.errors
                except StructuralError as exc:
                    errors = [str(exc)]
                if errors:
                    loc = ("events", step.index, ev.action)
                    raise ScenarioError([self.scenario.problem(loc, e) for e in errors])
                alerts.append((step, parsed.alerts[0]))
        with begin_write(self.db) as conn:
            after = _last_timeline_id(conn)
            repo.ingest(conn, [a for _s, a in alerts], when, self.config.route, source=OWNER)
            for step, alert in alerts:
                fp = alert.fingerprint
                fired = step.event.fire is not None
                if fired:
                    assert alert.starts_at is not None
                    self.firing.setdefault(fp, (alert.labels, alert.starts_at))
                else:
                    self.firing.pop(fp, None)
                joined = sorted(repo.incidents_of(conn, fp))
                detail: dict[str, Any] = {
                    "event": step.index,
                    "fingerprint": fp,
                    "labels": alert.labels,
                    "incidents": joined,
                }
                if fired and alert.annotations:
                    detail["annotations"] = alert.annotations
                kind = "alert_fired" if fired else "alert_resolved"
                self._note(after, now, kind, joined[0] if joined else None, None, detail)

    def _override(self, conn: Connection, step: Step, now: float, after: int) -> None:
        o = step.event.override
        assert o is not None
        start = _ts(o.start, self.scenario.start) if o.start is not None else now
        end = _ts(o.end, self.scenario.start)
        override = Override(o.schedule, repo.to_dt(start), repo.to_dt(end), o.user, o.replaces)
        new_id = outbox.add_override(conn, override, o.by, now, o.reason)
        detail = {
            "event": step.index,
            "override": new_id,
            "user": o.user,
            "replaces": o.replaces,
            "start": _iso(start),
            "end": _iso(end),
            "by": o.by,
        }
        self._note(after, now, "override", None, f"schedule:{o.schedule}", detail)

    def _incident(self, conn: Connection, ref: IncidentRef) -> tuple[int | None, str | None]:
        """The incident an action names, or why there is none."""
        if ref.incident is not None:
            if repo.get_incident(conn, ref.incident) is None:
                return None, f"no incident {ref.incident}"
            return ref.incident, None
        found = sorted(
            {
                i
                for fp, (labels, _since) in self.firing.items()
                if labels.get("alertname") == ref.alertname
                for i in repo.incidents_of(conn, fp)
            }
        )
        if not found:
            return None, f"no open incident holds a firing alert named {ref.alertname!r}"
        escalating = [i for i in found if repo.get_incident(conn, i).escalation]
        return (escalating or found)[0], None

    def _note(
        self,
        after: int,
        now: float,
        kind: str,
        incident: int | None,
        target: str | None,
        detail: dict[str, Any],
    ) -> None:
        entry = Entry(now, now - self.scenario.start, kind, incident, target, None, detail)
        self.noted.append(_Noted(after, len(self.noted), entry))

    # ---- reading back

    def result(self, logged: list[str]) -> Result:
        keyed = [((n.entry.at, n.after_id + 0.5, n.seq), n.entry) for n in self.noted]
        with self.db.connect() as conn:
            # the scenario's own alert_fired / alert_resolved carry the moment the alert was
            # posted; the pipeline's (written at its flush) would say it twice
            own = ("alert_fired", "alert_resolved")
            query = select(timeline).where(timeline.c.kind.not_in(own)).order_by(timeline.c.id)
            for row in conn.execute(query):
                keyed.append(((row.at, float(row.id), 0), self._entry(conn, row)))
            keyed += self._failed_attempts(conn)
            keyed.sort(key=lambda pair: pair[0])
            entries = [e for _key, e in keyed]
            rows = conn.execute(select(incidents).order_by(incidents.c.id)).all()
            summaries = [_summary(conn, row, entries, self.scenario.start) for row in rows]
        return Result(
            self.scenario,
            entries,
            summaries,
            self.sent,
            _warnings(entries, summaries) + logged,
            self.steps,
        )

    def _failed_attempts(self, conn: Connection) -> list[tuple[tuple[float, float, int], Entry]]:
        """Failed attempts that were retried (the last one of a dead letter is already on
        the timeline as notify_failed), as the channels saw them."""
        out = []
        made: dict[str, int] = {}
        for seq, (sent, after) in enumerate(zip(self.sent, self.sent_after, strict=True)):
            key = sent.message.idempotency_key
            attempt = made[key] = made.get(key, 0) + 1
            note = conn.execute(
                select(notifications).where(notifications.c.idempotency_key == key)
            ).first()
            if sent.ok or note is None or (note.status == "dead" and note.attempts == attempt):
                continue
            detail = {
                "channel": sent.channel,
                "target": note.target,
                "kind": sent.message.kind,
                "attempt": attempt,
                "status": sent.status,
                "notification": note.id,
                "recipient": (sent.message.recipient or {}).get("name"),
            }
            entry = Entry(
                sent.at,
                sent.at - self.scenario.start,
                "attempt_failed",
                sent.message.incident_id,
                note.target,
                sent.channel,
                detail,
            )
            out.append(((sent.at, after + 0.5, len(self.noted) + seq), entry))
        return out

    def _entry(self, conn: Connection, row: Any) -> Entry:
        """A timeline row, with who was paged for a delivery (from its outbox message)."""
        detail = json.loads(row.detail)
        target, channel = detail.get("target"), detail.get("channel")
        if row.kind == "escalated":
            target = ", ".join(detail.get("targets", [])) or None
        if row.kind in ("notified", "notify_failed") and "notification" in detail:
            note = outbox.get(conn, int(detail["notification"]))
            message = json.loads(note.message) if note is not None else {}
            detail["recipient"] = (message.get("recipient") or {}).get("name")
            detail.setdefault("attempt", detail.get("attempts"))
            if note is not None and note.fallback_of is not None:
                detail["fallback_of"] = note.fallback_of
            if message.get("runbook_url"):
                detail["runbook_url"] = message["runbook_url"]
        return Entry(
            row.at, row.at - self.scenario.start, row.kind, row.incident_id, target, channel, detail
        )


def _last_timeline_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(timeline.c.id))).scalar_one_or_none() or 0)


def _batches(steps: Sequence[Step]) -> Iterator[tuple[float, list[Step]]]:
    """Steps as they are applied: consecutive fire/resolve events at one instant together,
    every other event alone."""
    batch: list[Step] = []
    for step in steps:
        if (
            batch
            and step.at == batch[0].at
            and step.event.action in ALERT_ACTIONS
            and batch[0].event.action in ALERT_ACTIONS
        ):
            batch.append(step)
            continue
        if batch:
            yield batch[0].at, batch
        batch = [step]
    if batch:
        yield batch[0].at, batch


def _summary(conn: Connection, row: Any, entries: list[Entry], start: float) -> IncidentSummary:
    mine = [e for e in entries if e.incident == row.id]
    since = row.triggered_at if row.triggered_at is not None else row.opened_at
    acked = next((e for e in mine if e.kind == "acknowledged"), None)
    delivered = [e for e in mine if e.kind == "notified"]
    members = [a.alert for a in repo.incident_members(conn, row.id)]
    return IncidentSummary(
        id=row.id,
        title=incident_title(json.loads(row.group_labels), members),
        status=row.status,
        severity=row.severity,
        policy=json.loads(row.escalation)["policy"]["name"] if row.escalation else None,
        triggered_s=row.triggered_at - start if row.triggered_at is not None else None,
        ack_s=acked.at - since if acked else None,
        acknowledged_by=acked.detail.get("by") if acked else None,
        resolve_s=row.resolved_at - since if row.resolved_at is not None else None,
        pages=sum(1 for e in delivered if e.detail.get("kind") == "escalation"),
        messages=len(delivered),
        dead_letters=sum(
            1 for e in mine if e.kind == "notify_failed" and e.detail.get("dead_letter")
        ),
        escalations=sum(1 for e in mine if e.kind == "escalated"),
        deadlines_missed=sum(1 for e in mine if e.kind == "deadline_missed"),
    )


def _warnings(entries: list[Entry], summaries: list[IncidentSummary]) -> list[str]:
    """What a reader should not miss: nobody paged, actions refused, pages that failed."""
    out = [
        f"incident #{s.id} ({s.title}) matched no escalation policy: nobody was paged"
        for s in summaries
        if s.policy is None and s.triggered_s is not None
    ]
    for e in entries:
        if e.kind == "action_refused":
            d = e.detail
            out.append(f"events[{d['event']}] {d['action']} refused: {d['reason']}")
        elif e.kind == "notify_failed" and "reason" in e.detail:
            out.append(f"incident #{e.incident}: {e.detail['reason']}")
    return list(dict.fromkeys(out))


def run(scenario: Scenario, config: Config, max_steps: int = MAX_STEPS) -> Result:
    """Run a scenario (one event loop for the whole simulation) and read its timeline.
    Raises ScenarioError for names the configuration lacks, SimulationError for a runaway."""
    check_against(scenario, config)
    runner = _Runner(scenario, config, max_steps)
    collect = _Collect()
    logger = logging.getLogger("tocsin")
    propagate = logger.propagate
    logger.addHandler(collect)
    logger.propagate = False  # the pipeline's warnings belong in the report
    try:
        asyncio.run(runner.run())
        return runner.result(collect.lines)
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
        runner.db.dispose()


def simulate_file(path: str | Path, max_steps: int = MAX_STEPS) -> Result:
    """Load, check and run a scenario file: raises ScenarioError, ConfigError (the
    configuration is invalid) or SimulationError."""
    scenario = load_scenario(path)
    return run(scenario, scenario_config(scenario), max_steps)


# --------------------------------------------------------------------------- output


def json_lines(result: Result) -> Iterator[str]:
    """One JSON object per timeline entry."""
    for entry in result.entries:
        yield json.dumps(entry.to_json(), ensure_ascii=False)


def _labels(labels: dict[str, str]) -> str:
    rest = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    return f"{labels.get('alertname', '')} {rest}".strip()


def _short(e: Entry) -> str:
    """The table's detail column: what happened, in a few words."""
    d, kind = e.detail, e.kind
    if kind in ("alert_fired", "alert_resolved"):
        joined = ", ".join(f"#{i}" for i in d.get("incidents", []))
        return _labels(d["labels"]) + (f" → {joined}" if joined else "")
    if kind == "opened":
        return f"route {d.get('receiver')}"
    if kind == "group_flushed":
        parts = [f"{len(d.get('firing', []))} firing"]
        parts += [f"{len(d[k])} {k}" for k in ("resolved", "muted") if d.get(k)]
        return ", ".join(parts)
    if kind == "triggered":
        return f"{d.get('severity') or 'no severity'}, policy {d.get('policy') or '(none)'}"
    if kind == "escalated":
        text = f"step {d.get('step')}" + (f" round {d['round']}" if d.get("round", 1) > 1 else "")
        return text + f": {d.get('reason')}" + (f" ({d['by']})" if d.get("by") else "")
    if kind == "escalation_exhausted":
        return f"policy {d.get('policy')}: no step left"
    if kind == "deadline_missed":
        limit = d.get("deadline_s")
        return f"{d.get('severity')}: no ack within " + (_span(limit) if limit else "deadline")
    if kind == "notified":
        text = str(d.get("kind"))
        if d.get("recipient") and e.target:
            text += f" via {e.target}"
        if (d.get("attempt") or 1) > 1:
            text += f", attempt {d['attempt']}"
        return text + (" (fallback)" if d.get("fallback_of") else "")
    if kind == "attempt_failed":
        status = f"status {d['status']}" if d.get("status") else "no answer"
        return f"{d.get('kind')}, attempt {d.get('attempt')}: {status}, will retry"
    if kind == "notify_failed":
        if "reason" in d:
            return str(d["reason"])
        text = f"{d.get('kind')} dead after {d.get('attempts')} attempts: {d.get('error')}"
        return text + (f"; → {d['fallback']}" if d.get("fallback") else "")
    if kind in ("acknowledged", "resolved"):
        return f"by {d['by']}" if d.get("by") else str(d.get("reason", ""))
    if kind == "ack_expired":
        return f"ack by {d.get('acknowledged_by')} lapsed"
    if kind == "override":
        instead = f" for {d['replaces']}" if d.get("replaces") else ""
        return f"{d['user']}{instead}, {d['start'][5:16]} → {d['end'][5:16]}"
    if kind == "action_refused":
        return f"{d.get('action')} by {d.get('by')}: {d.get('reason')}"
    return json.dumps(d, ensure_ascii=False)[:80]


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
    start = repo.to_dt(scenario.start)
    days = start.date() != repo.to_dt(scenario.end).date()
    wide = width >= 100
    table = Table(
        title=f"{scenario.source}: {start:%a %Y-%m-%d %H:%M} UTC + "
        f"{_span(scenario.end - scenario.start)}",
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
        cells: list[RenderableType] = [f"+{_span(e.offset_s)}"]
        if wide:
            cells.append(repo.to_dt(e.at).strftime("%a %H:%M:%S" if days else "%H:%M:%S"))
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
            f"triggered +{_span(s.triggered_s)}" if s.triggered_s is not None else "never triggered"
        ]
        if s.ack_s is not None:
            facts.append(f"acknowledged after {_span(s.ack_s)} by {s.acknowledged_by}")
        else:
            facts.append("not acknowledged")
        facts.append(
            f"resolved after {_span(s.resolve_s)}" if s.resolve_s is not None else "not resolved"
        )
        out.append(Text("     " + ", ".join(facts)))
        counts = [
            _count(s.pages, "page"),
            _count(s.escalations, "escalation"),
            _count(s.deadlines_missed, "deadline missed", "deadlines missed"),
            _count(s.dead_letters, "dead letter"),
        ]
        out.append(Text("     " + ", ".join(counts)))
    return out


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def report(result: Result, width: int = 120) -> list[RenderableType]:
    """Everything ``--format table`` prints, in order."""
    out: list[RenderableType] = [timeline_table(result, width), *summary(result)]
    if result.warnings:
        out.append(Text("Warnings", style="bold"))
        out.extend(Text(f"  - {w}") for w in result.warnings)
    return out


__all__ = [
    "ChannelFailure",
    "Entry",
    "Event",
    "IncidentSummary",
    "Result",
    "Scenario",
    "ScenarioError",
    "Sent",
    "SimulationError",
    "json_lines",
    "load_scenario",
    "parse_scenario",
    "report",
    "run",
    "scenario_config",
    "simulate_file",
    "summary",
    "timeline_table",
]
