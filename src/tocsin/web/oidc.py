"""Sign-in to the console through an OpenID Connect provider, where ``console.oidc`` is
configured: the authorization code flow with PKCE (S256).

``GET /signin/oidc`` sends the browser to the provider's authorization endpoint with a fresh
state, nonce and code challenge, and keeps them (with the PKCE verifier and where to go after)
in a signed cookie of ten minutes (``session.Flow``). ``GET /signin/oidc/callback`` checks the
state against that cookie, exchanges the code at the token endpoint (the client secret and the
verifier), verifies the ID token with authlib (its signature against the provider's JWKS, iss,
aud, exp, iat, nonce, azp), and signs in the configured user its ``user_claim`` names, with the
configured role. Nothing the provider returns is kept: the session cookie names the user.

The provider's discovery document and keys are read with httpx (timeouts, bounded sizes) and
kept for a while per process; keys are read again once when a token names a key not held.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import orjson
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request, Response
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from tocsin.config.models import OidcConfig, UserConfig, provider_url_ok
from tocsin.notify.base import ChannelConfigError, resolve_secret
from tocsin.web import access, session
from tocsin.web.render import page

log = logging.getLogger("tocsin.web.oidc")
router = APIRouter()

CALLBACK = "/signin/oidc/callback"
TIMEOUT = httpx.Timeout(10.0)
MAX_ANSWER_BYTES = 512 * 1024  # a discovery document, a key set, a token answer
DISCOVERY_S = 3600.0  # a provider's discovery document and keys are read again after this
LEEWAY_S = 60  # clocks differ: exp, iat, nbf are checked this loosely
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
MAX_PARAM_CHARS = 4096  # a code or a state in the callback's query


class Refused(Exception):
    """A sign-in through the provider that does not happen: the page says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Provider:
    """What the discovery document says, checked."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    basic_auth: bool  # client_secret_basic (the default), else client_secret_post


def provider_of(doc: Any, issuer: str) -> Provider:
    """The provider a discovery document describes, refused unless it is for ``issuer``,
    names its endpoints as https URLs (http to localhost only), and could do S256."""
    if not isinstance(doc, dict):
        raise Refused(502, "The sign-in provider's discovery document is not a JSON object.")
    if doc.get("issuer") != issuer:
        raise Refused(502, "The sign-in provider's discovery document is for another issuer.")
    urls = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        url = doc.get(name)
        if not isinstance(url, str) or len(url) > 2000 or not provider_url_ok(url):
            raise Refused(502, f"The sign-in provider's {name} is missing or not https.")
        urls[name] = url
    methods = doc.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise Refused(502, "The sign-in provider does not support PKCE with S256.")
    algs = doc.get("id_token_signing_alg_values_supported")
    listed = tuple(a for a in algs if a in ALGORITHMS) if isinstance(algs, list) else ()
    auth = doc.get("token_endpoint_auth_methods_supported")
    basic = not isinstance(auth, list) or "client_secret_basic" in auth
    if isinstance(auth, list) and not basic and "client_secret_post" not in auth:
        raise Refused(502, "The sign-in provider takes no client secret at its token endpoint.")
    return Provider(
        issuer=issuer,
        authorization_endpoint=urls["authorization_endpoint"],
        token_endpoint=urls["token_endpoint"],
        jwks_uri=urls["jwks_uri"],
        algorithms=listed or ("RS256",),
        basic_auth=basic,
    )


def authorization_url(
    provider: Provider, oidc: OidcConfig, redirect_uri: str, flow: session.Flow
) -> str:
    """Where the browser goes to sign in at the provider."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": oidc.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(oidc.scopes),
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": create_s256_code_challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
    )
    joiner = "&" if urlsplit(provider.authorization_endpoint).query else "?"
    return provider.authorization_endpoint + joiner + query


def verify_id_token(
    id_token: str, keys: dict[str, Any], provider: Provider, client_id: str, nonce: str,
    now: float, access_token: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The ID token's claims once its signature (by a key of ``keys``, with an algorithm
    the provider lists), issuer, audience, times and nonce hold; else Refused."""
    try:
        key_set = KeySet.import_key_set(keys)  # type: ignore[arg-type]
        token = jwt.decode(
            id_token,
            key_set,
            algorithms=list(provider.algorithms),
            registry=JWSRegistry(algorithms=list(provider.algorithms)),
        )
        params: dict[str, Any] = {"nonce": nonce, "client_id": client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(
            token.claims,
            token.header,
            {"iss": {"essential": True, "value": provider.issuer},
             "aud": {"essential": True, "value": client_id}},
            params,
        )  # fmt: skip
        claims.validate(now=int(now), leeway=LEEWAY_S)
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise Refused(401, f"The sign-in provider's ID token is not valid ({_why(exc)}).") from None
    return dict(claims)


def _why(exc: Exception) -> str:
    error = getattr(exc, "error", None)
    detail = getattr(exc, "description", None)
    text = f"{error}: {detail}" if error and detail else str(error or type(exc).__name__)
    return text[:200]


def person_of(claims: dict[str, Any], oidc: OidcConfig, users: dict[str, UserConfig]) -> str:
    """The configured user the ID token's ``user_claim`` names; Refused (403) for anyone
    else."""
    value = claims.get(oidc.user_claim)
    if not isinstance(value, str) or not value:
        raise Refused(403, f"The sign-in provider did not say your {oidc.user_claim}.")
    if oidc.user_claim == "email":
        if claims.get("email_verified") is False:
            raise Refused(403, "The sign-in provider has not verified your email address.")
        wanted = value.casefold()
        found = [u.name for u in users.values() if u.email and u.email.casefold() == wanted]
        if len(found) == 1:
            return found[0]
    elif value in users:
        return value
    raise Refused(
        403,
        f"{value[:200]} is not one of this server's users (users: in tocsin.yaml); ask an admin.",
    )


# --------------------------------------------------------------------------- HTTP


_discovered: dict[str, tuple[float, Provider]] = {}
_keys: dict[str, tuple[float, dict[str, Any]]] = {}


async def _read_json(answer: httpx.Response, what: str) -> Any:
    length = answer.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_ANSWER_BYTES):
        raise Refused(502, f"The sign-in provider's {what} is too large.")
    body = bytearray()
    async for chunk in answer.aiter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise Refused(502, f"The sign-in provider's {what} is too large.")
    try:
        return orjson.loads(bytes(body))
    except ValueError:
        raise Refused(502, f"The sign-in provider's {what} is not JSON.") from None


async def _call(
    client: httpx.AsyncClient, what: str, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    """The status and JSON body of a request to the provider; Refused when it cannot be
    reached in time or answers no JSON."""
    try:
        async with client.stream(method, url, **kwargs) as answer:
            return answer.status_code, await _read_json(answer, what)
    except httpx.TimeoutException:
        raise Refused(504, f"The sign-in provider did not answer in time ({what}).") from None
    except httpx.HTTPError as exc:
        log.warning("oidc: the provider's %s could not be read: %s", what, type(exc).__name__)
        raise Refused(502, f"The sign-in provider could not be reached ({what}).") from None


async def _provider(client: httpx.AsyncClient, oidc: OidcConfig, now: float) -> Provider:
    held = _discovered.get(oidc.issuer)
    if held is not None and now - held[0] < DISCOVERY_S:
        return held[1]
    status, doc = await _call(
        client, "discovery document", "GET", oidc.issuer + "/.well-known/openid-configuration"
    )
    if status != 200:
        raise Refused(502, f"The sign-in provider's discovery document answered {status}.")
    found = provider_of(doc, oidc.issuer)
    _discovered[oidc.issuer] = (now, found)
    return found


async def _key_set(
    client: httpx.AsyncClient, provider: Provider, now: float, again: bool = False
) -> dict[str, Any]:
    held = _keys.get(provider.jwks_uri)
    if held is not None and not again and now - held[0] < DISCOVERY_S:
        return held[1]
    status, keys = await _call(client, "key set", "GET", provider.jwks_uri)
    if status != 200 or not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise Refused(502, "The sign-in provider's key set (jwks_uri) could not be read.")
    _keys[provider.jwks_uri] = (now, keys)
    return keys


def _client_secret(oidc: OidcConfig) -> str:
    try:
        return resolve_secret(oidc.client_secret)
    except ChannelConfigError as exc:
        log.error("oidc: console.oidc.client_secret: %s", exc)
        raise Refused(
            503, "This server's sign-in provider is not set up right; ask an admin."
        ) from None


async def _exchange(
    client: httpx.AsyncClient, provider: Provider, oidc: OidcConfig, code: str,
    redirect_uri: str, verifier: str,
) -> tuple[str, str | None]:  # fmt: skip
    """The ID token (and access token, for at_hash) the token endpoint gives for ``code``."""
    secret = _client_secret(oidc)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    headers = {"accept": "application/json"}
    if provider.basic_auth:  # RFC 6749 2.3.1: each form-encoded, then Basic
        auth = httpx.BasicAuth(quote(oidc.client_id, safe=""), quote(secret, safe=""))
        status, body = await _call(
            client, "token answer", "POST", provider.token_endpoint, data=form, headers=headers,
            auth=auth,
        )  # fmt: skip
    else:
        form |= {"client_id": oidc.client_id, "client_secret": secret}
        status, body = await _call(
            client, "token answer", "POST", provider.token_endpoint, data=form, headers=headers
        )
    if status != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        said = f" ({_word(error)})" if isinstance(error, str) else ""
        raise Refused(401, f"The sign-in provider refused the code{said}; sign in again.")
    id_token, access_token = body.get("id_token"), body.get("access_token")
    if not isinstance(id_token, str) or not id_token:
        raise Refused(401, "The sign-in provider gave no ID token; is the openid scope allowed?")
    return id_token, access_token if isinstance(access_token, str) else None


def _word(text: str) -> str:
    """An OAuth error code as it may be shown: its safe characters, short."""
    return "".join(c for c in text[:80] if c.isalnum() or c in "_-.") or "error"


# --------------------------------------------------------------------------- routes


def _oidc(request: Request) -> OidcConfig | None:
    found: OidcConfig | None = access.app_state(request).config.model.console.oidc
    return found


def _redirect_uri(request: Request) -> str:
    base: str = access.app_state(request).config.model.global_.external_url
    return base.rstrip("/") + CALLBACK


def _refused(request: Request, status: int, message: str) -> Response:
    answer = page(
        "error.html", status=status, person=None, message=message, title="Sign-in refused"
    )
    answer.delete_cookie(session.FLOW_COOKIE, path="/signin")
    return answer


def _not_found() -> Response:
    return page(
        "error.html", status=404, person=None, title="Not found",
        message="This server does not sign in through an OpenID provider.",
    )  # fmt: skip


@router.get("/signin/oidc")
async def start(request: Request) -> Response:
    """To the provider, with a new state, nonce and PKCE challenge kept in the flow's
    cookie."""
    oidc = _oidc(request)
    if oidc is None:
        return _not_found()
    state = access.app_state(request)
    now = state.clock.now()
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            provider = await _provider(client, oidc, now)
    except Refused as exc:
        return _refused(request, exc.status, exc.message)
    flow = session.Flow(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),  # 64 characters (PKCE: 43 to 128)
        next_path=access.safe_next(request.query_params.get("next")),
        expires=int(now) + session.FLOW_S,
    )
    answer = access.redirect(authorization_url(provider, oidc, _redirect_uri(request), flow))
    answer.set_cookie(
        session.FLOW_COOKIE, session.flow_value(access.signing_key(request), flow),
        max_age=session.FLOW_S, httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/signin",
    )  # fmt: skip
    return answer


@router.get(CALLBACK)
async def callback(request: Request) -> Response:
    """Back from the provider: the state checked, the code exchanged, the ID token verified,
    its user signed in."""
    oidc = _oidc(request)
    if oidc is None:
        return _not_found()
    try:
        user, next_path = await _signed_in_user(request, oidc)
    except Refused as exc:
        log.info("oidc: a sign-in was refused (%s): %s", exc.status, exc.message)
        return _refused(request, exc.status, exc.message)
    state = access.app_state(request)
    expires = int(state.clock.now()) + session.SESSION_S
    value = session.oidc_value(access.signing_key(request), user, expires)
    answer = access.start_session(request, value, access.redirect(next_path))
    answer.delete_cookie(session.FLOW_COOKIE, path="/signin")
    log.info("oidc: %s signed in", user)
    return answer


async def _signed_in_user(request: Request, oidc: OidcConfig) -> tuple[str, str]:
    q = request.query_params
    state = access.app_state(request)
    now = state.clock.now()
    flow = session.session_flow(
        access.signing_key(request), request.cookies.get(session.FLOW_COOKIE), now
    )
    error = q.get("error")
    if error is not None:
        raise Refused(401, f"The sign-in provider did not sign you in ({_word(error)}).")
    if flow is None:
        raise Refused(400, "This sign-in took too long or was not started here; sign in again.")
    given, code = q.get("state", ""), q.get("code", "")
    if len(given) > MAX_PARAM_CHARS or not secrets.compare_digest(given, flow.state):
        raise Refused(400, "This sign-in's state does not match; sign in again.")
    if not code or len(code) > MAX_PARAM_CHARS:
        raise Refused(400, "The sign-in provider sent no code back.")
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        provider = await _provider(client, oidc, now)
        id_token, access_token = await _exchange(
            client, provider, oidc, code, _redirect_uri(request), flow.verifier
        )
        keys = await _key_set(client, provider, now)
        args = (provider, oidc.client_id, flow.nonce, now, access_token)
        try:
            claims = verify_id_token(id_token, keys, *args)
        except InvalidKeyIdError:  # the provider may have new keys: read them once more
            keys = await _key_set(client, provider, now, again=True)
            try:
                claims = verify_id_token(id_token, keys, *args)
            except InvalidKeyIdError:
                raise Refused(
                    401, "The ID token is signed with a key the provider does not list."
                ) from None
    user = person_of(claims, oidc, state.config.paging.users)
    if access.oidc_user(state, user) is None:
        raise Refused(403, f"{user} is not one of this server's users.")
    return user, flow.next_path
