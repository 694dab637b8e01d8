"""The routing tree, as Alertmanager's ``dispatch.Route``: depth-first matching with
``continue``, inherited options, and group keys; and where an alert's incident is
(``Route.routed``): one incident per alert, however many routes take it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tocsin.alerts.matchers import Matcher, Op, matches_all
from tocsin.incidents.storm import StormRule

DEFAULT_GROUP_WAIT_S = 30.0
DEFAULT_GROUP_INTERVAL_S = 300.0
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0


# ``group_place``: each text as UTF-8 (which sorts as its code points) with its NUL bytes
# escaped (0 2), then a terminator (0 1) that sorts before anything longer; the end of the
# labels (0 0) sorts before any further label
_END = b"\x00\x00"


def _sortable(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass").replace(b"\x00", b"\x00\x02") + b"\x00\x01"


@dataclass
class Route:
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] = ()
    group_by_all: bool = False
    group_wait_s: float = DEFAULT_GROUP_WAIT_S
    group_interval_s: float = DEFAULT_GROUP_INTERVAL_S
    repeat_interval_s: float = DEFAULT_REPEAT_INTERVAL_S
    continue_: bool = False
    routes: list[Route] = field(default_factory=list)
    key: str = "{}"
    id: str = "{}"
    # extra options later stages read (escalation policy, channels, auto-resolve…)
    options: dict[str, object] = field(default_factory=dict)

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """Every route that takes these labels: the deepest matching routes, following
        ``continue`` among siblings; the route itself when no child matches."""
        if not matches_all(list(self.matchers), labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        return found or [self]

    def routed(self, labels: Mapping[str, str]) -> Routed | None:
        """Where an alert goes (None when no route takes it): its incident is on the first
        route that takes it and names an escalation policy, else on the last route that
        takes it; the other routes that take it (through ``continue: true``) only notify,
        adding their channels to that incident's."""
        matched = self.match(labels)
        if not matched:
            return None
        owner = next((r for r in matched if r.escalation_policy), matched[-1])
        return Routed(owner, tuple(r for r in matched if r is not owner))

    def continued_channels(self, route_id: str, alerts: Iterable[Mapping[str, str]]) -> list[str]:
        """The channels an incident on route ``route_id`` gets besides its route's own: those
        of the routes that took one of its alerts through ``continue: true``."""
        out: list[str] = []
        for labels in alerts:
            routed = self.routed(labels)
            if routed is None or routed.route.id != route_id:
                continue
            for other in routed.notify:
                out.extend(c for c in other.channels if c not in out)
        return out

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.group_by_all:
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Alertmanager's group key: ``<route key>:{name="value", …}``."""
        return f"{self.key}:{format_labels(self.group_labels(labels))}"

    def group_place(self, labels: Mapping[str, str]) -> bytes:
        """Where this route's group of an alert with ``labels`` comes in
        ``/api/v2/alerts/groups``, as bytes that sort as Alertmanager orders groups (by
        their label set, then by receiver), then by the route's key: one value per group
        (``group_key``), compact, so that a read of many groups keeps only these."""
        items = sorted(self.group_labels(labels).items())
        pairs = [_sortable(name) + _sortable(value) for name, value in items]
        return b"".join([*pairs, _END, _sortable(self.receiver), _sortable(self.key)])

    def walk(self) -> list[Route]:
        out = [self]
        for child in self.routes:
            out.extend(child.walk())
        return out

    def find(self, route_id: str) -> Route | None:
        """The route with this id in the tree (None when the configuration lost it)."""
        return next((r for r in self.walk() if r.id == route_id), None)

    @property
    def channels(self) -> list[str]:
        """The channels this route tells (``channels:``, inherited)."""
        value = self.options.get("channels")
        return [str(c) for c in value] if isinstance(value, list) else []

    @property
    def storm(self) -> StormRule:
        """The route's storm digest settings (``storm:``, inherited)."""
        value = self.options.get("storm")
        return value if isinstance(value, StormRule) else StormRule()

    @property
    def escalation_policy(self) -> str | None:
        value = self.options.get("escalation_policy")
        return str(value) if value else None

    @property
    def mute_time_intervals(self) -> list[str]:
        """The time intervals that mute this route while they hold (its own, not inherited)."""
        value = self.options.get("mute_time_intervals")
        return [str(n) for n in value] if isinstance(value, list) else []

    @property
    def active_time_intervals(self) -> list[str]:
        """The time intervals outside all of which this route is muted (not inherited)."""
        value = self.options.get("active_time_intervals")
        return [str(n) for n in value] if isinstance(value, list) else []

    @property
    def auto_diagnose(self) -> bool:
        """Whether the runbook's read commands run when this route's incident triggers
        (``auto_diagnose:``, inherited)."""
        return self.options.get("auto_diagnose") is True


@dataclass(frozen=True)
class Routed:
    """Where an alert goes: ``route`` opens (or its incident takes) the alert; ``notify`` are
    the other routes that take it, which only add their channels to that incident."""

    route: Route
    notify: tuple[Route, ...] = ()

    @property
    def channels(self) -> list[str]:
        """The incident's channels for this alert: its route's, then the notifying routes'."""
        out = list(self.route.channels)
        for other in self.notify:
            out.extend(c for c in other.channels if c not in out)
        return out


def format_labels(labels: Mapping[str, str]) -> str:
    """A label set as Prometheus prints it: ``{a="1", b="2"}``, names sorted."""
    inner = ", ".join(f'{name}="{labels[name]}"'.replace("\n", "\\n") for name in sorted(labels))
    return "{" + inner + "}"


def matchers_key(matchers: tuple[Matcher, ...]) -> str:
    order = {op: i for i, op in enumerate(Op)}  # Alertmanager: =, !=, =~, !~
    ordered = sorted(matchers, key=lambda m: (m.name, order[m.op], m.value))
    return "{" + ",".join(str(m) for m in ordered) + "}"


def finalize(root: Route) -> Route:
    """Give every route its key and id (parent key, ``/``, its matchers; the id adds its
    index among siblings, so two routes with equal matchers stay apart)."""

    def visit(route: Route, parent_key: str | None, parent_id: str | None, index: int) -> None:
        own = matchers_key(route.matchers)
        route.key = own if parent_key is None else f"{parent_key}/{own}"
        route.id = route.key if parent_id is None else f"{parent_id}/{own}/{index}"
        for i, child in enumerate(route.routes):
            visit(child, route.key, route.id, i)

    visit(root, None, None, 0)
    return root
