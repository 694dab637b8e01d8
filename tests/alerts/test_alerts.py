from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts import fingerprint as fp
from tocsin.alerts.fingerprint import fingerprint_hex
from tocsin.alerts.inhibit import Inhibition, InhibitRule, inhibited_by
from tocsin.alerts.matchers import MatcherError, Op, from_api, parse_matcher, parse_matchers
from tocsin.alerts.model import (
    Alert,
    merge,
    overlaps,
    same_episode,
    update,
    validate,
    with_defaults,
)
from tocsin.alerts.silences import Silence, SilenceState, can_update, expire
from tocsin.alerts.silences import validate as validate_silence

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"alertname": "Probe", "instance": "a"}, "2cc8bdfa4d2ec224"),
        ({}, "cbf29ce484222325"),
    ],
)
def test_fingerprint_is_alertmanagers(labels: dict[str, str], expected: str) -> None:
    assert fingerprint_hex(labels) == expected


def test_fingerprint_ignores_order_and_separates_names_from_values() -> None:
    assert fingerprint_hex({"a": "1", "b": "2"}) == fingerprint_hex({"b": "2", "a": "1"})
    assert fingerprint_hex({"ab": "c"}) != fingerprint_hex({"a": "bc"})


def test_fingerprint_reads_names_and_values_each_followed_by_0xff() -> None:
    assert fp.label_bytes({"b": "2", "a": "é"}) == b"a\xff\xc3\xa9\xffb\xff2\xff"
    assert fp.label_bytes({}) == b""


@given(st.binary(max_size=300))
def test_the_c_loop_and_the_python_loop_agree(data: bytes) -> None:
    if fp.fnv1a64 is fp.fnv1a64_python:
        pytest.skip("tocsin.alerts._fnv was not built (no C compiler when it was installed)")
    assert fp.fnv1a64(data) == fp.fnv1a64_python(data)


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=12))
def test_the_c_fingerprint_and_the_python_fingerprint_agree(labels: dict[str, str]) -> None:
    if fp.fingerprint_hex is fp.fingerprint_hex_python:
        pytest.skip("tocsin.alerts._fnv was not built (no C compiler when it was installed)")
    try:
        expected = fp.fingerprint_hex_python(labels)
    except UnicodeEncodeError:  # a lone surrogate: both refuse it
        with pytest.raises(UnicodeEncodeError):
            fp.fingerprint_hex(labels)
        return
    assert fp.fingerprint_hex(labels) == expected
    # any mapping, not only a dict
    assert fp.fingerprint_hex(MappingProxyType(labels)) == expected


def test_the_python_loop_alone_gives_alertmanagers_fingerprint() -> None:
    data = fp.label_bytes({"alertname": "Probe", "instance": "a"})
    assert f"{fp.fnv1a64_python(data):016x}" == "2cc8bdfa4d2ec224"


@pytest.mark.parametrize(
    ("text", "value", "matches"),
    [
        ('alertname="Probe"', "Probe", True),
        ("alertname=Probe", "Probe", True),
        ('severity=~"crit.*"', "critical", True),
        ('severity=~"crit"', "critical", False),  # fully anchored
        ('severity!~"warn|info"', "critical", True),
        ('env!="prod"', "prod", False),
        ('msg="say \\"hi\\""', 'say "hi"', True),
        ('x=~"(a+)+$"', "a" * 40 + "!", False),  # RE2: linear, no catastrophic backtracking
    ],
)
def test_parse_and_match(text: str, value: str, matches: bool) -> None:
    matcher = parse_matcher(text)
    assert matcher.matches(value) is matches


@pytest.mark.parametrize("text", ['a=~"(?=x)"', "1a=b", 'a="unterminated', "a b", 'a=~"\\1"'])
def test_bad_matchers(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matcher(text)


def test_parse_matcher_lists() -> None:
    ms = parse_matchers('{alertname="A", severity=~"crit|warn", msg="a,b"}')
    assert [(m.name, m.op, m.value) for m in ms] == [
        ("alertname", Op.EQ, "A"),
        ("severity", Op.RE, "crit|warn"),
        ("msg", Op.EQ, "a,b"),
    ]
    assert str(ms[1]) == 'severity=~"crit|warn"'
    assert from_api("a", "b", is_regex=True, is_equal=False).op is Op.NRE


def test_missing_label_matches_empty() -> None:
    assert parse_matcher('team=""').matches_labels({})
    assert parse_matcher('team!=""').matches_labels({"team": "x"})


def test_with_defaults_and_validate() -> None:
    alert = with_defaults(Alert(labels={"alertname": "A", "empty": ""}), at(0), 300)
    assert alert.labels == {"alertname": "A"}
    assert alert.starts_at == at(0) and alert.ends_at == at(5) and alert.timeout
    only_end = with_defaults(Alert(labels={"a": "b"}, ends_at=at(-1)), at(0), 300)
    assert only_end.starts_at == at(-1) and not only_end.timeout
    assert validate(with_defaults(Alert(labels={"a": ""}), at(0), 300)) == [
        "at least one label pair required"
    ]  # the empty-valued label was dropped
    assert validate(with_defaults(Alert(labels={"": "x"}), at(0), 300)) == ['invalid name ""']
    backwards = with_defaults(Alert(labels={"a": "b"}, starts_at=at(5), ends_at=at(1)), at(0), 1)
    assert validate(backwards) == ["start time must be before end time"]
    assert validate(with_defaults(Alert(labels={"0bad": "x"}), at(0), 1)) == ['invalid name "0bad"']


def test_merge_rules() -> None:
    old = Alert(labels={"a": "b"}, starts_at=at(0), ends_at=at(5), updated_at=at(0), timeout=True)
    resend = Alert(
        labels={"a": "b"}, starts_at=at(1), ends_at=at(8), updated_at=at(1), timeout=True
    )
    assert overlaps(old, resend)
    merged = merge(old, resend, at(1))
    assert merged.starts_at == at(0) and merged.ends_at == at(8)
    explicit = Alert(labels={"a": "b"}, starts_at=at(0), ends_at=at(30), updated_at=at(0))
    timeout_update = Alert(
        labels={"a": "b"}, starts_at=at(1), ends_at=at(6), updated_at=at(1), timeout=True
    )
    assert merge(explicit, timeout_update, at(1)).ends_at == at(30)
    resolve = Alert(labels={"a": "b"}, starts_at=at(0), ends_at=at(2), updated_at=at(2))
    assert update(old, resolve, at(2)).ends_at == at(2)
    later = Alert(labels={"a": "b"}, starts_at=at(60), ends_at=at(65), updated_at=at(60))
    assert not same_episode(old, later) and same_episode(old, resend)


def _silence(matchers: str, start: float, end: float) -> Silence:
    return Silence(
        id="s1",
        matchers=tuple(parse_matchers(matchers)),
        starts_at=at(start),
        ends_at=at(end),
        created_by="me",
        comment="c",
        updated_at=at(0),
    )


def test_silence_states_and_muting() -> None:
    s = _silence('alertname="A"', 0, 60)
    assert s.state(at(-1)) is SilenceState.PENDING
    assert s.state(at(0)) is SilenceState.ACTIVE
    assert s.state(at(60)) is SilenceState.EXPIRED
    assert s.mutes({"alertname": "A", "x": "y"}, at(1))
    assert not s.mutes({"alertname": "B"}, at(1))
    assert not s.mutes({"alertname": "A"}, at(61))


def test_silence_validation() -> None:
    assert validate_silence(_silence('a=~".*"', 0, 1)) == [
        "at least one matcher must not match the empty string"
    ]
    assert validate_silence(_silence('a="x"', 5, 1)) == ["end time must not be before start time"]
    assert validate_silence(_silence('a="x"', 0, 1)) == []


def test_silence_update_in_place_or_replace() -> None:
    active = _silence('a="x"', 0, 60)
    assert can_update(active, _silence('a="x"', 0, 120), at(10))  # extend
    assert not can_update(active, _silence('a="x"', 5, 120), at(10))  # moved start
    assert not can_update(active, _silence('a="y"', 0, 120), at(10))  # other matchers
    pending = _silence('a="x"', 30, 60)
    assert can_update(pending, _silence('a="x"', 40, 60), at(10))
    assert not can_update(active, _silence('a="x"', 0, 60), at(61))  # expired: never
    assert expire(pending, at(10)).ends_at == at(10) == expire(pending, at(10)).starts_at
    assert expire(active, at(10)).ends_at == at(10)
    with pytest.raises(ValueError, match="already expired"):
        expire(active, at(61))


def test_inhibition() -> None:
    rule = InhibitRule(
        source_matchers=tuple(parse_matchers('severity="critical"')),
        target_matchers=tuple(parse_matchers('severity="warning"')),
        equal=("instance",),
    )
    firing = [("crit1", {"severity": "critical", "instance": "a"})]
    assert inhibited_by([rule], {"severity": "warning", "instance": "a"}, "w1", firing) == ["crit1"]
    assert inhibited_by([rule], {"severity": "warning", "instance": "b"}, "w2", firing) == []
    both = InhibitRule(
        source_matchers=tuple(parse_matchers('team="x"')),
        target_matchers=tuple(parse_matchers('team="x"')),
    )
    same = [("one", {"team": "x"})]
    assert inhibited_by([both], {"team": "x"}, "two", same) == []  # two-sided: excluded
    assert inhibited_by([both], {"team": "x"}, "one", same) == []  # never itself


def _inhibited_by_one_pass(
    rules: list[InhibitRule],
    labels: dict[str, str],
    fp: str,
    firing: list[tuple[str, dict[str, str]]],
) -> list[str]:
    """Alertmanager's rule read literally: each target against every firing alert."""
    for rule in rules:
        if not rule.is_target(labels):
            continue
        for source_fp, source in firing:
            if source_fp == fp or not rule.is_source(source):
                continue
            if rule.equal_key(source) != rule.equal_key(labels):
                continue
            if rule.is_target(source) and rule.is_source(labels):
                continue
            return [source_fp]
    return []


_LABEL_SETS = st.fixed_dictionaries(
    {},
    optional={
        "severity": st.sampled_from(["critical", "warning", "info"]),
        "team": st.sampled_from(["x", "y"]),
        "instance": st.sampled_from(["a", "b", ""]),
    },
)
_RULES = [
    InhibitRule(
        tuple(parse_matchers('severity="critical"')),
        tuple(parse_matchers('severity=~"warning|info"')),
        ("instance",),
    ),
    InhibitRule(tuple(parse_matchers('team="x"')), tuple(parse_matchers('team=~"x|y"')), ()),
    InhibitRule(
        tuple(parse_matchers('severity!="info"')),
        tuple(parse_matchers('severity="info"')),
        ("team", "instance"),
    ),
]


@given(
    alerts=st.lists(_LABEL_SETS, max_size=12),
    rules=st.lists(st.sampled_from(_RULES), max_size=3),
)
def test_indexed_inhibition_answers_as_the_one_pass_rule(
    alerts: list[dict[str, str]], rules: list[InhibitRule]
) -> None:
    firing = [(f"fp{i}", labels) for i, labels in enumerate(alerts)]
    inhibition = Inhibition(rules, firing)
    for fp_, labels in [*firing, ("outsider", {"severity": "warning", "instance": "a"})]:
        expected = _inhibited_by_one_pass(rules, labels, fp_, firing)
        assert inhibition.inhibited_by(labels, fp_) == expected


def test_api_filter_semantics_and_silence_order() -> None:
    from tocsin.alerts.matchers import matches_filter
    from tocsin.alerts.silences import silence_matches_filter, silence_sort_key

    assert matches_filter(parse_matchers('team=""'), {"a": "b"})  # missing label: satisfied
    assert matches_filter(parse_matchers('team!=""'), {"team": "x"})
    assert not matches_filter(parse_matchers('team="x"'), {"a": "b"})
    active, pending, expired = (
        _silence('a="x"', 0, 60),
        _silence('a="x"', 30, 90),
        _silence('a="x"', -60, -30),
    )
    ordered = sorted([expired, pending, active], key=lambda s: silence_sort_key(s, at(10)))
    assert ordered == [active, pending, expired]
    assert silence_matches_filter(active, parse_matchers('a="x"'))
    assert not silence_matches_filter(active, parse_matchers('a=~"x"'))  # type must match too
