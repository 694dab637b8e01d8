"""A page is not made to wait behind a storm's batches in the writer process: small requests
commit first (``intake.process._commits``), and a flush at intake that a small request waits
for is cut short and carried on by the next commit (``Committer.cut_short``,
``DueWorkEngine.flush_inline``'s ``stop``), with the same outcome as if it had not been."""

from __future__ import annotations

import socket
from datetime import timedelta

from sqlalchemy import Engine, func, select

from tests.server.conftest import START, make_state
from tests.server.test_writer_process import PAGING
from tocsin import times
from tocsin.alerts.model import Alert
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.engine.loop import DueWorkEngine
from tocsin.intake.commit import Committer
from tocsin.intake.process import PROMPT_ALERTS, _commits
from tocsin.intake.wire import Channel, frame
from tocsin.store import repo
from tocsin.store.kinds import FLUSH
from tocsin.store.schema import due_work, notifications, timeline


def _alert(name: str, instance: str = "a") -> Alert:
    now = times.to_dt(START)
    return Alert(
        labels={"alertname": name, "instance": instance, "severity": "critical"},
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        updated_at=now,
    )


def _batch(*alerts: Alert) -> repo.Prepared:
    return repo.prepare(list(alerts), times.to_dt(START), parse_config(PAGING).route, "api")


def _storm(n: int, name: str = "Storm") -> repo.Prepared:
    """``n`` new alerts, each a group of its own (grouped by alertname)."""
    return _batch(*(_alert(f"{name}{i}") for i in range(n)))


def test_small_requests_commit_first_on_their_own_and_carry_nothing() -> None:
    big, other = _storm(PROMPT_ALERTS + 1), _storm(PROMPT_ALERTS + 2, "Other")
    probe = _batch(_alert("Probe"))
    # names an alert of the batch before it: stored after it, in the same commit
    again = _batch(_alert("Storm3"))
    parts = _commits([(1, big), (2, probe), (3, again), (4, other)])
    assert [([seq for seq, _b in part], carry) for part, carry in parts] == [
        ([2], False),
        ([1, 3, 4], True),
    ]
    # one kind only: one commit, as before; a small one carries nothing on
    assert [(len(p), c) for p, c in _commits([(1, probe), (2, _batch(_alert("B")))])] == [
        (2, False)
    ]
    assert [(len(p), c) for p, c in _commits([(1, big), (2, other)])] == [(2, True)]
    assert _commits([]) == []


def test_a_flush_at_intake_cut_short_is_carried_on_with_the_same_outcome(
    db: Engine, clock: VirtualClock
) -> None:
    state = make_state(db, clock, PAGING)
    engine = DueWorkEngine(db, state.config, clock, owner="me")
    waiting = [True]
    asked: list[bool] = []

    def interrupt() -> bool:
        asked.append(waiting[0])
        return waiting[0]

    def after_store(conn, touched):  # type: ignore[no-untyped-def]
        return engine.flush_inline(conn, touched, stop=committer.cut_short)

    committer = Committer(db, clock, after_store=after_store, interrupt=interrupt)

    def flushed() -> list[int]:
        with db.connect() as conn:
            return list(
                conn.execute(
                    select(timeline.c.incident_id)
                    .where(timeline.c.kind == "group_flushed")
                    .order_by(timeline.c.incident_id)
                ).scalars()
            )

    try:
        # a small request waits: the storm's commit stores its alerts and goes to disk
        [stored], due = committer.commit([_storm(5)])
        assert stored is not None and stored.stored == 5
        storm = stored.touched
        assert flushed() == []
        assert committer.carried == storm
        assert due is None  # the writer goes on with them: the engine is not woken
        # one that only carries on flushes one group before it gives way
        assert committer.commit([], carry=True) == ([], None)
        assert flushed() == storm[:1]
        assert committer.carried == storm
        assert due is None  # the writer goes on with them: the engine is not woken
        with db.connect() as conn:
            left = conn.execute(
                select(due_work.c.ref, due_work.c.lease_owner).where(
                    due_work.c.kind == FLUSH, due_work.c.due_at <= clock.now()
                )
            ).all()
        assert sorted(left) == [(i, None) for i in storm[1:]]  # due, and no one's
        # the small request commits on its own, carrying nothing on, never cut short
        calls = len(asked)
        [probe], _due = committer.commit([_batch(_alert("Probe"))], carry=False)
        assert probe is not None
        assert flushed() == sorted([storm[0], *probe.touched])
        assert committer.carried == storm and len(asked) == calls
        # nothing waits: the next commit that carries flushes the rest, each group once
        waiting[0] = False
        outcomes, due = committer.commit([], carry=True)
        assert outcomes == [] and due is None
        assert flushed() == sorted([*storm, *probe.touched])
        assert committer.carried == []
    finally:
        committer.close()
    with db.connect() as conn:
        pages = conn.execute(select(func.count()).select_from(notifications)).scalar_one()
        assert (
            conn.execute(
                select(func.count())
                .select_from(due_work)
                .where(due_work.c.kind == FLUSH, due_work.c.lease_owner.is_not(None))
            ).scalar_one()
            == 0
        )
    assert pages == 6  # one page per new incident, as without the cut


def test_the_channel_tells_of_a_small_batch_waiting_and_keeps_it() -> None:
    ours, theirs = socket.socketpair()
    try:
        channel = Channel(theirs)
        assert not channel.waiting(PROMPT_ALERTS, every_s=0)
        ours.sendall(frame(("batch", 1, _storm(PROMPT_ALERTS + 1).to_wire())))
        assert not channel.waiting(PROMPT_ALERTS, every_s=0)
        ours.sendall(frame(("batch", 2, _batch(_alert("Probe")).to_wire())))
        assert channel.waiting(PROMPT_ALERTS, every_s=0)
        ours.sendall(frame(("reload",)))
        received = channel.receive(block=False)
        assert received is not None
        assert [m[0] for m in received] == ["batch", "batch", "reload"]
        assert [m[1] for m in received[:2]] == [1, 2]
        assert not channel.waiting(PROMPT_ALERTS, every_s=0)
        ours.close()
        assert not channel.waiting(PROMPT_ALERTS, every_s=0)
        assert channel.receive(block=True) is None  # the server has gone
    finally:
        theirs.close()
