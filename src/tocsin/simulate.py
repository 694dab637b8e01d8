"""``tocsin simulate``: a scenario run through the real pipeline on a virtual clock.

A scenario is a configuration, a start time and timed events. The simulation takes the alerts
in as the Alertmanager API does (``parse_v2``, ``repo.ingest``), lets the real engine
(``DueWorkEngine``) flush groups, trigger incidents, escalate, miss deadlines and deliver the
outbox with the real retry policy, on a ``VirtualClock`` over an in-memory SQLite database,
and reads back the timeline. Nothing leaves the process: every channel is replaced by one that
records the message and answers as the scenario says (success by default), so retries, dead
letters and fallback channels run exactly as in production. An hour of escalation takes
milliseconds, which is also how the tests use it.

Scenario format (YAML)::

    description: Pebble's database goes down and nobody answers   # optional
    config: pebble.yaml          # tocsin.yaml to use, relative to this file
    # config_inline: {...}       # or a whole tocsin.yaml inline (relative paths from this file)
    start: 2027-01-15T08:00:00Z  # the virtual clock's start (ISO 8601; UTC when no offset)
    until: 2h                    # end: start + duration, or an absolute time
                                 #   (default: 1h after the last event)
    seed: 7                      # optional: jittered retry backoff drawn from this seed;
                                 #   without it every retry waits its full backoff
    channels:                    # optional: channels that fail (default: all succeed)
      slack-oncall: {fail: 2, status: 503}   # the first 2 attempts on it fail, then success
      pagerduty: {fail: always, status: 500} # every attempt fails: retries, dead letter
      email: {fail: 1, status: 404}          # a 4xx other than 408/429 is not retried
      webhook: {fail: 1, status: 429, retry_after: 2m}  # status null: no answer (timeout)
    events:                      # processed in time order (ties: file order)
      - at: 0s                   # offset from start (duration or seconds) or an ISO time
        fire: {alertname: DatabaseDown, severity: critical, service: pebble-db}
        annotations: {summary: "Primary database unreachable"}   # optional, with fire
      - at: 20m
        resolve: {alertname: DatabaseDown}   # resolves every firing alert with these labels
      - at: 3m
        ack: {incident: 1, by: alice}        # or {alertname: X, by: alice}
      - at: 9m
        resolve_incident: {incident: 1, by: bob}
      - at: 2m
        escalate: {incident: 1, by: alice}   # "escalate now": the next step fires at once
      - at: 0s
        override: {schedule: primary, user: bob, replaces: alice, start: 0s, end: 4h}

Rules of the run:

- A fired alert keeps firing until a ``resolve`` event: it is posted once with ``endsAt``
  beyond the end of the simulation; ``resolve`` posts the same labels (and ``startsAt``) with
  ``endsAt`` = now, as Prometheus does.
- Consecutive ``fire``/``resolve`` events at the same instant are posted as one batch (as
  Prometheus sends its alerts); after every batch or action the engine runs what is due.
- Events at an instant come before the engine's work due at that same instant: an
  acknowledgement at +3m beats a 3m acknowledgement deadline.
- Between events the clock jumps from one due time to the next (group flushes, escalation
  steps, deadlines, acknowledgement timeouts, delivery retries) and the engine runs at each.
- ``ack: {alertname: X}`` picks the open incident holding a scenario alert named X (the
  lowest-numbered one that is escalating, else the lowest-numbered one). An action the
  pipeline refuses (acknowledging a resolved incident...) is shown as ``action_refused``.
- Override ``start``/``end`` are offsets from the scenario's start, or absolute times.
- Channel failures count attempts per channel, whichever message they carry.

Output: one ``Entry`` per timeline event, in time order (ties: the order the pipeline wrote
them). Kinds: those the pipeline writes (opened, group_flushed, triggered, escalated,
escalation_exhausted, deadline_missed, acknowledged, ack_expired, notified, notify_failed,
resolved) plus the scenario's alert_fired, alert_resolved, override and action_refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from rich import box
from rich.table import Table
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.pool import StaticPool

from tocsin.alerts.model import Alert
from tocsin.alerts.payloads import Limits, StructuralError, format_time, parse_v2
from tocsin.config import ChannelConfig, Config, ConfigError, load_config, parse_config
from tocsin.config import parse_prom_duration as duration
from tocsin.engine.clock import VirtualClock
from tocsin.engine.loop import DueWorkEngine
from tocsin.engine.paging import incident_title
from tocsin.notify.channels import Channel
from tocsin.notify.message import Message
from tocsin.notify.retry import Outcome
from tocsin.oncall.schedule import Override
from tocsin.runbooks.loader import load_catalog
from tocsin.store import outbox, repo
from tocsin.store.db import begin_write, make_engine, upgrade
from tocsin.store.schema import due_work, incidents, timeline

MAX_STEPS = 100_000
DEFAULT_TAIL_S = 3600.0  # without `until`: run this long after the last event
OWNER = "simulate"
SCENARIO_KINDS = ("alert_fired", "alert_resolved", "override", "action_refused")


class ScenarioError(Exception):
    """The scenario is invalid; ``problems`` lists each as ``file: where: message``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class SimulationError(Exception):
    """The simulation could not finish (a runaway scenario, stuck due work)."""


# --------------------------------------------------------------------------- scenario model


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _moment(value: object) -> float | datetime:
    """An offset from the start in seconds (``90s``, ``5m``, ``1h30m``, a number), or an
    absolute time (ISO 8601, UTC when it has no offset)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration (90s, 5m, 1h30m) or an ISO 8601 time")
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("an offset cannot be negative")
        return float(value)
    if isinstance(value, str):
        try:
            return duration(value)
        except ValueError:
            pass
        try:
            return _aware(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is neither a duration (90s, 5m, 1h30m) nor an ISO 8601 time")


def _seconds(value: object) -> float:
    if not isinstance(value, str):
        raise ValueError("expected a duration (90s, 5m, 1h30m)")
    return duration(value)


Moment = Annotated[float | datetime, BeforeValidator(_moment)]
Seconds = Annotated[float, BeforeValidator(_seconds)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelFailure(_Strict):
    fail: Annotated[int, Field(ge=0)] | Literal["always"]
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
            raise ValueError("give either incident (a number) or alertname")
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
            raise ValueError(
                f"an event needs exactly one of {', '.join(ACTIONS)}"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.annotations is not None and self.fire is None:
            raise ValueError("annotations go with fire")
        if self.fire is not None and not self.fire:
            raise ValueError("fire needs the alert's labels")
        if self.resolve is not None and not self.resolve:
            raise ValueError("resolve needs labels that pick the alert(s) to resolve")
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
    """An event of the scenario at its absolute time; ``index`` is its place in the file."""

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
    config_text: str | None = None  # config_inline as written, lines kept in place

    @property
    def channels(self) -> dict[str, ChannelFailure]:
        return self.model.channels


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _ts(moment: float | datetime, start: float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else start + moment


def _covers(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def parse_scenario(text: str, source: str = "scenario.yaml", base_dir: Path | None = None) -> Scenario:
    """Validate a scenario; raise ScenarioError listing every problem found."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ScenarioError([f"{where}: invalid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}: a scenario must be a mapping"])
    try:
        model = ScenarioModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            # drop pydantic's union/validator tags such as `function-before[...]`, `int`
            loc = [p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p in ("int", "float", "datetime", "constrained-int", "literal['always']")))]
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{source}: {_dotted(loc) or '(top)'}: {message}")
        raise ScenarioError(list(dict.fromkeys(problems))) from None
    start = _aware(model.start).timestamp()
    problems: list[str] = []
    steps: list[Step] = []
    for i, event in enumerate(model.events):
        at = _ts(event.at, start)
        if at < start:
            problems.append(f"{source}: events[{i}].at: before the scenario's start")
        steps.append(Step(at, i, event))
    steps.sort(key=lambda s: (s.at, s.index))
    last = steps[-1].at if steps else start
    end = _ts(model.until, start) if model.until is not None else last + DEFAULT_TAIL_S
    if model.until is not None and end < last:
        problems.append(f"{source}: until: before the last event (events[{steps[-1].index}])")
    if end <= start:
        problems.append(f"{source}: until: must be after the start")
    firing: list[dict[str, str]] = []
    for step in steps:
        ev = step.event
        where = f"{source}: events[{step.index}]"
        if ev.fire is not None and ev.fire not in firing:
            firing.append(ev.fire)
        elif ev.resolve is not None:
            matched = [labels for labels in firing if _covers(labels, ev.resolve)]
            if not matched:
                problems.append(f"{where}.resolve: no alert with these labels is firing then")
            firing = [labels for labels in firing if labels not in matched]
        elif ev.override is not None:
            o = ev.override
            o_start = _ts(o.start, start) if o.start is not None else step.at
            if _ts(o.end, start) <= o_start:
                problems.append(f"{where}.override: end must be after start")
    if problems:
        raise ScenarioError(problems)
    return Scenario(
        source=source,
        base_dir=base_dir or Path("."),
        model=model,
        start=start,
        end=end,
        steps=tuple(steps),
        config_text=_inline_text(text) if model.config_inline is not None else None,
    )


def _inline_text(text: str) -> str | None:
    """``config_inline`` as it is written in the scenario, with blank lines and spaces before
    it, so that the configuration's error positions are the scenario file's."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "config_inline":
            begin, end = value.start_mark, value.end_mark
            return "\n" * begin.line + " " * begin.column + text[begin.index : end.index]
    return None


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read: {exc}"]) from None
    return parse_scenario(text, str(path), path.parent)


def scenario_config(scenario: Scenario) -> Config:
    """The scenario's configuration; ConfigError (with places) when it is invalid."""
    if scenario.model.config is not None:
        return load_config(scenario.base_dir / scenario.model.config)
    text = scenario.config_text
    if text is None:  # not reachable from a file, but keep a valid fallback
        text = yaml.safe_dump(scenario.model.config_inline, sort_keys=False)
    return parse_config(text, scenario.source, scenario.base_dir)


def check_against(scenario: Scenario, config: Config) -> None:
    """What the scenario names must exist in the configuration (ScenarioError otherwise)."""
    paging = config.paging
    problems = [
        f"{scenario.source}: channels.{name}: the configuration has no channel {name!r}"
        for name in scenario.channels
        if name not in paging.channels
    ]
    for step in scenario.steps:
        o = step.event.override
        if o is None:
            continue
        where = f"{scenario.source}: events[{step.index}].override"
        if o.schedule not in paging.schedules:
            problems.append(f"{where}: the configuration has no schedule {o.schedule!r}")
        if o.user not in paging.users:
            problems.append(f"{where}: the configuration has no user {o.user!r}")
        if o.replaces not in (None, "*") and o.replaces not in paging.users:
            problems.append(f"{where}: the configuration has no user {o.replaces!r} to replace")
    if problems:
        raise ScenarioError(problems)


# --------------------------------------------------------------------------- channels


@dataclass(frozen=True)
class Sent:
    """One delivery attempt a simulated channel received."""

    at: float
    channel: str
    ok: bool
    status: int | None
    message: Message


class SimulatedChannel:
    """A channel that records what it is asked to send and answers as the scenario says."""

    def __init__(
        self, name: str, kind: str, runner: _Runner, failure: ChannelFailure | None
    ) -> None:
        self.name = name
        self.kind = kind
        self._runner = runner
        self._failure = failure

    async def send(self, message: Message) -> Outcome:
        attempt = self._runner.attempts[self.name] = self._runner.attempts.get(self.name, 0) + 1
        f = self._failure
        failing = f is not None and (f.fail == "always" or attempt <= f.fail)
        now = self._runner.clock.now()
        if f is None or not failing:
            self._runner.sent.append(Sent(now, self.name, True, 200, message))
            return Outcome(ok=True, status=200)
        self._runner.sent.append(Sent(now, self.name, False, f.status, message))
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
    pages: int  # escalation messages delivered to people
    messages: int  # every message delivered
    dead_letters: int
    escalations: int
    deadlines_missed: int


@dataclass
class Result:
    scenario: Scenario
    entries: list[Entry]
    incidents: list[IncidentSummary]
    sent: list[Sent]
    warnings: list[str] = field(default_factory=list)
    steps: int = 0  # engine passes


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


@dataclass
class _Pending:
    """A scenario entry, placed after the timeline rows written before it."""

    after_id: int
    seq: int
    entry: Entry


class _Runner:
    def __init__(self, scenario: Scenario, config: Config, max_steps: int) -> None:
        self.scenario = scenario
        self.config = config
        self.max_steps = max_steps
        self.clock = VirtualClock(scenario.start)
        self.attempts: dict[str, int] = {}
        self.sent: list[Sent] = []
        self.pending: list[_Pending] = []
        self.firing: dict[str, tuple[dict[str, str], datetime]] = {}  # fp -> labels, startsAt
        self.steps = 0
        m = config.model.limits
        self.limits = Limits(
            max_alerts_per_batch=m.max_alerts_per_batch,
            max_labels_per_alert=m.max_labels_per_alert,
            max_label_name_bytes=m.max_label_name_bytes,
            max_label_value_bytes=m.max_label_value_bytes,
            max_annotations_per_alert=m.max_annotations_per_alert,
            max_annotation_value_bytes=m.max_annotation_value_bytes,
        )
        self.db: Engine = make_engine("sqlite://", poolclass=StaticPool)
        upgrade(self.db)

    def channel(self, cfg: ChannelConfig, _http: httpx.AsyncClient) -> Channel:
        return SimulatedChannel(cfg.name, cfg.type, self, self.scenario.channels.get(cfg.name))

    async def run(self) -> None:
        paths = self.config.runbook_paths()
        catalog = load_catalog(paths) if paths else None
        self.engine = DueWorkEngine(
            self.db,
            self.config,
            self.clock,
            owner=OWNER,
            catalog=catalog,
            channel_factory=self.channel,
        )
        seed = self.scenario.model.seed
        # without a seed every retry waits its full backoff, so times can be worked by hand
        self.engine.deliverer.rand = random.Random(seed).random if seed is not None else _one
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
        """When the engine next has something to claim: the earliest due time, or the end of
        a lease still held (an item whose handling failed is claimed again after it)."""
        with self.db.connect() as conn:
            if repo.next_due_at(conn) is None:
                return None
            rows = conn.execute(select(due_work.c.due_at, due_work.c.lease_until)).all()
        return min(
            due if lease is None or lease < due else lease + 0.001 for due, lease in rows
        )

    async def _until(self, t: float, inclusive: bool) -> None:
        """Run the engine at each due time up to ``t``."""
        while True:
            nxt = self._wakeup()
            if nxt is None or nxt > t or (nxt == t and not inclusive):
                return
            self.clock.set(max(self.clock.now(), nxt))
            self.steps += 1
            if self.steps > self.max_steps:
                raise SimulationError(
                    f"{self.scenario.source}: more than {self.max_steps} engine passes by "
                    f"{_iso(self.clock.now())} (+{_span(self.clock.now() - self.scenario.start)}):"
                    " the scenario keeps making work due; shorten `until` or check the "
                    "channels' retry settings"
                )
            handled = await self.engine.run_once()
            if handled == 0 and nxt <= self.clock.now() and self._wakeup() == nxt:
                raise SimulationError(
                    f"due work at {_iso(nxt)} cannot be carried out (see the warnings)"
                )

    # ---- events

    def _apply(self, batch: list[Step]) -> None:
        now = self.clock.now()
        if batch[0].event.action in ("fire", "resolve"):
            self._post(batch, now)
            return
        [step] = batch
        with begin_write(self.db) as conn:
            after = _last_timeline_id(conn)
            ev = step.event
            if ev.override is not None:
                self._override(conn, step, now, after)
                return
            action = ev.action
            ref = ev.ack or ev.resolve_incident or ev.escalate
            assert ref is not None
            incident_id, why = self._incident(conn, ref)
            if incident_id is not None:
                pager = self.engine.pager
                if ev.ack is not None:
                    why = pager.acknowledge(conn, incident_id, ref.by, now)
                elif ev.resolve_incident is not None:
                    why = pager.resolve(conn, incident_id, ref.by, now)
                elif not pager.escalate(
                    conn, incident_id, now, reason="escalated by hand", by=ref.by
                ):
                    row = repo.get_incident(conn, incident_id)
                    why = f"the incident is {row.status}: only a triggered incident escalates"
            if why is not None:
                self._add(
                    after,
                    now,
                    "action_refused",
                    incident_id,
                    None,
                    {"event": step.index, "action": action, "by": ref.by, "reason": why},
                )

    def _post(self, batch: list[Step], now: float) -> None:
        """Post fire/resolve events as one Alertmanager API v2 batch."""
        when = repo.to_dt(now)
        forever = format_time(repo.to_dt(self.scenario.end + self.config.resolve_timeout_s + 1))
        alerts: list[tuple[Step, Alert]] = []
        for step in batch:
            ev = step.event
            bodies: list[dict[str, Any]] = []
            if ev.fire is not None:
                # startsAt given: with endsAt alone, Alertmanager's default is startsAt = endsAt
                bodies.append(
                    {
                        "labels": ev.fire,
                        "annotations": ev.annotations or {},
                        "startsAt": format_time(when),
                        "endsAt": forever,
                    }
                )
            else:
                assert ev.resolve is not None
                selector = ev.resolve
                for labels, starts_at in self.firing.values():
                    if _covers(labels, selector):
                        bodies.append(
                            {
                                "labels": labels,
                                "startsAt": format_time(starts_at),
                                "endsAt": format_time(when),
                            }
                        )
            for body in bodies:
                try:
                    parsed = parse_v2([body], when, self.config.resolve_timeout_s, self.limits)
                except StructuralError as exc:
                    parsed_errors = [str(exc)]
                else:
                    parsed_errors = parsed.errors
                if parsed_errors:
                    where = f"{self.scenario.source}: events[{step.index}].{ev.action}"
                    raise ScenarioError([f"{where}: {e}" for e in parsed_errors])
                alerts.append((step, parsed.alerts[0]))
        with begin_write(self.db) as conn:
            after = _last_timeline_id(conn)
            repo.ingest(conn, [a for _s, a in alerts], when, self.config.route, source=OWNER)
            for step, alert in alerts:
                fp = alert.fingerprint
                joined = sorted(repo.incidents_of(conn, fp))
                fired = step.event.fire is not None
                if fired:
                    assert alert.starts_at is not None
                    self.firing.setdefault(fp, (alert.labels, alert.starts_at))
                else:
                    self.firing.pop(fp, None)
                detail: dict[str, Any] = {
                    "event": step.index,
                    "fingerprint": fp,
                    "labels": alert.labels,
                    "incidents": joined,
                }
                if fired and alert.annotations:
                    detail["annotations"] = alert.annotations
                self._add(
                    after,
                    now,
                    "alert_fired" if fired else "alert_resolved",
                    joined[0] if joined else None,
                    None,
                    detail,
                )

    def _override(self, conn: Connection, step: Step, now: float, after: int) -> None:
        o = step.event.override
        assert o is not None
        start = _ts(o.start, self.scenario.start) if o.start is not None else now
        end = _ts(o.end, self.scenario.start)
        override = Override(
            schedule=o.schedule,
            start=repo.to_dt(start),
            end=repo.to_dt(end),
            user=o.user,
            replaces=o.replaces,
        )
        new_id = outbox.add_override(conn, override, o.by, now, o.reason)
        self._add(
            after,
            now,
            "override",
            None,
            f"schedule:{o.schedule}",
            {
                "event": step.index,
                "override": new_id,
                "user": o.user,
                "replaces": o.replaces,
                "start": _iso(start),
                "end": _iso(end),
                "by": o.by,
            },
        )

    def _incident(self, conn: Connection, ref: IncidentRef) -> tuple[int | None, str | None]:
        """The incident an action names, or why there is none."""
        if ref.incident is not None:
            if repo.get_incident(conn, ref.incident) is None:
                return None, f"no incident {ref.incident}"
            return ref.incident, None
        fps = [fp for fp, (labels, _) in self.firing.items() if labels.get("alertname") == ref.alertname]
        found = sorted({i for fp in fps for i in repo.incidents_of(conn, fp)})
        if not found:
            return None, f"no open incident holds a firing alert named {ref.alertname!r}"
        escalating = [i for i in found if repo.get_incident(conn, i).escalation]
        return (escalating or found)[0], None

    def _add(
        self,
        after: int,
        now: float,
        kind: str,
        incident: int | None,
        target: str | None,
        detail: dict[str, Any],
    ) -> None:
        entry = Entry(now, now - self.scenario.start, kind, incident, target, None, detail)
        self.pending.append(_Pending(after, len(self.pending), entry))

    # ---- reading back

    def result(self, warnings: list[str]) -> Result:
        start = self.scenario.start
        keyed: list[tuple[tuple[float, float, int], Entry]] = [
            ((p.entry.at, p.after_id + 0.5, p.seq), p.entry) for p in self.pending
        ]
        with self.db.connect() as conn:
            rows = conn.execute(select(timeline).order_by(timeline.c.id)).all()
            notes: dict[int, Any] = {}
            for row in rows:
                detail = json.loads(row.detail)
                target = detail.get("target")
                channel = detail.get("channel")
                if row.kind == "escalated":
                    target = ", ".join(detail.get("targets", [])) or None
                if row.kind in ("notified", "notify_failed") and "notification" in detail:
                    nid = int(detail["notification"])
                    note = notes[nid] if nid in notes else outbox.get(conn, nid)
                    notes[nid] = note
                    message = json.loads(note.message) if note is not None else {}
                    recipient = message.get("recipient") or {}
                    detail["recipient"] = recipient.get("name")
                    detail.setdefault("attempt", detail.get("attempts"))
                    if note is not None and note.fallback_of is not None:
                        detail["fallback_of"] = note.fallback_of
                    if message.get("runbook_url"):
                        detail["runbook_url"] = message["runbook_url"]
                entry = Entry(
                    row.at, row.at - start, row.kind, row.incident_id, target, channel, detail
                )
                keyed.append(((row.at, float(row.id), 0), entry))
            keyed.sort(key=lambda pair: pair[0])
            entries = [e for _k, e in keyed]
            summaries = [
                _summary(conn, row, entries, start)
                for row in conn.execute(select(incidents).order_by(incidents.c.id))
            ]
        for s in summaries:
            if s.policy is None and s.triggered_s is not None:
                warnings.append(
                    f"incident #{s.id} ({s.title}) matched no escalation policy: "
                    "nobody was paged, only its route's channels were told"
                )
        for e in entries:
            if e.kind == "action_refused":
                warnings.append(
                    f"events[{e.detail['event']}] {e.detail['action']}: refused, "
                    f"{e.detail['reason']}"
                )
            elif e.kind == "notify_failed" and "reason" in e.detail:
                warnings.append(f"incident #{e.incident}: {e.detail['reason']}")
        return Result(self.scenario, entries, summaries, self.sent, warnings, self.steps)


def _one() -> float:
    return 1.0


def _last_timeline_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(timeline.c.id))).scalar_one_or_none() or 0)


def _batches(steps: Sequence[Step]) -> Iterator[tuple[float, list[Step]]]:
    """Steps grouped for applying: consecutive fire/resolve events at one instant together,
    every other event alone."""
    batch: list[Step] = []
    for step in steps:
        alert = step.event.action in ("fire", "resolve")
        if batch and alert and batch[0].at == step.at and batch[-1].event.action in ("fire", "resolve"):
            batch.append(step)
            continue
        if batch:
            yield batch[0].at, batch
        batch = [step]
    if batch:
        yield batch[0].at, batch


def _summary(conn: Connection, row: Any, entries: list[Entry], start: float) -> IncidentSummary:
    mine = [e for e in entries if e.incident == row.id]
    base = row.triggered_at if row.triggered_at is not None else row.opened_at
    acked = next((e for e in mine if e.kind == "acknowledged"), None)
    policy = json.loads(row.escalation)["policy"]["name"] if row.escalation else None
    members = [a.alert for a in repo.incident_members(conn, row.id)]
    delivered = [e for e in mine if e.kind == "notified"]
    return IncidentSummary(
        id=row.id,
        title=incident_title(json.loads(row.group_labels), members),
        status=row.status,
        severity=row.severity,
        policy=policy,
        triggered_s=row.triggered_at - start if row.triggered_at is not None else None,
        ack_s=acked.at - base if acked else None,
        acknowledged_by=acked.detail.get("by") if acked else None,
        resolve_s=row.resolved_at - base if row.resolved_at is not None else None,
        pages=sum(1 for e in delivered if e.detail.get("kind") == "escalation"),
        messages=len(delivered),
        dead_letters=sum(1 for e in mine if e.kind == "notify_failed" and e.detail.get("dead_letter")),
        escalations=sum(1 for e in mine if e.kind == "escalated"),
        deadlines_missed=sum(1 for e in mine if e.kind == "deadline_missed"),
    )


def run(scenario: Scenario, config: Config, max_steps: int = MAX_STEPS) -> Result:
    """Run the scenario (one event loop for the whole simulation) and read the timeline."""
    check_against(scenario, config)
    runner = _Runner(scenario, config, max_steps)
    collect = _Collect()
    logger = logging.getLogger("tocsin")
    propagate = logger.propagate
    logger.addHandler(collect)
    logger.propagate = False  # the pipeline's warnings go to the report, not the terminal
    try:
        asyncio.run(runner.run())
        return runner.result(collect.lines)
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
        runner.db.dispose()


def simulate_file(path: str | Path, max_steps: int = MAX_STEPS) -> Result:
    """Load, check and run a scenario file: ScenarioError, ConfigError or SimulationError."""
    scenario = load_scenario(path)
    return run(scenario, scenario_config(scenario), max_steps)


# --------------------------------------------------------------------------- output


def json_lines(result: Result) -> Iterator[str]:
    for entry in result.entries:
        yield json.dumps(entry.to_json(), ensure_ascii=False)


def _span(seconds: float) -> str:
    """``0s``, ``7.5s``, ``5m00s``, ``1h05m00s``, ``2d03h05m``."""
    if seconds < 60:
        rounded = round(seconds, 1)
        return f"{int(rounded)}s" if rounded == int(rounded) else f"{rounded}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"


def _labels(labels: dict[str, str]) -> str:
    name = labels.get("alertname", "")
    rest = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    return f"{name} {rest}".strip()


def _short(entry: Entry) -> str:
    """The detail column of the table: what happened, in a few words."""
    d = entry.detail
    kind = entry.kind
    if kind in ("alert_fired", "alert_resolved"):
        joined = ", ".join(f"#{i}" for i in d.get("incidents", []))
        return _labels(d["labels"]) + (f" → {joined}" if joined else "")
    if kind == "opened":
        return f"route {d.get('receiver')}"
    if kind == "group_flushed":
        parts = [f"{len(d.get('firing', []))} firing"]
        if d.get("resolved"):
            parts.append(f"{len(d['resolved'])} resolved")
        if d.get("muted"):
            parts.append(f"{len(d['muted'])} muted")
        return ", ".join(parts)
    if kind == "triggered":
        return f"{d.get('severity') or 'no severity'}, policy {d.get('policy') or '(none)'}"
    if kind == "escalated":
        text = f"step {d.get('step')}" + (f" round {d['round']}" if d.get("round", 1) > 1 else "")
        text += f": {d.get('reason')}"
        return text + (f" (by {d['by']})" if d.get("by") else "")
    if kind == "escalation_exhausted":
        return f"policy {d.get('policy')} has no more steps"
    if kind == "deadline_missed":
        deadline = d.get("deadline_s")
        return f"{d.get('severity')}: not acknowledged within " + (
            _span(float(deadline)) if deadline is not None else "its deadline"
        )
    if kind == "notified":
        text = f"{d.get('kind')}"
        if d.get("attempt", 1) > 1:
            text += f", attempt {d['attempt']}"
        return text + (" (fallback)" if d.get("fallback_of") else "")
    if kind == "notify_failed":
        if "reason" in d:
            return str(d["reason"])
        text = f"{d.get('kind')}: dead after {d.get('attempts')} attempt(s), {d.get('error')}"
        return text + (f" → {d['fallback']}" if d.get("fallback") else "")
    if kind in ("acknowledged", "resolved"):
        return f"by {d['by']}" if d.get("by") else str(d.get("reason", ""))
    if kind == "ack_expired":
        return f"acknowledgement by {d.get('acknowledged_by')} lapsed"
    if kind == "override":
        instead = f" instead of {d['replaces']}" if d.get("replaces") else ""
        return f"{d['user']}{instead}, {d['start'][5:16]} → {d['end'][5:16]}"
    if kind == "action_refused":
        return f"{d.get('action')} by {d.get('by')}: {d.get('reason')}"
    return json.dumps(d, ensure_ascii=False)[:80]


_STYLE = {
    "alert_fired": "bold red",
    "alert_resolved": "green",
    "escalated": "yellow",
    "deadline_missed": "bold red",
    "escalation_exhausted": "bold red",
    "notify_failed": "red",
    "acknowledged": "cyan",
    "resolved": "green",
    "action_refused": "magenta",
}


def timeline_table(result: Result) -> Table:
    """The timeline as a Rich table, narrow enough for an 80–120 column terminal."""
    scenario = result.scenario
    days = repo.to_dt(scenario.start).date() != repo.to_dt(scenario.end).date()
    start = repo.to_dt(scenario.start)
    table = Table(
        title=f"{scenario.source}: from {start:%a %Y-%m-%d %H:%M} UTC for "
        f"{_span(scenario.end - scenario.start)}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_justify="left",
    )
    table.add_column("offset", justify="right", no_wrap=True)
    table.add_column("time (UTC)" if not days else "UTC", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("inc", justify="right", no_wrap=True)
    table.add_column("target / recipient", overflow="fold", max_width=30)
    table.add_column("channel", overflow="fold", max_width=16)
    table.add_column("detail", overflow="fold", min_width=20)
    for e in result.entries:
        when = repo.to_dt(e.at).strftime("%a %H:%M:%S" if days else "%H:%M:%S")
        who = e.target or ""
        recipient = e.detail.get("recipient") if e.kind in ("notified", "notify_failed") else None
        if recipient:
            who = f"{recipient} ← {who}" if who else recipient
        table.add_row(
            f"+{_span(e.offset_s)}",
            when,
            e.kind,
            f"#{e.incident}" if e.incident is not None else "",
            who,
            e.channel or "",
            _short(e),
            style=_STYLE.get(e.kind),
        )
    return table


def summary_table(result: Result) -> Table:
    """Per incident: when it triggered, time to acknowledge and to resolve, pages sent."""
    table = Table(title="Incidents", box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for name, justify in (
        ("inc", "right"),
        ("title", "left"),
        ("status", "left"),
        ("triggered", "right"),
        ("to ack", "right"),
        ("to resolve", "right"),
        ("pages", "right"),
        ("escalations", "right"),
        ("deadlines missed", "right"),
        ("dead letters", "right"),
    ):
        table.add_column(
            name, justify=justify, overflow="fold", no_wrap=name != "title"  # type: ignore[arg-type]
        )
    for s in result.incidents:
        ack = _span(s.ack_s) if s.ack_s is not None else "—"
        if s.acknowledged_by and s.ack_s is not None:
            ack += f" ({s.acknowledged_by})"
        table.add_row(
            f"#{s.id}",
            s.title + (f" [{s.severity}]" if s.severity else ""),
            s.status,
            f"+{_span(s.triggered_s)}" if s.triggered_s is not None else "—",
            ack,
            _span(s.resolve_s) if s.resolve_s is not None else "—",
            str(s.pages),
            str(s.escalations),
            str(s.deadlines_missed),
            str(s.dead_letters),
        )
    return table


def report(result: Result) -> list[Any]:
    """Everything the table format prints, in order."""
    out: list[Any] = [timeline_table(result), summary_table(result)]
    if result.warnings:
        out.append("[bold]Warnings[/bold]")
        out.extend(f"  - {w}" for w in dict.fromkeys(result.warnings))
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
    "summary_table",
    "timeline_table",
]
