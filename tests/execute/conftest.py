"""Fixtures of the runner tests: runners built from real configuration models, what tells
whether a process is still alive, and the real peers: a throwaway PostgreSQL database, a
Prometheus scraping itself, a private sshd. A peer that cannot be had skips its tests with the
reason (``scripts/install-test-tools.sh`` installs Debian's prometheus and openssh-server)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from tocsin.config.models import RunnerConfig
from tocsin.execute.shell import ShellRunner

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


# --- a real Prometheus scraping itself (Debian's prometheus) ---------------------------

RULES = """\
groups:
  - name: pebble
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: PebbleTargetDown
        expr: up == 0
        for: 5m
        labels: {severity: critical, team: pebble}
        annotations:
          summary: "{{ $labels.instance }} is down"
          runbook_url: https://runbooks.example/pebble.md
  - name: other
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
"""


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    tmp = tmp_path_factory.mktemp("prometheus")
    (tmp / "rules.yml").write_text(RULES)
    port = free_port()
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{tmp / 'rules.yml'}]\n"
        "scrape_configs:\n"
        "  - job_name: prometheus\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    log = (tmp / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # until it has scraped itself once
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(f"{url}/api/v1/query?query=up", timeout=2) as r:
                    if json.load(r)["data"]["result"]:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail((tmp / "prometheus.log").read_text()[-2000:])
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# --- a private sshd (Debian's openssh-server) -------------------------------------------

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)


@dataclass(frozen=True)
class Sshd:
    port: int
    identity: Path
    known_hosts: Path
    user: str

    def runner(self, ssh: dict[str, object] | None = None, **fields: object) -> ShellRunner:
        settings: dict[str, object] = {
            "allow_hosts": [r"127\.0\.0\.1", "localhost"],
            "user": self.user,
            "port": self.port,
            "identity_file": str(self.identity),
            "known_hosts_file": str(self.known_hosts),
            "connect_timeout": "5s",
        }
        fields.setdefault("timeout", "20s")
        return ShellRunner(runner_config(type="shell", ssh=settings | (ssh or {}), **fields))


def keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        timeout=30,
    )


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if SSHD is None:
        pytest.skip("sshd not installed (Debian package openssh-server)")
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("ssh or ssh-keygen not installed (Debian package openssh-client)")
    if os.geteuid() != 0:
        pytest.skip("a private sshd that logs in as this user needs root here")
    tmp = tmp_path_factory.mktemp("sshd")
    keygen(tmp / "host_key")
    keygen(tmp / "client_key")
    (tmp / "authorized_keys").write_text((tmp / "client_key.pub").read_text())
    port = free_port()
    host_key = (tmp / "host_key.pub").read_text().split()
    (tmp / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (tmp / "sshd_config").write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {tmp / 'host_key'}\n"
        f"PidFile {tmp / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}\n"
        "UsePAM no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        "StrictModes no\n"
        "LogLevel VERBOSE\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
    log = (tmp / "sshd.log").open("wb")
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(tmp / "sshd_config")],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                pytest.skip(f"sshd did not start: {(tmp / 'sshd.log').read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.skip("sshd did not listen within 15s")
                time.sleep(0.05)
        yield Sshd(port, tmp / "client_key", tmp / "known_hosts", getpass.getuser())
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
