"""Silences at scale: the silence index answers exactly what checking every silence does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerts import silences as module
from tocsin.alerts.matchers import Matcher, Op
from tocsin.alerts.model import Alert
from tocsin.alerts.silences import Silence, SilenceIndex, SilenceState, silenced_by
from tocsin.incidents.flush import mute

NOW = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = ["alertname", "instance", "job"]
VALUES = ["", "K1", "K2", "K1|K2", "a b", "x-1"]
REGEXES = ["K1", "K1|K2", "K.*", ".*", "", "K2|x-1|a b", "(K1)", "K[12]", "a b|", "x-1"]
REGEXES += ["K1?", "K1*", "x-1{0,2}", "x-[0-9]+", "x-1+", "a b.*", "K1.?", "x-1\\d?", "K(1)?"]


@st.composite
def matchers(draw: st.DrawFn) -> Matcher:
    name = draw(st.sampled_from(NAMES))
    op = draw(st.sampled_from(list(Op)))
    pool = REGEXES if op in (Op.RE, Op.NRE) else VALUES
    return Matcher.create(name, op, draw(st.sampled_from(pool)))


@st.composite
def silences(draw: st.DrawFn) -> list[Silence]:
    out = []
    for n in range(draw(st.integers(0, 12))):
        start = NOW + timedelta(minutes=draw(st.integers(-5, 2)))
        out.append(
            Silence(
                id=f"s{n}",
                matchers=tuple(draw(st.lists(matchers(), min_size=1, max_size=3))),
                starts_at=start,
                ends_at=start + timedelta(minutes=draw(st.integers(0, 6))),
                created_by="t",
                comment="",
                updated_at=NOW,
            )
        )
    return out


labels = st.dictionaries(
    st.sampled_from(NAMES),
    st.sampled_from([v for v in VALUES if v] + ["K3", "K", "x-", "a ", "x-11"]),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(silences(), st.lists(labels, max_size=8))
def test_index_mutes_exactly_what_checking_every_silence_mutes(
    found: list[Silence], alerts: list[dict[str, str]]
) -> None:
    index = SilenceIndex(found, NOW)
    for alert_labels in alerts:
        assert index.silenced_by(alert_labels) == silenced_by(found, alert_labels, NOW)
    # and through the one muting function, as a flush and the API use it
    members = {
        f"fp{n}": Alert(labels=lbls, annotations={}, starts_at=NOW, ends_at=NOW)
        for n, lbls in enumerate(alerts)
    }
    expected = {fp: by for fp, a in members.items() if (by := silenced_by(found, a.labels, NOW))}
    assert index.silenced_many({fp: a.labels for fp, a in members.items()}) == expected
    assert list(index.silenced_many({fp: a.labels for fp, a in members.items()})) == list(expected)
    assert mute(members, found, [], {}, NOW).silenced_by == expected
    assert mute(members, index, [], {}, NOW).silenced_by == expected
    # both ways of finding the unindexed silences: by the residual label's value (a few
    # alerts) and by each silence's most selective matcher (many), on fresh indexes
    for few in (0, len(members)):
        was, module.FEW_ALERTS = module.FEW_ALERTS, few
        try:
            fresh = SilenceIndex(found, NOW)
            assert fresh.silenced_many({fp: a.labels for fp, a in members.items()}) == expected
        finally:
            module.FEW_ALERTS = was


def test_equality_and_literal_regex_silences_are_indexed() -> None:
    def silence(n: int, *ms: Matcher) -> Silence:
        return Silence(f"s{n}", ms, NOW, NOW + timedelta(hours=1), "t", "", NOW)

    found = [
        silence(0, Matcher.create("alertname", "=", "K1")),
        silence(1, Matcher.create("alertname", "=~", "K2|K3")),
        silence(2, Matcher.create("instance", "=~", "h.*")),
    ]
    index = SilenceIndex(found, NOW)
    assert [s.id for s in index.candidates({"alertname": "K2", "instance": "h"})] == ["s1", "s2"]
    assert [s.id for s in index.candidates({"alertname": "K9"})] == []
    assert [s.id for s in index.candidates({"instance": "h"})] == ["s2"]


@settings(max_examples=300, deadline=None)
@given(silences(), st.integers(0, 600))
def test_the_index_is_current_exactly_while_its_active_set_holds(
    found: list[Silence], later_s: int
) -> None:
    """``current(t)``: the silences active at ``t`` are those active when it was built; it
    stops being current at the first start or end after then."""
    index = SilenceIndex(found, NOW)
    at = NOW + timedelta(seconds=later_s)
    active_then = [s.id for s in found if s.state(at) is SilenceState.ACTIVE]
    if index.current(at):
        assert [s.id for s in index.silences] == active_then
    else:
        assert index.changes_at is not None and at >= index.changes_at
        changed = index.changes_at
        assert [s.id for s in SilenceIndex(found, changed).silences] != [
            s.id for s in index.silences
        ] or any(s.starts_at == changed or s.ends_at == changed for s in found)
    assert not index.current(NOW - timedelta(seconds=1))


def _one(matcher: Matcher, silence_id: str = "s1") -> Silence:
    return Silence(silence_id, (matcher,), NOW, NOW + timedelta(hours=1), "t", "", NOW)


def test_what_mutes_a_fingerprint_is_remembered() -> None:
    index = SilenceIndex([_one(Matcher.create("alertname", Op.RE, "K.*"))], NOW)
    assert index.silenced_many({"fp1": {"alertname": "K1"}, "fp2": {"alertname": "X"}}) == {
        "fp1": ["s1"]
    }
    # the same fingerprints again: the answer remembered, not matched again (a fingerprint
    # stands for its labels; these changed labels show that no matching took place)
    assert index.silenced_many({"fp1": {"alertname": "X"}, "fp2": {"alertname": "K2"}}) == {
        "fp1": ["s1"]
    }
    assert index.silenced_many({"fp3": {"alertname": "K3"}}) == {"fp3": ["s1"]}


def test_a_budget_check_stops_the_matching() -> None:
    regexes = [_one(Matcher.create("instance", Op.RE, f".*-{n}"), f"s{n}") for n in range(50)]
    index = SilenceIndex(regexes, NOW)
    alerts = {f"fp{n}": {"instance": f"host-{n}"} for n in range(2000)}
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise TimeoutError("spent")

    with pytest.raises(TimeoutError):
        index.silenced_many(alerts, check)
    assert len(calls) == 3
    # nothing half-done was remembered: a call without a budget answers in full
    muted = index.silenced_many(alerts)
    assert len(muted) == 50 and muted["fp7"] == ["s7"] and "fp70" not in muted


def test_unindexed_silences_are_found_by_the_value_of_their_most_common_label(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A flush's few alerts: the unindexed silences that let a value of the residual label
    through are worked out once per value."""
    found = [_one(Matcher.create("alertname", Op.RE, f".*S{n}.*"), f"s{n}") for n in range(20)] + [
        _one(Matcher.create("instance", Op.NE, "x"), "any")
    ]
    index = SilenceIndex(found, NOW)
    assert index.silenced_many({"a": {"alertname": "S3", "instance": "h1"}}) == {"a": ["s3", "any"]}
    checks: list[int] = []

    def check() -> None:
        checks.append(1)

    # a check at every step of the work: the steps counted
    monkeypatch.setattr(module, "CHECK_EVERY", 1)
    # the same alertname: one step for the alert, none for the silences
    assert index.silenced_many({"b": {"alertname": "S3", "instance": "h2"}}, check) == {
        "b": ["s3", "any"]
    }
    assert len(checks) == 0
    # a new one: each unindexed silence looked at once
    assert index.silenced_many({"c": {"alertname": "T", "instance": "x"}}, check) == {}
    assert len(checks) == 21
