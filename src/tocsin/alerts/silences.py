"""Silences with Alertmanager's semantics: state by time, validation, matching, and the rules
for updating a silence in place or replacing it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from tocsin.alerts.matchers import Matcher, matches_all, validate_label_name
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
