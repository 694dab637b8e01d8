"""A group flush: which of the incident's alerts are firing, resolved, silenced or inhibited,
and whether the flush says anything new (Alertmanager's dedup: a changed set of alerts, or
``repeat_interval`` since the last flush that carried something)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tocsin.alerts.inhibit import Inhibition, InhibitRule
from tocsin.alerts.model import Alert
from tocsin.alerts.silences import CHECK_EVERY, Silence, SilenceIndex
from tocsin.incidents import tally


@dataclass(frozen=True)
class Muting:
    silenced_by: dict[str, list[str]] = field(default_factory=dict)  # fp -> silence ids
    inhibited_by: dict[str, list[str]] = field(default_factory=dict)  # fp -> source fps

    def muted(self, fingerprint: str) -> bool:
        return bool(self.silenced_by.get(fingerprint) or self.inhibited_by.get(fingerprint))


def mute(
    alerts: Mapping[str, Alert],
    silences: Sequence[Silence] | SilenceIndex,
    rules: Sequence[InhibitRule],
    firing: Mapping[str, Mapping[str, str]],
    now: datetime,
    check: Callable[[], None] | None = None,
) -> Muting:
    """Silences and inhibition for these alerts. ``firing`` is every firing alert known (the
    inhibition sources), by fingerprint. Each alert is checked only against the silences
    that could match it (``SilenceIndex``; pass one to reuse it across calls). ``check`` is
    called now and then (a time budget: it raises to stop the work)."""
    index = silences if isinstance(silences, SilenceIndex) else SilenceIndex(silences, now)
    inhibition = Inhibition(rules, list(firing.items()))
    return mute_labels({fp: alert.labels for fp, alert in alerts.items()}, index, inhibition, check)


def mute_labels(
    labels: Mapping[str, Mapping[str, str]],
    index: SilenceIndex,
    inhibition: Inhibition,
    check: Callable[[], None] | None = None,
) -> Muting:
    """``mute`` for alerts known by their labels (by fingerprint), with the silences' index
    and the inhibition sources found already (a read of many alerts a chunk at a time)."""
    silenced: dict[str, list[str]] = {}
    inhibited: dict[str, list[str]] = {}
    if index.silences:
        silenced = index.silenced_many(labels, check)
    if inhibition.rules:
        for count, (fp, each) in enumerate(labels.items()):
            if check is not None and count % CHECK_EVERY == 0:
                check()
            found = inhibition.inhibited_by(each, fp)
            if found:
                inhibited[fp] = found
    return Muting(silenced, inhibited)


@dataclass(frozen=True)
class FlushDecision:
    firing: list[str]  # unmuted firing fingerprints
    resolved: list[str]  # resolved fingerprints that had been sent as firing
    muted: list[str]
    digest: str
    send: bool  # a flush with news: write it to the timeline (and, later, notify)
    all_resolved: bool  # nothing firing any more: the incident closes after this flush


def digest_of(firing: Sequence[str], resolved: Sequence[str]) -> str:
    """The digest of a flush's firing and resolved sets: a set hash (``incidents.tally``),
    which the incremental flush keeps without reading the sets."""
    return tally.digest(tally.set_hash(firing), tally.set_hash(resolved))


def same_digest(firing: Sequence[str], resolved: Sequence[str], digest: str, last: str) -> bool:
    """Whether a flush's sets are those of the last flush with news, whose digest may be of
    before 0008 (a SHA-256 of the sorted fingerprints): an upgrade sends nothing twice."""
    if last.startswith(tally.DIGEST_PREFIX):
        return digest == last
    text = "firing:" + ",".join(sorted(firing)) + ";resolved:" + ",".join(sorted(resolved))
    return hashlib.sha256(text.encode()).hexdigest() == last


def decide(
    alerts: Mapping[str, Alert],
    muting: Muting,
    now: datetime,
    last_digest: str | None,
    last_flush_at: datetime | None,
    repeat_interval_s: float,
    ever_sent: set[str],
) -> FlushDecision:
    firing = sorted(fp for fp, a in alerts.items() if not a.resolved(now) and not muting.muted(fp))
    muted = sorted(fp for fp, a in alerts.items() if not a.resolved(now) and muting.muted(fp))
    resolved = sorted(fp for fp, a in alerts.items() if a.resolved(now) and fp in ever_sent)
    digest = digest_of(firing, resolved)
    same = last_digest is not None and same_digest(firing, resolved, digest, last_digest)
    all_resolved = all(a.resolved(now) for a in alerts.values())
    return FlushDecision(
        firing=firing,
        resolved=resolved,
        muted=muted,
        digest=digest,
        send=sends(bool(firing), bool(resolved), same, now, last_flush_at, repeat_interval_s),
        all_resolved=all_resolved,
    )


def sends(
    firing: bool,
    resolved: bool,
    same: bool,
    now: datetime,
    last_flush_at: datetime | None,
    repeat_interval_s: float,
) -> bool:
    """Whether a flush says anything: its firing or resolved set is not ``same`` as the last
    flush's that did, or alerts still fire ``repeat_interval`` after it (a full read and the
    tally's decide alike)."""
    news = (firing or resolved) and not same
    repeat = (
        firing
        and last_flush_at is not None
        and (now - last_flush_at).total_seconds() >= repeat_interval_s
    )
    return news or repeat


# What the timeline last said of an alert of the incident: "fired", "resolved", "silenced" or
# "inhibited" (typed events; the kind of event names the state, fired -> alert_fired).
ALERT_EVENT_KINDS = {
    "alert_fired": "fired",
    "alert_resolved": "resolved",
    "silenced": "silenced",
    "inhibited": "inhibited",
}


def alert_events(
    alerts: Mapping[str, Alert],
    muting: Muting,
    now: datetime,
    last: Mapping[str, str],
) -> list[tuple[str, str, dict[str, object]]]:
    """The typed timeline events a flush writes: (kind, fingerprint, detail) for each alert
    whose state changed since the timeline last spoke of it. An alert that fires unmuted is
    ``alert_fired``; one that ends after the timeline saw it is ``alert_resolved``; a firing
    one that is silenced (or else inhibited) is ``silenced`` (``inhibited``) with what mutes
    it."""
    events: list[tuple[str, str, dict[str, object]]] = []
    for fp, alert in sorted(alerts.items()):
        before = last.get(fp)
        if alert.resolved(now):
            if before is not None and before != "resolved":
                events.append(("alert_resolved", fp, {}))
            continue
        if muting.silenced_by.get(fp):
            state, kind = "silenced", "silenced"
            detail: dict[str, object] = {"silenced_by": muting.silenced_by[fp]}
        elif muting.inhibited_by.get(fp):
            state, kind = "inhibited", "inhibited"
            detail = {"inhibited_by": muting.inhibited_by[fp]}
        else:
            state, kind, detail = "fired", "alert_fired", {}
        if before != state:
            events.append((kind, fp, detail))
    return events


# The one timeline event of a flush whose alerts changed: how many fired, resolved, were
# silenced or inhibited, how many are still firing, and the first few of each named. Each
# alert's own history is in alert history (``GET /api/v1/alerts/history``), not here.
CHANGED = "alerts_changed"
NAMED = tally.NAMED  # alerts named per kind of change
_COUNTED = {"alert_fired": "fired", "alert_resolved": "resolved"}


def changed_event(
    events: Sequence[tuple[str, str, dict[str, object]]],
    alerts: Mapping[str, Alert],
    still_firing: int,
) -> dict[str, object]:
    """The detail of the flush's ``alerts_changed`` event from ``alert_events``' changes:
    ``fired``, ``resolved``, ``silenced``, ``inhibited`` (counts of this flush's changes),
    ``still_firing`` (unmuted firing alerts after it) and ``alerts``: the first ``NAMED`` of
    each kind of change (earliest started first, then by labels), each ``{kind, fingerprint,
    alertname, labels, …what mutes it}``."""
    counts = {"fired": 0, "resolved": 0, "silenced": 0, "inhibited": 0}
    by_kind: dict[str, list[tuple[str, dict[str, object]]]] = {}
    for kind, fp, detail in events:
        counts[_COUNTED.get(kind, kind)] += 1
        by_kind.setdefault(kind, []).append((fp, detail))
    named: list[dict[str, object]] = []
    for kind in ALERT_EVENT_KINDS:
        if kind not in by_kind:
            continue
        details = dict(by_kind[kind])
        first = tally.first_in_order(((fp, alerts[fp]) for fp in details), NAMED)
        for _started, _labels, fp in first:
            detail = details[fp]
            labels = alerts[fp].labels
            named.append(
                {
                    "kind": kind,
                    "fingerprint": fp,
                    "alertname": labels.get("alertname", ""),
                    "labels": dict(labels),
                    **detail,
                }
            )
    return {**counts, "still_firing": still_firing, "alerts": named}


def first_named(fingerprints: Sequence[str], alerts: Mapping[str, Alert]) -> list[str]:
    """The first ``NAMED`` of these alerts, as a flush's events name them: earliest started
    first, then by labels (``incidents.tally.order``)."""
    first = tally.first_in_order(((fp, alerts[fp]) for fp in fingerprints), NAMED)
    return [fp for _started, _labels, fp in first]
