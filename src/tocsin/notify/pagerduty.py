"""PagerDuty: a ``Message`` as an Events API v2 event (``trigger``/``acknowledge``/``resolve``)
with ``dedup_key`` ``tocsin-<incident id>``, so that PagerDuty keeps one alert per incident.
The summary is the channel's title template.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from tocsin.notify.base import ChannelSettings, Parts, SecretRef, secret_value
from tocsin.notify.http import USER_AGENT, HttpChannel, check_url
from tocsin.notify.message import NEWS_KINDS, Message, message_context
from tocsin.notify.retry import Outcome
from tocsin.templating import one_line

PAGERDUTY_MAX_SUMMARY = 1024
_PD_SEVERITY = {
    "critical": "critical",
    "crit": "critical",
    "page": "critical",
    "emergency": "critical",
    "fatal": "critical",
    "p1": "critical",
    "sev1": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "sev2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "sev3": "warning",
    "info": "info",
    "informational": "info",
    "low": "info",
    "notice": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
    "sev5": "info",
}


def pagerduty_severity(severity: str | None) -> str:
    """PagerDuty's four severities from ours. Unknown or missing maps to ``critical``, as in
    Alertmanager: an alert tocsin forwards to PagerDuty must not be quietly down-graded."""
    if severity is None:
        return "critical"
    return _PD_SEVERITY.get(severity.strip().lower(), "critical")


def pagerduty_action(message: Message) -> str:
    """``resolve`` and ``acknowledge`` for those kinds; every other kind triggers (PagerDuty
    folds a repeated trigger with the same dedup_key into the open alert's log)."""
    if message.kind == "resolved":
        return "resolve"
    if message.kind == "acknowledged":
        return "acknowledge"
    return "trigger"


def pagerduty_event(
    message: Message, routing_key: str, summary: str, severity: str | None = None
) -> dict[str, Any]:
    """The Events API v2 body. ``acknowledge``/``resolve`` carry only the routing and dedup
    keys, as the API asks; ``trigger`` carries the payload and links."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": pagerduty_action(message),
        "dedup_key": f"tocsin-{message.incident_id}",
    }
    if event["event_action"] != "trigger":
        return event
    context = message_context(message)
    common: dict[str, str] = context["common_labels"]
    labels = {**common, **message.group_labels}
    source = labels.get("instance") or labels.get("service") or labels.get("job") or "tocsin"
    payload: dict[str, Any] = {
        "summary": one_line(summary, PAGERDUTY_MAX_SUMMARY) or f"tocsin #{message.incident_id}",
        "source": one_line(source, 255),
        "severity": severity or pagerduty_severity(message.severity),
        "timestamp": message.created_at,
        "custom_details": {
            "incident_id": message.incident_id,
            "kind": message.kind,
            "status": message.status,
            "severity": message.severity,
            "summary": message.summary,
            "group_labels": message.group_labels,
            "firing": [
                {
                    "labels": a["labels"],
                    "annotations": a["annotations"],
                    "starts_at": a["starts_at"],
                }
                for a in context["firing"][:20]
            ],
            # the incident's (``firing`` above lists at most the first 20 of them)
            "firing_count": context["firing_total"],
            "resolved_count": context["resolved_total"],
            "diagnostics": list(message.diagnostics[:3]),
            "incident_url": context["external_url"],
        },
    }
    if message.text:
        payload["custom_details"]["update"] = message.text
    if labels.get("alertname"):
        payload["class"] = labels["alertname"]
    if labels.get("service") or labels.get("job"):
        payload["component"] = labels.get("service") or labels.get("job")
    if labels.get("team"):
        payload["group"] = labels["team"]
    event["payload"] = payload
    links = []
    if context["runbook_url"]:
        links.append({"href": context["runbook_url"], "text": message.runbook_title or "Runbook"})
    if context["alert_link"]:  # the alert's own link, named as such with its host
        own = context["alert_link"]
        links.append({"href": own["url"], "text": f"The alert's own link ({own['host']})"})
    if context["external_url"]:
        links.append(
            {"href": context["external_url"], "text": f"tocsin incident #{message.incident_id}"}
        )
    if links:
        event["links"] = links
    event["client"] = "tocsin"
    if context["external_url"]:
        event["client_url"] = context["external_url"]
    return event


class PagerDutySettings(ChannelSettings, Protocol):
    url: str
    severity: str | None  # fixed, instead of the incident's

    @property
    def routing_key(self) -> SecretRef: ...


class PagerDutyChannel(HttpChannel):
    kind = "pagerduty"

    def __init__(
        self, parts: Parts, url: str, routing_key: str, severity: str | None = None
    ) -> None:
        super().__init__(parts, url)
        self._routing_key = routing_key
        self._severity = severity

    def event(self, message: Message) -> dict[str, Any]:
        summary = self._templates.render("title", message_context(message))
        return pagerduty_event(message, self._routing_key, summary, self._severity)

    async def _send(self, message: Message) -> Outcome:
        if message.kind in NEWS_KINDS and message.status == "resolved":
            # a trigger would open the resolved PagerDuty incident again; Events v2 has no
            # "note" event, so news about a resolved incident is not sent here
            return Outcome(ok=True, error="not sent: news about a resolved incident")
        body = json.dumps(self.event(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        # 202 is PagerDuty's success; 400 (invalid event) is permanent, 429 and 5xx retried.
        return await self.post(body, headers)


def build(cfg: PagerDutySettings, parts: Parts) -> PagerDutyChannel:
    key = secret_value(parts.secrets, cfg.routing_key, f"{parts.where}: routing_key")
    return PagerDutyChannel(parts, check_url(cfg.url, f"{parts.where}: url"), key, cfg.severity)
