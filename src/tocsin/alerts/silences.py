"""Silences with Alertmanager's semantics: state by time, validation, matching, and the rules
for updating a silence in place or replacing it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from tocsin.alerts.matchers import Matcher, Op, matches_all, validate_label_name
from tocsin.alerts.payloads import format_time


class SilenceState(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updated_at: datetime

    def state(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        if now >= self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.ACTIVE

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) is SilenceState.ACTIVE and matches_all(list(self.matchers), labels)


def validate(silence: Silence) -> list[str]:
    """Alertmanager's silence validation messages."""
    errors = []
    if not silence.matchers:
        errors.append("at least one matcher required")
    for m in silence.matchers:
        if not validate_label_name(m.name):
            errors.append(f"invalid label matcher: invalid label name {m.name!r}")
    if silence.matchers and all(m.matches("") for m in silence.matchers):
        errors.append("at least one matcher must not match the empty string")
    if silence.ends_at < silence.starts_at:
        errors.append("end time must not be before start time")
    return errors


def can_update(old: Silence, new: Silence, now: datetime) -> bool:
    """Whether ``new`` may change ``old`` in place (Alertmanager's ``canUpdate``): same
    matchers, and for an active silence the same start and an end not in the past; a pending
    one may move its start but not into the past; an expired one never changes."""
    if old.matchers != new.matchers:
        return False
    state = old.state(now)
    if state is SilenceState.ACTIVE:
        return new.starts_at == old.starts_at and not new.ends_at < now
    if state is SilenceState.PENDING:
        return not new.starts_at < now
    return False


def expire(silence: Silence, now: datetime) -> Silence:
    """Expire now: an active silence ends now; a pending one starts and ends now."""
    state = silence.state(now)
    if state is SilenceState.EXPIRED:
        raise ValueError(f"silence {silence.id} already expired")
    if state is SilenceState.PENDING:
        return replace(silence, starts_at=now, ends_at=now, updated_at=now)
    return replace(silence, ends_at=now, updated_at=now)


def silence_sort_key(silence: Silence, now: datetime) -> tuple[int, float]:
    """Alertmanager's order: active (soonest end first), pending (soonest start first),
    expired (latest end first)."""
    state = silence.state(now)
    if state is SilenceState.ACTIVE:
        return (1, silence.ends_at.timestamp())
    if state is SilenceState.PENDING:
        return (2, silence.starts_at.timestamp())
    return (3, -silence.ends_at.timestamp())


def silence_matches_filter(silence: Silence, matchers: list[Matcher]) -> bool:
    """Alertmanager's ``CheckSilenceMatchesFilterLabels``: every filter matcher equals one of
    the silence's matchers (name, type and value)."""
    return all(
        any(m.name == f.name and m.op == f.op and m.value == f.value for m in silence.matchers)
        for f in matchers
    )


# a regex that is only literal alternatives (``K1|K2``): matches exactly those strings
_LITERAL = r"[A-Za-z0-9_\-:/ ,@=]"
_LITERALS = re.compile(f"{_LITERAL}+(?:\\|{_LITERAL}+)*")
# the literal characters a regex without alternatives starts with, and what follows them
_PREFIX = re.compile(f"({_LITERAL}*)(.?)", re.S)


def _regex_prefix(regex: str) -> str:
    """A literal prefix every string the (fully anchored) regex matches starts with, or "".
    Conservative: a regex with ``|`` anywhere has none, and a last literal followed by a
    quantifier that allows zero (``?``, ``*``, ``{``) is dropped."""
    if "|" in regex:
        return ""
    found = _PREFIX.match(regex)
    assert found is not None
    prefix, after = found.groups()
    return prefix[:-1] if after in ("?", "*", "{") else prefix


def _index_keys(silence: Silence) -> tuple[bool, str, frozenset[str]] | None:
    """How to find the silence: (exact, label, values) when some matcher pins a label to
    non-empty values (``=`` with a value, ``=~`` of literal alternatives: exact) or to a
    literal prefix (``=~"host-1.*"``: not exact); else None. The empty value is never a key:
    it also matches an alert without the label."""
    for m in silence.matchers:
        if m.op is Op.EQ and m.value:
            return True, m.name, frozenset((m.value,))
    for m in silence.matchers:
        if m.op is Op.RE and _LITERALS.fullmatch(m.value):
            return True, m.name, frozenset(m.value.split("|"))
    best = ("", "")
    for m in silence.matchers:
        if m.op is Op.RE:
            prefix = _regex_prefix(m.value)
            if len(prefix) > len(best[1]):
                best = (m.name, prefix)
    return (False, best[0], frozenset((best[1],))) if best[1] else None


def next_change(silences: Sequence[Silence], now: datetime) -> datetime | None:
    """The first time after ``now`` at which one of ``silences`` starts or ends (the set of
    active silences changes), or None."""
    times = [s.starts_at if now < s.starts_at else s.ends_at for s in silences if now < s.ends_at]
    return min(times, default=None)


# the most fingerprints whose silences an index remembers; beyond, it forgets them all
MEMO_LIMIT = 500_000
# how many alerts (or silences) are checked between two calls of a budget's check
CHECK_EVERY = 512
# the most values of a label whose unindexed silences an index remembers (and counts)
MASKS_LIMIT = 65_536
# up to this many alerts at once (a group's flush), the unindexed silences are found by the
# value of the residual label; more (a listing), by each silence's most selective matcher
FEW_ALERTS = 64


class SilenceIndex:
    """The active silences at ``now``, indexed by one pinned label each (a label name -> a
    value or a literal prefix of the value -> the silences that need it), the others in a
    residual list: an alert is checked only against the silences that could match it, with
    the one matcher. Answers exactly what checking every silence would, in the order
    given.

    It holds until ``changes_at``, when one of the silences it was given (active or pending)
    starts or ends (``current``). It remembers the silences that mute each fingerprint
    (``silenced_many``), as Alertmanager does per silence-set version: a fingerprint stands
    for its labels, so an alert seen again is not matched again."""

    def __init__(self, silences: Sequence[Silence], now: datetime) -> None:
        self.built_at = now
        self.changes_at = next_change(silences, now)
        self._memo: dict[str, list[str]] = {}
        self.silences = [s for s in silences if s.state(now) is SilenceState.ACTIVE]
        self._by_label: dict[str, dict[str, list[int]]] = {}
        self._by_prefix: dict[str, dict[str, list[int]]] = {}
        self._prefix_lengths: dict[str, list[int]] = {}
        self._residual: list[int] = []
        for n, silence in enumerate(self.silences):
            keys = _index_keys(silence)
            if keys is None:
                self._residual.append(n)
                continue
            exact, name, values = keys
            by_value = (self._by_label if exact else self._by_prefix).setdefault(name, {})
            for value in values:
                by_value.setdefault(value, []).append(n)
        for name, by_prefix in self._by_prefix.items():
            self._prefix_lengths[name] = sorted({len(p) for p in by_prefix})
        # The silences left unindexed (say alertname=~".*db.*"), by each label they match
        # on: which of them a value of that label lets through, as a bit set, remembered per
        # value. An alert is looked up by the label with the fewest distinct values seen so
        # far (a storm's new alerts share a few alertnames, not instances), so a new alert
        # whose value was seen before is checked only against the silences it lets through.
        names = sorted({m.name for n in self._residual for m in self.silences[n].matchers})
        self._residual_names = names
        self._residual_on: dict[str, list[tuple[Matcher, ...]]] = {
            name: [
                tuple(m for m in self.silences[n].matchers if m.name == name)
                for n in self._residual
            ]
            for name in names
        }
        self._residual_always = {
            name: sum(1 << bit for bit, on in enumerate(self._residual_on[name]) if not on)
            for name in names
        }
        self._residual_masks: dict[str, dict[str, int]] = {name: {} for name in names}
        self._seen: dict[str, set[str]] = {name: set() for name in names}

    def __len__(self) -> int:
        return len(self.silences)

    def current(self, now: datetime) -> bool:
        """Whether these are still the active silences at ``now`` (given no silence was
        written since)."""
        return self.built_at <= now and (self.changes_at is None or now < self.changes_at)

    def _indexed(self, labels: Mapping[str, str]) -> list[int]:
        """The indexed silences that could match an alert with ``labels`` (each once)."""
        found: list[int] = []
        by_label = self._by_label
        if len(by_label) < len(labels):
            for name, by_value in by_label.items():
                value = labels.get(name)
                if value:
                    found.extend(by_value.get(value, ()))
        else:
            for name, value in labels.items():
                values = by_label.get(name)
                if values is not None and value:
                    found.extend(values.get(value, ()))
        for name, by_prefix in self._by_prefix.items():
            value = labels.get(name)
            if value:
                for length in self._prefix_lengths[name]:
                    if length > len(value):
                        break
                    found.extend(by_prefix.get(value[:length], ()))
        return found

    def _residual_for(
        self, labels: Mapping[str, str], tick: Callable[[], None] | None = None
    ) -> list[int]:
        """The unindexed silences whose matchers on one label (the one with the fewest
        distinct values seen) let an alert with ``labels`` through (each once, in order)."""
        if not self._residual:
            return []
        for name in self._residual_names:
            seen = self._seen[name]
            if len(seen) < MASKS_LIMIT:
                seen.add(labels.get(name, ""))
        name = min(self._residual_names, key=lambda n: len(self._seen[n]))
        value = labels.get(name, "")
        masks = self._residual_masks[name]
        mask = masks.get(value)
        if mask is None:
            mask = self._residual_always[name]
            for bit, on_name in enumerate(self._residual_on[name]):
                if tick is not None:
                    tick()
                if on_name and all(m.matches(value) for m in on_name):
                    mask |= 1 << bit
            if len(masks) >= MASKS_LIMIT:
                masks.clear()
            masks[value] = mask
        found = []
        while mask:
            low = mask & -mask
            found.append(self._residual[low.bit_length() - 1])
            mask ^= low
        return found

    def candidates(self, labels: Mapping[str, str]) -> list[Silence]:
        """The silences that could match an alert with ``labels`` (a superset of those that
        do), in the order given."""
        found = self._indexed(labels) + self._residual_for(labels)
        found.sort()
        return [self.silences[n] for n in found]

    def silenced_by(self, labels: Mapping[str, str]) -> list[str]:
        """The ids of the active silences that mute an alert with ``labels``."""
        return [s.id for s in self.candidates(labels) if matches_all(list(s.matchers), labels)]

    def silenced_many(
        self, alerts: Mapping[str, Mapping[str, str]], check: Callable[[], None] | None = None
    ) -> dict[str, list[str]]:
        """``silenced_by`` for many alerts (by fingerprint), only those muted. What was
        worked out for a fingerprint before is remembered; the others are matched. The
        silences that are not indexed are checked silence by silence: each one's most
        selective matcher is tried once per distinct value of its label among the alerts (a
        storm has many alerts but few alertnames), the rest only on the alerts that pass it.
        ``check`` is called now and then (a time budget: it raises to stop the work)."""
        memo = self._memo
        fresh = {fp: labels for fp, labels in alerts.items() if fp not in memo}
        if fresh:
            if len(memo) + len(fresh) > MEMO_LIMIT:
                memo.clear()
            found = self._match_many(fresh, check)
            for fp in fresh:
                memo[fp] = found.get(fp, [])
        answer = {}
        for fp in alerts:
            ids = memo.get(fp)
            if ids is None:  # forgotten meanwhile (another caller filled the memo)
                ids = self.silenced_by(alerts[fp])
            if ids:
                answer[fp] = ids
        return answer

    def _match_many(
        self, alerts: Mapping[str, Mapping[str, str]], check: Callable[[], None] | None
    ) -> dict[str, list[str]]:
        steps = 0

        def tick() -> None:
            nonlocal steps
            steps += 1
            if check is not None and steps % CHECK_EVERY == 0:
                check()

        hits: dict[str, list[int]] = {}
        if self._by_label or self._by_prefix:
            for fp, labels in alerts.items():
                tick()
                for n in self._indexed(labels):
                    if matches_all(list(self.silences[n].matchers), labels):
                        hits.setdefault(fp, []).append(n)
        if self._residual and len(alerts) <= FEW_ALERTS:
            for fp, labels in alerts.items():
                for n in self._residual_for(labels, tick):
                    if matches_all(list(self.silences[n].matchers), labels):
                        hits.setdefault(fp, []).append(n)
        elif self._residual:
            distinct: dict[str, dict[str, list[str]]] = {}

            def values_of(name: str) -> dict[str, list[str]]:
                found = distinct.get(name)
                if found is None:
                    found = distinct[name] = {}
                    for fp, labels in alerts.items():
                        found.setdefault(labels.get(name, ""), []).append(fp)
                return found

            for n in self._residual:
                tick()
                matchers = self.silences[n].matchers
                first = min(matchers, key=lambda m: len(values_of(m.name)))
                rest = [m for m in matchers if m is not first]
                for value, fps in values_of(first.name).items():
                    tick()
                    if not first.matches(value):
                        continue
                    for fp in fps:
                        if matches_all(rest, alerts[fp]):
                            hits.setdefault(fp, []).append(n)
        return {fp: [self.silences[n].id for n in sorted(hits[fp])] for fp in alerts if fp in hits}


def silenced_by(silences: Sequence[Silence], labels: Mapping[str, str], now: datetime) -> list[str]:
    """Every silence checked against one alert: what ``SilenceIndex`` must agree with."""
    return [s.id for s in silences if s.mutes(labels, now)]


def silence_json(silence: Silence, now: datetime) -> dict[str, Any]:
    """A silence in Alertmanager's API shape (``gettableSilence``), its state at ``now``: what
    ``/api/v2/silences`` answers and ``tocsin silence list`` reads."""
    return {
        "id": silence.id,
        "status": {"state": silence.state(now).value},
        "updatedAt": format_time(silence.updated_at),
        "comment": silence.comment,
        "createdBy": silence.created_by,
        "endsAt": format_time(silence.ends_at),
        "matchers": [
            {"isEqual": m.is_equal, "isRegex": m.is_regex, "name": m.name, "value": m.value}
            for m in silence.matchers
        ],
        "startsAt": format_time(silence.starts_at),
    }
