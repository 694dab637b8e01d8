"""The server's command line: tokens, migrations, routes, config check."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.store.db import database_url, make_engine

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "tocsin.yaml"


def test_tokens_create_prints_the_token_last(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tocsin",
            "tokens",
            "create",
            "--role",
            "intake",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("tocsin_") and len(token) > 30
    assert token not in (tmp_path / "tocsin.db").read_bytes().decode("latin-1")  # hashed
    bad = runner.invoke(app, ["tokens", "create", "--role", "root", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "--role must be one of" in bad.output


def test_db_upgrade(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from tocsin.store.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    done = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert done.exit_code == 0 and f"revision {head}" in done.output


USERS = """
route: {receiver: default}
receivers: [{name: default}]
channels: [{name: console, type: console}]
users:
  - {name: alice, contact: [console]}
  - {name: ben, contact: [console]}
"""


def test_tokens_belong_to_users_and_are_listed_and_revoked(tmp_path: Path) -> None:
    """Issue 17, item 12: ``tokens create --user``, ``tokens list``, ``tokens revoke``."""
    config = tmp_path / "tocsin.yaml"
    config.write_text(USERS)
    site = ["--config", str(config), "--data-dir", str(tmp_path / "data")]
    data = ["--data-dir", str(tmp_path / "data")]
    made = runner.invoke(
        app,
        ["tokens", "create", "--user", "alice", "--role", "responder", "--name", "laptop", *site],
    )
    assert made.exit_code == 0, made.output
    assert "created a responder token (id 1) for alice" in made.output
    secret = made.output.strip().splitlines()[-1]
    unknown = runner.invoke(app, ["tokens", "create", "--user", "eve", "--role", "admin", *site])
    assert unknown.exit_code == 2 and "no user 'eve' in the configuration" in unknown.output
    machine = runner.invoke(app, ["tokens", "create", "--user", "prom", "--role", "intake", *site])
    assert machine.exit_code == 0, machine.output
    listed = runner.invoke(app, ["tokens", "list", *data])
    assert listed.exit_code == 0 and secret not in listed.output
    lines = [line.replace("┃", "│") for line in listed.output.splitlines()]
    rows = [line.split("│")[1:-1] for line in lines if "│" in line]
    cells = [[c.strip() for c in row] for row in rows]
    assert cells[0] == ["id", "user", "role", "for", "created"]
    assert [c[:4] for c in cells[1:]] == [
        ["1", "alice", "responder", "laptop"],
        ["2", "prom", "intake", ""],
    ]
    assert cells[1][4].endswith(" UTC")
    revoked = runner.invoke(app, ["tokens", "revoke", "1", *data])
    assert revoked.exit_code == 0 and "revoked token 1" in revoked.output
    again = runner.invoke(app, ["tokens", "revoke", "1", *data])
    assert again.exit_code == 1 and "revoked already" in again.output
    assert "alice" not in runner.invoke(app, ["tokens", "list", *data]).output
    assert "alice" in runner.invoke(app, ["tokens", "list", "--revoked", *data]).output


def test_a_token_without_a_user_acts_under_its_role_with_a_warning(tmp_path: Path) -> None:
    done = runner.invoke(app, ["tokens", "create", "--role", "admin", "--data-dir", str(tmp_path)])
    assert done.exit_code == 0
    assert "no --user given" in done.output and "for admin" in done.output


def test_routes_test_like_amtool() -> None:
    done = runner.invoke(
        app,
        [
            "routes",
            "test",
            "-q",  # the receivers alone, as amtool prints them (issue 17, item 16)
            "--config",
            str(EXAMPLE),
            "alertname=DatabaseDown",
            "severity=critical",
            "service=pebble-api",
        ],
    )
    assert done.exit_code == 0 and done.output.splitlines()[0] == "pager"
    other = runner.invoke(
        app,
        ["routes", "test", "--config", str(EXAMPLE), "alertname=X", "service=pebble-web", "--tree"],
    )
    assert 'route 1 of 1: {}/{service=~"pebble-.*"} -> receiver pebble-team' in other.output
    assert (
        'group key {}/{service=~"pebble-.*"}:{alertname="X", service="pebble-web"}' in other.output
    )
    assert runner.invoke(app, ["routes", "test", "--config", str(EXAMPLE), 'a=~"x"']).exit_code == 2


def test_config_check(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["config", "check", "--config", str(EXAMPLE)])
    assert ok.exit_code == 0 and "3 routes, 3 receivers, 1 inhibit rule;" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "route:\n  receiver: nobody\n  group_wait: soon\nreceivers: []\n"
        "inhibit_rules:\n  - equal: [x]\n    sauce_matchers: []\n"
    )
    done = runner.invoke(app, ["config", "check", "--config", str(bad)])
    assert done.exit_code == 1
    assert f"{bad}:3:15: route.group_wait: not a valid duration string" in done.output
    assert "inhibit_rules[0].sauce_matchers: unknown key `sauce_matchers`" in done.output
    assert "did you mean `source_matchers`?" in done.output  # issue 17, item 20
    assert f"{bad}:2:13: route.receiver: undefined receiver 'nobody'" in done.output
    missing = runner.invoke(app, ["config", "check", "--config", str(tmp_path / "no.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The usual umask (022), under which files are created world-readable by default."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("lax_umask")
@pytest.mark.parametrize(
    "command", [["tokens", "create", "--role", "viewer"], ["db", "upgrade"]], ids=" ".join
)
def test_a_new_database_is_owner_only(tmp_path: Path, command: list[str]) -> None:
    """Token hashes and message bodies: the data directory 0700, the files 0600 (issue 17,
    item 35)."""
    data = tmp_path / "new" / "data"
    done = runner.invoke(app, [*command, "--data-dir", str(data)])
    assert done.exit_code == 0, done.output
    assert mode(data) == 0o700
    assert sorted(p.name for p in data.iterdir() if mode(p) != 0o600) == []
    assert mode(data / "tocsin.db") == 0o600


@pytest.mark.usefixtures("lax_umask")
def test_the_write_ahead_log_and_shared_memory_files_are_owner_only(tmp_path: Path) -> None:
    engine = make_engine(database_url(tmp_path / "data", None))
    with engine.connect() as conn:  # while a connection is open, -wal and -shm exist
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.commit()
        files = {p.name: mode(p) for p in (tmp_path / "data").iterdir()}
    engine.dispose()
    assert files == {"tocsin.db": 0o600, "tocsin.db-wal": 0o600, "tocsin.db-shm": 0o600}
    assert mode(tmp_path / "data") == 0o700


def test_serve_on_an_address_in_use_says_so_before_anything_else(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = runner.invoke(
            app, ["serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "d")]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "built-in configuration" not in result.output  # nothing started, nothing written
    assert not (tmp_path / "d").exists()
