"""Paging on the command line: on call, overrides, acknowledging and resolving incidents,
and config check rendering every template."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.config import load_config
from tocsin.engine.paging import Pager
from tocsin.store import repo
from tocsin.store.db import begin_write, database_url, make_engine, upgrade
from tocsin.store.schema import incidents

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "tocsin.yaml"


def run(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, list(args))
    return done.exit_code, done.output


def test_oncall_at_a_given_time_follows_the_example_rotation(tmp_path: Path) -> None:
    d = str(tmp_path)
    # Tuesday 2026-11-24 10:00 Berlin: week of 2026-11-23 is alice's (weekly from 11-02)
    code, output = run(
        "oncall",
        "pebble-primary",
        "--at",
        "2026-11-24T09:00:00Z",
        "--format",
        "json",
        "-c",
        str(EXAMPLE),
        "--data-dir",
        d,
    )
    assert code == 0, output
    [row] = json.loads(output)
    assert [u["name"] for u in row["users"]] == ["alice"]
    # the same night at 23:00 Berlin: chen's night layer
    code, output = run(
        "oncall",
        "pebble-primary",
        "--at",
        "2026-11-24T22:00:00Z",
        "--format",
        "json",
        "-c",
        str(EXAMPLE),
        "--data-dir",
        d,
    )
    assert [u["name"] for u in json.loads(output)[0]["users"]] == ["chen"]
    code, output = run("oncall", "nope", "-c", str(EXAMPLE), "--data-dir", d)
    assert code == 1 and "no schedule 'nope'" in output


def test_override_add_list_delete(tmp_path: Path) -> None:
    d = str(tmp_path)
    common = ["-c", str(EXAMPLE), "--data-dir", d]
    code, output = run(
        "override",
        "add",
        "pebble-primary",
        "dana",
        "--replaces",
        "*",
        "--start",
        "2026-11-24T08:00:00Z",
        "--end",
        "+3h",
        "--by",
        "alice",
        *common,
    )
    assert code == 0 and "override 1: dana" in output
    code, output = run(
        "oncall", "pebble-primary", "--at", "2026-11-24T09:00:00Z", "--format", "json", *common
    )
    assert [u["name"] for u in json.loads(output)[0]["users"]] == ["dana"]
    code, output = run("override", "add", "pebble-primary", "zed", "--by", "alice", *common)
    assert code == 1 and "no user 'zed'" in output
    code, output = run("override", "delete", "1", *common)
    assert code == 0
    code, output = run("override", "delete", "1", *common)
    assert code == 1 and "no override 1" in output


def test_incident_ack_and_resolve(tmp_path: Path) -> None:
    engine = make_engine(database_url(tmp_path, None))
    upgrade(engine)
    config = load_config(EXAMPLE)
    from tocsin.alerts.model import Alert, with_defaults

    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    alert = with_defaults(
        Alert(
            labels={
                "alertname": "PebbleDatabaseDown",
                "severity": "critical",
                "service": "pebble-db",
            }
        ),
        now,
        300,
    )
    with begin_write(engine) as conn:
        repo.ingest(conn, [alert], now, config.route)
        [incident] = conn.execute(select(incidents)).fetchall()
        members = {a.fingerprint: a.alert for a in repo.incident_members(conn, incident.id)}
        Pager(config).flushed(conn, incident, members, list(members), False, now.timestamp())
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    code, output = run("incident", "ack", str(incident.id), "--by", "alice", *common)
    assert code == 0 and "ack done by alice" in output
    code, output = run("incident", "escalate", str(incident.id), "--by", "alice", *common)
    assert code == 1 and "only a triggered incident escalates" in output  # the service's words
    code, output = run("incident", "resolve", str(incident.id), "--by", "bob", *common)
    assert code == 0
    with engine.connect() as conn:
        kinds = [e["kind"] for e in repo.incident_timeline(conn, incident.id)]
        row = repo.get_incident(conn, incident.id)
    assert kinds[-2:] == ["acknowledged", "resolved"] and row.resolved_by == "bob"
    assert row.severity == "critical" and "escalated" in kinds
    code, output = run("incident", "ack", "999", "--by", "alice", *common)
    assert code == 1 and "no such incident" in output


def test_config_check_reports_a_broken_template(tmp_path: Path) -> None:
    bad = tmp_path / "tocsin.yaml"
    bad.write_text(
        "route: {receiver: d, channels: [c]}\nreceivers: [{name: d}]\n"
        "channels:\n  - name: c\n    type: console\n    templates:\n"
        "      title: '{{ alerts[0].labels.alertname | nosuchfilter }}'\n"
    )
    code, output = run("config", "check", "-c", str(bad))
    assert code == 1
    assert f"{bad}:7:14: channels[0].templates.title:" in output and "nosuchfilter" in output
    code, output = run("config", "check", "-c", str(EXAMPLE))
    assert code == 0 and "2 escalation policies" in output


def test_config_check_refuses_an_smtp_password_sent_in_clear_text(tmp_path: Path) -> None:
    """A password with neither STARTTLS nor implicit TLS is refused unless the channel opts
    in to plaintext AUTH (issue 17, item 34)."""
    text = (
        "route: {receiver: d, channels: [mail]}\nreceivers: [{name: d}]\n"
        "channels:\n  - name: mail\n    type: email\n    from: tocsin@example.com\n"
        "    to: [oncall@example.com]\n    smtp:\n      host: smtp.example.com\n"
        "      starttls: false\n      username: tocsin\n      password: {value: pw}\n"
    )
    bad = tmp_path / "tocsin.yaml"
    bad.write_text(text)
    code, output = run("config", "check", "-c", str(bad))
    assert code == 1
    assert f"{bad}:12:17: channels[0].smtp.password:" in output
    assert "clear text" in output and "allow_plaintext_auth" in output
    for safe in ("starttls: true", "tls: true\n      starttls: false"):
        bad.write_text(text.replace("starttls: false", safe))
        code, output = run("config", "check", "-c", str(bad))
        assert code == 0, output
    bad.write_text(text + "      allow_plaintext_auth: true\n")
    code, output = run("config", "check", "-c", str(bad))
    assert code == 0, output
    bad.write_text(text.replace("      username: tocsin\n      password: {value: pw}\n", ""))
    code, output = run("config", "check", "-c", str(bad))
    assert code == 0, output  # no password, nothing to leak


def test_a_route_with_empty_channels_does_not_inherit_them() -> None:
    from tocsin.config import parse_config

    config = parse_config(
        "route:\n  receiver: d\n  channels: [c]\n  routes:\n"
        "    - {matchers: ['quiet=\"1\"'], channels: []}\n"
        "    - {matchers: ['x=\"1\"']}\n"
        "receivers: [{name: d}]\nchannels: [{name: c, type: console}]\n"
    )
    quiet, plain = config.route.routes
    assert quiet.options["channels"] == [] and plain.options["channels"] == ["c"]


def test_the_oncall_tables_times_carry_their_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, item 9: the "until" column names its zone (UTC, or the zone of TZ)."""
    common = ["-c", str(EXAMPLE), "--data-dir", str(tmp_path)]
    monkeypatch.delenv("TZ", raising=False)
    code, output = run("oncall", "pebble-primary", "--at", "2026-11-24T09:00:00Z", *common)
    assert code == 0, output
    assert "on call at 2026-11-24 09:00:00 UTC" in output
    assert "alice" in output and "2026-11-24 21:00:00 UTC" in output
    monkeypatch.setenv("TZ", "Europe/Berlin")
    code, output = run("oncall", "pebble-primary", "--at", "2026-11-24T09:00:00Z", *common)
    assert code == 0 and "2026-11-24 22:00:00 CET" in output
