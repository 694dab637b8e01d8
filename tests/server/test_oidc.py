"""Issue 19: the console signs in through an OpenID Connect provider where ``console.oidc``
is configured (``web/oidc.py``), against a fake provider on a local port that checks what a
real one checks (client, secret, code, redirect URI, PKCE), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import Engine

from tests.server.conftest import Api
from tests.server.test_console import _csrf, _fire
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.store import linkkey
from tocsin.web import console, oidc, session

CLIENT_ID = "tocsin-console"
CLIENT_SECRET = "s3cret-of-the-client"
SECRET_ENV = "TOCSIN_TEST_OIDC_SECRET"
REDIRECT_URI = "http://testserver/signin/oidc/callback"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class FakeProvider:
    """An OpenID provider on 127.0.0.1: discovery, JWKS, an authorization endpoint that signs
    everyone in (or refuses, when ``deny``), and a token endpoint that checks the client, the
    code, the redirect URI and the PKCE verifier. ``claims`` and ``sign_with`` change what the
    ID token says and which key signs it."""

    now: Callable[[], float]
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    claims: dict[str, Any] = field(default_factory=lambda: {"email": "Alice@Example.com"})
    sign_with: RSAKey | None = None
    deny: bool = False
    token_delay_s: float = 0.0
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issuer: str = ""

    def handle_get(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path == "/.well-known/openid-configuration":
            return _json(200, {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            })  # fmt: skip
        if path == "/jwks":
            return _json(200, {"keys": [self.key.as_dict(private=False)]})
        if path == "/authorize":
            return self.authorize(query)
        return 404, {}, b""

    def authorize(self, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        wrong = [
            name
            for name, ok in (
                ("response_type", q.get("response_type") == "code"),
                ("client_id", q.get("client_id") == CLIENT_ID),
                ("redirect_uri", q.get("redirect_uri") == REDIRECT_URI),
                ("scope", "openid" in q.get("scope", "").split()),
                ("code_challenge_method", q.get("code_challenge_method") == "S256"),
                ("code_challenge", len(q.get("code_challenge", "")) == 43),
                ("state", bool(q.get("state"))),
                ("nonce", bool(q.get("nonce"))),
            )
            if not ok
        ]
        if wrong:
            return 400, {}, f"bad {wrong}".encode()
        if self.deny:
            back = {"error": "access_denied", "state": q["state"]}
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "challenge": q["code_challenge"],
                "nonce": q["nonce"],
                "redirect_uri": q["redirect_uri"],
            }
            back = {"code": code, "state": q["state"]}
        return 302, {"location": q["redirect_uri"] + "?" + urlencode(back)}, b""

    def token(self, auth: str | None, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.token_requests.append(form)
        time.sleep(self.token_delay_s)
        if not auth or not auth.startswith("Basic "):
            return _json(401, {"error": "invalid_client"})
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        if (unquote(user), unquote(password)) != (CLIENT_ID, CLIENT_SECRET):
            return _json(401, {"error": "invalid_client"})
        given = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if form.get("grant_type") != "authorization_code" or given is None:
            return _json(400, {"error": "invalid_grant"})
        if form.get("redirect_uri") != given["redirect_uri"]:
            return _json(400, {"error": "invalid_grant"})
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != given["challenge"]:
            return _json(400, {"error": "invalid_grant"})
        now = int(self.now())
        claims = {
            "iss": self.issuer, "sub": "u-1", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
            "nonce": given["nonce"], "email_verified": True,
        } | self.claims  # fmt: skip
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.sign_with or self.key
        id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        return _json(200, {"access_token": "at-" + secrets.token_urlsafe(8),
                           "token_type": "Bearer", "id_token": id_token})  # fmt: skip


def _json(status: int, body: object) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


def _serve(provider: FakeProvider) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, answer: tuple[int, dict[str, str], bytes]) -> None:
            status, headers, body = answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            self._answer(provider.handle_get(url.path, query))

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/token":
                self._answer((404, {}, b""))
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # gave up
                self._answer(provider.token(self.headers.get("authorization"), form))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def config_text(
    issuer: str | None, users: str = "alice", role: str = "responder", user_claim: str = "email"
) -> str:
    people = {
        "alice": "{name: alice, email: alice@example.com, contact: [desk]}",
        "bob": "{name: bob, email: bob@example.com, contact: [desk]}",
    }
    listed = ", ".join(people[u] for u in users.split(",") if u)
    text = f"""
global: {{external_url: "http://testserver/"}}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
receivers: [{{name: default}}]
channels: [{{name: desk, type: console}}]
users: [{listed}]
"""
    if issuer is not None:
        text += f"""
console:
  oidc:
    issuer: {issuer}
    client_id: {CLIENT_ID}
    client_secret: {{env: {SECRET_ENV}}}
    role: {role}
    user_claim: {user_claim}
    name: Sign in with Example ID
"""
    return text


@dataclass
class Setup:
    api: Api
    provider: FakeProvider


@pytest.fixture
def provider(clock: VirtualClock) -> Iterator[FakeProvider]:
    fake = FakeProvider(now=clock.now)
    for url in _serve(fake):
        fake.issuer = url
        yield fake


@pytest.fixture
def setup(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    provider: FakeProvider,
) -> Iterator[Setup]:  # fmt: skip
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    state = AppState(db=db, config=parse_config(config_text(provider.issuer)), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Setup(Api(client, state, db), provider)


def go_to_provider(client: TestClient, next_path: str = "/incidents") -> httpx.Response:
    """The browser's way to the provider and back: the answer of the provider's
    authorization endpoint (a redirect to the callback, or a refusal)."""
    started = client.get("/signin/oidc", params={"next": next_path}, follow_redirects=False)
    assert started.status_code == 303, started.text
    assert session.FLOW_COOKIE in started.headers["set-cookie"]
    return httpx.get(started.headers["location"], follow_redirects=False, timeout=5)


def back_from_provider(client: TestClient, at_provider: httpx.Response) -> httpx.Response:
    assert at_provider.status_code == 302, at_provider.text
    location = at_provider.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    answer: httpx.Response = client.get(
        location.removeprefix("http://testserver"), follow_redirects=False
    )
    return answer


def sign_in(client: TestClient, next_path: str = "/incidents") -> httpx.Response:
    return back_from_provider(client, go_to_provider(client, next_path))


def signed_out(client: TestClient) -> bool:
    answer: httpx.Response = client.get("/incidents", follow_redirects=False)
    return answer.status_code == 303 and answer.headers["location"].startswith("/signin")


def test_a_configured_user_signs_in_and_acts_under_their_name(setup: Setup) -> None:
    api, client = setup.api, setup.api.client
    form = client.get("/signin")
    assert "Sign in with Example ID" in form.text and 'href="/signin/oidc?next=' in form.text
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    assert signed_out(client)
    done = sign_in(client, f"/incidents/{number}")
    assert done.status_code == 303 and done.headers["location"] == f"/incidents/{number}"
    cookies = done.headers.get_list("set-cookie")
    started = next(c for c in cookies if c.startswith(session.COOKIE + "="))
    assert started.startswith("tocsin_session=o.") and "HttpOnly" in started
    assert "SameSite=lax" in started
    value = started.split(";")[0].split("=", 1)[1]
    assert len(value.split(".")) == 4 and "at-" not in value  # names the user, holds no token
    assert any(c.startswith(session.FLOW_COOKIE + '=""') for c in cookies)  # the flow is over
    # the token endpoint got the PKCE verifier and the code, and the secret only in Basic
    (asked,) = setup.provider.token_requests
    assert len(asked["code_verifier"]) >= 43 and "client_secret" not in asked
    page = client.get(f"/incidents/{number}").text
    assert "alice" in page and "Acknowledge</button>" in page
    acked = client.post(
        f"/incidents/{number}/acknowledge", data={"csrf": _csrf(page)}, follow_redirects=False
    )
    assert acked.status_code == 303
    record = api.get(f"/api/v1/incidents/{number}").json()
    assert record["status"] == "acknowledged" and record["acknowledged_by"] == "alice"
    assert client.get("/admin/tokens").status_code == 403  # a responder, as configured


def test_a_wrong_state_is_refused_with_no_session(setup: Setup) -> None:
    client = setup.api.client
    at_provider = go_to_provider(client)
    location = at_provider.headers["location"]
    query = parse_qs(urlsplit(location).query)
    tampered = "/signin/oidc/callback?" + urlencode({"code": query["code"][0], "state": "x"})
    answer = client.get(tampered, follow_redirects=False)
    assert answer.status_code == 400 and "state does not match" in answer.text
    assert signed_out(client)
    # a callback with no flow cookie (not started here, or after ten minutes) is refused too
    fresh = TestClient(client.app)
    assert back_from_provider(fresh, go_to_provider(client)).status_code == 400
    assert signed_out(fresh)


def test_the_flow_lasts_ten_minutes(setup: Setup, clock: VirtualClock) -> None:
    client = setup.api.client
    at_provider = go_to_provider(client)
    clock.advance(session.FLOW_S + 1)
    answer = back_from_provider(client, at_provider)
    assert answer.status_code == 400 and "took too long" in answer.text
    assert signed_out(client)


def test_a_forged_id_token_is_refused(setup: Setup) -> None:
    setup.provider.sign_with = RSAKey.generate_key(2048, {"kid": "k1"})  # same kid, other key
    answer = sign_in(setup.api.client)
    assert answer.status_code == 401 and "ID token is not valid" in answer.text
    assert signed_out(setup.api.client)


def test_a_token_signed_by_a_key_the_provider_does_not_list_is_refused(setup: Setup) -> None:
    setup.provider.sign_with = RSAKey.generate_key(2048, {"kid": "k2"})
    answer = sign_in(setup.api.client)
    assert answer.status_code == 401 and "does not list" in answer.text
    assert signed_out(setup.api.client)


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"nonce": "another"}, "nonce"),
        ({"aud": "another-client"}, "aud"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"exp": "EXPIRED"}, "exp"),
    ],
)
def test_an_id_token_with_a_wrong_claim_is_refused(
    setup: Setup, claims: dict[str, Any], says: str
) -> None:
    if claims.get("exp") == "EXPIRED":
        claims = {"exp": int(setup.api.state.clock.now()) - oidc.LEEWAY_S - 5}
    setup.provider.claims |= claims
    answer = sign_in(setup.api.client)
    assert answer.status_code == 401 and "ID token is not valid" in answer.text, answer.text
    assert says in answer.text
    assert signed_out(setup.api.client)


def test_someone_who_is_not_a_configured_user_is_refused(setup: Setup) -> None:
    setup.provider.claims = {"email": "mallory@example.com"}
    answer = sign_in(setup.api.client)
    assert answer.status_code == 403 and "mallory@example.com is not one of" in answer.text
    assert signed_out(setup.api.client)
    setup.provider.claims = {"email": "alice@example.com", "email_verified": False}
    answer = sign_in(setup.api.client)
    assert answer.status_code == 403 and "not verified" in answer.text
    assert signed_out(setup.api.client)


def test_a_provider_error_is_refused(setup: Setup) -> None:
    setup.provider.deny = True
    answer = sign_in(setup.api.client)
    assert answer.status_code == 401 and "did not sign you in (access_denied)" in answer.text
    assert signed_out(setup.api.client)


def test_a_code_is_good_once(setup: Setup) -> None:
    client = setup.api.client
    at_provider = go_to_provider(client)
    location = at_provider.headers["location"].removeprefix("http://testserver")
    flow = client.cookies.get(session.FLOW_COOKIE)
    assert client.get(location, follow_redirects=False).status_code == 303
    other = TestClient(client.app)
    other.cookies.set(session.FLOW_COOKIE, flow or "", domain="testserver.local", path="/signin")
    again = other.get(location, follow_redirects=False)
    assert again.status_code == 401 and "refused the code (invalid_grant)" in again.text
    assert signed_out(other)


def test_a_provider_that_does_not_answer_in_time_is_refused(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oidc, "TIMEOUT", httpx.Timeout(0.3))
    setup.provider.token_delay_s = 1.0
    answer = sign_in(setup.api.client)
    assert answer.status_code == 504 and "did not answer in time" in answer.text
    assert signed_out(setup.api.client)


def test_the_session_ends_when_the_user_or_oidc_leaves_the_config(setup: Setup) -> None:
    api, client = setup.api, setup.api.client
    assert sign_in(client).status_code == 303 and not signed_out(client)
    issuer = setup.provider.issuer
    api.state.config = parse_config(config_text(issuer, users="bob"))
    assert signed_out(client)
    api.state.config = parse_config(config_text(issuer, users="alice,bob"))
    assert not signed_out(client)  # the cookie is still good: alice is back
    api.state.config = parse_config(config_text(issuer, role="viewer"))
    page = client.get("/incidents")
    assert page.status_code == 200 and "alice" in page.text
    assert client.get("/admin/tokens").status_code == 403
    api.state.config = parse_config(config_text(None))
    assert signed_out(client)


def test_a_configured_admin_role_is_the_session_s(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    provider: FakeProvider,
) -> None:  # fmt: skip
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    text = config_text(provider.issuer, role="admin", user_claim="preferred_username")
    provider.claims = {"email": None, "preferred_username": "alice"}
    state = AppState(db=db, config=parse_config(text), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        assert sign_in(client).status_code == 303
        assert client.get("/admin/tokens").status_code == 200


def test_without_oidc_configured_the_routes_are_not_found_and_no_button_shows(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    state = AppState(db=db, config=parse_config(config_text(None)), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        form = client.get("/signin")
        assert form.status_code == 200 and "/signin/oidc" not in form.text
        assert "Or with an API token" not in form.text
        assert client.get("/signin/oidc", follow_redirects=False).status_code == 404
        back = client.get("/signin/oidc/callback?code=a&state=b", follow_redirects=False)
        assert back.status_code == 404
        # a cookie of an OIDC session, however well signed, is no session here
        key = session.session_key(linkkey.link_key(state.db))
        value = session.oidc_value(key, "alice", int(clock.now()) + session.SESSION_S)
        client.cookies.set(session.COOKIE, value)
        assert signed_out(client)
