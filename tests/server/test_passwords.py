"""Issue 19: a person signs in to the console with their name and a password set on the
server host (``service.passwords``, ``tocsin users password``), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.server.conftest import Api
from tests.server.test_console import CONFIG, _csrf, _fire
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.cli import app as cli
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.errors import Conflict, Invalid, NotFound, TooMany
from tocsin.service import passwords
from tocsin.store import passwords as rows
from tocsin.store.schema import signin_failures, user_passwords
from tocsin.web import console, session

SECRET = "correct horse battery"


@pytest.fixture
def api(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))  # the server's key, on PostgreSQL
    state = AppState(db=db, config=parse_config(CONFIG), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Api(client, state, db)


def sign_in(
    client: TestClient, user: str, password: str, next_path: str = "/incidents"
) -> httpx.Response:
    form = client.get("/signin", params={"next": next_path})
    assert form.status_code == 200 and 'action="/signin/password"' in form.text
    answer: httpx.Response = client.post(
        "/signin/password",
        data={"user": user, "password": password, "csrf": _csrf(form.text), "next": next_path},
        follow_redirects=False,
    )
    return answer


def test_a_password_set_through_the_service_signs_in_with_its_role(api: Api) -> None:
    now = api.state.clock.now()
    made = passwords.set_password(api.state.db, now, "alice", "responder", SECRET)
    assert (made.user, made.role, made.updated_at) == ("alice", "responder", now)
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    signed = sign_in(api.client, "alice", SECRET, f"/incidents/{number}")
    assert signed.status_code == 303 and signed.headers["location"] == f"/incidents/{number}"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("tocsin_session=p.") and "HttpOnly" in cookie
    page = api.client.get(f"/incidents/{number}").text
    assert "alice" in page and "Acknowledge</button>" in page
    done = api.client.post(
        f"/incidents/{number}/acknowledge", data={"csrf": _csrf(page)}, follow_redirects=False
    )
    assert done.status_code == 303
    record = api.get(f"/api/v1/incidents/{number}").json()
    assert record["status"] == "acknowledged" and record["acknowledged_by"] == "alice"
    # a responder is not an admin
    assert api.client.get("/admin/tokens").status_code == 403


def test_each_role_is_enforced(api: Api) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    db, now = api.state.db, api.state.clock.now()
    passwords.set_password(db, now, "vera", "viewer", SECRET)
    passwords.set_password(db, now, "ada", "admin", SECRET + "!")
    viewer = TestClient(api.client.app)
    assert sign_in(viewer, "vera", SECRET).status_code == 303
    page = viewer.get(f"/incidents/{number}").text
    assert "Acknowledge</button>" not in page
    refused = viewer.post(f"/incidents/{number}/acknowledge", data={"csrf": _csrf(page)})
    assert refused.status_code == 403 and "a viewer may not do this" in refused.text
    admin = TestClient(api.client.app)
    assert sign_in(admin, "ada", SECRET + "!").status_code == 303
    assert admin.get("/admin/tokens").status_code == 200
    with pytest.raises(Invalid, match="role: must be one of viewer, responder, admin"):
        passwords.set_password(db, now, "mach", "intake", SECRET)


def test_an_admin_password_uses_up_the_first_sign_in_link(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tocsin.serve import first_signin
    from tocsin.service import tokens

    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    state = AppState(db=db, config=parse_config(CONFIG), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        passwords.set_password(db, clock.now(), "rita", "responder", SECRET)
        link = first_signin(db, "http://testserver", clock.now())
        assert link is not None and not tokens.has_admin(db)  # a responder is no admin
        passwords.set_password(db, clock.now(), "ada", "admin", SECRET)
        assert tokens.has_admin(db) and first_signin(db, "http://testserver", clock.now()) is None
        used = client.get(link.removeprefix("http://testserver"))
        assert used.status_code == 409 and "Sign in with a token or a password" in used.text
        with pytest.raises(Conflict, match="admin already"):
            tokens.first_admin(db, clock.now(), "ana")


def test_a_wrong_name_or_password_gets_one_answer_and_no_session(api: Api) -> None:
    passwords.set_password(api.state.db, api.state.clock.now(), "alice", "responder", SECRET)
    wrong = sign_in(api.client, "alice", SECRET + "x")
    nobody = sign_in(api.client, "nobody", SECRET)
    short = sign_in(api.client, "alice", "short")
    for answer in (wrong, nobody, short):
        assert answer.status_code == 401
        assert "That name or password is wrong." in answer.text
        assert "tocsin_session" not in answer.headers.get("set-cookie", "")
    assert api.client.get("/incidents", follow_redirects=False).status_code == 303
    forged = api.client.post(
        "/signin/password",
        data={"user": "alice", "password": SECRET, "csrf": "0" * 40},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "tocsin_session" not in forged.headers.get("set-cookie", "")


def test_five_wrong_guesses_for_a_name_are_throttled_until_the_window_passes(
    api: Api, clock: VirtualClock
) -> None:
    passwords.set_password(api.state.db, clock.now(), "alice", "responder", SECRET)
    for n in range(passwords.MAX_FAILURES):
        assert sign_in(api.client, "alice", f"guess number {n}").status_code == 401
    throttled = sign_in(api.client, "alice", SECRET)  # the right one too
    assert throttled.status_code == 429 and "too many wrong passwords" in throttled.text
    assert "tocsin_session" not in throttled.headers.get("set-cookie", "")
    # a name with no password is throttled the same: the answer does not tell which exist
    for n in range(passwords.MAX_FAILURES):
        assert sign_in(api.client, "mallory", f"guess number {n}").status_code == 401
    assert sign_in(api.client, "mallory", SECRET).status_code == 429
    clock.advance(passwords.WINDOW_S - 1)
    assert sign_in(api.client, "alice", SECRET).status_code == 429
    clock.advance(1)
    assert sign_in(api.client, "alice", SECRET).status_code == 303
    with api.state.db.connect() as conn:  # the success ended alice's window
        assert [r.user_name for r in conn.execute(select(signin_failures))] == ["mallory"]
    assert sign_in(api.client, "mallory", SECRET).status_code == 401  # mallory's window passed
    with api.state.db.connect() as conn:  # and the next failure dropped it: a new one began
        assert [tuple(r) for r in conn.execute(select(signin_failures))] == [
            ("mallory", 1, clock.now())
        ]


def test_a_success_starts_the_count_again(db: Engine, clock: VirtualClock) -> None:
    passwords.set_password(db, clock.now(), "alice", "viewer", SECRET)
    for _ in range(passwords.MAX_FAILURES - 1):
        assert passwords.check_password(db, clock.now(), "alice", "wrong password") is None
    assert passwords.check_password(db, clock.now(), "alice", SECRET) is not None
    for _ in range(passwords.MAX_FAILURES - 1):
        assert passwords.check_password(db, clock.now(), "alice", "wrong password") is None
    assert passwords.check_password(db, clock.now(), "alice", SECRET) is not None
    for _ in range(passwords.MAX_FAILURES):
        assert passwords.check_password(db, clock.now(), "alice", "wrong password") is None
    with pytest.raises(TooMany):
        passwords.check_password(db, clock.now(), "alice", SECRET)


def test_changing_or_removing_the_password_ends_its_sessions(api: Api) -> None:
    db, clock = api.state.db, api.state.clock
    passwords.set_password(db, clock.now(), "alice", "responder", SECRET)
    assert sign_in(api.client, "alice", SECRET).status_code == 303
    assert api.client.get("/incidents").status_code == 200
    passwords.set_password(db, clock.now(), "alice", "responder", SECRET)  # the same again
    assert api.client.get("/incidents", follow_redirects=False).status_code == 303
    assert sign_in(api.client, "alice", SECRET).status_code == 303
    assert api.client.get("/incidents").status_code == 200
    passwords.remove_password(db, "alice")
    assert api.client.get("/incidents", follow_redirects=False).status_code == 303
    assert sign_in(api.client, "alice", SECRET).status_code == 401
    with pytest.raises(NotFound):
        passwords.remove_password(db, "alice")
    # set again after removal: the old session does not come back
    passwords.set_password(db, clock.now(), "alice", "admin", SECRET)
    assert api.client.get("/incidents", follow_redirects=False).status_code == 303
    # a token's session is untouched by any of it
    token = TestClient(api.client.app)
    form = token.get("/signin")
    signed = token.post(
        "/signin",
        data={"token": api.tokens["responder"], "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    passwords.set_password(db, clock.now(), "responder", "viewer", SECRET)
    assert token.get("/incidents").status_code == 200


def test_the_cookie_and_the_database_hold_no_secret(api: Api) -> None:
    db = api.state.db
    made = passwords.set_password(db, api.state.clock.now(), "alice", "responder", SECRET)
    signed = sign_in(api.client, "alice", SECRET)
    value = api.client.cookies.get(session.COOKIE)
    assert value is not None and value.startswith("p.")
    with db.connect() as conn:
        row = rows.get(conn, "alice")
        stored = conn.execute(select(user_passwords)).all()
    assert row is not None and row.hash.startswith("$argon2id$")
    assert SECRET not in repr(stored)
    for secret in (SECRET, row.hash, row.hash.split("$")[-1], row.hash.split("$")[-2]):
        assert secret not in value and secret not in signed.headers["set-cookie"]
    assert made.stamp in value  # what it holds: whose, which password's stamp, until when
    # a cookie whose name or stamp was changed is refused
    body, sig = value.rsplit(".", 1)
    parts = body.split(".")
    for forged in (
        ".".join([parts[0], "Ym9i", *parts[2:]]) + "." + sig,  # "bob"
        ".".join([*parts[:2], "0" * 32, parts[3]]) + "." + sig,
    ):
        api.client.cookies.set(session.COOKIE, forged)
        assert api.client.get("/incidents", follow_redirects=False).status_code == 303


def test_a_session_ends_when_its_time_passes(api: Api, clock: VirtualClock) -> None:
    passwords.set_password(api.state.db, clock.now(), "alice", "viewer", SECRET)
    assert sign_in(api.client, "alice", SECRET).status_code == 303
    clock.advance(session.SESSION_S - 1)
    assert api.client.get("/incidents").status_code == 200
    clock.advance(1)
    assert api.client.get("/incidents", follow_redirects=False).status_code == 303


def test_a_name_without_a_password_is_checked_against_a_dummy_hash(
    db: Engine, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = passwords._verify

    def spy(hashed: str, password: str) -> bool:
        checked.append(hashed)
        return real(hashed, password)

    monkeypatch.setattr(passwords, "_verify", spy)
    assert passwords.check_password(db, clock.now(), "nobody", SECRET) is None
    assert checked == [passwords._dummy()]


def test_an_old_hash_is_made_again_and_its_sessions_go_on(db: Engine, clock: VirtualClock) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    made = passwords.set_password(db, clock.now(), "alice", "viewer", SECRET)
    with db.begin() as conn:
        before = rows.get(conn, "alice")
        assert before is not None and "m=65536" in before.hash
        assert rows.rehash(conn, "alice", before.hash, weak.hash(SECRET))
    found = passwords.check_password(db, clock.now(), "alice", SECRET)
    assert found is not None and found.stamp == made.stamp
    with db.connect() as conn:
        row = rows.get(conn, "alice")
    assert row is not None and "m=8192" not in row.hash and "m=65536" in row.hash
    assert passwords.check_password(db, clock.now(), "alice", SECRET) is not None


USERS = """
route: {receiver: default}
receivers: [{name: default}]
channels: [{name: console, type: console}]
users:
  - {name: alice, contact: [console]}
  - {name: ben, contact: [console]}
"""


def test_the_cli_sets_and_removes_a_password(tmp_path: Path, database_url: str, db: Engine) -> None:
    runner = CliRunner()
    config = tmp_path / "tocsin.yaml"
    config.write_text(USERS)
    site = ["--database-url", database_url]
    named = ["--config", str(config), *site]
    made = runner.invoke(
        cli,
        ["users", "password", "alice", "--role", "responder", "--password-stdin", *named],
        input=SECRET + "\n",
    )
    assert made.exit_code == 0, made.output
    assert "alice signs in to the console as a responder" in made.output
    assert SECRET not in made.output
    found = passwords.check_password(db, 0.0, "alice", SECRET)
    assert found is not None and found.role == "responder"
    unknown = runner.invoke(
        cli,
        ["users", "password", "eve", "--role", "admin", "--password-stdin", *named],
        input=SECRET + "\n",
    )
    assert unknown.exit_code == 2 and "no user 'eve' in the configuration" in unknown.output
    short = runner.invoke(
        cli,
        ["users", "password", "ben", "--role", "viewer", "--password-stdin", *site],
        input="seven77\n",
    )
    assert short.exit_code == 2 and "password: at least 8 characters" in short.output
    assert "seven77" not in short.output
    intake = runner.invoke(
        cli,
        ["users", "password", "ben", "--role", "intake", "--password-stdin", *site],
        input=SECRET + "\n",
    )
    assert intake.exit_code == 2 and "--role: must be one of viewer, responder, admin" in (
        intake.output
    )
    # asked twice on the terminal, hidden
    asked = runner.invoke(
        cli,
        ["users", "password", "ben", "--role", "viewer", *site],
        input=f"{SECRET}2\n{SECRET}2\n",
    )
    assert asked.exit_code == 0, asked.output
    assert f"{SECRET}2" not in asked.output
    assert re.search(r"New password for ben.*\n.*Repeat", asked.output), asked.output
    assert passwords.check_password(db, 0.0, "ben", f"{SECRET}2") is not None
    removed = runner.invoke(cli, ["users", "remove-password", "alice", *site])
    assert removed.exit_code == 0 and "removed the password of alice" in removed.output
    assert passwords.check_password(db, 0.0, "alice", SECRET) is None
    again = runner.invoke(cli, ["users", "remove-password", "alice", *site])
    assert again.exit_code == 1 and "'alice' has no password" in again.output
