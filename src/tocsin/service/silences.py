"""Silences, with Alertmanager's semantics: add (or update in place where Alertmanager
would, else expire the old one and add anew), expire, get and list. The ``/api/v2`` handlers
keep Alertmanager's shapes and codes; the work is here. Also what is firing now and what mutes
it (the ``/api/v2/alerts`` view)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from tocsin import times
from tocsin.alerts.matchers import Matcher, Op, matches_filter
from tocsin.alerts.model import Alert
from tocsin.alerts.silences import (
    CHECK_EVERY,
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
from tocsin.incidents.flush import Muting, mute
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


def firing(
    ctx: Context,
    now: datetime,
    matchers: Sequence[Matcher] = (),
    keep: Callable[[Alert], bool] | None = None,
    budget: Budget | None = None,
) -> tuple[dict[str, Alert], Muting]:
    """The alerts active at ``now`` by fingerprint that pass the API filter ``matchers``
    (Alertmanager's ``filter=``) and ``keep``, and what silences or inhibits them. Both are
    applied before any muting work: only the selected alerts are checked against silences.
    The filter's equality matchers narrow the alerts in the database; a filter without one
    reads the labels of the firing alerts first and the rest only of those it selects. The
    other firing alerts are read (their labels) only when an inhibition rule targets a
    selected alert.
    The silences come from this process's cache (``store.silence_cache``), which also
    remembers what mutes each fingerprint. ``budget`` is checked as the work goes
    (``Unavailable`` when it is spent)."""
    check = budget.check if budget is not None else None
    wanted = list(matchers)
    pinned = {m.name: m.value for m in wanted if m.op is Op.EQ and m.value}
    rules = ctx.config.inhibit_rules
    with ctx.db.connect() as conn:
        labels: dict[str, dict[str, str]] | None = None
        if wanted and not pinned:
            # no label to search for: the labels alone first, the rest of the chosen alerts
            # after (their latest episodes, still firing)
            labels = repo.active_labels(conn, now)
            chosen = [fp for fp, each in labels.items() if matches_filter(wanted, each)]
            current = repo.current_alerts(conn, chosen).values()
            active = [a for a in current if a.alert.ends_at and a.alert.ends_at > now]
        else:
            active = repo.active_alerts(conn, now, pinned)
        if check is not None:
            check()
        index = silence_cache.active_index(conn, now)
        alerts: dict[str, Alert] = {}
        for count, stored in enumerate(active):
            if check is not None and count % CHECK_EVERY == 0:
                check()
            alert = stored.alert
            if matches_filter(wanted, alert.labels) and (keep is None or keep(alert)):
                alerts[stored.fingerprint] = alert
        sources: dict[str, dict[str, str]] = {}
        if any(rule.is_target(a.labels) for rule in rules for a in alerts.values()):
            if labels is not None:
                sources = labels
            elif pinned:
                sources = repo.active_labels(conn, now)
            else:
                sources = {a.fingerprint: a.labels for a in active}
    return alerts, mute(alerts, index, rules, sources, now, check)
