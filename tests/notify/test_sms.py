"""SMS and voice through a Twilio-shaped gateway: what a person receives (pure), Twilio's
request signature against its documented example, and one delivery attempt against the local
fake Twilio for each answer it can give."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from tests.fakes.twilio import FakeTwilio, sign
from tests.notify.conftest import client
from tests.notify.messages import make_message
from tests.notify.sinks import HttpSink
from tocsin.config import SmsChannelConfig, VoiceChannelConfig
from tocsin.notify.message import Message
from tocsin.notify.registry import build_channel
from tocsin.notify.retry import Outcome, retryable
from tocsin.notify.sms import (
    MAX_SMS,
    number_of,
    signature,
    sms_body,
    twiml_answer,
    voice_twiml,
)

ALICE = {"name": "alice", "email": "", "slack": "", "phone": "+14155550101"}
BASE = "https://tocsin.example.com"

# Twilio's documented example (twilio-python's RequestValidator tests)
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]


def page(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "incident_id": 12,
        "title": "DatabaseDown instance=db1",
        "summary": "db1 is down",
        "recipient": ALICE,
    }
    return make_message(**(fields | overrides))


# --- signatures ----------------------------------------------------------------------------


def test_the_signature_is_twilios_documented_example() -> None:
    assert signature("12345", DOC_URL, DOC_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert sign("12345", DOC_URL, DOC_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="  # the fake's
    # the order parameters come in does not matter; every part of the request does
    assert signature("12345", DOC_URL, list(reversed(DOC_PARAMS))) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    changed = [(k, "9999" if k == "Digits" else v) for k, v in DOC_PARAMS]
    assert signature("12345", DOC_URL, changed) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert signature("12345", DOC_URL + "&x=1", DOC_PARAMS) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert signature("54321", DOC_URL, DOC_PARAMS) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_repeated_parameter_signs_its_distinct_values_in_order() -> None:
    """twilio-python's vector for a name given more than once."""
    params = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert signature("12345", DOC_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert sign("12345", DOC_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


# --- what a person receives ----------------------------------------------------------------


def test_a_page_is_one_short_line_with_what_to_reply() -> None:
    body = sms_body(page())
    assert body == (
        "tocsin #12 CRITICAL: DatabaseDown instance=db1 — db1 is down."
        " Reply 1 to acknowledge, 2 to resolve."
    )


def test_a_long_hostile_page_is_bounded_and_keeps_its_instructions() -> None:
    title = "Disk\x1b[31mFull\x07 \u202eevil\r\nSecond line " + "x" * 1000
    body = sms_body(page(title=title, summary="s" * 500))
    assert len(body) <= MAX_SMS
    assert body.endswith("… Reply 1 to acknowledge, 2 to resolve.")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in body)
    assert "\u202e" not in body and "Disk [31mFull evil Second line" in body


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"kind": "escalation", "escalation_step": 2},
            "tocsin #12 CRITICAL (escalated): DatabaseDown instance=db1 — db1 is down."
            " Reply 1 to acknowledge, 2 to resolve.",
        ),
        (
            {"kind": "reminder", "status": "acknowledged", "severity": None, "summary": ""},
            "tocsin #12 (still firing): DatabaseDown instance=db1. Reply 2 to resolve.",
        ),
        (
            {"kind": "acknowledged", "status": "acknowledged", "actor": "bob"},
            "tocsin #12 acknowledged by bob: DatabaseDown instance=db1. Reply 2 to resolve.",
        ),
        (
            {"kind": "resolved", "status": "resolved", "actor": None},
            "tocsin #12 resolved (its alerts ended): DatabaseDown instance=db1.",
        ),
        (
            {"kind": "test", "title": "tocsin test", "text": None},
            "tocsin test: This is a test notification from tocsin: no action is needed.",
        ),
        (
            {"kind": "test", "title": "Your tocsin code", "text": "Code 123456\n(10 minutes)"},
            "Your tocsin code: Code 123456 (10 minutes)",
        ),
        (
            {"kind": "status_update", "incident_id": 0, "title": "tocsin", "text": "Code 9"},
            "tocsin: Code 9",
        ),
        (
            {"kind": "status_update", "text": "Failing over to db2."},
            "tocsin #12 status update: DatabaseDown instance=db1: Failing over to db2.",
        ),
    ],
)
def test_each_kind_says_what_it_is_briefly(overrides: dict[str, Any], expected: str) -> None:
    assert sms_body(page(**overrides)) == expected


def test_the_number_is_the_contact_address_else_the_phone() -> None:
    assert number_of(page()) == "+14155550101"
    assert number_of(page(recipient={**ALICE, "address": "+14155550999"})) == "+14155550999"
    assert number_of(page(recipient={"name": "bob", "email": "", "slack": ""})) is None
    assert number_of(page(recipient={"name": "bob", "phone": "0415 555"})) is None
    assert number_of(page(recipient=None)) is None


def test_a_call_escapes_a_hostile_label_and_takes_one_key() -> None:
    hostile = 'x</Say><Dial>+19005550000</Dial><Say a="'
    twiml = voice_twiml(page(title=f"DiskFull job={hostile}"), f"{BASE}/api/v1/voice/gather")
    root = ET.fromstring(twiml)  # well-formed
    assert root.tag == "Response" and root.find(".//Dial") is None
    assert [child.tag for child in root] == ["Gather", "Say"]
    gather = root[0]
    assert gather.attrib == {
        "numDigits": "1",
        "action": f"{BASE}/api/v1/voice/gather",
        "method": "POST",
        "timeout": "10",
    }
    said = gather.findtext("Say") or ""
    assert hostile in said and said.endswith("Press 1 to acknowledge, 2 to resolve.")
    assert "&lt;/Say&gt;&lt;Dial&gt;" in twiml


def test_characters_xml_forbids_never_break_a_calls_twiml() -> None:
    """U+FFFE and U+FFFF (and lone surrogates) are no XML characters: a label holding one
    made the TwiML malformed, and the call said Twilio's "application error" instead of the
    page. They are removed like control characters."""
    title = "DiskFull job=a\uffffb\ufffec\ud800d"
    twiml = voice_twiml(page(title=title), f"{BASE}/api/v1/voice/gather")
    said = ET.fromstring(twiml).findtext("Gather/Say") or ""
    assert "DiskFull job=a b c d" in said
    answer = ET.fromstring(twiml_answer("Message", "Acknowledged #12: x\uffffy"))
    assert answer.findtext("Message") == "Acknowledged #12: x y"


def test_an_answer_is_escaped_twiml() -> None:
    assert twiml_answer("Message", "Acknowledged #12: a<b & c.") == (
        "<Response><Message>Acknowledged #12: a&lt;b &amp; c.</Message></Response>"
    )


# --- against the fake Twilio ---------------------------------------------------------------


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(auth_token="s3cret", numbers=("+15005550006",)) as fake:
        yield fake


def channel_config(fake: FakeTwilio, kind: str = "sms", **extra: Any) -> Any:
    model = SmsChannelConfig if kind == "sms" else VoiceChannelConfig
    data = {
        "name": f"{kind}-1",
        "type": kind,
        "account_sid": fake.account_sid,
        "auth_token": {"value": fake.auth_token},
        "from": fake.numbers[0],
        "api_url": fake.url,
    } | extra
    return model.model_validate(data)


def send(cfg: Any, message: Message, external_url: str = BASE) -> Outcome:
    async def attempt() -> Outcome:
        async with client() as http:
            built = build_channel(cfg, http=http, external_url=external_url)
            return await built.send(message)

    return asyncio.run(attempt())


def test_an_sms_goes_out_with_its_status_callback_and_the_gateways_sid(
    twilio: FakeTwilio,
) -> None:
    outcome = send(channel_config(twilio), page())
    assert outcome.ok and outcome.status == 201
    assert outcome.ref is not None and outcome.ref in twilio.messages
    (request,) = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request.form == {
        "To": "+14155550101",
        "From": "+15005550006",
        "Body": sms_body(page()),
        "StatusCallback": f"{BASE}/api/v1/sms/status",
    }


def test_a_call_goes_out_with_its_twiml(twilio: FakeTwilio) -> None:
    outcome = send(channel_config(twilio, "voice"), page())
    assert outcome.ok and outcome.ref is not None and outcome.ref.startswith("CA")
    form = twilio.requests[0].form
    assert form["To"] == "+14155550101" and form["StatusCallback"] == f"{BASE}/api/v1/sms/status"
    assert form["Twiml"] == voice_twiml(page(), f"{BASE}/api/v1/voice/gather")


def test_voice_carries_pages_only(twilio: FakeTwilio) -> None:
    outcome = send(channel_config(twilio, "voice"), page(kind="acknowledged", actor="bob"))
    assert outcome.ok and outcome.error == "not sent: voice carries pages only"
    assert twilio.requests == []


def test_a_channels_own_text_template_writes_the_sms(twilio: FakeTwilio) -> None:
    cfg = channel_config(twilio, templates={"text": "#{{ incident_id }} {{ title }}\n!"})
    assert send(cfg, page()).ok
    assert twilio.requests[0].form["Body"] == "#12 DatabaseDown instance=db1 !"


@pytest.mark.parametrize("kind", ["sms", "voice"])
def test_a_message_with_no_number_fails_for_good_and_says_so(twilio: FakeTwilio, kind: str) -> None:
    outcome = send(channel_config(twilio, kind), page(recipient={"name": "bob"}))
    assert not outcome.ok and not retryable(outcome)
    assert "no phone number" in outcome.error and "bob" in outcome.error
    assert twilio.requests == []


def _refused(outcome: Outcome, status: int, code: int) -> None:
    assert not outcome.ok and outcome.status == status
    assert f"Twilio error {code}" in outcome.error
    assert outcome.ref is None


def test_wrong_credentials_are_a_permanent_20003(twilio: FakeTwilio) -> None:
    cfg = channel_config(twilio, auth_token={"value": "wrong"})
    outcome = send(cfg, page())
    _refused(outcome, 401, 20003)
    assert not retryable(outcome) and twilio.messages == {}


def test_a_from_number_not_the_accounts_is_a_permanent_21606(twilio: FakeTwilio) -> None:
    outcome = send(channel_config(twilio, **{"from": "+15005550001"}), page())
    _refused(outcome, 400, 21606)
    assert not retryable(outcome)


def test_an_unsubscribed_recipient_is_a_permanent_21610(twilio: FakeTwilio) -> None:
    twilio.unsubscribed.add("+14155550101")
    outcome = send(channel_config(twilio), page())
    _refused(outcome, 400, 21610)
    assert not retryable(outcome) and "unsubscribed" in outcome.error


def test_an_invalid_number_is_a_permanent_21211(twilio: FakeTwilio) -> None:
    twilio.fail_next(1, 400, 21211, "The 'To' number +14155550101 is not a valid phone number.")
    outcome = send(channel_config(twilio), page())
    _refused(outcome, 400, 21211)
    assert not retryable(outcome)


def test_too_many_requests_is_retried_after_retry_after(twilio: FakeTwilio) -> None:
    twilio.fail_next(1, 429, 20429, retry_after="7")
    outcome = send(channel_config(twilio), page())
    _refused(outcome, 429, 20429)
    assert retryable(outcome) and outcome.retry_after_s == 7.0
    assert send(channel_config(twilio), page()).ok  # the next attempt goes through


def test_a_server_error_is_retried(twilio: FakeTwilio) -> None:
    twilio.fail_next(1, 503, 20500, "Service Unavailable")
    outcome = send(channel_config(twilio, "voice"), page())
    _refused(outcome, 503, 20500)
    assert retryable(outcome)


def test_no_answer_is_retried() -> None:
    with FakeTwilio() as gone:
        cfg = channel_config(gone)
    outcome = send(cfg, page())  # the server is closed
    assert not outcome.ok and outcome.status is None and retryable(outcome)


def test_the_fake_checks_what_twilio_checks(twilio: FakeTwilio) -> None:
    """Bodies the channel never sends, refused by the fake as Twilio refuses them."""

    def post(resource: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        auth = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
        request = urllib.request.Request(
            f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/{resource}",
            data=urlencode(form).encode(),
            headers={"Authorization": f"Basic {auth}"},
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    ok = {"To": "+14155550101", "From": "+15005550006"}
    assert post("Messages.json", ok | {"To": "0415"})[1]["code"] == 21211
    assert post("Messages.json", ok)[1]["code"] == 21602
    assert post("Messages.json", ok | {"Body": "x" * 1601})[1]["code"] == 21617
    assert post("Calls.json", ok)[1]["code"] == 21205
    assert post("Calls.json", ok | {"Twiml": "<Response><Say>"})[1]["code"] == 12100
    assert post("Calls.json", ok | {"From": "+15005550001", "Url": "https://x"})[1]["code"] == 21210
    status, created = post("Messages.json", ok | {"Body": "hi"})
    assert status == 201 and created["sid"].startswith("SM") and created["status"] == "queued"


def test_the_fakes_webhooks_are_real_signed_form_posts() -> None:
    """What the fake sends back to tocsin by default: a real HTTP POST of a form, signed over
    the URL it is sent to (checked here with tocsin's own signature)."""
    with HttpSink() as sink, FakeTwilio(auth_token="t0k") as twilio:
        twilio.inbound_url = f"{sink.url}/api/v1/sms/inbound?x=1"
        status, _ = twilio.reply("+14155550101", "ack 12")
        assert status == 200
        (request,) = sink.requests
        assert request.path.endswith("/api/v1/sms/inbound?x=1")
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        params = parse_qsl(request.body.decode(), keep_blank_values=True)
        assert dict(params)["Body"] == "ack 12" and dict(params)["From"] == "+14155550101"
        expected = signature("t0k", twilio.inbound_url, params)
        assert request.headers["x-twilio-signature"] == expected
