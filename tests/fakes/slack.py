"""A fake Slack on 127.0.0.1: the Web API methods tocsin calls, the ``response_url`` Slack
gives an interaction, and Slack's signed requests to an app (button presses, slash commands).

``FakeSlack`` is a real HTTP server on a thread. Its Web API (``api_url``) checks what Slack
checks and answers in Slack's shapes: the bot token (``not_authed``, ``invalid_auth``,
``token_revoked``), the app's scopes (``missing_scope`` with ``needed``), the conversation
(``channel_not_found``, ``not_in_channel``, ``is_archived``; a member ID opens a direct
message), the message a ``chat.update`` names (``message_not_found``, ``cant_update_message``),
the thread a reply names (``thread_not_found``) and the Block Kit limits (``invalid_blocks``
with its ``errors``; ``tests/notify/sinks.slack_problems`` plus the actions blocks). It keeps
each conversation as Slack does: messages by ``ts``, replies in threads, an edit replacing a
message's text and blocks; so a test asserts "one message, edited in place, two replies".

Failures are programmed: ``fail("not_in_channel")`` answers the next call (of a method, when
named) with that error, ``rate_limit(30)`` with HTTP 429, ``Retry-After: 30`` and
``ratelimited``; ``times=N`` for the next N calls.

Toward tocsin: ``click`` makes the ``block_actions`` payload Slack sends when a person presses
a button of a message the fake holds (with a ``response_url`` that this server receives:
``responses``; what Slack would refuse there goes to ``refused_responses``), ``command`` the
form of a slash command; ``sign`` signs a body as Slack does
(``X-Slack-Signature: v0=hex(hmac_sha256(secret, "v0:{ts}:{body}"))``,
``X-Slack-Request-Timestamp``), and ``send_interaction``/``send_command`` POST them, signed,
to a URL (or through an in-process ``TestClient``). A member's profile may lack an email
(``add_user(..., email=None)``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.notify.sinks import slack_problems

MAX_TEXT = 40_000  # chat.postMessage's text (msg_too_long beyond)
SCOPES = frozenset({"chat:write", "im:write", "users:read", "users:read.email", "commands"})
# the scope each method needs
_NEEDS = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
}


@dataclass
class SlackMessage:
    """A message as Slack keeps it."""

    ts: str
    user: str  # who posted it (the bot's user ID for the app's messages)
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None  # a reply: its thread's message
    edits: int = 0  # how many times chat.update changed it

    def as_json(self, bot_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "bot_id": bot_id,
            "text": self.text,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        if self.edits:
            out["edited"] = {"user": self.user, "ts": self.ts}
        return out

    def buttons(self) -> list[dict[str, Any]]:
        """The buttons of its actions blocks and its sections' accessories, each with its
        block's ``block_id``."""
        found = [
            {**element, "block_id": block.get("block_id", "")}
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]
        return found + [
            {**block["accessory"], "block_id": block.get("block_id", "")}
            for block in self.blocks
            if block.get("type") == "section" and isinstance(block.get("accessory"), dict)
        ]


@dataclass
class Conversation:
    """A channel, or a direct message with a member (``user``)."""

    id: str
    name: str  # without "#"; "" for a direct message
    member: bool = True  # whether the app's bot user is in it
    archived: bool = False
    user: str | None = None  # a direct message's member
    messages: dict[str, SlackMessage] = field(default_factory=dict)

    def top(self) -> list[SlackMessage]:
        """The messages in the conversation itself (not in threads), oldest first."""
        return [m for m in self.messages.values() if m.thread_ts is None]

    def replies(self, ts: str) -> list[SlackMessage]:
        """The replies in the thread of message ``ts``, oldest first."""
        return [m for m in self.messages.values() if m.thread_ts == ts]


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    email: str | None  # None: the profile has no email (Slack then leaves the field out)
    real_name: str
    deleted: bool = False
    confirmed: bool = True  # is_email_confirmed: Slack checked the profile's email
    stranger: bool = False  # is_stranger: of another organisation, shared in (Slack Connect)

    def as_json(self, with_email: bool) -> dict[str, Any]:
        profile: dict[str, Any] = {"real_name": self.real_name, "display_name": self.name}
        if with_email and self.email is not None:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": FakeSlack.team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_bot": False,
            "is_email_confirmed": self.confirmed,
            **({"is_stranger": True} if self.stranger else {}),
            "profile": profile,
        }


@dataclass(frozen=True)
class Call:
    """One Web API call as the fake saw and answered it."""

    method: str  # "chat.postMessage"
    args: dict[str, Any]
    headers: dict[str, str]  # names lowercased
    status: int
    answer: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.answer.get("ok"))


@dataclass(frozen=True)
class _Failure:
    error: str
    status: int
    method: str | None
    headers: dict[str, str]
    extra: dict[str, Any]


@dataclass(frozen=True)
class ResponsePost:
    """A POST to a ``response_url``."""

    key: str
    body: dict[str, Any]


class FakeSlack:
    """A workspace with one app; use as a context manager (the server runs inside)."""

    team_id = "T0FAKE001"
    bot_id = "B0FAKE001"

    def __init__(
        self,
        token: str = "xoxb-fake-bot-token",
        signing_secret: str = "fake-signing-secret",
        bot_user: str = "U0TOCSIN1",
        scopes: frozenset[str] = SCOPES,
    ) -> None:
        self.token = token
        self.signing_secret = signing_secret
        self.bot_user = bot_user
        self.scopes = set(scopes)
        self.revoked = False
        self.calls: list[Call] = []
        self.responses: list[ResponsePost] = []
        self.refused_responses: list[tuple[str, str]] = []  # (key, error) of a refused post
        self.conversations: dict[str, Conversation] = {}
        self.users: dict[str, SlackUser] = {}
        self._failures: deque[_Failure] = deque()
        self._response_urls: dict[str, tuple[str, str, int]] = {}  # key -> (channel, ts, uses)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # --- setting up the workspace --------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """The Web API's base URL (a Slack channel's ``api_url``)."""
        return f"{self.base_url}/api/"

    def add_channel(
        self, name: str, *, member: bool = True, archived: bool = False
    ) -> Conversation:
        """A channel named ``name`` (without "#"); ``member``: the app was invited."""
        with self._lock:
            conversation = Conversation(f"C{next(self._ids):08d}", name, member, archived)
            self.conversations[conversation.id] = conversation
        return conversation

    def add_user(
        self,
        user_id: str,
        name: str,
        email: str | None = "",
        real_name: str = "",
        *,
        confirmed: bool = True,
        stranger: bool = False,
    ) -> SlackUser:
        """A member of the workspace; ``email`` "" makes one up from ``name``, None leaves
        the profile without one (``users.info`` then shows none, as Slack does);
        ``confirmed``: whether Slack checked that email; ``stranger``: of another
        organisation, shared in through Slack Connect."""
        if email == "":
            email = f"{name}@example.com"
        user = SlackUser(
            user_id,
            name,
            email,
            real_name or name.title(),
            confirmed=confirmed,
            stranger=stranger,
        )
        with self._lock:
            self.users[user_id] = user
        return user

    def conversation(self, name_or_id: str) -> Conversation:
        """A channel by ID or name ("#ops", "ops"), or a member's direct message by the
        member's ID; KeyError when there is none."""
        with self._lock:
            found = self._find(name_or_id)
        if found is None:
            raise KeyError(name_or_id)
        return found

    def fail(
        self,
        error: str,
        *,
        times: int = 1,
        status: int = 200,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        """Answer the next ``times`` calls (of ``method``, when given) with ``error``, HTTP
        ``status`` (Slack answers its errors with 200) and ``extra`` fields."""
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure(error, status, method, dict(headers or {}), extra))

    def rate_limit(
        self, retry_after_s: int = 30, *, times: int = 1, method: str | None = None
    ) -> None:
        """Answer the next ``times`` calls with HTTP 429, ``Retry-After`` and ``ratelimited``."""
        self.fail(
            "ratelimited",
            times=times,
            status=429,
            method=method,
            headers={"Retry-After": str(retry_after_s)},
        )

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    # --- what Slack sends an app ----------------------------------------------------------

    def response_url(self, channel: str = "", ts: str = "") -> str:
        """A new ``response_url`` (for the message ``ts`` of ``channel``, which a
        ``replace_original`` then replaces); Slack allows five posts to one."""
        key = f"R{next(self._ids):08d}"
        with self._lock:
            self._response_urls[key] = (channel, ts, 0)
        return f"{self.base_url}/response/{key}"

    def click(
        self, channel: str, ts: str, action_id: str, user_id: str, value: str | None = None
    ) -> dict[str, Any]:
        """The ``block_actions`` payload of ``user_id`` pressing the button ``action_id``
        (with ``value``, when several buttons share it) of message ``ts``; KeyError when the
        message has no such button: nobody can press a button that is not there."""
        with self._lock:
            conversation = self._find(channel)
            message = conversation.messages.get(ts) if conversation else None
            if conversation is None or message is None:
                raise KeyError(f"no message {ts} in {channel}")
            pressed = [
                b
                for b in message.buttons()
                if b.get("action_id") == action_id and (value is None or b.get("value") == value)
            ]
            if not pressed:
                raise KeyError(f"message {ts} has no button {action_id} {value or ''}")
            user = self.users.get(user_id)
            text = message.as_json(self.bot_id)
        button = pressed[0]
        action: dict[str, Any] = {
            "type": "button",
            "action_id": button["action_id"],
            "block_id": button["block_id"],
            "text": button["text"],
            "action_ts": f"{time.time():.6f}",
        }
        for key in ("value", "style", "url"):
            if key in button:
                action[key] = button[key]
        return {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user.name if user else user_id,
                "name": user.name if user else user_id,
                "team_id": self.team_id,
            },
            "api_app_id": "A0FAKE001",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": conversation.id,
                "is_ephemeral": False,
            },
            "trigger_id": f"{next(self._ids)}.{self.team_id}.fake",
            "team": {"id": self.team_id, "domain": "fake"},
            "channel": {"id": conversation.id, "name": conversation.name or "directmessage"},
            "message": text,
            "response_url": self.response_url(conversation.id, ts),
            "actions": [action],
        }

    def command(
        self, text: str, user_id: str, channel: str = "", command: str = "/tocsin"
    ) -> dict[str, str]:
        """The form of a slash command ``command text`` typed by ``user_id``."""
        with self._lock:
            user = self.users.get(user_id)
            conversation = self._find(channel) if channel else None
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": "fake",
            "channel_id": conversation.id if conversation else "",
            "channel_name": conversation.name if conversation else "",
            "user_id": user_id,
            "user_name": user.name if user else user_id,
            "command": command,
            "text": text,
            "api_app_id": "A0FAKE001",
            "response_url": self.response_url(),
            "trigger_id": f"{next(self._ids)}.{self.team_id}.fake",
        }

    # --- the server -----------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _find(self, name_or_id: str) -> Conversation | None:
        """(Under the lock.) A conversation by ID or name, or a member's direct message."""
        if name_or_id in self.conversations:
            return self.conversations[name_or_id]
        name = name_or_id.removeprefix("#")
        for conversation in self.conversations.values():
            if conversation.name and conversation.name == name:
                return conversation
        user = self.users.get(name_or_id)
        if user is not None and not user.deleted:
            dm_id = "D" + user.id[1:]
            if dm_id not in self.conversations:
                self.conversations[dm_id] = Conversation(dm_id, "", member=True, user=user.id)
            return self.conversations[dm_id]
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0") or "0")
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        path, _, query = handler.path.partition("?")
        if path.startswith("/response/"):
            status, answer = self._response(path.removeprefix("/response/"), headers, body)
            self._answer(handler, status, answer, {})
            return
        method = path.removeprefix("/api/")
        args = self._args(headers, body, query)
        with self._lock:
            status, answer, extra_headers = self._api(method, headers, args)
            self.calls.append(Call(method, args, headers, status, answer))
        self._answer(handler, status, answer, extra_headers)

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler,
        status: int,
        answer: dict[str, Any],
        headers: dict[str, str],
    ) -> None:
        data = json.dumps(answer).encode()
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up

    @staticmethod
    def _args(headers: dict[str, str], body: bytes, query: str) -> dict[str, Any]:
        """A call's arguments: a JSON body, a form, or the query string (GET)."""
        args: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
        kind = headers.get("content-type", "")
        if kind.startswith("application/json") and body:
            try:
                data = json.loads(body)
            except ValueError:
                return {"__invalid__": "the body is not JSON"}
            if not isinstance(data, dict):
                return {"__invalid__": "the body is not a JSON object"}
            args.update(data)
            args["__json__"] = True
        elif body:
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
            if "blocks" in form:  # a form carries blocks as JSON text
                try:
                    form["blocks"] = json.loads(form["blocks"])
                except ValueError:
                    return {"__invalid__": "blocks is not JSON"}
            args.update(form)
        return args

    def _api(
        self, method: str, headers: dict[str, str], args: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(Under the lock.) One Web API call: (HTTP status, answer, headers)."""
        handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "users.info": self._users_info,
            "users.lookupByEmail": self._lookup_by_email,
        }
        if method not in handlers:
            return 404, {"ok": False, "error": "unknown_method"}, {}
        for i, failure in enumerate(self._failures):
            if failure.method in (None, method):
                del self._failures[i]
                answer = {"ok": False, "error": failure.error, **failure.extra}
                return failure.status, answer, failure.headers
        if "__invalid__" in args:
            return 200, {"ok": False, "error": "invalid_json", "detail": args["__invalid__"]}, {}
        bearer = headers.get("authorization", "")
        token = bearer.removeprefix("Bearer ").strip() if bearer.startswith("Bearer ") else ""
        if not token and not args.get("__json__"):  # a form may carry the token
            token = str(args.get("token", ""))
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self.revoked:
            return 200, {"ok": False, "error": "token_revoked"}, {}
        needed = _NEEDS.get(method)
        if needed is not None and needed not in self.scopes:
            answer = {
                "ok": False,
                "error": "missing_scope",
                "needed": needed,
                "provided": ",".join(sorted(self.scopes)),
            }
            return 200, answer, {}
        return 200, handlers[method](args), {}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "tocsin",
            "team_id": self.team_id,
            "user_id": self.bot_user,
            "bot_id": self.bot_id,
        }

    def _content_problem(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """What Slack refuses in a message's text and blocks, or None."""
        text, blocks = args.get("text"), args.get("blocks")
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
            return {"ok": False, "error": "msg_too_long"}
        if blocks is None:
            return None
        body = json.dumps({"text": text or "", "blocks": blocks}).encode()
        code, problems = slack_problems("POST", {"content-type": "application/json"}, body)
        if code == "invalid_blocks" or code == "invalid_payload":
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        problems = _actions_problems(blocks)
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        return None

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        conversation = self._find(str(args.get("channel", "")))
        if conversation is None:
            return {"ok": False, "error": "channel_not_found"}
        if conversation.archived:
            return {"ok": False, "error": "is_archived"}
        if not conversation.member:
            return {"ok": False, "error": "not_in_channel"}
        problem = self._content_problem(args)
        if problem is not None:
            return problem
        thread_ts = args.get("thread_ts")
        if thread_ts is not None:
            parent = conversation.messages.get(str(thread_ts))
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            thread_ts = parent.thread_ts or parent.ts  # a reply to a reply joins the thread
        n = next(self._ids)
        ts = f"{1_800_000_000 + n}.{n:06d}"
        message = SlackMessage(
            ts,
            self.bot_user,
            str(args.get("text") or ""),
            list(args.get("blocks") or []),
            thread_ts,
        )
        conversation.messages[ts] = message
        return {
            "ok": True,
            "channel": conversation.id,
            "ts": ts,
            "message": message.as_json(self.bot_id),
        }

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        conversation = self.conversations.get(channel)  # chat.update takes an ID only
        if conversation is None:
            return {"ok": False, "error": "channel_not_found"}
        if conversation.archived:
            return {"ok": False, "error": "is_archived"}
        message = conversation.messages.get(str(args.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.user != self.bot_user:
            return {"ok": False, "error": "cant_update_message"}
        problem = self._content_problem(args)
        if problem is not None:
            return problem
        message.text = str(args.get("text") or "")
        message.blocks = list(args.get("blocks") or [])
        message.edits += 1
        return {
            "ok": True,
            "channel": conversation.id,
            "ts": message.ts,
            "text": message.text,
            "message": message.as_json(self.bot_id),
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user.as_json("users:read.email" in self.scopes)}

    def _lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        for user in self.users.values():
            if user.email is not None and user.email.lower() == email and not user.deleted:
                return {"ok": True, "user": user.as_json(True)}
        return {"ok": False, "error": "users_not_found"}

    def _response(
        self, key: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """A POST to a ``response_url``: kept in ``responses`` when taken, else its error in
        ``refused_responses``."""
        status, answer = self._take_response(key, headers, body)
        if status != 200:
            with self._lock:
                self.refused_responses.append((key, str(answer.get("error", ""))))
        return status, answer

    def _take_response(
        self, key: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """A POST to a ``response_url``: JSON with text or blocks (or ``delete_original``);
        ``replace_original`` replaces the message the interaction came from."""
        with self._lock:
            known = self._response_urls.get(key)
            if known is None:
                return 404, {"ok": False, "error": "expired_url"}
            channel, ts, uses = known
            if uses >= 5:
                return 404, {"ok": False, "error": "used_url"}
            if not headers.get("content-type", "").startswith("application/json"):
                return 400, {"ok": False, "error": "invalid_payload"}
            try:
                data = json.loads(body)
            except ValueError:
                return 400, {"ok": False, "error": "invalid_payload"}
            if not isinstance(data, dict):
                return 400, {"ok": False, "error": "invalid_payload"}
            if not data.get("delete_original"):
                problem = self._content_problem(data)
                if problem is not None:
                    return 400, problem
            self._response_urls[key] = (channel, ts, uses + 1)
            self.responses.append(ResponsePost(key, data))
            conversation = self.conversations.get(channel)
            message = conversation.messages.get(ts) if conversation else None
            if message is not None and data.get("replace_original"):
                message.text = str(data.get("text") or "")
                message.blocks = list(data.get("blocks") or [])
                message.edits += 1
            elif conversation is not None and message is not None and data.get("delete_original"):
                del conversation.messages[ts]
        return 200, {"ok": True}


def _actions_problems(blocks: list[Any]) -> list[str]:
    """What Slack refuses in actions blocks and sections' accessories: 1..25 elements,
    buttons' texts, ids, values, URLs, styles and confirm dialogs within their limits; block
    ids unique in the message, action ids in their block."""
    problems: list[str] = []
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 1 <= len(block_id) <= 255:
                problems.append(f"blocks[{i}]: block_id must be 1..255 characters")
            elif block_id in block_ids:
                problems.append(f"blocks[{i}]: block_id {block_id!r} is not unique")
            block_ids.add(str(block_id))
        elements: Any
        if block.get("type") == "section" and "accessory" in block:
            elements, at = [block["accessory"]], f"blocks[{i}].accessory"
        elif block.get("type") == "actions":
            elements, at = block.get("elements"), f"blocks[{i}].elements"
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                problems.append(f"blocks[{i}]: an actions block has 1..25 elements")
                continue
        else:
            continue
        action_ids: set[str] = set()  # unique within a block
        for j, element in enumerate(elements):
            where = f"{at}[{j}]"
            if not isinstance(element, dict) or element.get("type") != "button":
                problems.append(f"{where}: only buttons are expected here")
                continue
            problems += _plain_text(element.get("text"), f"{where}.text", 75)
            action_id = element.get("action_id")
            if not isinstance(action_id, str) or not 1 <= len(action_id) <= 255:
                problems.append(f"{where}: action_id must be 1..255 characters")
            elif action_id in action_ids:
                problems.append(f"{where}: action_id {action_id!r} is not unique")
            action_ids.add(str(action_id))
            value = element.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                problems.append(f"{where}: value must be at most 2000 characters")
            url = element.get("url")
            if url is not None and (not isinstance(url, str) or not 1 <= len(url) <= 3000):
                problems.append(f"{where}: url must be 1..3000 characters")
            if element.get("style") not in (None, "primary", "danger"):
                problems.append(f"{where}: style must be primary or danger")
            confirm = element.get("confirm")
            if confirm is not None:
                problems += _plain_text(confirm.get("title"), f"{where}.confirm.title", 100)
                problems += _plain_text(confirm.get("text"), f"{where}.confirm.text", 300, True)
                problems += _plain_text(confirm.get("confirm"), f"{where}.confirm.confirm", 30)
                problems += _plain_text(confirm.get("deny"), f"{where}.confirm.deny", 30)
    return problems


def _plain_text(obj: Any, where: str, limit: int, mrkdwn: bool = False) -> list[str]:
    kinds = ("plain_text", "mrkdwn") if mrkdwn else ("plain_text",)
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"{where}: a {'/'.join(kinds)} text object is required"]
    text = obj.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        return [f"{where}: text must be 1..{limit} characters"]
    return []


# --- Slack's signed requests to an app --------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request to an app with: ``X-Slack-Request-Timestamp`` and
    ``X-Slack-Signature: v0=hex(hmac_sha256(secret, "v0:{timestamp}:{body}"))``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def interaction_body(payload: dict[str, Any]) -> bytes:
    """An interaction as Slack posts it: a form with one field, ``payload``, the JSON."""
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def command_body(form: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(form).encode()


def post_signed(
    url: str,
    body: bytes,
    secret: str,
    *,
    timestamp: int | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST a form ``body`` to ``url`` signed with ``secret`` as Slack does; through
    ``client`` when given (an in-process ``TestClient``: ``url`` may be a path then)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(secret, body, timestamp)}
    if client is not None:
        return client.post(url, content=body, headers=headers)
    with httpx.Client(timeout=10) as own:
        return own.post(url, content=body, headers=headers)


def send_interaction(
    url: str,
    payload: dict[str, Any],
    secret: str,
    *,
    timestamp: int | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST an interaction ``payload`` (``FakeSlack.click``) to ``url``, signed."""
    return post_signed(url, interaction_body(payload), secret, timestamp=timestamp, client=client)


def send_command(
    url: str,
    form: dict[str, str],
    secret: str,
    *,
    timestamp: int | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST a slash command's ``form`` (``FakeSlack.command``) to ``url``, signed."""
    return post_signed(url, command_body(form), secret, timestamp=timestamp, client=client)
