"""Silences, with Alertmanager's semantics: add (or update in place where Alertmanager
would, else expire the old one and add anew), expire, get and list. The ``/api/v2`` handlers
keep Alertmanager's shapes and codes; the work is here. Also what is firing now and what mutes
it (the ``/api/v2/alerts`` view)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection

from tocsin import times
from tocsin.alerts.inhibit import Inhibition
from tocsin.alerts.matchers import Matcher, Op, matches_filter
from tocsin.alerts.model import Alert
from tocsin.alerts.silences import (
    Silence,
    SilenceState,
    can_update,
    expire,
    silence_matches_filter,
    silence_sort_key,
    validate,
)
from tocsin.clock import Budget
from tocsin.errors import Conflict, Invalid, NotFound
from tocsin.incidents.flush import Muting, mute_labels
from tocsin.service.context import Context
from tocsin.store import repo, silence_cache
from tocsin.store.db import begin_write


def silences(ctx: Context, matchers: Sequence[Matcher], now: datetime) -> list[Silence]:
    """Every silence that matches the filter ``matchers``, in Alertmanager's order."""
    with ctx.db.connect() as conn:
        found = repo.list_silences(conn)
    found = [s for s in found if silence_matches_filter(s, list(matchers))]
    found.sort(key=lambda s: silence_sort_key(s, now))
    return found


def silence(ctx: Context, silence_id: str) -> Silence:
    with ctx.db.connect() as conn:
        found = repo.get_silence(conn, silence_id)
    if found is None:
        raise NotFound(f"no silence {silence_id}")
    return found


def expire_silence(ctx: Context, silence_id: str) -> None:
    """An active silence ends now, a pending one starts and ends now (Conflict: it has
    expired already)."""
    now = times.to_dt(ctx.now())
    with begin_write(ctx.db) as conn:
        found = repo.get_silence(conn, silence_id)
        if found is None:
            raise NotFound(f"no silence {silence_id}")
        try:
            repo.save_silence(conn, expire(found, now))
        except ValueError as exc:
            raise Conflict(str(exc)) from None


def add_silence(
    ctx: Context,
    silence_id: str | None,
    matchers: Sequence[Matcher],
    starts: datetime,
    ends: datetime,
    created_by: str,
    comment: str,
) -> str:
    """A new silence (or, with ``silence_id``, a change to one); its id. As Alertmanager: a
    change that only extends or narrows in time updates in place, any other expires the old
    silence and makes a new one."""
    now = times.to_dt(ctx.now())
    if starts >= ends:
        raise Invalid("Failed to create silence: start time must be before end time")
    if ends < now:
        raise Invalid("Failed to create silence: end time can't be in the past")
    wanted = Silence(
        id=silence_id or "",
        matchers=tuple(matchers),
        starts_at=starts,
        ends_at=ends,
        created_by=created_by,
        comment=comment,
        updated_at=now,
    )
    problems = validate(wanted)
    if problems:
        raise Invalid("invalid silence: " + "; ".join(problems))
    with begin_write(ctx.db) as conn:
        if silence_id:
            old = repo.get_silence(conn, silence_id)
            if old is None:
                raise NotFound("silence not found")
            if can_update(old, wanted, now):
                repo.save_silence(conn, wanted)
                return silence_id
            if old.state(now) is not SilenceState.EXPIRED:
                repo.save_silence(conn, expire(old, now))
        new_id = str(uuid.uuid4())
        repo.save_silence(
            conn,
            Silence(
                id=new_id,
                matchers=tuple(matchers),
                starts_at=max(starts, now),
                ends_at=ends,
                created_by=created_by,
                comment=comment,
                updated_at=now,
            ),
        )
    return new_id


def read_budget(ctx: Context, what: str) -> Budget:
    """The time budget of a read of the firing alerts (``api.read_budget``)."""
    seconds = times.parse_duration(ctx.config.model.api.read_budget)
    return Budget(seconds, what, "narrow it with filter= or raise api.read_budget")


# alerts per read of the store in a read of the firing alerts: what such a read holds at once
CHUNK = 1000

Labels = Mapping[str, str]
_Page = TypeVar("_Page", bound=Sized)


@dataclass(frozen=True)
class Chunk:
    """Firing alerts by fingerprint, in fingerprint order, and what mutes them."""

    alerts: dict[str, Alert]
    muting: Muting


class Firing:
    """A read of the alerts active at ``now`` a chunk at a time (``CHUNK``), in fingerprint
    order, and what silences or inhibits them: what it holds does not grow with the number of
    alerts. Alertmanager's ``filter=`` (``matchers``) and ``keep`` (a test of the labels) are
    applied before any muting work: only the selected alerts are checked against silences.
    The filter's equality matchers narrow the alerts in the database; the labels of each chunk
    are read first, the rest only of the alerts it selects. The inhibition sources (the firing
    alerts that are a rule's source) are read only when a selected alert is a rule's target,
    in fingerprint order (the first source that inhibits an alert is the one named).
    The silences come from this process's cache (``store.silence_cache``), which also
    remembers what mutes each fingerprint. ``budget`` is checked as the work goes
    (``Unavailable`` when it is spent). Open one with ``reading``: its reads see one
    snapshot of the database."""

    def __init__(self, ctx: Context, conn: Connection, now: datetime, budget: Budget) -> None:
        self.conn = conn
        self.now = now
        self.rules = ctx.config.inhibit_rules
        self.check = budget.check
        self.index = silence_cache.active_index(conn, now)
        self._inhibition: Inhibition | None = None

    def labels(
        self, matchers: Sequence[Matcher] = (), keep: Callable[[Labels], bool] | None = None
    ) -> Iterator[tuple[dict[str, dict[str, str]], Muting]]:
        """The labels of the selected alerts by fingerprint, a chunk at a time, and what
        mutes them."""
        wanted = list(matchers)
        for page in self._label_pages(_pinned(wanted)):
            chosen = {
                fp: each
                for fp, each in page.items()
                if matches_filter(wanted, each) and (keep is None or keep(each))
            }
            if chosen:
                yield chosen, self.mute(chosen)

    def chunks(
        self, matchers: Sequence[Matcher] = (), keep: Callable[[Labels], bool] | None = None
    ) -> Iterator[Chunk]:
        """The selected alerts, a chunk at a time, and what mutes them."""
        wanted = list(matchers)
        pinned = _pinned(wanted)
        if wanted and not pinned:
            # no label to search for: the labels of each page first, the rest of the alerts
            # it selects after
            for chosen, muting in self.labels(wanted, keep):
                yield Chunk(self._current(chosen), muting)
            return
        pages = self._pages(
            lambda after: repo.active_alerts(self.conn, self.now, pinned, after, CHUNK),
            lambda page: page[-1].fingerprint,
        )
        for page in pages:
            alerts = {
                s.fingerprint: s.alert
                for s in page
                if matches_filter(wanted, s.labels) and (keep is None or keep(s.labels))
            }
            if alerts:
                yield Chunk(alerts, self.mute({fp: a.labels for fp, a in alerts.items()}))

    def of(self, fingerprints: Sequence[str]) -> Chunk:
        """These alerts (a chunk of those ``labels`` selected), in the order given."""
        self.check()
        found = self._current(fingerprints)
        return Chunk(found, self.mute({fp: alert.labels for fp, alert in found.items()}))

    def mute(self, labels: Mapping[str, Labels]) -> Muting:
        return mute_labels(labels, self.index, self._sources(labels), self.check)

    def _current(self, fingerprints: Iterable[str]) -> dict[str, Alert]:
        current = repo.current_alerts(self.conn, fingerprints)
        return {fp: current[fp].alert for fp in fingerprints if fp in current}

    def _sources(self, labels: Mapping[str, Labels]) -> Inhibition:
        if self._inhibition is not None:
            return self._inhibition
        rules = self.rules
        if not any(rule.is_target(each) for rule in rules for each in labels.values()):
            return Inhibition(rules, [])  # none of these can be inhibited
        sources: list[tuple[str, Labels]] = []
        for page in self._label_pages(None):
            sources.extend(
                (fp, each) for fp, each in page.items() if any(r.is_source(each) for r in rules)
            )
        self._inhibition = Inhibition(rules, sources)
        return self._inhibition

    def _label_pages(self, pinned: Mapping[str, str] | None) -> Iterator[dict[str, dict[str, str]]]:
        """The labels of the firing alerts (``pinned``: those carrying these), a page at a
        time."""
        return self._pages(
            lambda after: repo.active_labels(self.conn, self.now, pinned, after, CHUNK),
            lambda page: next(reversed(page)),
        )

    def _pages(self, read: Callable[[str], _Page], last: Callable[[_Page], str]) -> Iterator[_Page]:
        """``read`` a page of ``CHUNK`` after each fingerprint ``last`` of a full page gives,
        from the first (``""``), until a page is not full; the budget checked before each."""
        after: str | None = ""
        while after is not None:
            self.check()
            page = read(after)
            after = last(page) if len(page) == CHUNK else None
            yield page


def _pinned(matchers: Sequence[Matcher]) -> dict[str, str]:
    """A filter's equality matchers (``name="value"``), which the store narrows by."""
    return {m.name: m.value for m in matchers if m.op is Op.EQ and m.value}


@contextmanager
def reading(ctx: Context, budget: Budget) -> Iterator[Firing]:
    """A read of the firing alerts (``Firing``) on one connection, whose reads see one
    snapshot of the database (SQLite's read transaction; REPEATABLE READ on PostgreSQL),
    so that a read in several passes sees the same alerts in each."""
    with ctx.db.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        yield Firing(ctx, conn, times.to_dt(ctx.now()), budget)


@dataclass(frozen=True)
class Shown:
    """A firing alert as a person sees it: what it is, and what mutes it."""

    fingerprint: str
    alert: Alert
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]


def firing(
    ctx: Context, matchers: Sequence[Matcher], limit: int, what: str = "the firing alerts"
) -> tuple[list[Shown], bool]:
    """At most ``limit`` of the firing alerts the filter ``matchers`` selects, in
    fingerprint order, each with the silences and alerts that mute it; and whether more
    match. For a silence being written, these are the alerts it would mute."""
    more = False
    found: list[Shown] = []
    with reading(ctx, read_budget(ctx, what)) as reader:
        for chunk in reader.chunks(matchers):
            for fp, alert in chunk.alerts.items():
                if len(found) == limit:
                    more = True
                    break
                found.append(
                    Shown(
                        fp,
                        alert,
                        tuple(chunk.muting.silenced_by.get(fp, ())),
                        tuple(chunk.muting.inhibited_by.get(fp, ())),
                    )
                )
            if more:
                break
    return found, more


def muting_of(ctx: Context, fingerprints: Sequence[str]) -> Muting:
    """What silences or inhibits these alerts now (an incident's, as its page shows them)."""
    with reading(ctx, read_budget(ctx, "what mutes an incident's alerts")) as reader:
        return reader.of(list(fingerprints)).muting
