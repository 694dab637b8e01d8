from datetime import UTC, datetime, timedelta, timezone

from icalendar import Calendar, Component

from tocsin.oncall.ical import calendar, uid
from tocsin.oncall.schedule import Shift


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


SHIFTS = [
    Shift(("alice",), utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1)),
    Shift((), utc(2026, 3, 29, 1), utc(2026, 3, 29, 9)),  # nobody: no event
    Shift(("alice", "bob"), utc(2026, 3, 29, 9), utc(2026, 3, 30, 0, 30)),
]


def events(feed: bytes) -> list[Component]:
    return list(Calendar.from_ical(feed).walk("VEVENT"))


def test_feed_parses_back_with_one_event_per_staffed_shift() -> None:
    feed = calendar("Primary", SHIFTS, url="https://tocsin.example/schedules/primary")
    cal = Calendar.from_ical(feed)
    assert str(cal["PRODID"]) == "-//tocsin//on-call//EN"
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["X-WR-CALNAME"]) == "Primary"
    assert str(cal["URL"]) == "https://tocsin.example/schedules/primary"
    found = [
        (str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND"), e.decoded("DTSTAMP"))
        for e in events(feed)
    ]
    assert found == [
        ("On call: alice", utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 28, 1, 30)),
        ("On call: alice, bob", utc(2026, 3, 29, 9), utc(2026, 3, 30, 0, 30), utc(2026, 3, 29, 9)),
    ]


def test_times_are_written_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    shift = Shift(("alice",), datetime(2026, 6, 1, 9, tzinfo=plus_two), utc(2026, 6, 1, 15))
    feed = calendar("Primary", [shift])
    assert b"DTSTART:20260601T070000Z" in feed
    assert b"DTEND:20260601T150000Z" in feed
    assert b"DTSTAMP:20260601T070000Z" in feed
    assert events(feed)[0].decoded("DTSTART").utcoffset() == timedelta(0)


def test_output_is_deterministic_and_uids_are_stable() -> None:
    assert calendar("Primary", SHIFTS) == calendar("Primary", SHIFTS)
    uids = [str(e["UID"]) for e in events(calendar("Primary", SHIFTS))]
    assert len(set(uids)) == 2
    assert all(u.endswith("@tocsin") for u in uids)
    assert uids[0] == uid("Primary", SHIFTS[0])
    # a shift trimmed at its end keeps its UID, so calendar apps update rather than duplicate
    trimmed = Shift(("alice",), SHIFTS[0].start, utc(2026, 3, 28, 20))
    assert str(events(calendar("Primary", [trimmed]))[0]["UID"]) == uids[0]
    # another calendar, other users or another start: another UID
    assert uid("Secondary", SHIFTS[0]) != uids[0]
    assert uid("Primary", Shift(("bob",), SHIFTS[0].start, SHIFTS[0].end)) != uids[0]
    assert uid("Primary", Shift(("alice",), SHIFTS[2].start, SHIFTS[2].end)) != uids[0]


def test_awkward_names_are_escaped_by_icalendar() -> None:
    awkward = "Doe, Jane; ops\nlead"
    feed = calendar("Team; primary, EU", [Shift((awkward,), utc(2026, 1, 1), utc(2026, 1, 2))])
    assert b"SUMMARY:On call: Doe\\, Jane\\; ops\\nlead" in feed
    assert b"X-WR-CALNAME:Team\\; primary\\, EU" in feed
    (event,) = events(feed)
    assert str(event["SUMMARY"]) == f"On call: {awkward}"
    assert feed.count(b"BEGIN:VEVENT") == 1


def test_no_staffed_shifts_is_an_empty_calendar() -> None:
    feed = calendar("Primary", [Shift((), utc(2026, 1, 1), utc(2026, 1, 2))])
    assert events(feed) == []
    assert str(Calendar.from_ical(feed)["X-WR-CALNAME"]) == "Primary"
