"""The status page's rules (``incidents.status``): which components an incident affects,
their state now, and their days of history."""

from __future__ import annotations

from datetime import UTC, datetime

from tocsin.alerts.matchers import parse_matcher
from tocsin.incidents.status import Component, Span, affects, history, state_for, worst

API = Component("API", (parse_matcher('service="api"'), parse_matcher('env!="staging"')))
DAY = 86400.0
NOON = datetime(2027, 1, 15, 12, tzinfo=UTC).timestamp()


def test_a_component_is_affected_when_one_alert_matches_all_its_matchers() -> None:
    assert affects(API, [{"service": "db"}, {"service": "api", "env": "prod"}])
    assert not affects(API, [{"service": "api", "env": "staging"}])
    assert not affects(API, [])


def test_the_most_severe_level_is_an_outage_and_the_worst_state_wins() -> None:
    assert state_for(0) == "outage" and state_for(1) == "degraded" and state_for(None) == "degraded"
    assert worst([]) == "operational"
    assert worst(["degraded", "operational"]) == "degraded"
    assert worst(["degraded", "outage", "operational"]) == "outage"


def test_history_takes_each_day_s_worst_open_incident() -> None:
    spans = [
        Span("degraded", NOON - 3 * DAY, NOON - 3 * DAY + 3600),  # three days ago, an hour
        Span("outage", NOON - 3 * DAY + 7200, NOON - 2 * DAY),  # that day and the next
        Span("degraded", NOON - 600, None),  # still open today
    ]
    days = history(spans, NOON, days=5)
    assert [d.isoformat() for d, _ in days] == [
        "2027-01-11", "2027-01-12", "2027-01-13", "2027-01-14", "2027-01-15",
    ]  # fmt: skip
    assert [state for _, state in days] == [
        "operational", "outage", "outage", "operational", "degraded",
    ]  # fmt: skip


def test_only_the_published_updates_are_public_and_say_only_their_stage_and_message() -> None:
    from tocsin.incidents.figures import Event
    from tocsin.incidents.status import PublicUpdate, public_updates

    events = [
        Event(1.0, "status_update", {"stage": "investigating", "message": "inside", "by": "ana"}),
        Event(2.0, "status_update", {"stage": "identified", "message": "out", "public": True}),
        Event(3.0, "note", {"text": "x", "public": True}),
        Event(4.0, "status_update", {"stage": "monitoring", "message": "m", "public": "yes"}),
    ]
    assert public_updates(events) == [PublicUpdate(2.0, "identified", "out")]
