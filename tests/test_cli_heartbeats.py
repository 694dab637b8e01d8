"""``tocsin heartbeats list | beat``: on this host (``-c``, ``--data-dir``) and against a real
``tocsin serve`` (``--url``, a token), the same output; an unknown heartbeat is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from textwrap import dedent

import pytest
from typer.testing import CliRunner

from tests.server.test_real_clients import Server, tocsin
from tocsin.cli import app

pytestmark = pytest.mark.slow  # a server subprocess
runner = CliRunner()
NO_ENV: dict[str, str | None] = {
    "TOCSIN_URL": None,
    "TOCSIN_TOKEN": None,
    "TOCSIN_CONFIG": None,
    "TOCSIN_DATA_DIR": None,
    "TOCSIN_DATABASE_URL": None,
}
CONFIG = dedent(
    """
    route: {receiver: default}
    receivers: [{name: default}]
    heartbeats:
      - {name: nightly-backup, interval: 1d, grace: 2h}
      - {name: prometheus, interval: 1h, from_alert: ['alertname="Watchdog"']}
    """
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[str]]]:
    root = tmp_path_factory.mktemp("heartbeats")
    config = root / "tocsin.yaml"
    config.write_text(CONFIG)
    data = ["--data-dir", str(root / "data")]
    made = tocsin("tokens", "create", "--role", "intake", "--user", "backup-job", *data)
    token = made.stdout.strip().splitlines()[-1]
    server = Server.serving(config, token, root, data)
    server.start()
    try:
        yield server, ["-c", str(config), *data]
    finally:
        server.kill()


def run(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, list(args), env={**NO_ENV, "TOCSIN_CLI_CONFIG": "/nonexistent"})
    return done.exit_code, done.output


def test_beat_and_list_here_and_on_the_server(served: tuple[Server, list[str]]) -> None:
    server, local = served
    remote = ["--url", server.url, "--token", server.token]
    code, here = run("heartbeats", "beat", "nightly-backup", *local)
    assert code == 0 and "heartbeat nightly-backup: beat at " in here
    code, there = run("heartbeats", "beat", "nightly-backup", *remote)
    assert code == 0 and "heartbeat nightly-backup: beat at " in there
    code, here = run("heartbeats", "list", "--format", "json", *local)
    assert code == 0, here
    listed = {h["name"]: h for h in json.loads(here)}
    assert listed["nightly-backup"]["beats"] == 2 and listed["nightly-backup"]["state"] == "ok"
    assert listed["prometheus"]["from_alert"] == ['alertname="Watchdog"']
    assert listed["prometheus"]["last_beat"] is None
    code, table = run("heartbeats", "list", *local)
    assert code == 0 and "nightly-backup" in table and "1d + 2h" in table and "never" in table


def test_an_unknown_heartbeat_is_refused_either_way(served: tuple[Server, list[str]]) -> None:
    server, local = served
    for where in (local, ["--url", server.url, "--token", server.token]):
        code, said = run("heartbeats", "beat", "nightly", *where)
        assert code == 1 and "no heartbeat named 'nightly'" in said, said
