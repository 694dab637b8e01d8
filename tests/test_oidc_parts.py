"""Issue 19: the parts of the console's OpenID Connect sign-in that need no server: its
configuration, its cookies, the discovery document's checks, the authorization URL, the ID
token's verification and who the claims name."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from pydantic import ValidationError

from tocsin.config.models import OidcConfig, Secret, UserConfig
from tocsin.web import oidc, session
from tocsin.web.oidc import Provider, Refused

KEY = b"k" * 32
NOW = 1_800_000_000.0
ISSUER = "https://id.example.com/realms/ops"
SIGNER = RSAKey.generate_key(2048, {"kid": "k1"})
PROVIDER = Provider(
    issuer=ISSUER,
    authorization_endpoint=ISSUER + "/auth",
    token_endpoint=ISSUER + "/token",
    jwks_uri=ISSUER + "/certs",
    algorithms=("RS256",),
    basic_auth=True,
)


def _config(**kw: Any) -> OidcConfig:
    base: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": "console",
        "client_secret": Secret(env="X"),
    }
    return OidcConfig.model_validate(base | kw)


def test_the_configuration_needs_https_and_the_openid_scope() -> None:
    assert _config(issuer=ISSUER + "/").issuer == ISSUER
    assert _config(issuer="http://127.0.0.1:8080").issuer == "http://127.0.0.1:8080"
    with pytest.raises(ValidationError, match="https"):
        _config(issuer="http://id.example.com")
    with pytest.raises(ValidationError, match="must include openid"):
        _config(scopes=["email"])
    with pytest.raises(ValidationError):
        _config(role="intake")
    assert _config().scopes == ["openid", "email", "profile"] and _config().role == "responder"


def test_an_oidc_session_cookie_names_its_user_until_it_expires() -> None:
    value = session.oidc_value(KEY, "ålice.ops", int(NOW) + 60)
    assert value.startswith("o.") and session.session_oidc(KEY, value, NOW) == "ålice.ops"
    assert session.session_oidc(KEY, value, NOW + 60) is None
    assert session.session_oidc(b"x" * 32, value, NOW) is None
    forged = value.replace(value.split(".")[1], "Ym9i")  # "bob"
    assert session.session_oidc(KEY, forged, NOW) is None
    # no kind of cookie is read as another
    assert session.session_password(KEY, value, NOW) is None
    assert session.session_token(KEY, value, NOW) is None
    password = session.password_value(KEY, "alice", "stamp", int(NOW) + 60)
    assert session.session_oidc(KEY, password, NOW) is None


def test_the_flow_cookie_keeps_its_fields_signed_for_ten_minutes() -> None:
    flow = session.Flow("st", "no", "v" * 64, "/incidents/3", int(NOW) + session.FLOW_S)
    value = session.flow_value(KEY, flow)
    assert session.session_flow(KEY, value, NOW) == flow
    assert session.session_flow(KEY, value, NOW + session.FLOW_S) is None
    assert session.session_flow(b"x" * 32, value, NOW) is None
    _, sig = value.split(".")
    other = base64.urlsafe_b64encode(b'["a","b","c","/","9999999999"]').decode().rstrip("=")
    assert session.session_flow(KEY, f"{other}.{sig}", NOW) is None
    assert (
        session.session_flow(KEY, None, NOW) is None and session.session_flow(KEY, "", NOW) is None
    )


def test_the_authorization_url_asks_for_a_code_with_an_s256_challenge() -> None:
    flow = session.Flow("the-state", "the-nonce", "v" * 64, "/incidents", int(NOW) + 600)
    url = oidc.authorization_url(PROVIDER, _config(), "https://t.example/cb", flow)
    assert url.startswith(ISSUER + "/auth?")
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 64).digest()).rstrip(b"=")
    assert q == {
        "response_type": "code",
        "client_id": "console",
        "redirect_uri": "https://t.example/cb",
        "scope": "openid email profile",
        "state": "the-state",
        "nonce": "the-nonce",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }


def _doc(**kw: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/auth",
        "token_endpoint": ISSUER + "/token",
        "jwks_uri": ISSUER + "/certs",
    } | kw


def test_a_discovery_document_must_be_the_issuer_s_and_use_https() -> None:
    assert oidc.provider_of(_doc(), ISSUER) == PROVIDER
    post = oidc.provider_of(
        _doc(token_endpoint_auth_methods_supported=["client_secret_post"]), ISSUER
    )
    assert not post.basic_auth
    for doc, says in [
        (_doc(issuer="https://evil.example"), "another issuer"),
        (_doc(token_endpoint="http://id.example.com/token"), "token_endpoint"),
        (_doc(jwks_uri=None), "jwks_uri"),
        (_doc(code_challenge_methods_supported=["plain"]), "S256"),
        (_doc(token_endpoint_auth_methods_supported=["private_key_jwt"]), "client secret"),
        ([], "not a JSON object"),
    ]:
        with pytest.raises(Refused, match=says):
            oidc.provider_of(doc, ISSUER)


def _token(key: Any = SIGNER, alg: str = "RS256", **claims: Any) -> str:
    payload = {
        "iss": ISSUER, "sub": "1", "aud": "console", "iat": int(NOW), "exp": int(NOW) + 300,
        "nonce": "n1",
    } | claims  # fmt: skip
    return jwt.encode({"alg": alg, "kid": "k1"}, payload, key, algorithms=[alg])


KEYS = {"keys": [SIGNER.as_dict(private=False)]}


def test_an_id_token_is_verified_against_the_provider_s_keys_and_claims() -> None:
    claims = oidc.verify_id_token(_token(email="a@x"), KEYS, PROVIDER, "console", "n1", NOW)
    assert claims["email"] == "a@x"
    bad = [
        _token(RSAKey.generate_key(2048, {"kid": "k1"})),
        _token(nonce="n2"),
        _token(aud="other"),
        _token(iss="https://evil.example"),
        _token(exp=int(NOW) - oidc.LEEWAY_S - 1),
        _token(OctKey.generate_key(256), alg="HS256"),  # an algorithm the provider does not list
        _token() + "x",
    ]
    for token in bad:
        with pytest.raises(Refused, match="ID token is not valid"):
            oidc.verify_id_token(token, KEYS, PROVIDER, "console", "n1", NOW)


def _users(*people: tuple[str, str | None]) -> dict[str, UserConfig]:
    return {name: UserConfig(name=name, email=email) for name, email in people}


def test_the_claim_names_one_configured_user_or_is_refused() -> None:
    users = _users(("alice", "Alice@Example.com"), ("bob", None))
    assert oidc.person_of({"email": "alice@example.COM"}, _config(), users) == "alice"
    with pytest.raises(Refused, match="not verified"):
        oidc.person_of({"email": "alice@example.com", "email_verified": False}, _config(), users)
    with pytest.raises(Refused, match="mallory@x is not one of"):
        oidc.person_of({"email": "mallory@x"}, _config(), users)
    with pytest.raises(Refused, match="did not say your email"):
        oidc.person_of({}, _config(), users)
    by_name = _config(user_claim="preferred_username")
    assert oidc.person_of({"preferred_username": "bob"}, by_name, users) == "bob"
    with pytest.raises(Refused) as refused:
        oidc.person_of({"preferred_username": "Bob"}, by_name, users)
    assert refused.value.status == 403
    twice = _users(("a1", "same@x"), ("a2", "same@x"))
    with pytest.raises(Refused):  # an email two users share names neither
        oidc.person_of({"email": "same@x"}, _config(), twice)
