"""The email channel against a real SMTP server (aiosmtpd): plain, STARTTLS, implicit TLS,
AUTH LOGIN and PLAIN, transient and permanent refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.notify.conftest import config, deliver
from tests.notify.messages import alert, make_message
from tests.notify.sinks import Certificate, SmtpSink, free_port
from tocsin.config import EmailChannelConfig
from tocsin.notify.base import ChannelConfigError
from tocsin.notify.retry import Outcome, Policy, next_step

POLICY = Policy(max_attempts=5, initial_s=1.0, max_s=60.0)


def email_channel(port: int, **smtp: Any) -> EmailChannelConfig:
    settings = {"host": "127.0.0.1", "port": port, "starttls": False, **smtp}
    cfg: EmailChannelConfig = config(
        EmailChannelConfig,
        name="mail",
        type="email",
        smtp=settings,
        **{"from": "tocsin@example.com"},
        to=["oncall@example.com", "sre@example.com"],
        retry={"timeout": "5s"},
    )
    return cfg


def test_plain_smtp_sends_text_and_html_to_the_person_paged() -> None:
    with SmtpSink() as sink:
        outcome = deliver(email_channel(sink.port), make_message())
    assert outcome == Outcome(ok=True, status=250)
    (received,) = sink.messages
    assert received.mail_from == "tocsin@example.com"
    assert received.rcpt_tos == ["ada@example.com"]
    mail = received.message
    assert mail["Subject"] == "[FIRING:2] HighErrorRate pebble-api (critical)"
    assert mail["To"] == "ada@example.com"
    assert mail["From"] == "tocsin@example.com"
    assert mail["X-Tocsin-Idempotency-Key"] == "incident-42-firing-1"
    assert mail["Message-ID"] == "<incident-42-firing-1@example.com>"
    assert mail["References"] == "<tocsin-incident-42@example.com>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert "Ada Lovelace, you are paged for this incident." in plain.get_content()
    assert "kubectl -n payments logs deploy/pebble-api" in plain.get_content()
    assert '<a href="https://runbooks.example.com/pebble-api#higherrorrate">' in html.get_content()


def test_without_a_person_the_channel_list_gets_it() -> None:
    with SmtpSink() as sink:
        assert deliver(email_channel(sink.port), make_message(recipient=None)).ok
    assert sink.messages[0].rcpt_tos == ["oncall@example.com", "sre@example.com"]
    assert sink.messages[0].message["To"] == "oncall@example.com, sre@example.com"


def test_no_header_injection_from_alert_text() -> None:
    evil = "HighErrorRate\r\nBcc: evil@x\r\n\r\n<b>body</b>"
    message = make_message(
        title=evil,
        group_labels={"alertname": evil},
        alerts=(alert({"alertname": evil, "instance": "a\r\nBcc: evil@x"}, {"summary": evil}),),
        idempotency_key="key\r\nBcc: evil@x",
    )
    with SmtpSink() as sink:
        assert deliver(email_channel(sink.port), message).ok
    (received,) = sink.messages
    assert received.rcpt_tos == ["ada@example.com"]
    mail = received.message
    assert mail["Bcc"] is None
    assert "evil@x" not in str(mail["To"])
    assert mail["Subject"] == "[FIRING:1] HighErrorRate Bcc: evil@x <b>body</b> (critical)"
    header_block = received.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block
    assert mail["X-Tocsin-Idempotency-Key"] == "key Bcc: evil@x"
    html = mail.get_body(("html",))
    assert html is not None and "<b>body</b>" not in html.get_content()


def test_a_recipient_that_is_not_an_address_is_a_permanent_failure() -> None:
    with SmtpSink() as sink:
        bad = {"name": "Mallory", "email": "m@x\r\nRCPT TO:<evil@x>"}
        outcome = deliver(email_channel(sink.port), make_message(recipient=bad))
    assert not outcome.ok and outcome.transient is False
    assert next_step(POLICY, 1, outcome, 0.0) == "dead"
    assert sink.messages == []


def test_starttls_with_verified_certificate_and_auth_plain(certificate: Certificate) -> None:
    with SmtpSink(
        tls="starttls", certificate=certificate, require_starttls=True, users={"tocsin": "pw"}
    ) as sink:
        cfg = email_channel(
            sink.port,
            starttls=True,
            ca_file=str(certificate.cert),
            username="tocsin",
            password={"value": "pw"},
        )
        assert deliver(cfg, make_message()).ok
    (received,) = sink.messages
    assert received.tls is True
    assert received.auth_mechanism == "PLAIN"


def test_certificates_are_verified_by_default(certificate: Certificate) -> None:
    with SmtpSink(tls="starttls", certificate=certificate, require_starttls=True) as sink:
        outcome = deliver(email_channel(sink.port, starttls=True), make_message())
        assert not outcome.ok
        assert "CERTIFICATE_VERIFY_FAILED" in outcome.error or "certificate" in outcome.error
        assert sink.messages == []
        # verify: false is the operator's explicit choice
        assert deliver(email_channel(sink.port, starttls=True, verify=False), make_message()).ok


def test_required_starttls_not_offered_is_permanent() -> None:
    with SmtpSink() as sink:
        outcome = deliver(email_channel(sink.port, starttls=True), make_message())
    assert not outcome.ok
    assert next_step(POLICY, 1, outcome, 0.0) == "dead"
    assert sink.messages == []


def test_implicit_tls(certificate: Certificate) -> None:
    with SmtpSink(tls="implicit", certificate=certificate) as sink:
        cfg = email_channel(sink.port, tls=True, ca_file=str(certificate.cert))
        assert deliver(cfg, make_message()).ok
    assert sink.messages[0].tls is True


def test_auth_login() -> None:
    with SmtpSink(
        users={"tocsin": "pw"}, auth_require_tls=False, exclude_mechanisms=["PLAIN"]
    ) as sink:
        cfg = email_channel(sink.port, username="tocsin", password={"value": "pw"})
        assert deliver(cfg, make_message()).ok
    assert sink.messages[0].auth_mechanism == "LOGIN"


def test_wrong_password_is_permanent() -> None:
    with SmtpSink(users={"tocsin": "pw"}, auth_require_tls=False) as sink:
        cfg = email_channel(sink.port, username="tocsin", password={"value": "nope"})
        outcome = deliver(cfg, make_message())
    assert (outcome.ok, outcome.status) == (False, 535)
    assert next_step(POLICY, 1, outcome, 0.0) == "dead"


@pytest.mark.parametrize(
    ("stage", "reply", "retry"),
    [
        ("RCPT", "451 4.3.0 Try again later", True),
        ("RCPT", "452 4.2.2 Mailbox full", True),
        ("RCPT", "550 5.1.1 No such user", False),
        ("DATA", "421 4.3.2 Shutting down", True),
        ("DATA", "554 5.7.1 Rejected", False),
    ],
)
def test_smtp_refusals(stage: str, reply: str, retry: bool) -> None:
    with SmtpSink() as sink:
        sink.fail(stage, reply)  # type: ignore[arg-type]
        outcome = deliver(email_channel(sink.port), make_message())
    assert not outcome.ok
    assert outcome.status == int(reply[:3])
    assert isinstance(next_step(POLICY, 1, outcome, 0.0), float) is retry


def test_smtp_connection_refused() -> None:
    outcome = deliver(email_channel(free_port()), make_message())
    assert (outcome.ok, outcome.status) == (False, None)
    assert outcome.error
    assert isinstance(next_step(POLICY, 1, outcome, 0.0), float)


def test_email_config_errors() -> None:
    with pytest.raises(ChannelConfigError, match=r"username is set without smtp\.password"):
        deliver(email_channel(25, username="u"), make_message())
    with pytest.raises(ChannelConfigError, match="not an email address"):
        cfg = email_channel(25).model_copy(update={"to": ["a@b\nBcc: c@d"]})
        deliver(cfg, make_message())
    with pytest.raises(ChannelConfigError, match="CA file"):
        deliver(email_channel(25, starttls=True, ca_file="/nonexistent/ca.pem"), make_message())
