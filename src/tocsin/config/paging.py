"""The paging half of ``tocsin.yaml``: people, teams, rotations, schedules, escalation policies
(written out or derived from a runbook's escalation table), severity levels and channels, built
into the values of ``tocsin.oncall`` and cross-checked by name.

Between loading (``load.py``) and the engine, which pages from ``Config.paging``. Every channel
template and the incident title are rendered here once, so one that cannot render is a
configuration error, never a dropped page later.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tocsin.alerts.matchers import Op, parse_matcher
from tocsin.config.models import (
    WEEKDAYS,
    ChannelConfig,
    EmailChannelConfig,
    Loc,
    PolicyConfig,
    RestrictionConfig,
    RouteConfig,
    SeveritiesConfig,
    SlackChannelConfig,
    SmtpConfig,
    TeamConfig,
    TocsinConfig,
    UserConfig,
    clock_minutes,
)
from tocsin.oncall.contacts import Method, Profile, Rule, from_contact
from tocsin.oncall.contacts import problems as contact_problems
from tocsin.oncall.escalation import NO_TARGET, Policy, PolicyError, Step, Target, from_tiers
from tocsin.oncall.schedule import Layer, Restriction, Rotation, Schedule
from tocsin.oncall.severity import DEFAULT_LEVELS, Level, from_runbook, level_of, no_table
from tocsin.runbooks.loader import read_text
from tocsin.runbooks.model import Runbook
from tocsin.runbooks.parse import parse_runbook
from tocsin.templating import TemplateError, check_template
from tocsin.times import parse_duration


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
    # each user's contact methods and notification rules as configured (oncall.contacts)
    profiles: dict[str, Profile] = field(default_factory=dict)

    @property
    def channel_types(self) -> dict[str, str]:
        return {name: c.type for name, c in self.channels.items()}

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


def _read_runbook(base_dir: Path, relative: str) -> Runbook:
    path = base_dir / relative
    text, problem = read_text(path)
    if problem is not None or text is None:
        raise ValueError(
            f"cannot read {relative}: {problem.message}" if problem else f"cannot read {path}"
        )
    runbook, _problems, _doc = parse_runbook(text, str(path))
    return runbook


def build_paging(
    model: TocsinConfig,
    base_dir: Path,
    report: Callable[[Loc, str], None],
    dropped: Mapping[str, set[str]] | None = None,
) -> Paging:
    """Build the paging objects and check every name one refers to, each reported at the
    value that names it; runbooks named by ``from_runbook`` are read relative to
    ``base_dir``. ``dropped``: names of items the file declares but that could not be read
    (their own error is reported already), by section: not reported as unknown again."""

    def unknown(section: str, name: str, known: Collection[str]) -> bool:
        return name not in known and name not in (dropped or {}).get(section, ())

    def unique(kind: str, names: list[str]) -> None:
        for i, name in enumerate(names):
            if name in names[:i]:
                report((kind, i, "name"), f"{name!r} is defined twice")

    def zone_ok(path: Loc, name: str) -> None:
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
        if c.fallback is not None and unknown("channels", c.fallback, channels):
            report(("channels", i, "fallback"), f"unknown channel {c.fallback!r}")
        if c.fallback == c.name:
            report(("channels", i, "fallback"), "a channel cannot be its own fallback")
        if isinstance(c, SlackChannelConfig):
            _slack_problems(c, ("channels", i), report)
        if isinstance(c, EmailChannelConfig) and _plaintext_auth(c.smtp):
            report(
                ("channels", i, "smtp", "password"),
                "the password would be sent in clear text: set smtp.starttls or smtp.tls, "
                "or smtp.allow_plaintext_auth: true if that is wanted",
            )
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
    profiles: dict[str, Profile] = {}
    for i, u in enumerate(model.users):
        zone_ok(("users", i, "timezone"), u.timezone)
        if u.contact_methods or u.notification_rules:
            profiles[u.name] = _profile(u, i, channels, dropped, report)
            continue
        if not u.contact:
            report(
                ("users", i, "contact"),
                f"user {u.name!r} has no contact methods (channels under contact, or "
                "contact_methods and notification_rules)",
            )
        for j, name in enumerate(u.contact):
            if unknown("channels", name, channels):
                report(("users", i, "contact", j), f"unknown channel {name!r}")
        profiles[u.name] = Profile(*from_contact(u.contact), origin="legacy")
    for i, t in enumerate(model.teams):
        for j, name in enumerate(t.members):
            if unknown("users", name, users):
                report(("teams", i, "members", j), f"unknown user {name!r}")
    rotations: dict[str, Rotation] = {}
    for i, r in enumerate(model.rotations):
        zone_ok(("rotations", i, "timezone"), r.timezone)
        for j, name in enumerate(r.participants):
            if unknown("users", name, users):
                report(("rotations", i, "participants", j), f"unknown user {name!r}")
        if r.type == "custom" and r.shift is None:
            report(("rotations", i, "shift"), "a custom rotation needs its shift length")
        if r.type != "custom" and r.shift is not None:
            report(
                ("rotations", i, "shift"),
                f"only a custom rotation reads shift; a {r.type} rotation's shifts are "
                f"`length` {_UNITS[r.type]} long",
            )
        if r.type == "custom" and "length" in r.model_fields_set:
            report(("rotations", i, "length"), "a custom rotation's shifts are `shift` long")
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
                if unknown("rotations", layer.rotation, rotations):
                    report(
                        ("schedules", i, "layers", j, "rotation"),
                        f"unknown rotation {layer.rotation!r}",
                    )
                continue
            layers.append(
                Layer(
                    rotation=rotations[layer.rotation],
                    restrictions=tuple(_restriction(x) for x in layer.restrictions),
                )
            )
        schedules[sc.name] = Schedule(name=sc.name, timezone=sc.timezone, layers=tuple(layers))
    for i, t in enumerate(model.teams):
        if t.schedule is not None and unknown("schedules", t.schedule, schedules):
            report(("teams", i, "schedule"), f"unknown schedule {t.schedule!r}")
    known: dict[str, Collection[str]] = {
        "user": users,
        "schedule": schedules,
        "team": teams,
        "channel": channels,
    }

    def target_problem(text: str) -> str | None:
        """What is wrong with a target as written (``schedule:primary``), if anything."""
        try:
            target = Target.parse(text)
        except PolicyError as exc:
            return str(exc)
        if unknown(f"{target.kind}s", target.name, known[target.kind]):
            return f"unknown {target.kind} {target.name!r}"
        return None

    sev = model.severities
    levels = _levels(sev, base_dir, report)
    policies: dict[str, Policy] = {}
    for i, pc in enumerate(model.escalation_policies):
        here: Loc = ("escalation_policies", i)
        targets_ok = True
        for j, st in enumerate(pc.steps):
            for k, text in enumerate(st.targets):
                if (problem := target_problem(text)) is not None:
                    report((*here, "steps", j, "targets", k), problem)
                    targets_ok = False
            for k, text in enumerate(st.matchers):
                if (problem := _severity_problem(text, sev.label, levels)) is not None:
                    report((*here, "steps", j, "matchers", k), problem)
        roles = pc.from_runbook.roles if pc.from_runbook else {}
        for role, texts in roles.items():
            for text in (t for t in texts.split(",") if t.strip() and t.strip() != NO_TARGET):
                if (problem := target_problem(text)) is not None:
                    report((*here, "from_runbook", "roles", role), problem)
                    targets_ok = False
        try:
            policy = _policy(pc, base_dir)
        except _Wrong as exc:
            report((*here, *exc.where), exc.message)
            continue
        except (PolicyError, ValueError) as exc:
            if targets_ok:  # a bad target is reported at its place already
                report(here, str(exc))
            continue
        policies[pc.name] = policy

    def visit(route: RouteConfig, path: Loc) -> None:
        named = [p.name for p in model.escalation_policies]
        if route.escalation_policy is not None and unknown(
            "escalation_policies", route.escalation_policy, named
        ):
            report(
                (*path, "escalation_policy"),
                f"unknown escalation policy {route.escalation_policy!r}",
            )
        for j, name in enumerate(route.channels):
            if unknown("channels", name, channels):
                report((*path, "channels", j), f"unknown channel {name!r}")
        for j, child in enumerate(route.routes):
            visit(child, (*path, "routes", j))

    visit(model.route, ("route",))
    return Paging(
        users=users,
        teams=teams,
        schedules=schedules,
        policies=policies,
        levels=levels,
        severity_label=sev.label,
        channels=channels,
        update_every_s=parse_duration(sev.update_every) if sev.update_every else None,
        profiles=profiles,
    )


def _profile(
    user: UserConfig,
    index: int,
    channels: Mapping[str, ChannelConfig],
    dropped: Mapping[str, set[str]] | None,
    report: Callable[[Loc, str], None],
) -> Profile:
    """A user's ``contact_methods`` and ``notification_rules``, checked as the API checks a
    person's own (``oncall.contacts.problems``), each problem at its value."""
    here: Loc = ("users", index)
    if user.contact:
        report((*here, "contact"), "give contact or contact_methods, not both")
    if not user.notification_rules:
        report(
            (*here, "notification_rules"),
            f"user {user.name!r} has contact methods but no notification rules",
        )
    if not user.contact_methods:
        report((*here, "contact_methods"), f"user {user.name!r} has no contact methods")
    methods = tuple(Method(m.name, m.channel, m.address) for m in user.contact_methods)
    rules = tuple(Rule(r.contact, parse_duration(r.after)) for r in user.notification_rules)
    gone = (dropped or {}).get("channels", set())
    types = {name: c.type for name, c in channels.items()}
    for problem in contact_problems(methods, rules, types, user):
        where = problem.where
        if (
            len(where) == 3
            and where[0] == "contact_methods"
            and isinstance(where[1], int)
            and methods[where[1]].channel in gone
        ):
            continue  # the channel's own error is reported already
        report((*here, *where), problem.message)
    return Profile(methods, rules, origin="config")


_UNITS = {"hourly": "hours", "daily": "days", "weekly": "weeks"}


def _slack_problems(c: SlackChannelConfig, at: Loc, report: Callable[[Loc, str], None]) -> None:
    """A Slack channel is an incoming webhook (url or url_secret) or an app (token): exactly
    one; where an app posts is the app's alone."""
    given = [key for key in ("url", "url_secret", "token") if getattr(c, key)]
    if not given:
        report(
            (*at, "url"),
            "a Slack channel needs url or url_secret (an incoming webhook), or token (a Slack app)",
        )
    elif c.url and c.url_secret:
        report((*at, "url_secret"), "give url or url_secret, not both")
    elif c.token and len(given) > 1:
        report((*at, "token"), f"give token (a Slack app) or {given[0]} (a webhook), not both")
    if not c.token and c.by_severity:
        report((*at, "by_severity"), "by_severity is where a Slack app posts: it needs token")
    if c.token:  # an incoming webhook's own options (a webhook's `conversation` overrides
        # the webhook's channel, as Alertmanager's `channel` does)
        for key in ("username", "icon_emoji", "icon_url", "http_client"):
            if getattr(c, key) is not None:
                report((*at, key), f"{key} is an incoming webhook's: a Slack app has none")


def _plaintext_auth(smtp: SmtpConfig) -> bool:
    """A password sent over neither STARTTLS nor implicit TLS, and nobody said that is wanted."""
    return (
        smtp.password is not None
        and not smtp.starttls
        and not smtp.tls
        and not smtp.allow_plaintext_auth
    )


def _restriction(config: RestrictionConfig) -> Restriction:
    return Restriction(
        weekdays=frozenset(WEEKDAYS[d.strip().lower()[:3]] for d in config.days),
        start_min=clock_minutes(config.from_),
        end_min=clock_minutes(config.to, end=True),
    )


class _Wrong(Exception):
    """A problem of a policy at a place inside it (``("from_runbook", "alert")``)."""

    def __init__(self, where: Loc, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def _severity_problem(text: str, label: str, levels: tuple[Level, ...]) -> str | None:
    """A step matcher on the severity label that can never match as written: steps see the
    incident's level by its name (``critical``), never an alias or an unknown level."""
    matcher = parse_matcher(text)
    if matcher.name != label or matcher.op not in (Op.EQ, Op.NE) or not matcher.value:
        return None
    if any(lv.name == matcher.value for lv in levels):
        return None
    level = level_of(levels, matcher.value)
    if level is not None:
        return (
            f"{matcher.value!r} stands for severity level {level.name!r}, and steps see the "
            f'level by its name: write {label}{matcher.op.value}"{level.name}"'
        )
    return f"unknown severity {matcher.value!r} (the levels: {', '.join(lv.name for lv in levels)})"


def _policy(config: PolicyConfig, base_dir: Path) -> Policy:
    """An escalation policy as written (steps) or from a runbook's escalation table (the
    runbook-wide one, or one alert's); _Wrong, PolicyError or ValueError says what is wrong."""
    ack_timeout = parse_duration(config.ack_timeout) if config.ack_timeout else None
    if config.from_runbook is not None:
        if config.steps:
            raise PolicyError("give steps or from_runbook, not both")
        fr = config.from_runbook
        try:
            runbook = _read_runbook(base_dir, fr.runbook)
        except ValueError as exc:
            raise _Wrong(("from_runbook", "runbook"), str(exc)) from None
        tiers = runbook.escalation
        # without from_runbook.alert, each alert with a path of its own escalates by it
        own = {a.name: [(t.after_s, t.target) for t in a.escalation] for a in runbook.alerts}
        if fr.alert is not None:
            matching = [a for a in runbook.alerts if a.name == fr.alert]
            if not matching:
                raise _Wrong(("from_runbook", "alert"), f"the runbook has no alert {fr.alert!r}")
            tiers = matching[0].escalation or tiers
            own = {}
        if not tiers:
            raise _Wrong(("from_runbook", "runbook"), "the runbook has no escalation matrix")
        try:
            return from_tiers(
                config.name,
                [(t.after_s, t.target) for t in tiers],
                fr.roles,
                last_delay_s=parse_duration(fr.last_delay),
                repeat=config.repeat,
                ack_timeout_s=ack_timeout,
                alerts=own,
            )
        except PolicyError as exc:  # a role of the matrix with no target, mostly
            raise _Wrong(("from_runbook", "roles"), str(exc)) from None
    if not config.steps:
        raise PolicyError("a policy needs steps or from_runbook")
    return Policy(
        name=config.name,
        steps=tuple(
            Step(
                targets=tuple(Target.parse(t) for t in st.targets),
                delay_s=parse_duration(st.delay),
                matchers=tuple(parse_matcher(m) for m in st.matchers),
            )
            for st in config.steps
        ),
        repeat=config.repeat,
        ack_timeout_s=ack_timeout,
    )


def _levels(
    config: SeveritiesConfig, base_dir: Path, report: Callable[[Loc, str], None]
) -> tuple[Level, ...]:
    """The severity levels: as written, from a runbook's severity table, or the defaults."""
    if config.levels is not None and config.from_runbook is not None:
        report(("severities", "from_runbook"), "give levels or from_runbook, not both")
    if config.levels is not None:
        return tuple(
            Level(
                name=lv.name,
                ack_deadline_s=parse_duration(lv.ack_deadline) if lv.ack_deadline else None,
                aliases=tuple(lv.aliases),
                update_every_s=parse_duration(lv.update_every) if lv.update_every else None,
            )
            for lv in config.levels
        )
    if config.from_runbook is not None:
        try:
            runbook = _read_runbook(base_dir, config.from_runbook)
            if not runbook.severity_levels:
                raise ValueError(
                    no_table(config.from_runbook, [a.severity for a in runbook.alerts])
                )
            return from_runbook(runbook.severity_levels)
        except ValueError as exc:
            report(("severities", "from_runbook"), str(exc))
    return DEFAULT_LEVELS
