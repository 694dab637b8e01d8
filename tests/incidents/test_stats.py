"""Reports over a window, with every figure worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from tocsin.incidents.figures import Event, page_of
from tocsin.incidents.stats import (
    Episode,
    IncidentRow,
    Page,
    Summary,
    WorkingHours,
    report,
    summarize,
)


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


SINCE = ts("2027-01-04T00:00")  # a Monday
UNTIL = ts("2027-01-11T00:00")


def ev(at: float, kind: str, **detail: Any) -> Event:
    return Event(at, kind, detail)


def incidents() -> list[IncidentRow]:
    t = SINCE
    return [
        IncidentRow(  # acknowledged after 2 min, resolved after 10; 2 pages
            1,
            "critical",
            t,
            (
                ev(t, "opened"),
                ev(t + 60, "triggered"),
                ev(t + 60, "notified"),
                ev(t + 120, "notified"),
                ev(t + 180, "acknowledged"),
                ev(t + 600, "resolved"),
            ),
            ({"alertname": "DiskFull", "service": "pebble-db"},),
        ),
        IncidentRow(  # two alerts of one job; acknowledged after 10 min, resolved after 1 h
            2,
            "critical",
            t + 1000,
            (
                ev(t + 1000, "opened"),
                ev(t + 1000, "triggered"),
                ev(t + 1000, "notified"),
                ev(t + 1300, "deadline_missed"),
                ev(t + 1300, "notified"),
                ev(t + 1300, "notified"),
                ev(t + 1600, "acknowledged"),
                ev(t + 4600, "resolved"),
            ),
            ({"alertname": "DiskFull", "job": "node"}, {"alertname": "HighCPU", "job": "node"}),
        ),
        IncidentRow(  # never acknowledged nor resolved; two deadlines missed; 1 page
            3,
            "warning",
            t + 5000,
            (
                ev(t + 5000, "opened"),
                ev(t + 5000, "triggered"),
                ev(t + 5000, "notified"),
                ev(t + 6800, "deadline_missed"),
                ev(t + 8600, "deadline_missed"),
            ),
            ({"alertname": "HighCPU"},),
        ),
        IncidentRow(  # opened before the window: not in the report
            4,
            "critical",
            SINCE - 1,
            (ev(SINCE - 1, "opened"), ev(SINCE, "triggered"), ev(SINCE + 5, "acknowledged")),
            ({"alertname": "Old"},),
        ),
    ]


def episodes() -> list[Episode]:
    t = SINCE
    names = ["DiskFull"] * 3 + ["HighCPU"] + ["Flappy"] * 5
    inside = [Episode({"alertname": n}, t + i * 100) for i, n in enumerate(names)]
    return [*inside, Episode({"alertname": "Old"}, SINCE - 10), Episode({"alertname": "X"}, UNTIL)]


def test_summary_median_p90_mean() -> None:
    assert summarize([]) == Summary(0, None, None, None)
    assert summarize([5.0]) == Summary(1, 5.0, 5.0, 5.0)
    assert summarize([10.0, 1.0, 4.0]) == Summary(3, 4.0, 10.0, 5.0)
    # 1..10: median between 5 and 6; p90 the 9th smallest (ceil(0.9 * 10)); mean 5.5
    assert summarize(float(v) for v in range(10, 0, -1)) == Summary(10, 5.5, 9.0, 5.5)
    # 1..20: p90 the 18th
    assert summarize(float(v) for v in range(1, 21)).p90_s == 18.0


def test_response_times_per_alert_service_and_severity() -> None:
    got = report(SINCE, UNTIL, incidents(), [], []).to_json()
    assert got["incidents"] == 3
    response = got["response"]
    overall = response["overall"]
    assert overall["incidents"] == 3
    # acknowledged: 120 s and 600 s; resolved: 600 s and 3600 s
    assert overall["time_to_acknowledge"] == {
        "count": 2,
        "median_s": 360.0,
        "p90_s": 600.0,
        "mean_s": 360.0,
    }
    assert overall["time_to_resolve"] == {
        "count": 2,
        "median_s": 2100.0,
        "p90_s": 3600.0,
        "mean_s": 2100.0,
    }
    by_alert = {r["key"]: r for r in response["by_alert"]}
    assert list(by_alert) == ["DiskFull", "HighCPU"]
    assert by_alert["DiskFull"]["incidents"] == 2
    assert by_alert["DiskFull"]["time_to_acknowledge"]["median_s"] == 360.0
    assert by_alert["HighCPU"]["incidents"] == 2  # incidents 2 and 3; only 2 acknowledged
    assert by_alert["HighCPU"]["time_to_acknowledge"] == {
        "count": 1,
        "median_s": 600.0,
        "p90_s": 600.0,
        "mean_s": 600.0,
    }
    assert by_alert["HighCPU"]["time_to_resolve"]["count"] == 1
    by_service = {r["key"]: r for r in response["by_service"]}
    assert list(by_service) == ["-", "node", "pebble-db"]
    assert by_service["node"]["incidents"] == 1  # two alerts of one job: one incident
    assert by_service["pebble-db"]["time_to_resolve"]["median_s"] == 600.0
    assert by_service["-"]["time_to_acknowledge"]["count"] == 0
    by_severity = {r["key"]: r for r in response["by_severity"]}
    assert by_severity["critical"]["incidents"] == 2
    assert by_severity["critical"]["time_to_acknowledge"]["p90_s"] == 600.0
    assert by_severity["warning"]["incidents"] == 1
    assert by_severity["warning"]["time_to_acknowledge"]["median_s"] is None


def test_pages_deadlines_noise_and_coverage() -> None:
    got = report(
        SINCE, UNTIL, incidents(), episodes(), [], runbook_alerts=["DiskFull", "Unused"]
    ).to_json()
    assert got["pages_per_incident"] == {"total": 6, "mean": 2.0, "max": 3}
    assert got["deadline_misses"] == {"count": 3, "by_severity": {"critical": 1, "warning": 2}}
    assert got["noisiest_alerts"] == [
        {"alert": "Flappy", "episodes": 5, "incidents": 0},
        {"alert": "DiskFull", "episodes": 3, "incidents": 2},
        {"alert": "HighCPU", "episodes": 1, "incidents": 2},
    ]
    assert got["runbook_coverage"] == {
        "without_runbook": ["Flappy", "HighCPU"],
        "runbooks_not_seen": ["Unused"],
    }
    # the catalog's lookup is case-insensitive, and so is coverage
    again = report(SINCE, UNTIL, [], episodes(), [], runbook_alerts=["highcpu"]).to_json()
    assert again["runbook_coverage"] == {
        "without_runbook": ["DiskFull", "Flappy"],
        "runbooks_not_seen": [],
    }


def test_only_ten_noisiest() -> None:
    many = [Episode({"alertname": f"A{i:02d}"}, SINCE + i) for i in range(12) for _ in range(i)]
    got = report(SINCE, UNTIL, [], many, []).to_json()["noisiest_alerts"]
    assert [n["alert"] for n in got] == [f"A{i:02d}" for i in range(11, 1, -1)]


def test_an_empty_window() -> None:
    got = report(SINCE, UNTIL, [], [], []).to_json()
    assert got["incidents"] == 0
    assert got["pages_per_incident"] == {"total": 0, "mean": None, "max": 0}
    assert got["response"]["overall"]["time_to_acknowledge"]["count"] == 0
    assert got["since"] == "2027-01-04T00:00:00+00:00"


# January: Berlin is UTC+1, New York UTC-5.
MON_0730 = ts("2027-01-04T07:30")  # Berlin 08:30 (working), New York 02:30 (night)
MON_1200 = ts("2027-01-04T12:00")  # Berlin 13:00 (working), New York 07:00 (too early)
MON_1730 = ts("2027-01-04T17:30")  # Berlin 18:30 (evening), New York 12:30 (working)
FRI_2330 = ts("2027-01-08T23:30")  # Berlin Saturday 00:30, New York Friday 18:30
SAT_1400 = ts("2027-01-09T14:00")  # the weekend everywhere
ZONES = {"alice": "Europe/Berlin", "bob": "America/New_York"}


def pages_of(person: str, *ats: float, incident: int = 1) -> list[Page]:
    return [Page(incident, at, person) for at in ats]


def test_out_of_hours_is_in_each_persons_time_zone() -> None:
    ats = (MON_0730, MON_1200, MON_1730, FRI_2330, SAT_1400)
    pages = [
        *pages_of("alice", *ats),
        *pages_of("bob", *ats),
        *pages_of("carol", MON_0730, MON_1200),  # no zone known: UTC
        *pages_of("alice", MON_0730, incident=4),  # an incident outside the window
    ]
    got = report(SINCE, UNTIL, incidents(), [], pages, zones=ZONES).to_json()
    assert got["out_of_hours_pages"] == [
        {"person": "bob", "timezone": "America/New_York", "pages": 5, "out_of_hours": 4},
        {"person": "alice", "timezone": "Europe/Berlin", "pages": 5, "out_of_hours": 3},
        {"person": "carol", "timezone": "UTC", "pages": 2, "out_of_hours": 1},
    ]


def test_working_hours_are_a_parameter() -> None:
    ats = (MON_0730, MON_1200, MON_1730, FRI_2330, SAT_1400)
    early = WorkingHours(start=time(7, 0), end=time(19, 0))
    got = report(SINCE, UNTIL, incidents(), [], pages_of("alice", *ats), zones=ZONES, hours=early)
    # Berlin 08:30, 13:00 and 18:30 are now working hours; Saturday 00:30 and 15:00 are not
    assert [(p.person, p.out_of_hours) for p in got.out_of_hours] == [("alice", 2)]
    seven_days = WorkingHours(days=frozenset(range(7)))
    got = report(
        SINCE, UNTIL, incidents(), [], pages_of("bob", *ats), zones=ZONES, hours=seven_days
    )
    # New York 02:30, 07:00 and 18:30 are still out; Saturday 09:00 is now in
    assert [(p.person, p.out_of_hours) for p in got.out_of_hours] == [("bob", 3)]


def test_daylight_saving_time_moves_the_hours() -> None:
    hours = WorkingHours()
    # 16:30 UTC on a Monday: 17:30 in Berlin in January (UTC+1), 18:30 in July (UTC+2)
    assert hours.contains(ts("2027-01-04T16:30"), "Europe/Berlin")
    assert not hours.contains(ts("2027-07-05T16:30"), "Europe/Berlin")
    # 12:30 UTC: 07:30 in New York in January (UTC-5), 08:30 in July (UTC-4)
    assert not hours.contains(ts("2027-01-04T12:30"), "America/New_York")
    assert hours.contains(ts("2027-07-05T12:30"), "America/New_York")
    assert hours.contains(ts("2027-01-04T12:30"), "Not/AZone")  # unknown: UTC


def test_a_page_on_two_channels_is_one_page_in_the_report() -> None:
    """Issue 17, item 6: bob paged by step 1 on Slack and email is one page, in the page
    counts and out of hours; step 2 paging him again is a second."""
    t = ts("2027-01-09T03:00")  # a Saturday night
    key = "inc7:g1:r0:s{}:schedule:db:bob:{}"
    message = {"recipient": {"name": "bob"}}

    def delivered(at: float, step: int, channel: str) -> Event:
        detail = {"target": "schedule:db", "channel": channel, "kind": "escalation"}
        page = page_of("escalation", key.format(step, channel), message)
        return Event(at, "notified", {**detail, **page})

    told = {"target": "schedule:db", "channel": "slack", "kind": "resolved", "recipient": "bob"}
    events = (
        ev(t, "opened"),
        ev(t, "triggered"),
        delivered(t + 1, 0, "slack"),
        delivered(t + 1, 0, "email"),
        delivered(t + 301, 1, "slack"),
        Event(t + 900, "notified", told),  # bob told of the resolution: not a page
    )
    row = IncidentRow(7, "critical", t, events, ({"alertname": "DiskFull"},))
    pages = [Page(7, t + 1, "bob"), Page(7, t + 1, "bob"), Page(7, t + 301, "bob")]
    pages.append(Page(7, t + 900, "bob"))
    got = report(SINCE, UNTIL, [row], [], pages).to_json()
    assert got["pages_per_incident"] == {"total": 2, "mean": 2.0, "max": 2}
    assert got["out_of_hours_pages"] == [
        {"person": "bob", "timezone": "UTC", "pages": 2, "out_of_hours": 2}
    ]
