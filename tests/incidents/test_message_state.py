"""What resolution and acknowledgement messages say (issue 17, items 2 and 4): the pure
composition (``incidents.messages.compose``/``summary``), then what each channel makes of it
(Slack's blocks, the email's text and HTML). No database, no network, no real clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin.alerts.model import Alert
from tocsin.incidents.messages import compose, summary
from tocsin.notify.message import Message, from_json
from tocsin.notify.slack import slack_payload
from tocsin.notify.templates import ChannelTemplateSet, Rendered

NOW = datetime(2026, 12, 5, 7, 25, 4, 372000, tzinfo=UTC)
RUNBOOK = {
    "runbook_url": "https://runbooks.example.com/db#databasedown",
    "runbook_title": "Database: DatabaseDown",
    "diagnostics": [
        {"title": "Is it up?", "language": "bash", "code": "pg_isready -h db1", "risk": "read"}
    ],
}
LABELS = {"alertname": "DatabaseDown", "instance": "db1", "severity": "critical"}


def firing() -> Alert:
    return Alert(LABELS, starts_at=NOW - timedelta(minutes=20))


def ended() -> Alert:
    return Alert(LABELS, starts_at=NOW - timedelta(minutes=20), ends_at=NOW - timedelta(seconds=30))


def message(
    kind: str, status: str, alert: Alert, actor: str | None, annotations: bool = False
) -> dict[str, Any]:
    return compose(
        kind=kind,
        incident_id=2,
        status=status,
        severity="critical",
        group_labels={"alertname": "DatabaseDown"},
        members={alert.fingerprint: alert},
        when=NOW,
        key=f"inc2:{kind}",
        url="https://tocsin.example.com/api/v1/incidents/2",
        runbook=RUNBOOK,
        actor=actor,
        acted_at=NOW if kind in ("resolved", "acknowledged") else None,
    )


def slack_text(m: dict[str, Any]) -> str:
    payload = slack_payload(from_json(json.loads(json.dumps(m))), "title")
    return "\n".join(
        block["text"]["text"]
        for block in payload["blocks"]
        if block["type"] == "section" and "text" in block
    )


class _NoTemplates:
    title: str | None = None
    text: str | None = None
    html: str | None = None


def email(m: dict[str, Any]) -> Rendered:
    rendered: Rendered = ChannelTemplateSet("mail", _NoTemplates()).render_all(
        from_json(json.loads(json.dumps(m)))
    )
    return rendered


def test_an_auto_resolved_incident_says_resolved_with_the_right_counts() -> None:
    m = message("resolved", "resolved", ended(), actor=None)
    assert m["status"] == "resolved" and m["actor"] is None
    assert m["summary"] == "Resolved automatically at 2026-12-05 07:25:04 UTC: the alert ended."
    assert "0 alert(s) firing" not in m["summary"]
    assert m["diagnostics"] == []  # nothing is left to check
    slack = slack_text(m)
    assert "*Status:* resolved" in slack and "*Alerts:* 0 still firing, 1 resolved" in slack
    assert "*Resolved:*" in slack and "Firing" not in slack and "pg_isready" not in slack
    mail = email(m)
    assert "Status:   resolved" in mail.text and "Alerts:   0 still firing, 1 resolved" in mail.text
    assert "First checks" not in mail.text and "First checks" not in mail.html
    assert "Resolved automatically at 2026-12-05 07:25:04 UTC" in mail.text
    assert "<td>resolved</td>" in mail.html


def test_a_manual_resolution_while_the_alert_fires_says_so_honestly() -> None:
    m = message("resolved", "resolved", firing(), actor="ana")
    assert (m["status"], m["actor"], m["acted_at"]) == (
        "resolved",
        "ana",
        "2026-12-05 07:25:04 UTC",
    )
    assert m["summary"].startswith(
        "Resolved by ana at 2026-12-05 07:25:04 UTC. 1 alert still firing (DatabaseDown)"
    )
    assert "a new one opens" in m["summary"]
    assert m["diagnostics"] == []
    slack = slack_text(m)
    assert "*Alerts:* 1 still firing, 0 resolved" in slack
    assert "*Still firing:*" in slack and "*Firing:*" not in slack
    assert "pg_isready" not in slack
    mail = email(m)
    assert "Still firing (1):" in mail.text and "\nFiring (" not in mail.text
    assert "Alerts:   1 still firing, 0 resolved" in mail.text
    assert "Still firing (1)" in mail.html and "First checks" not in mail.html


def test_a_manual_resolution_after_the_alerts_ended() -> None:
    m = message("resolved", "resolved", ended(), actor="ana")
    assert m["summary"] == "Resolved by ana at 2026-12-05 07:25:04 UTC. The alert had ended."


def test_an_acknowledgement_says_who_and_when_and_keeps_the_first_checks() -> None:
    alert = Alert(LABELS, {"summary": "db1 does not answer"}, starts_at=NOW - timedelta(minutes=20))
    m = message("acknowledged", "acknowledged", alert, actor="ben")
    assert m["status"] == "acknowledged" and m["actor"] == "ben"
    assert m["summary"] == (
        "Acknowledged by ben at 2026-12-05 07:25:04 UTC; 1 alert firing.\ndb1 does not answer"
    )
    assert [d["code"] for d in m["diagnostics"]] == ["pg_isready -h db1"]
    assert "Acknowledged by ben at 2026-12-05 07:25:04 UTC" in slack_text(m)
    assert "Acknowledged by ben" in email(m).text


def test_a_firing_message_keeps_its_summary_and_checks() -> None:
    m = message("firing", "triggered", firing(), actor=None)
    assert m["summary"] == "" and m["actor"] is None and m["acted_at"] is None
    assert m["diagnostics"] and "First checks" in email(m).text
    slack = slack_text(m)
    assert "*Firing:*" in slack and "*Alerts:* 1 firing, 0 resolved" in slack


def test_a_summary_is_what_the_alerts_say_never_their_count_again() -> None:
    """The counts are said once ("Alerts: 1 firing, 0 resolved"); a summary line only
    repeating them ("Summary: 1 alert firing") is not written. An alert's own summary (else
    description) is."""
    bare = message("firing", "triggered", firing(), actor=None)
    said = Alert(LABELS, {"summary": "db1 does not answer"}, starts_at=NOW - timedelta(minutes=20))
    own = message("firing", "triggered", said, actor=None)
    assert (bare["summary"], own["summary"]) == ("", "db1 does not answer")
    text = email(bare).text
    assert "Alerts:   1 firing, 0 resolved" in text and "Summary:" not in text
    assert "alert firing" not in slack_text(bare)  # Slack: the status line counts, alone
    assert "Summary:  db1 does not answer" in email(own).text
    assert "db1 does not answer" in slack_text(own)
    assert summary({said.fingerprint: said}, NOW) == "db1 does not answer"
    assert summary({}, NOW) == ""


def test_summary_of_alerts_that_stay_open_for_a_person() -> None:
    alert = ended()
    text = summary({alert.fingerprint: alert}, NOW, "resolved", "triggered")
    assert text.startswith("All 1 alert ended at 2026-12-05 07:25:04 UTC")
    assert "until a person resolves it" in text


def test_a_message_round_trips_who_and_when() -> None:
    m = message("resolved", "resolved", firing(), actor="ana")
    back: Message = from_json(json.loads(json.dumps(m)))
    assert (back.actor, back.acted_at) == ("ana", "2026-12-05 07:25:04 UTC")


def test_who_hears_an_acknowledgement_besides_the_incident_channels() -> None:
    """Item 4: everyone paged hears, once a person on email/webhook, once a channel else."""
    from tocsin.incidents.messages import audience, reach

    alice = {"name": "alice"}
    bob = {"name": "bob"}
    paged = [
        ("mail", "user:alice", alice),
        ("mail", "schedule:db", alice),  # alice again, paged by a later step
        ("mail", "user:bob", bob),
        ("pager", "user:alice", alice),
        ("pager", "user:bob", bob),  # a Slack channel: told once
        ("team", "channel:team", {}),  # told already as the incident's channel
        ("gone", "user:bob", bob),  # no longer configured
    ]
    reaches = {"mail": reach("email"), "pager": reach("slack"), "team": reach("slack")}
    assert audience(paged, reaches, ["team"]) == [
        ("mail", "user:alice", alice),
        ("mail", "user:bob", bob),
        ("pager", "user:alice", alice),
    ]


def test_direct_messages_and_phones_reach_each_person() -> None:
    """A Slack app's direct messages and a phone reach each person paged apart; on a phone,
    nobody is told what they did themselves, and commands' output is not sent."""
    from tocsin.incidents.messages import audience, reach

    alice = {"name": "alice"}
    bob = {"name": "bob"}
    paged = [
        ("dm", "user:alice", alice),
        ("dm", "user:bob", bob),
        ("sms", "user:alice", alice),
        ("sms", "user:bob", bob),
    ]
    reaches = {"dm": reach("slack", app=True), "sms": reach("sms")}
    assert reaches == {"dm": "person", "sms": "phone"}
    assert audience(paged, reaches, [], "acknowledged", actor="alice") == [
        ("dm", "user:alice", alice),
        ("dm", "user:bob", bob),
        ("sms", "user:bob", bob),
    ]
    assert audience(paged, reaches, [], "diagnostics") == paged[:2]
    assert audience(paged, reaches, [], "resolved", actor="carol") == paged
