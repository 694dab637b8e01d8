"""``/-/reload`` (and SIGHUP, which calls the same ``AppState.reload``): the configuration file
is loaded again; a broken one is refused and the running one stays. ``tocsin serve`` settles
its memory again after each reload, so that the old configuration can be collected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from textwrap import dedent

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.server.conftest import CONFIG, Api, make_state
from tocsin.api.app import create_app
from tocsin.clock import VirtualClock


def _routes_test(api: Api, labels: dict[str, str]) -> set[str]:
    """The receivers of the groups a fresh alert with ``labels`` lands in."""
    assert api.post("/api/v2/alerts", [{"labels": labels}], role="intake").status_code == 200
    groups = api.get("/api/v2/alerts/groups", role="viewer").json()
    return {
        g["receiver"]["name"] for g in groups if g["labels"].get("alertname") == labels["alertname"]
    }


def test_reload_loads_the_file_again_and_refuses_a_broken_one(
    tmp_path: Path, db: Engine, clock: VirtualClock
) -> None:
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG)
    state = make_state(db, clock)
    state.config_path = path
    settled: list[int] = []
    state.after_reload = lambda: settled.append(1)
    with TestClient(create_app(state, run_engine=False)) as client:
        api = Api(client, state, db)
        assert _routes_test(api, {"alertname": "Before", "team": "db"}) == {"default"}

        changed = CONFIG.replace(
            "    - matchers: ['severity=\"critical\"']\n",
            "    - matchers: ['team=\"db\"']\n      receiver: dba\n"
            "    - matchers: ['severity=\"critical\"']\n",
        ).replace("  - name: pager\n", "  - name: pager\n  - name: dba\n")
        assert changed.count("dba") == 2
        path.write_text(changed)
        answer = client.post("/-/reload", headers=api.headers("admin"))
        assert (answer.status_code, answer.text) == (200, "OK")
        assert _routes_test(api, {"alertname": "After", "team": "db"}) == {"dba"}
        assert settled == [1]

        path.write_text(
            CONFIG
            + dedent("""
            route_typo: {}
            """)
        )
        refused = client.post("/-/reload", headers=api.headers("admin"))
        assert refused.status_code == 500 and "route_typo" in refused.text
        assert _routes_test(api, {"alertname": "Kept", "team": "db"}) == {"dba"}  # still
        assert settled == [1]  # nothing was replaced


def test_settling_again_collects_what_was_frozen() -> None:
    """A reference cycle frozen at start and dropped by a reload is collected by the next
    settle (in a process of its own: freezing reaches every object of the process)."""
    program = dedent("""
        import gc, weakref
        from tocsin.serve import settle_memory

        class Config:
            pass

        old = Config()
        old.self = old  # a cycle: reference counting alone never frees it
        gone = weakref.ref(old)
        settle_memory()  # at start: the configuration is frozen
        del old  # a reload replaced it
        gc.collect()
        assert gone() is not None, "frozen objects are not collected"
        settle_memory()  # after the reload
        assert gone() is None, "the old configuration was not collected"
        print("ok")
        """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr
