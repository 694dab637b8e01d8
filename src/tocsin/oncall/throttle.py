"""What a person hears in a storm, and in which order (pure): the delivery lanes and the
per-person limit of each contact method.

**Lanes.** Every delivery has a priority, smaller first: the incident's severity rank (the
configured levels, most severe first; unrated after all of them) times two, plus one for a
message that only informs (an acknowledgement, a resolution, a status update, a reminder of a
duty) rather than pages. Deliveries are claimed in that order, then by age, so a critical
page queued behind thousands of warnings goes first; the top lane (priority 0: a page of the
most severe level) also has sends of its own on each channel, so a slow channel busy with
warnings does not make it wait.

**Per-person limits** (as GoAlert throttles each contact method of each user). A person's
contact method is a channel; each (person, channel) has a token bucket (``ratelimit``, the
one rate limit) of ``count`` messages per ``per``. A message over the limit is held, never
lost: when the bucket next has a token, the person receives one summary of what was held
(``summary``) instead of the backlog. A page of the top lane is never held: it goes at once
and still takes its token (the bucket may go into debt, at most one burst), so that what
follows it is held. A held page of a lower lane reaches the person in the summary, with the
link to acknowledge it, and its escalation goes on meanwhile (the next step, the deadline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tocsin import ratelimit, words
from tocsin.oncall.severity import Level, rank
from tocsin.times import format_duration

# messages that page (someone must act) rather than inform
PAGING_KINDS = frozenset({"firing", "escalation", "deadline", "reminder"})
SUMMARY_KIND = "held_summary"  # the message that says what was held back
TOP = 0  # the top lane's priority
SHOWN = 20  # incidents a summary names one by one


def priority(kind: str, severity: str | None, levels: Sequence[Level]) -> int:
    """A delivery's lane, smaller first: severity rank, then pages before information."""
    return rank(levels, severity) * 2 + (0 if kind in PAGING_KINDS else 1)


def lane_name(value: int, levels: Sequence[Level]) -> str:
    """The lane as ``/metrics`` labels it: ``critical/page``, ``warning/info``,
    ``unrated/page``."""
    level, informs = divmod(value, 2)
    name = levels[level].name if 0 <= level < len(levels) else "unrated"
    return f"{name}/{'info' if informs else 'page'}"


@dataclass(frozen=True)
class Limit:
    """``count`` messages per ``per_s`` seconds, at most ``count`` at once."""

    count: int
    per_s: float

    @property
    def per_minute(self) -> float:
        return self.count * 60.0 / self.per_s

    def __str__(self) -> str:
        return f"{self.count} per {format_duration(self.per_s, 'prometheus')}"


@dataclass(frozen=True)
class Bucket:
    """A (person, channel) bucket: ``tokens`` at time ``at``."""

    tokens: float
    at: float


@dataclass(frozen=True)
class Decision:
    send: bool
    bucket: Bucket  # the state to keep
    wait_s: float = 0.0  # held: when the bucket has a token again (the summary)
    bypassed: bool = False  # sent over the limit: a page of the top lane


def full(limit: Limit, now: float) -> Bucket:
    return Bucket(float(limit.count), now)


def take(bucket: Bucket | None, limit: Limit, now: float) -> tuple[Bucket, float]:
    """Take one token: the bucket after, and 0, or the seconds until one is there (then
    nothing is taken)."""
    state = bucket or full(limit, now)
    tokens, wait = ratelimit.take(state.tokens, state.at, limit.per_minute, now, limit.count)
    return Bucket(tokens, now), wait


def decide(bucket: Bucket | None, limit: Limit, kind: str, lane: int, now: float) -> Decision:
    """Whether a message of ``kind`` in ``lane`` to a person goes now or is held."""
    after, wait = take(bucket, limit, now)
    if wait == 0:
        return Decision(True, after)
    if lane == TOP and kind in PAGING_KINDS:  # a top page always goes, and counts
        return Decision(True, Bucket(max(after.tokens - 1, -float(limit.count)), now), 0, True)
    return Decision(False, after, wait)


@dataclass(frozen=True)
class Held:
    """A message held back, as its summary names it."""

    incident_id: int
    kind: str
    title: str
    severity: str | None
    url: str
    at: float


def summary(held: Sequence[Held], limit: Limit, channel: str, now: float) -> tuple[str, str]:
    """The summary's title and text: how many messages, since when, which incidents; the
    held pages with their links, for someone must still acknowledge them."""
    incidents = sorted({h.incident_id for h in held})
    since = min((h.at for h in held), default=now)
    named = ", ".join(f"#{i}" for i in incidents[:SHOWN])
    if len(incidents) > SHOWN:
        named += f" and {len(incidents) - SHOWN} more"
    title = (
        f"{words.count(len(held), 'message')} held back in the last "
        f"{format_duration(max(60.0, now - since), 'short')}: "
        f"{words.count(len(incidents), 'incident')} ({named})"
    )
    lines = [f"{title}.", f"The limit of {channel} is {limit} for each person."]
    pages: dict[int, Held] = {}
    for h in held:
        if h.kind in PAGING_KINDS:
            pages.setdefault(h.incident_id, h)
    if pages:
        lines.append("Pages waiting for acknowledgement:")
        for h in list(pages.values())[:SHOWN]:
            sev = f" ({h.severity})" if h.severity else ""
            lines.append(f"- #{h.incident_id} {h.title}{sev}: {h.url}")
        if len(pages) > SHOWN:
            lines.append(f"- and {len(pages) - SHOWN} more")
    told: dict[str, list[int]] = {}
    for h in held:
        if h.kind not in PAGING_KINDS and h.incident_id not in told.get(h.kind, []):
            told.setdefault(h.kind, []).append(h.incident_id)
    if told:
        lines.append(
            "Also held: "
            + "; ".join(
                f"{kind.replace('_', ' ')} of "
                + ", ".join(f"#{i}" for i in ids[:SHOWN])
                + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")
                for kind, ids in sorted(told.items())
            )
            + "."
        )
    return title, "\n".join(lines)
