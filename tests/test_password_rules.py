"""Issue 19, without a database: what a new password must be, and the cookie of a password
session (what it holds, what it refuses)."""

from __future__ import annotations

import re

import pytest

from tocsin.errors import Invalid
from tocsin.service import passwords
from tocsin.web import session

KEY = session.session_key(b"k" * 32)
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "at least 8 characters (this one has 0)"),
        ("seven77", "at least 8 characters (this one has 7)"),
        ("x" * 201, "at most 200 characters"),
        ("tab\there!", "control characters"),
        ("line one\nline two", "control characters"),
    ],
)
def test_a_new_password_is_refused_with_a_clear_message(given: str, message: str) -> None:
    with pytest.raises(Invalid, match=re.escape(message)) as refused:
        passwords.check_new(given)
    if len(given) > 3:
        assert given not in refused.value.message


def test_a_new_password_is_bounded_and_normalized() -> None:
    assert passwords.check_new("eight888") == "eight888"
    assert passwords.check_new("y" * 200) == "y" * 200
    assert passwords.check_new("with spaces ok") == "with spaces ok"
    decomposed = "cafe\u0301 au lait"  # e + combining acute
    assert passwords.check_new(decomposed) == "caf\u00e9 au lait"
    assert passwords.normal(decomposed) == passwords.normal("caf\u00e9 au lait")


@pytest.mark.parametrize("role", ["viewer", "responder", "admin"])
def test_the_roles_a_password_may_sign_in_as(role: str) -> None:
    assert passwords.check_role(role) == role


@pytest.mark.parametrize("role", ["intake", "root", ""])
def test_other_roles_are_refused(role: str) -> None:
    with pytest.raises(Invalid, match="role: must be one of viewer, responder, admin"):
        passwords.check_role(role)


def test_a_password_session_names_the_user_and_stamp_and_nothing_else() -> None:
    for user in ("alice", "Zoë O'Brien", "a.b.c", "名前"):
        value = session.password_value(KEY, user, "ab" * 16, int(NOW) + 60)
        assert value.startswith("p.") and user not in value  # base64url: no dots, no quotes
        assert all(c.isalnum() or c in ".-_" for c in value)
        held = session.session_password(KEY, value, NOW)
        assert held == session.PasswordSession(user, "ab" * 16)
        assert session.session_token(KEY, value, NOW) is None  # not a token's session


def test_a_password_session_refuses_a_forgery_another_key_and_its_end() -> None:
    value = session.password_value(KEY, "alice", "ab" * 16, int(NOW) + 60)
    assert session.session_password(KEY, value, NOW + 60) is None  # its time passed
    other = session.session_key(b"o" * 32)
    assert session.session_password(other, value, NOW) is None
    body, sig = value.rsplit(".", 1)
    bob = session.password_value(KEY, "bob", "ab" * 16, int(NOW) + 60).split(".")[1]
    forged = ".".join([body.split(".")[0], bob, *body.split(".")[2:]]) + "." + sig
    assert session.session_password(KEY, forged, NOW) is None
    longer = value.replace(f".{int(NOW) + 60}.", f".{int(NOW) + 6000}.")
    assert session.session_password(KEY, longer, NOW) is None
    for junk in (None, "", "p", "p.a.b.c", "p.a.b.c.d.e", "1.2.3", "p." + "a" * 2000):
        assert session.session_password(KEY, junk, NOW) is None
    token = session.session_value(KEY, 7, int(NOW) + 60)
    assert session.session_password(KEY, token, NOW) is None
    assert session.session_token(KEY, token, NOW) == 7  # tokens' sessions as before
