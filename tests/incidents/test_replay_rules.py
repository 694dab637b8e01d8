"""What ``tocsin replay`` compares (``incidents/replay.py``), without a database: one side's
outcome from incidents' timelines and pages, and the time to first page per real incident
matched to the candidate's incidents by the alert that opened it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tocsin.incidents.figures import Event
from tocsin.incidents.replay import (
    Incident,
    Member,
    acknowledgements,
    check_window,
    compare,
    outcome,
)
from tocsin.incidents.stats import IncidentRow, Page

T0 = datetime(2027, 1, 15, 20, 0, tzinfo=UTC).timestamp()  # a Friday, 21:00 in Berlin
SINCE, UNTIL = T0 - 3600, T0 + 3600


def page(at: float, incident: int, person: str, channel: str, step: int = 1) -> Event:
    key = f"inc{incident}:g1:r0:s{step}:schedule:primary:{person}"
    detail: dict[str, Any] = {
        "target": "schedule:primary",
        "kind": "firing",
        "channel": channel,
        "recipient": person,
        "page": key,
    }
    return Event(at, "notified", detail)


def incident(
    number: int,
    opened: float,
    events: list[Event],
    members: list[tuple[str, float]],
    name: str = "DiskFull",
    resolved: float | None = None,
) -> Incident:
    row = IncidentRow(
        id=number,
        severity="critical",
        opened_at=opened,
        events=(Event(opened, "opened", {}), *events),
        alerts=({"alertname": name},),
    )
    return Incident(row, tuple(Member(fp, at) for fp, at in members), resolved)


def test_one_side_counts_pages_channels_muting_and_the_first_page() -> None:
    paged = incident(
        1,
        T0,
        [page(T0 + 30, 1, "alice", "pager"), page(T0 + 30, 1, "alice", "email")],
        [("a", T0)],
    )
    muted = incident(
        2,
        T0 + 60,
        [
            Event(T0 + 60, "alerts_changed", {"silenced": 2, "inhibited": 1, "fired": 0}),
            page(UNTIL + 10, 2, "bob", "pager"),  # after the window's end: not counted
        ],
        [("b", T0 + 60)],
    )
    before = incident(3, SINCE - 1, [page(SINCE + 5, 3, "bob", "pager")], [("c", SINCE - 1)])
    pages = [
        Page(1, T0 + 30, "alice"),
        Page(1, T0 + 30, "alice"),
        Page(2, UNTIL + 10, "bob"),
        Page(3, SINCE + 5, "bob"),
    ]
    side = outcome(SINCE, UNTIL, [paged, muted, before], pages, {"alice": "Europe/Berlin"})
    assert side.to_json() == {
        "incidents": 2,
        "pages": 1,  # Slack and email of one step are one page
        "out_of_hours": 1,  # 21:00 in Berlin
        "people": [{"person": "alice", "timezone": "Europe/Berlin", "pages": 1, "out_of_hours": 1}],
        "channels": {"email": 1, "pager": 1},
        "muted": {"silenced": 2, "inhibited": 1},
        "time_to_first_page": {"count": 1, "median_s": 30.0, "p90_s": 30.0, "mean_s": 30.0},
        "never_paged": 1,
    }


def test_the_first_page_per_incident_follows_the_alert_that_opened_it() -> None:
    real = [
        incident(1, T0, [page(T0, 1, "alice", "pager")], [("a", T0)], "DatabaseDown"),
        incident(2, T0 + 120, [page(T0 + 120, 2, "alice", "pager")], [("b", T0 + 120)]),
        incident(3, T0 + 300, [page(T0 + 300, 3, "alice", "pager")], [("c", T0 + 300)], "Gone"),
    ]
    # the candidate groups a and b into one incident that pages after 60 s; c is never held
    merged = incident(
        7, T0, [page(T0 + 60, 7, "alice", "pager")], [("a", T0), ("b", T0 + 120)], "DatabaseDown"
    )
    # c was held once, by an incident resolved before c opened incident 3: that one is not it
    early = incident(6, SINCE - 600, [], [("c", SINCE - 600)], resolved=T0 - 300)
    pages = [Page(1, T0, "alice"), Page(2, T0 + 120, "alice"), Page(3, T0 + 300, "alice")]
    result = compare(
        SINCE,
        UNTIL,
        real,
        pages,
        [early, merged],
        [Page(7, T0 + 60, "alice")],
        {},
        alerts=3,
        acknowledgements=0,
        acknowledged=0,
    )
    changed = [
        (c.incident, c.alertname, c.real_s, c.candidate_incident, c.candidate_s)
        for c in result.changed
    ]
    assert changed == [
        (1, "DatabaseDown", 0.0, 7, 60.0),
        # 2: b joined incident 7 after its page: 0 s, as it really was; not listed
        (3, "Gone", 0.0, None, None),
    ]
    assert (result.real.pages, result.candidate.pages) == (3, 1)
    assert (result.real.incidents, result.candidate.incidents) == (3, 1)


def test_a_window_must_run_forward_and_last_at_most_90_days() -> None:
    assert check_window(T0, T0) == "since must be before until"
    assert check_window(T0, T0 + 90 * 86400) is None
    assert "longer than 90 days" in str(check_window(T0, T0 + 90 * 86400 + 1))


def test_the_acknowledgements_of_the_window_carry_their_incidents_alerts() -> None:
    acked = incident(
        1,
        T0,
        [
            Event(T0 + 60, "acknowledged", {"by": "alice"}),
            Event(UNTIL + 1, "acknowledged", {"by": "bob"}),  # after the window
        ],
        [("a", T0), ("b", T0 + 10)],
    )
    other = incident(2, T0, [Event(T0 + 30, "acknowledged", {"by": "bob"})], [("c", T0)])
    found = acknowledgements([acked, other], SINCE, UNTIL)
    assert [(a.at - T0, a.by, a.incident, a.fingerprints) for a in found] == [
        (30, "bob", 2, ("c",)),
        (60, "alice", 1, ("a", "b")),
    ]
