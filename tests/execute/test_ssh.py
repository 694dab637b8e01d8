"""The shell runner through ssh: a private sshd on a free local port with its own host key, a
client key made for the test, a known hosts file written from the host key.

Debian's openssh-server provides sshd (``scripts/install-test-tools.sh`` installs it where it
can); without it these tests skip and say so.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.execute.conftest import Sshd, keygen
from tocsin.execute.base import Request


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
    keygen(other)
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
