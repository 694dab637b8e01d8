"""A message of a big group tells the truth about its counts (issue 18): the one counting rule
(``incidents.messages.totals``), the message composed from a view of the alerts with the
tally that counts them all, and what the templates and each channel make of it. No database,
no network, no real clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tocsin.alerts.model import Alert
from tocsin.incidents.messages import MAX_ALERTS, Totals, compose, state_line, totals
from tocsin.incidents.tally import Tally
from tocsin.notify.message import Message, from_json, message_context, to_json
from tocsin.notify.pagerduty import pagerduty_event
from tocsin.notify.slack import slack_payload
from tocsin.notify.templates import ChannelTemplateSet, Rendered
from tocsin.notify.webhook import WebhookChannel
from tocsin.templating import compile_template, render, template_context
from tocsin.words import count, number

NOW = datetime(2026, 12, 5, 7, 25, 4, tzinfo=UTC)
GROUP = {"alertname": "NodeDown"}


def alert(n: int, *, ended: bool = False, severity: str = "warning") -> Alert:
    return Alert(
        {"alertname": "NodeDown", "instance": f"n{n:06d}", "severity": severity},
        annotations={"team": "infra"},
        starts_at=NOW - timedelta(minutes=20),
        ends_at=NOW - timedelta(seconds=30) if ended else None,
    )


def view(n: int = 60, resolved: int = 0) -> dict[str, Alert]:
    """What a flush by the tally hands a message: some of the group's alerts."""
    alerts = [alert(i) for i in range(n)] + [alert(n + i, ended=True) for i in range(resolved)]
    return {a.fingerprint: a for a in alerts}


# 200,000 alerts: 199,990 firing, 10 silenced, 7 resolved after a message said they fired
STORM = Tally(firing=199_990, muted=10, resolved=7, names={"NodeDown": 200_000})


def composed(
    members: dict[str, Alert], counted: Tally | None, kind: str = "firing", **more: Any
) -> dict[str, Any]:
    return compose(
        kind=kind,
        incident_id=7,
        status="triggered",
        severity="critical",
        group_labels=GROUP,
        members=members,
        when=NOW,
        key=f"inc7:{kind}",
        url="https://tocsin.example.com/api/v1/incidents/7",
        runbook={},
        counted=counted,
        **more,
    )


def stored(m: dict[str, Any]) -> Message:
    """The message as a channel reads it from the outbox."""
    return from_json(json.loads(json.dumps(m)))


class _NoTemplates:
    title: str | None = None
    text: str | None = None
    html: str | None = None


def email(m: dict[str, Any]) -> Rendered:
    rendered: Rendered = ChannelTemplateSet("mail", _NoTemplates()).render_all(stored(m))
    return rendered


# --- the counting rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "counted", "expected"),
    [
        (view(3, resolved=2), None, Totals(3, 2)),  # all the alerts: counted as they are
        (view(60, resolved=2), STORM, Totals(200_000, 7)),  # a view: the tally counts them
        # never fewer than the view holds (alerts a flush has not read yet, or that ended
        # before any flush saw them, are in no count of the tally)
        (view(60, resolved=9), Tally(firing=40, resolved=2), Totals(60, 9)),
        ({}, None, Totals(0, 0)),
    ],
)
def test_totals_count_all_the_alerts_from_the_list_or_the_tally(
    members: dict[str, Alert], counted: Tally | None, expected: Totals
) -> None:
    assert totals(members, NOW, counted) == expected


def test_a_message_from_a_view_counts_the_group_and_lists_the_first_50() -> None:
    m = composed(view(60), STORM)
    assert (m["firing_total"], m["resolved_total"]) == (200_000, 7)
    assert len(m["alerts"]) == MAX_ALERTS
    assert m["title"] == "NodeDown"
    # with no summary annotation there is no summary: the counts are said once, apart
    assert m["summary"] == ""
    full = composed(view(3), None)  # a group read in full counts its list
    assert (full["firing_total"], full["resolved_total"]) == (3, 0)


def instances(m: dict[str, Any]) -> list[str]:
    return [a["labels"]["instance"] for a in m["alerts"]]


def test_the_listed_alerts_follow_their_labels_not_their_fingerprints() -> None:
    """A person reads the listed alerts in label order (as Alertmanager sorts a group's
    alerts: job, then instance, then the other labels), never in fingerprint order
    (n00821, n00146, n00044 ...). A group read in full lists its first 50 in that order; a
    view (a big group's flush) lists the 50 the store reads by index, the first by
    fingerprint, in that order."""
    full = composed(view(120), None)
    assert instances(full) == [f"n{i:06d}" for i in range(MAX_ALERTS)]
    big = view(300)
    window = sorted(big)[:MAX_ALERTS]  # what the store reads of a big group: by fingerprint
    m = composed(big, STORM)
    assert sorted(a["fingerprint"] for a in m["alerts"]) == window
    assert instances(m) == sorted(big[fp].labels["instance"] for fp in window)
    assert instances(m) != [big[fp].labels["instance"] for fp in window]  # not as read
    text = email(m).text.splitlines()
    shown = [line.split(" = ")[1] for line in text if line.startswith("    instance = ")]
    assert shown == instances(m)[:20]  # the email's 20, in order


def test_alertmanager_s_order_job_then_instance_then_the_other_labels() -> None:
    def labelled(**labels: str) -> Alert:
        return Alert({"alertname": "X", **labels}, starts_at=NOW - timedelta(minutes=1))

    ordered = [
        labelled(job="api", instance="b"),
        labelled(job="api", instance="c", zone="a"),
        labelled(job="db", instance="a"),
        labelled(job="db"),  # no instance: after those with one
        labelled(instance="a", zone="b"),  # no job: after those with one
        labelled(instance="a", zone="c"),
        labelled(zone="a"),
    ]
    members = {a.fingerprint: a for a in reversed(ordered)}
    listed = [a["labels"] for a in composed(members, None)["alerts"]]
    assert listed == [a.labels for a in ordered]


def test_an_acknowledgement_of_a_big_group_says_how_many_fire() -> None:
    line = state_line("acknowledged", "acknowledged", view(60), NOW, "ana", NOW, Totals(200_000, 0))
    assert line == "Acknowledged by ana at 2026-12-05 07:25:04 UTC; 200,000 alerts firing."
    resolved = state_line("resolved", "resolved", view(60), NOW, "ana", NOW, Totals(200_000, 7))
    assert resolved.startswith(
        "Resolved by ana at 2026-12-05 07:25:04 UTC. 200,000 alerts still firing (NodeDown, …)"
    )


# --- what templates see -------------------------------------------------------------------


def test_common_labels_are_only_the_group_s_when_the_list_is_cut() -> None:
    """The 50 listed all say severity=warning; the 200,000 need not: only the group labels
    are sure to be common, and no annotation is (Alertmanager's CommonLabels always hold
    its GroupLabels)."""
    cut = message_context(stored(composed(view(60), STORM)))
    assert cut["truncated"] is True
    assert cut["common_labels"] == GROUP
    assert cut["common_annotations"] == {}
    whole = message_context(stored(composed(view(3), None)))
    assert whole["truncated"] is False
    assert whole["common_labels"] == {"alertname": "NodeDown", "severity": "warning"}
    assert whole["common_annotations"] == {"team": "infra"}


def test_old_messages_and_user_templates_keep_their_meaning() -> None:
    """``firing`` and ``resolved`` are still the alerts listed; a message stored before the
    totals counts them as before."""
    m = composed(view(60), STORM)
    context = message_context(stored(m))
    own = compile_template("{{ firing | length }} of {{ firing_total }}", "mine.text")
    assert render(own, context) == "50 of 200000"
    old = {k: v for k, v in m.items() if k not in ("firing_total", "resolved_total")}
    before = message_context(stored(old))
    assert (before["firing_total"], before["resolved_total"], before["truncated"]) == (50, 0, False)


def test_the_number_filter_writes_thousands_separators() -> None:
    template = compile_template("{{ firing_total | number }}", "mine.title")
    assert render(template, message_context(stored(composed(view(60), STORM)))) == "200,000"
    assert (number(2900), number(7), count(2900, "alert"), count(1, "alert")) == (
        "2,900",
        "7",
        "2,900 alerts",
        "1 alert",
    )


def test_a_sample_context_has_the_totals_of_its_lists() -> None:
    alerts = [{"fingerprint": "a", "status": "firing", "labels": GROUP, "annotations": {}}]
    context = template_context(
        kind="firing",
        incident_id=1,
        title="t",
        status="triggered",
        severity=None,
        summary="",
        group_labels=GROUP,
        alerts=alerts,
        idempotency_key="k",
        created_at="2026-12-05T07:25:04Z",
        external_url="",
        runbook_url=None,
        runbook_title=None,
        diagnostics=(),
        escalation_step=None,
        recipient=None,
        text=None,
    )
    assert (context["firing_total"], context["resolved_total"], context["truncated"]) == (
        1,
        0,
        False,
    )


# --- what a person receives --------------------------------------------------------------


def test_the_default_email_says_the_true_count_and_how_many_are_not_listed() -> None:
    rendered = email(composed(view(60, resolved=2), STORM))
    assert rendered.title == "[FIRING:200,000] NodeDown (critical)"
    assert "Alerts:   200,000 firing, 7 resolved" in rendered.text
    assert "Firing (200,000):" in rendered.text
    assert "… and 199,980 more" in rendered.text  # 20 listed in the text
    assert "Resolved (7):" in rendered.text and "… and 5 more" in rendered.text
    assert "Labels:" not in rendered.text  # nothing beyond alertname is sure to be common
    assert "200,000 firing, 7 resolved" in rendered.html
    assert "… and 199,980 more" in rendered.html


def test_a_small_group_s_email_is_as_before() -> None:
    rendered = email(composed(view(3), None))
    assert rendered.title == "[FIRING:3] NodeDown (critical)"
    assert "Alerts:   3 firing, 0 resolved" in rendered.text
    assert "Labels:   severity=warning" in rendered.text
    assert "Firing (3):" in rendered.text and "more" not in rendered.text


def test_slack_says_the_true_count_and_how_many_are_not_listed() -> None:
    payload = slack_payload(stored(composed(view(60), STORM)), "[FIRING:200,000] NodeDown")
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert "*Alerts:* 200,000 firing, 7 resolved" in sections[0]
    firing = next(s for s in sections if s.startswith("*Firing:*"))
    assert firing.endswith("… and 199,990 more")  # ten lines listed
    # each line shows the labels that are not common, severity among them
    assert "severity=warning" in firing


def test_pagerduty_and_the_webhook_carry_the_true_counts() -> None:
    message = stored(composed(view(60), STORM))
    details = pagerduty_event(message, "key", "summary")["payload"]["custom_details"]
    assert (details["firing_count"], details["resolved_count"]) == (200_000, 7)
    assert len(details["firing"]) == 20
    body = json.loads(WebhookChannel.body(message))
    assert (body["firing_total"], body["resolved_total"], len(body["alerts"])) == (200_000, 7, 50)
    assert to_json(message)["firing_total"] == 200_000
