"""Response figures from a timeline, worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.incidents.test_describe import SENTENCES
from tocsin.incidents.figures import FIGURE_KINDS, Event, figures, page_of

T = 1_800_000_000.0


def ev(offset: float, kind: str) -> Event:
    return Event(T + offset, kind, {})


def test_acknowledged_and_resolved() -> None:
    f = figures(
        [
            ev(0, "opened"),
            ev(0, "triggered"),
            Event(T, "escalated", {"reason": "started"}),
            Event(T + 1, "notified", {"target": "schedule:primary"}),
            Event(T + 1, "notified", {"target": "channel:team"}),
            ev(300, "deadline_missed"),
            ev(300, "escalated"),
            ev(301, "notified"),
            ev(420, "acknowledged"),
            ev(3600, "resolved"),
        ]
    )
    assert f.time_to_acknowledge_s == 420 and f.time_to_resolve_s == 3600
    assert (f.pages_sent, f.messages_sent, f.escalations, f.deadline_misses) == (2, 3, 1, 1)


def test_a_lapsed_acknowledgement_still_counts_and_reopening_reopens() -> None:
    events = [
        ev(0, "opened"),
        ev(30, "triggered"),
        ev(90, "acknowledged"),
        ev(990, "ack_expired"),
        ev(1000, "acknowledged"),
        ev(2000, "resolved"),
        ev(2500, "reopened"),
    ]
    f = figures(events)
    assert f.time_to_acknowledge_s == 60  # from the first page
    assert f.resolved_at is None and f.time_to_resolve_s is None  # open again
    f = figures([*events, ev(4000, "resolved")])
    assert f.time_to_resolve_s == 4000


def test_never_triggered_or_open() -> None:
    f = figures([ev(0, "opened"), ev(10, "resolved")])
    assert f.time_to_acknowledge_s is None and f.time_to_resolve_s == 10
    f = figures([], opened_at=T)
    assert f.opened_at == T and f.time_to_resolve_s is None and f.pages_sent == 0


def test_alert_events_follow_each_alerts_state() -> None:
    from datetime import timedelta

    from tocsin.alerts.model import Alert
    from tocsin.incidents.flush import Muting, alert_events

    now = datetime.fromtimestamp(T, UTC)
    live = Alert(labels={"alertname": "A"}, starts_at=now, ends_at=now + timedelta(hours=1))
    done = Alert(labels={"alertname": "B"}, starts_at=now, ends_at=now - timedelta(seconds=1))
    muted = Alert(labels={"alertname": "C"}, starts_at=now, ends_at=now + timedelta(hours=1))
    alerts = {"a": live, "b": done, "c": muted}
    muting = Muting(silenced_by={"c": ["s1"]})
    first = alert_events(alerts, muting, now, {})
    # b ended before the timeline ever saw it: nothing to say
    assert first == [("alert_fired", "a", {}), ("silenced", "c", {"silenced_by": ["s1"]})]
    assert alert_events(alerts, muting, now, {"a": "fired", "c": "silenced"}) == []
    later = alert_events(alerts, Muting(), now, {"a": "fired", "b": "fired", "c": "silenced"})
    assert later == [("alert_resolved", "b", {}), ("alert_fired", "c", {})]


# --- one definition (issue 17, item 6) ------------------------------------------------------

KEY = "inc1:g1:r0:s{step}:schedule:primary:{who}:{channel}"


def paged(
    offset: float,
    who: str,
    channel: str,
    step: int = 0,
    fallback: bool = False,
    kind: str = "escalation",
) -> Event:
    """A delivered page of a step, as engine/deliver writes it (``page_of``); ``kind``:
    ``firing`` for the first page of an escalation, ``escalation`` for a later step's (and
    for every step's before the first page was said to be one)."""
    key = KEY.format(step=step, who=who, channel=channel) + (":fallback" if fallback else "")
    message = {"recipient": {"name": who}}
    detail = {"target": "schedule:primary", "channel": channel, "kind": kind}
    return Event(T + offset, "notified", {**detail, **page_of(kind, key, message)})


def step(offset: float, number: int, reason: str) -> Event:
    return Event(T + offset, "escalated", {"step": number, "reason": reason})


FIGURE_TABLE: list[tuple[str, list[Event], tuple[int, int, int]]] = [
    # (what, timeline, (pages, messages, escalations))
    ("steps 1 and 2 fired: one escalation", [step(0, 1, "started"), step(300, 2, "x")], (0, 0, 1)),
    (
        "one person on two channels is one page",
        [step(0, 1, "started"), paged(1, "bob", "slack"), paged(2, "bob", "email")],
        (1, 2, 0),
    ),
    (
        "the first page (kind firing) on two channels is one page",
        [
            step(0, 1, "started"),
            paged(1, "bob", "slack", kind="firing"),
            paged(2, "bob", "email", kind="firing"),
        ],
        (1, 2, 0),
    ),
    (
        "the first page, then the next step to the same person: two pages, one escalation",
        [
            step(0, 1, "started"),
            paged(1, "bob", "slack", kind="firing"),
            step(300, 2, "x"),
            paged(301, "bob", "slack", step=1),
        ],
        (2, 2, 1),
    ),
    (
        "a fallback delivery is the same page",
        [paged(1, "bob", "slack"), paged(40, "bob", "slack", fallback=True)],
        (1, 2, 0),
    ),
    (
        "the next step paging the same person is another page",
        [paged(1, "bob", "slack"), step(300, 2, "x"), paged(301, "bob", "slack", step=1)],
        (2, 2, 1),
    ),
    (
        "two people on one step are two pages",
        [paged(1, "bob", "slack"), paged(1, "carol", "slack")],
        (2, 2, 0),
    ),
    (
        "telling bob of the acknowledgement and the resolution is no page",
        [
            paged(1, "bob", "slack"),
            Event(T + 60, "notified", {"target": "schedule:primary", "kind": "acknowledged"}),
            Event(T + 90, "notified", {"target": "schedule:primary", "kind": "resolved"}),
        ],
        (1, 3, 0),
    ),
    (
        "reminding the owner of a post-incident duty is no page",
        [
            paged(1, "bob", "slack"),
            Event(T + 86400, "notified", {"target": "user:bob", "kind": "duty_reminder"}),
        ],
        (1, 2, 0),
    ),
    (
        "a channel's message is no page",
        [Event(T, "notified", {"target": "channel:team", "channel": "team", "kind": "firing"})],
        (0, 1, 0),
    ),
    (
        "a later round, a missed deadline's step and escalate-now count",
        [
            step(0, 1, "started"),
            step(180, 2, "acknowledgement deadline missed"),
            step(600, 1, "not acknowledged in time"),
            step(700, 2, "escalated by hand"),
        ],
        (0, 0, 3),
    ),
]


@pytest.mark.parametrize(
    ("what", "events", "counts"), FIGURE_TABLE, ids=[t[0] for t in FIGURE_TABLE]
)
def test_pages_and_escalations(
    what: str, events: list[Event], counts: tuple[int, int, int]
) -> None:
    f = figures(events)
    assert (f.pages_sent, f.messages_sent, f.escalations) == counts, what


def test_page_of() -> None:
    key = "inc3:g1:r1:s0:schedule:db:bob:slack-oncall"
    message = json.dumps({"recipient": {"name": "bob", "email": "b@x"}})
    assert page_of("escalation", key, message) == {
        "recipient": "bob",
        "page": "inc3:g1:r1:s0:schedule:db:bob",
    }
    assert page_of("escalation", key + ":fallback", message)["page"] == (
        "inc3:g1:r1:s0:schedule:db:bob"
    )
    assert page_of("firing", "flush:1.0:team", "{}") == {}  # a channel's: no recipient
    assert page_of("firing", key, message) == {  # the first page of an escalation
        "recipient": "bob",
        "page": "inc3:g1:r1:s0:schedule:db:bob",
    }
    assert page_of("acknowledged", "k", {"recipient": {"name": "ann"}}) == {"recipient": "ann"}
    assert page_of("escalation", "a:b", "not json") == {"page": "a"}


def test_the_figures_of_their_kinds_alone_are_those_of_the_whole_timeline() -> None:
    """Issue 18: the record reads only ``FIGURE_KINDS`` (a storm's timeline is not read
    whole); every other kind leaves the figures as they are."""
    events = [
        Event(1_800_000_000.0 + 60 * n, kind, detail)
        for n, (kind, detail, _) in enumerate(SENTENCES * 2)
    ]
    mine = [e for e in events if e.kind in FIGURE_KINDS]
    assert len(mine) < len(events)
    assert figures(mine, 1_800_000_000.0) == figures(events, 1_800_000_000.0)
