"""Real peers for notification tests, on 127.0.0.1: an HTTP sink (plain, or checking what
Slack checks) and an SMTP sink (aiosmtpd, optionally with STARTTLS, implicit TLS and AUTH).

Both record what they receive and can be told to fail the next N requests, so a test states
what a human (or a receiving system) would get. Other test packages may import them.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- HTTP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


SLACK_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)


def _text_problems(obj: Any, where: str, limit: int, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"{where}: a text object of type {'/'.join(kinds)} is required"]
    text = obj.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        return [f"{where}: text must be 1..{limit} characters"]
    return []


def slack_problems(method: str, headers: dict[str, str], body: bytes) -> tuple[str, list[str]]:
    """What Slack's incoming webhook would reject, as (error code, details); ("", []) is ok."""
    if method != "POST":
        return "invalid_method", [f"method {method}"]
    if not headers.get("content-type", "").startswith("application/json"):
        return "invalid_payload", ["Content-Type is not application/json"]
    try:
        data = json.loads(body)
    except ValueError:
        return "invalid_payload", ["the body is not JSON"]
    if not isinstance(data, dict):
        return "invalid_payload", ["the body is not a JSON object"]
    # legacy attachments alone are a message too (what Alertmanager posts)
    if not data.get("text") and not data.get("blocks") and not data.get("attachments"):
        return "no_text", ["neither text, blocks nor attachments"]
    blocks = data.get("blocks", [])
    problems: list[str] = []
    if not isinstance(blocks, list):
        return "invalid_blocks", ["blocks is not a list"]
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks (at most 50)")
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in SLACK_BLOCK_TYPES:
            problems.append(f"{where}: unknown block type {kind!r}")
            continue
        if kind == "header":
            problems += _text_problems(block.get("text"), where, 150, ("plain_text",))
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in block:
                problems += _text_problems(block["text"], where, 3000, ("plain_text", "mrkdwn"))
            for j, f in enumerate(block.get("fields", [])):
                problems += _text_problems(
                    f, f"{where}.fields[{j}]", 2000, ("plain_text", "mrkdwn")
                )
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}: a context has 1..10 elements")
            for j, e in enumerate(elements):
                problems += _text_problems(
                    e, f"{where}.elements[{j}]", 3000, ("plain_text", "mrkdwn")
                )
    return ("invalid_blocks", problems) if problems else ("", [])


class HttpSink:
    """A threaded HTTP server that records every request and answers from a script.

    ``mode="slack"`` validates each request as Slack's incoming webhooks do and answers
    400 with Slack's error code when it is invalid, ``200 ok`` when valid (scripted replies
    still take precedence, to test 429 and 5xx). With a ``certificate`` it speaks HTTPS."""

    def __init__(
        self,
        mode: Literal["plain", "slack"] = "plain",
        default: Reply | None = None,
        *,
        certificate: Certificate | None = None,
    ) -> None:
        self.mode = mode
        self.default = default or Reply()
        self.requests: list[Recorded] = []
        self.rejected: list[list[str]] = []  # Slack mode: the problems of each rejection
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                sink._handle(self)

            def do_GET(self) -> None:
                sink._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._scheme = "http"
        if certificate is not None:  # a failed handshake fails accept(), which is ignored
            context = certificate.server_context()
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        # a short poll interval: shutdown() waits for the loop to notice
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}/hook"

    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        times: int = 1,
        delay_s: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests with this status (after ``delay_s``)."""
        with self._lock:
            for _ in range(times):
                self._script.append(Reply(status, body, dict(headers or {}), delay_s))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0") or "0")
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append(Recorded(handler.command, handler.path, headers, body))
            answer = self._script.popleft() if self._script else None
        if answer is None:
            answer = self.default
            if self.mode == "slack":
                code, problems = slack_problems(handler.command, headers, body)
                if code:
                    with self._lock:
                        self.rejected.append(problems)
                    answer = Reply(400, code.encode())
        if answer.delay_s and self._closing.wait(answer.delay_s):
            return
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.send_header("Content-Type", "text/plain")
            handler.end_headers()
            handler.wfile.write(answer.body)
        except OSError:
            pass  # the client gave up (a timeout test)

    def __enter__(self) -> HttpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- SMTP ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed_certificate(directory: Path) -> Certificate | None:
    """A throwaway certificate for 127.0.0.1 and localhost, made with ``openssl`` (the
    ``cryptography`` package is not a dependency); None when openssl is not available."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    result = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        return None
    return Certificate(cert, key)


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    auth_mechanism: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        failure = self.sink._next_failure("RCPT")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        failure = self.sink._next_failure("DATA")
        if failure:
            return failure
        content = envelope.original_content or b""
        self.sink.messages.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=content,
                tls=server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
                auth_mechanism=self.sink._mechanisms.get(id(session)),
            )
        )
        return "250 Message accepted"


class SmtpSink:
    """aiosmtpd on a free port. ``tls``: "none", "starttls" (offered, and required when
    ``require_starttls``) or "implicit"; ``users`` enables AUTH (LOGIN and PLAIN, unless
    ``exclude_mechanisms``)."""

    def __init__(
        self,
        *,
        tls: Literal["none", "starttls", "implicit"] = "none",
        certificate: Certificate | None = None,
        require_starttls: bool = False,
        users: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        exclude_mechanisms: list[str] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self.port = free_port()
        self._failures: dict[str, deque[str]] = {"RCPT": deque(), "DATA": deque()}
        self._mechanisms: dict[int, str] = {}
        self.users = users
        kwargs: dict[str, Any] = {}
        if tls != "none":
            assert certificate is not None, "TLS needs a certificate"
        if tls == "starttls":
            assert certificate is not None
            kwargs["tls_context"] = certificate.server_context()
            kwargs["require_starttls"] = require_starttls
        if tls == "implicit":
            assert certificate is not None
            kwargs["ssl_context"] = certificate.server_context()
        if users is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = auth_require_tls
            kwargs["auth_exclude_mechanism"] = exclude_mechanisms or []
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def fail(self, stage: Literal["RCPT", "DATA"], reply: str, times: int = 1) -> None:
        """Answer the next ``times`` RCPT or DATA commands with ``reply`` (e.g. "451 later")."""
        self._failures[stage].extend([reply] * times)

    def _next_failure(self, stage: str) -> str | None:
        queue = self._failures[stage]
        return queue.popleft() if queue else None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        users = self.users or {}
        if (
            isinstance(data, LoginPassword)
            and users.get(data.login.decode()) == data.password.decode()
        ):
            self._mechanisms[id(session)] = mechanism
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
