"""Intake mappings: JSON from any tool read into ``Alert`` values through field paths.

A mapping (``intakes:`` in ``tocsin.yaml``, docs/sources.md) names, as JMESPath expressions
(https://jmespath.org, the ``jmespath`` package), where a payload keeps its list of alerts and,
in each alert, its labels, annotations, status, times, link and deduplication key. The shipped
mappings (``SHIPPED``: Grafana alerting's webhook, Datadog's webhook, CloudWatch alarms through
SNS, Zabbix) are the same data, tested against their documented example payloads.

Everything a payload holds is untrusted: an expression only reads it (JMESPath has no
side effects and no loops of its own; its cost follows the payload, which ``limits`` bound),
values are turned into bounded strings, label names from a payload are made valid, and every
problem is a message for a 4xx answer, as in ``payloads.py``. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.parser

from tocsin.alerts.model import Alert
from tocsin.alerts.payloads import (
    Limits,
    OutOfRange,
    Parsed,
    StructuralError,
    _batch,
    finish,
    parse_time,
)
from tocsin.errors import Invalid

# the label that carries a source's deduplication key (as the PagerDuty intake's does)
DEDUP_LABEL = "dedup_key"
_NAME = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class MappingSpec:
    """A mapping as written: JMESPath expressions (None: not read). ``alerts``: the list of
    alerts in the body (None: the body is one alert); ``labels``/``annotations``: a name and
    the expression of its value, on each alert; ``labels_from``/``annotations_from``: an
    expression whose value gives many at once (an object, a list of ``[name, value]`` pairs,
    or a string of comma-separated ``name:value`` tags); ``status``: the expression and the
    values that mean firing and resolved (compared without case); ``resolve_timeout_s``: how
    long a firing alert with no end stays firing without news (None: the server's)."""

    alerts: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    labels_from: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    annotations_from: str | None = None
    status: str | None = None
    firing: tuple[str, ...] = ("firing",)
    resolved: tuple[str, ...] = ("resolved",)
    starts_at: str | None = None
    ends_at: str | None = None
    generator_url: str | None = None
    dedup_key: str | None = None
    resolve_timeout_s: float | None = None


@dataclass(frozen=True)
class _Compiled:
    alerts: jmespath.parser.ParsedResult | None
    labels: tuple[tuple[str, jmespath.parser.ParsedResult], ...]
    labels_from: jmespath.parser.ParsedResult | None
    annotations: tuple[tuple[str, jmespath.parser.ParsedResult], ...]
    annotations_from: jmespath.parser.ParsedResult | None
    status: jmespath.parser.ParsedResult | None
    firing: frozenset[str]
    resolved: frozenset[str]
    starts_at: jmespath.parser.ParsedResult | None
    ends_at: jmespath.parser.ParsedResult | None
    generator_url: jmespath.parser.ParsedResult | None
    dedup_key: jmespath.parser.ParsedResult | None
    resolve_timeout_s: float | None


def _expression(text: str | None, where: str) -> jmespath.parser.ParsedResult | None:
    if text is None:
        return None
    try:
        return jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        why = " ".join(str(exc).split())
        raise Invalid(f"{where}: {text!r} is not a JMESPath expression: {why}") from None


class IntakeMapping:
    """A mapping compiled once (at load: a bad expression is an ``Invalid`` naming its
    field), then a parser with the intakes' shape: ``mapping.parse(body, now,
    resolve_timeout_s, limits) -> Parsed``."""

    def __init__(self, spec: MappingSpec, where: str = "mapping") -> None:
        for name in [*spec.labels, *spec.annotations]:
            if not (name.isascii() and name.isidentifier()):
                raise Invalid(f"{where}: {name!r} is not a valid label or annotation name")
        overlap = set(map(str.lower, spec.firing)) & set(map(str.lower, spec.resolved))
        if overlap:
            raise Invalid(f"{where}.status: {sorted(overlap)} both firing and resolved")
        self.spec = spec
        self._c = _Compiled(
            alerts=_expression(spec.alerts, f"{where}.alerts"),
            labels=tuple(
                (k, e)
                for k, v in spec.labels.items()
                if (e := _expression(v, f"{where}.labels.{k}"))
            ),
            labels_from=_expression(spec.labels_from, f"{where}.labels_from"),
            annotations=tuple(
                (k, e)
                for k, v in spec.annotations.items()
                if (e := _expression(v, f"{where}.annotations.{k}"))
            ),
            annotations_from=_expression(spec.annotations_from, f"{where}.annotations_from"),
            status=_expression(spec.status, f"{where}.status.path"),
            firing=frozenset(v.lower() for v in spec.firing),
            resolved=frozenset(v.lower() for v in spec.resolved),
            starts_at=_expression(spec.starts_at, f"{where}.starts_at"),
            ends_at=_expression(spec.ends_at, f"{where}.ends_at"),
            generator_url=_expression(spec.generator_url, f"{where}.generator_url"),
            dedup_key=_expression(spec.dedup_key, f"{where}.dedup_key"),
            resolve_timeout_s=spec.resolve_timeout_s,
        )

    def parse(self, body: Any, now: datetime, resolve_timeout_s: float, limits: Limits) -> Parsed:
        """The alerts of one payload: a payload with no list where ``alerts`` points is
        refused whole (``StructuralError``, 422); more alerts than ``limits`` allow is
        ``TooLarge`` (413); an alert whose status or time cannot be read is refused alone."""
        c = self._c
        if c.alerts is None:
            items: list[Any] = [body]
        else:
            items = _batch(_search(c.alerts, body), limits, f"{self.spec.alerts!r} of the body")
        raw: list[Alert | str] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise StructuralError(f"alert {i} must be a JSON object")
            try:
                raw.append(self._alert(item, now, i))
            except (_Refused, OutOfRange) as exc:
                raw.append(f"alert {i}: {exc}")
        timeout = c.resolve_timeout_s if c.resolve_timeout_s is not None else resolve_timeout_s
        return finish(raw, now, timeout, limits)

    def _alert(self, item: dict[str, Any], now: datetime, i: int) -> Alert:
        c = self._c
        labels: dict[str, str] = {}
        if c.labels_from is not None:
            labels.update(_pairs(_search(c.labels_from, item)))
        for name, expr in c.labels:
            value = _text(_search(expr, item))
            if value:
                labels[name] = value
        annotations: dict[str, str] = {}
        if c.annotations_from is not None:
            annotations.update(_pairs(_search(c.annotations_from, item)))
        for name, expr in c.annotations:
            value = _text(_search(expr, item))
            if value:
                annotations[name] = value
        if c.dedup_key is not None:
            key = _text(_search(c.dedup_key, item))
            if key:
                if len(key) > 200:
                    raise _Refused("its deduplication key is longer than 200 characters")
                labels[DEDUP_LABEL] = key
        status = "firing"
        if c.status is not None:
            said = _text(_search(c.status, item))
            if said.lower() in c.resolved:
                status = "resolved"
            elif said.lower() not in c.firing:
                raise _Refused(
                    f"status {said[:80]!r} is neither firing ({', '.join(sorted(c.firing))}) "
                    f"nor resolved ({', '.join(sorted(c.resolved))})"
                )
        starts_at = _time(_search(c.starts_at, item), "starts_at", i) if c.starts_at else None
        ends_at = _time(_search(c.ends_at, item), "ends_at", i) if c.ends_at else None
        if status == "firing":
            ends_at = None  # a firing alert's end is the source's next word, not a guess
        elif ends_at is None or (starts_at is not None and ends_at < starts_at):
            ends_at = now
        url = _text(_search(c.generator_url, item)) if c.generator_url else ""
        return Alert(
            labels=labels,
            annotations=annotations,
            starts_at=starts_at,
            ends_at=ends_at,
            generator_url=url[:2048],
        )


class _Refused(Invalid):
    """One alert of a payload cannot be read: it alone is refused."""


def _search(expr: jmespath.parser.ParsedResult, data: Any) -> Any:
    try:
        return expr.search(data)
    except jmespath.exceptions.JMESPathError as exc:
        # a function given the wrong type by the payload (length of a number, ...)
        raise StructuralError(f"the payload does not fit {expr.expression!r}: {exc}") from None
    except RecursionError:
        raise StructuralError("the payload is nested too deep") from None


def _text(value: Any) -> str:
    """A value read from a payload as a label's or annotation's text: strings as they are,
    numbers and booleans as JSON writes them, objects and lists as JSON; nothing for null.
    Never cut: ``limits`` refuse a value too long, with its alert, rather than keep part."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except RecursionError:
        # orjson reads 1,023 levels; json.dumps stops near 1,000 (a 500 otherwise)
        raise _Refused("a value is nested too deep to be a label or annotation") from None


def label_name(name: str) -> str:
    """A name from a payload made a valid label name: each character outside
    ``[A-Za-z0-9_]`` becomes ``_``, and a leading digit gets a ``_`` before it (as Grafana
    and Prometheus's relabelling do)."""
    out = _NAME.sub("_", name.strip())[:128]
    if not out:
        return ""
    return f"_{out}" if out[0].isdigit() else out


def _pairs(value: Any) -> dict[str, str]:
    """Many labels at once: an object, a list of ``[name, value]`` pairs (or of
    ``{"tag", "value"}``/``{"name", "value"}``/``{"key", "value"}`` objects), or a string of
    comma-separated ``name:value`` tags (a tag with no value is ``name: ""``, dropped)."""
    found: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        found = list(value.items())
    elif isinstance(value, list):
        for entry in value:
            if isinstance(entry, list) and len(entry) == 2:
                found.append((entry[0], entry[1]))
            elif isinstance(entry, dict) and "value" in entry:
                name = next((entry[k] for k in ("tag", "name", "key") if k in entry), None)
                if name is not None:
                    found.append((name, entry["value"]))
    elif isinstance(value, str):
        for tag in value.split(","):
            name, _, text = tag.partition(":")
            found.append((name, text.strip()))
    out: dict[str, str] = {}
    for name, item in found:
        key = label_name(str(name))
        text = _text(item)
        if key and text:
            out[key] = text
    return out


def _time(value: Any, what: str, index: int) -> datetime | None:
    """A time from a payload: RFC 3339 text (CloudWatch's ``+0000`` too), or epoch seconds or
    milliseconds as a number or digits (Datadog's ``$DATE``)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value.strip()):
        # ASCII digits, few: "²".isdigit() is true and int() refuses it (a 500), and int()
        # refuses 4,300 digits; anything else is read (and refused) as RFC 3339 text
        value = int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise _Refused(f"{what} {value!r} is not a time tocsin can keep") from None
    try:
        return parse_time(value, f"alert {index} {what}")
    except StructuralError as exc:
        raise _Refused(exc.message) from None


# --- the shipped mappings -------------------------------------------------------------------

_LONG = 30 * 86400.0  # an event source says when an alert ends; 30 days if it never does

SHIPPED: dict[str, MappingSpec] = {
    # Grafana alerting's webhook contact point: Alertmanager's webhook shape, version "1"
    "grafana": MappingSpec(
        alerts="alerts",
        labels_from="labels",
        annotations_from="annotations",
        annotations={"grafana_silence_url": "silenceURL", "grafana_values": "values"},
        status="status",
        starts_at="startsAt",
        ends_at="endsAt",
        generator_url="generatorURL",
    ),
    # Datadog's webhook with the payload of docs/sources.md (one event per request)
    "datadog": MappingSpec(
        labels={
            "alertname": "alert_title",
            "datadog_monitor_id": "alert_id",
            "priority": "priority",
            "hostname": "hostname",
        },
        labels_from="tags",
        annotations={
            "summary": "event_title",
            "description": "event_message",
            "alert_status": "alert_status",
            "alert_scope": "alert_scope",
            "alert_query": "alert_query",
            "link": "link",
        },
        status="transition",
        firing=(
            "Triggered",
            "Re-Triggered",
            "Warn",
            "Re-Warn",
            "No Data",
            "Re-No Data",
            "Renotify",
        ),
        resolved=("Recovered",),
        starts_at="date",
        generator_url="link",
        dedup_key="alert_id && join('/', [to_string(alert_id), to_string(alert_cycle_key || aggreg_key)])",  # noqa: E501
        resolve_timeout_s=_LONG,
    ),
    # a CloudWatch alarm's state change, the Message of an SNS notification (decoded)
    "cloudwatch": MappingSpec(
        labels={
            "alertname": "AlarmName",
            "aws_account": "AWSAccountId",
            "region": "Region",
            "namespace": "Trigger.Namespace",
            "metric": "Trigger.MetricName",
        },
        labels_from="Trigger.Dimensions[].[name, value]",
        annotations={
            "summary": "NewStateReason",
            "description": "AlarmDescription",
            "alarm_arn": "AlarmArn",
            "old_state": "OldStateValue",
        },
        status="NewStateValue",
        firing=("ALARM", "INSUFFICIENT_DATA"),
        resolved=("OK",),
        starts_at="StateChangeTime",
        ends_at="StateChangeTime",
        dedup_key="AlarmArn || AlarmName",
        resolve_timeout_s=_LONG,
    ),
    # Zabbix through the media type of examples/zabbix/media_tocsin.yaml
    "zabbix": MappingSpec(
        labels={
            "alertname": "event_name",
            "severity": "event_severity",
            "host": "host_name",
            "zabbix_trigger_id": "trigger_id",
        },
        labels_from="event_tags",
        annotations={
            "summary": "alert_subject",
            "description": "alert_message",
            "opdata": "event_opdata",
            "zabbix_event_id": "event_id",
            "trigger_url": "trigger_url",
        },
        status="event_value",
        firing=("1",),
        resolved=("0",),
        generator_url="zabbix_url",
        dedup_key="event_id",
        resolve_timeout_s=_LONG,
    ),
}
