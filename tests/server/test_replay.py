"""``tocsin replay`` over a stored history the test makes (SQLite and PostgreSQL): alerts go
through the real intake (``POST /api/v2/alerts``) and the real engine on a virtual clock with
one configuration, a person acknowledges through the API; then the window is replayed
through candidates that inhibit, regroup and reroute, and the side-by-side numbers are
checked exactly. Also the command itself (``tocsin replay --format json``), its bound on
alerts, and the reading in chunks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.notify.sinks import HttpSink
from tests.server.conftest import START, Api
from tests.server.test_paging import PAGING, Paging
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.cli import app
from tocsin.clock import VirtualClock
from tocsin.config import Config, parse_config
from tocsin.errors import Invalid, TooLarge
from tocsin.incidents.replay import Comparison
from tocsin.service import replay as replaying
from tocsin.service.context import Context
from tocsin.simulate.replay import play
from tocsin.store import history
from tocsin.web import console

runner = CliRunner()

# alice lives in Los Angeles: 08:00 UTC on a Friday (START) is midnight for her
TEXT = dedent(PAGING).replace(
    "{{name: alice, email: alice@example.com,",
    "{{name: alice, email: alice@example.com, timezone: America/Los_Angeles,",
)
INHIBIT = """
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [instance]
"""


def candidate(text: str = TEXT, extra: str = "", **replace: str) -> str:
    for old, new in replace.items():
        text = text.replace(old, new)
    return (text + extra).format(
        team="http://127.0.0.1:9/team",
        pager="http://127.0.0.1:9/pager",
        backup="http://127.0.0.1:9/backup",
        ack_timeout="1h",
    )


@pytest.fixture
def sinks() -> Iterator[dict[str, HttpSink]]:
    with HttpSink() as team, HttpSink() as pager, HttpSink() as backup:
        yield {"team": team, "pager": pager, "backup": backup}


@pytest.fixture
def paging(
    db: Engine,
    clock: VirtualClock,
    sinks: dict[str, HttpSink],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Paging]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))  # the console's key, on PostgreSQL
    text = TEXT.format(
        team=sinks["team"].url,
        pager=sinks["pager"].url,
        backup=sinks["backup"].url,
        ack_timeout="1h",
    )
    state = AppState(db=db, config=parse_config(text), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Paging(Api(client, state, db), clock, sinks)


def post(paging: Paging, labels: dict[str, str], ends: str = "2027-01-15T10:00:00Z") -> None:
    body = [{"labels": labels, "startsAt": paging.now(), "endsAt": ends}]
    answer = paging.api.post("/api/v2/alerts", body)
    assert answer.status_code == 200, answer.text
    paging.run()


DB = {"alertname": "DatabaseDown", "severity": "critical", "instance": "db1"}
DISK = {"alertname": "DiskFull", "severity": "warning", "instance": "db1"}


def make_history(paging: Paging) -> None:
    """08:00 DatabaseDown (critical) pages alice; 08:01 DiskFull (warning, same instance)
    pages alice; 08:02 alice acknowledges DatabaseDown's incident; 08:04 both resolve."""
    post(paging, DB)
    paging.advance(60)
    post(paging, DISK)
    paging.advance(60)
    acked = paging.api.post("/api/v1/incidents/1/ack", {}, role="responder")
    assert acked.status_code == 200, acked.text
    paging.advance(120)
    post(paging, DB, ends=paging.now())
    post(paging, DISK, ends=paging.now())
    for _ in range(3):
        paging.advance(60)


def replay(paging: Paging, text: str, **options: Any) -> Comparison:
    state = paging.api.state
    ctx = Context(state.db, state.config, paging.clock)
    config: Config = parse_config(text)
    return replaying.replay(ctx, config, START - 60, paging.clock.now(), play, **options)


def sides(result: Comparison) -> tuple[dict[str, Any], dict[str, Any]]:
    data = result.to_json()
    return data["real"], data["candidate"]


REAL = {
    "incidents": 2,
    "pages": 2,
    "out_of_hours": 2,
    "people": [
        {"person": "alice", "timezone": "America/Los_Angeles", "pages": 2, "out_of_hours": 2}
    ],
    "channels": {"pager": 2},
    "muted": {"silenced": 0, "inhibited": 0},
    "time_to_first_page": {"count": 2, "median_s": 0.0, "p90_s": 0.0, "mean_s": 0.0},
    "never_paged": 0,
}


def test_the_same_configuration_replays_what_happened(paging: Paging) -> None:
    make_history(paging)
    result = replay(paging, candidate())
    real, cand = sides(result)
    assert real == REAL
    assert cand == REAL
    assert result.alerts == 2
    assert (result.acknowledgements, result.acknowledged) == (1, 1)
    assert result.changed == ()


def test_an_inhibition_rule_spares_the_second_page(paging: Paging) -> None:
    make_history(paging)
    result = replay(paging, candidate(extra=INHIBIT))
    real, cand = sides(result)
    assert real == REAL
    assert cand == {
        "incidents": 2,  # the inhibited alert still opens its incident, which never pages
        "pages": 1,
        "out_of_hours": 1,
        "people": [
            {"person": "alice", "timezone": "America/Los_Angeles", "pages": 1, "out_of_hours": 1}
        ],
        "channels": {"pager": 1},
        "muted": {"silenced": 0, "inhibited": 1},
        "time_to_first_page": {"count": 1, "median_s": 0.0, "p90_s": 0.0, "mean_s": 0.0},
        "never_paged": 1,
    }
    [changed] = result.changed
    assert (changed.incident, changed.alertname) == (2, "DiskFull")
    assert (changed.real_s, changed.candidate_incident, changed.candidate_s) == (0.0, 2, None)


def test_grouping_by_instance_makes_one_incident(paging: Paging) -> None:
    make_history(paging)
    result = replay(paging, candidate(**{"group_by: [alertname]": "group_by: [instance]"}))
    real, cand = sides(result)
    assert real == REAL
    assert cand["incidents"] == 1
    assert cand["pages"] == 1
    assert cand["people"] == [
        {"person": "alice", "timezone": "America/Los_Angeles", "pages": 1, "out_of_hours": 1}
    ]
    # DiskFull joined the incident alice was already paged for (and had acknowledged)
    assert result.changed == ()
    assert (result.acknowledgements, result.acknowledged) == (1, 1)


def test_a_longer_group_wait_delays_every_first_page(paging: Paging) -> None:
    make_history(paging)
    result = replay(paging, candidate(**{"group_wait: 0s": "group_wait: 30s"}))
    _real, cand = sides(result)
    assert cand["time_to_first_page"] == {
        "count": 2,
        "median_s": 30.0,
        "p90_s": 30.0,
        "mean_s": 30.0,
    }
    assert [
        (c.incident, c.real_s, c.candidate_incident, c.candidate_s) for c in result.changed
    ] == [
        (1, 0.0, 1, 30.0),
        (2, 0.0, 2, 30.0),
    ]


def test_routing_to_a_policy_of_bob_pages_him_in_hours(paging: Paging) -> None:
    make_history(paging)
    text = candidate(
        extra='  - name: bob-first\n    steps:\n      - {{targets: ["user:bob"], delay: 5m}}\n',
        **{"  escalation_policy: default\n": "  escalation_policy: bob-first\n"},
    )
    result = replay(paging, text)
    _real, cand = sides(result)
    assert cand["people"] == [{"person": "bob", "timezone": "UTC", "pages": 2, "out_of_hours": 0}]
    assert cand["out_of_hours"] == 0
    # alice's acknowledgement still comes at 08:02 and stops bob's incident's escalation
    assert (result.acknowledgements, result.acknowledged) == (1, 1)


def test_the_silences_and_overrides_people_made_are_kept(paging: Paging) -> None:
    """bob stands in for alice from 07:00 to 12:00 and DiskFull is silenced: the candidate
    (the same configuration) pages bob, and DiskFull is silenced there too."""
    made = paging.api.post(
        "/api/v1/overrides",
        {
            "schedule": "primary",
            "user": "bob",
            "replaces": "alice",
            "start": "2027-01-15T07:00:00Z",
            "end": "2027-01-15T12:00:00Z",
        },
        role="responder",
    )
    assert made.status_code == 201, made.text
    silence = {
        "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": False}],
        "startsAt": "2027-01-15T07:00:00Z",
        "endsAt": "2027-01-15T12:00:00Z",
        "createdBy": "bob",
        "comment": "disk replaced",
    }
    assert paging.api.post("/api/v2/silences", silence).status_code == 200
    make_history(paging)
    result = replay(paging, candidate())
    real, cand = sides(result)
    assert real == cand
    assert real["people"] == [{"person": "bob", "timezone": "UTC", "pages": 1, "out_of_hours": 0}]
    assert real["muted"] == {"silenced": 1, "inhibited": 0}
    assert real["never_paged"] == 1


def test_a_window_over_the_bound_is_refused(paging: Paging) -> None:
    make_history(paging)
    with pytest.raises(TooLarge, match="holds 2 alert episodes, more than the 1 alert"):
        replay(paging, candidate(), max_alerts=1)
    state = paging.api.state
    ctx = Context(state.db, state.config, paging.clock)
    with pytest.raises(Invalid, match="longer than 90 days"):
        replaying.replay(ctx, state.config, START - 91 * 86400, START, play)


def test_episodes_are_read_in_chunks_in_time_order(paging: Paging) -> None:
    make_history(paging)
    db = paging.api.state.db
    one = list(history.episodes(db, START - 60, paging.clock.now(), chunk=1))
    whole = list(history.episodes(db, START - 60, paging.clock.now()))
    assert [e.labels["alertname"] for e in one] == ["DatabaseDown", "DiskFull"]
    assert one == whole
    assert [e.ends_at - e.starts_at for e in one] == [240.0, 180.0]


def test_the_command_prints_json_and_tables(
    paging: Paging, database_url: str, tmp_path: Path
) -> None:
    make_history(paging)
    path = tmp_path / "candidate.yaml"
    path.write_text(candidate(extra=INHIBIT))
    window = ["--since", "2027-01-15T07:59:00Z", "--until", "2027-01-15T09:00:00Z"]
    common = ["replay", "--config", str(path), "--database-url", database_url, *window]
    result = runner.invoke(app, [*common, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["since"] == "2027-01-15T07:59:00Z"
    assert (data["real"]["pages"], data["candidate"]["pages"]) == (2, 1)
    assert data["candidate"]["muted"] == {"silenced": 0, "inhibited": 1}
    table = runner.invoke(app, common)
    assert table.exit_code == 0, table.output
    assert "pages out of hours" in table.stdout and "DiskFull" in table.stdout
    refused = runner.invoke(app, [*common, "--max-alerts", "1"])
    assert refused.exit_code == 1
    assert "more than the 1 alert a replay may play" in refused.output


def test_the_console_replays_the_configuration_in_force_for_admins(paging: Paging) -> None:
    from tests.server.test_console import signin

    make_history(paging)
    client = paging.api.client
    signin(client, paging.api.tokens["viewer"])
    assert client.get("/replay?days=1").status_code == 403
    signin(client, paging.api.tokens["admin"])
    form = client.get("/replay")
    assert form.status_code == 200 and "Choose a window" in form.text
    assert client.get("/replay?days=2").status_code == 422
    assert client.get("/replay?days=\u00b9").status_code == 422  # "¹" isdigit, int refuses it
    answer = client.get("/replay?days=1")
    assert answer.status_code == 200, answer.text
    text = answer.text
    assert "2 alert episodes replayed" in text
    assert "1 acknowledgement replayed (1 incident acknowledged)" in text
    assert '<tr><th scope="row">Pages</th><td>2</td><td>2</td></tr>' in text
    assert "alice <small>(America/Los_Angeles)</small></td><td>2 (2)</td><td>2 (2)</td>" in text
    assert "No change." in text


ALERTMANAGER = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
receivers:
  - name: team
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [instance]
"""


def test_an_alertmanager_configuration_is_replayed_as_serve_loads_it(
    paging: Paging, database_url: str, tmp_path: Path
) -> None:
    """An Alertmanager-shaped file (a routing tree, receivers, inhibition) as the candidate:
    what tocsin would have opened and muted; nobody is paged, since it names no people."""
    make_history(paging)
    path = tmp_path / "alertmanager.yml"
    path.write_text(ALERTMANAGER)
    in_force = tmp_path / "tocsin.yaml"  # people's time zones: alice in Los Angeles
    in_force.write_text(candidate())
    window = ["--since", "2027-01-15T07:59:00Z", "--until", "2027-01-15T09:00:00Z"]
    result = runner.invoke(
        app,
        [
            "replay",
            "--config",
            str(path),
            "--database-url",
            database_url,
            *window,
            "--in-force",
            str(in_force),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["real"] == REAL
    assert data["candidate"]["incidents"] == 2
    assert data["candidate"]["pages"] == 0
    assert data["candidate"]["never_paged"] == 2
    assert data["candidate"]["muted"] == {"silenced": 0, "inhibited": 1}
    # DatabaseDown's incident triggers after group_wait (paging nobody) and alice's
    # acknowledgement at 08:02 still acknowledges it
    assert data["acknowledgements"] == {"real": 1, "applied": 1}
