"""Webhook: a ``Message`` as signed JSON (``to_json`` plus ``"version": "1"``), for receivers
of our own; or, with a ``body_template``, the JSON another service reads (a Microsoft Teams or
Google Chat webhook: examples/webhook-templates/), rendered by the one sandboxed renderer with
every printed value escaped as JSON string text, and checked to be valid JSON before it is sent
(``templating.render_json``). A body that cannot be made is a failed delivery that is not
retried: the message goes to the channel's fallback with the reason.
Or, with ``payload: alertmanager``, Alertmanager's webhook body (``"version":
"4"``: ``groupKey``, ``status``, ``receiver``, ``groupLabels``, ``commonLabels``,
``commonAnnotations``, ``externalURL``, ``alerts``), for receivers written for Alertmanager.

Webhook signature (for receivers)
---------------------------------
Every webhook request carries::

    Idempotency-Key: <the message's idempotency key; the same on every retry>
    X-Tocsin-Timestamp: <unix seconds when this attempt was sent>
    X-Tocsin-Signature: v1=<hex HMAC-SHA256>          (only when the channel has a secret)

The signature is ``HMAC-SHA256(key=secret, msg=f"{timestamp}.".encode() + raw_body)`` in
lowercase hex, ``raw_body`` being the exact bytes of the request body (UTF-8 JSON; verify
before parsing it). A receiver recomputes it, compares in constant time and rejects a
timestamp more than five minutes from its clock (replays); ``verify_signature`` does exactly
that. The header may list several comma-separated ``v1=`` values (key rotation); one match is
enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tocsin.notify.base import ChannelConfigError, ChannelSettings, Parts, SecretRef, secret_value
from tocsin.notify.http import USER_AGENT, HttpChannel, check_url
from tocsin.notify.message import Message, message_context, to_json
from tocsin.notify.retry import Outcome
from tocsin.templating import Template, TemplateError, check_json_template, one_line, render_json

WEBHOOK_VERSION = "1"
ALERTMANAGER_VERSION = "4"
# the kinds that are an Alertmanager notification (the group's alerts, firing or resolved);
# an acknowledgement or a person's news has no place in its body and is not sent
ALERTMANAGER_KINDS = frozenset({"firing", "resolved", "reminder", "escalation", "deadline"})
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of an alert still firing
SIGNATURE_TOLERANCE_S = 300.0


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Tocsin-Signature`` value for a body sent at ``timestamp``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes | str,
    header: str,
    now: float,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver does: the timestamp is within ``tolerance_s`` of ``now`` and one of the
    header's ``v1=`` signatures is the HMAC of ``timestamp.body`` (compared in constant time)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = sign(secret, timestamp, raw)
    candidates = [part.strip() for part in header.split(",")]
    return any(
        hmac.compare_digest(c.encode("utf-8"), expected.encode("ascii"))
        for c in candidates
        if c.startswith("v1=")
    )


_RESERVED_HEADERS = frozenset(
    {"content-type", "idempotency-key", "x-tocsin-timestamp", "x-tocsin-signature", "host"}
)


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The pairs every one of ``maps`` has (Alertmanager's ``commonLabels``)."""
    if not maps:
        return {}
    out = dict(maps[0])
    for other in maps[1:]:
        out = {k: v for k, v in out.items() if other.get(k) == v}
    return out


def _label_set(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


def alertmanager_body(
    message: Message,
    receiver: str,
    external_url: str,
    max_alerts: int = 0,
    send_resolved: bool = True,
) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for ``message``: the group's alerts as
    Alertmanager sends them, at most ``max_alerts`` (0: all), the rest counted in
    ``truncatedAlerts``; without ``send_resolved`` a firing group's resolved alerts are left
    out, as Alertmanager leaves them out."""
    alerts: list[dict[str, Any]] = [
        {
            "status": "resolved" if a.get("status") == "resolved" else "firing",
            "labels": dict(a.get("labels") or {}),
            "annotations": dict(a.get("annotations") or {}),
            "startsAt": a.get("starts_at") or _GO_ZERO_TIME,
            "endsAt": (a.get("ends_at") if a.get("status") == "resolved" else None)
            or _GO_ZERO_TIME,
            "generatorURL": str(a.get("generator_url") or ""),
            "fingerprint": str(a.get("fingerprint") or ""),
        }
        for a in message.alerts
        if send_resolved or a.get("status") != "resolved" or message.kind == "resolved"
    ]
    total = len(alerts)
    if message.firing_total is not None and message.resolved_total is not None:
        total = max(total, message.firing_total + message.resolved_total)
    sent = alerts[:max_alerts] if max_alerts else alerts
    firing = any(a["status"] == "firing" for a in alerts) and message.kind != "resolved"
    return {
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "alerts": sent,
        "groupLabels": dict(message.group_labels),
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "version": ALERTMANAGER_VERSION,
        "groupKey": f'{{incident="{message.incident_id}"}}:{_label_set(message.group_labels)}',
        "truncatedAlerts": total - len(sent),
    }


class WebhookSettings(ChannelSettings, Protocol):
    url: str | None
    payload: str  # "tocsin" or "alertmanager"
    send_resolved: bool
    receiver: str | None
    max_alerts: int

    @property
    def url_secret(self) -> SecretRef | None:
        """Or the URL as a secret."""
        ...

    @property
    def secret(self) -> SecretRef | None:
        """The HMAC-SHA256 signing key."""
        ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def body_template(self) -> str | None:
        """A JSON template of the request body (None: tocsin's own JSON)."""
        ...


class WebhookChannel(HttpChannel):
    kind = "webhook"

    def __init__(
        self,
        parts: Parts,
        url: str,
        secret: str | None,
        headers: Mapping[str, str],
        template: Template | None = None,
        alertmanager: tuple[str, int, bool] | None = None,
    ) -> None:
        super().__init__(parts, url)
        self._secret = secret
        self._headers = dict(headers)
        self._template = template
        self._external_url = parts.external_url
        # Alertmanager's body: (its receiver, max_alerts, send_resolved); None: tocsin's
        self._alertmanager = alertmanager

    @staticmethod
    def body(message: Message) -> bytes:
        """tocsin's own body."""
        return json.dumps(
            {"version": WEBHOOK_VERSION, **to_json(message)},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")

    def rendered(self, message: Message) -> bytes:
        """The request body: the channel's template rendered for ``message`` (TemplateError
        when it cannot be, or is not JSON), else Alertmanager's body, else tocsin's own JSON."""
        if self._template is not None:
            return render_json(self._template, message_context(message)).encode("utf-8")
        if self._alertmanager is None:
            return self.body(message)
        receiver, most, resolved = self._alertmanager
        data = alertmanager_body(message, receiver, self._external_url, most, resolved)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def _send(self, message: Message) -> Outcome:
        if self._alertmanager is not None and message.kind not in ALERTMANAGER_KINDS:
            # Alertmanager's body tells a group's alerts; an acknowledgement, a status update
            # or a reminder to write one has no place in it
            return Outcome(ok=True, error=f"not sent: {message.kind} has no Alertmanager body")
        try:
            body = self.rendered(message)
        except TemplateError as exc:
            return Outcome(ok=False, error=f"body_template: {exc}", transient=False)
        timestamp = str(int(self._clock.now()))
        headers = {"User-Agent": USER_AGENT, **self._headers}
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = one_line(message.idempotency_key)
        headers["X-Tocsin-Timestamp"] = timestamp
        if self._secret is not None:
            headers["X-Tocsin-Signature"] = sign(self._secret, timestamp, body)
        return await self.post(body, headers)


def build(cfg: WebhookSettings, parts: Parts) -> WebhookChannel:
    for key, value in cfg.headers.items():
        if key.lower() in _RESERVED_HEADERS:
            raise ChannelConfigError(f"{parts.where}: header {key} is set by tocsin")
        if any(c in key + value for c in "\r\n") or not key.strip():
            raise ChannelConfigError(f"{parts.where}: header {key!r} is not a valid header")
    where = f"{parts.where}: secret"
    secret = secret_value(parts.secrets, cfg.secret, where) if cfg.secret else None
    template = None
    if cfg.body_template is not None:
        if cfg.payload == "alertmanager":
            raise ChannelConfigError(
                f"{parts.where}: give body_template or payload: alertmanager, not both"
            )
        try:
            template = check_json_template(cfg.body_template, f"{parts.name}.body_template")
        except TemplateError as exc:
            raise ChannelConfigError(f"{parts.where}: {exc}") from None
    if cfg.url is not None:
        url = cfg.url
    elif cfg.url_secret is not None:
        url = secret_value(parts.secrets, cfg.url_secret, f"{parts.where}: url_secret")
    else:
        raise ChannelConfigError(f"{parts.where}: give url or url_secret")
    alertmanager = None
    if cfg.payload == "alertmanager":
        alertmanager = (cfg.receiver or cfg.name, cfg.max_alerts, cfg.send_resolved)
    return WebhookChannel(
        parts, check_url(url, f"{parts.where}: url"), secret, cfg.headers, template, alertmanager
    )
