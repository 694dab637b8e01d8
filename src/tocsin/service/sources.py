"""The intakes of other tools (``intakes:``, ``POST /api/v1/intake/{name}``, docs/sources.md):
what they need beyond parsing.

- ``keyed``: an alert named by a source's deduplication key keeps the labels its first
  firing had (``event_keys``, as PagerDuty events do), so the source's "resolved" for that key
  finds the same alert however its text changed (Datadog's titles carry the transition).
- ``receive_sns``: an Amazon SNS message checked (topic listed, certificate from SNS's own
  host, signature, not seen before, not stale), then a subscription confirmed or a
  notification's ``Message`` handed back for the mapping. The certificate is fetched once per
  URL and kept (``_CERTS``); every fetch is bounded in size and time and follows no redirect.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from tocsin.alerts import sns
from tocsin.alerts.payloads import INTAKE_KEY_PREFIX, StructuralError
from tocsin.config.intakes import SnsConfig
from tocsin.errors import Forbidden, Invalid, Unavailable
from tocsin.service.context import Context
from tocsin.store import inbound, repo
from tocsin.store.db import begin_write

log = logging.getLogger("tocsin.intake")

MAX_CERT_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024
FETCH_TIMEOUT_S = 10.0
# a message older than this (or as far ahead) is refused: replays are remembered a day
MAX_AGE_S = inbound.KEEP_S - 3600.0
# nor this far ahead: a message 23 h ahead would still be fresh when the replay memory
# (a day from its receipt) forgot it, so it could be taken twice
MAX_AHEAD_S = 900.0
_CERTS: dict[str, bytes] = {}
_CERTS_MAX = 64
_CERTS_LOCK = threading.Lock()
# certificates fetched at once: a fetch holds one of the server's worker threads for up to
# FETCH_TIMEOUT_S, and anyone who knows a listed topic can name a certificate not kept yet
# (/SimpleNotificationService-<anything>.pem on SNS's host): beyond this, 503 (SNS retries)
MAX_FETCHING = 4
_FETCHING = threading.BoundedSemaphore(MAX_FETCHING)


def keyed(
    ctx: Context, intake: str, alerts: list[tuple[str, dict[str, str]]]
) -> list[dict[str, str]]:
    """For each (deduplication key, labels): the labels the key's first alert had, kept now
    for a key seen the first time; in one transaction (two requests with a new key at once
    keep one set of labels, the first committed)."""
    out = []
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        for key, labels in alerts:
            name = f"{INTAKE_KEY_PREFIX}{intake}:{key}"[:255]
            out.append(repo.first_labels(conn, name, labels, now))
    return out


@dataclass(frozen=True)
class SnsOutcome:
    """What an SNS message came to: ``payload`` is a notification's decoded ``Message`` (for
    the mapping); otherwise ``said`` tells what was done."""

    kind: str
    key: str  # the message's topic and MessageId: ``forget`` it if storing fails
    payload: Any = None
    said: str = ""


def _fetch(url: str, limit: int, what: str) -> bytes:
    """GET ``url``: at most ``limit`` bytes within ``FETCH_TIMEOUT_S``, no redirect followed,
    no proxy from the environment; ``Unavailable`` otherwise."""
    body = bytearray()
    try:
        with (
            httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False, trust_env=False) as http,
            http.stream("GET", url, headers={"User-Agent": "tocsin"}) as answer,
        ):
            if not answer.is_success:
                raise Unavailable(f"{what}: SNS answered {answer.reason_phrase or 'an error'}")
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise Unavailable(f"{what}: the answer is larger than {limit} bytes")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise Unavailable(f"{what}: {type(exc).__name__}") from None
    return bytes(body)


def certificate(url: str) -> bytes:
    """The signing certificate at ``url`` (already checked to be SNS's), fetched once and
    kept only if it is an RSA certificate."""
    with _CERTS_LOCK:
        found = _CERTS.get(url)
    if found is not None:
        return found
    if not _FETCHING.acquire(blocking=False):
        raise Unavailable("too many SNS signing certificates are being fetched; SNS retries")
    try:
        pem = _fetch(url, MAX_CERT_BYTES, "the SNS signing certificate")
    finally:
        _FETCHING.release()
    sns.public_key(pem)  # kept only when it is a certificate: Forbidden otherwise
    with _CERTS_LOCK:
        if len(_CERTS) >= _CERTS_MAX:
            _CERTS.clear()
        _CERTS[url] = pem
    return pem


def receive_sns(ctx: Context, intake: str, cfg: SnsConfig, body: Any) -> SnsOutcome:
    """One SNS message to the intake ``intake``: ``StructuralError`` (422) for a body that
    is not one, ``Forbidden`` (403) for a topic not listed, a certificate URL not SNS's or a
    signature that does not verify, ``Invalid`` (422) for a stale one; a message seen before
    is answered as done and changes nothing (SNS retries with the same MessageId)."""
    message = sns.read(body)
    if message.topic_arn not in cfg.topics:
        raise Forbidden(f"topic {message.topic_arn} is not one of intake {intake!r}'s topics")
    if not sns.certificate_url(message.signing_cert_url, message.region, cfg.hosts):
        raise Forbidden("SigningCertURL is not an SNS host of the topic's region")
    sns.verify(message, certificate(message.signing_cert_url))
    now = ctx.now()
    age = now - message.timestamp.timestamp()
    if age > MAX_AGE_S:
        raise Invalid(f"the SNS message is {age / 3600:.0f} h old (Timestamp); it is refused")
    if -age > MAX_AHEAD_S:
        raise Invalid("the SNS message's Timestamp is ahead of this server's clock; refused")
    key = f"{message.topic_arn}/{message.message_id}"
    with begin_write(ctx.db) as conn:
        fresh = inbound.first_time(conn, "sns", key, now)
    if not fresh:
        return SnsOutcome(message.type, key, said="seen before: nothing done")
    if message.type == "SubscriptionConfirmation":
        try:
            said = _confirm(intake, cfg, message)
        except Exception:
            forget(ctx, key)  # SNS sends it again: let that one be tried
            raise
        return SnsOutcome(message.type, key, said=said)
    if message.type == "UnsubscribeConfirmation":
        log.warning("intake %s: SNS unsubscribed it from %s", intake, message.topic_arn)
        return SnsOutcome(message.type, key, said="unsubscribed: noted")
    try:
        payload = json.loads(message.message)
    except (ValueError, RecursionError):
        raise StructuralError("the SNS notification's Message is not JSON") from None
    return SnsOutcome(message.type, key, payload=payload)


def forget(ctx: Context, key: str) -> None:
    """A message taken but not carried out (the confirmation or the store failed): SNS's
    next attempt with the same MessageId is taken again rather than refused as a replay."""
    with begin_write(ctx.db) as conn:
        inbound.forget(conn, "sns", key)


def _confirm(intake: str, cfg: SnsConfig, message: sns.SnsMessage) -> str:
    url = message.subscribe_url or ""
    if not cfg.confirm:
        log.warning(
            "intake %s: a subscription to %s waits for confirmation (sns.confirm is off)",
            intake,
            message.topic_arn,
        )
        return "subscription not confirmed: sns.confirm is off"
    if not sns.allowed_url(url, message.region, cfg.hosts):
        raise Forbidden("SubscribeURL is not an SNS host of the topic's region")
    _fetch(url, MAX_ANSWER_BYTES, "confirming the SNS subscription")
    log.info("intake %s: confirmed its SNS subscription to %s", intake, message.topic_arn)
    return "subscription confirmed"
