"""The shell runner on this host: real bash, real processes."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.execute.conftest import alive, runner_config
from tocsin.execute.base import Request, RunnerConfigError
from tocsin.execute.shell import ShellRunner, host_of


def shell(**fields: object) -> ShellRunner:
    return ShellRunner(runner_config(type="shell", **fields))


def bash(text: str) -> Request:
    return Request(text, "bash")


def test_it_runs_a_command_and_reads_its_output() -> None:
    result = shell().run(bash("echo hello; echo to-stderr >&2"))
    assert result.status == "ok" and result.exit_code == 0
    assert result.output == "hello\nto-stderr\n"
    assert result.target == "local" and result.duration_s > 0


def test_everyday_diagnostics(tmp_path: Path) -> None:
    runner = shell()
    df = runner.run(bash("df -h /"))
    assert df.status == "ok" and "Filesystem" in df.output and "/" in df.output
    ps = runner.run(bash("ps -o pid,comm"))
    assert ps.status == "ok" and "PID" in ps.output and "ps" in ps.output
    (tmp_path / "app.log").write_text("line one\nline two\n")
    cat = runner.run(bash(f"cat {tmp_path / 'app.log'}"))
    assert cat.status == "ok" and cat.output == "line one\nline two\n"


def test_exit_status() -> None:
    result = shell().run(bash("echo before; exit 7"))
    assert result.status == "failed" and result.exit_code == 7
    assert result.output == "before\n" and result.error == "exit status 7"
    killed = shell().run(bash("kill -KILL $$"))
    assert killed.status == "failed" and killed.exit_code == 137
    assert "SIGKILL" in killed.error


def test_the_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    runner = shell(timeout="1s")
    start = time.monotonic()
    result = runner.run(bash(f"sleep 60 & echo $! > {pids}; sleep 60 & echo $! >> {pids}; wait"))
    took = time.monotonic() - start
    assert result.status == "timeout" and result.exit_code is None
    assert result.error == "stopped after 1s"
    assert 1 <= took < 4
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2
    deadline = time.monotonic() + 2
    while any(alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in children)


def test_a_command_that_ignores_sigterm_is_killed() -> None:
    start = time.monotonic()
    result = shell(timeout="1s").run(bash("trap '' TERM; echo started; sleep 30; echo after"))
    assert result.status == "timeout" and result.output == "started\n"
    assert time.monotonic() - start < 4


def test_what_a_command_leaves_running_is_killed_when_it_ends(tmp_path: Path) -> None:
    result = shell(timeout="10s").run(bash("sleep 60 & echo $!"))
    assert result.status == "ok", result
    child = int(result.output)
    deadline = time.monotonic() + 2
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)
    assert result.duration_s < 2


def test_the_output_is_capped_and_the_command_still_ends() -> None:
    result = shell(output_limit=256).run(bash("head -c 1000000 /dev/zero | tr '\\0' a; echo"))
    assert result.status == "ok" and result.truncated
    assert result.output == "a" * 256
    endless = shell(output_limit=256, timeout="1s").run(bash("yes"))
    assert endless.status == "timeout" and endless.truncated
    assert endless.output == "y\n" * 128


def test_a_character_cut_at_the_limit_is_dropped_and_controls_are_shown() -> None:
    result = shell(output_limit=256).run(bash("printf 'a%.0s' $(seq 255); printf 'é\\n'"))
    assert result.truncated and result.output == "a" * 255
    colours = shell().run(bash("printf '\\033[31mred\\033[0m\\ttab\\n'"))
    assert colours.output == "\\x1b[31mred\\x1b[0m\ttab\n"


def test_the_environment_is_only_pass_env_and_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOCSIN_TEST_LEAK", "leaked")
    monkeypatch.setenv("TOCSIN_TEST_PASSED", "passed")
    (tmp_path / "token").write_text("from-a-file\n")
    runner = shell(
        pass_env=["PATH", "TOCSIN_TEST_PASSED", "TOCSIN_TEST_UNSET"],
        env={"API_TOKEN": {"file": str(tmp_path / "token")}, "MODE": {"value": "diag"}},
    )
    result = runner.run(
        bash('echo "${TOCSIN_TEST_LEAK-absent} $TOCSIN_TEST_PASSED $API_TOKEN $MODE"; env')
    )
    assert result.output.splitlines()[0] == "absent passed from-a-file diag"
    names = {line.split("=", 1)[0] for line in result.output.splitlines()[1:]}
    # bash sets PWD, SHLVL and _ itself
    assert names == {"PATH", "TOCSIN_TEST_PASSED", "API_TOKEN", "MODE", "PWD", "SHLVL", "_"}


def test_standard_input_is_closed() -> None:
    result = shell(timeout="10s").run(bash("cat; read line; echo read=$?"))
    assert result.status == "ok" and result.output == "read=1\n"
    assert result.duration_s < 2


def test_the_working_directory_is_fixed(tmp_path: Path) -> None:
    result = shell(workdir=str(tmp_path)).run(bash("pwd; touch here"))
    assert result.output == f"{tmp_path}\n" and (tmp_path / "here").exists()
    missing = shell(workdir=str(tmp_path / "nowhere")).run(bash("pwd"))
    assert missing.status == "error" and "cannot start" in missing.error
    assert "nowhere" in missing.error


def test_it_serves_its_languages_only() -> None:
    runner = shell()
    assert runner.serves("bash", "ls") and not runner.serves("powershell", "Get-Date")
    assert not runner.serves("sql", "SELECT 1")
    result = runner.run(Request("Get-Date", "powershell"))
    assert result.status == "error" and result.error == "it runs no powershell"


def test_powershell_where_pwsh_is_installed() -> None:
    runner = shell(languages=["bash", "powershell"])
    result = runner.run(Request("Write-Output 'from pwsh'", "powershell"))
    if shutil.which("pwsh") is None:
        assert result.status == "error" and result.error == "pwsh is not installed"
    else:
        assert result.status == "ok" and result.output.strip() == "from pwsh"


def test_build_refuses_what_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(RunnerConfigError, match="env API_TOKEN: cannot read secret file"):
        shell(env={"API_TOKEN": {"file": str(tmp_path / "missing")}})
    with pytest.raises(RunnerConfigError, match="no user 'no-such-user-here'"):
        shell(user="no-such-user-here")
    with pytest.raises(RunnerConfigError, match="through ssh it runs bash only"):
        shell(languages=["powershell"], ssh={"allow_hosts": ["db1"]})


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_it_runs_as_the_user_with_only_that_users_groups() -> None:
    result = shell(user="nobody", workdir="/").run(bash("id -un; id -G"))
    assert result.status == "ok", result
    name, groups = result.output.splitlines()
    assert name == "nobody"
    assert "0" not in groups.split()  # root's groups are dropped
    assert shell(user="nobody").target(bash("id")) == "local as nobody"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user to try")
def test_build_refuses_a_user_when_not_root() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, then try
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                shell(user="daemon")
                said = "built"
            except RunnerConfigError as exc:
                said = str(exc)
            os.write(write, said.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read().decode()
    os.waitpid(pid, 0)
    assert said == "runner 'test': user 'daemon' needs tocsin to run as root to switch to it"


@pytest.mark.parametrize(
    ("label", "host"),
    [
        ("db1", "db1"),
        ("db1.example.com:9100", "db1.example.com"),
        ("10.0.0.7:22", "10.0.0.7"),
        ("[::1]:22", "::1"),
        ("fe80::1", "fe80::1"),
        ("-oProxyCommand=touch /tmp/x", None),
        ("-db1", None),
        ("root@db1", None),
        ("db1 -p 2222", None),
        ("db1;id", None),
        ("db1:22:33", None),
        ("db1:port", None),
        ("db1\n", None),
        ("[db1]:22", None),
        ("fe80::1%eth0", None),
        ("", None),
    ],
)
def test_the_host_a_label_names(label: str, host: str | None) -> None:
    assert host_of(label) == host
