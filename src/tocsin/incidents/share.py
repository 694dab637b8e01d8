"""Signed, expiring links to an incident's text (pure): what a page's "Open" link carries
until the web console exists.

A link names the incident and when it expires, and carries
``HMAC-SHA256(key, "incident:<id>:<expires>")`` in URL-safe base64 without padding. Only the
server holds the key (``store.linkkey``); a link cannot be changed to name another incident or
a later expiry without it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Literal

DEFAULT_TTL_S = 7 * 86400
MAX_SIGNATURE_CHARS = 100
Verdict = Literal["ok", "invalid", "expired"]


def signature(key: bytes, incident_id: int, expires: int) -> str:
    mac = _keyed(key).copy()
    mac.update(f"incident:{incident_id}:{expires}".encode())
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


@lru_cache(maxsize=4)
def _keyed(key: bytes) -> hmac.HMAC:
    """HMAC-SHA256 set up with ``key``, to be copied for each link (every page signs one)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def share_path(key: bytes, incident_id: int, expires: int) -> str:
    """The path and query of the link to the incident's text: ``/share/incidents/<id>?
    expires=…&sig=…`` (a number and URL-safe base64: nothing to quote)."""
    return "/share" + console_path(key, incident_id, expires)


def console_path(key: bytes, incident_id: int, expires: int) -> str:
    """The path and query of the link a page carries, to the incident's page in the console:
    ``/incidents/<id>?expires=…&sig=…``, readable without signing in until it expires. The
    same signature opens the text at ``share_path``."""
    sig = signature(key, incident_id, expires)
    return f"/incidents/{incident_id}?expires={expires}&sig={sig}"


def verdict(key: bytes, incident_id: int, expires: int, sig: str, now: float) -> Verdict:
    """Whether a link is good: its signature first (a forged link is ``invalid`` whatever its
    expiry says), then its expiry."""
    if len(sig) > MAX_SIGNATURE_CHARS:
        return "invalid"
    expected = signature(key, incident_id, expires)
    if not hmac.compare_digest(expected.encode("ascii"), sig.encode("utf-8", "replace")):
        return "invalid"
    return "expired" if now >= expires else "ok"
