"""The shell runner through ssh: a private sshd on a free local port with its own host key, a
client key made for the test, a known hosts file written from the host key.

Debian's openssh-server provides sshd (``scripts/install-test-tools.sh`` installs it where it
can); without it these tests skip and say so.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.execute.conftest import free_port, runner_config
from tocsin.execute.base import Request
from tocsin.execute.shell import ShellRunner

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


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if SSHD is None:
        pytest.skip("sshd not installed (Debian package openssh-server)")
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("ssh or ssh-keygen not installed (Debian package openssh-client)")
    if os.geteuid() != 0:
        pytest.skip("a private sshd that logs in as this user needs root here")
    tmp = tmp_path_factory.mktemp("sshd")
    _keygen(tmp / "host_key")
    _keygen(tmp / "client_key")
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


def on(host: str, text: str) -> Request:
    return Request(text, "bash", labels={"instance": host, "job": "node"})


def test_diagnostics_through_ssh(sshd: Sshd, tmp_path: Path) -> None:
    runner = sshd.runner()
    df = runner.run(on("127.0.0.1:9100", "df -h /"))
    assert df.status == "ok", df
    assert "Filesystem" in df.output
    assert df.target == f"ssh {sshd.user}@127.0.0.1"
    ps = runner.run(on("127.0.0.1:9100", "ps -o pid,comm"))
    assert ps.status == "ok" and "PID" in ps.output and "sshd" in ps.output
    (tmp_path / "remote.log").write_text("on the remote side\n")
    cat = runner.run(on("127.0.0.1", f"cat {tmp_path / 'remote.log'}"))
    assert cat.status == "ok" and cat.output == "on the remote side\n"


def test_the_command_is_one_argument_for_the_remote_shell(sshd: Sshd) -> None:
    runner = sshd.runner()
    result = runner.run(on("127.0.0.1", "echo 'two  spaces' \"$0\"; exit 3"))
    assert result.status == "failed" and result.exit_code == 3
    assert result.output.startswith("two  spaces ")


def test_a_host_not_allowed_is_refused_before_anything_runs(sshd: Sshd, tmp_path: Path) -> None:
    runner = sshd.runner()
    marker = tmp_path / "ran"
    for host in ("10.0.0.1:9100", "127.0.0.2", "127.0.0.1.example.com", "localhost2"):
        result = runner.run(on(host, f"touch {marker}"))
        assert result.status == "error" and result.error == f"host {host} is not allowed"
        assert result.target == f"error: host {host} is not allowed"
    missing = runner.run(Request("true", "bash", labels={"job": "node"}))
    assert missing.status == "error"
    assert missing.error == "the alert has no label 'instance' to name the host"
    assert not marker.exists()


def test_a_host_label_that_would_be_an_option_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    runner = sshd.runner(ssh={"allow_hosts": [".*"]})  # even when any host is allowed
    for label in (f"-oProxyCommand=touch {marker}", "-oProxyCommand=id", "root@127.0.0.1"):
        result = runner.run(on(label, "true"))
        assert result.status == "error" and "is not allowed" in result.error
    assert not marker.exists()


def test_the_host_key_is_checked(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    _keygen(other)
    pub = (tmp_path / "other_key.pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {pub[0]} {pub[1]}\n")
    result = sshd.runner(ssh={"known_hosts_file": str(known)}).run(on("127.0.0.1", "true"))
    assert result.status == "failed" and result.exit_code == 255
    assert "Host key verification failed" in result.output
    assert result.error == "exit status 255 (ssh could not connect or run it)"


def test_the_timeout_ends_the_ssh_run(sshd: Sshd) -> None:
    runner = sshd.runner(timeout="2s")
    start = time.monotonic()
    result = runner.run(on("127.0.0.1", "echo started; sleep 30"))
    assert result.status == "timeout" and result.output == "started\n"
    assert time.monotonic() - start < 5
