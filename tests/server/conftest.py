"""Fixtures for the server: a database per test (SQLite, and PostgreSQL where one answers),
the app in process on a virtual clock, and API tokens."""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.store import repo
from tocsin.store.db import make_engine, upgrade

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
START = 1_800_000_000.0  # 2027-01-15T08:00:00Z

CONFIG = dedent(
    """
    global:
      resolve_timeout: 5m
    route:
      receiver: default
      group_by: [alertname]
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 4h
      routes:
        - matchers: ['severity="critical"']
          receiver: pager
          group_wait: 0s
    receivers:
      - name: default
      - name: pager
    inhibit_rules:
      - source_matchers: ['severity="critical"']
        target_matchers: ['severity="warning"']
        equal: [instance]
    limits:
      max_body_bytes: 65536
      max_alerts_per_batch: 50
      max_labels_per_alert: 10
      max_label_value_bytes: 100
    """
)


def _postgres_admin_url() -> str:
    return os.environ.get("TOCSIN_TEST_DATABASE_URL", PG_DEFAULT)


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason to skip."""
    import psycopg

    try:
        psycopg.connect(_postgres_admin_url(), connect_timeout=3).close()
    except Exception as exc:
        return f"PostgreSQL not reachable at {_postgres_admin_url()} ({exc.__class__.__name__})"
    return None


@contextlib.contextmanager
def postgres_database(prefix: str = "tocsin_test") -> Iterator[str]:
    """A throwaway PostgreSQL database (its SQLAlchemy URL), dropped afterwards; skips the
    test when no server answers."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tocsin.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


def make_state(db: Engine, clock: VirtualClock, text: str = CONFIG) -> AppState:
    return AppState(db=db, config=parse_config(text), clock=clock)


def new_token(db: Engine, role: str) -> str:
    token = f"tocsin_{role}_{secrets.token_hex(8)}"
    with db.begin() as conn:
        repo.create_token(conn, role, role, token, START)
    return token


class Api:
    """A test client with a token per role."""

    def __init__(self, client: TestClient, state: AppState, db: Engine) -> None:
        self.client = client
        self.state = state
        self.tokens = {role: new_token(db, role) for role in repo.ROLES}

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str = "admin") -> httpx.Response:
        response: httpx.Response = self.client.get(path, headers=self.headers(role))
        return response

    def post(self, path: str, body: object, role: str = "admin") -> httpx.Response:
        response: httpx.Response = self.client.post(path, json=body, headers=self.headers(role))
        return response

    def delete(self, path: str, role: str = "admin") -> httpx.Response:
        response: httpx.Response = self.client.delete(path, headers=self.headers(role))
        return response

    def run_engine(self) -> int:
        assert self.state.engine is not None
        return self.state.engine.run_due()

    def run_once(self) -> None:
        """One engine pass in the app's event loop: due work, then deliveries."""
        engine = self.state.engine
        assert engine is not None and self.client.portal is not None
        self.client.portal.call(engine.run_once)


@pytest.fixture
def api(db: Engine, clock: VirtualClock) -> Iterator[Api]:
    state = make_state(db, clock)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)
