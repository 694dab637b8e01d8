"""The cache of the active silences (``store.silence_cache``), kept across requests and
transactions: it answers what the database holds now after a silence is added, expired or
edited, in this process or another, and when time passes a silence's start or end; and it
is not built again while nothing changed. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import Engine

from tests.server.conftest import CONFIG, START
from tocsin import times
from tocsin.alerts.matchers import parse_matcher
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.service import silences
from tocsin.service.context import Context
from tocsin.store import repo
from tocsin.store.db import make_engine
from tocsin.store.silence_cache import SilenceCache

K1 = {"alertname": "K1", "instance": "i1"}


def _ctx(db: Engine, clock: VirtualClock) -> Context:
    return Context(db, parse_config(CONFIG), clock)


def _add(
    ctx: Context, matcher: str, start: float, end: float, silence_id: str | None = None
) -> str:
    return silences.add_silence(
        ctx,
        silence_id,
        [parse_matcher(matcher)],
        times.to_dt(START + start),
        times.to_dt(START + end),
        "me",
        "maintenance",
    )


def _muting(cache: SilenceCache, db: Engine, clock: VirtualClock) -> list[str]:
    """The ids of the silences the cache says mute K1 now, each silence matched afresh."""
    now = times.to_dt(clock.now())
    with db.connect() as conn:
        index = cache.index(conn, now)
    return index.silenced_by(K1)


def _truth(db: Engine, clock: VirtualClock) -> list[str]:
    now = times.to_dt(clock.now())
    with db.connect() as conn:
        return [s.id for s in repo.active_silences(conn, now) if s.mutes(K1, now)]


def test_the_index_is_kept_while_nothing_changes(db: Engine, clock: VirtualClock) -> None:
    ctx = _ctx(db, clock)
    first = _add(ctx, 'alertname="K1"', 0, 3600)
    cache = SilenceCache()
    assert _muting(cache, db, clock) == [first]
    clock.advance(60)
    assert _muting(cache, db, clock) == [first]
    assert cache.builds == 1


def test_a_silence_added_edited_or_expired_is_seen_at_once(db: Engine, clock: VirtualClock) -> None:
    ctx = _ctx(db, clock)
    cache = SilenceCache()
    assert _muting(cache, db, clock) == []
    added = _add(ctx, 'alertname="K1"', 0, 3600)
    assert _muting(cache, db, clock) == [added] == _truth(db, clock)
    # edited in place (a later end), at the same instant: the same row count and the same
    # updated_at, but a new version
    assert _add(ctx, 'alertname="K1"', 0, 1800, silence_id=added) == added
    clock.advance(1800)
    assert _muting(cache, db, clock) == [] == _truth(db, clock)
    # edited into another silence (other matchers): the old one expires, a new one mutes
    other = _add(ctx, 'instance="i1"', 1800, 5400)
    assert _muting(cache, db, clock) == [other]
    replaced = _add(ctx, 'instance="i2"', 1800, 5400, silence_id=other)
    assert replaced != other
    assert _muting(cache, db, clock) == [] == _truth(db, clock)
    third = _add(ctx, 'alertname=~"K.*"', 1800, 5400)
    assert _muting(cache, db, clock) == [third]
    silences.expire_silence(ctx, third)
    assert _muting(cache, db, clock) == [] == _truth(db, clock)


def test_time_passing_a_start_or_an_end(db: Engine, clock: VirtualClock) -> None:
    ctx = _ctx(db, clock)
    cache = SilenceCache()
    later = _add(ctx, 'alertname="K1"', 600, 1200)
    soon_over = _add(ctx, 'instance="i1"', 0, 300)
    assert _muting(cache, db, clock) == [soon_over]
    clock.advance(299)
    assert _muting(cache, db, clock) == [soon_over]
    assert cache.builds == 1
    clock.advance(1)  # soon_over ends
    assert _muting(cache, db, clock) == [] == _truth(db, clock)
    clock.advance(300)  # later starts
    assert _muting(cache, db, clock) == [later] == _truth(db, clock)
    clock.advance(600)  # later ends
    assert _muting(cache, db, clock) == [] == _truth(db, clock)
    assert cache.builds == 4


def test_another_process_writing(db: Engine, clock: VirtualClock) -> None:
    """Another process (its own engine, its own cache) adds and expires silences: this
    process's cache sees each write."""
    other_db = make_engine(db.url.render_as_string(hide_password=False))
    try:
        ours, theirs = SilenceCache(), SilenceCache()
        here, there = _ctx(db, clock), _ctx(other_db, clock)
        assert _muting(ours, db, clock) == []
        assert _muting(theirs, other_db, clock) == []
        added = _add(there, 'alertname="K1"', 0, 3600)
        assert _muting(ours, db, clock) == [added]
        silences.expire_silence(here, added)
        assert _muting(theirs, other_db, clock) == []
        assert _muting(ours, db, clock) == []
    finally:
        other_db.dispose()


WRITER = """
import sys
from tocsin import times
from tocsin.alerts.matchers import parse_matcher
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.service import silences
from tocsin.service.context import Context
from tocsin.store.db import make_engine

url, config, now, action, arg = sys.argv[1:6]
ctx = Context(make_engine(url), parse_config(config), VirtualClock(float(now)))
if action == "add":
    print(silences.add_silence(
        ctx, None, [parse_matcher(arg)], times.to_dt(float(now)),
        times.to_dt(float(now) + 3600), "other", "from another process",
    ))
else:
    silences.expire_silence(ctx, arg)
"""


def _in_another_process(db: Engine, clock: VirtualClock, action: str, arg: str) -> str:
    url = db.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-c", WRITER, url, CONFIG, repr(clock.now()), action, arg],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip()


def test_another_process_writing_for_real(db: Engine, clock: VirtualClock) -> None:
    """The same, with a real second process (the server's writer process, another replica)."""
    cache = SilenceCache()
    assert _muting(cache, db, clock) == []
    added = _in_another_process(db, clock, "add", 'alertname="K1"')
    assert _muting(cache, db, clock) == [added]
    _in_another_process(db, clock, "expire", added)
    assert _muting(cache, db, clock) == []
    assert cache.builds == 3


def test_the_engine_flush_and_the_api_read_one_cache_per_database(
    db: Engine, clock: VirtualClock
) -> None:
    from tocsin.store.silence_cache import active_index, cache_of

    ctx = _ctx(db, clock)
    _add(ctx, 'alertname="K1"', 0, 3600)
    now = times.to_dt(clock.now())
    with db.connect() as conn:
        first = active_index(conn, now)
    with db.connect() as conn:
        assert active_index(conn, now) is first
    assert cache_of(db).builds == 1


def test_a_rebuild_parses_only_the_silences_that_changed(db: Engine, clock: VirtualClock) -> None:
    ctx = _ctx(db, clock)
    kept = _add(ctx, 'alertname=~"K.*"', 0, 3600)
    cache = SilenceCache()
    now = times.to_dt(clock.now())
    with db.connect() as conn:
        before = {s.id: s for s in cache.index(conn, now).silences}
    _add(ctx, 'instance="i1"', 0, 3600)
    with db.connect() as conn:
        after = {s.id: s for s in cache.index(conn, now).silences}
    assert len(after) == 2 and after[kept] is before[kept]


@pytest.mark.parametrize("start", [0.0, -60.0])
def test_a_clock_behind_the_index_builds_it_again(
    db: Engine, clock: VirtualClock, start: float
) -> None:
    """A reader whose clock is behind the one that built the index (another thread's now)
    does not take it for current."""
    ctx = _ctx(db, clock)
    clock.advance(120)
    added = _add(ctx, 'alertname="K1"', 100, 3600)
    cache = SilenceCache()
    assert _muting(cache, db, clock) == [added]
    now = times.to_dt(START + start)
    with db.connect() as conn:
        assert cache.index(conn, now).silenced_by(K1) == []


def test_active_alerts_narrowed_in_sql_by_labels(db: Engine, clock: VirtualClock) -> None:
    """Equality matchers of a filter narrow the alerts read; values whose stored spelling
    may vary are not narrowed in SQL (the caller still checks every alert)."""
    ctx = _ctx(db, clock)
    labels = [
        {"alertname": "K1", "instance": "a"},
        {"alertname": "K10", "instance": "b"},
        {"alertname": "k1", "instance": "c"},
        {"alertname": "K_1", "instance": "d"},
        {"alertname": "K%1", "instance": "e"},
        {"alertname": 'K"1', "instance": "f"},
        {"alertname": "Kü", "instance": "g"},
    ]
    _store(ctx, labels)
    now = times.to_dt(clock.now())

    def read(name: str, value: str) -> set[str]:
        with db.connect() as conn:
            found = repo.active_alerts(conn, now, {name: value})
        return {a.labels["instance"] for a in found if a.labels.get(name) == value}

    def narrowed(name: str, value: str) -> int:
        with db.connect() as conn:
            return len(repo.active_alerts(conn, now, {name: value}))

    assert read("alertname", "K1") == {"a"}
    assert narrowed("alertname", "K1") <= 2  # SQLite's LIKE ignores case: k1 may come too
    assert read("alertname", "K_1") == {"d"}
    assert read("alertname", "K%1") == {"e"}
    assert read("alertname", 'K"1') == {"f"}
    assert read("alertname", "Kü") == {"g"}
    assert narrowed("alertname", 'K"1') == len(labels)  # not narrowed: read all, checked after
    assert narrowed("instance", "zzz") == 0


def _store(ctx: Context, labels: list[dict[str, str]]) -> None:
    from tocsin.alerts.payloads import parse_v2

    now = times.to_dt(ctx.now())
    parsed = parse_v2([{"labels": each} for each in labels], now, 300.0, ctx.config.limits)
    assert not parsed.errors
    with ctx.db.begin() as conn:
        repo.ingest(conn, parsed.alerts, now, ctx.config.route)
