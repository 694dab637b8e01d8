"""Payload formats: the JSON that monitoring systems send, read into ``Alert`` values.

- Alertmanager API v2 ``postableAlerts`` (what Prometheus and amtool send),
- the Alertmanager webhook (version 4), for teams that keep Alertmanager in front,
- PagerDuty Events API v2 (``/v2/enqueue``),
- tocsin's generic JSON (``/api/v1/alerts``).

Everything here is untrusted input: sizes are bounded, types checked, and every problem is a
message for a 4xx answer. Structural errors (the shape of the payload) are told apart from
per-alert errors, as Alertmanager does: the first reject the whole request (422), the second
reject only their alert (400 after the valid ones are stored).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from tocsin import errors, times
from tocsin.alerts.matchers import Matcher, MatcherError, from_api
from tocsin.alerts.model import Alert, validate, with_defaults
from tocsin.errors import Invalid


@dataclass(frozen=True)
class Limits:
    max_alerts_per_batch: int = 1000
    max_labels_per_alert: int = 64
    max_label_name_bytes: int = 256
    max_label_value_bytes: int = 4096
    max_annotations_per_alert: int = 64
    max_annotation_value_bytes: int = 16384


class StructuralError(Invalid):
    """The payload does not have the documented shape: rejected whole (HTTP 422)."""


TooLarge = errors.TooLarge  # more alerts in one request than allowed


@dataclass
class Parsed:
    alerts: list[Alert] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # per-alert problems (HTTP 400)


class OutOfRange(Invalid):
    """A well-formed time outside years 1 to 9999 in UTC: rejects its alert alone (HTTP 400
    after the valid ones are stored), a silence, or a query."""


def parse_time(value: Any, where: str) -> datetime | None:
    """RFC 3339 time; Go's zero time (``0001-01-01T00:00:00Z``) means not set. A malformed
    time is a ``StructuralError``; a well-formed one that no UTC date holds is ``OutOfRange``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise StructuralError(f"{where} in body must be of type date-time: {value!r}")
    text = value.strip()
    zero = text.startswith("0001-01-01")  # Go's zero time, however written
    try:
        parsed = times.parse_time(text).astimezone(UTC)
    except times.OutOfRange:
        raise OutOfRange(f"{where} {value!r} is outside years 1 to 9999 in UTC") from None
    except ValueError:
        if zero:
            return None
        raise StructuralError(f"{where} in body must be of type date-time: {value!r}") from None
    return None if zero else parsed


@lru_cache(maxsize=4096)
def format_time(dt: datetime | None) -> str:
    """Alertmanager's time format: RFC 3339 with milliseconds, UTC (remembered: in a storm
    many alerts share their times)."""
    if dt is None:
        return "0001-01-01T00:00:00.000Z"
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _label_set(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise StructuralError(f"{where} in body must be of type object")
    if not _STR.issuperset(map(type, value.values())):
        for key, item in value.items():
            if not isinstance(item, str):
                raise StructuralError(f"{where}.{key} in body must be of type string")
    return value


_STR = frozenset([str])


def _check_limits(alert: Alert, limits: Limits, index: int) -> list[str]:
    errors = []
    if len(alert.labels) > limits.max_labels_per_alert:
        errors.append(
            f"alert {index}: {len(alert.labels)} labels, more than the "
            f"{limits.max_labels_per_alert} allowed"
        )
    if len(alert.annotations) > limits.max_annotations_per_alert:
        errors.append(
            f"alert {index}: {len(alert.annotations)} annotations, more than the "
            f"{limits.max_annotations_per_alert} allowed"
        )
    for name, value in alert.labels.items():
        if len(name.encode()) > limits.max_label_name_bytes:
            errors.append(
                f"alert {index}: label name {name[:40]!r}… is longer than "
                f"{limits.max_label_name_bytes} bytes"
            )
        if len(value.encode()) > limits.max_label_value_bytes:
            errors.append(
                f"alert {index}: label {name!r} value is longer than "
                f"{limits.max_label_value_bytes} bytes"
            )
    for name, value in alert.annotations.items():
        if len(value.encode()) > limits.max_annotation_value_bytes:
            errors.append(
                f"alert {index}: annotation {name!r} is longer than "
                f"{limits.max_annotation_value_bytes} bytes"
            )
    return errors


def finish(
    raw: Sequence[Alert | str], now: datetime, resolve_timeout_s: float, limits: Limits
) -> Parsed:
    """Defaults and validation for alerts read from any format; a string in ``raw`` is the
    problem that already rejected its alert (a time out of range)."""
    out = Parsed()
    for index, alert in enumerate(raw):
        if isinstance(alert, str):
            out.errors.append(alert)
            continue
        ready = with_defaults(alert, now, resolve_timeout_s)
        if _plainly_fine(ready, limits):
            out.alerts.append(ready)
            continue
        problems = validate(ready) + _check_limits(ready, limits, index)
        if problems:
            labels = json.dumps(ready.labels, sort_keys=True)[:200]
            out.errors.extend(
                f"{p}" if p.startswith("alert ") else f"{labels}: {p}" for p in problems
            )
            continue
        _learn_names(ready)
        out.alerts.append(ready)
    return out


# Label and annotation names that passed the full check, so that the next alert with the same
# names passes in one call. Bounded; a name not here only costs the full check.
_KNOWN_NAMES: set[str] = set()
_KNOWN_NAMES_MAX = 10_000
_KNOWN_NAME_CHARS = 64


def _learn_names(alert: Alert) -> None:
    if len(_KNOWN_NAMES) < _KNOWN_NAMES_MAX:
        names = (*alert.labels, *alert.annotations)
        _KNOWN_NAMES.update(n for n in names if len(n) <= _KNOWN_NAME_CHARS)


def _plainly_fine(alert: Alert, limits: Limits) -> bool:
    """A quick yes for the usual alert (known names, within every limit by length alone, a
    start before its end); no only means that the full check must tell."""
    labels, annotations = alert.labels, alert.annotations
    assert alert.starts_at is not None and alert.ends_at is not None
    return (
        bool(labels)
        and _KNOWN_NAMES.issuperset(labels)
        and _KNOWN_NAMES.issuperset(annotations)
        and limits.max_label_name_bytes >= 4 * _KNOWN_NAME_CHARS
        and len(labels) <= limits.max_labels_per_alert
        and len(annotations) <= limits.max_annotations_per_alert
        and 4 * max(map(len, labels.values())) <= limits.max_label_value_bytes
        and 4 * max(map(len, annotations.values()), default=0) <= limits.max_annotation_value_bytes
        and alert.starts_at <= alert.ends_at
    )


def _rejected(index: int, labels: dict[str, str], exc: OutOfRange) -> str:
    """The message that rejects one alert of a batch for a time out of range."""
    return f"alert {index}: {json.dumps(labels, sort_keys=True)[:200]}: {exc.message}"


def _batch(items: Any, limits: Limits, what: str) -> list[Any]:
    if not isinstance(items, list):
        raise StructuralError(f"{what} must be a JSON array")
    if len(items) > limits.max_alerts_per_batch:
        raise TooLarge(
            f"{len(items)} alerts in one request, more than the "
            f"{limits.max_alerts_per_batch} allowed"
        )
    return items


def parse_v2(body: Any, now: datetime, resolve_timeout_s: float, limits: Limits) -> Parsed:
    """Alertmanager API v2 ``postableAlerts``."""
    raw: list[Alert | str] = []
    for i, item in enumerate(_batch(body, limits, "alerts body")):
        if not isinstance(item, dict):
            raise StructuralError(f"{i} in body must be of type object")
        if "labels" not in item:
            raise StructuralError(f"{i}.labels in body is required")
        url = item.get("generatorURL", "")
        if not isinstance(url, str):
            raise StructuralError(f"{i}.generatorURL in body must be of type string")
        labels = dict(_label_set(item["labels"], f"{i}.labels"))
        annotations = dict(_label_set(item.get("annotations") or {}, f"{i}.annotations"))
        try:
            starts_at = parse_time(item.get("startsAt"), f"{i}.startsAt")
            ends_at = parse_time(item.get("endsAt"), f"{i}.endsAt")
        except OutOfRange as exc:
            raw.append(_rejected(i, labels, exc))
            continue
        raw.append(
            Alert(
                labels=labels,
                annotations=annotations,
                starts_at=starts_at,
                ends_at=ends_at,
                generator_url=url[:2048],
            )
        )
    return finish(raw, now, resolve_timeout_s, limits)


def parse_webhook(body: Any, now: datetime, resolve_timeout_s: float, limits: Limits) -> Parsed:
    """Alertmanager's webhook payload (version 4): its ``alerts`` with their status."""
    if not isinstance(body, dict):
        raise StructuralError("webhook body must be a JSON object")
    version = body.get("version")
    if version not in ("4", 4):
        raise StructuralError(f'unsupported webhook version {version!r}; expected "4"')
    raw: list[Alert | str] = []
    for i, item in enumerate(_batch(body.get("alerts"), limits, "alerts")):
        if not isinstance(item, dict) or "labels" not in item:
            raise StructuralError(f"alerts.{i}.labels is required")
        labels = dict(_label_set(item["labels"], f"alerts.{i}.labels"))
        annotations = dict(_label_set(item.get("annotations") or {}, f"alerts.{i}.annotations"))
        status = item.get("status", "firing")
        try:
            ends_at = parse_time(item.get("endsAt"), f"alerts.{i}.endsAt")
            starts_at = parse_time(item.get("startsAt"), f"alerts.{i}.startsAt")
        except OutOfRange as exc:
            raw.append(_rejected(i, labels, exc))
            continue
        if status == "resolved" and ends_at is None:
            ends_at = now
        if status == "firing":
            ends_at = None  # Alertmanager sends no real end for firing alerts
        raw.append(
            Alert(
                labels=labels,
                annotations=annotations,
                starts_at=starts_at,
                ends_at=ends_at,
                generator_url=str(item.get("generatorURL", ""))[:2048],
            )
        )
    return finish(raw, now, resolve_timeout_s, limits)


_PD_SEVERITIES = {"critical", "error", "warning", "info"}
_PD_ACTIONS = {"trigger", "acknowledge", "resolve"}


@dataclass(frozen=True)
class PagerDutyEvent:
    action: str
    dedup_key: str | None
    alert: Alert | None  # for trigger


class PagerDutyInvalid(Invalid):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


# the deduplication keys of ``intakes:``' alerts (``service.sources.keyed``) begin so
INTAKE_KEY_PREFIX = "intake:"


def parse_pagerduty(body: Any) -> PagerDutyEvent:
    """A PagerDuty Events API v2 event. Errors are PagerDuty's ``invalid event`` list."""
    errors: list[str] = []
    if not isinstance(body, dict):
        raise PagerDutyInvalid(["Event object must be a JSON object"])
    key = body.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or blank")
    action = body.get("event_action")
    if action not in _PD_ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    elif isinstance(dedup, str) and dedup.startswith(INTAKE_KEY_PREFIX):
        # the keys of intakes:' alerts share the table: a PagerDuty event naming one would
        # choose the labels of another tool's next alert, or acknowledge and resolve it
        errors.append(f"'dedup_key' may not begin with {INTAKE_KEY_PREFIX!r} (tocsin's intakes)")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append(f"'dedup_key' is required for {action} events")
    alert = None
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            for name in ("summary", "source", "severity"):
                if not isinstance(payload.get(name), str) or not payload.get(name):
                    errors.append(f"'payload.{name}' is missing or blank")
            if payload.get("severity") not in _PD_SEVERITIES | {None}:
                errors.append(
                    "'payload.severity' is invalid (must be one of critical, error, warning, info)"
                )
            if isinstance(payload.get("summary"), str) and len(payload["summary"]) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
            if not errors:
                labels = {
                    "alertname": str(payload.get("class") or "PagerDutyEvent")[:200],
                    "severity": str(payload["severity"]),
                    "source": str(payload["source"])[:255],
                }
                for extra in ("component", "group"):
                    if isinstance(payload.get(extra), str) and payload[extra]:
                        labels[extra] = payload[extra][:255]
                annotations = {"summary": payload["summary"]}
                details = payload.get("custom_details")
                if details is not None:
                    annotations["custom_details"] = json.dumps(details)[:16384]
                starts = None
                if isinstance(payload.get("timestamp"), str):
                    try:
                        starts = parse_time(payload["timestamp"], "payload.timestamp")
                    except StructuralError:
                        errors.append("'payload.timestamp' is not an ISO 8601 time")
                    except OutOfRange:
                        errors.append("'payload.timestamp' is outside years 1 to 9999 in UTC")
                alert = Alert(labels=labels, annotations=annotations, starts_at=starts)
    if errors:
        raise PagerDutyInvalid(errors)
    return PagerDutyEvent(action=str(action), dedup_key=dedup, alert=alert)


def parse_generic(body: Any, now: datetime, resolve_timeout_s: float, limits: Limits) -> Parsed:
    """tocsin's own shape (docs/intake.md): ``{"alerts": [{"name", "labels", "annotations",
    "status", "starts_at", "ends_at", "severity", "summary"}]}`` or one such object."""
    if isinstance(body, dict) and "alerts" not in body:
        body = {"alerts": [body]}
    if not isinstance(body, dict):
        raise StructuralError("body must be a JSON object")
    raw: list[Alert | str] = []
    for i, item in enumerate(_batch(body.get("alerts"), limits, "alerts")):
        if not isinstance(item, dict):
            raise StructuralError(f"alerts[{i}] must be an object")
        labels = dict(_label_set(item.get("labels") or {}, f"alerts[{i}].labels"))
        annotations = dict(_label_set(item.get("annotations") or {}, f"alerts[{i}].annotations"))
        for key, target in (("name", "alertname"), ("severity", "severity")):
            value = item.get(key)
            if value is not None:
                if not isinstance(value, str):
                    raise StructuralError(f"alerts[{i}].{key} must be a string")
                labels[target] = value
        if isinstance(item.get("summary"), str):
            annotations["summary"] = item["summary"]
        status = item.get("status", "firing")
        if status not in ("firing", "resolved"):
            raise StructuralError(f"alerts[{i}].status must be firing or resolved")
        try:
            ends_at = parse_time(item.get("ends_at"), f"alerts[{i}].ends_at")
            starts_at = parse_time(item.get("starts_at"), f"alerts[{i}].starts_at")
        except OutOfRange as exc:
            raw.append(_rejected(i, labels, exc))
            continue
        if status == "resolved" and ends_at is None:
            ends_at = now
        raw.append(
            Alert(
                labels=labels,
                annotations=annotations,
                starts_at=starts_at,
                ends_at=ends_at,
            )
        )
    return finish(raw, now, resolve_timeout_s, limits)


def parse_silence(body: Any) -> tuple[str | None, list[Matcher], datetime, datetime, str, str]:
    """An Alertmanager v2 ``postableSilence``: (id, matchers, start, end, createdBy, comment).
    Shape errors raise StructuralError (422); an invalid matcher raises ValueError (400)."""
    if not isinstance(body, dict):
        raise StructuralError("silence in body must be of type object")
    for name in ("matchers", "startsAt", "endsAt", "createdBy", "comment"):
        value = body.get(name)
        if value is None or value == "":
            raise StructuralError(f"{name} in body is required")
    if not isinstance(body["matchers"], list):
        raise StructuralError("matchers in body must be of type array")
    if not body["matchers"]:
        raise StructuralError("matchers in body should have at least 1 items")
    for name in ("createdBy", "comment"):
        if not isinstance(body[name], str):
            raise StructuralError(f"{name} in body must be of type string")
        if len(body[name]) > 4096:
            raise StructuralError(f"{name} in body should be at most 4096 chars long")
    if len(body["matchers"]) > 100:
        raise StructuralError("matchers in body should have at most 100 items")
    raw_matchers = []
    for i, m in enumerate(body["matchers"]):
        if not isinstance(m, dict):
            raise StructuralError(f"matchers.{i} in body must be of type object")
        for name in ("name", "value", "isRegex"):
            if m.get(name) is None or (name == "name" and m.get(name) == ""):
                raise StructuralError(f"matchers.{i}.{name} in body is required")
        if not isinstance(m["name"], str) or not isinstance(m["value"], str):
            raise StructuralError(f"matchers.{i} name and value must be strings")
        if not isinstance(m["isRegex"], bool) or not isinstance(m.get("isEqual", True), bool):
            raise StructuralError(f"matchers.{i}.isRegex in body must be of type boolean")
        raw_matchers.append(m)
    starts = parse_time(body["startsAt"], "startsAt")
    ends = parse_time(body["endsAt"], "endsAt")
    if starts is None or ends is None:
        raise StructuralError("startsAt and endsAt in body are required")
    silence_id = body.get("id")
    if silence_id is not None and not isinstance(silence_id, str):
        raise StructuralError("id in body must be of type string")
    matchers = []
    for i, m in enumerate(raw_matchers):
        try:
            matchers.append(from_api(m["name"], m["value"], m["isRegex"], m.get("isEqual", True)))
        except MatcherError as exc:
            raise ValueError(f"invalid silence: invalid label matcher {i}: {exc}") from None
    return silence_id or None, matchers, starts, ends, body["createdBy"], body["comment"]
