"""The intake's quick acceptance (payloads._plainly_fine) never lets through what the full
check (validate and the limits) would refuse."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerts import payloads
from tocsin.alerts.matchers import validate_label_name
from tocsin.alerts.model import Alert, validate, with_defaults
from tocsin.alerts.payloads import Limits, finish

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
LIMITS = Limits(
    max_labels_per_alert=4,
    max_label_name_bytes=256,
    max_label_value_bytes=12,
    max_annotations_per_alert=3,
    max_annotation_value_bytes=20,
)
names = st.sampled_from(["alertname", "job", "a_b", "_x", "9lives", "bad-name", "x\n", "é", ""])
values = st.text(alphabet="aé€𝄞", max_size=8)
pairs = st.dictionaries(names, values, max_size=6)
offsets = st.one_of(st.none(), st.integers(-600, 600))


def full_check(alert: Alert) -> list[str]:
    return validate(alert) + payloads._check_limits(alert, LIMITS, 0)


@settings(max_examples=400)
@given(st.lists(st.tuples(pairs, pairs, offsets, offsets), min_size=1, max_size=8))
def test_quick_acceptance_agrees_with_the_full_check(
    raw: list[tuple[dict[str, str], dict[str, str], int | None, int | None]],
) -> None:
    alerts = [
        Alert(
            labels=labels,
            annotations=annotations,
            starts_at=None if start is None else NOW + timedelta(seconds=start),
            ends_at=None if end is None else NOW + timedelta(seconds=end),
        )
        for labels, annotations, start, end in raw
    ]
    ready = [with_defaults(alert, NOW, 300) for alert in alerts]
    expected = [alert for alert in ready if not full_check(alert)]
    # twice: the second time every valid name is known and the quick path is taken
    for _ in range(2):
        assert finish(alerts, NOW, 300, LIMITS).alerts == expected


def test_a_label_name_with_a_trailing_newline_is_invalid() -> None:
    assert validate_label_name("job")
    assert validate_label_name("_a9")
    assert not validate_label_name("job\n")
    assert not validate_label_name("9job")
    assert not validate_label_name("jöb")
    assert not validate_label_name("")
