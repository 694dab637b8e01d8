"""A local Twilio: a real HTTP server (a thread on 127.0.0.1) with the two resources tocsin
uses, ``Messages.json`` and ``Calls.json`` of ``/2010-04-01/Accounts/{AccountSid}/``, and the
webhooks Twilio sends back, signed as Twilio signs them.

What it checks, as Twilio does, answering Twilio's error JSON (``{code, message, more_info,
status}``):

- HTTP Basic auth: the account SID (which must be the one in the path) and its auth token,
  else 401 with code 20003;
- ``To`` in E.164, else 400 21211; a number that answered STOP (``unsubscribed``): 21610;
- ``From`` one of the account's numbers, else 400 21606 (messages) or 21210 (calls);
- a message's ``Body``: present (21602) and at most 1,600 characters (21617);
- a call's ``Twiml`` or ``Url`` (21205), the TwiML well-formed (12100);
- ``StatusCallback``, when given, an http(s) URL (21609).

``fail_next(n, status, code)`` makes the next ``n`` requests fail with that status and code
(429 with ``Retry-After``, a 503, ...). Every request is recorded (``requests``), with
whether it passed. What was accepted answers 201 with the resource (``sid`` ``SM…``/``CA…``,
``status`` ``queued``).

Webhooks back to tocsin, each signed (``X-Twilio-Signature``) with the account's auth token
over the URL it is sent to and its parameters, by this module's own implementation of
Twilio's algorithm (``sign``): ``send_status(sid, status, error_code)`` to the resource's
``StatusCallback``; ``reply(from_number, body)`` to the number's incoming-message webhook
(``inbound_url``); ``press(call_sid, digits)`` to the ``action`` of the call's ``<Gather>``.
They go through ``poster`` (a real HTTP POST by default; a test of the app in process gives
one that posts through its test client).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
API_VERSION = "2010-04-01"
_RESOURCE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/(Messages|Calls)\.json$")

# (url, params, headers) -> (status, body)
Poster = Callable[[str, list[tuple[str, str]], dict[str, str]], tuple[int, str]]


def sign(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL + each parameter name
    and value, by name; a repeated name's distinct values sorted)), as twilio-python's
    ``RequestValidator.compute_signature``."""
    by_name: dict[str, list[str]] = {}
    for name, value in params:
        by_name.setdefault(name, []).append(value)
    text = url
    for name in sorted(by_name):
        for value in sorted(set(by_name[name])):
            text += name + value
    mac = hmac.new(auth_token.encode(), text.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def http_post(url: str, params: list[tuple[str, str]], headers: dict[str, str]) -> tuple[int, str]:
    """A real form POST (the default ``poster``)."""
    data = urlencode(params).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@dataclass(frozen=True)
class Request:
    """A request the fake received."""

    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    form: dict[str, str]
    status: int  # what it answered
    code: int | None  # Twilio's error code, when it refused


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    retry_after: str | None


@dataclass
class FakeTwilio:
    auth_token: str = "fake-auth-token"
    numbers: tuple[str, ...] = ("+15005550006",)
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    inbound_url: str = ""  # the incoming-message webhook configured on the numbers
    poster: Poster = http_post
    unsubscribed: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # --- the server ----------------------------------------------------------------------

    def __enter__(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, extra = fake._handle(self.path, headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self.do_POST()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        """The API's base URL (a channel's ``api_url``)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(
        self,
        n: int,
        status: int,
        code: int,
        message: str = "",
        retry_after: str | None = None,
    ) -> None:
        """The next ``n`` requests (that pass authentication) answer ``status`` with
        Twilio's ``code``; ``retry_after``: the Retry-After header."""
        said = message or {429: "Too Many Requests", 503: "Service Unavailable"}.get(
            status, f"error {code}"
        )
        with self._lock:
            self._failures += [_Failure(status, code, said, retry_after) for _ in range(n)]

    # --- what it checks ------------------------------------------------------------------

    def _handle(
        self, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        form = dict(parse_qsl(body, keep_blank_values=True))
        status, answer, extra = self._answer(path, headers, form)
        code = answer.get("code") if status >= 400 else None
        with self._lock:
            self.requests.append(Request("POST", path, headers, form, status, code))
        return status, answer, extra

    def _answer(
        self, path: str, headers: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        found = _RESOURCE.match(urlsplit(path).path)
        if found is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        if not self._authorized(headers.get("authorization", ""), found.group(1)):
            return _error(401, 20003, "Authenticate")
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            status, answer, _ = _error(failure.status, failure.code, failure.message)
            return status, answer, extra
        to, sender = form.get("To", ""), form.get("From", "")
        calls = found.group(2) == "Calls"
        if not E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.unsubscribed:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if sender not in self.numbers:
            if calls:
                return _error(
                    400,
                    21210,
                    f"The source phone number provided, {sender}, is not yet verified for"
                    " your account.",
                )
            return _error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone"
                " number or short code for your account.",
            )
        callback = form.get("StatusCallback")
        if callback is not None and urlsplit(callback).scheme not in ("http", "https"):
            return _error(400, 21609, "The StatusCallback URL is not a valid URL.")
        if calls:
            return self._call(form)
        return self._message(form)

    def _authorized(self, header: str, account: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or account != self.account_sid:
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(
            password, self.auth_token
        )

    def _message(self, form: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        text = form.get("Body")
        if not text:
            return _error(400, 21602, "Message body is required.")
        if len(text) > 1600:
            return _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        sid = "SM" + secrets.token_hex(16)
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": text,
            "direction": "outbound-api",
            "from": form["From"],
            "to": form["To"],
            "status": "queued",
            "num_segments": str(-(-len(text) // 153) if len(text) > 160 else 1),
            "num_media": "0",
            "error_code": None,
            "error_message": None,
            "price": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "status_callback": form.get("StatusCallback"),
        }
        with self._lock:
            self.messages[sid] = resource
        return 201, resource, {}

    def _call(self, form: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        twiml, url = form.get("Twiml"), form.get("Url")
        if not twiml and not url:
            return _error(400, 21205, "Url parameter is required.")
        parsed = None
        if twiml:
            try:
                parsed = ET.fromstring(twiml)
            except ET.ParseError:
                return _error(400, 12100, "Document parse failure")
            if parsed.tag != "Response":
                return _error(400, 12100, "Document parse failure: the root is not <Response>")
        sid = "CA" + secrets.token_hex(16)
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "direction": "outbound-api",
            "from": form["From"],
            "to": form["To"],
            "status": "queued",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
            "twiml": twiml,
            "status_callback": form.get("StatusCallback"),
        }
        with self._lock:
            self.calls[sid] = resource
        return 201, resource, {}

    # --- webhooks back to tocsin ---------------------------------------------------------

    def signed_post(
        self, url: str, params: list[tuple[str, str]], token: str | None = None
    ) -> tuple[int, str]:
        """POST ``params`` to ``url`` signed as Twilio signs (with ``token``, by default the
        account's auth token)."""
        headers = {"X-Twilio-Signature": sign(token or self.auth_token, url, params)}
        return self.poster(url, params, headers)

    def send_status(self, sid: str, status: str, error_code: str | None = None) -> tuple[int, str]:
        """The status callback of a message or call, to its ``StatusCallback``."""
        resource = self.messages.get(sid) or self.calls.get(sid)
        assert resource is not None, f"no message or call {sid}"
        url = resource["status_callback"]
        assert url, f"{sid} asked for no status callback"
        resource["status"] = status
        if sid.startswith("SM"):
            params = [
                ("MessageSid", sid),
                ("SmsSid", sid),
                ("MessageStatus", status),
                ("SmsStatus", status),
            ]
        else:
            params = [("CallSid", sid), ("CallStatus", status), ("Direction", "outbound-api")]
        params += [
            ("AccountSid", self.account_sid),
            ("From", resource["from"]),
            ("To", resource["to"]),
            ("ApiVersion", API_VERSION),
        ]
        if error_code:
            params.append(("ErrorCode", error_code))
        return self.signed_post(url, params)

    def reply(self, from_number: str, body: str, to: str | None = None) -> tuple[int, str]:
        """An SMS from ``from_number`` to the account's number: the incoming-message webhook
        (``inbound_url``)."""
        assert self.inbound_url, "no incoming-message webhook configured (inbound_url)"
        sid = "SM" + secrets.token_hex(16)
        params = self.inbound_params(sid, from_number, body, to)
        return self.signed_post(self.inbound_url, params)

    def inbound_params(
        self, sid: str, from_number: str, body: str, to: str | None = None
    ) -> list[tuple[str, str]]:
        """The parameters of an incoming message, as Twilio posts them."""
        return [
            ("ToCountry", "US"),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("Body", body),
            ("To", to or self.numbers[0]),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", self.account_sid),
            ("From", from_number),
            ("ApiVersion", API_VERSION),
        ]

    def press(self, call_sid: str, digits: str) -> tuple[int, str]:
        """Keys pressed on a call: posted to the ``action`` of its TwiML's ``<Gather>``."""
        call = self.calls[call_sid]
        root = ET.fromstring(call["twiml"])
        gather = root.find("Gather")
        assert gather is not None, "the call takes no key"
        action = gather.get("action", "")
        params = [
            ("CallSid", call_sid),
            ("AccountSid", self.account_sid),
            ("From", call["from"]),
            ("To", call["to"]),
            ("CallStatus", "in-progress"),
            ("Direction", "outbound-api"),
            ("Digits", digits),
            ("FinishedOnKey", ""),
            ("ApiVersion", API_VERSION),
        ]
        return self.signed_post(action, params)


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return (
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        {},
    )
