"""Silences, with Alertmanager's semantics: add (or update in place where Alertmanager
would, else expire the old one and add anew), expire, get and list. The ``/api/v2`` handlers
keep Alertmanager's shapes and codes; the work is here. Also what is firing now and what mutes
it (the ``/api/v2/alerts`` view)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from tocsin import times
from tocsin.alerts.matchers import Matcher, matches_filter
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
from tocsin.errors import Conflict, Invalid, NotFound
from tocsin.incidents.flush import Muting, mute
from tocsin.service.context import Context
from tocsin.store import repo
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


def firing(
    ctx: Context,
    now: datetime,
    matchers: Sequence[Matcher] = (),
    keep: Callable[[Alert], bool] | None = None,
) -> tuple[dict[str, Alert], Muting]:
    """The alerts active at ``now`` by fingerprint that pass the API filter ``matchers``
    (Alertmanager's ``filter=``) and ``keep``, and what silences or inhibits them. Both are
    applied before any muting work: only the selected alerts are checked against silences
    (every firing alert still counts as an inhibition source)."""
    with ctx.db.connect() as conn:
        active = repo.active_alerts(conn, now)
        found = repo.active_silences(conn, now)
    every = {a.fingerprint: a.alert for a in active}
    wanted = list(matchers)
    alerts = {
        fp: alert
        for fp, alert in every.items()
        if matches_filter(wanted, alert.labels) and (keep is None or keep(alert))
    }
    labels = {fp: a.labels for fp, a in every.items()}
    return alerts, mute(alerts, found, ctx.config.inhibit_rules, labels, now)
