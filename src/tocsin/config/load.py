"""Loading ``tocsin.yaml``: YAML with the place of every node, validation against the models,
the cross-checks and builders of ``routes.py`` and ``paging.py``, and every problem reported
at once as ``file:line:column: path: message``.

The start of the data path: the server, the CLI and simulate all load through
``load_config``/``parse_config`` and get a ``Config``, or a ``ConfigError`` listing everything
that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml
from pydantic import ValidationError

from tocsin.alerts.inhibit import InhibitRule
from tocsin.alerts.payloads import Limits
from tocsin.config.models import CHANNEL_TYPES, Loc, TocsinConfig
from tocsin.config.paging import Paging, build_paging
from tocsin.config.routes import alertmanager_yaml, build_route, check_routes, inhibit_rules
from tocsin.errors import Invalid
from tocsin.incidents.postmortem import check_postmortem_template
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
    problems = Problems(source, yaml_positions(text))
    try:
        model = TocsinConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            loc = tuple("continue" if p == "continue_" else p for p in loc)
            if len(loc) > 2 and loc[0] == "channels" and loc[2] in CHANNEL_TYPES:
                loc = loc[:2] + loc[3:]  # pydantic names the union member; the file does not
            problems.near(loc, error["msg"].removeprefix("Value error, "))
        raise ConfigError(problems.found) from None
    base_dir = base_dir or Path(".")
    check_routes(model, problems.at)
    paging = build_paging(model, base_dir, problems.near)
    postmortem = _postmortem_template(model, base_dir, problems)
    if problems.found:
        raise ConfigError(problems.found)
    return Config(
        model=model,
        route=finalize(build_route(model.route)),
        inhibit_rules=inhibit_rules(model),
        resolve_timeout_s=parse_duration(model.global_.resolve_timeout),
        source=source,
        text=text,
        base_dir=base_dir,
        paging=paging,
        postmortem=postmortem,
    )


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
