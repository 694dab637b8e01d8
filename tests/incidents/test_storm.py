"""The storm digest's rules (issue 18, item 4): when a route's incidents are folded into one
digest, when the digest may go again, and what it says. Pure: no database, no clock."""

from __future__ import annotations

from tocsin.incidents.storm import (
    Activity,
    Facts,
    Fold,
    Running,
    StormRule,
    decide,
    digest,
    next_update,
    route_name,
    tops,
)

RULE = StormRule(incidents=3, window_s=60.0, update_every_s=30.0)
NOW = 1_800_000_000.0


def test_the_nth_incident_pages_and_the_next_leads_a_storm() -> None:
    # three triggered before it within the window: the fourth is over the threshold of 3
    assert decide(RULE, Activity(recent=2), NOW) == Fold("page")
    assert decide(RULE, Activity(recent=3), NOW) == Fold("lead")


def test_later_incidents_are_held_in_the_running_storm() -> None:
    running = Running(storm_id=7, lead_id=41, last_held_at=NOW - 59.0)
    assert decide(RULE, Activity(4, running), NOW) == Fold("hold", 7, 41)


def test_an_incident_more_severe_than_the_lead_is_never_held_behind_it() -> None:
    warnings = Running(storm_id=7, lead_id=41, last_held_at=NOW - 1.0, lead_rank=1)
    assert decide(RULE, Activity(9, warnings, rank=0), NOW) == Fold("page")
    assert decide(RULE, Activity(9, warnings, rank=1), NOW) == Fold("hold", 7, 41)
    assert decide(RULE, Activity(9, warnings, rank=2), NOW) == Fold("hold", 7, 41)


def test_a_storm_quiet_for_a_whole_window_is_over_and_a_new_one_leads_again() -> None:
    running = Running(storm_id=7, lead_id=41, last_held_at=NOW - 60.0)
    assert decide(RULE, Activity(4, running), NOW) == Fold("lead")


def test_when_the_rate_falls_under_the_threshold_incidents_page_again() -> None:
    running = Running(storm_id=7, lead_id=41, last_held_at=NOW - 1.0)
    assert decide(RULE, Activity(2, running), NOW) == Fold("page")


def test_a_disabled_rule_always_pages() -> None:
    off = StormRule(enabled=False, incidents=1)
    assert decide(off, Activity(10_000), NOW) == Fold("page")


def test_the_digest_goes_again_at_most_once_per_update_every() -> None:
    assert next_update(RULE, NOW - 5.0, NOW) == NOW + 25.0
    assert next_update(RULE, NOW - 300.0, NOW) == NOW


def test_route_names() -> None:
    assert route_name("{}", "default") == "root (receiver default)"
    assert route_name('{}/{team="db"}', "db") == 'team="db" (receiver db)'
    assert route_name('{}/{team="db"}/{service=~"a|b"}', "") == 'team="db" / service=~"a|b"'


def test_tops_count_each_incident_once() -> None:
    incidents = [
        [{"alertname": "DiskFull", "dc": "eu"}, {"alertname": "DiskFull", "dc": "eu"}],
        [{"alertname": "DiskFull", "dc": "us"}],
        [{"alertname": "NodeDown", "dc": "eu"}],
    ]
    names, labels = tops(incidents)
    assert names == [("DiskFull", 2), ("NodeDown", 1)]
    assert labels == [("dc=eu", 2)]  # dc=us: one incident's, not the storm's
    assert tops(incidents[2:]) == ([("NodeDown", 1)], [("dc=eu", 1)])


def test_the_digest_says_route_counts_tops_and_what_acknowledging_does() -> None:
    incidents = [[{"alertname": "DiskFull", "instance": f"n{i}", "dc": "eu"}] for i in range(6)]
    incidents += [[{"alertname": "NodeDown", "instance": "n9", "dc": "us"}]]
    facts = Facts(
        route='team="db" (receiver db)',
        window_s=60.0,
        new_in_window=1234,
        held=1214,
        open=1200,
        acknowledged_by=None,
        lead_id=21,
        incidents=incidents,
    )
    found = digest(facts)
    assert found.title == 'Storm on route team="db" (receiver db): 1,234 new incidents in 1m'
    assert found.top_alerts == [("DiskFull", 6), ("NodeDown", 1)]
    assert found.top_labels[0] == ("dc=eu", 6)
    assert found.text.splitlines() == [
        f"{found.title}.",
        "Held in this digest: 1,214 incidents, 1,200 still open.",
        "Top alerts (of the latest 7): DiskFull (6), NodeDown (1).",
        "Top labels (of the latest 7): dc=eu (6).",
        "Acknowledging incident #21 acknowledges every incident held.",
    ]
    # the storm's first digest holds its lead alone: the incidents counted before it paged
    first = digest(Facts(**{**facts.__dict__, "held": 1, "open": 1}))
    assert first.text.splitlines()[1] == (
        "Held in this digest: this incident so far; the route's next incidents join it"
        " instead of paging on their own."
    )
    acked = digest(Facts(**{**facts.__dict__, "acknowledged_by": "alice", "held": 7}))
    assert "(of the latest" not in acked.text
    assert acked.text.endswith("Acknowledged by alice: it covers every incident held.")


def test_a_digest_stays_short_whatever_the_labels() -> None:
    incidents = [[{"alertname": "A" * 500, **{f"l{k}": "v" * 500 for k in range(50)}}]]
    facts = Facts("r", 60.0, 1, 1, 1, None, 1, incidents)
    assert len(digest(facts).text) <= 1000
