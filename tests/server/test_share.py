"""What every front door shows of an incident's runbook: commands filled from the alert's
labels in the record (issue 17, item 1), and the page's signed, expiring link to the incident's
text (item 10)."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.runbooks.loader import load_catalog
from tocsin.store.schema import notifications

CONFIG = """
global: {external_url: "https://tocsin.example.com/"}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  channels: [console]
receivers: [{name: default}]
channels: [{name: console, type: console}]
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
def api(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    # the data directory of a server on PostgreSQL (SQLite's is the database file's)
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    book = tmp_path / "web.md"
    book.write_text(dedent(RUNBOOK).lstrip())
    state = AppState(
        db=db,
        config=parse_config(CONFIG),
        clock=clock,
        catalog=load_catalog([book]),
    )
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


def _open_link(api: Api, number: int) -> str:
    with api.state.db.connect() as conn:
        rows = conn.execute(
            select(notifications.c.message).where(notifications.c.incident_id == number)
        ).all()
    [link] = {json.loads(row.message)["external_url"] for row in rows}
    return str(link)


def test_a_page_s_link_also_opens_the_incident_text_behind_its_signature(
    api: Api, clock: VirtualClock, tmp_path: Path
) -> None:
    number = _fire(api)
    link = _open_link(api, number)
    base = f"https://tocsin.example.com/incidents/{number}?"  # the console's page (test_console)
    assert link.startswith(base), link
    query = parse_qs(urlsplit(link).query)
    assert int(query["expires"][0]) == int(clock.now()) + 7 * 86400  # the default: 7 days
    path = _text_path(link)
    opened = api.client.get(path)  # no token
    assert opened.status_code == 200, opened.text
    assert opened.headers["content-type"].startswith("text/plain")
    assert opened.headers["x-content-type-options"] == "nosniff"
    text = opened.text
    assert text.startswith(f"Incident #{number}: WebDown")
    assert "      kubectl -n web describe pod 'web-1; rm -rf / #$(reboot)'" in text.splitlines()
    assert "    fill in: <host>" in text.splitlines()
    # the timeline in sentences, times to the second with their zone, no fingerprint
    timeline = text.split("Timeline (")[1]
    assert "WebDown" in timeline and "fingerprint" not in timeline and "{" not in timeline
    assert re.search(r"\n  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC Incident opened", timeline)
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", text)  # no fractions of a second
    key = next(
        p
        for p in (tmp_path / "share.key", Path(str(api.state.db.url.database)).parent / "share.key")
        if p.exists()
    )
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600

    clock.advance(7 * 86400)
    gone = api.client.get(path)
    assert gone.status_code == 410
    assert gone.text.startswith("410 Gone: this link expired at ")


def _text_path(link: str) -> str:
    """The incident's text behind the same signature as a page's link to the console."""
    return "/share" + link.removeprefix("https://tocsin.example.com")


def test_a_link_changed_in_any_part_is_refused(api: Api) -> None:
    number = _fire(api)
    path = _text_path(_open_link(api, number))
    expires = parse_qs(urlsplit(path).query)["expires"][0]
    sig = parse_qs(urlsplit(path).query)["sig"][0]
    for changed in (
        f"/share/incidents/{number + 1}?expires={expires}&sig={sig}",  # another incident
        f"/share/incidents/{number}?expires={int(expires) + 86400}&sig={sig}",  # longer
        f"/share/incidents/{number}?expires={expires}&sig={sig[:-2]}AA",  # forged
        f"/share/incidents/{number}?expires={expires}&sig=",
    ):
        refused = api.client.get(changed)
        assert refused.status_code == 403, changed
        assert refused.text.startswith("403 Forbidden: this link is not valid")
        assert "WebDown" not in refused.text
    past = f"/share/incidents/{number}?expires=1&sig={sig}"  # forged and past: forged
    assert api.client.get(past).status_code == 403


def test_the_link_lasts_as_long_as_the_configuration_says(api: Api, clock: VirtualClock) -> None:
    api.state.config = parse_config(CONFIG + "share_link_ttl: 1h\n")
    assert api.state.engine is not None
    api.state.engine.config = api.state.config
    number = _fire(api)
    query = parse_qs(urlsplit(_open_link(api, number)).query)
    assert int(query["expires"][0]) == int(clock.now()) + 3600
