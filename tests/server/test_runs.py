"""Issue 20: runbook commands that run, through the API and the executor with the real shell
runner, on SQLite and PostgreSQL: a read step runs at once, a change waits for an approval of
its exact text, a destructive one for a second person and a typed confirmation; automatic
diagnostics as an incident triggers, their follow-up message; every run on the record."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.server.conftest import START, Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.engine.executor import Executor
from tocsin.execute.registry import build_runners
from tocsin.runbooks.loader import load_catalog
from tocsin.store import repo
from tocsin.store.schema import notifications, timeline

RUNBOOK = """
# Disk runbook

## DiskFull

**Severity:** critical

### Diagnosis
1. What does the host say?
   ```bash
   printf 'host=%s\\n' {{ $labels.instance }}
   ```
2. The marker file:
   ```bash
   cat {marker}
   ```
3. Which pod?
   ```bash
   echo pod=<pod>
   ```

### Remediation
1. Mark it:
   ```bash
   touch {made}
   ```
2. Empty the cache:
   ```bash
   rm -rf {cache}
   ```
"""

CONFIG = """
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  auto_diagnose: {auto}
  channels: [team]
receivers: [{{name: default}}]
channels: [{{name: team, type: console}}]
runbooks: [{book}]
execute:
  runners:
    - {{name: local, type: shell, timeout: 10s, output_limit: 4096}}
"""


def _harness(
    db: Engine, clock: VirtualClock, tmp_path: Path, auto: bool
) -> tuple[AppState, dict[str, Path]]:
    paths = {
        "marker": tmp_path / "marker.txt",
        "made": tmp_path / "made.flag",
        "cache": tmp_path / "cache",
    }
    paths["marker"].write_text("disk is 97% full\n")
    paths["cache"].mkdir()
    book = tmp_path / "disk.md"
    text = dedent(RUNBOOK).lstrip()
    for key, path in paths.items():
        text = text.replace("{" + key + "}", str(path))
    book.write_text(text)
    config_text = dedent(CONFIG).format(auto="true" if auto else "false", book=book)
    config = parse_config(config_text, base_dir=tmp_path)
    return AppState(db=db, config=config, clock=clock, catalog=load_catalog([book])), paths


class Harness:
    def __init__(self, api: Api, paths: dict[str, Path]) -> None:
        self.api = api
        self.paths = paths
        engine = api.state.engine
        assert engine is not None
        self.executor = Executor(api.state.db, engine.pager, api.state.clock, "test", build_runners)
        self.second = f"tocsin_second_{secrets.token_hex(8)}"
        with api.state.db.begin() as conn:
            repo.create_token(conn, "second", "responder", self.second, START, user="ben")

    def fire(self, instance: str = "db-1") -> int:
        body = [{"labels": {"alertname": "DiskFull", "instance": instance}}]
        assert self.api.post("/api/v2/alerts", body).status_code == 200
        self.api.run_engine()
        return int(self.api.get("/api/v1/incidents?limit=1").json()[0]["id"])

    def drain(self) -> int:
        assert self.api.client.portal is not None
        return int(self.api.client.portal.call(self.executor.drain))

    def runs(self, number: int) -> list[dict[str, object]]:
        found: list[dict[str, object]] = self.api.get(f"/api/v1/incidents/{number}/runs").json()
        return found

    def kinds(self, number: int) -> list[str]:
        with self.api.state.db.connect() as conn:
            rows = conn.execute(
                select(timeline.c.kind)
                .where(timeline.c.incident_id == number)
                .order_by(timeline.c.id)
            ).all()
        return [r.kind for r in rows if r.kind.startswith("run_")]


@pytest.fixture
def harness(db: Engine, clock: VirtualClock, tmp_path: Path) -> Iterator[Harness]:
    state, paths = _harness(db, clock, tmp_path, auto=False)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Harness(Api(client, state, db), paths)


def test_steps_are_numbered_and_shown_as_they_would_run(harness: Harness) -> None:
    number = harness.fire("db-1:9100")
    steps = harness.api.get(f"/api/v1/incidents/{number}/steps").json()
    assert [s["number"] for s in steps] == [1, 2, 3, 4, 5]
    assert [s["risk"] for s in steps] == ["read", "read", "read", "change", "destructive"]
    assert steps[0]["command"] == "printf 'host=%s\\n' db-1:9100"
    assert steps[0]["runner"] == "local" and len(steps[0]["digest"]) == 64
    assert steps[2]["unfilled"] == ["<pod>"]
    assert steps[4]["confirmation"].startswith("rm -rf ")
    filled = harness.api.get(f"/api/v1/incidents/{number}/steps?fill=pod=api-1").json()
    assert filled[2]["command"] == "echo pod=api-1" and not filled[2]["unfilled"]


def test_a_label_that_is_not_plain_fills_nothing_until_a_person_types_it(
    harness: Harness,
) -> None:
    number = harness.fire("db-1; touch /tmp/tocsin-pwned-$(id -u)")
    step = harness.api.get(f"/api/v1/incidents/{number}/steps").json()[0]
    assert step["unfilled"] == ["{{ $labels.instance }}"]
    refused = harness.api.post(f"/api/v1/incidents/{number}/runs", {"step": 1})
    assert refused.status_code == 422
    assert "the value of instance is not plain" in refused.json()["error"]["message"]
    body = {"step": 1, "fill": {"instance": "db-1"}}
    made = harness.api.post(f"/api/v1/incidents/{number}/runs", body)
    assert made.status_code == 201 and made.json()["command"] == "printf 'host=%s\\n' db-1"
    harness.drain()
    assert harness.runs(number)[0]["output"] == "host=db-1\n"
    assert not list(Path("/tmp").glob("tocsin-pwned-*"))


def test_a_read_step_runs_at_once_and_is_on_the_record(harness: Harness) -> None:
    number = harness.fire("db-1:9100")
    made = harness.api.post(f"/api/v1/incidents/{number}/runs", {"step": 1}, role="responder")
    assert made.status_code == 201 and made.json()["status"] == "queued"
    assert made.json()["requested_by"] == "responder"
    assert harness.drain() == 1
    run = harness.runs(number)[0]
    assert run["status"] == "finished" and run["result"] == "ok" and run["exit_code"] == 0
    assert run["output"] == "host=db-1:9100\n"
    assert run["target"] == "local" and run["runner"] == "local"
    assert harness.kinds(number) == ["run_requested", "run_started", "run_finished"]
    second = harness.api.post(f"/api/v1/incidents/{number}/runs", {"step": 2}, role="responder")
    harness.drain()
    assert harness.api.get(f"/api/v1/runs/{second.json()['id']}").json()["output"] == (
        "disk is 97% full\n"
    )


def test_an_unfilled_step_is_refused_until_a_person_fills_it(harness: Harness) -> None:
    number = harness.fire()
    refused = harness.api.post(f"/api/v1/incidents/{number}/runs", {"step": 3}, role="responder")
    assert refused.status_code == 422 and "<pod>" in refused.json()["error"]["message"]
    assert harness.runs(number) == []
    body = {"step": 3, "fill": {"pod": "api-7f9c $(id)"}}
    typed = harness.api.post(f"/api/v1/incidents/{number}/runs", body, role="responder")
    assert typed.status_code == 422 and "is not plain" in typed.json()["error"]["message"]
    body = {"step": 3, "fill": {"pod": "api-7f9c"}}
    made = harness.api.post(f"/api/v1/incidents/{number}/runs", body, role="responder")
    assert made.status_code == 201
    harness.drain()
    assert harness.runs(number)[0]["output"] == "pod=api-7f9c\n"


def test_a_change_waits_for_an_approval_of_its_exact_text(harness: Harness) -> None:
    number = harness.fire()
    made = harness.api.post(f"/api/v1/incidents/{number}/runs", {"step": 4}, role="responder")
    run = made.json()
    assert run["status"] == "awaiting" and "approval" in run["reason"]
    assert harness.drain() == 0 and not harness.paths["made"].exists()
    wrong = harness.api.post(f"/api/v1/runs/{run['id']}/approve", {"digest": "0" * 64})
    assert wrong.status_code == 409
    viewer = harness.api.post(
        f"/api/v1/runs/{run['id']}/approve", {"digest": run["digest"]}, role="viewer"
    )
    assert viewer.status_code == 403
    done = harness.api.post(
        f"/api/v1/runs/{run['id']}/approve", {"digest": run["digest"]}, role="responder"
    )
    assert done.status_code == 200 and done.json()["status"] == "queued"
    harness.drain()
    assert harness.paths["made"].exists()
    final = harness.api.get(f"/api/v1/runs/{run['id']}").json()
    assert final["result"] == "ok" and final["approved_by"] == "responder"
    assert harness.kinds(number) == ["run_requested", "run_approved", "run_started", "run_finished"]


def test_a_change_approved_as_it_is_asked_runs_at_once(harness: Harness) -> None:
    number = harness.fire()
    step = harness.api.get(f"/api/v1/incidents/{number}/steps").json()[3]
    body = {"step": 4, "approve": True, "digest": step["digest"]}
    made = harness.api.post(f"/api/v1/incidents/{number}/runs", body, role="responder")
    assert made.json()["status"] == "queued" and made.json()["approved_by"] == "responder"
    harness.drain()
    assert harness.paths["made"].exists()


def test_a_destructive_step_needs_a_second_person_and_its_first_line(harness: Harness) -> None:
    number = harness.fire()
    step = harness.api.get(f"/api/v1/incidents/{number}/steps").json()[4]
    body = {"step": 5, "approve": True, "digest": step["digest"]}
    run = harness.api.post(f"/api/v1/incidents/{number}/runs", body, role="responder").json()
    assert run["status"] == "awaiting"  # the asker's own approval does not count
    same = harness.api.post(
        f"/api/v1/runs/{run['id']}/approve",
        {"digest": run["digest"], "confirm": step["confirmation"]},
        role="responder",
    )
    assert same.status_code == 403 and "second person" in same.json()["error"]["message"]
    headers = {"Authorization": f"Bearer {harness.second}"}
    untyped = harness.api.client.post(
        f"/api/v1/runs/{run['id']}/approve", json={"digest": run["digest"]}, headers=headers
    )
    assert untyped.status_code == 422 and "first line" in untyped.json()["error"]["message"]
    harness.drain()
    assert harness.paths["cache"].exists()  # refused approvals changed nothing
    assert harness.api.get(f"/api/v1/runs/{run['id']}").json()["status"] == "awaiting"
    done = harness.api.client.post(
        f"/api/v1/runs/{run['id']}/approve",
        json={"digest": run["digest"], "confirm": step["confirmation"]},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    harness.drain()
    assert not harness.paths["cache"].exists()


def test_refuse_and_run_again(harness: Harness) -> None:
    number = harness.fire()
    run = harness.api.post(f"/api/v1/incidents/{number}/runs", {"step": 4}).json()
    refused = harness.api.post(f"/api/v1/runs/{run['id']}/refuse", {"reason": "not now"})
    assert refused.json()["status"] == "refused" and refused.json()["reason"] == "not now"
    again = harness.api.post(f"/api/v1/runs/{run['id']}/refuse", {"reason": "again"})
    assert again.status_code == 409
    harness.drain()
    assert not harness.paths["made"].exists()
    rerun = harness.api.post(f"/api/v1/runs/{run['id']}/rerun", {"approve": True})
    assert rerun.status_code == 201 and rerun.json()["status"] == "queued"
    harness.drain()
    assert harness.paths["made"].exists()
    assert "run_refused" in harness.kinds(number)


def test_requests_are_checked(harness: Harness) -> None:
    number = harness.fire()
    path = f"/api/v1/incidents/{number}/runs"
    assert harness.api.post(path, {"step": 1}, role="viewer").status_code == 403
    assert harness.api.post(path, {"step": 99}).status_code == 404
    assert harness.api.post(path, {"step": 1, "shell": "id"}).status_code == 422
    long = {"step": 3, "fill": {"pod": "x" * 501}}
    assert harness.api.post(path, long).status_code == 422
    assert harness.api.post("/api/v1/incidents/999/runs", {"step": 1}).status_code == 404
    assert harness.api.post("/api/v1/runs/999/approve", {"digest": "0" * 64}).status_code == 404
    assert harness.runs(number) == []


@pytest.fixture
def auto(db: Engine, clock: VirtualClock, tmp_path: Path) -> Iterator[Harness]:
    state, paths = _harness(db, clock, tmp_path, auto=True)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Harness(Api(client, state, db), paths)


def test_read_steps_run_by_themselves_and_their_output_follows_the_page(auto: Harness) -> None:
    number = auto.fire("db-1:9100")
    with auto.api.state.db.connect() as conn:
        first = conn.execute(
            select(notifications.c.kind).where(notifications.c.incident_id == number)
        ).all()
    assert [r.kind for r in first] == ["firing"]  # the page went before any command ran
    queued = auto.runs(number)
    by_step = {r["step"]: r for r in queued}
    assert set(by_step) == {1, 2, 3}  # read steps only; change and destructive never
    assert by_step[3]["status"] == "refused" and "<pod>" in str(by_step[3]["reason"])
    assert by_step[1]["status"] == "queued" and by_step[1]["automatic"] is True
    assert auto.drain() == 2
    auto.api.run_engine()
    with auto.api.state.db.connect() as conn:
        rows = conn.execute(
            select(notifications.c.kind, notifications.c.message).where(
                notifications.c.incident_id == number
            )
        ).all()
    follow = [json.loads(r.message) for r in rows if r.kind == "diagnostics"]
    assert len(follow) == 1
    text = follow[0]["text"]
    assert "2 diagnostics from the runbook ran by themselves" in text
    assert "host=db-1:9100" in text and "disk is 97% full" in text
    assert not auto.paths["made"].exists() and auto.paths["cache"].exists()
    # a second pass sends nothing more
    assert auto.drain() == 0


def test_an_automatic_run_never_fills_a_label_that_is_not_plain(auto: Harness) -> None:
    number = auto.fire("db-1`touch /tmp/tocsin-auto-pwned`")
    by_step = {r["step"]: r for r in auto.runs(number)}
    assert by_step[1]["status"] == "refused" and "is not plain" in str(by_step[1]["reason"])
    assert by_step[2]["status"] == "queued"  # the marker file's cat needs no label
    auto.drain()
    assert not Path("/tmp/tocsin-auto-pwned").exists()
