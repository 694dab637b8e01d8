"""On-call shifts as an iCalendar feed (RFC 5545), for people's calendar apps (pure).

The output is deterministic: the same shifts give the same bytes, so a feed can be cached and
compared. Each event's UID is derived from the calendar name, the users and the start, so a
shift keeps its UID when its end moves (an override trims it) and calendar apps update the
event instead of duplicating it. DTSTAMP is the shift's start rather than the wall clock.
Escaping and line folding are icalendar's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC

from icalendar import Calendar, Event, vText

from tocsin.oncall.schedule import Shift


def calendar(
    name: str,
    shifts: Sequence[Shift],
    *,
    prodid: str = "-//tocsin//on-call//EN",
    url: str | None = None,
) -> bytes:
    """A VCALENDAR named ``name`` with one VEVENT per shift that has someone on call; shifts
    with nobody produce no event. ``url`` (the schedule's page) is set on the calendar and on
    each event so calendar apps can link back."""
    cal = Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", vText(name))  # icalendar types X- properties as raw unless told
    if url is not None:
        cal.add("url", url)
    for shift in shifts:
        if not shift.users:
            continue
        start, end = shift.start.astimezone(UTC), shift.end.astimezone(UTC)
        event = Event()
        event.add("uid", uid(name, shift))
        event.add("dtstamp", start)
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", f"On call: {', '.join(shift.users)}")
        if url is not None:
            event.add("url", url)
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


def uid(name: str, shift: Shift) -> str:
    """The stable UID of a shift's event: a hash of calendar name, users and start (UTC)."""
    key = json.dumps([name, list(shift.users), shift.start.astimezone(UTC).isoformat()])
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@tocsin"
