"""The tally kept from what changed agrees with the tally of all the members (pure; the same
property through the database is tests/server/test_flush_tally.py)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerts.model import Alert
from tocsin.incidents import tally
from tocsin.incidents.flush import digest_of, same_digest
from tocsin.incidents.tally import Member, Tally

NOW = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
SAID = st.sampled_from([None, "fired", "resolved", "silenced", "inhibited"])


def _member(n: int, said: str | None, sent: bool, start: int) -> Member:
    alert = Alert(
        labels={"alertname": f"A{n % 3}", "instance": f"n{n}"},
        starts_at=NOW + timedelta(seconds=start),
        ends_at=NOW + timedelta(seconds=300 + n),
    )
    # a member is sent only if it once fired, and what was never said was never sent
    return Member(alert, said, sent and said is not None)


members_st = st.dictionaries(
    st.integers(0, 11),
    st.tuples(SAID, st.booleans(), st.integers(0, 3)),
    min_size=0,
    max_size=12,
)


def _all(spec: dict[int, tuple[str | None, bool, int]]) -> dict[str, Member]:
    return {f"fp{n:02d}": _member(n, *v) for n, v in spec.items()}


def _same(kept: Tally, full: Tally) -> None:
    assert (kept.firing, kept.muted, kept.resolved) == (full.firing, full.muted, full.resolved)
    assert kept.digest == full.digest
    assert kept.names == full.names
    for kind in tally.KINDS:
        assert kept.first(kind) == full.first(kind), kind
    if full.next_end is not None:  # a lower bound of the first end
        assert kept.next_end is not None and kept.next_end <= full.next_end


@settings(max_examples=300, deadline=None)
@given(start=members_st, changes=st.lists(members_st, min_size=1, max_size=4))
def test_advancing_the_tally_agrees_with_counting_everything(
    start: dict[int, tuple[str | None, bool, int]],
    changes: list[dict[int, tuple[str | None, bool, int]]],
) -> None:
    with pytest.MonkeyPatch.context() as patch:  # short buffers, so that they run low
        patch.setattr(tally, "NAMED", 2)
        patch.setattr(tally, "KEPT", 3)
        members = _all(start)
        kept = Tally.of(members, silences="s", rules="r", targets=0)
        for change in changes:
            after = _all(change)
            before = {fp: members.get(fp, Member(m.alert, None, False)) for fp, m in after.items()}
            kept = kept.advanced(before, after)
            members = {**members, **after}
            full = Tally.of(members, silences="s", rules="r", targets=0)
            for kind in tally.KINDS:  # what the flush reads again when a buffer runs low
                if kept.short(kind):
                    first = sorted(
                        (fp, m.alert)
                        for fp, m in members.items()
                        if tally.kind_of(m.said, m.sent) == kind
                    )
                    kept = kept.refilled(kind, first)
            _same(kept, full)
            assert Tally.from_json(kept.to_json()) == kept


def test_the_digest_is_a_set_hash_and_the_old_one_is_still_understood() -> None:
    assert digest_of(["a", "b"], ["c"]) == digest_of(["b", "a"], ["c"])
    assert digest_of(["a"], ["c"]) != digest_of(["c"], ["a"])
    assert digest_of([], []).startswith(tally.DIGEST_PREFIX)
    old = hashlib.sha256(b"firing:a,b;resolved:c").hexdigest()
    assert same_digest(["b", "a"], ["c"], digest_of(["a", "b"], ["c"]), old)
    assert not same_digest(["a"], ["c"], digest_of(["a"], ["c"]), old)


@settings(max_examples=300, deadline=None)
@given(
    spec=members_st,
    n=st.integers(0, 6),
    cut=st.one_of(st.none(), st.tuples(st.integers(0, 11), st.integers(0, 3))),
)
def test_the_first_in_order_are_the_first_of_a_full_sort(
    spec: dict[int, tuple[str | None, bool, int]], n: int, cut: tuple[int, int] | None
) -> None:
    """``first_in_order`` makes labels text only where the start could place an alert among
    the first: it must pick what sorting every member would (starts shared, as in a storm)."""
    members = [(fp, m.alert) for fp, m in _all(spec).items()]
    below = (
        None
        if cut is None
        else tally.order(f"fp{cut[0]:02d}", _member(cut[0], None, False, cut[1]).alert)
    )
    everything = sorted(tally.order(fp, alert) for fp, alert in members)
    if below is not None:
        everything = [entry for entry in everything if entry < below]
    assert tally.first_in_order(members, n, below) == everything[:n]


def test_the_stored_form_leaves_defaults_out_and_reads_the_full_one_too() -> None:
    """Each incident's row carries its tally, written at least twice per new incident: what
    equals its default is not stored. Tallies stored whole, before, read back the same."""
    assert Tally.from_json(tally.FRESH) == Tally(fresh=True)
    assert len(tally.FRESH) < 40
    whole = (
        '{"v":1,"firing":2,"muted":0,"resolved":0,"fh":"1f","rh":"0","names":{"A":2},'
        '"levels":{"page":2},"level_label":"severity","ranked":{"firing":[[1.5,"{}","f1"]],'
        '"resolved":[],"muted":[]},"next_end":null,"silences":"s","rules":"r","targets":0,'
        '"fresh":false,"deferred":0}'
    )
    kept = Tally.from_json(whole)
    assert kept is not None
    assert (kept.firing, kept.firing_hash, kept.names, kept.ranked["firing"]) == (
        2,
        0x1F,
        {"A": 2},
        ((1.5, "{}", "f1"),),
    )
    assert Tally.from_json(kept.to_json()) == kept
    assert '"muted":0' not in kept.to_json() and '"fresh"' not in kept.to_json()
