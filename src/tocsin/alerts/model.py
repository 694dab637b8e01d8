"""The alert as tocsin keeps it, with Alertmanager's merge rule for updates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from tocsin.alerts.fingerprint import fingerprint_hex


@dataclass(frozen=True, init=False)
class Alert:
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    updated_at: datetime | None = None
    generator_url: str = ""
    # True when ends_at was not given and was set to now + resolve_timeout
    timeout: bool = False

    def __init__(
        self,
        labels: dict[str, str],
        annotations: dict[str, str] | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        updated_at: datetime | None = None,
        generator_url: str = "",
        timeout: bool = False,
    ) -> None:
        # the generated __init__ of a frozen dataclass sets each field through
        # object.__setattr__, four times slower than filling the instance's dict at once; the
        # intake builds two of these per alert it takes in
        self.__dict__.update(
            labels=labels,
            annotations={} if annotations is None else annotations,
            starts_at=starts_at,
            ends_at=ends_at,
            updated_at=updated_at,
            generator_url=generator_url,
            timeout=timeout,
        )

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint_hex(self.labels)

    def resolved(self, now: datetime) -> bool:
        return self.ends_at is not None and self.ends_at <= now

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


def with_defaults(alert: Alert, now: datetime, resolve_timeout_s: float) -> Alert:
    """What Alertmanager does on intake: startsAt defaults to now (or to endsAt when only that
    is given), a missing endsAt becomes now + resolve_timeout and marks the alert as timing
    out, and empty-valued labels are dropped."""
    starts_at = alert.starts_at
    ends_at = alert.ends_at
    timeout = alert.timeout
    if starts_at is None:
        starts_at = ends_at if ends_at is not None else now
    if ends_at is None:
        timeout = True
        ends_at = now + timedelta(seconds=resolve_timeout_s)
    labels = alert.labels if "" not in alert.labels.values() else _non_empty(alert.labels)
    # built directly rather than with dataclasses.replace: this runs once per alert taken in
    return Alert(
        labels=labels,
        annotations=alert.annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        updated_at=now,
        generator_url=alert.generator_url,
        timeout=timeout,
    )


def _non_empty(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if v != ""}


def validate(alert: Alert) -> list[str]:
    """Alertmanager's ``Alert.Validate`` messages, for an alert after ``with_defaults``."""
    from tocsin.alerts.matchers import validate_label_name

    errors: list[str] = []
    if alert.starts_at is None:
        errors.append("start time missing")
    if alert.ends_at is None:
        errors.append("end time missing")
    if alert.starts_at and alert.ends_at and alert.ends_at < alert.starts_at:
        errors.append("start time must be before end time")
    if not alert.labels:
        errors.append("at least one label pair required")
    for name in [*alert.labels, *alert.annotations]:
        if not validate_label_name(name):
            errors.append(f'invalid name "{name}"')
    return errors


def overlaps(old: Alert, new: Alert) -> bool:
    """Alertmanager merges an update into the stored alert only when the update's end or start
    falls strictly inside the stored alert's activity range; otherwise the update replaces it."""
    assert old.starts_at and old.ends_at and new.starts_at and new.ends_at
    return (old.starts_at < new.ends_at < old.ends_at) or (
        old.starts_at < new.starts_at < old.ends_at
    )


def same_episode(old: Alert, new: Alert) -> bool:
    """Whether an update continues the stored alert or starts a new firing episode of the same
    fingerprint: a new episode starts after the stored one has ended. tocsin keeps every
    episode as history, where Alertmanager would overwrite it."""
    assert old.ends_at and new.starts_at
    return new.starts_at <= old.ends_at


def update(old: Alert, new: Alert, now: datetime) -> Alert:
    """The stored alert after an update of the same episode, as Alertmanager's store does it."""
    return merge(old, new, now) if overlaps(old, new) else new


def merge(old: Alert, new: Alert, now: datetime) -> Alert:
    """Alertmanager's ``Alert.Merge``: the younger alert wins, with the earliest start; an
    explicit (non-timeout) later end wins over a timeout end while firing; the latest explicit
    resolve wins when both are resolved."""
    a, o = old, new
    assert a.updated_at and o.updated_at
    if o.updated_at < a.updated_at:
        a, o = o, a
    starts_at = (
        a.starts_at if a.starts_at and o.starts_at and a.starts_at < o.starts_at else o.starts_at
    )
    ends_at = o.ends_at
    assert a.ends_at and o.ends_at
    if o.resolved(now):
        if a.resolved(now) and a.ends_at > o.ends_at:
            ends_at = a.ends_at
    elif a.ends_at > o.ends_at and not a.timeout:
        ends_at = a.ends_at
    return replace(o, starts_at=starts_at, ends_at=ends_at)


def iso_or_none(at: datetime | None) -> str | None:
    """A time as ISO 8601 (what messages and the timeline carry), None when not set."""
    return at.isoformat() if at else None


def alert_json(
    fingerprint: str,
    alert: Alert,
    *,
    when: datetime | None = None,
    annotations: bool = True,
    time: Callable[[datetime | None], str | None] = iso_or_none,
) -> dict[str, Any]:
    """The one JSON shape of an alert, for whoever reads it: ``fingerprint``, with ``when``
    its ``status`` then (firing or resolved), ``labels``, ``annotations`` (unless left out,
    as the timeline's brief does), ``starts_at`` and ``ends_at`` written by ``time`` (ISO
    8601 by default; the API passes Alertmanager's format)."""
    out: dict[str, Any] = {"fingerprint": fingerprint}
    if when is not None:
        out["status"] = "resolved" if alert.resolved(when) else "firing"
    out["labels"] = alert.labels
    if annotations:
        out["annotations"] = alert.annotations
    out["starts_at"] = time(alert.starts_at)
    out["ends_at"] = time(alert.ends_at)
    return out
