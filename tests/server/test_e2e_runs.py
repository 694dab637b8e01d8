"""Issue 20, end to end: the example configuration (examples/tocsin.yaml, with a webhook sink
added to its routes) and its runbook examples/runbooks/pebble-host.md under a real
``tocsin serve``. An alert fires; the page goes out; the runbook's read-only diagnostics run
within seconds, their output on the timeline and in a follow-up message at the webhook sink;
a change waits for an approval and runs after it; a destructive step is refused without a
second person."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.notify.sinks import HttpSink
from tests.server.test_real_clients import Server, tocsin
from tests.server.waiting import wait_for

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CACHE = Path("/tmp/pebble-cache")
INSTANCE = "db-1;$(id)`id`"  # a label a shell would run: it fills no command that runs


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, HttpSink, str]]:
    config: dict[str, Any] = yaml.safe_load((EXAMPLES / "tocsin.yaml").read_text())
    with HttpSink() as sink:
        config["runbooks"] = [str(EXAMPLES / "runbooks")]
        config["severities"]["from_runbook"] = str(EXAMPLES / "runbooks" / "pebble-api.md")
        for policy in config["escalation_policies"]:
            if "from_runbook" in policy:
                policy["from_runbook"]["runbook"] = str(EXAMPLES / "runbooks" / "pebble-api.md")
        config["channels"].append({"name": "sink", "type": "webhook", "url": sink.url})
        config["route"]["channels"] = [*config["route"]["channels"], "sink"]
        for route in config["route"]["routes"]:
            route["channels"] = [*route.get("channels", []), "sink"]
        path = tmp_path / "tocsin.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        db = ["--data-dir", str(tmp_path / "data")]
        made = ("tokens", "create", "-c", str(path))
        token = tocsin(*made, "--role", "admin", "--user", "alice", *db)
        second = tocsin(*made, "--role", "responder", "--user", "bob", *db)
        server = Server.serving(path, token.stdout.splitlines()[-1], tmp_path, db)
        server.start()
        shutil.rmtree(CACHE, ignore_errors=True)
        try:
            yield server, sink, second.stdout.splitlines()[-1]
        finally:
            server.kill()
            shutil.rmtree(CACHE, ignore_errors=True)


def test_the_example_runbook_runs_its_diagnostics_and_waits_for_people(
    served: tuple[Server, HttpSink, str],
) -> None:
    server, sink, second = served
    alert = {
        "labels": {
            "alertname": "PebbleDiskFilling",
            "service": "pebble-host",
            "instance": INSTANCE,
            "severity": "high",
        }
    }
    fired = time.monotonic()
    assert server.request("POST", "/api/v2/alerts", [alert])[0] == 200

    def kinds() -> list[str]:
        return [r.json().get("kind") for r in sink.requests]

    wait_for(lambda: "firing" in kinds(), timeout=30)
    wait_for(lambda: "diagnostics" in kinds(), timeout=30)
    took = time.monotonic() - fired
    assert took < 15, f"the diagnostics' follow-up came {took:.1f} s after the alert"
    assert kinds().index("firing") < kinds().index("diagnostics")  # the page first
    follow = next(r.json() for r in sink.requests if r.json().get("kind") == "diagnostics")
    text = follow["text"]
    assert "Filesystem" in text  # df -h
    assert "$ ps aux --sort=-%mem | head -n 15" in text
    assert "$ cat /proc/loadavg" in text

    _, listed = server.request("GET", "/api/v1/incidents?limit=1")
    assert isinstance(listed, list)
    number = listed[0]["id"]
    _, runs = server.request("GET", f"/api/v1/incidents/{number}/runs")
    assert isinstance(runs, list)
    by_step = {r["step"]: r for r in runs}
    assert {r["result"] for s, r in by_step.items() if s <= 3} == {"ok"}
    assert all(r["automatic"] for r in runs) and all(r["risk"] == "read" for r in runs)
    assert by_step[5]["status"] == "refused"  # promql: no runner in the example
    _, record = server.request("GET", f"/api/v1/incidents/{number}/timeline")
    assert isinstance(record, list)
    assert "run_finished" in [e["kind"] for e in record]

    # a change waits for an approval, then runs
    _, steps = server.request("GET", f"/api/v1/incidents/{number}/steps")
    assert isinstance(steps, list)
    change = next(s for s in steps if s["risk"] == "change")
    assert change["refused"]  # its instance label is not plain: a person types one
    body = {"step": change["number"], "fill": {"instance": "db-1"}}
    status, asked = server.request("POST", f"/api/v1/incidents/{number}/runs", body)
    assert status == 201 and isinstance(asked, dict) and asked["status"] == "awaiting"
    time.sleep(1)
    assert not CACHE.exists()
    status, _ = server.request(
        "POST", f"/api/v1/runs/{asked['id']}/approve", {"digest": asked["digest"]}
    )
    assert status == 200
    wait_for(lambda: any(CACHE.glob("sweep-*")), timeout=15)
    assert [p.name for p in CACHE.iterdir()] == ["sweep-db-1"]

    # a destructive one is refused without a second person
    wrecking = next(s for s in steps if s["risk"] == "destructive")
    body = {"step": wrecking["number"], "approve": True, "digest": wrecking["digest"]}
    status, asked = server.request("POST", f"/api/v1/incidents/{number}/runs", body)
    assert status == 201 and isinstance(asked, dict) and asked["status"] == "awaiting"
    confirm = {"digest": asked["digest"], "confirm": wrecking["confirmation"]}
    status, refused = server.request("POST", f"/api/v1/runs/{asked['id']}/approve", confirm)
    assert status == 403 and isinstance(refused, dict)
    assert "second person" in refused["error"]["message"]
    time.sleep(1)
    assert CACHE.exists()
    # the second person, through the CLI against the server
    done = tocsin(
        "runs",
        "approve",
        str(asked["id"]),
        "--yes",
        "--confirm",
        wrecking["confirmation"],
        "--url",
        server.url,
        "--token",
        second,
    )
    assert "approved" not in done.stderr, done.stderr
    wait_for(lambda: not CACHE.exists(), timeout=15)
    listed_runs = tocsin("runs", "list", str(number), "--url", server.url, "--token", second)
    assert "destructive\tfinished ok" in listed_runs.stdout
