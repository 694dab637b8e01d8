"""Email: a ``Message`` over SMTP (``aiosmtplib``), multipart/alternative with the text and
HTML of the templates, to the person paged (``recipient.email``) or else the channel's ``to``.

SMTP's replies decide the outcome: 4yz is transient, 5yz permanent (``retry.smtp_outcome``);
a server that does not offer the STARTTLS the channel requires is a permanent failure (a
misconfiguration or a downgrade), and recipients refused while others accepted count as sent
(sending again would page those others twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import hashlib
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import aiosmtplib

from tocsin.notify.base import (
    BaseChannel,
    ChannelConfigError,
    ChannelSettings,
    Parts,
    SecretRef,
    error_text,
    secret_value,
)
from tocsin.notify.message import Message
from tocsin.notify.retry import Outcome, smtp_outcome
from tocsin.notify.templates import Rendered
from tocsin.templating import one_line

_MAX_SUBJECT = 250
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]")


def _address(text: str, what: str) -> str:
    """A single address, or ValueError: no CR/LF, exactly one @."""
    text = text.strip()
    if not text or any(c in text for c in "\r\n") or text.count("@") != 1:
        raise ValueError(f"{what} {text!r} is not an email address")
    Address(addr_spec=text)  # raises on what the header would not accept
    return text


def _message_id(key: str, domain: str) -> str:
    """``<key@domain>``: the idempotency key, made safe for a Message-ID (with a digest of
    the original when characters had to be replaced, so that two keys stay two ids)."""
    safe = _ID_UNSAFE.sub("-", key).strip(".")[:150] or "message"
    if safe != key:
        safe += "." + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return f"<{safe}@{domain}>"


def email_message(
    message: Message, rendered: Rendered, sender: str, recipients: list[str], now: float
) -> EmailMessage:
    """The MIME message: multipart/alternative, text then HTML. Header values are single
    lines, so nothing in an alert can add a header."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "tocsin.invalid"
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        domain = "tocsin.invalid"
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Subject"] = one_line(rendered.title, _MAX_SUBJECT) or f"tocsin #{message.incident_id}"
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(now, usegmt=True)
    mail["Message-ID"] = _message_id(message.idempotency_key, domain)
    # Every message of an incident threads under one (never sent) root in mail clients.
    mail["References"] = f"<tocsin-incident-{message.incident_id}@{domain}>"
    mail["X-Tocsin-Idempotency-Key"] = one_line(message.idempotency_key, 500)
    mail["X-Tocsin-Incident"] = str(message.incident_id)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    mail.set_content(rendered.text or " ")
    mail.add_alternative(rendered.html or "<p></p>", subtype="html")
    return mail


@dataclass(frozen=True)
class _Smtp:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    tls_context: ssl.SSLContext | None
    hello: str | None = None  # the EHLO name (None: this host's)


def _tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ChannelConfigError(f"cannot load CA file {ca_file}: {exc}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _StartTlsMissing(Exception):
    pass


class SmtpSettings(Protocol):
    host: str
    port: int
    starttls: bool
    tls: bool  # implicit TLS (port 465)
    username: str | None
    verify: bool  # verify the server's certificate
    ca_file: str | None
    hello: str | None

    @property
    def password(self) -> SecretRef | None: ...


class EmailSettings(ChannelSettings, Protocol):
    sender: str  # ``from`` in tocsin.yaml

    @property
    def smtp(self) -> SmtpSettings: ...
    @property
    def to(self) -> Sequence[str]:
        """When the channel itself is the target."""
        ...


class EmailChannel(BaseChannel):
    kind = "email"

    def __init__(self, parts: Parts, smtp: _Smtp, sender: str, to: list[str]) -> None:
        super().__init__(parts)
        self._smtp = smtp
        self._sender = sender
        self._to = to

    def recipients(self, message: Message) -> list[str]:
        if message.recipient and message.recipient.get("email"):
            return [message.recipient["email"]]
        return list(self._to)

    def build(self, message: Message, recipients: list[str]) -> EmailMessage:
        rendered = self._templates.render_all(message)
        return email_message(message, rendered, self._sender, recipients, self._clock.now())

    async def _transmit(
        self, mail: EmailMessage, recipients: list[str]
    ) -> dict[str, aiosmtplib.SMTPResponse]:
        """One SMTP session: connect (implicit TLS), EHLO, STARTTLS when required, AUTH,
        MAIL/RCPT/DATA; the recipients that were refused while others were accepted."""
        smtp = self._smtp
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            use_tls=smtp.implicit_tls,
            start_tls=False,  # done below, so that a missing STARTTLS is told apart
            tls_context=smtp.tls_context,
            timeout=self._timeout_s,
            local_hostname=smtp.hello,
        )
        await client.connect()
        try:
            await client.ehlo()
            if smtp.starttls:
                if not client.supports_extension("starttls"):
                    raise _StartTlsMissing()
                await client.starttls()
            if smtp.username is not None and smtp.password is not None:
                await client.login(smtp.username, smtp.password)
            refused, _ = await client.send_message(mail, sender=self._sender, recipients=recipients)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
            return refused
        finally:
            client.close()

    async def _send(self, message: Message) -> Outcome:
        try:
            recipients = [_address(r, "recipient") for r in self.recipients(message)]
        except ValueError as exc:
            return Outcome(ok=False, error=error_text(str(exc)), transient=False)
        if not recipients:
            return Outcome(
                ok=False,
                error="no recipient: the message pages nobody with an email and `to` is empty",
                transient=False,
            )
        mail = self.build(message, recipients)
        try:
            async with asyncio.timeout(self._timeout_s):
                refused = await self._transmit(mail, recipients)
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            return Outcome(ok=False, status=None, error=f"no answer within {self._timeout_s:g}s")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            return smtp_outcome(first.code, error_text(f"recipients refused: {first.message}"))
        except aiosmtplib.SMTPResponseException as exc:
            return smtp_outcome(exc.code, error_text(f"SMTP {exc.code}: {exc.message}"))
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
            return Outcome(ok=False, status=None, error=error_text(f"connection: {exc}"))
        except _StartTlsMissing:
            # Required TLS not offered: a misconfiguration or a downgrade; do not wait for it.
            return Outcome(
                ok=False,
                error="the server does not offer STARTTLS, which this channel requires",
                transient=False,
            )
        except (aiosmtplib.SMTPException, ssl.SSLError, OSError) as exc:
            return Outcome(ok=False, status=None, error=error_text(f"{type(exc).__name__}: {exc}"))
        if refused:
            # Some recipients took it: sending again would page them twice.
            return Outcome(
                ok=True,
                status=250,
                error=error_text(
                    "refused by " + ", ".join(f"{r} ({v.code})" for r, v in refused.items())
                ),
            )
        return Outcome(ok=True, status=250)


def build(cfg: EmailSettings, parts: Parts) -> EmailChannel:
    where = parts.where
    smtp_cfg = cfg.smtp
    password = None
    if smtp_cfg.password is not None:
        password = secret_value(parts.secrets, smtp_cfg.password, f"{where}: smtp.password")
    if password is not None and smtp_cfg.username is None:
        raise ChannelConfigError(f"{where}: smtp.password is set without smtp.username")
    if smtp_cfg.username is not None and password is None:
        raise ChannelConfigError(f"{where}: smtp.username is set without smtp.password")
    try:
        sender = _address(cfg.sender, "from")
        to = [_address(t, "to") for t in cfg.to]
    except ValueError as exc:
        raise ChannelConfigError(f"{where}: {exc}") from None
    uses_tls = smtp_cfg.tls or smtp_cfg.starttls
    smtp = _Smtp(
        host=smtp_cfg.host,
        port=smtp_cfg.port,
        implicit_tls=smtp_cfg.tls,
        starttls=smtp_cfg.starttls and not smtp_cfg.tls,
        username=smtp_cfg.username,
        password=password,
        tls_context=_tls_context(smtp_cfg.verify, smtp_cfg.ca_file) if uses_tls else None,
        hello=smtp_cfg.hello,
    )
    return EmailChannel(parts, smtp, sender, to)
