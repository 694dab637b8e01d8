"""Silences at scale: the silence index answers exactly what checking every silence does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerts.matchers import Matcher, Op
from tocsin.alerts.model import Alert
from tocsin.alerts.silences import Silence, SilenceIndex, silenced_by
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
