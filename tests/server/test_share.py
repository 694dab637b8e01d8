"""What every front door shows of an incident's runbook: commands filled from the alert's
labels in the record (issue 17, item 1), and the page's signed, expiring link to the incident's
text (item 10)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.runbooks.loader import load_catalog

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
receivers: [{name: default}]
"""

RUNBOOK = """
# Web runbook

## WebDown

Severity: critical

### Investigation
```bash
kubectl -n web describe pod {{ $labels.pod }}
curl -s http://<host>/health
```

### Remediation
```bash
kubectl -n web delete pod $POD
```
"""

HOSTILE = "web-1; rm -rf / #$(reboot)"


@pytest.fixture
def api(db: Engine, clock: VirtualClock, tmp_path: Path) -> Iterator[Api]:
    book = tmp_path / "web.md"
    book.write_text(dedent(RUNBOOK).lstrip())
    state = AppState(db=db, config=parse_config(CONFIG), clock=clock, catalog=load_catalog([book]))
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)


def _fire(api: Api) -> int:
    body = [{"labels": {"alertname": "WebDown", "pod": HOSTILE}}]
    assert api.post("/api/v2/alerts", body).status_code == 200
    api.run_engine()
    [incident] = api.get("/api/v1/incidents").json()
    return int(incident["id"])


def test_the_record_carries_the_commands_filled_from_the_labels(api: Api) -> None:
    number = _fire(api)
    for answer in (
        api.get(f"/api/v1/incidents/{number}").json()["runbooks"],
        api.get(f"/api/v1/incidents/{number}/runbook").json(),
    ):
        [section] = answer
        commands = [c for step in section["steps"] for c in step["commands"]]
        assert commands[0]["filled"] == (
            "kubectl -n web describe pod 'web-1; rm -rf / #$(reboot)'\ncurl -s http://<host>/health"
        )
        assert commands[0]["unfilled"] == ["<host>"]
        assert commands[1]["filled"] == "kubectl -n web delete pod 'web-1; rm -rf / #$(reboot)'"
        assert commands[0]["code"].startswith("kubectl -n web describe pod {{ $labels.pod }}")
