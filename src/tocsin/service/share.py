"""The incident behind a page's signed "Open" link: the link is checked (``incidents.share``
with the server's key, ``store.linkkey``) before anything is read, and the answer is the
incident's record as plain text (``record_text``), every untrusted value made printable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from tocsin import times
from tocsin.errors import Conflict, Forbidden
from tocsin.incidents.describe import event_sentence
from tocsin.incidents.share import action_verdict, verdict
from tocsin.service.context import Context
from tocsin.service.record import incident, record
from tocsin.store import linkkey
from tocsin.store.db import begin_write
from tocsin.templating import printable
from tocsin.words import count

MAX_TIMELINE = 200


class LinkExpired(Forbidden):
    """A good link whose time is past (the API answers 410 Gone)."""


def server_key(db: Engine) -> bytes | None:
    """The server's own key (``store.linkkey``): what its links, and the console's sessions,
    are signed with (None: a server with no data directory)."""
    return linkkey.link_key(db)


def shared_text(ctx: Context, incident_id: int, expires: int, sig: str) -> str:
    """The incident's text, when ``expires`` and ``sig`` are a link the server signed for
    it; Forbidden when they are not, ``LinkExpired`` when its time is past."""
    check_link(ctx, incident_id, expires, sig)
    return record_text(record(ctx, incident_id, with_timeline=True))


def check_link(ctx: Context, incident_id: int, expires: int, sig: str) -> None:
    """Nothing when ``expires`` and ``sig`` are a link the server signed for the incident
    and its time has not passed; else Forbidden, or ``LinkExpired``."""
    key = linkkey.link_key(ctx.db)
    if key is None:
        raise Forbidden("this server signs no links; open the incident with an API token")
    found = verdict(key, incident_id, expires, sig, ctx.now())
    if found == "invalid":
        raise Forbidden(
            "this link is not valid (its signature does not match the incident and expiry "
            "it names); open the incident from the page you received, or with an API token"
        )
    if found == "expired":
        when = times.to_dt(expires).strftime("%Y-%m-%d %H:%M UTC")
        raise LinkExpired(
            f"this link expired at {when}; open the incident with an API token "
            f"(tocsin incident show {incident_id})"
        )


def _line(*parts: object) -> str:
    return " ".join(printable(p) for p in parts if p not in (None, ""))


def record_text(rec: dict[str, Any]) -> str:
    """An incident's record (``service.record.record``) as plain text for a person: its
    facts, alerts, runbook sections with every command filled from the alert's labels, and
    its timeline."""
    out = [_line(f"Incident #{rec['number']}:", rec["title"] or rec["group_key"]), ""]
    for name, value in (
        ("status", rec["status"]),
        ("stage", rec["stage"]),
        ("severity", rec["severity"] or "none"),
        ("assignee", rec["assignee"]),
        ("commander", rec["commander"]),
        ("opened", _when(rec["opened_at"])),
        ("acknowledged", _by(_when(rec["acknowledged_at"]), rec["acknowledged_by"])),
        ("resolved", _by(_when(rec["resolved_at"]), rec["resolved_by"])),
    ):
        if value:
            out.append(f"{name + ':':<14}{printable(value)}")
    out += ["", f"Alerts ({len(rec['alerts'])}):"]
    for alert in rec["alerts"]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        out.append("  " + _line(alert["status"], labels, "since", _when(alert["starts_at"])))
    for section in rec["runbooks"]:
        out += ["", _line("Runbook:", f"{section['runbook']}: {section['section']}")]
        if section.get("url"):
            out.append("  " + printable(section["url"]))
        for step in section["steps"]:
            out.append("  " + _line(f"[{step['phase']}]", step["title"]))
            for command in step["commands"]:
                risk = f"risk: {command['risk']}" + (
                    f", {command['language']}" if command["language"] else ""
                )
                out.append(f"    ({printable(risk)})")
                text = command.get("filled", command["code"])
                out += ["      " + ln for ln in printable(text, lines=True).splitlines()]
                if command.get("unfilled"):
                    out.append("    fill in: " + printable(", ".join(command["unfilled"])))
    timeline = rec.get("timeline") or []
    total = rec.get("timeline_total", len(timeline))  # the record holds the latest events
    out += ["", f"Timeline ({count(total, 'event')}):"]
    for event in timeline[:MAX_TIMELINE]:
        sentence = event_sentence(event["kind"], event["detail"])
        out.append("  " + _line(_when(event["at"]), sentence))
    if total > min(len(timeline), MAX_TIMELINE):
        out.append(f"  … and {total - min(len(timeline), MAX_TIMELINE)} more")
    return "\n".join(out) + "\n"


def _by(at: str | None, by: str | None) -> str | None:
    return f"{at} by {by}" if at and by else at


def _when(value: str | None) -> str | None:
    """A time of the record as people read it: to the second, with its zone (UTC)."""
    return times.format_time(times.parse_time(value)) if value else None


# --- action links (issue 21): acknowledge or resolve from the message itself -------------


@dataclass(frozen=True)
class ActionLink:
    """What an action link names (``incidents.share.action_path``)."""

    action: str
    incident_id: int
    who: str
    nonce: str
    expires: int
    sig: str


def _checked_action(ctx: Context, link: ActionLink) -> None:
    key = linkkey.link_key(ctx.db)
    if key is None:
        raise Forbidden("this server signs no links; open the incident with an API token")
    found = action_verdict(
        key, link.action, link.incident_id, link.who, link.nonce, link.expires, link.sig, ctx.now()
    )
    if found == "invalid":
        raise Forbidden(
            "this link is not valid: it was changed, or it is not this server's; use the "
            "buttons of the message you received, or sign in to the console"
        )
    if found == "expired":
        when = times.to_dt(link.expires).strftime("%Y-%m-%d %H:%M UTC")
        raise LinkExpired(f"this link expired at {when}; sign in to the console to act")
    if link.who not in ctx.config.paging.users:
        raise Forbidden(f"{link.who} is no longer a user of this tocsin; sign in to act")


def used_by(ctx: Context, link: ActionLink) -> tuple[str, float] | None:
    """Who used the link and when, after checking it (None: not used yet)."""
    _checked_action(ctx, link)
    with ctx.db.connect() as conn:
        return linkkey.used(conn, link.nonce)


def act_by_link(ctx: Context, link: ActionLink) -> dict[str, Any]:
    """Acknowledge or resolve the incident as the person the link was sent to, once: the
    link is marked used in the same transaction. Conflict when it was used already, or the
    incident no longer allows the action (nothing changes then)."""
    _checked_action(ctx, link)
    pager, now = ctx.pager(), ctx.now()
    with begin_write(ctx.db) as conn:
        before = linkkey.used(conn, link.nonce)
        if before is not None:
            at = times.to_dt(before[1]).strftime("%Y-%m-%d %H:%M UTC")
            raise Conflict(f"this link was used already, by {before[0]} at {at}")
        linkkey.use(conn, link.nonce, link.action, link.incident_id, link.who, now)
        if link.action == "acknowledge":
            why = pager.acknowledge(conn, link.incident_id, link.who, now, {"via": "link"})
        else:
            why = pager.resolve(conn, link.incident_id, link.who, now)
        if why is not None:
            raise Conflict(why)  # the transaction, and the link's use, are rolled back
    ctx.wake()
    return incident(ctx, link.incident_id)
