"""The console's session cookie and CSRF tokens (pure: no server)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tocsin.web import session

KEY = session.session_key(b"k" * 32)


def test_a_session_names_its_token_until_it_ends() -> None:
    value = session.session_value(KEY, 7, 1_000)
    assert session.session_token(KEY, value, 999.0) == 7
    assert session.session_token(KEY, value, 1_000.0) is None  # ended


def test_a_changed_cookie_is_refused() -> None:
    value = session.session_value(KEY, 7, 1_000)
    token_id, expires, sig = value.split(".")
    for forged in (
        f"8.{expires}.{sig}",  # another token
        f"{token_id}.9999999999.{sig}",  # a later end
        f"{token_id}.{expires}.{sig[:-1]}0" if sig[-1] != "0" else f"{token_id}.{expires}.1",
        session.session_value(session.session_key(b"x" * 32), 7, 1_000),  # another server
        "", "7", "7.1000", "a.b.c", "7.1000." + "0" * 64, "x" * 500,
    ):  # fmt: skip
        assert session.session_token(KEY, forged, 0.0) is None, forged


def test_the_csrf_token_belongs_to_its_session() -> None:
    one = session.session_value(KEY, 1, 1_000)
    two = session.session_value(KEY, 2, 1_000)
    assert session.csrf_ok(KEY, one, session.csrf(KEY, one))
    assert not session.csrf_ok(KEY, one, session.csrf(KEY, two))
    assert not session.csrf_ok(KEY, one, None)
    assert not session.csrf_ok(KEY, None, session.csrf(KEY, one))
    assert not session.csrf_ok(KEY, one, "")


def test_without_a_server_key_sessions_are_this_process_s_own() -> None:
    assert session.session_key(None) == session.session_key(None)
    assert session.session_key(None) != session.session_key(b"k" * 32)


@given(st.text(max_size=300))
def test_no_text_is_taken_for_a_session(text: str) -> None:
    assert session.session_token(KEY, text, 0.0) is None
