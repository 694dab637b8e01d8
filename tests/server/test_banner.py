"""Issue 17, item 22: the startup banner's commands work as printed, with an alert that the
loaded configuration pages for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.server.test_real_clients import free_port
from tocsin.cli.server import banner, example_alert
from tocsin.config import load_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tocsin.yaml"
TOCSIN = Path(sys.executable).parent / "tocsin"


def test_the_example_alert_is_routed_to_a_policy() -> None:
    loaded = load_config(EXAMPLE)
    labels = example_alert(loaded)
    routed = loaded.route.routed(labels)
    assert routed is not None and routed.route.escalation_policy, labels


def test_the_banner_names_a_configured_user_and_the_database() -> None:
    loaded = load_config(EXAMPLE)
    text = banner(loaded, "http://127.0.0.1:9", "/x/bin/tocsin", EXAMPLE, Path("d"), None)
    assert f"/x/bin/tocsin tokens create --user {sorted(loaded.paging.users)[0]} --role admin" in (
        text
    )
    assert "--data-dir d" in text and f"--config {EXAMPLE}" in text
    assert "http.yml" not in text  # nothing left in the working tree


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_banner_commands_work_when_pasted(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    log = (tmp_path / "server.log").open("wb")
    where = ["--data-dir", str(data), "--listen", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [str(TOCSIN), "serve", "--config", str(EXAMPLE), *where, "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        while not any("alert query" in line for line in lines):
            line = server.stdout.readline().decode()
            assert line, (tmp_path / "server.log").read_text()
            lines.append(line)
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        start = next(i for i, line in enumerate(lines) if line.startswith("try:"))
        tried = [line[len("try:") :].strip() for line in lines[start:]]
        if shutil.which("amtool") is None:
            tried = [t for t in tried if not t.startswith("amtool")]
        script = "set -e\n" + "\n".join(t.strip() for t in tried) + "\n"
        env = {**os.environ, "PATH": os.environ.get("PATH", "")}
        env.pop("TOCSIN_URL", None)
        env.pop("TOCSIN_TOKEN", None)
        env.pop("TOCSIN_CONFIG", None)
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, timeout=120
        )
        output = done.stdout.decode() + done.stderr.decode()
        assert done.returncode == 0, script + output
        alert = example_alert(load_config(EXAMPLE))["alertname"]
        assert alert in output  # `incident list` shows the incident the alert opened
        assert not list(tmp_path.glob("*.yml"))  # amtool's file went under the data directory
        assert (data / "amtool.yml").stat().st_mode & 0o077 == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_serve_with_no_configuration_starts_on_the_built_in_one(tmp_path: Path) -> None:
    """Issue 19, first run: no ./tocsin.yaml and no --config is not an error; the built-in
    configuration is written to the data directory (and kept as a person changed it)."""
    port = free_port()
    server = subprocess.Popen(
        [str(TOCSIN), "serve", "--listen", f"127.0.0.1:{port}", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline().decode() for _ in range(3)]
        assert lines[0].startswith("no ./tocsin.yaml and no --config: running on the built-in")
        assert lines[2] == f"console: http://127.0.0.1:{port}/\n"
        written = tmp_path / "data" / "builtin-tocsin.yaml"
        assert load_config(written).route.receiver == "default"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    written.write_text(written.read_text() + "# mine\n")
    from tocsin.cli.server import builtin_config

    assert builtin_config(tmp_path / "data").read_text().endswith("# mine\n")  # kept
