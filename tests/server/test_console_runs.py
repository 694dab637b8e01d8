"""Issue 20: the console's runbook panel runs a step, and its runs are approved, refused and
run again from the incident's page, through the service layer, with CSRF checked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.server.conftest import Api
from tests.server.test_console import _csrf, signin
from tests.server.test_runs import Harness, _harness
from tocsin.api.app import create_app
from tocsin.clock import VirtualClock
from tocsin.web import console


@pytest.fixture
def harness(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    state, paths = _harness(db, clock, tmp_path, auto=False)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Harness(Api(client, state, db), paths)


def _form(page: str, step: int) -> dict[str, str]:
    """The hidden fields of the Run form of step ``step``."""
    start = page.index(f'name="step" value="{step}"')
    form = page[page.rindex("<form", 0, start) : page.index("</form>", start)]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_a_responder_runs_a_read_step_and_reads_its_output(harness: Harness) -> None:
    number = harness.fire("db-1<b>&")
    client = harness.api.client
    assert signin(client, harness.api.tokens["responder"]).status_code == 303
    page = client.get(f"/incidents/{number}").text
    assert "#1" in page and "runs on local" in page
    assert "No runbook command has run for this incident." in page
    assert "db-1<b>&" not in page and "db-1&lt;b&gt;&amp;" in page  # escaped
    assert 'name="step" value="1"' not in page  # its label is not plain: no Run button
    sent = client.post(f"/incidents/{number}/run", data=_form(page, 2), follow_redirects=False)
    assert sent.status_code == 303 and "is+running" in sent.headers["location"]
    harness.drain()
    after = client.get(f"/incidents/{number}").text
    assert "disk is 97% full" in after and "Run again</button>" in after
    forged = client.post(
        f"/incidents/{number}/run", data={**_form(page, 2), "csrf": "x"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert len(harness.runs(number)) == 1


def test_a_change_approved_from_the_page_and_a_destructive_one_by_a_second_person(
    harness: Harness,
) -> None:
    number = harness.fire()
    client = harness.api.client
    signin(client, harness.api.tokens["responder"])
    page = client.get(f"/incidents/{number}").text
    assert "I approve this exact command" in page
    assert "Ask to run (a second person approves)" in page
    change = {**_form(page, 4), "approve": "on"}
    client.post(f"/incidents/{number}/run", data=change, follow_redirects=False)
    harness.drain()
    assert harness.paths["made"].exists()
    client.post(f"/incidents/{number}/run", data=_form(page, 5), follow_redirects=False)
    run = harness.runs(number)[0]
    assert run["status"] == "awaiting"
    page = client.get(f"/incidents/{number}").text
    assert "Type its first line to confirm" in page and "Approve and run</button>" in page
    own = client.post(
        f"/runs/{run['id']}/approve",
        data={
            "csrf": _csrf(page),
            "digest": run["digest"],
            "confirm": f"rm -rf {harness.paths['cache']}",
        },
        follow_redirects=False,
    )
    assert own.status_code == 403 and "second person" in own.text
    other = TestClient(client.app)
    signin(other, harness.second)
    page = other.get(f"/incidents/{number}").text
    done = other.post(
        f"/runs/{run['id']}/approve",
        data={
            "csrf": _csrf(page),
            "digest": run["digest"],
            "confirm": f"rm -rf {harness.paths['cache']}",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    harness.drain()
    assert not harness.paths["cache"].exists()
    assert "approved by ben" in other.get(f"/incidents/{number}").text


def test_a_viewer_sees_runs_without_buttons(harness: Harness) -> None:
    number = harness.fire()
    harness.api.post(f"/api/v1/incidents/{number}/runs", {"step": 4})
    client = harness.api.client
    signin(client, harness.api.tokens["viewer"])
    page = client.get(f"/incidents/{number}").text
    assert "Run 1" in page and "Approve and run" not in page
    assert f'action="/incidents/{number}/run"' not in page and 'action="/runs/' not in page
