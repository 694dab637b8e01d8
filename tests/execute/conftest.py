"""Fixtures of the runner tests: runners built from real configuration models, and what
tells whether a process is still alive."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from tocsin.config.models import RunnerConfig

_RUNNER = TypeAdapter(RunnerConfig)


def runner_config(**fields: Any) -> Any:
    """A runner's configuration model, validated as ``tocsin.yaml`` would be."""
    return _RUNNER.validate_python({"name": "test", **fields})


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie that no one reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("TOCSIN_TEST_DATABASE_URL", PG_DEFAULT)


@contextlib.contextmanager
def postgres_database(prefix: str = "tocsin_runner") -> Iterator[str]:
    """A throwaway PostgreSQL database (its ``postgresql://`` URL), dropped afterwards; the
    test skips, saying why, when no server answers."""
    import psycopg

    admin = postgres_admin_url()
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {admin} ({exc.__class__.__name__})")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
