"""The outbox stores messages as JSON: the round trip is exact."""

from __future__ import annotations

import json

import pytest

from tests.notify.messages import make_message
from tocsin.notify.message import KINDS, Message, from_json, to_json


@pytest.mark.parametrize("kind", KINDS)
def test_json_round_trip_is_exact(kind: str) -> None:
    message = make_message(
        kind=kind,
        escalation_step=2 if kind == "escalation" else None,
        text="Rolled back." if kind == "status_update" else None,
    )
    stored = json.loads(json.dumps(to_json(message)))
    assert from_json(stored) == message
    assert to_json(from_json(stored)) == stored


def test_defaults_survive_the_round_trip() -> None:
    message = make_message(
        external_url="", runbook_url=None, runbook_title=None, diagnostics=(), recipient=None
    )
    assert from_json(json.loads(json.dumps(to_json(message)))) == message


def test_unknown_keys_are_ignored_and_missing_keys_are_errors() -> None:
    data = to_json(make_message())
    assert from_json({**data, "version": "1"}) == make_message()
    del data["idempotency_key"]
    with pytest.raises(ValueError, match="idempotency_key"):
        from_json(data)


def test_bad_kind_or_status_is_refused_where_the_message_is_made() -> None:
    with pytest.raises(ValueError, match="kind"):
        make_message(kind="exploded")
    with pytest.raises(ValueError, match="status"):
        make_message(status="open")
    assert isinstance(make_message(), Message)


# --- what a page says of the runbook (issue 17, items 1, 5 and 27) ---------------------------

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def _page(labels: dict[str, str], annotations: dict[str, str] | None = None) -> Message:
    from datetime import UTC, datetime

    from tests.conftest import SHARED
    from tocsin.alerts.model import Alert
    from tocsin.incidents.messages import compose, runbook_section
    from tocsin.runbooks.loader import load_catalog

    seed = SHARED / "seeds" / "000_4392ebbad4033ec5.txt"
    if not seed.exists():
        pytest.skip("the seed runbooks are not here (set TOCSIN_SHARED)")
    catalog = load_catalog([seed, REPO / "examples" / "runbooks"])
    alert = Alert(labels=labels, annotations=annotations or {})
    when = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    section = runbook_section(
        [alert], catalog, lambda source, title: f"https://git.example.com/rb#{title}"
    )
    composed = compose(
        kind="firing",
        incident_id=7,
        status="triggered",
        severity="critical",
        group_labels={"alertname": labels["alertname"]},
        members={"f1": alert},
        when=when,
        key="k1",
        url="https://tocsin.example.com/x",
        runbook=section,
    )
    return from_json(json.loads(json.dumps(composed)))


def _texts(message: Message) -> tuple[str, str, str, str]:
    from tocsin.notify.message import message_context
    from tocsin.notify.pagerduty import pagerduty_event
    from tocsin.notify.slack import slack_payload
    from tocsin.templating import DEFAULT_HTML, DEFAULT_TEXT, compile_template, render

    context = message_context(message)
    text = render(compile_template(DEFAULT_TEXT, "text"), context)
    html = render(compile_template(DEFAULT_HTML, "html", html=True), context)
    slack = json.dumps(slack_payload(message, message.title))
    pagerduty = json.dumps(pagerduty_event(message, "key", message.title))
    return text, html, slack, pagerduty


def test_a_page_fills_the_commands_from_the_alert_labels_quoted() -> None:
    message = _page({"alertname": "PebbleAPIDown", "pod": "pebble-api-7d9f-x2; reboot"})
    codes = [d["code"] for d in message.diagnostics]
    assert "kubectl -n pebble describe pod 'pebble-api-7d9f-x2; reboot'" in codes[1]
    assert all("{{" not in code for code in codes)
    text, html, slack, _ = _texts(message)
    assert "    kubectl -n pebble describe pod 'pebble-api-7d9f-x2; reboot'" in text.splitlines()
    assert "describe pod &#39;pebble-api-7d9f-x2; reboot&#39;" in html
    assert "describe pod 'pebble-api-7d9f-x2; reboot'" in slack


def test_a_first_check_is_never_destructive_and_the_other_steps_are_named() -> None:
    message = _page({"alertname": "HighFailedLoginAttempts", "suspicious_ip": "203.0.113.7"})
    assert [d["risk"] for d in message.diagnostics] == ["read", "read"]
    assert not any("iptables" in d["code"] for d in message.diagnostics)
    assert {"title": "Block suspicious IPs", "phase": "diagnose", "risk": "destructive"} in (
        message.other_steps
    )
    text, html, slack, _ = _texts(message)
    first_checks = text[text.index("First checks:") : text.index("Other steps")]
    assert "iptables" not in first_checks
    assert "- Block suspicious IPs [diagnose, risk: destructive]" in text.splitlines()
    assert (
        "Other steps, in the runbook <https://git.example.com/rb#17. HighFailedLoginAttempts>:"
        in text
    )
    assert "Block suspicious IPs <small>(diagnose, risk: destructive)</small>" in html
    assert "Block suspicious IPs _(diagnose, risk: destructive)_" in slack


def test_an_alert_link_never_takes_the_catalog_link_and_shows_its_host() -> None:
    message = _page(
        {"alertname": "PebbleAPIDown", "pod": "p"},
        {"runbook_url": "https://evil.example.net/fix?x=1"},
    )
    assert message.runbook_url == "https://git.example.com/rb#PebbleAPIDown"
    assert message.runbook_title == "Pebble API — Alert Runbook: PebbleAPIDown"
    assert message.alert_link == {
        "url": "https://evil.example.net/fix?x=1",
        "host": "evil.example.net",
    }
    text, html, slack, pagerduty = _texts(message)
    assert "The alert's own link (evil.example.net): https://evil.example.net/fix?x=1" in text
    assert "(evil.example.net)" in html and "(evil.example.net)" in slack
    links = json.loads(pagerduty)["links"]
    assert {
        "href": "https://evil.example.net/fix?x=1",
        "text": "The alert's own link (evil.example.net)",
    } in links
    assert links[0]["href"] == "https://git.example.com/rb#PebbleAPIDown"


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "https:///no-host"],
)
def test_an_alert_link_that_is_no_web_link_goes_nowhere(url: str) -> None:
    for name in ("PebbleAPIDown", "NotInAnyRunbook"):
        message = _page({"alertname": name}, {"runbook_url": url})
        assert message.alert_link is None
        webhook = json.dumps(to_json(message))  # what the webhook channel sends
        assert url not in webhook
        for rendered in _texts(message):
            assert url not in rendered and url.replace("<", "&lt;") not in rendered
