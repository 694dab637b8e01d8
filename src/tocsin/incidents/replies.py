"""What a person's answer to a page by SMS or phone asks (pure): a reply's text or a key
pressed on a call, read as an action on an incident.

An SMS page ends "Reply 1 to acknowledge, 2 to resolve." A reply is read forgivingly: ``1``,
``ack``, ``acknowledge`` acknowledge; ``2``, ``res``, ``resolve`` resolve; a number after
the word names the incident (``1 12``, ``ack 12``, ``resolve #12``), else it is the latest
incident paged to that number. Anything else (``help``, ``stop me``, a sentence) is a
``help`` reply: the sender is told how to answer, nothing changes. On a call, key 1
acknowledges and 2 resolves the incident the call was about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Action = Literal["acknowledge", "resolve", "help"]

MAX_REPLY = 160  # more than a reply needs: a longer one is not one we read
_WORDS: dict[str, Action] = {
    "1": "acknowledge",
    "a": "acknowledge",
    "ack": "acknowledge",
    "acknowledge": "acknowledge",
    "2": "resolve",
    "r": "resolve",
    "res": "resolve",
    "resolve": "resolve",
}
_REPLY = re.compile(r"^\s*([a-z0-9]+)(?:\s+#?([0-9]{1,12}))?\s*[.!]?\s*$")

USAGE = (
    "Reply 1 to acknowledge or 2 to resolve the latest incident paged to you that is "
    "still open; add its number for another (ack 12, resolve 12)."
)


@dataclass(frozen=True)
class Reply:
    """What a reply asks: an action, and the incident it names (None: the latest)."""

    action: Action
    incident_id: int | None = None


def parse_reply(body: str) -> Reply:
    """The action an SMS reply asks for (``help`` when it is not one we read)."""
    found = _REPLY.match(body.lower()) if len(body) <= MAX_REPLY else None
    if found is None:
        return Reply("help")
    action = _WORDS.get(found.group(1))
    if action is None:
        return Reply("help")
    number = found.group(2)
    return Reply(action, int(number) if number else None)


def parse_digits(digits: str) -> Action:
    """The action of a key pressed on a call: 1 acknowledges, 2 resolves, others help."""
    keys: dict[str, Action] = {"1": "acknowledge", "2": "resolve"}
    return keys.get(digits.strip(), "help")


def masked(number: str) -> str:
    """A phone number as the timeline shows it: all but its last four digits hidden."""
    digits = "".join(c for c in number if c.isdigit())
    if len(digits) <= 4:
        return "…" + digits
    return "…" + digits[-4:]
