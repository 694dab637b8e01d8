"""Amazon SNS messages (alerts/sns.py): the canonical string of AWS's documented examples,
which URLs are SNS's own, and the shapes refused before any signature is checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tocsin.alerts.payloads import StructuralError
from tocsin.alerts.sns import allowed_url, canonical, certificate_url, read

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_the_canonical_string_of_a_notification() -> None:
    body = fixture("sns-notification.json")
    assert canonical(body) == (
        b"Message\nHello world!\n"
        b"MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
        b"Subject\nMy First Message\n"
        b"Timestamp\n2012-05-02T00:54:06.655Z\n"
        b"TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
        b"Type\nNotification\n"
    )
    del body["Subject"]  # no Subject: not in the string at all
    assert b"Subject" not in canonical(body)


def test_the_canonical_string_of_a_confirmation_covers_its_url_and_token() -> None:
    body = fixture("sns-subscription-confirmation.json")
    order = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    assert canonical(body) == "".join(f"{k}\n{body[k]}\n" for k in order).encode()
    message = read(body)
    assert message.region == "us-west-2"
    assert message.subscribe_url is not None and message.subscribe_url.startswith(
        "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
    )


@pytest.mark.parametrize(
    ("url", "hosts", "allowed"),
    [
        ("https://sns.us-west-2.amazonaws.com/SimpleNotificationService-x.pem", None, True),
        ("https://sns.cn-north-1.amazonaws.com.cn/x.pem", None, False),  # another region
        ("https://sns.us-east-1.amazonaws.com/x.pem", None, False),  # not the topic's region
        ("http://sns.us-west-2.amazonaws.com/x.pem", None, False),  # not HTTPS
        ("https://sns.us-west-2.amazonaws.com:8443/x.pem", None, False),
        ("https://sns.us-west-2.amazonaws.com.evil.example/x.pem", None, False),
        ("https://evil.example/sns.us-west-2.amazonaws.com/x.pem", None, False),
        ("https://user@sns.us-west-2.amazonaws.com/x.pem", None, False),
        ("https://sns.us-west-2.amazonaws.com:notaport/x.pem", None, False),
        ("http://127.0.0.1:8080/x.pem", ["http://127.0.0.1:8080"], True),
        ("http://127.0.0.1:8081/x.pem", ["http://127.0.0.1:8080"], False),
        ("https://sns.internal/x.pem", ["sns.internal"], True),
        ("http://sns.internal/x.pem", ["sns.internal"], False),
        # urlsplit drops a tab (allowed), httpx refuses the URL (a 500): one reading only
        ("https://sns.us-west-2.amazon\taws.com/x.pem", None, False),
        ("https://sns.us-west-2.amazonaws.com\n/x.pem", None, False),
        ("https://evil.example\\@sns.us-west-2.amazonaws.com/x.pem", None, False),
    ],
)
def test_only_sns_own_host_serves_certificates(
    url: str, hosts: list[str] | None, allowed: bool
) -> None:
    assert allowed_url(url, "us-west-2", hosts) is allowed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://sns.us-west-2.amazonaws.com/SimpleNotificationService-9c6465fa.pem", True),
        # each of these would be fetched and kept as another certificate
        ("https://sns.us-west-2.amazonaws.com/SimpleNotificationService-9c6465fa.pem?a=1", False),
        ("https://sns.us-west-2.amazonaws.com/SimpleNotificationService-9c6465fa.pem#1", False),
        ("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription", False),
        ("https://sns.us-west-2.amazonaws.com/x/SimpleNotificationService-1.pem", False),
    ],
)
def test_a_certificate_url_is_one_sns_gives(url: str, allowed: bool) -> None:
    assert certificate_url(url, "us-west-2", None) is allowed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Type": "Other"}, "Type must be one of"),
        ({"SignatureVersion": "3"}, "SignatureVersion '3' is not 1 or 2"),
        ({"Signature": "not base64!"}, "Signature is not base64"),
        ({"TopicArn": "arn:aws:sqs:us-west-2:1:q"}, "TopicArn is not an SNS topic ARN"),
        ({"Message": 7}, "Message must be a string"),
        ({"Timestamp": "yesterday"}, "Timestamp"),
    ],
)
def test_a_body_that_is_not_an_sns_message_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(StructuralError) as raised:
        read(fixture("sns-notification.json") | change)
    assert message in raised.value.message
