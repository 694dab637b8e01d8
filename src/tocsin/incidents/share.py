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
from urllib.parse import urlencode

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


# --- action links: acknowledge or resolve from the message itself (issue 21) ---------------
#
# A page or a status update to a person carries a link per action. It names the action, the
# incident, the person it was sent to, a nonce (one per message and action: the link is used
# once) and its expiry, and carries their HMAC. A GET of it shows what it will do (a mail
# scanner fetches links before people do); a POST from that page acts.

LINK_ACTIONS = ("acknowledge", "resolve")
# the incident's statuses in which each action still does something
_ALLOWS = {
    "acknowledge": ("pending", "triggered"),
    "resolve": ("pending", "triggered", "acknowledged"),
}


def allowed_actions(status: str) -> list[str]:
    """The actions a message about an incident in ``status`` carries links for."""
    return [action for action in LINK_ACTIONS if status in _ALLOWS[action]]


MAX_NONCE_CHARS = 32


def action_signature(
    key: bytes, action: str, incident_id: int, who: str, nonce: str, expires: int
) -> str:
    mac = _keyed(key).copy()
    mac.update(f"act:{action}:{incident_id}:{who}:{nonce}:{expires}".encode())
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


def nonce_for(key: bytes, message_key: str, action: str) -> str:
    """The nonce of a message's link for ``action``: derived from the message's
    idempotency key, so a message sent again carries the same links."""
    mac = _keyed(key).copy()
    mac.update(f"nonce:{message_key}:{action}".encode())
    return mac.hexdigest()[:MAX_NONCE_CHARS]


def action_path(
    key: bytes, action: str, incident_id: int, who: str, nonce: str, expires: int
) -> str:
    """``/act/<action>/<id>?who=…&n=…&expires=…&sig=…``: the person's name is quoted, the
    rest is digits, hex and URL-safe base64."""
    sig = action_signature(key, action, incident_id, who, nonce, expires)
    query = urlencode({"who": who, "n": nonce, "expires": expires, "sig": sig})
    return f"/act/{action}/{incident_id}?{query}"


def action_verdict(
    key: bytes,
    action: str,
    incident_id: int,
    who: str,
    nonce: str,
    expires: int,
    sig: str,
    now: float,
) -> Verdict:
    """Whether an action link is good: its signature over everything it names, then its
    expiry."""
    if action not in LINK_ACTIONS or len(sig) > MAX_SIGNATURE_CHARS:
        return "invalid"
    if len(nonce) > MAX_NONCE_CHARS or len(who) > 200:
        return "invalid"
    expected = action_signature(key, action, incident_id, who, nonce, expires)
    if not hmac.compare_digest(expected.encode("ascii"), sig.encode("utf-8", "replace")):
        return "invalid"
    return "expired" if now >= expires else "ok"
