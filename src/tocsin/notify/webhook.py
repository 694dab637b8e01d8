"""Webhook: a ``Message`` as signed JSON (``to_json`` plus ``"version": "1"``), for receivers
of our own; or, with a ``body_template``, the JSON another service reads (a Microsoft Teams or
Google Chat webhook: examples/webhook-templates/), rendered by the one sandboxed renderer with
every printed value escaped as JSON string text, and checked to be valid JSON before it is sent
(``templating.render_json``). A body that cannot be made is a failed delivery that is not
retried: the message goes to the channel's fallback with the reason.

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
from collections.abc import Mapping
from typing import Protocol

from tocsin.notify.base import ChannelConfigError, ChannelSettings, Parts, SecretRef, secret_value
from tocsin.notify.http import USER_AGENT, HttpChannel, check_url
from tocsin.notify.message import Message, message_context, to_json
from tocsin.notify.retry import Outcome
from tocsin.templating import Template, TemplateError, check_json_template, one_line, render_json

WEBHOOK_VERSION = "1"
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


class WebhookSettings(ChannelSettings, Protocol):
    url: str

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
    ) -> None:
        super().__init__(parts, url)
        self._secret = secret
        self._headers = dict(headers)
        self._template = template

    @staticmethod
    def body(message: Message) -> bytes:
        return json.dumps(
            {"version": WEBHOOK_VERSION, **to_json(message)},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")

    def rendered(self, message: Message) -> bytes:
        """The request body: the channel's template rendered for ``message`` (TemplateError
        when it cannot be, or is not JSON), else tocsin's own JSON."""
        if self._template is None:
            return self.body(message)
        return render_json(self._template, message_context(message)).encode("utf-8")

    async def _send(self, message: Message) -> Outcome:
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
        try:
            template = check_json_template(cfg.body_template, f"{parts.name}.body_template")
        except TemplateError as exc:
            raise ChannelConfigError(f"{parts.where}: {exc}") from None
    url = check_url(cfg.url, f"{parts.where}: url")
    return WebhookChannel(parts, url, secret, cfg.headers, template)
