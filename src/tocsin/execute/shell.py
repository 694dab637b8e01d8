"""The shell runner: a bash (or PowerShell) command on tocsin's host, or through ``ssh`` on the
host an alert's label names.

A command runs as ``bash --noprofile --norc -c TEXT`` (``pwsh -NoProfile -NonInteractive
-Command TEXT``), its own session and process group, standard input closed, in the
configured working directory, with an environment of only ``pass_env`` and ``env``. Its
output (standard output and error as they came) is read as it comes and kept to
``output_limit`` bytes; the rest is read and dropped, so that the command is never blocked on
a full pipe. At the timeout its whole process group gets SIGTERM, then SIGKILL after a second;
when the command ends, whatever it left running in its process group is killed too: nothing
it started outlives its run (a process that made a session of its own escapes the group).

Through ssh the host comes from a label: it must be a plain host name or IP address and match
one of ``allow_hosts`` whole, or the run is refused before anything starts. The command
goes as one argument after ``--`` and the host; the remote user's login shell runs it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import pwd
import re
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import re2

from tocsin.config.models import ShellRunnerConfig, SshConfig
from tocsin.execute.base import Request, Result, RunnerConfigError
from tocsin.execute.common import BaseRunner, Capped, error_line, secret
from tocsin.notify.base import SecretResolver, resolve_secret
from tocsin.templating import one_line, printable
from tocsin.times import parse_duration

_GRACE_S = 1.0  # between SIGTERM and SIGKILL at the timeout
_LINGER_S = 0.2  # output still read after the command exited, from what it left running
_DRAIN_S = 1.0  # output read after the group was killed
_CHUNK = 65536

# a host as a label may name it: a DNS name or an IPv4 address (IPv6: ipaddress decides)
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def host_of(value: str) -> str | None:
    """The host a label's value names (``db1:9100`` → ``db1``, ``[::1]:22`` → ``::1``), or
    None when it is not a plain host name or IP address (a leading ``-``, a space, an ``@``,
    a ``%``, a control character, a port that is not a number)."""
    if value.startswith("["):
        end = value.find("]")
        host, rest = (value[1:end], value[end + 1 :]) if end > 0 else ("", "")
        if rest and not re.fullmatch(r":[0-9]{1,5}", rest):
            return None
        return host if _is_ip(host, 6) else None
    if value.count(":") == 1:
        host, port = value.split(":")
        if not re.fullmatch(r"[0-9]{1,5}", port):
            return None
    else:
        host = value
    if ":" in host:
        return host if _is_ip(host, 6) else None
    return host if _HOSTNAME.fullmatch(host) else None


def _is_ip(text: str, version: int) -> bool:
    if not re.fullmatch(r"[0-9A-Fa-f:.]{2,45}", text):  # no zone (``%eth0``)
        return False
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


@dataclass(frozen=True)
class _Ssh:
    """ssh's settings, read once."""

    argv: list[str]  # ssh and its options, before ``-- HOST TEXT``
    host_label: str
    allow: list[Any]  # compiled RE2 patterns
    user: str | None

    def host(self, labels: Mapping[str, str]) -> str:
        """The host to reach; ``_Refused`` with why when the label is missing or names a
        host that is not allowed."""
        value = labels.get(self.host_label)
        if value is None:
            raise _Refused(f"the alert has no label {self.host_label!r} to name the host")
        host = host_of(value)
        if host is None or not any(p.fullmatch(host) for p in self.allow):
            shown = printable(one_line(value, 100))
            raise _Refused(f"host {shown} is not allowed")
        return host


class _Refused(Exception):
    """A request this runner will not run (a host not allowed)."""


def _ssh(config: SshConfig, where: str) -> _Ssh:
    ssh = shutil.which("ssh")
    if ssh is None:
        raise RunnerConfigError(f"{where}: ssh is not installed")
    allow = []
    for pattern in config.allow_hosts:
        try:
            allow.append(re2.compile(pattern))
        except re2.error as exc:
            raise RunnerConfigError(
                f"{where}: {pattern!r} is not a valid RE2 pattern: {exc}"
            ) from None
    connect = max(1, math.ceil(parse_duration(config.connect_timeout)))
    # ssh keeps the first value it reads of an option: these come before any of ``options``
    # (and of ~/.ssh/config), so none can turn them off
    argv = [ssh, "-T", "-a", "-x"]
    argv += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-o", "ClearAllForwardings=yes", "-o", "PermitLocalCommand=no"]
    argv += ["-o", f"ConnectTimeout={connect}"]
    if config.known_hosts_file:
        argv += ["-o", f"UserKnownHostsFile={config.known_hosts_file}"]
    if config.identity_file:
        argv += ["-o", "IdentitiesOnly=yes", "-i", config.identity_file]
    argv += ["-p", str(config.port)]
    if config.user:
        argv += ["-l", config.user]
    for key, value in config.options.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key) or "\n" in value or "\r" in value:
            raise RunnerConfigError(f"{where}: ssh option {key!r} is not a valid option")
        argv += ["-o", f"{key}={value}"]
    return _Ssh(argv, config.host_label, allow, config.user)


@dataclass(frozen=True)
class Finished:
    """What came of a process: its exit status (None when it was stopped at the timeout),
    its output, capped."""

    returncode: int | None
    output: Capped


def run_process(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    timeout_s: float,
    limit: int,
    ids: Mapping[str, Any] | None = None,
) -> Finished:
    """Run ``argv`` in a session of its own, standard input closed, standard output and
    error merged and read as they come (kept to ``limit`` bytes, the rest dropped); at
    ``timeout_s`` its process group is sent SIGTERM, then SIGKILL; when it exits, what it
    left in its process group is killed. OSError when it cannot be started."""
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
        close_fds=True,
        **(ids or {}),
    )
    assert process.stdout is not None
    try:
        return _watch(process, process.stdout.fileno(), timeout_s, limit)
    except BaseException:  # whatever went wrong here, nothing it started is left running
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
        raise
    finally:
        process.stdout.close()


def _watch(process: subprocess.Popen[bytes], pipe: int, timeout_s: float, limit: int) -> Finished:
    output = Capped(limit)
    os.set_blocking(pipe, False)
    # the pidfd says the process exited without reaping it: until it is reaped its pid (the
    # group's id) cannot be reused, so signalling the group stays safe
    pidfd = os.pidfd_open(process.pid)
    watch = selectors.DefaultSelector()
    try:
        watch.register(pipe, selectors.EVENT_READ, "pipe")
        watch.register(pidfd, selectors.EVENT_READ, "exit")
        deadline = time.monotonic() + timeout_s
        state = _Watch(watch, pipe, pidfd, output)
        state.until(deadline)
        timed_out = state.exited_at is None
        if timed_out:
            _signal_group(process.pid, signal.SIGTERM)
            state.until(time.monotonic() + _GRACE_S)
        _signal_group(process.pid, signal.SIGKILL)  # what is left: stragglers, or all of it
        state.until(time.monotonic() + _DRAIN_S, linger=False)
    finally:
        watch.close()
        os.close(pidfd)
    returncode = process.wait(timeout=10)
    return Finished(None if timed_out else returncode, output)


class _Watch:
    """The pipe and the process, watched together."""

    def __init__(self, watch: selectors.BaseSelector, pipe: int, pidfd: int, out: Capped):
        self.watch = watch
        self.pipe = pipe
        self.pidfd = pidfd
        self.out = out
        self.eof = False
        self.exited_at: float | None = None

    def until(self, end: float, *, linger: bool = True) -> None:
        """Read and watch until the pipe is at its end and the process exited, ``end``, or
        (with ``linger``) ``_LINGER_S`` after the process exited: what it left running
        still holds the pipe."""
        while not (self.eof and self.exited_at is not None):
            if linger and self.exited_at is not None:
                end = min(end, self.exited_at + _LINGER_S)
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            for key, _ in self.watch.select(remaining):
                if key.data == "exit":
                    self.exited_at = time.monotonic()
                    self.watch.unregister(self.pidfd)
                elif self._read():
                    self.eof = True
                    self.watch.unregister(self.pipe)

    def _read(self) -> bool:
        """Read what is there; True at the end of the pipe."""
        while True:
            try:
                chunk = os.read(self.pipe, _CHUNK)
            except BlockingIOError:
                return False
            if not chunk:
                return True
            self.out.add(chunk)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class ShellRunner(BaseRunner):
    kind = "shell"

    def __init__(
        self, config: ShellRunnerConfig, resolver: SecretResolver = resolve_secret
    ) -> None:
        super().__init__(config)
        where = f"runner {config.name!r}"
        self.languages = frozenset(config.languages)
        self.workdir = config.workdir
        self.pass_env = list(config.pass_env)
        self.env = {
            key: secret(resolver, ref, f"{where}: env {key}") for key, ref in config.env.items()
        }
        for key, value in self.env.items():
            if "=" in key or "\0" in key or "\0" in value or not key:
                raise RunnerConfigError(f"{where}: env {key!r} cannot be set")
        self.user = config.user
        self._ids: dict[str, Any] = {}
        if config.user is not None:
            if os.geteuid() != 0:
                raise RunnerConfigError(
                    f"{where}: user {config.user!r} needs tocsin to run as root to switch to it"
                )
            try:
                entry = pwd.getpwnam(config.user)
            except KeyError:
                raise RunnerConfigError(f"{where}: there is no user {config.user!r}") from None
            groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
            self._ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": groups}
        bash = shutil.which("bash")
        if bash is None and "bash" in self.languages:
            raise RunnerConfigError(f"{where}: bash is not installed")
        self.bash = bash or "bash"
        self.ssh = _ssh(config.ssh, where) if config.ssh is not None else None
        if self.ssh is not None and "powershell" in self.languages:
            raise RunnerConfigError(f"{where}: through ssh it runs bash only, not powershell")

    def serves(self, language: str, text: str) -> bool:
        return language in self.languages

    def target(self, request: Request) -> str:
        if self.ssh is None:
            return f"local as {self.user}" if self.user else "local"
        try:
            host = self.ssh.host(request.labels)
        except _Refused as refused:
            return f"error: {refused}"
        return f"ssh {self.ssh.user}@{host}" if self.ssh.user else f"ssh {host}"

    def _argv(self, request: Request) -> list[str]:
        if self.ssh is not None:
            return [*self.ssh.argv, "--", self.ssh.host(request.labels), request.text]
        if request.language == "powershell":
            pwsh = shutil.which("pwsh")
            if pwsh is None:
                raise _Refused("pwsh is not installed")
            return [pwsh, "-NoProfile", "-NonInteractive", "-Command", request.text]
        return [self.bash, "--noprofile", "--norc", "-c", request.text]

    def _run(self, request: Request) -> Result:
        target = self.target(request)
        if request.language not in self.languages:
            return Result("error", "", target=target, error=f"it runs no {request.language}")
        if self._ids and os.geteuid() != 0:
            return Result("error", "", target=target, error="switching users needs root")
        try:
            argv = self._argv(request)
        except _Refused as refused:
            return Result("error", "", target=target, error=str(refused))
        env = {k: os.environ[k] for k in self.pass_env if k in os.environ} | self.env
        try:
            done = run_process(
                argv,
                env=env,
                cwd=self.workdir,
                timeout_s=self.timeout_s,
                limit=self.output_limit,
                ids=self._ids,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            return Result("error", "", target=target, error=error_line(f"cannot start: {exc}"))
        output, truncated = done.output.text(), done.output.truncated
        if done.returncode is None:
            return Result(
                "timeout",
                output,
                truncated=truncated,
                target=target,
                error=f"stopped after {self.timeout_s:g}s",
            )
        code = done.returncode if done.returncode >= 0 else 128 - done.returncode
        if code == 0:
            return Result("ok", output, exit_code=0, truncated=truncated, target=target)
        why = f"exit status {code}"
        if done.returncode < 0:
            why += f" (killed by {signal.Signals(-done.returncode).name})"
        elif self.ssh is not None and code == 255:
            why += " (ssh could not connect or run it)"
        return Result(
            "failed", output, exit_code=code, truncated=truncated, target=target, error=why
        )
