"""The operating commands against a running server (``--url`` and a token), as ``amtool``.

A real ``tocsin serve`` subprocess on SQLite serves the example configuration; the same
commands run on the same database locally (``-c``/``--data-dir``) and remotely (``--url``,
``--token``, ``TOCSIN_URL``/``TOCSIN_TOKEN`` or the CLI file) print the same output. The
token is made the existing way (``tocsin tokens create``). Who acts: a local command names a
configured user (``--by`` or the OS user) or is refused; a remote one acts as the token's user.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.server.test_real_clients import Server, free_port, tocsin
from tocsin.alerts.model import Alert, with_defaults
from tocsin.cli import app
from tocsin.clock import VirtualClock
from tocsin.config import load_config
from tocsin.engine.loop import DueWorkEngine
from tocsin.runbooks.loader import load_catalog
from tocsin.store import repo
from tocsin.store.db import begin_write, database_url, make_engine, upgrade

pytestmark = pytest.mark.slow  # a server subprocess
runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tocsin.yaml"
FIRED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WINDOW = ["--since", "2026-11-20T00:00:00Z", "--until", "2026-11-30T00:00:00Z"]
NO_ENV: dict[str, str | None] = {
    "TOCSIN_URL": None,
    "TOCSIN_TOKEN": None,
    "TOCSIN_CONFIG": None,
    "TOCSIN_DATA_DIR": None,
    "TOCSIN_DATABASE_URL": None,
}


@dataclass
class Site:
    server: Server
    data_dir: Path
    home: Path  # where the CLI file is looked for
    number: int  # the incident

    @property
    def local(self) -> list[str]:
        return ["-c", str(EXAMPLE), "--data-dir", str(self.data_dir)]

    @property
    def remote(self) -> list[str]:
        return ["--url", self.server.url, "--token", self.server.token]

    def env(self, **more: str | None) -> dict[str, str | None]:
        return {**NO_ENV, "TOCSIN_CLI_CONFIG": str(self.home / "cli.yaml"), **more}

    def run(self, *args: str, **env: str | None) -> tuple[int, str]:
        done = runner.invoke(app, list(args), env=self.env(**env))
        return done.exit_code, done.output

    def both(self, *args: str) -> tuple[str, str]:
        """The command's output run locally, then remotely; each must succeed."""
        code, here = self.run(*args, *self.local)
        assert code == 0, here
        code, there = self.run(*args, *self.remote)
        assert code == 0, there
        return here, there

    def whoami(self) -> dict[str, str] | None:
        """The token's user and role, or None where the server has no ``/api/v1/whoami``."""
        request = urllib.request.Request(
            f"{self.server.url}/api/v1/whoami",
            headers={"Authorization": f"Bearer {self.server.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                found: dict[str, str] = json.loads(answer.read())
                return found
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise


def settled_incident(data_dir: Path) -> int:
    """PebbleDatabaseDown through the example config, paged, acknowledged by alice and
    auto-resolved long ago: nothing is left for the server's engine to do to it."""
    engine = make_engine(database_url(data_dir, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    labels = {"alertname": "PebbleDatabaseDown", "severity": "critical", "service": "pebble-db"}
    with begin_write(engine) as conn:
        number = repo.ingest(
            conn, [with_defaults(Alert(labels=labels), FIRED, 300)], FIRED, config.route
        ).touched[0]
    catalog = load_catalog(config.runbook_paths())
    DueWorkEngine(engine, config, VirtualClock(FIRED.timestamp() + 60), catalog=catalog).run_due()
    from tocsin.service import incidents
    from tocsin.service.context import local

    incidents.acknowledge(local(config, engine), number, "alice")
    for _ in range(3):  # resolve_timeout passes, the resolution is sent; then nothing is due
        DueWorkEngine(engine, config, VirtualClock(time.time()), catalog=catalog).run_due()
    engine.dispose()
    return int(number)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("remote")
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    number = settled_incident(data_dir)
    data = ["--data-dir", str(data_dir)]
    # a token of alice's: ``--user`` where tokens belong to users (item 12's server half),
    # else the token's name, which the server then records
    made = tocsin("tokens", "create", "--role", "responder", "--user", "alice", *data, check=False)
    if made.returncode == 2 and "--user" in made.stderr:
        made = tocsin("tokens", "create", "--role", "responder", "--name", "alice", *data)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    server = Server.serving(EXAMPLE, token, root, ["--data-dir", str(data_dir)])
    server.start()
    try:
        yield Site(server, data_dir, home, number)
    finally:
        server.kill()


def test_reading_commands_print_the_same_locally_and_remotely(site: Site) -> None:
    number = str(site.number)
    for command in (
        ["incident", "list", "--all"],
        ["incident", "list", "--all", "--format", "json"],
        ["incident", "show", number],
        ["incident", "show", number, "--format", "json"],
        ["incident", "updates", number],
        ["oncall", "--at", "2026-11-24T09:00:00Z"],
        ["oncall", "pebble-primary", "--at", "2026-11-24T22:00:00Z", "--format", "json"],
        ["report", *WINDOW],
        ["report", *WINDOW, "--format", "json"],
        ["actions", "list", "--format", "json"],
    ):
        here, there = site.both(*command)
        assert here == there, command
    here, there = site.both("incident", "postmortem", number)
    assert _undated(here) == _undated(there) and "# Postmortem: incident #" in here
    here, _ = site.both("incident", "show", number)
    assert f"#{number} PebbleDatabaseDown" in here and "acknowledged" in here
    here, _ = site.both("incident", "list", "--all")
    assert "PebbleDatabaseDown" in here and "resolved" in here
    here, _ = site.both(
        "oncall", "pebble-primary", "--at", "2026-11-24T22:00:00Z", "--format", "json"
    )
    assert [u["name"] for u in json.loads(here)[0]["users"]] == ["chen"]
    here, _ = site.both("report", *WINDOW, "--format", "json")
    assert json.loads(here)["incidents"] == 1


def _undated(markdown: str) -> list[str]:
    """The postmortem without the moment it was generated (it differs by the call)."""
    return [line for line in markdown.splitlines() if not line.startswith("_Generated by")]


def _ids(text: str) -> str:
    return re.sub(r"override \d+", "override N", text)


def test_overrides_added_listed_and_deleted_either_way(site: Site) -> None:
    add = ["override", "add", "pebble-primary", "dana", "--replaces", "*"]
    when = ["--start", "2030-01-06T08:00:00Z", "--end", "2030-01-06T20:00:00Z"]
    code, here = site.run(*add, *when, "--by", "alice", *site.local)
    assert code == 0, here
    code, there = site.run(*add, *when, *site.remote)
    assert code == 0, there
    assert _ids(here) == _ids(there)
    assert "dana on call in pebble-primary from 2030-01-06T08:00:00+00:00" in there
    here, there = site.both("override", "list")
    assert here == there and here.count("dana") == 2
    ids = [line.split()[1] for line in here.splitlines() if "pebble-primary" in line]
    code, here = site.run("override", "delete", ids[0], *site.local)
    assert code == 0 and f"override {ids[0]} deleted" in here
    code, there = site.run("override", "delete", ids[1], *site.remote)
    assert code == 0 and f"override {ids[1]} deleted" in there
    here, there = site.both("override", "list")
    assert here == there and "dana" not in here
    # the server's own refusal, with its message and exit status 1
    code, there = site.run("override", "delete", ids[1], *site.remote)
    assert (code, there.strip()) == (1, f"tocsin: no override {ids[1]}")
    code, there = site.run("override", "add", "pebble-primary", "zed", *when, *site.remote)
    assert code == 1 and "no user 'zed'" in there


def test_silences_added_listed_and_expired_either_way(site: Site) -> None:
    add = ["silence", "add", "alertname=PebbleDatabaseDown", 'instance=~"db.*"']
    rest = ["--duration", "2h", "--comment", "replacing the disk"]
    code, here = site.run(*add, *rest, "--by", "bob", *site.local)
    assert code == 0, here
    code, there = site.run(*add, *rest, *site.remote)
    assert code == 0, there
    mine, theirs = here.strip(), there.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", mine) and re.fullmatch(r"[0-9a-f-]{36}", theirs)
    here, there = site.both("silence", "list")
    assert here == there and mine in here and theirs in here
    assert 'alertname="PebbleDatabaseDown" instance=~"db.*"' in here and "bob" in here
    here, there = site.both("silence", "list", "--format", "json")
    assert here == there
    listed = {s["id"]: s for s in json.loads(here)}
    assert listed[mine]["createdBy"] == "bob" and listed[mine]["comment"] == "replacing the disk"
    assert listed[mine]["matchers"][1] == {
        "isEqual": True,
        "isRegex": True,
        "name": "instance",
        "value": "db.*",
    }
    ends = datetime.fromisoformat(listed[theirs]["endsAt"]) - datetime.fromisoformat(
        listed[theirs]["startsAt"]
    )
    assert 7190 <= ends.total_seconds() <= 7210
    here, there = site.both("silence", "list", "-q", "instance=~db.*")
    assert here == there and set(here.split()) == {mine, theirs}
    code, here = site.run("silence", "expire", mine, *site.local)
    assert code == 0 and f"silence {mine} expired" in here
    code, there = site.run("silence", "expire", theirs, *site.remote)
    assert code == 0 and f"silence {theirs} expired" in there
    here, there = site.both("silence", "list", "-q")
    assert here == there and mine not in here and theirs not in here
    here, there = site.both("silence", "list", "--expired", "-q")
    assert here == there and {mine, theirs} <= set(here.split())
    code, there = site.run("silence", "expire", theirs, *site.remote)
    assert code == 1 and "already expired" in there
    code, there = site.run("silence", "add", "alertname=~(", "--comment", "x", *site.remote)
    assert code == 2 and "invalid regular expression" in there


class Quiet(http.server.BaseHTTPRequestHandler):
    """A web server that is not tocsin: every GET answers 501 in HTML."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_remote_errors_are_one_line_with_the_servers_message(site: Site) -> None:
    code, there = site.run("incident", "show", "999", *site.remote)
    assert (code, there) == (1, "tocsin: no incident 999\n")
    code, there = site.run("incident", "list", "--url", site.server.url, "--token", "tocsin_nope")
    assert (code, there) == (1, "tocsin: invalid or revoked API token\n")
    closed = f"http://127.0.0.1:{free_port()}"
    code, there = site.run("incident", "list", "--url", closed, "--token", site.server.token)
    assert code == 1 and there.count("\n") == 1
    assert there.startswith(f"tocsin: cannot connect to {closed}: connection refused")
    code, there = site.run("incident", "list", "--url", site.server.url)
    assert code == 1 and "needs a token" in there
    code, there = site.run("incident", "list", "--token", site.server.token)
    assert code == 1 and "a token but no server: give --url" in there
    code, there = site.run("incident", "list", "--url", "ftp://x", "--token", "t")
    assert code == 1 and "must start with http:// or https://" in there
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{other.server_address[1]}"
        try:
            code, there = site.run("incident", "list", "--url", url, "--token", "t")
        finally:
            other.shutdown()
    assert code == 1 and there.count("\n") == 1 and "(not tocsin's API?)" in there
    code, there = site.run("incident", "list", *site.remote, *site.local)
    assert code == 1 and "give one or the other" in there


def test_the_url_and_token_come_from_the_environment_or_the_cli_file(site: Site) -> None:
    here, _ = site.both("incident", "list", "--all")
    code, there = site.run(
        "incident", "list", "--all", TOCSIN_URL=site.server.url, TOCSIN_TOKEN=site.server.token
    )
    assert (code, there) == (0, here)
    cli = site.home / "cli.yaml"
    cli.write_text(f"url: {site.server.url}\ntoken: {site.server.token}\n")
    try:
        cli.chmod(0o644)
        code, there = site.run("incident", "list", "--all")
        assert code == 1 and "others may read it (mode 0644)" in there and "chmod 600" in there
        cli.chmod(0o600)
        code, there = site.run("incident", "list", "--all")
        assert (code, there) == (0, here)
        # a URL given names the server; the file's token goes with it
        code, there = site.run("incident", "list", "--all", "--url", site.server.url)
        assert (code, there) == (0, here)
        cli.write_text(f"url: {site.server.url}\npassword: x\n")
        code, there = site.run("incident", "list", "--all")
        assert code == 1 and "unknown key 'password'" in there
    finally:
        cli.unlink()


def test_who_acts_locally_is_a_configured_user(site: Site) -> None:
    number = str(site.number)
    code, here = site.run(
        "incident",
        "note",
        number,
        "disk swapped",
        *site.local,
        LOGNAME="nobody-here",
        USER="nobody-here",
    )
    assert code == 1
    assert "who acts? give --by NAME" in here and "'nobody-here' is not one" in here
    code, here = site.run("incident", "note", number, "disk swapped", "--by", "cli", *site.local)
    assert code == 1 and "--by 'cli' is not a user" in here
    code, here = site.run(
        "incident", "note", number, "disk swapped", *site.local, LOGNAME="erin", USER="erin"
    )
    assert (code, here) == (0, f"incident {number}: note added by erin\n")
    code, here = site.run("incident", "show", number, "--format", "json", *site.local)
    assert json.loads(here)["timeline"][-1]["detail"] == {"text": "disk swapped", "by": "erin"}


def test_who_acts_remotely_is_the_tokens_user(site: Site) -> None:
    """The server records the token's user (today the token's name, alice); the CLI says so.
    ``--by`` is not needed, and may not name someone else where the server answers whoami."""
    number = str(site.number)
    code, there = site.run(
        "incident", "note", number, "replica caught up", *site.remote, LOGNAME="erin", USER="erin"
    )
    assert (code, there) == (0, f"incident {number}: note added by alice\n")
    code, here = site.run("incident", "show", number, "--format", "json", *site.local)
    assert json.loads(here)["timeline"][-1]["detail"] == {
        "text": "replica caught up",
        "by": "alice",
    }
    me = site.whoami()
    if me is None:  # a server without GET /api/v1/whoami (before the people item is merged)
        return
    assert me["user"] == "alice"
    code, there = site.run("incident", "note", number, "x", "--by", "bob", *site.remote)
    assert code == 1 and "this token acts as alice" in there
    code, there = site.run("silence", "add", "alertname=X", "--comment", "y", *site.remote)
    assert code == 0
    listed = json.loads(site.run("silence", "list", "--format", "json", *site.remote)[1])
    assert {s["createdBy"] for s in listed if s["id"] == there.strip()} == {"alice"}


def test_the_cli_file_is_under_the_users_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tocsin.cli.remote import cli_file, cli_settings

    monkeypatch.delenv("TOCSIN_CLI_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert cli_file() == tmp_path / ".config" / "tocsin" / "cli.yaml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cli_file() == tmp_path / "xdg" / "tocsin" / "cli.yaml"
    assert cli_settings().url is None  # no file: nothing, and no error
    cli_file().parent.mkdir(parents=True)
    cli_file().write_text("url: https://tocsin.example.com\n")  # no token: any mode will do
    cli_file().chmod(0o644)
    assert cli_settings().url == "https://tocsin.example.com"


def test_maintenance_windows_added_listed_and_ended_either_way(site: Site) -> None:
    code, here = site.run(
        "maintenance", "add", "--receiver", "pebble-team", "-d", "2h", "-m", "failover",
        "--by", "bob", *site.local,
    )  # fmt: skip
    assert code == 0 and re.match(r"maintenance window (\d+) active until ", here), here
    mine = here.split()[2]
    code, there = site.run(
        "maintenance", "add", 'service="pebble-db"', "--end", "+1h", "-m", "deploy", *site.remote
    )
    assert code == 0 and re.match(r"maintenance window (\d+) active until ", there), there
    theirs = there.split()[2]
    here, there = site.both("maintenance", "list", "--format", "json")
    assert here == there
    listed = {str(w["id"]): w for w in json.loads(here)}
    assert listed[mine]["receiver"] == "pebble-team" and listed[mine]["createdBy"] == "bob"
    assert listed[theirs]["matchers"] == ['service="pebble-db"']
    assert listed[theirs]["comment"] == "deploy" and listed[theirs]["state"] == "active"
    code, here = site.run("maintenance", "add", "-d", "1h", "--by", "bob", *site.local)
    assert code == 1 and "needs a receiver (a route) or matchers" in here
    code, there = site.run("maintenance", "add", "--receiver", "nobody", "-d", "1h", *site.remote)
    assert code == 1 and "no receiver 'nobody'" in there
    code, here = site.run("maintenance", "end", mine, "--by", "bob", *site.local)
    assert code == 0 and f"maintenance window {mine} ended" in here
    code, there = site.run("maintenance", "end", theirs, *site.remote)
    assert code == 0 and f"maintenance window {theirs} ended" in there
    code, there = site.run("maintenance", "end", theirs, *site.remote)
    assert code == 1 and "over already" in there
    here, there = site.both("maintenance", "list", "--format", "json")
    assert json.loads(here) == json.loads(there) == []
    here, there = site.both("maintenance", "list", "--all", "--format", "json")
    assert {str(w["id"]) for w in json.loads(here)} >= {mine, theirs}
