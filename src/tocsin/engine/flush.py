"""The group flush: what an incident's alerts say now, recorded and sent.

Part of the mute and incident stages, in the cycle's transaction. Due work ``flush`` (one
per incident) falls due when alerts join (after ``group_wait``) and every ``group_interval``
after. A flush mutes (silences, inhibition), decides what is news (``incidents.flush``,
pure), puts what changed on the timeline (one event with counts, the
alerts' states kept on ``incident_alerts``), hands the news to ``engine/trigger.py``
(which triggers a pending incident and tells the channels) and resolves the incident when
its alerts have ended (if its route resolves automatically).

A flush costs what changed, not what the group holds (issue 18). An incident keeps a tally
of its alerts (``incidents.tally``); the intake marks the alerts that join or change state
(``dirty``), and an alert that ends by itself is found by its end once the tally's
``next_end`` has passed. A new incident's first flush, and the flushes of one with ``BIG`` or
more unresolved alerts, read only those (``_by_tally``), at most ``CHUNK`` at a time: a flush
that is behind comes back ``CATCH_UP_S`` after it ended (or twice as long as it took, if
longer: the intake has the database at least two thirds of the time) and holds its news back
until it has caught up (for ``MAX_DEFERRED`` flushes at most), so that a storm's first flush
neither holds the database for seconds nor sends one message per chunk. Any other flush reads
every alert (``_in_full``) and writes the tally afresh: a small group, the last flush of a
group whose alerts have all ended, an incident of before the tally, and whenever muting may
have changed for alerts that did not (the active silences or the inhibition rules changed, or
some firing alert is an inhibition target, whose sources are outside the group).

What a message lists is read for it: the first alerts by fingerprint (as many as a message
carries, which it lists in label order: ``incidents.messages.listed``), the alerts the flush
names, and those that changed; its title counts the alert names of the tally.

What a batch's flushes read is read once per transaction (``prefetch``; ``forget`` at the
start of each transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.alerts.model import Alert, alert_json
from tocsin.alerts.silences import SilenceIndex
from tocsin.engine import messages, resolution, trigger
from tocsin.engine.stage import Settings
from tocsin.incidents import tally
from tocsin.incidents.flush import (
    ALERT_EVENT_KINDS,
    CHANGED,
    Muting,
    alert_events,
    changed_event,
    decide,
    first_named,
    mute,
    same_digest,
    sends,
)
from tocsin.incidents.lifecycle import Refusal, transition
from tocsin.incidents.messages import MAX_ALERTS
from tocsin.incidents.tally import KEPT, KINDS, Member, Tally
from tocsin.routing.hold import Hold, Window
from tocsin.routing.hold import hold as routing_hold
from tocsin.store import maintenance, repo, silence_cache
from tocsin.store.kinds import FLUSH

_SILENCES = "tocsin_silences"
_WINDOWS = "tocsin_maintenance_windows"
_ANY_WINDOWS = "tocsin_any_maintenance_windows"
_INLINE = "tocsin_flush_inline"
_PREFETCH = "tocsin_prefetched"
BIG = 1000  # unresolved alerts from which an incident's flush goes by its tally
# changed alerts one flush reads at most: about 0.3 s of the database on SQLite (the intake
# waits meanwhile: for the writer's turn on SQLite, the incident's row on PostgreSQL)
CHUNK = 5_000
INLINE_CHUNK = 1_000  # the same, for a flush done in the intake's transaction (``inline``)
# a flush that is behind comes back this long after it ended, or twice as long as it took if
# that was longer: the intake has the database at least two thirds of the time while a
# storm is read (half, with as long as it took: wait-30s on SQLite fell to 0.39-0.51x)
CATCH_UP_S = 0.2
MAX_DEFERRED = 25  # flushes in a row that may hold news back while catching up (about 15 s)


def brief(fp: str, alert: Alert) -> dict[str, Any]:
    """An alert as the timeline's flush event names it (no annotations: they can be long)."""
    return alert_json(fp, alert, annotations=False)


@dataclass
class _Found:
    """What a flush found, by either way of looking (``_in_full``, ``_by_tally``)."""

    changes: list[tuple[str, str, dict[str, object]]]  # alert_events
    alerts: dict[str, Alert]  # the changed alerts, those named, those a message lists
    counts: dict[str, int]  # firing, resolved, muted
    digest: str
    send: bool
    all_resolved: bool
    rated: list[str]  # firing alerts read (all, or the changed and named; trigger.flushed)
    named: dict[str, list[str]]  # kind -> the alerts the flush event names
    muting: Muting  # of the changed and the named alerts
    tally: Tally | None
    names: set[str] | None = None  # names of the firing alerts, when ``alerts`` is not all
    levels: list[str | None] | None = None  # and the severities of the firing ones
    values: dict[str, object] = field(default_factory=dict)  # for the incident's row
    again: float | None = None  # the next flush sooner than group_interval: it is behind


def due(s: Settings, conn: Connection, item: Any, owner: str, now_ts: float) -> None:
    """Due work ``flush``: flushed, then due again a ``group_interval`` later while any of
    its alerts fires, else done."""
    config = s.config
    now = times.to_dt(now_ts)
    incident_id = item.ref
    # locked before its alerts are read (on PostgreSQL; see repo.lock_incidents): an
    # alert the intake is adding is waited for, and then seen
    incident = repo.get_incident(conn, incident_id, lock=True)
    if incident is None or incident.status == "resolved":
        repo.finish(conn, item.id, owner)
        return
    silences, muting_key = _silences(conn, now)
    keys = (muting_key, tally.rules_key(config.inhibit_rules), config.paging.severity_label)
    found = _by_tally(s, conn, incident, silences, keys, now)
    if found is None:
        found = _in_full(s, conn, incident, silences, keys, now)
    if found.changes:  # one event with counts, however many alerts changed (issue 18)
        repo.add_timeline(
            conn,
            incident_id,
            now,
            CHANGED,
            changed_event(found.changes, found.alerts, found.counts["firing"]),
        )
    route = config.route.find(incident.route_id)
    auto_resolve = bool(route.options.get("auto_resolve", True)) if route else True
    if incident.reopened_at is not None and auto_resolve and found.all_resolved:
        # a person reopened it after its alerts had ended: only alerts that end after
        # the reopening resolve it again (an ended group's flush reads all its alerts)
        ends = [times.to_ts(a.ends_at) for a in found.alerts.values() if a.ends_at]
        auto_resolve = bool(ends) and max(ends) > incident.reopened_at
    values: dict[str, object] = {"tally": found.tally.to_json() if found.tally else None}
    values.update(found.values)
    held, began = _held(s, conn, incident, route, found, now)
    if found.all_resolved and auto_resolve:
        # resolved before the message is written: the resolution says "resolved"
        resolved = transition(incident.status, "resolve")
        assert not isinstance(resolved, Refusal)  # any open incident may resolve
        repo.update_incident(conn, incident_id, status=resolved, resolved_at=now_ts)
        incident = repo.get_incident(conn, incident_id)
    if found.send and held is not None:
        # kept and recorded, but nobody told: the news stays news (no last_flush_digest), so
        # the first flush after the hold pages (docs/paging.md); the flush is on the
        # timeline as the hold begins and as its alerts change, not at every interval
        if began or found.changes:
            _flushed_event(conn, incident_id, now, found, None, held)
    elif found.send:
        values.update(last_flush_at=now_ts, last_flush_digest=found.digest)
        counted = found.tally if found.names is not None else None  # alerts: a view
        if found.counts["firing"]:
            values["title"] = messages.incident_title(
                s, conn, incident, found.alerts, now_ts, found.names, counted
            )
        held_in = trigger.flushed(
            s,
            conn,
            incident,
            found.alerts,
            found.rated,
            found.all_resolved,
            now_ts,
            found.levels,
            counted,
        )
        # after the trigger: whether the channels were told, or a storm holds the incident
        _flushed_event(conn, incident_id, now, found, held_in)
    if found.all_resolved and auto_resolve:
        repo.add_timeline(conn, incident_id, now, "resolved", {"reason": "all alerts resolved"})
        resolution.stopped(conn, incident_id, now_ts)
        repo.finish(conn, item.id, owner)
    elif found.all_resolved:
        # the route keeps it open for a person to resolve; a new alert flushes it again
        if found.send:
            repo.add_timeline(conn, incident_id, now, "alerts_resolved", {"auto_resolve": False})
        repo.finish(conn, item.id, owner)
    elif found.again is None:
        next_at = now_ts + incident.group_interval_s
        if held is not None and held.until is not None:
            next_at = min(next_at, max(held.until, now_ts))  # pages as the window ends
        repo.reschedule(conn, item.id, owner, next_at)
    else:
        # catching up: the intake has the database at least twice as long as this flush held
        # it before the next one (were it due ``again`` after this one began, a flush that took
        # longer would follow at once, and the intake only get in between)
        took = max(0.0, s.clock.now() - now_ts)
        repo.reschedule(conn, item.id, owner, now_ts + took + max(found.again, 2 * took))
    repo.update_incident(conn, incident_id, **values)


def _held(
    s: Settings, conn: Connection, incident: Any, route: Any, found: _Found, now: datetime
) -> tuple[Hold | None, bool]:
    """What holds the incident's pages now (its route's time intervals, a maintenance
    window: ``routing/hold.py``), or None; the timeline says when a hold begins
    (``paging_held``) and ends (``paging_resumed``). Only news of alerts that fire is held
    (and the end of a group nobody was paged for): a resolution of what was paged is said.
    The second value: whether the hold begins with this flush."""
    firing = [found.alerts[fp].labels for fp in found.rated if fp in found.alerts]
    if not found.counts["firing"] and incident.status != "pending":
        hold = None
    else:
        hold = routing_hold(
            route.mute_time_intervals if route else [],
            route.active_time_intervals if route else [],
            incident.receiver,
            firing,
            _windows(conn, times.to_ts(now)),
            s.config.intervals,
            now,
        )
    if hold is None and not s.config.intervals and not _any_windows(conn):
        return None, False  # nothing has ever held a page: no hold to end (one cheap read)
    before = maintenance.last_hold(conn, incident.id)
    if hold is not None and found.send and before != hold.detail():
        repo.add_timeline(conn, incident.id, now, "paging_held", hold.detail())
        return hold, True
    if hold is None and before is not None:
        repo.add_timeline(conn, incident.id, now, "paging_resumed", before)
    return hold, False


def _any_windows(conn: Connection) -> bool:
    """Whether any maintenance window was ever made: read once per transaction."""
    found: bool | None = conn.info.get(_ANY_WINDOWS)
    if found is None:
        found = conn.info[_ANY_WINDOWS] = maintenance.any_windows(conn)
    return found


def _windows(conn: Connection, now_ts: float) -> list[Window]:
    """The maintenance windows not over: read once per transaction."""
    found: list[Window] | None = conn.info.get(_WINDOWS)
    if found is None:
        found = conn.info[_WINDOWS] = maintenance.open_windows(conn, now_ts)
    return found


def _flushed_event(
    conn: Connection,
    incident_id: int,
    now: datetime,
    found: _Found,
    held_in: int | None,
    paused: Hold | None = None,
) -> None:
    """The flush's ``group_flushed`` event: the first few of each kind, and how many (a
    storm's flush stays one small row); ``held_in``: the alert storm that holds the
    incident, whose flush told no channel (``engine/storm.py``); ``paused``: the time
    interval or maintenance window that held its pages (``paging_held``)."""
    alerts, named = found.alerts, found.named
    held: dict[str, object] = {"held_in": held_in} if held_in is not None else {}
    if paused is not None:
        held["paging_held"] = paused.detail()
    repo.add_timeline(
        conn,
        incident_id,
        now,
        "group_flushed",
        {
            "firing": [brief(fp, alerts[fp]) for fp in named["firing"]],
            "firing_count": found.counts["firing"],
            "resolved": [brief(fp, alerts[fp]) for fp in named["resolved"]],
            "resolved_count": found.counts["resolved"],
            "muted": {
                fp: {
                    "silenced_by": found.muting.silenced_by.get(fp, []),
                    "inhibited_by": found.muting.inhibited_by.get(fp, []),
                }
                for fp in named["muted"]
            },
            "muted_count": found.counts["muted"],
            **held,
        },
    )


def _in_full(
    s: Settings,
    conn: Connection,
    incident: Any,
    silences: SilenceIndex,
    keys: tuple[str, str, str],
    now: datetime,
) -> _Found:
    """The flush that reads every alert of the incident, and writes its tally afresh."""
    incident_id = incident.id
    ahead: _Prefetched | None = conn.info.get(_PREFETCH)
    stored = ahead.members.get(incident_id) if ahead else None
    if stored is None:
        stored = repo.incident_members(conn, incident_id)
    members = {a.fingerprint: a.alert for a in stored}
    # inhibition sources are only needed when a firing member is the target of some rule
    rules = s.config.inhibit_rules
    targets = sum(
        1
        for a in members.values()
        if not a.resolved(now) and any(rule.is_target(a.labels) for rule in rules)
    )
    firing_all = {a.fingerprint: a.labels for a in repo.active_alerts(conn, now)} if targets else {}
    muting = mute(members, silences, rules, firing_all, now)
    history = ahead.histories.get(incident_id) if ahead else None
    sent, last_said = history or repo.member_states(conn, [incident_id])[incident_id]
    last = times.to_dt(incident.last_flush_at) if incident.last_flush_at else None
    decision = decide(
        members, muting, now, incident.last_flush_digest, last, incident.repeat_interval_s, sent
    )
    changes = alert_events(members, muting, now, last_said)
    said_now = {fp: ALERT_EVENT_KINDS[kind] for kind, fp, _ in changes}
    newly_sent = [fp for fp in decision.firing if fp not in sent] if decision.send else []
    said = {**last_said, **said_now}
    ever_sent = sent | set(newly_sent)
    # each changed member's row written once (what was said, whether sent, no longer dirty),
    # then the unchanged ones that were dirty: one row version each, not three
    changed = set(said_now) | set(newly_sent)
    repo.save_changed(conn, incident_id, {fp: (said.get(fp), fp in ever_sent) for fp in changed})
    repo.clear_dirty(conn, incident_id)
    after = {fp: Member(a, said.get(fp), fp in ever_sent) for fp, a in members.items()}
    kept = Tally.of(after, silences=keys[0], rules=keys[1], targets=targets, level_label=keys[2])
    values: dict[str, object] = {}
    last_digest = incident.last_flush_digest
    if (
        not decision.send
        and last_digest
        and not last_digest.startswith(tally.DIGEST_PREFIX)
        and same_digest(decision.firing, decision.resolved, decision.digest, last_digest)
    ):
        values["last_flush_digest"] = decision.digest  # of before 0008, in today's form
    return _Found(
        changes=changes,
        alerts=members,
        counts={
            "firing": len(decision.firing),
            "resolved": len(decision.resolved),
            "muted": len(decision.muted),
        },
        digest=decision.digest,
        send=decision.send,
        all_resolved=decision.all_resolved,
        rated=decision.firing,
        named={
            "firing": first_named(decision.firing, members),
            "resolved": first_named(decision.resolved, members),
            "muted": first_named(decision.muted, members),
        },
        muting=muting,
        tally=kept if kept.kept() else None,
        values=values,
    )


def _by_tally(
    s: Settings,
    conn: Connection,
    incident: Any,
    silences: SilenceIndex,
    keys: tuple[str, str, str],
    now: datetime,
) -> _Found | None:
    """The flush that reads only the alerts that changed (marked dirty by the intake, or
    ended by themselves) and brings the incident's tally up to date; None where it cannot
    (see the module's doc), and the flush reads every alert instead."""
    ahead: _Prefetched | None = conn.info.get(_PREFETCH)
    if ahead is not None and incident.id in ahead.members:
        return None  # a new incident with a few alerts, read already with its batch's others
    kept = Tally.from_json(incident.tally)
    if kept is None or kept.targets:
        return None
    if kept.fresh:  # nothing muted yet: today's silences and rules apply from here
        kept = replace(kept, silences=keys[0], rules=keys[1], level_label=keys[2])
    elif (kept.silences, kept.rules, kept.level_label) != keys or kept.unresolved < BIG:
        return None
    incident_id = incident.id
    now_ts = times.to_ts(now)
    chunk = INLINE_CHUNK if conn.info.get(_INLINE) else CHUNK
    rows = repo.dirty_members(conn, incident_id, chunk + 1)
    behind = len(rows) > chunk  # more changed than one flush reads: the next one follows
    rows = rows[:chunk]
    if kept.next_end is not None and kept.next_end <= now_ts:
        # a storm's alerts that stop being sent end together: read them a chunk at a time too
        ended = repo.ended_members(conn, incident_id, now_ts, chunk + 1)
        if len(ended) > chunk:
            behind, ended = True, ended[:chunk]  # the next end stays passed: read on next time
        else:
            kept = kept.with_next_end(repo.next_end(conn, incident_id, now_ts))
        rows += ended
    before = {fp: Member(stored.alert, said, sent) for fp, said, sent, stored in rows}
    alerts = {fp: m.alert for fp, m in before.items()}
    rules = s.config.inhibit_rules
    if any(
        rule.is_target(a.labels) for rule in rules for a in alerts.values() if not a.resolved(now)
    ):
        return None  # its inhibition depends on alerts outside the group
    muting = mute(alerts, silences, (), {}, now)
    said = {fp: m.said for fp, m in before.items() if m.said}
    changes = alert_events(alerts, muting, now, said)
    said.update({fp: ALERT_EVENT_KINDS[kind] for kind, fp, _ in changes})
    after = {fp: Member(m.alert, said.get(fp), m.sent) for fp, m in before.items()}
    counted = kept.advanced(before, after)
    if not counted.unresolved or not counted.kept():
        return None  # the group has ended: its last flush reads it all
    last = times.to_dt(incident.last_flush_at) if incident.last_flush_at else None
    same = counted.digest == incident.last_flush_digest
    send = sends(
        bool(counted.firing), bool(counted.resolved), same, now, last, incident.repeat_interval_s
    )
    again = None
    if behind and counted.deferred < MAX_DEFERRED:
        # news is held back while the flush catches up (one message, not one per chunk), but
        # not for long: after MAX_DEFERRED flushes it says what it has read
        send, again = False, CATCH_UP_S
        counted = replace(counted, deferred=counted.deferred + 1)
    elif behind:
        again = CATCH_UP_S
    if send:  # every alert firing is sent now (the others were when their set was)
        after = {fp: replace(m, sent=True) if m.said == "fired" else m for fp, m in after.items()}
    repo.save_changed(conn, incident_id, {fp: (m.said, m.sent) for fp, m in after.items()})
    if send and counted.deferred:  # alerts that fired in the flushes that held back
        repo.mark_sent(conn, incident_id)
    if send:
        counted = replace(counted, deferred=0)
    for kind in KINDS:  # after the save: the database holds this flush's states
        if counted.short(kind):
            first = repo.first_members(conn, incident_id, kind, KEPT)
            counted = counted.refilled(kind, [(fp, stored.alert) for fp, _, _, stored in first])
    named = {kind: counted.first(kind) for kind in KINDS}
    if send:  # what the event names and a message lists, read now
        listed = repo.members_by_fingerprint(conn, incident_id, MAX_ALERTS)
        alerts.update({fp: stored.alert for fp, _, _, stored in listed})
        wanted = [fp for fps in named.values() for fp in fps if fp not in alerts]
        alerts.update({fp: a.alert for fp, a in repo.current_alerts(conn, wanted).items()})
        unknown = {fp: alerts[fp] for fp in named["muted"] if fp not in muting.silenced_by}
        if unknown:
            muting = Muting(
                {**muting.silenced_by, **mute(unknown, silences, (), {}, now).silenced_by}
            )
    return _Found(
        changes=changes,
        alerts=alerts,
        counts={"firing": counted.firing, "resolved": counted.resolved, "muted": counted.muted},
        digest=counted.digest,
        send=send,
        all_resolved=False,
        rated=[
            *(fp for fp, m in after.items() if m.said == "fired"),
            *(fp for fp in named["firing"] if fp not in after),
        ],
        named=named,
        muting=muting,
        tally=counted,
        names=set(counted.names),
        levels=[level or None for level in counted.levels],
        again=again,
    )


def _silences(conn: Connection, now: datetime) -> tuple[SilenceIndex, str]:
    """The active silences, indexed, and their key (``tally.muting_key``): read once per
    transaction (every flush in a batch has the same now)."""
    found: tuple[SilenceIndex, str] | None = conn.info.get(_SILENCES)
    if found is None:
        index = silence_cache.active_index(conn, now)
        key = tally.muting_key((x.id, times.to_ts(x.updated_at)) for x in index.silences)
        found = conn.info[_SILENCES] = (index, key)
    return found


@dataclass
class _Prefetched:
    """What a batch's flushes read, read for all of them at once: members and history."""

    members: dict[int, list[Any]]
    histories: dict[int, History]


def prefetch(conn: Connection, items: list[Any]) -> None:
    """Before a batch: the members and history of every incident it flushes, in a few
    statements instead of two per flush. Nothing else in a batch changes them before its
    flush (an incident has one flush item; escalations do not touch members or history)."""
    refs = [item.ref for item in items if item.kind == FLUSH]
    if len(refs) < 2:  # a flush alone locks its incident itself (``due``)
        conn.info.pop(_PREFETCH, None)
        return
    repo.lock_incidents(conn, refs)  # before reading: no intake adds to them meanwhile
    # not the alerts of a big group that its tally keeps (its flush reads what changed), nor
    # of a new one that has many (read in chunks); a new one with a few is read here, with
    # the others, in one statement instead of several for each
    tallies = {i: Tally.from_json(text) for i, text in repo.tallies(conn, refs).items()}
    fresh = [i for i, counted in tallies.items() if counted is not None and counted.fresh]
    few = {i for i, n in repo.dirty_counts(conn, fresh).items() if n < BIG}
    refs = [i for i, counted in tallies.items() if i in few or not _by_its_tally(counted)]
    conn.info[_PREFETCH] = _Prefetched(repo.members_of(conn, refs), repo.member_states(conn, refs))


def _by_its_tally(counted: Tally | None) -> bool:
    """Whether a flush goes by this tally: a new incident's, or one of ``BIG`` or more
    unresolved alerts."""
    return counted is not None and (counted.fresh or counted.unresolved >= BIG)


@contextmanager
def inline(conn: Connection) -> Iterator[None]:
    """Flushes done in the intake's transaction (``DueWorkEngine.flush_inline``: a new group
    with no group_wait pages after one commit): each reads at most ``INLINE_CHUNK`` changed
    alerts, so that the requests the commit answers never wait for a storm's catching up,
    which the engine's loop does in its own transactions, ``CHUNK`` at a time."""
    conn.info[_INLINE] = True
    try:
        yield
    finally:
        conn.info.pop(_INLINE, None)


def forget(conn: Connection) -> None:
    """At the start of a transaction: nothing cached by an earlier one on this connection."""
    conn.info.pop(_SILENCES, None)
    conn.info.pop(_PREFETCH, None)
    conn.info.pop(_WINDOWS, None)
    conn.info.pop(_ANY_WINDOWS, None)


History = tuple[set[str], dict[str, str]]  # fingerprints sent as firing; what was said of each
