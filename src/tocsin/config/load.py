"""Loading ``tocsin.yaml``: YAML with the place of every node, validation against the models,
the cross-checks and builders of ``routes.py`` and ``paging.py``, and every problem reported
at once as ``file:line:column: path: message``.

The start of the data path: the server, the CLI and simulate all load through
``load_config``/``parse_config`` and get a ``Config``, or a ``ConfigError`` listing everything
that is wrong.
"""

from __future__ import annotations

import difflib
import glob
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from tocsin.alerts.heartbeat import Monitor
from tocsin.alerts.inhibit import InhibitRule
from tocsin.alerts.payloads import Limits
from tocsin.config.alertmanager import expand
from tocsin.config.am_models import UNSUPPORTED_INTEGRATIONS
from tocsin.config.execute import check_execute
from tocsin.config.gotemplate import GoTemplateError, parse_defines
from tocsin.config.heartbeats import build_monitors
from tocsin.config.models import CHANNEL_TYPES, RUNNER_TYPES, Loc, TocsinConfig
from tocsin.config.paging import Paging, build_paging
from tocsin.config.routes import (
    alertmanager_yaml,
    build_route,
    check_routes,
    inhibit_rules,
    time_intervals,
)
from tocsin.errors import Invalid
from tocsin.incidents.postmortem import check_postmortem_template
from tocsin.routing.intervals import Interval
from tocsin.routing.tree import Route, finalize
from tocsin.templating import Template, TemplateError
from tocsin.times import parse_duration

# (line, column) of each node of a YAML document, 1-based, by its place in the document
Positions = dict[Loc, tuple[int, int]]


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
    # the named time intervals (``time_intervals:`` and ``mute_time_intervals:``)
    intervals: dict[str, tuple[Interval, ...]] = field(default_factory=dict)
    heartbeats: tuple[Monitor, ...] = ()  # heartbeats:, built (config/heartbeats.py)

    @property
    def limits(self) -> Limits:
        m = self.model.limits
        return Limits(**{f.name: getattr(m, f.name) for f in fields(Limits)})

    @property
    def receivers(self) -> list[str]:
        return [r.name for r in self.model.receivers]

    def alertmanager_yaml(self) -> str:
        """The configuration as Alertmanager would read it (route, receivers, inhibit rules), so
        ``amtool config show`` and ``amtool config routes`` work against tocsin."""
        return alertmanager_yaml(self.model)

    def runbook_paths(self) -> list[Path]:
        return [(self.base_dir / p) for p in self.model.runbooks]


def yaml_positions(text: str) -> Positions:
    """(line, column) of every node of the YAML document, by its path."""
    out: Positions = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return out

    def visit(node: yaml.Node, path: Loc) -> None:
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


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Problems:
    """The problems found in one YAML document (``tocsin.yaml``, or a ``tocsin simulate``
    scenario), each placed at a node of it (file:line:column)."""

    source: str
    positions: Positions
    found: list[ConfigProblem] = field(default_factory=list)

    def at(self, loc: Loc, message: str) -> None:
        """A problem of this very node (placed at the file alone if the node has no place)."""
        self._add(self.positions.get(loc), loc, message)

    def near(self, loc: Loc, message: str) -> None:
        """A problem of this node, placed at it or at the nearest node above it."""
        self._add(self.place(loc), loc, message)

    def place(self, loc: Loc) -> tuple[int, int] | None:
        """(line, column) of the node at ``loc``, or of the nearest node above it."""
        cut = len(loc)
        while cut > 0 and loc[:cut] not in self.positions:
            cut -= 1
        return self.positions.get(loc[:cut])

    def _add(self, place: tuple[int, int] | None, loc: Loc, message: str) -> None:
        where = f"{self.source}:{place[0]}:{place[1]}" if place else self.source
        self.found.append(ConfigProblem(where, _dotted(loc), message))


MAX_TEMPLATE_FILES = 100
MAX_TEMPLATE_BYTES = 1024 * 1024


def _template_defines(
    model: TocsinConfig, base_dir: Path, report: Callable[[Loc, str], None]
) -> dict[str, str]:
    """The ``{{ define }}``s of the ``templates:`` files, in the files' order (a later file's
    define of a name replaces an earlier one's, as in Alertmanager; a glob that matches no
    file is no error, as in Alertmanager). Each problem is reported at its glob."""
    defines: dict[str, str] = {}
    read = 0
    for i, pattern in enumerate(model.templates):
        where = base_dir / pattern
        for path in sorted(glob.glob(str(where))):
            read += 1
            if read > MAX_TEMPLATE_FILES:
                report(("templates", i), f"more than {MAX_TEMPLATE_FILES} template files")
                return defines
            try:
                text = Path(path).read_bytes()[: MAX_TEMPLATE_BYTES + 1].decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                report(("templates", i), f"cannot read template file {path}: {exc}")
                continue
            if len(text) > MAX_TEMPLATE_BYTES:
                report(("templates", i), f"{path} is larger than {MAX_TEMPLATE_BYTES} bytes")
                continue
            try:
                defines.update(parse_defines(text, where=path))
            except GoTemplateError as exc:
                report(("templates", i), str(exc))
    return defines


def parse_config(text: str, source: str = "tocsin.yaml", base_dir: Path | None = None) -> Config:
    """Validate a whole configuration; raise ConfigError listing every problem found, in the
    order of the file: the shape of every value (``models.py``) and every reference by name
    (``routes.py``, ``paging.py``) in one pass, each at the line of the value that is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError([ConfigProblem(where, "", f"invalid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(source, "", "the configuration must be a mapping")])
    problems = Problems(source, yaml_positions(text))
    checked = _validate(data, problems)
    if checked is None:
        raise ConfigError(_in_file_order(problems.found))
    model = checked.model
    base_dir = base_dir or Path(".")
    check_routes(model, checked.report(problems.near), checked.dropped)
    # an alertmanager.yml's receivers become channels; the checks below see tocsin's model,
    # and a problem of a channel made here is placed at the receiver's config it came from
    defines = _template_defines(model, base_dir, checked.report(problems.at))
    origins = expand(model, checked.report(problems.near), defines, base_dir)
    paging = build_paging(
        model, base_dir, _from_origin(origins, checked.report(problems.near)), checked.dropped
    )
    check_execute(model, checked.report(problems.near))
    for i, path in enumerate(model.runbooks):
        if not (base_dir / path).exists():
            checked.report(problems.at)(("runbooks", i), f"no such file or directory: {path}")
    postmortem = _postmortem_template(model, base_dir, problems)
    if problems.found:
        raise ConfigError(_in_file_order(problems.found))
    return Config(
        model=model,
        route=finalize(build_route(model.route, storm=model.storm)),
        inhibit_rules=inhibit_rules(model),
        resolve_timeout_s=parse_duration(model.global_.resolve_timeout),
        source=source,
        text=text,
        base_dir=base_dir,
        paging=paging,
        postmortem=postmortem,
        intervals=time_intervals(model),
        heartbeats=build_monitors(model.heartbeats),
    )


def _from_origin(
    origins: dict[int, Loc], report: Callable[[Loc, str], None]
) -> Callable[[Loc, str], None]:
    """``report`` for a channel made from a receiver's config: at that config."""

    def placed(loc: Loc, message: str) -> None:
        if len(loc) >= 2 and loc[0] == "channels" and isinstance(loc[1], int):
            origin = origins.get(loc[1])
            if origin is not None:
                loc = (*origin, *loc[2:])
        report(loc, message)

    return placed


def _in_file_order(found: list[ConfigProblem]) -> list[ConfigProblem]:
    """Problems as a person reads the file: by line and column (those with no line last)."""

    def place(problem: ConfigProblem) -> tuple[int, int, int]:
        parts = problem.where.rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return (0, int(parts[1]), int(parts[2]))
        return (1, 0, 0)

    return sorted(found, key=place)  # stable: problems of one node keep their order


@dataclass
class _Checked:
    """The document as far as its shape is right: the model of everything valid in it, with
    every list item that could not be read dropped (its name kept in ``dropped``, so that a
    reference to it is not reported as unknown too), and the places of the values dropped for
    their shape (so that what the default standing in for one makes the checks say, "no
    contact methods", is not reported besides the error itself)."""

    model: TocsinConfig
    kept: dict[Loc, list[int]]  # list (by its place in the file) -> file index of each item
    dropped: dict[str, set[str]]  # section -> names of its items that could not be read
    wrong: list[Loc]  # places of the shape errors

    def report(self, add: Callable[[Loc, str], None]) -> Callable[[Loc, str], None]:
        """``add`` for the checks of the model: at the place in the file, and silent about a
        node whose shape error is reported already (a default stood in for its value)."""

        def report(loc: Loc, message: str) -> None:
            loc = _in_file(self.kept, loc)
            if not any(_related(loc, wrong) for wrong in self.wrong):
                add(loc, message)

        return report


def _in_file(kept: dict[Loc, list[int]], loc: Loc) -> Loc:
    """A place in the model as a place in the file (list items dropped shift indexes)."""
    out: Loc = ()
    for part in loc:
        if isinstance(part, int) and out in kept:
            part = kept[out][part]
        out = (*out, part)
    return out


def _related(a: Loc, b: Loc) -> bool:
    return a[: len(b)] == b or b[: len(a)] == a


class _Items(dict[int, Any]):
    """A list of the document, its items by their index in the file (some may be dropped)."""


def _indexed(value: Any) -> Any:
    if isinstance(value, list):
        return _Items((i, _indexed(v)) for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: _indexed(v) for k, v in value.items()}
    return value


def _plain(value: Any, path: Loc, kept: dict[Loc, list[int]]) -> Any:
    if isinstance(value, _Items):
        kept[path] = list(value)
        return [_plain(v, (*path, i), kept) for i, v in value.items()]
    if isinstance(value, dict):
        return {k: _plain(v, (*path, k), kept) for k, v in value.items()}
    return value


_ABSENT = object()


def _node(tree: Any, loc: Loc) -> Any:
    for part in loc:
        if not isinstance(tree, dict) or part not in tree:
            return _ABSENT
        tree = tree[part]
    return tree


def _prune(tree: dict[str, Any], loc: Loc, missing: bool, dropped: dict[str, set[str]]) -> bool:
    """Take out of the document what a shape error is about: the value that is wrong, or
    the list item that lacks a required key. False when nothing could be taken out."""
    cut = len(loc)
    if missing:  # the item that lacks it goes: the nearest list item holding the place
        cut -= 1
        while cut > 0 and not (
            isinstance(loc[cut - 1], int) and isinstance(_node(tree, loc[: cut - 1]), _Items)
        ):
            cut -= 1
    if cut == 0 or _node(tree, loc[:cut]) is _ABSENT:
        return False  # not in the file (a required section), or taken out already
    parent = _node(tree, loc[: cut - 1])
    gone = parent.pop(loc[cut - 1])
    if isinstance(parent, _Items) and isinstance(gone, dict) and isinstance(gone.get("name"), str):
        dropped.setdefault(str(loc[0]), set()).add(gone["name"])
    return True


def _error_loc(error: Any) -> Loc:
    """The place of a pydantic error as the file names it."""
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
    loc = tuple("continue" if p == "continue_" else p for p in loc)
    if len(loc) > 2 and loc[0] == "channels" and loc[2] in CHANNEL_TYPES:
        loc = loc[:2] + loc[3:]  # pydantic names the union member; the file does not
    if len(loc) > 3 and loc[:2] == ("execute", "runners") and loc[3] in RUNNER_TYPES:
        loc = loc[:3] + loc[4:]
    return loc


def _validate(data: dict[str, Any], problems: Problems) -> _Checked | None:
    """Validate the document against the models, reporting every shape error; then the model
    of what is valid in it, for the checks by name (None when not even that can be had)."""
    try:
        return _Checked(TocsinConfig.model_validate(data), {}, {}, [])
    except ValidationError as exc:
        errors = exc.errors()
    wrong: list[Loc] = []
    for error in errors:
        loc = _error_loc(error)
        if error["type"] == "extra_forbidden":  # taken out, nothing stands in for it
            problems.near(loc, unknown_key(error["loc"]))
        else:
            wrong.append(loc)
            problems.near(loc, error["msg"].removeprefix("Value error, "))
    tree = _indexed(data)
    dropped: dict[str, set[str]] = {}
    kept: dict[Loc, list[int]] = {}
    for _round in range(20):  # each round takes out at least one value: this ends
        pruned = False
        for error in errors:
            loc = _in_file(kept, _error_loc(error))
            pruned |= _prune(tree, loc, error["type"] == "missing", dropped)
        if not pruned:
            return None
        kept = {}
        try:
            model = TocsinConfig.model_validate(_plain(tree, (), kept))
            return _Checked(model, kept, dropped, wrong)
        except ValidationError as exc:
            errors = exc.errors()
    return None


class _Unreadable(Exception):
    """The postmortem template cannot be read: a problem of the configuration, not a crash."""


def _postmortem_template(
    model: TocsinConfig, base_dir: Path, problems: Problems
) -> Template | None:
    """The team's postmortem template, read and rendered against a sample postmortem now:
    one that cannot render is a configuration error."""
    if model.postmortem_template is None:
        return None
    try:
        text = read_source(base_dir / model.postmortem_template, _Unreadable)
        return check_postmortem_template(text, str(model.postmortem_template))
    except (_Unreadable, TemplateError) as exc:
        problems.at(("postmortem_template",), str(exc))
    return None


def read_source(path: Path, error: Callable[[str], Exception]) -> str:
    """The text of a file named as or in a configuration; ``error("cannot read: …")`` is raised
    when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read: {exc}") from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    text = read_source(path, lambda why: ConfigError([ConfigProblem(str(path), "", why)]))
    return parse_config(text, str(path), path.parent)


# Alertmanager's keys that tocsin does not read (yet), and what to write instead; any other
# unknown key is refused too, naming the nearest key tocsin reads (``load.py``)
_RECEIVER_CONFIGS = (
    "tocsin does not know this receiver integration; use slack_configs, email_configs, "
    "webhook_configs or pagerduty_configs, or declare a channel under `channels:` and name it "
    "in the route's `channels:` list (see docs/paging.md)"
)
_AM_GLOBAL = (
    "tocsin does not carry over Alertmanager's global `{key}` (its integration or setting "
    "is not supported: docs/migrate-from-alertmanager.md); remove it"
)
_AM_FIELD_REASONS = {
    "service_key": "PagerDuty's Events API v1 service keys are not supported: give routing_key "
    "(an Events API v2 integration key) instead",
    "service_key_file": "PagerDuty's Events API v1 service keys are not supported: give "
    "routing_key_file (an Events API v2 integration key) instead",
}


def _am_field(integration: str, key: str, inside: list[Any]) -> str:
    """Why a key of one of Alertmanager's integration configs is refused."""
    reason = _AM_FIELD_REASONS.get(key)
    if reason is not None:
        return reason
    place = ".".join(str(p) for p in (*inside, key))
    return (
        f"tocsin does not carry over `{place}` of Alertmanager's {integration}, so it would be "
        "ignored; remove it (docs/migrate-from-alertmanager.md lists what carries over)"
    )


_GLOBAL_PREFIXES = (
    "smtp_",
    "slack_",
    "pagerduty_",
    "opsgenie_",
    "wechat_",
    "victorops_",
    "telegram_",
    "webex_",
    "jira_",
    "rocketchat_",
    "pushover_",
    "http_config",
    "hipchat_",
    "msteams_",
    "msteamsv2_",
    "discord_",
    "incidentio_",
    "mattermost_",
    "sns_",
)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds (through lists, unions, Optional and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the section at ``loc`` (a pydantic error's place) can hold."""
    models: list[type[BaseModel]] = [TocsinConfig]
    for part in loc:
        if isinstance(part, int):
            continue
        tagged = [m for m in models if get_args(_field_type(m, "type")) == (part,)]
        if tagged:  # a channel, named by its type
            models = tagged
            continue
        models = [m for model in models for m in _models_in(_field_type(model, str(part)))]
    return sorted({f.alias or name for m in models for name, f in m.model_fields.items()})


def _field_type(model: type[BaseModel], key: str) -> Any:
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f.annotation
    return None


def unknown_key(loc: tuple[Any, ...]) -> str:
    """Why a key nothing reads is refused, and what to write instead (``loc`` is the place
    pydantic gives the extra key)."""
    key = str(loc[-1])
    kinds = (*CHANNEL_TYPES, *RUNNER_TYPES)
    within = [p for p in loc[:-1] if not (isinstance(p, str) and p in kinds)]
    if len(within) == 2 and within[0] == "receivers" and key.endswith("_configs"):
        name = UNSUPPORTED_INTEGRATIONS.get(key)
        if name is not None:
            return (
                f"tocsin has no {name} integration (yet), so this receiver's {name} "
                "notifications would go nowhere; notify through slack_configs, email_configs, "
                "webhook_configs or pagerduty_configs (docs/migrate-from-alertmanager.md)"
            )
        return _RECEIVER_CONFIGS
    if len(within) >= 3 and within[0] == "receivers" and str(within[2]).endswith("_configs"):
        return _am_field(str(within[2]), key, within[4:])
    if within == ["global"] and key.startswith(_GLOBAL_PREFIXES):
        return _AM_GLOBAL.format(key=key)
    keys = _keys_at(loc[:-1])
    close = difflib.get_close_matches(key, keys, n=1)
    if close:
        return f"unknown key `{key}`, which nothing would read: did you mean `{close[0]}`?"
    return f"unknown key `{key}`, which nothing would read; the keys here are " + ", ".join(
        f"`{k}`" for k in keys
    )
