"""Messages to channels: what an incident's events send, written to the outbox.

Part of the notify stage, in the caller's transaction: the content is decided by
``incidents.messages`` (pure); this reads what it needs (the incident's alerts), applies the
configured ``incident_title`` template and writes one outbox row per channel
(``store.outbox.enqueue``), so a message commits with the decision that sent it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.alerts.model import Alert
from tocsin.engine.stage import Settings
from tocsin.incidents.describe import incident_title as default_title
from tocsin.incidents.describe import title_of
from tocsin.incidents.messages import (
    APPROVABLE_RISK,
    APPROVAL_KINDS,
    DIAGNOSTICS_KIND,
    TOLD_KINDS,
    compose,
    reach,
    runbook_section,
    shown,
)
from tocsin.incidents.messages import audience as who_hears
from tocsin.incidents.share import action_path, allowed_actions, console_path, nonce_for
from tocsin.incidents.storm import MAX_DIGEST_CHARS, UPDATE_KIND, Digest, Facts, digest
from tocsin.incidents.tally import Tally
from tocsin.notify.message import from_json, message_context
from tocsin.runbooks.links import section_url
from tocsin.runbooks.text import slugify
from tocsin.store import linkkey, outbox, repo, runs, storms
from tocsin.templating import TemplateError, compile_template, one_line, render

log = logging.getLogger("tocsin.engine.messages")


def message(
    s: Settings,
    conn: Connection,
    incident: Any,
    kind: str,
    now: float,
    key: str,
    *,
    members: dict[str, Alert] | None = None,
    step: int | None = None,
    recipient: dict[str, str] | None = None,
    text: str | None = None,
    actor: str | None = None,
    plain: bool = False,
    counted: Tally | None = None,
) -> dict[str, Any]:
    """The message (as the outbox stores it) for an incident event; ``actor``: who
    acknowledged or resolved it (now). ``members``: the incident's alerts (read here when
    not given), or only a view of them when a flush went by its tally (``counted``), which
    then counts them all (``incidents.messages.totals``). A storm's lead's messages are its
    storm's digest (``storm_digest``) unless ``plain``."""
    if members is None:
        members = {a.fingerprint: a.alert for a in repo.incident_members(conn, incident.id)}
    when = times.to_dt(now)
    composed = compose(
        kind=kind,
        incident_id=incident.id,
        status=incident.status,
        severity=incident.severity,
        group_labels=json.loads(incident.group_labels),
        members=members,
        when=when,
        key=key,
        url=incident_url(s, incident.id, conn, now),
        runbook=runbook(s, shown(members, when)),
        step=step,
        recipient=recipient,
        text=text,
        actor=actor,
        acted_at=when if kind in TOLD_KINDS else None,
        counted=counted,
    )
    composed["title"] = title(s, composed)
    if getattr(incident, "receiver", None):  # what a Go template's .Receiver reads
        composed["receiver"] = str(incident.receiver)
    if recipient and recipient.get("name") and kind not in ("resolved", "test"):
        composed["actions"] = action_links(s, conn, incident, recipient["name"], key, now)
    if kind in APPROVAL_KINDS:
        composed["awaiting_runs"] = awaiting_runs(conn, incident.id)
    if getattr(incident, "storm_id", None) is not None and not plain:
        overlay = storm_digest(conn, incident, kind, now)
        if overlay and kind in TOLD_KINDS:  # who acknowledged or resolved it, then the digest
            said = str(composed["summary"]).split("\n", 1)[0]
            overlay["summary"] = f"{said}\n{overlay['summary']}"[:MAX_DIGEST_CHARS]
        composed.update(overlay)
    return composed


MAX_AWAITING_COMMAND = 1000  # a message shows a run's text up to this; a longer one is cut


def awaiting_runs(conn: Connection, incident_id: int) -> list[dict[str, str]]:
    """The incident's runs awaiting an approval one press may give, with the exact text that
    the approval approves (a message shows it beside its Approve button). ``whole``: "yes"
    when that text is all the approval approves, "no" when it is cut here or the run binds
    values the text does not show (SQL's parameters): such a run is approved where it is
    shown whole, the console, never by a press on a part of it."""
    out = []
    for run in runs.awaiting(conn, incident_id, APPROVABLE_RISK):
        whole = len(run.command) <= MAX_AWAITING_COMMAND and not run.params
        out.append(
            {
                "id": str(run.id),
                "step": str(run.step),
                "section": run.section[:200],
                "command": run.command[:MAX_AWAITING_COMMAND],
                "whole": "yes" if whole else "no",
            }
        )
    return out


_DIGESTS = "tocsin_storm_digests"


def storm_digest(conn: Connection, incident: Any, kind: str, now: float) -> dict[str, Any]:
    """What the digest puts over a storm's lead's message (``engine/storm.py``): its title,
    its text as the summary (and as the text of an update), and ``update_key``, the same for
    every message of the storm, so that a channel that can edit a message edits it. {} for
    an incident that does not lead its storm. Read once per storm, time and size in a
    transaction (an escalation step pages several people with one digest)."""
    row = storms.get(conn, incident.storm_id)
    if row is None or row.lead_id != incident.id:
        return {}
    cache: dict[tuple[int, float, int], Digest] = conn.info.setdefault(_DIGESTS, {})
    key = (int(row.id), now, int(row.held))
    if key not in cache:
        read = storms.read(conn, row, now)
        facts = Facts(
            route=row.route_name,
            window_s=float(row.window_s),
            new_in_window=read.new_in_window,
            held=int(row.held),
            open=read.open,
            acknowledged_by=incident.acknowledged_by,
            lead_id=incident.id,
            incidents=read.sample,
        )
        cache.clear()
        cache[key] = digest(facts)
    found = cache[key]
    out: dict[str, Any] = {
        "title": found.title,
        "summary": found.text,
        "update_key": f"storm:{row.id}",
    }
    if kind == UPDATE_KIND:  # the digest is the update's text; its summary is one line
        out["text"] = found.text
        out["summary"] = f"{found.title}."
    return out


def incident_title(
    s: Settings,
    conn: Connection,
    incident: Any,
    members: dict[str, Alert],
    now: float,
    names: Iterable[str] | None = None,
    counted: Tally | None = None,
) -> str:
    """The title an incident carries, from its alerts now (``names``: the names of the
    alerts firing, when ``members`` holds only some of them, and ``counted`` the tally that
    counts them all)."""
    if s.config.model.incident_title:
        composed = message(
            s, conn, incident, "firing", now, "title", members=members, plain=True, counted=counted
        )
        return str(composed["title"])
    group_labels = json.loads(incident.group_labels)
    if names is not None:
        return title_of(group_labels, names)
    return default_title(group_labels, shown(members, times.to_dt(now)))


def title(s: Settings, message: dict[str, Any]) -> str:
    """The incident's title for a message: the configured ``incident_title`` template
    rendered over it (one line, at most 200 characters), else the default."""
    source = s.config.model.incident_title
    if not source:
        return str(message["title"])
    template = compile_template(source, "incident_title")
    try:
        rendered = one_line(render(template, message_context(from_json(message))), 200)
    except TemplateError:  # checked at load; never lose a page over a title
        log.exception("incident_title failed to render; using the default title")
        return str(message["title"])
    return rendered or str(message["title"])


def action_links(
    s: Settings, conn: Connection, incident: Any, who: str, message_key: str, now: float
) -> dict[str, str]:
    """A message to a person: a signed, single-use link per action the incident still
    allows (acknowledge while triggered, resolve until resolved), for ``share_link_ttl``;
    none without a key for links."""
    key = linkkey.link_key(conn)
    if key is None:
        return {}
    base = s.config.model.global_.external_url.rstrip("/")
    expires = int(now + times.parse_duration(s.config.model.share_link_ttl))
    links = {}
    for action in allowed_actions(incident.status):
        nonce = nonce_for(key, message_key, action)
        links[action] = base + action_path(key, action, incident.id, who, nonce, expires)
    return links


def incident_url(
    s: Settings, incident_id: int, db: Connection | None = None, now: float | None = None
) -> str:
    """Where a person opens the incident: given the database, a signed link to its page in
    the console that opens without signing in until ``share_link_ttl`` has passed
    (``incidents.share``, ``web.pages``); else, or with no key for links, the incident's
    console page (for whoever signs in)."""
    base = s.config.model.global_.external_url.rstrip("/")
    key = linkkey.link_key(db) if db is not None and now is not None else None
    if key is None or now is None:
        return f"{base}/incidents/{incident_id}"
    ttl = times.parse_duration(s.config.model.share_link_ttl)
    return base + console_path(key, incident_id, int(now + ttl))


def runbook(s: Settings, alerts: list[Alert]) -> dict[str, Any]:
    """The runbook section of the first alert that has one (``incidents.messages``)."""
    return runbook_section(
        alerts, s.catalog, lambda source, section: runbook_link(s, source, section)
    )


def runbook_link(s: Settings, source: str, title: str) -> str:
    """The section's web address under ``runbooks_url``, the runbook's path taken relative
    to the runbook directory it was read from (``runbooks.links``); else its file and
    anchor."""
    config = s.config
    url = section_url(config.model.runbooks_url, config.runbook_paths(), source, title)
    return url if url is not None else f"{source}#{slugify(title)}"


def channels_of(incident: Any) -> list[str]:
    """The channels an incident's messages go to (fixed when it triggered)."""
    return json.loads(incident.channels) if incident.channels else []


def to_channels(
    s: Settings,
    conn: Connection,
    incident: Any,
    kind: str,
    channels: list[str],
    now: float,
    event: str,
    members: dict[str, Alert] | None = None,
    text: str | None = None,
    actor: str | None = None,
    counted: Tally | None = None,
) -> list[str]:
    """The message of ``kind`` to each channel, in the outbox (a channel that is not
    configured is a ``notify_failed`` on the timeline); the channels it went to. An
    acknowledgement or a resolution (``TOLD_KINDS``) also goes to everyone paged for the
    incident, on the channel that paged them (``audience``). ``counted``: see ``message``."""
    pending = []
    if members is None and kind in TOLD_KINDS:
        members = {a.fingerprint: a.alert for a in repo.incident_members(conn, incident.id)}
    # the same message to each channel and each person, but for its key and addressee
    compose_for = partial(
        message, s, conn, incident, kind, now, members=members, actor=actor, counted=counted
    )
    for channel in channels:
        if channel not in s.config.paging.channels:
            repo.add_timeline(
                conn,
                incident.id,
                times.to_dt(now),
                "notify_failed",
                {"reason": f"channel {channel!r} is not configured"},
            )
            continue
        if kind == "resolved" and not getattr(
            s.config.paging.channels[channel], "send_resolved", True
        ):
            continue  # the channel is not told resolutions (Alertmanager's send_resolved)
        key = f"inc{incident.id}:{event}:{channel}"
        composed = compose_for(key, text=text)
        pending.append(
            outbox.Pending(incident.id, channel, f"channel:{channel}", kind, composed, key)
        )
    if kind in TOLD_KINDS or kind in (UPDATE_KIND, DIAGNOSTICS_KIND):
        told = [p.channel for p in pending]
        for channel, target, recipient in audience(s, conn, incident.id, told, kind, actor):
            key = f"inc{incident.id}:{event}:{channel}:{recipient.get('name', '-')}"
            composed = compose_for(key, recipient=recipient, text=text)
            pending.append(outbox.Pending(incident.id, channel, target, kind, composed, key))
    outbox.enqueue(conn, pending, now, s.config.paging.levels)
    return [p.channel for p in pending]


def audience(
    s: Settings,
    conn: Connection,
    incident_id: int,
    told: list[str],
    kind: str = "",
    actor: str | None = None,
) -> list[tuple[str, str, dict[str, str]]]:
    """Everyone paged for the incident who is told a message of ``kind`` and is not told
    through ``told`` already (``incidents.messages.audience`` over the outbox's pages)."""
    reaches = {
        name: reach(cfg.type, app=getattr(cfg, "token", None) is not None)
        for name, cfg in s.config.paging.channels.items()
    }
    return who_hears(outbox.paged(conn, incident_id), reaches, told, kind, actor)
