"""The real server with real clients: amtool, a real Prometheus, and kill -9 under load.

Debian's ``prometheus`` and ``prometheus-alertmanager`` packages provide the binaries
(``make test`` installs them where it can); tests that need one skip with the reason when it
is missing.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.prometheus import alerting_prometheus
from tests.server.conftest import CONFIG

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tocsin(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


@dataclass
class Server:
    url: str
    token: str
    data_dir: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def serving(
        cls,
        config: Path,
        token: str,
        data_dir: Path,
        db_args: list[str],
        log_level: str = "warning",
        extra: tuple[str, ...] = (),
    ) -> Server:
        """``tocsin serve`` with ``config`` on a free local port (not started yet)."""
        port = free_port()
        return cls(
            url=f"http://127.0.0.1:{port}",
            token=token,
            data_dir=data_dir,
            args=[
                "--config",
                str(config),
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                log_level,
                *extra,
                *db_args,
            ],
        )

    def start(self) -> None:
        log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve", *self.args], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError((self.data_dir / "server.log").read_text()[-2000:])

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    def request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG.replace("max_alerts_per_batch: 50", "max_alerts_per_batch: 1000"))
    db_args = (
        ["--database-url", database_url]
        if not database_url.startswith("sqlite")
        else ["--data-dir", str(tmp_path / "data")]
    )
    token = tocsin("tokens", "create", "--role", "admin", *db_args).stdout.strip().splitlines()[-1]
    srv = Server.serving(config, token, tmp_path, db_args)
    srv.start()
    yield srv
    srv.kill()


def amtool_or_skip() -> str:
    found = shutil.which("amtool")
    if found is None:
        pytest.skip("amtool not installed (Debian package prometheus-alertmanager)")
    return found


def test_amtool_alerts_and_silences(server: Server, tmp_path: Path) -> None:
    http = tmp_path / "http.yml"
    http.write_text(f"authorization:\n  credentials: {server.token}\n")
    base = [amtool_or_skip(), f"--alertmanager.url={server.url}", f"--http.config.file={http}"]

    def amtool(*args: str) -> str:
        done = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "are different" not in done.stderr  # the API version amtool speaks (issue 17)
        return done.stdout

    amtool(
        "alert",
        "add",
        "alertname=AmtoolProbe",
        "severity=warning",
        "instance=x",
        "--annotation=summary=hello",
    )
    assert "AmtoolProbe" in amtool("alert", "query")
    silence_id = amtool(
        "silence",
        "add",
        "alertname=AmtoolProbe",
        "--comment=testing",
        "--duration=1h",
        "--author=tester",
    ).strip()
    assert len(silence_id) == 36
    assert silence_id in amtool("silence", "query", "-q")
    assert "AmtoolProbe" not in amtool("alert", "query")  # silenced alerts are hidden
    assert "suppressed" in amtool("alert", "query", "--silenced")
    table = amtool("silence", "update", silence_id, "--duration=2h", "--comment=longer")
    updated = table.strip().splitlines()[-1].split()[0]  # a new ID, as Alertmanager does
    assert len(updated) == 36
    assert "longer" in amtool("silence", "query")
    amtool("silence", "expire", updated)
    assert amtool("silence", "query", "-q").strip() == ""
    assert updated in amtool("silence", "query", "--expired", "-q")
    assert "AmtoolProbe" in amtool("alert", "query")
    assert amtool("config", "routes", "test", "severity=critical").strip() == "pager"
    assert "receiver: default" in amtool("config", "show")


def test_prometheus_delivers_a_firing_alert(server: Server, tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    rules = (
        "groups:\n  - name: t\n    interval: 1s\n    rules:\n"
        "      - alert: PrometheusSaysHi\n        expr: vector(1)\n"
        "        labels: {severity: critical}\n"
        "        annotations: {summary: from a real Prometheus}\n"
    )
    host = server.url.removeprefix("http://")
    process = alerting_prometheus(prometheus, tmp_path, rules, [(host, server.token)])
    try:
        deadline = time.monotonic() + 60
        found: list[dict[str, object]] = []
        while time.monotonic() < deadline and not found:
            time.sleep(0.5)
            status, alerts = server.request("GET", "/api/v2/alerts")
            assert status == 200 and isinstance(alerts, list)
            found = [a for a in alerts if a["labels"].get("alertname") == "PrometheusSaysHi"]
        assert found, (tmp_path / "prometheus.log").read_text()[-2000:]
        assert found[0]["annotations"] == {"summary": "from a real Prometheus"}
        assert found[0]["receivers"] == [{"name": "pager"}]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_kill_9_loses_no_acknowledged_alert(server: Server) -> None:
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        n = 0
        while not stop.is_set():
            names = [f"w{worker}-b{n}-a{i}" for i in range(100)]
            body = [{"labels": {"alertname": "Load", "id": name}} for name in names]
            try:
                status, _ = server.request("POST", "/api/v2/alerts", body)
            except OSError:
                return  # the server is gone: this batch was never acknowledged
            if status == 200:
                with lock:
                    acked.extend(names)
            n += 1

    workers = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for thread in workers:
        thread.start()
    time.sleep(3)
    server.kill(signal.SIGKILL)
    stop.set()
    for thread in workers:
        thread.join(timeout=30)
    assert len(acked) >= 500, "the load did not get going"
    server.start()
    status, alerts = server.request("GET", "/api/v2/alerts")
    assert status == 200 and isinstance(alerts, list)
    stored = {a["labels"]["id"] for a in alerts}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged alerts were lost"
