"""Tokens belong to users (issue 17, item 12): the API records the token's user, tokens are
created for a configured user, listed without secrets and revoked; ``whoami``. The API's
description is behind a token unless configured public (item 31). Reading a runbook writes
nothing and shows no server path (item 33)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.service.context import load_runbooks
from tocsin.store import repo
from tocsin.store.db import make_engine, upgrade

CONFIG = """
global: {resolve_timeout: 5m}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
receivers: [{name: default}]
runbooks: [runbooks]
users:
  - {name: alice, email: alice@example.com, contact: [console]}
  - {name: ben, email: ben@example.com, contact: [console]}
channels: [{name: console, type: console}]
"""

RUNBOOK = """
# Database runbook

## DatabaseDown

Severity: critical

### Investigation
```bash
pg_isready -h <host>
```
"""


def make_api(db: Engine, clock: VirtualClock, base: Path, config: str = CONFIG) -> AppState:
    books = base / "runbooks" / "db"
    books.mkdir(parents=True, exist_ok=True)
    (books / "database.md").write_text(dedent(RUNBOOK).lstrip())
    loaded = parse_config(config, str(base / "tocsin.yaml"), base)
    return AppState(db=db, config=loaded, clock=clock, catalog=load_runbooks(loaded))


@pytest.fixture
def api(db: Engine, clock: VirtualClock, tmp_path: Path) -> Iterator[Api]:
    state = make_api(db, clock, tmp_path)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_token(api: Api, user: str, role: str, name: str = "") -> tuple[int, str]:
    made = api.post("/api/v1/tokens", {"user": user, "role": role, "name": name})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["user"] == user and body["role"] == role and body["token"].startswith("tocsin_")
    return body["id"], body["token"]


def incident(api: Api) -> int:
    body = [{"labels": {"alertname": "DatabaseDown", "severity": "critical"}}]
    assert api.post("/api/v2/alerts", body).status_code == 200
    api.run_engine()
    [found] = api.get("/api/v1/incidents").json()
    number: int = found["id"]
    return number


def test_api_actions_record_the_user_of_the_token(api: Api) -> None:
    _, alice = new_token(api, "alice", "responder", "laptop")
    who = api.client.get("/api/v1/whoami", headers=bearer(alice))
    assert who.status_code == 200
    assert who.json()["user"] == "alice" and who.json()["role"] == "responder"
    number = incident(api)
    acked = api.client.post(f"/api/v1/incidents/{number}/ack", headers=bearer(alice))
    assert acked.status_code == 200, acked.text
    record = api.get(f"/api/v1/incidents/{number}").json()
    assert record["acknowledged_by"] == "alice"  # not "responder"
    noted = api.client.post(
        f"/api/v1/incidents/{number}/notes", json={"text": "on it"}, headers=bearer(alice)
    )
    assert noted.status_code == 201
    timeline = api.get(f"/api/v1/incidents/{number}/timeline").json()
    assert [e["detail"].get("by") for e in timeline if e["kind"] == "note"] == ["alice"]


def test_whoami_answers_every_role_and_no_stranger(api: Api) -> None:
    for role in repo.ROLES:
        who = api.get("/api/v1/whoami", role=role)
        assert who.status_code == 200 and who.json()["role"] == role
    assert api.client.get("/api/v1/whoami").status_code == 401
    assert api.client.get("/api/v1/whoami", headers=bearer("tocsin_nope")).status_code == 401
    # the token is checked before the body and the path are
    assert api.client.post("/api/v1/tokens", json={"bad": 1}).status_code == 401
    assert api.client.delete("/api/v1/tokens/abc").status_code == 401


def test_a_person_s_token_names_a_configured_user(api: Api) -> None:
    unknown = api.post("/api/v1/tokens", {"user": "mallory", "role": "responder"})
    assert unknown.status_code == 422
    assert "no user 'mallory'" in unknown.text and "alice, ben" in unknown.text
    # an intake token is for a machine: any name
    assert api.post("/api/v1/tokens", {"user": "prometheus", "role": "intake"}).status_code == 201
    bad_role = api.post("/api/v1/tokens", {"user": "alice", "role": "root"})
    assert bad_role.status_code == 422 and "role" in bad_role.text
    control = api.post("/api/v1/tokens", {"user": "ali\x1bce", "role": "intake"})
    assert control.status_code == 422
    only_admins = api.post("/api/v1/tokens", {"user": "alice", "role": "admin"}, role="responder")
    assert only_admins.status_code == 403


def test_tokens_are_listed_without_secrets(api: Api) -> None:
    alice_id, alice = new_token(api, "alice", "responder", "laptop")
    ben_id, ben = new_token(api, "ben", "viewer")
    every = api.get("/api/v1/tokens")
    assert every.status_code == 200
    listed = {t["id"]: t for t in every.json()}
    assert listed[alice_id]["user"] == "alice" and listed[alice_id]["name"] == "laptop"
    assert listed[ben_id]["role"] == "viewer"
    assert set(listed[alice_id]) == {"id", "user", "role", "name", "created_at", "revoked_at"}
    assert alice not in every.text and ben not in every.text
    assert repo.hash_token(alice) not in every.text
    mine = api.client.get("/api/v1/tokens", headers=bearer(alice))
    assert [t["id"] for t in mine.json()] == [alice_id]  # a responder sees their own
    assert api.client.get("/api/v1/tokens", headers=bearer(ben)).status_code == 403


def test_tokens_are_revoked_and_refused_at_once(api: Api) -> None:
    alice_id, alice = new_token(api, "alice", "responder")
    second_id, second = new_token(api, "alice", "responder", "phone")
    ben_id, ben = new_token(api, "ben", "responder")
    assert api.client.get("/api/v1/whoami", headers=bearer(alice)).status_code == 200  # cached
    not_hers = api.client.delete(f"/api/v1/tokens/{ben_id}", headers=bearer(alice))
    assert not_hers.status_code == 403
    own = api.client.delete(f"/api/v1/tokens/{second_id}", headers=bearer(alice))
    assert own.status_code == 200 and own.json()["revoked_at"] is not None
    assert api.client.get("/api/v1/whoami", headers=bearer(second)).status_code == 401
    by_admin = api.delete(f"/api/v1/tokens/{alice_id}")
    assert by_admin.status_code == 200
    assert api.client.get("/api/v1/whoami", headers=bearer(alice)).status_code == 401
    assert api.delete(f"/api/v1/tokens/{alice_id}").status_code == 409
    assert api.delete("/api/v1/tokens/9999").status_code == 404
    assert alice_id not in [t["id"] for t in api.get("/api/v1/tokens").json()]
    revoked = api.get("/api/v1/tokens?revoked=true").json()
    assert {t["id"] for t in revoked} >= {alice_id, second_id, ben_id}
    assert api.client.get("/api/v1/whoami", headers=bearer(ben)).status_code == 200


def test_tokens_of_before_users_act_under_their_name(database_url: str) -> None:
    """Migration 0005: a token made before tokens had users keeps acting under the name it
    had (its role, unless --name was given)."""
    engine = make_engine(database_url)
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_tokens (name, role, token_hash, created_at)"
                " VALUES ('ops-laptop', 'admin', :hash, 1.0)"
            ),
            {"hash": repo.hash_token("tocsin_old")},
        )
    upgrade(engine)
    with engine.connect() as conn:
        found = repo.token_identity(conn, "tocsin_old")
    engine.dispose()
    assert found is not None and (found.user, found.role) == ("ops-laptop", "admin")


DOCS = ("/openapi.json", "/docs", "/redoc")


def test_the_api_description_needs_a_token_by_default(api: Api) -> None:
    """Issue 17, item 31: /openapi.json, /docs and /redoc are not public unless configured."""
    for path in DOCS:
        assert api.client.get(path).status_code == 401, path
        assert api.get(path, role="viewer").status_code == 200, path
        assert api.get(path, role="intake").status_code == 403, path
    # a browser answers the prompt with HTTP basic, the token as password
    basic = httpx.BasicAuth("anyone", api.tokens["viewer"])
    assert api.client.get("/docs", auth=basic).status_code == 200
    assert "/api/v1/tokens" in api.get("/openapi.json", role="viewer").json()["paths"]


def test_the_api_description_is_public_where_configured(
    db: Engine, clock: VirtualClock, tmp_path: Path
) -> None:
    config = CONFIG.replace(
        "runbooks: [runbooks]", "runbooks: [runbooks]\napi: {public_docs: true}"
    )
    state = make_api(db, clock, tmp_path, config)
    with TestClient(create_app(state, run_engine=False)) as client:
        for path in DOCS:
            assert client.get(path).status_code == 200, path
        assert "swagger" in client.get("/docs").text.lower()


def test_reading_a_runbook_writes_nothing_and_shows_no_server_path(
    api: Api, tmp_path: Path
) -> None:
    """Issue 17, item 33: a viewer's GET never writes; sources are relative to the runbook
    directory."""
    number = incident(api)
    before = api.get(f"/api/v1/incidents/{number}/timeline").json()
    read = api.get(f"/api/v1/incidents/{number}/runbook", role="viewer")
    assert read.status_code == 200 and read.json()[0]["section"] == "DatabaseDown"
    assert api.get(f"/api/v1/incidents/{number}/timeline").json() == before
    record = api.get(f"/api/v1/incidents/{number}")
    assert [s["source"] for s in record.json()["runbooks"]] == ["db/database.md"]
    for answer in (read, record):
        assert str(tmp_path) not in answer.text
    assert read.json()[0]["url"] == "db/database.md#databasedown"
    # opening it is an explicit act of a responder, recorded once per person and section
    assert api.post(f"/api/v1/incidents/{number}/runbook", {}, role="viewer").status_code == 403
    for _ in range(2):
        opened = api.post(f"/api/v1/incidents/{number}/runbook", {}, role="responder")
        assert opened.status_code == 200 and opened.json() == read.json()
    events = api.get(f"/api/v1/incidents/{number}/timeline").json()
    [event] = [e for e in events if e["kind"] == "runbook_opened"]
    assert event["detail"] == {
        "by": "responder",
        "source": "db/database.md",
        "section": "DatabaseDown",
    }
