"""Events by key (PagerDuty Events API v2, ``POST /v2/enqueue``): an event names its alert by
``dedup_key``; the first trigger with a key remembers the alert's labels (``event_keys``), and
later events with that key find the alert again. ``api/intake.py`` reads the event and hands
its alerts to the writer; the reading and writing of rows is here, and an acknowledge event
acknowledges through ``service.incidents``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, select

from tocsin.alerts.model import Alert
from tocsin.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from tocsin.incidents import remote
from tocsin.notify.base import ChannelConfigError, resolve_secret, secret_value
from tocsin.service import incidents
from tocsin.service.context import Context
from tocsin.store import inbound, repo
from tocsin.store.db import begin_write
from tocsin.store.schema import event_keys


def labels_of(ctx: Context, dedup_key: str) -> dict[str, str] | None:
    """The labels the first trigger with ``dedup_key`` remembered (None: no such key)."""
    with ctx.db.connect() as conn:
        row = conn.execute(select(event_keys).where(event_keys.c.dedup_key == dedup_key)).first()
    if row is None:
        return None
    labels: dict[str, str] = json.loads(row.labels)
    return labels


def remember(ctx: Context, dedup_key: str, labels: dict[str, str], now: datetime) -> None:
    """Remember the labels of the alert ``dedup_key`` names, for the key's later events."""
    with begin_write(ctx.db) as conn:
        conn.execute(
            insert(event_keys).values(
                dedup_key=dedup_key, labels=json.dumps(labels), created_at=now.timestamp()
            )
        )


def current(ctx: Context, labels: dict[str, str]) -> Alert | None:
    """The latest stored episode of the alert with these labels (None: none stored)."""
    with ctx.db.connect() as conn:
        found = repo.current_alerts(conn, [repo.fingerprint_of(labels)])
    return next(iter(found.values())).alert if found else None


ACTOR = "pagerduty-event"  # who acknowledged, as the incident and its timeline say


def acknowledge(ctx: Context, dedup_key: str, labels: dict[str, str]) -> None:
    """An acknowledge event: each open incident of the alert is acknowledged by
    ``pagerduty-event`` as a person's acknowledgement is (``service.incidents.acknowledge``:
    escalation stops, the channels are told; the timeline's one ``acknowledged`` row also
    names the key). An incident acknowledged before stays as it is (acknowledging is
    idempotent), and so does one resolved since it was found open: the sender is answered as
    PagerDuty answers, whatever the incident's state."""
    with ctx.db.connect() as conn:
        found = repo.incidents_of(conn, repo.fingerprint_of(labels))
    for incident_id in found:
        try:
            incidents.acknowledge(ctx, incident_id, ACTOR, {"dedup_key": dedup_key})
        except (Conflict, NotFound):
            continue  # resolved (or gone) since it was found open


# --- PagerDuty's v3 webhooks: what a person did in PagerDuty comes back --------------------


def _webhook_secrets(ctx: Context) -> list[str]:
    """The signing secrets of the PagerDuty channels that have a v3 webhook subscription.
    Unavailable when one cannot be read or is empty: an empty key is one anyone can sign
    with (an environment variable set to ""), so it must never verify a request."""
    out = []
    for cfg in ctx.config.paging.channels.values():
        secret = getattr(cfg, "webhook_secret", None) if cfg.type == "pagerduty" else None
        if secret is not None:
            try:
                out.append(
                    secret_value(resolve_secret, secret, f"channel {cfg.name!r}: webhook_secret")
                )
            except ChannelConfigError as exc:
                raise Unavailable(exc.message) from None
    return out


def from_pagerduty(ctx: Context, body: bytes, signature: str | None) -> dict[str, Any]:
    """A v3 webhook event from PagerDuty: checked (its signature, its age, its id not seen
    before), read, and, for ``incident.acknowledged`` or ``incident.resolved`` naming a
    tocsin incident (``incident_key`` ``tocsin-N``), acted on through the engine as a
    person's action is, in one transaction with the record of the event id. What it did, as
    ``{"event", "done"}`` (``done``: acknowledged, resolved, ignored, or why nothing
    changed); NotFound when no subscription is configured, Forbidden for a request that is
    not PagerDuty's, Conflict for a replay."""
    secrets = _webhook_secrets(ctx)
    if not secrets:
        raise NotFound(
            "no PagerDuty webhook is configured: give a pagerduty channel a webhook_secret"
        )
    if not remote.signed(body, signature, secrets):
        raise Forbidden(
            "the X-PagerDuty-Signature header is missing or does not match: "
            "this request was not signed with a configured webhook_secret"
        )
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"the body is not JSON: {exc}") from None
    act = remote.read_pagerduty(doc)
    now = ctx.now()
    if remote.stale(act, now):
        raise Forbidden(f"event {act.event_id} is too old (or from the future): refused")
    answer: dict[str, Any] = {"event": act.event_id, "type": act.event_type}
    people = [(u.name, u.pagerduty) for u in ctx.config.paging.users.values()]
    by = remote.actor(act, people)
    pager = ctx.pager()
    with begin_write(ctx.db) as conn:
        if not inbound.first_time(conn, "pagerduty", act.event_id, now):
            raise Conflict(f"event {act.event_id} was received before: a replay is refused")
        if act.action is None or act.incident_id is None:
            answer["done"] = "ignored: " + (
                "tocsin acts on incident.acknowledged and incident.resolved only"
                if act.action is None
                else "its incident_key names no tocsin incident"
            )
            return answer
        if repo.get_incident(conn, act.incident_id) is None:
            answer["done"] = f"ignored: there is no incident {act.incident_id}"
            return answer
        detail = {"via": "pagerduty", "pagerduty_incident": act.pagerduty_incident}
        if act.action == "acknowledge":
            why = pager.acknowledge(conn, act.incident_id, by, now, detail)
        else:
            why = pager.resolve(conn, act.incident_id, by, now, detail)
    answer["incident"] = act.incident_id
    answer["done"] = f"not {act.action}d: {why}" if why else f"{act.action}d by {by}"
    if why is None:
        ctx.wake()
    return answer
