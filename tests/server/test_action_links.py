"""Issue 21 (email action links): a page to a person carries signed, expiring, single-use
links to acknowledge and resolve. A GET shows what the link will do and acts on nothing (mail
scanners fetch links first); the button on that page acts once, as that person; a used,
expired or altered link says so plainly and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.notify.message import from_json
from tocsin.notify.templates import ChannelTemplateSet
from tocsin.store.schema import notifications
from tocsin.web import console

CONFIG = """
global: {external_url: "https://tocsin.example.com"}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  escalation_policy: page
receivers: [{name: default}]
channels: [{name: mail, type: console}]
users:
  - {name: alice, email: alice@example.com, contact: [mail]}
escalation_policies:
  - name: page
    steps: [{targets: ["user:alice"], delay: 1h}]
"""


@pytest.fixture
def api(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))  # the key of links, on PostgreSQL
    state = AppState(db=db, config=parse_config(CONFIG), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Api(client, state, db)


def _page(api: Api) -> tuple[int, dict[str, str], str]:
    body = [{"labels": {"alertname": "DiskFull", "instance": "db-1"}}]
    assert api.post("/api/v2/alerts", body).status_code == 200
    api.run_engine()
    number = int(api.get("/api/v1/incidents?limit=1").json()[0]["id"])
    with api.state.db.connect() as conn:
        rows = conn.execute(
            select(notifications.c.message).where(notifications.c.target == "user:alice")
        ).all()
    message = json.loads(rows[0].message)
    text = ChannelTemplateSet("mail", SimpleNamespace(title=None, text=None, html=None))
    rendered = text.render_all(from_json(message))
    return number, message["actions"], rendered.text


def _local(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_a_page_carries_links_that_act_once_on_a_tap_never_on_a_get(api: Api) -> None:
    number, links, text = _page(api)
    assert set(links) == {"acknowledge", "resolve"}
    assert f"Acknowledge: {links['acknowledge']}" in text  # the email's text
    assert links["acknowledge"].startswith(f"https://tocsin.example.com/act/acknowledge/{number}?")
    path, query = _local(links["acknowledge"])
    shown = api.client.get(path, params=query)
    assert shown.status_code == 200
    assert "Acknowledge this incident as <b>alice</b>?" in shown.text
    assert api.get(f"/api/v1/incidents/{number}").json()["status"] == "triggered"
    done = api.client.post(path, data=query)
    assert done.status_code == 200 and "Acknowledged by alice" in done.text
    found = api.get(f"/api/v1/incidents/{number}").json()
    assert found["status"] == "acknowledged" and found["acknowledged_by"] == "alice"
    again = api.client.post(path, data=query)
    assert again.status_code == 409 and "used already, by alice" in again.text
    assert "This link was used already, by alice" in api.client.get(path, params=query).text
    events = api.get(f"/api/v1/incidents/{number}/timeline?kind=acknowledged").json()
    assert len(events) == 1 and events[0]["detail"]["via"] == "link"
    # the resolve link of the same message still works, once
    path, query = _local(links["resolve"])
    assert api.client.post(path, data=query).status_code == 200
    assert api.get(f"/api/v1/incidents/{number}").json()["resolved_by"] == "alice"


def test_an_altered_or_expired_link_acts_on_nothing(api: Api) -> None:
    number, links, _ = _page(api)
    path, query = _local(links["acknowledge"])
    for changed in ({"who": "mallory"}, {"sig": query["sig"][:-2] + "AA"}, {"n": "0" * 32}):
        refused = api.client.post(path, data={**query, **changed})
        assert refused.status_code == 403 and "not valid" in refused.text
    other = api.client.post(path.replace("acknowledge", "resolve"), data=query)
    assert other.status_code == 403
    assert api.client.post(path.replace(f"/{number}", "/999"), data=query).status_code == 403
    assert api.client.get("/act/delete/1", params=query).status_code == 422
    assert isinstance(api.state.clock, VirtualClock)
    api.state.clock.advance(8 * 86400)  # past share_link_ttl (7 days)
    expired = api.client.post(path, data=query)
    assert expired.status_code == 410 and "expired" in expired.text
    assert api.get(f"/api/v1/incidents/{number}").json()["status"] == "triggered"
