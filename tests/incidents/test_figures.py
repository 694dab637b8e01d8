"""Response figures from a timeline, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from tocsin.incidents.figures import Event, figures

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
