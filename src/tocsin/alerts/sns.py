"""Amazon SNS messages to an HTTP(S) subscriber: their shape, the string their signature
covers, where their certificate and confirmation may come from, and the signature check.

SNS signs each message (``SignatureVersion`` 1: SHA1withRSA, 2: SHA256withRSA) over a
canonical string of some of its fields, each as ``name\\nvalue\\n`` in a fixed order
(Amazon SNS developer guide, "Verifying the signatures of Amazon SNS messages"). The
certificate comes from ``SigningCertURL``, which must be SNS's own host of the topic's region
(``sns.<region>.amazonaws.com``) over HTTPS, else anyone could sign with their own; the same
host must serve a ``SubscribeURL`` before tocsin visits it. A valid signature only proves that
SNS sent the message: the topic must also be one the configuration lists, since any AWS account
can make a topic. Pure: the certificate is handed in (``service/sources.py`` fetches it).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tocsin.alerts.payloads import StructuralError, parse_time
from tocsin.errors import Forbidden

TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED["UnsubscribeConfirmation"] = _SIGNED["SubscriptionConfirmation"]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_REGION = re.compile(r"arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]{1,256}")
MAX_FIELD = 256 * 1024  # SNS messages are at most 256 KiB
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")  # controls, spaces and backslashes
# where SNS keeps its signing certificates: one file name, no query (each URL is kept)
_CERT_PATH = re.compile(r"/SimpleNotificationService-[A-Za-z0-9]{1,64}\.pem")


@dataclass(frozen=True)
class SnsMessage:
    """A message as SNS sent it (its signature not yet checked)."""

    type: str
    message_id: str
    topic_arn: str
    region: str
    message: str
    timestamp: datetime
    signature_version: str
    signature: bytes
    signing_cert_url: str
    subscribe_url: str | None
    signed: bytes  # the canonical string the signature covers


def read(body: Any) -> SnsMessage:
    """The message's fields, checked for shape (``StructuralError``: 422 otherwise)."""
    if not isinstance(body, dict):
        raise StructuralError("an SNS message is a JSON object")
    kind = body.get("Type")
    if kind not in TYPES:
        raise StructuralError(f"Type must be one of {', '.join(TYPES)}")
    for name in (*_SIGNED[kind], "SignatureVersion", "Signature", "SigningCertURL"):
        if name == "Subject" and name not in body:
            continue
        value = body.get(name)
        if not isinstance(value, str) or len(value) > MAX_FIELD:
            raise StructuralError(f"{name} must be a string of at most {MAX_FIELD} characters")
    version = body["SignatureVersion"]
    if version not in _HASHES:
        raise StructuralError(f"SignatureVersion {version[:10]!r} is not 1 or 2")
    found = _REGION.fullmatch(body["TopicArn"])
    if found is None:
        raise StructuralError("TopicArn is not an SNS topic ARN")
    try:
        signature = base64.b64decode(body["Signature"], validate=True)
    except (binascii.Error, ValueError):
        raise StructuralError("Signature is not base64") from None
    timestamp = parse_time(body["Timestamp"], "Timestamp")
    if timestamp is None:
        raise StructuralError("Timestamp is required")
    return SnsMessage(
        type=kind,
        message_id=body["MessageId"],
        topic_arn=body["TopicArn"],
        region=found.group(1),
        message=body["Message"],
        timestamp=timestamp,
        signature_version=version,
        signature=signature,
        signing_cert_url=body["SigningCertURL"],
        subscribe_url=body.get("SubscribeURL") if kind != "Notification" else None,
        signed=canonical(body),
    )


def canonical(body: dict[str, Any]) -> bytes:
    """The string SNS signs: each signed field of the message's type that it has, as
    ``name\\nvalue\\n``, in SNS's order."""
    out = []
    for name in _SIGNED[str(body["Type"])]:
        if name in body:
            out.append(f"{name}\n{body[name]}\n")
    return "".join(out).encode("utf-8")


def allowed_url(url: str, region: str, hosts: list[str] | None) -> bool:
    """Whether a certificate or confirmation URL is SNS's own: HTTPS on
    ``sns.<region>.amazonaws.com`` (``.amazonaws.com.cn`` in China) by default; with ``hosts``
    configured, HTTPS on one of them, or exactly an origin given with its scheme (tests)."""
    if _UNSAFE.search(url):
        return False  # urlsplit drops tabs and newlines that httpx refuses: one reading only
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.username or parts.password or not parts.hostname:
        return False
    host = parts.hostname.lower()
    if hosts is None:
        return (
            parts.scheme == "https"
            and port in (None, 443)
            and host
            in (
                f"sns.{region}.amazonaws.com",
                f"sns.{region}.amazonaws.com.cn",
            )
        )
    for allowed in hosts:
        if "://" in allowed:
            want = urlsplit(allowed)
            if (parts.scheme, parts.netloc.lower()) == (want.scheme, want.netloc.lower()):
                return True
        elif parts.scheme == "https" and port in (None, 443) and host == allowed.lower():
            return True
    return False


def certificate_url(url: str, region: str, hosts: list[str] | None) -> bool:
    """Whether ``SigningCertURL`` is one SNS would give: an ``allowed_url`` whose path is
    ``/SimpleNotificationService-<id>.pem``, with no query or fragment. Each certificate
    URL is fetched and kept: without this, one certificate under endless query strings
    would be fetched for every unsigned message and push the kept ones out."""
    if not allowed_url(url, region, hosts):
        return False
    parts = urlsplit(url)
    return bool(_CERT_PATH.fullmatch(parts.path)) and not parts.query and not parts.fragment


def public_key(certificate_pem: bytes) -> rsa.RSAPublicKey:
    """The RSA key of a PEM certificate; ``Forbidden`` (403) when it is not one."""
    try:
        key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except ValueError:
        raise Forbidden("the SNS signing certificate cannot be read") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise Forbidden("the SNS signing certificate is not an RSA certificate")
    return key


def verify(message: SnsMessage, certificate_pem: bytes) -> None:
    """The message's signature checked with the certificate's public key; ``Forbidden``
    (403) when it does not verify or the certificate cannot be read."""
    key = public_key(certificate_pem)
    algorithm = _HASHES[message.signature_version]()
    try:
        key.verify(message.signature, message.signed, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise Forbidden("the SNS message's signature does not verify") from None
