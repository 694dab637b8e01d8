"""A group's tally: what a flush needs to know of all of an incident's alerts, kept up to date
from the alerts that changed, so that a flush costs what changed and not what the group holds
(issue 18). Pure: the engine (``engine/flush.py``) reads the alerts that changed and stores the
tally on the incident.

A member's state is what the timeline last said of it (``incidents.flush.ALERT_EVENT_KINDS``:
fired, resolved, silenced, inhibited; None for an alert that ended before anything was said of
it) and whether a flush ever sent it as firing. The tally holds, over all members:

- the counts a flush decides with: unmuted firing, muted (firing, silenced or inhibited), and
  resolved after being sent as firing;
- the digest of the firing and the resolved sets (Alertmanager's dedup: a changed set is news).
  It is a set hash (each fingerprint's hash, XORed), so that a member joining or leaving a set
  changes it in O(1); a full recompute (``Tally.of``) gives the same value;
- the alert names of the unresolved members, counted (the title names them), and the values
  of the severity label of the firing ones (the incident is rated from them);
- the first few members of each kind, earliest started first (``ranked``: what a flush event
  names), as a short ordered buffer, refilled from the database when it runs low;
- ``next_end``: no unresolved member ends before it (a lower bound), so that a flush only looks
  for alerts that ended by themselves once that time has passed;
- the keys of what muting depends on (the active silences, the inhibition rules) and how many
  members an inhibition rule targets: when either key changes, or a member is a target, the
  flush recomputes in full (``Tally.of``), as inhibition depends on alerts outside the group.

A new incident starts with a ``FRESH`` tally (nothing read; every alert it has is dirty), so
that a storm's first flush, which may find hundreds of thousands of alerts, reads them in
chunks too (``engine/flush.py``).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from tocsin.alerts.model import Alert

UNRESOLVED = frozenset({"fired", "silenced", "inhibited"})
MUTED = frozenset({"silenced", "inhibited"})
KINDS = ("firing", "resolved", "muted")  # the kinds a flush event names members of
NAMED = 5  # members named per kind (incidents.flush.NAMED)
KEPT = 4 * NAMED  # members kept per kind in the buffer, so that a few may leave it
MAX_NAMES = 1000  # distinct alert names counted; beyond, the tally is not kept
DIGEST_PREFIX = "s1:"  # a set-hash digest; a stored digest without it is of before 0008


@dataclass(frozen=True)
class Member:
    """One alert of the incident as a flush knows it: the alert, what the timeline last said
    of it, and whether a flush sent it as firing."""

    alert: Alert
    said: str | None
    sent: bool


Order = tuple[float, str, str]  # (started, labels as sorted JSON, fingerprint)


def order(fp: str, alert: Alert) -> Order:
    """How a flush event orders the alerts it names: earliest started first; at the same start,
    by labels (``instance=n1`` before ``n2``), compared as their sorted JSON text so that the
    database can order them the same way (``ORDER BY starts_at, labels``)."""
    return _started(alert), labels_text(alert.labels), fp


def _started(alert: Alert) -> float:
    return alert.starts_at.timestamp() if alert.starts_at else 0.0


def first_in_order(
    members: Iterable[tuple[str, Alert]], n: int, below: Order | None = None
) -> list[Order]:
    """The first ``n`` of ``members`` (fingerprint, alert) in ``order``; only those before
    ``below``, when given. Labels are made text only for the members whose start could place
    them among the first (a storm's flush of 20,000 changed alerts names five)."""
    if n <= 0:
        return []
    starts = [(_started(alert), fp, alert) for fp, alert in members]
    if not starts:  # most kinds of change, in most flushes
        return []
    if below is not None:
        starts = [entry for entry in starts if entry[0] <= below[0]]
    if len(starts) > n:
        # nothing that started after the n-th earliest start can be among the first n
        last = heapq.nsmallest(n, [entry[0] for entry in starts])[-1]
        starts = [entry for entry in starts if entry[0] <= last]
    entries = [(started, labels_text(alert.labels), fp) for started, fp, alert in starts]
    if below is not None:
        entries = [entry for entry in entries if entry < below]
    return sorted(entries)[:n]


def labels_text(labels: Mapping[str, str]) -> str:
    """Labels as the alerts table stores them (sorted keys, compact)."""
    return orjson.dumps(dict(labels), option=orjson.OPT_SORT_KEYS).decode()


def kind_of(said: str | None, sent: bool) -> str | None:
    """The kind of a member a flush event names it under, if any."""
    if said == "fired":
        return "firing"
    if said in MUTED:
        return "muted"
    if said == "resolved" and sent:
        return "resolved"
    return None


def fingerprint_hash(fp: str) -> int:
    return int.from_bytes(hashlib.blake2b(fp.encode(), digest_size=15).digest(), "big")


def digest(firing_hash: int, resolved_hash: int) -> str:
    """The flush digest of a firing set and a resolved set, from their set hashes."""
    return f"{DIGEST_PREFIX}{firing_hash:030x}{resolved_hash:030x}"


def set_hash(fingerprints: Iterable[str]) -> int:
    value = 0
    for fp in fingerprints:
        value ^= fingerprint_hash(fp)
    return value


@dataclass(frozen=True)
class Tally:
    firing: int = 0
    muted: int = 0
    resolved: int = 0
    firing_hash: int = 0
    resolved_hash: int = 0
    names: dict[str, int] = field(default_factory=dict)
    # the values of the severity label (``level_label``) of the unmuted firing members,
    # counted ("" for none): what the incident is rated from
    levels: dict[str, int] = field(default_factory=dict)
    level_label: str = "severity"
    # kind -> the first members of that kind, in ``order`` (at most ``KEPT``)
    ranked: dict[str, tuple[Order, ...]] = field(default_factory=dict)
    next_end: float | None = None
    silences: str = ""
    rules: str = ""
    targets: int = 0
    # a new incident's: nothing read yet, every alert of it dirty (``FRESH``)
    fresh: bool = False
    deferred: int = 0  # flushes in a row that held their news back while catching up

    @property
    def digest(self) -> str:
        return digest(self.firing_hash, self.resolved_hash)

    @property
    def unresolved(self) -> int:
        return self.firing + self.muted

    def count(self, kind: str) -> int:
        return {"firing": self.firing, "resolved": self.resolved, "muted": self.muted}[kind]

    def short(self, kind: str) -> bool:
        """Whether the buffer of ``kind`` holds fewer than a flush event names while more
        members are of that kind: it must be refilled (``refilled``) before naming them."""
        held = len(self.ranked.get(kind, ()))
        return held < NAMED and held < self.count(kind)

    def first(self, kind: str) -> list[str]:
        """The fingerprints a flush event names of ``kind``."""
        return [entry[2] for entry in self.ranked.get(kind, ())[:NAMED]]

    @classmethod
    def of(
        cls,
        members: Mapping[str, Member],
        *,
        silences: str,
        rules: str,
        targets: int,
        level_label: str = "severity",
    ) -> Tally:
        """The tally of all the members (after the flush's states are applied): the full
        recompute the incremental one (``advanced``) must agree with."""
        firing = [fp for fp, m in members.items() if m.said == "fired"]
        resolved = [fp for fp, m in members.items() if m.said == "resolved" and m.sent]
        names: dict[str, int] = {}
        levels: dict[str, int] = {}
        ranked: dict[str, list[Order]] = {kind: [] for kind in KINDS}
        ends: list[float] = []
        for fp, m in members.items():
            if m.said in UNRESOLVED:
                names[m.alert.name] = names.get(m.alert.name, 0) + 1
                if m.alert.ends_at is not None:
                    ends.append(m.alert.ends_at.timestamp())
            if m.said == "fired":
                level = m.alert.labels.get(level_label, "")
                levels[level] = levels.get(level, 0) + 1
            kind = kind_of(m.said, m.sent)
            if kind is not None:
                ranked[kind].append(order(fp, m.alert))
        return cls(
            firing=len(firing),
            muted=sum(1 for m in members.values() if m.said in MUTED),
            resolved=len(resolved),
            firing_hash=set_hash(firing),
            resolved_hash=set_hash(resolved),
            names=names,
            levels=levels,
            level_label=level_label,
            ranked={kind: tuple(sorted(entries)[:KEPT]) for kind, entries in ranked.items()},
            next_end=min(ends, default=None),
            silences=silences,
            rules=rules,
            targets=targets,
        )

    def advanced(self, before: Mapping[str, Member], after: Mapping[str, Member]) -> Tally:
        """The tally after the members in ``before`` (their states before this flush) changed
        to ``after`` (the same fingerprints, states after it); the other members are as
        they were."""
        firing, muted, resolved = self.firing, self.muted, self.resolved
        fh, rh = self.firing_hash, self.resolved_hash
        names = dict(self.names)
        levels = dict(self.levels)
        ranked = {kind: list(self.ranked.get(kind, ())) for kind in KINDS}
        next_end = self.next_end
        for sign, side in ((-1, before), (1, after)):
            for fp, m in side.items():
                h = fingerprint_hash(fp)
                if m.said == "fired":
                    firing += sign
                    fh ^= h
                    level = m.alert.labels.get(self.level_label, "")
                    levels[level] = levels.get(level, 0) + sign
                    if not levels[level]:
                        del levels[level]
                elif m.said in MUTED:
                    muted += sign
                elif m.said == "resolved" and m.sent:
                    resolved += sign
                    rh ^= h
                if m.said in UNRESOLVED:
                    name = m.alert.name
                    names[name] = names.get(name, 0) + sign
                    if not names[name]:
                        del names[name]
        for kind in KINDS:
            ranked[kind] = _reranked(self, kind, ranked[kind], before, after)
        for m in after.values():
            if m.said in UNRESOLVED and m.alert.ends_at is not None:
                end = m.alert.ends_at.timestamp()
                next_end = end if next_end is None else min(next_end, end)
        if firing + muted == 0:
            next_end = None
        return replace(
            self,
            firing=firing,
            muted=muted,
            resolved=resolved,
            firing_hash=fh,
            resolved_hash=rh,
            names=names,
            levels=levels,
            ranked={kind: tuple(entries) for kind, entries in ranked.items()},
            next_end=next_end,
            fresh=False,
        )

    def refilled(self, kind: str, first: Sequence[tuple[str, Alert]]) -> Tally:
        """The buffer of ``kind`` read again from the database: its first ``KEPT`` members
        in ``order``."""
        entries = tuple(sorted(order(fp, alert) for fp, alert in first)[:KEPT])
        return replace(self, ranked={**self.ranked, kind: entries})

    def with_next_end(self, next_end: float | None) -> Tally:
        return replace(self, next_end=next_end)

    def kept(self) -> bool:
        """Whether the tally can be kept (not too many names to count)."""
        return len(self.names) <= MAX_NAMES

    def to_json(self) -> str:
        """The tally as stored (``incidents.tally``): what equals its default is left out,
        as ``from_json`` reads it back (a new incident's ``FRESH`` is 32 bytes, not 198; each
        incident's row is written with it at least twice)."""
        full = {
            "v": 1,
            "firing": self.firing,
            "muted": self.muted,
            "resolved": self.resolved,
            "fh": f"{self.firing_hash:x}",
            "rh": f"{self.resolved_hash:x}",
            "names": self.names,
            "levels": self.levels,
            "level_label": self.level_label,
            "ranked": {kind: [list(e) for e in entries] for kind, entries in self.ranked.items()},
            "next_end": self.next_end,
            "silences": self.silences,
            "rules": self.rules,
            "targets": self.targets,
            "fresh": self.fresh,
            "deferred": self.deferred,
        }
        return orjson.dumps(
            {k: v for k, v in full.items() if k not in _DEFAULTS or v != _DEFAULTS[k]}
        ).decode()

    @classmethod
    def from_json(cls, text: str | None) -> Tally | None:
        """The stored tally; None when there is none (an incident of before 0008, or one the
        flush chose not to keep a tally for) or it is of another version."""
        if not text:
            return None
        data: dict[str, Any] = orjson.loads(text)
        if data.get("v") != 1:
            return None
        return cls(
            firing=int(data.get("firing", 0)),
            muted=int(data.get("muted", 0)),
            resolved=int(data.get("resolved", 0)),
            firing_hash=int(data.get("fh", "0"), 16),
            resolved_hash=int(data.get("rh", "0"), 16),
            names={str(k): int(v) for k, v in data.get("names", {}).items()},
            levels={str(k): int(v) for k, v in data.get("levels", {}).items()},
            level_label=str(data.get("level_label", "severity")),
            ranked={
                kind: tuple((float(e[0]), str(e[1]), str(e[2])) for e in entries)
                for kind, entries in data.get("ranked", {}).items()
            },
            next_end=data.get("next_end"),
            silences=str(data.get("silences", "")),
            rules=str(data.get("rules", "")),
            targets=int(data.get("targets", 0)),
            fresh=bool(data.get("fresh", False)),
            deferred=int(data.get("deferred", 0)),
        )


def _reranked(
    tally: Tally,
    kind: str,
    entries: list[Order],
    before: Mapping[str, Member],
    after: Mapping[str, Member],
) -> list[Order]:
    """The buffer of ``kind`` after the changes. It held the first ``len(entries)`` members
    of the kind. Without the changed members, it holds the first of the unchanged ones; where
    it held all of those, the changed members now of the kind merge in; where it did not,
    only those ranked before its last entry can (an unseen member may come between), and the
    buffer is refilled from the database when it runs low (``Tally.short``)."""
    kept = [entry for entry in entries if entry[2] not in before]
    unchanged = tally.count(kind) - sum(
        1 for m in before.values() if kind_of(m.said, m.sent) == kind
    )
    joining = ((fp, m.alert) for fp, m in after.items() if kind_of(m.said, m.sent) == kind)
    if len(kept) < unchanged:
        # only those ranked before its last entry: an unseen member may come between
        below = first_in_order(joining, KEPT, below=kept[-1]) if kept else []
        return sorted([*kept, *below])[:KEPT]
    return sorted([*kept, *first_in_order(joining, KEPT)])[:KEPT]


def muting_key(silence_ids: Iterable[tuple[str, float]]) -> str:
    """A key of the active silences (each one's id and when it was last changed): a flush
    whose key differs from the tally's recomputes every member's muting."""
    text = ",".join(f"{sid}@{updated!r}" for sid, updated in sorted(silence_ids))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def rules_key(rules: Sequence[object]) -> str:
    """A key of the inhibition rules (their text): a reload that changes them recomputes."""
    return hashlib.blake2b(repr(list(rules)).encode(), digest_size=16).hexdigest()


# the stored form's scalars left out when they are these (``Tally.to_json``)
_DEFAULTS: dict[str, object] = {
    "firing": 0,
    "muted": 0,
    "resolved": 0,
    "fh": "0",
    "rh": "0",
    "names": {},
    "levels": {},
    "level_label": "severity",
    "next_end": None,
    "silences": "",
    "rules": "",
    "targets": 0,
    "fresh": False,
    "deferred": 0,
}
# The tally a new incident starts with: none of its alerts read yet, all of them dirty (the
# intake marks every alert that joins), so that even its first flush reads them by the tally.
FRESH = Tally(fresh=True).to_json()
