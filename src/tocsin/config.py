"""``tocsin.yaml``: the configuration model, loading, and errors reported with their place.

The routing tree and inhibition rules use Alertmanager's configuration syntax (``matchers:``
lists, legacy ``match``/``match_re``, ``group_by: ['...']``, ``continue``, Prometheus
durations), so a team can move its Alertmanager route block over unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from tocsin.alerts.inhibit import InhibitRule
from tocsin.alerts.matchers import Matcher, MatcherError, Op, parse_matcher
from tocsin.alerts.payloads import Limits
from tocsin.errors import Invalid
from tocsin.oncall.escalation import Policy, PolicyError, Step, Target, from_tiers
from tocsin.oncall.schedule import Layer, Restriction, Rotation, Schedule
from tocsin.oncall.severity import DEFAULT_LEVELS, Level, from_runbook, level_of
from tocsin.routing.tree import (
    DEFAULT_GROUP_INTERVAL_S,
    DEFAULT_GROUP_WAIT_S,
    DEFAULT_REPEAT_INTERVAL_S,
    Route,
    finalize,
)
from tocsin.runbooks.loader import read_text
from tocsin.runbooks.model import Runbook
from tocsin.runbooks.parse import parse_runbook
from tocsin.templating import Template, TemplateError, check_template
from tocsin.times import parse_duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _valid_duration(value: str) -> str:
    parse_duration(value)
    return value


# a Prometheus duration (30s, 5m, 1h30m), checked where it is read
Duration = Annotated[str, AfterValidator(_valid_duration)]


def _valid_matchers(value: list[str]) -> list[str]:
    for text in value:
        parse_matcher(text)
    return value


# label matchers in Alertmanager's syntax (`severity="critical"`, `team=~"db|api"`)
Matchers = Annotated[list[str], AfterValidator(_valid_matchers)]


class GlobalConfig(_Strict):
    resolve_timeout: Duration = "5m"
    external_url: str = "http://localhost:9093"


class RouteConfig(_Strict):
    receiver: str | None = None
    group_by: list[str] | None = None
    continue_: bool = Field(False, alias="continue")
    matchers: Matchers = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: list[RouteConfig] = Field(default_factory=list)
    # later stages: escalation policy and channels named per route, auto-resolve
    escalation_policy: str | None = None
    channels: list[str] = Field(default_factory=list)
    auto_resolve: bool | None = None

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if "..." in value and len(value) > 1:
            raise ValueError("cannot have wildcard group_by (`...`) and other labels")
        for name in value:
            if name != "..." and not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", name):
                raise ValueError(f"invalid label name {name!r} in group_by")
        return value


class ReceiverConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


class InhibitRuleConfig(_Strict):
    source_matchers: Matchers = Field(default_factory=list)
    target_matchers: Matchers = Field(default_factory=list)
    source_match: dict[str, str] = Field(default_factory=dict)
    source_match_re: dict[str, str] = Field(default_factory=dict)
    target_match: dict[str, str] = Field(default_factory=dict)
    target_match_re: dict[str, str] = Field(default_factory=dict)
    equal: list[str] = Field(default_factory=list)


class LimitsConfig(_Strict):
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    max_alerts_per_batch: int = Field(1000, ge=1)
    max_labels_per_alert: int = Field(64, ge=1)
    max_label_name_bytes: int = Field(256, ge=1)
    max_label_value_bytes: int = Field(4096, ge=1)
    max_annotations_per_alert: int = Field(64, ge=0)
    max_annotation_value_bytes: int = Field(16384, ge=1)


class ApiConfig(_Strict):
    anonymous_intake: bool = False


class Secret(_Strict):
    """A secret given inline, from a file, or from an environment variable (one of them)."""

    value: str | None = None
    file: str | None = None
    env: str | None = None


class RetryConfig(_Strict):
    max_attempts: int = Field(8, ge=1, le=100)
    initial_backoff: Duration = "1s"
    max_backoff: Duration = "5m"
    timeout: Duration = "10s"  # per attempt


class ChannelTemplates(_Strict):
    """Jinja2 templates (sandboxed) replacing a channel's defaults; see docs/paging.md."""

    title: str | None = None
    text: str | None = None
    html: str | None = None


class _ChannelBase(_Strict):
    name: str
    retry: RetryConfig = Field(default_factory=RetryConfig)
    concurrency: int = Field(4, ge=1, le=256)
    rate_per_minute: int | None = Field(None, ge=1)
    fallback: str | None = None  # channel that gets what this one dead-letters
    templates: ChannelTemplates = Field(default_factory=ChannelTemplates)


class SlackChannelConfig(_ChannelBase):
    type: Literal["slack"]
    url: str | None = None  # incoming webhook URL
    url_secret: Secret | None = None  # or the URL as a secret (it is one)


class SmtpConfig(_Strict):
    host: str
    port: int = 587
    starttls: bool = True
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password: Secret | None = None
    verify: bool = True  # verify the server's certificate
    ca_file: str | None = None


class EmailChannelConfig(_ChannelBase):
    type: Literal["email"]
    smtp: SmtpConfig
    sender: str = Field(alias="from")
    to: list[str] = Field(default_factory=list)  # when the channel itself is the target


class WebhookChannelConfig(_ChannelBase):
    type: Literal["webhook"]
    url: str
    secret: Secret | None = None  # HMAC-SHA256 signing key
    headers: dict[str, str] = Field(default_factory=dict)


class PagerDutyChannelConfig(_ChannelBase):
    type: Literal["pagerduty"]
    routing_key: Secret
    url: str = "https://events.pagerduty.com/v2/enqueue"


class ConsoleChannelConfig(_ChannelBase):
    type: Literal["console"]


_CHANNEL_TYPES = ("slack", "email", "webhook", "pagerduty", "console")
ChannelConfig = Annotated[
    SlackChannelConfig
    | EmailChannelConfig
    | WebhookChannelConfig
    | PagerDutyChannelConfig
    | ConsoleChannelConfig,
    Field(discriminator="type"),
]


class UserConfig(_Strict):
    name: str
    full_name: str | None = None
    email: str | None = None
    slack: str | None = None  # Slack member ID (U…), mentioned when paged through Slack
    timezone: str = "UTC"
    contact: list[str] = Field(default_factory=list)  # channels that page this person


class TeamConfig(_Strict):
    name: str
    members: list[str] = Field(default_factory=list)
    schedule: str | None = None  # paging the team pages who is on call here; else every member


class RotationConfig(_Strict):
    name: str
    type: Literal["hourly", "daily", "weekly", "custom"]
    length: int = Field(1, ge=1, le=1000)  # hours, days or weeks per shift
    shift: Duration | None = None  # custom shift length
    start: datetime  # first hand-off, local wall time in `timezone`
    timezone: str = "UTC"
    participants: list[str] = Field(min_length=1)


_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _clock_minutes(text: str, end: bool = False) -> int:
    found = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not found or int(found.group(2)) > 59 or int(found.group(1)) > 24:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    minutes = int(found.group(1)) * 60 + int(found.group(2))
    if minutes > 1440 or (minutes == 1440 and not end):
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    return minutes


class RestrictionConfig(_Strict):
    days: list[str] = Field(default_factory=lambda: list(_DAYS))
    from_: str = Field("00:00", alias="from")
    to: str = "24:00"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        for day in value:
            if day.strip().lower()[:3] not in _DAYS:
                raise ValueError(f"{day!r} is not a weekday (mon … sun)")
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        _clock_minutes(value)
        return value

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        _clock_minutes(value, end=True)
        return value


class LayerConfig(_Strict):
    rotation: str
    restrictions: list[RestrictionConfig] = Field(default_factory=list)


class ScheduleConfig(_Strict):
    name: str
    timezone: str = "UTC"
    layers: list[LayerConfig] = Field(min_length=1)


class SeverityLevelConfig(_Strict):
    name: str
    ack_deadline: Duration | None = None
    aliases: list[str] = Field(default_factory=list)
    update_every: Duration | None = None  # remind the channels when no status update for this


class SeveritiesConfig(_Strict):
    label: str = "severity"
    from_runbook: str | None = None  # a runbook whose severity table gives the levels
    levels: list[SeverityLevelConfig] | None = None
    update_every: Duration | None = None  # for levels that do not say (status-update reminders)


class StepConfig(_Strict):
    targets: list[str] = Field(min_length=1)
    delay: Duration = "5m"
    matchers: Matchers = Field(default_factory=list)


class FromRunbookConfig(_Strict):
    runbook: str  # path, relative to this file
    alert: str | None = None  # the alert's own matrix instead of the runbook-wide one
    roles: dict[str, str] = Field(default_factory=dict)  # role -> "schedule:x[, user:y]"
    last_delay: Duration = "30m"


class PolicyConfig(_Strict):
    name: str
    steps: list[StepConfig] = Field(default_factory=list)
    from_runbook: FromRunbookConfig | None = None
    repeat: int = Field(0, ge=0, le=100)
    ack_timeout: Duration | None = None


class TocsinConfig(_Strict):
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: RouteConfig
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    runbooks: list[str] = Field(default_factory=list)
    # where the runbooks can be read on the web (e.g. https://github.com/acme/ops/blob/main/):
    # pages link to the section at this URL plus the file's path relative to tocsin.yaml
    runbooks_url: str | None = None
    # the incident title, a template over the incident's alerts (the message context of
    # templating.py); default: the alert name and the group labels
    incident_title: str | None = Field(default=None, max_length=2000)
    api: ApiConfig = Field(default_factory=ApiConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    channels: list[ChannelConfig] = Field(default_factory=list)
    users: list[UserConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    rotations: list[RotationConfig] = Field(default_factory=list)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    severities: SeveritiesConfig = Field(default_factory=SeveritiesConfig)
    escalation_policies: list[PolicyConfig] = Field(default_factory=list)
    # a Jinja2 file (relative to tocsin.yaml) replacing the default postmortem template
    postmortem_template: str | None = None


@dataclass(frozen=True)
class ConfigProblem:
    where: str  # "path:line:column" or "path"
    location: str  # dotted path in the document, e.g. route.routes[0].group_wait
    message: str

    def __str__(self) -> str:
        return (
            f"{self.where}: {self.location}: {self.message}"
            if self.location
            else f"{self.where}: {self.message}"
        )


class ConfigError(Invalid):
    """The configuration is invalid; ``problems`` lists every error with its place."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Paging:
    """People, schedules, escalation policies, severity levels and channels, built and
    cross-checked from the configuration."""

    users: dict[str, UserConfig] = field(default_factory=dict)
    teams: dict[str, TeamConfig] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    levels: tuple[Level, ...] = DEFAULT_LEVELS
    severity_label: str = "severity"
    channels: dict[str, ChannelConfig] = field(default_factory=dict)
    update_every_s: float | None = None  # severities.update_every

    def deadline_s(self, severity: str | None) -> float | None:
        level = level_of(self.levels, severity)
        return level.ack_deadline_s if level else None

    def update_interval_s(self, severity: str | None) -> float | None:
        """How often a running incident of this severity needs a status update (None:
        no reminders): the level's ``update_every``, else the section's."""
        level = level_of(self.levels, severity)
        if level is not None and level.update_every_s is not None:
            return level.update_every_s
        return self.update_every_s


@dataclass
class Config:
    """The loaded configuration: the model plus the rules built from it."""

    model: TocsinConfig
    route: Route
    inhibit_rules: list[InhibitRule]
    resolve_timeout_s: float
    source: str
    text: str
    base_dir: Path
    paging: Paging = field(default_factory=Paging)
    postmortem: Template | None = None  # postmortem_template, compiled and checked

    @property
    def limits(self) -> Limits:
        m = self.model.limits
        return Limits(
            max_alerts_per_batch=m.max_alerts_per_batch,
            max_labels_per_alert=m.max_labels_per_alert,
            max_label_name_bytes=m.max_label_name_bytes,
            max_label_value_bytes=m.max_label_value_bytes,
            max_annotations_per_alert=m.max_annotations_per_alert,
            max_annotation_value_bytes=m.max_annotation_value_bytes,
        )

    @property
    def receivers(self) -> list[str]:
        return [r.name for r in self.model.receivers]

    def alertmanager_yaml(self) -> str:
        """The configuration as Alertmanager would read it (route, receivers, inhibit rules), so
        ``amtool config show`` and ``amtool config routes`` work against tocsin."""
        model = self.model
        tocsin_only = {"escalation_policy", "channels", "auto_resolve"}

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
        if model.inhibit_rules:
            doc["inhibit_rules"] = [
                r.model_dump(exclude_none=True, exclude_defaults=True) for r in model.inhibit_rules
            ]
        return yaml.safe_dump(doc, sort_keys=False)

    def runbook_paths(self) -> list[Path]:
        return [(self.base_dir / p) for p in self.model.runbooks]


def _legacy(match: dict[str, str], match_re: dict[str, str]) -> list[Matcher]:
    out = [Matcher.create(k, Op.EQ, v) for k, v in match.items()]
    out += [Matcher.create(k, Op.RE, v) for k, v in match_re.items()]
    return out


def build_route(config: RouteConfig, parent: Route | None = None) -> Route:
    """The routing tree with Alertmanager's inheritance of receiver, group_by and timings."""
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
        },
    )
    route.routes = [build_route(child, route) for child in config.routes]
    return route


def _positions(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    """(line, column) of every node of the YAML document, by its path."""
    out: dict[tuple[str | int, ...], tuple[int, int]] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return out

    def visit(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        out[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(key.value)
                out[(*path, name)] = (key.start_mark.line + 1, key.start_mark.column + 1)
                visit(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                visit(item, (*path, i))

    if root is not None:
        visit(root, ())
    return out


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_config(text: str, source: str = "tocsin.yaml", base_dir: Path | None = None) -> Config:
    """Validate a whole configuration; raise ConfigError listing every problem found."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError([ConfigProblem(where, "", f"invalid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(source, "", "the configuration must be a mapping")])
    positions = _positions(text)
    try:
        model = TocsinConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            loc = tuple("continue" if p == "continue_" else p for p in loc)
            if len(loc) > 2 and loc[0] == "channels" and loc[2] in _CHANNEL_TYPES:
                loc = loc[:2] + loc[3:]  # pydantic names the union member; the file does not
            found = None
            for cut in range(len(loc), -1, -1):
                found = positions.get(loc[:cut])
                if found:
                    break
            where = f"{source}:{found[0]}:{found[1]}" if found else source
            message = error["msg"].removeprefix("Value error, ")
            problems.append(ConfigProblem(where, _dotted(loc), message))
        raise ConfigError(problems) from None
    problems = _semantic_problems(model, source, positions)
    paging, paging_problems = _build_paging(model, source, positions, base_dir or Path("."))
    problems += paging_problems
    postmortem = _postmortem_template(model, source, positions, base_dir or Path("."), problems)
    if problems:
        raise ConfigError(problems)
    route = finalize(build_route(model.route))
    rules = [
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
    return Config(
        model=model,
        route=route,
        inhibit_rules=rules,
        resolve_timeout_s=parse_duration(model.global_.resolve_timeout),
        source=source,
        text=text,
        base_dir=base_dir or Path("."),
        paging=paging,
        postmortem=postmortem,
    )


def _postmortem_template(
    model: TocsinConfig,
    source: str,
    positions: dict[tuple[str | int, ...], tuple[int, int]],
    base_dir: Path,
    problems: list[ConfigProblem],
) -> Template | None:
    """The team's postmortem template, read and rendered against a sample postmortem now:
    one that cannot render is a configuration error."""
    from tocsin.incidents.postmortem import check_postmortem_template

    if model.postmortem_template is None:
        return None
    found = positions.get(("postmortem_template",))
    where = f"{source}:{found[0]}:{found[1]}" if found else source
    path = base_dir / model.postmortem_template
    try:
        text = path.read_text(encoding="utf-8")
        return check_postmortem_template(text, str(model.postmortem_template))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(where, "postmortem_template", f"cannot read: {exc}"))
    except TemplateError as exc:
        problems.append(ConfigProblem(where, "postmortem_template", str(exc)))
    return None


def _semantic_problems(
    model: TocsinConfig, source: str, positions: dict[tuple[str | int, ...], tuple[int, int]]
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []

    def at(path: tuple[str | int, ...]) -> str:
        found = positions.get(path)
        return f"{source}:{found[0]}:{found[1]}" if found else source

    names = [r.name for r in model.receivers]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(
                ConfigProblem(
                    at(("receivers", i)), f"receivers[{i}]", f"receiver {name!r} is defined twice"
                )
            )
    root = model.route
    if root.receiver is None:
        problems.append(
            ConfigProblem(at(("route",)), "route", "the root route must name a receiver")
        )
    if root.matchers or root.match or root.match_re:
        problems.append(
            ConfigProblem(at(("route",)), "route", "the root route must not have any matchers")
        )
    if root.continue_:
        problems.append(
            ConfigProblem(at(("route",)), "route", "cannot have continue in root route")
        )

    def visit(route: RouteConfig, path: tuple[str | int, ...]) -> None:
        if route.receiver is not None and route.receiver not in names:
            problems.append(
                ConfigProblem(
                    at((*path, "receiver")),
                    _dotted((*path, "receiver")),
                    f"undefined receiver {route.receiver!r} used in route",
                )
            )
        for key in (*route.match, *route.match_re):
            if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", key):
                problems.append(
                    ConfigProblem(
                        at((*path, "match")),
                        _dotted((*path, "match")),
                        f"invalid label name {key!r}",
                    )
                )
        for key, value in route.match_re.items():
            try:
                Matcher.create(key, Op.RE, value)
            except MatcherError as exc:
                problems.append(
                    ConfigProblem(
                        at((*path, "match_re", key)), _dotted((*path, "match_re", key)), str(exc)
                    )
                )
        for i, child in enumerate(route.routes):
            visit(child, (*path, "routes", i))

    visit(root, ("route",))
    return problems


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read: {exc}")]) from None
    return parse_config(text, str(path), path.parent)


def _read_runbook(base_dir: Path, relative: str) -> Runbook:
    path = base_dir / relative
    text, problem = read_text(path)
    if problem is not None or text is None:
        raise ValueError(problem.message if problem else f"cannot read {path}")
    runbook, _problems, _doc = parse_runbook(text, str(path))
    return runbook


def _build_paging(
    model: TocsinConfig,
    source: str,
    positions: dict[tuple[str | int, ...], tuple[int, int]],
    base_dir: Path,
) -> tuple[Paging, list[ConfigProblem]]:
    """Build the paging objects and check every name one refers to."""
    problems: list[ConfigProblem] = []

    def report(path: tuple[str | int, ...], message: str) -> None:
        found = None
        for cut in range(len(path), -1, -1):
            found = positions.get(path[:cut])
            if found:
                break
        where = f"{source}:{found[0]}:{found[1]}" if found else source
        problems.append(ConfigProblem(where, _dotted(path), message))

    def unique(kind: str, names: list[str]) -> None:
        for i, name in enumerate(names):
            if name in names[:i]:
                report((kind, i, "name"), f"{name!r} is defined twice")

    def zone_ok(path: tuple[str | int, ...], name: str) -> None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            report(path, f"unknown time zone {name!r}")

    channels = {c.name: c for c in model.channels}
    users = {u.name: u for u in model.users}
    teams = {t.name: t for t in model.teams}
    unique("channels", [c.name for c in model.channels])
    unique("users", [u.name for u in model.users])
    unique("teams", [t.name for t in model.teams])
    unique("rotations", [r.name for r in model.rotations])
    unique("schedules", [s.name for s in model.schedules])
    unique("escalation_policies", [p.name for p in model.escalation_policies])
    for i, c in enumerate(model.channels):
        if c.fallback is not None and c.fallback not in channels:
            report(("channels", i, "fallback"), f"unknown channel {c.fallback!r}")
        if c.fallback == c.name:
            report(("channels", i, "fallback"), "a channel cannot be its own fallback")
        if isinstance(c, SlackChannelConfig) and not (c.url or c.url_secret):
            report(("channels", i), "a Slack channel needs url or url_secret")
        # a template that cannot render is an error now, never a dropped page later
        for part in ("title", "text", "html"):
            source_text = getattr(c.templates, part)
            if source_text is None:
                continue
            try:
                check_template(source_text, f"{c.name}.{part}", html=part == "html")
            except TemplateError as exc:
                report(("channels", i, "templates", part), str(exc))
    if model.incident_title is not None:
        try:
            check_template(model.incident_title, "incident_title")
        except TemplateError as exc:
            report(("incident_title",), str(exc))
    for i, u in enumerate(model.users):
        zone_ok(("users", i, "timezone"), u.timezone)
        if not u.contact:
            report(("users", i), f"user {u.name!r} has no contact methods (channels under contact)")
        for j, name in enumerate(u.contact):
            if name not in channels:
                report(("users", i, "contact", j), f"unknown channel {name!r}")
    for i, t in enumerate(model.teams):
        for j, name in enumerate(t.members):
            if name not in users:
                report(("teams", i, "members", j), f"unknown user {name!r}")
    rotations: dict[str, Rotation] = {}
    for i, r in enumerate(model.rotations):
        zone_ok(("rotations", i, "timezone"), r.timezone)
        for j, name in enumerate(r.participants):
            if name not in users:
                report(("rotations", i, "participants", j), f"unknown user {name!r}")
        if r.type == "custom" and r.shift is None:
            report(("rotations", i, "shift"), "a custom rotation needs its shift length")
        rotations[r.name] = Rotation(
            name=r.name,
            kind=r.type,
            participants=tuple(r.participants),
            start=r.start.replace(tzinfo=None),
            timezone=r.timezone,
            length=r.length,
            custom_s=parse_duration(r.shift) if r.shift else None,
        )
    schedules: dict[str, Schedule] = {}
    for i, sc in enumerate(model.schedules):
        zone_ok(("schedules", i, "timezone"), sc.timezone)
        layers = []
        for j, layer in enumerate(sc.layers):
            if layer.rotation not in rotations:
                report(
                    ("schedules", i, "layers", j, "rotation"),
                    f"unknown rotation {layer.rotation!r}",
                )
                continue
            layers.append(
                Layer(
                    rotation=rotations[layer.rotation],
                    restrictions=tuple(
                        Restriction(
                            weekdays=frozenset(_DAYS[d.strip().lower()[:3]] for d in x.days),
                            start_min=_clock_minutes(x.from_),
                            end_min=_clock_minutes(x.to, end=True),
                        )
                        for x in layer.restrictions
                    ),
                )
            )
        schedules[sc.name] = Schedule(name=sc.name, timezone=sc.timezone, layers=tuple(layers))
    for i, t in enumerate(model.teams):
        if t.schedule is not None and t.schedule not in schedules:
            report(("teams", i, "schedule"), f"unknown schedule {t.schedule!r}")
    known: dict[str, set[str]] = {
        "user": set(users),
        "schedule": set(schedules),
        "team": set(teams),
        "channel": set(channels),
    }
    policies: dict[str, Policy] = {}
    for i, pc in enumerate(model.escalation_policies):
        ack_timeout = parse_duration(pc.ack_timeout) if pc.ack_timeout else None
        try:
            if pc.from_runbook is not None:
                if pc.steps:
                    raise PolicyError("give steps or from_runbook, not both")
                fr = pc.from_runbook
                runbook = _read_runbook(base_dir, fr.runbook)
                tiers = runbook.escalation
                if fr.alert is not None:
                    matching = [a for a in runbook.alerts if a.name == fr.alert]
                    if not matching:
                        raise PolicyError(f"the runbook has no alert {fr.alert!r}")
                    tiers = matching[0].escalation or tiers
                policy = from_tiers(
                    pc.name,
                    [(t.after_s, t.target) for t in tiers],
                    fr.roles,
                    last_delay_s=parse_duration(fr.last_delay),
                    repeat=pc.repeat,
                    ack_timeout_s=ack_timeout,
                )
            else:
                if not pc.steps:
                    raise PolicyError("a policy needs steps or from_runbook")
                policy = Policy(
                    name=pc.name,
                    steps=tuple(
                        Step(
                            targets=tuple(Target.parse(t) for t in st.targets),
                            delay_s=parse_duration(st.delay),
                            matchers=tuple(parse_matcher(m) for m in st.matchers),
                        )
                        for st in pc.steps
                    ),
                    repeat=pc.repeat,
                    ack_timeout_s=ack_timeout,
                )
        except (PolicyError, ValueError) as exc:
            report(("escalation_policies", i), str(exc))
            continue
        for j, st in enumerate(policy.steps):
            for target in st.targets:
                if target.name not in known[target.kind]:
                    report(
                        ("escalation_policies", i, "steps", j),
                        f"unknown {target.kind} {target.name!r} in step {j + 1}",
                    )
        policies[pc.name] = policy
    levels: tuple[Level, ...] = DEFAULT_LEVELS
    sev = model.severities
    if sev.levels is not None:
        levels = tuple(
            Level(
                name=lv.name,
                ack_deadline_s=parse_duration(lv.ack_deadline) if lv.ack_deadline else None,
                aliases=tuple(lv.aliases),
                update_every_s=parse_duration(lv.update_every) if lv.update_every else None,
            )
            for lv in sev.levels
        )
    elif sev.from_runbook is not None:
        try:
            runbook = _read_runbook(base_dir, sev.from_runbook)
            if not runbook.severity_levels:
                raise ValueError(f"{sev.from_runbook} has no severity table")
            levels = from_runbook(runbook.severity_levels)
        except ValueError as exc:
            report(("severities", "from_runbook"), str(exc))

    def visit(route: RouteConfig, path: tuple[str | int, ...]) -> None:
        named = [p.name for p in model.escalation_policies]
        if route.escalation_policy is not None and route.escalation_policy not in named:
            report(
                (*path, "escalation_policy"),
                f"unknown escalation policy {route.escalation_policy!r}",
            )
        for j, name in enumerate(route.channels):
            if name not in channels:
                report((*path, "channels", j), f"unknown channel {name!r}")
        for j, child in enumerate(route.routes):
            visit(child, (*path, "routes", j))

    visit(model.route, ("route",))
    paging = Paging(
        users=users,
        teams=teams,
        schedules=schedules,
        policies=policies,
        levels=levels,
        severity_label=sev.label,
        channels=channels,
        update_every_s=parse_duration(sev.update_every) if sev.update_every else None,
    )
    return paging, problems
