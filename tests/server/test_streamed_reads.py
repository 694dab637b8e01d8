"""``GET /api/v2/alerts`` and ``/api/v2/alerts/groups`` are sent a chunk of alerts at a time:
the streamed answer is byte for byte the answer the whole read made (built here as it was, from
every firing alert at once), whatever the chunk size, for filters, receivers and states; a
budget spent after the first bytes ends the answer unfinished."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Generator, Iterator
from textwrap import dedent
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
import pytest
from fastapi.testclient import TestClient
from pytest import LogCaptureFixture, MonkeyPatch
from sqlalchemy import Engine
from starlette.types import Send

from tests.server.conftest import Api, make_state
from tests.server.test_api_v2 import _silence, iso
from tocsin import times
from tocsin.alerts.matchers import matches_filter, parse_matcher
from tocsin.api import alertmanager
from tocsin.api.alertmanager import Streamed, gettable_alert
from tocsin.api.app import create_app
from tocsin.clock import Budget, VirtualClock
from tocsin.incidents.flush import mute
from tocsin.service import silences
from tocsin.service.context import Context
from tocsin.store import repo, silence_cache

CONFIG = dedent(
    """
    route:
      receiver: default
      group_by: [alertname]
      routes:
        - matchers: ['severity="critical"']
          receiver: pager
          group_by: [alertname, instance]
          continue: true
        - matchers: ['team="db"']
          receiver: dba
          group_by: ['...']
        - matchers: ['team="web"']
          receiver: default
          group_by: [instance]
    receivers:
      - name: default
      - name: pager
      - name: dba
    inhibit_rules:
      - source_matchers: ['severity="critical"']
        target_matchers: ['severity="warning"']
        equal: [instance]
    """
)


def _alerts() -> list[dict[str, Any]]:
    out = []
    for n in range(40):
        labels = {
            "alertname": f"A{n % 4}",
            "instance": f"i{n % 7}",
            "severity": ["critical", "warning", "info"][n % 3],
        }
        if n % 5 == 0:
            labels["team"] = "db"
        elif n % 5 == 1:
            labels["team"] = "web"
        if n % 11 == 0:
            labels["note"] = 'say "hi"\\ ü'
        out.append({"labels": labels, "annotations": {"summary": f"alert {n}"}})
    return out


SILENCES = [
    [{"name": "alertname", "value": "A1", "isRegex": False}],
    [{"name": "instance", "value": "i[23]", "isRegex": True}],
]

QUERIES = [
    "",
    "?filter=" + quote('alertname="A2"'),
    "?filter=" + quote('alertname=~"A[13]"') + "&filter=" + quote('severity!="info"'),
    "?filter=" + quote('team=""'),
    "?receiver=pag.*",
    "?receiver=default&silenced=false",
    "?active=false",
    "?inhibited=false&silenced=false",
    "?active=false&silenced=false",
    "?filter=" + quote('alertname="nothing"'),
]


@pytest.fixture
def api(db: Engine, clock: VirtualClock) -> Iterator[Api]:
    state = make_state(db, clock, CONFIG)
    with TestClient(create_app(state, run_engine=False)) as client:
        found = Api(client, state, db)
        assert found.post("/api/v2/alerts", _alerts()).status_code == 200
        for matchers in SILENCES:
            silence = _silence(matchers, iso(-60), iso(3600))
            assert found.post("/api/v2/silences", silence).status_code == 200
        # one alert resolved: it is left out
        resolved = {**_alerts()[3], "endsAt": iso(-1)}
        assert found.post("/api/v2/alerts", [resolved]).status_code == 200
        yield found


def _whole(api: Api, query: str, groups: bool) -> bytes:
    """The answer as the whole read made it: every firing alert read at once, muted at once
    (the inhibition sources in fingerprint order), then shaped."""
    pairs = parse_qsl(query.lstrip("?"))
    params = dict(pairs)
    matchers = [parse_matcher(value) for name, value in pairs if name == "filter"]
    receiver = params.get("receiver")
    ctx = Context(api.state.db, api.state.config, api.state.clock)
    route = ctx.config.route
    now = times.to_dt(ctx.now())
    with ctx.db.connect() as conn:
        active = sorted(repo.active_alerts(conn, now), key=lambda a: a.fingerprint)
        index = silence_cache.active_index(conn, now)

    def receives(name: str) -> bool:
        return receiver is None or re.fullmatch(receiver, name) is not None

    alerts = {
        a.fingerprint: a.alert
        for a in active
        if matches_filter(matchers, a.labels)
        and any(receives(r.receiver) for r in route.match(a.labels))
    }
    sources = {a.fingerprint: a.labels for a in active}
    muting = mute(alerts, index, ctx.config.inhibit_rules, sources, now)
    shown = []
    for fp in sorted(alerts):
        routes = route.match(alerts[fp].labels)
        entry = gettable_alert(fp, alerts[fp], muting, routes)
        status = entry["status"]
        if params.get("active") == "false" and status["state"] == "active":
            continue
        if params.get("silenced") == "false" and status["silencedBy"]:
            continue
        if params.get("inhibited") == "false" and status["inhibitedBy"]:
            continue
        shown.append((entry, routes))
    if not groups:
        return orjson.dumps([entry for entry, _ in shown])
    found: dict[str, dict[str, Any]] = {}
    for entry, routes in shown:
        for taken in routes:
            if not receives(taken.receiver):
                continue
            group = found.setdefault(
                taken.group_key(entry["labels"]),
                {
                    "alerts": [],
                    "labels": taken.group_labels(entry["labels"]),
                    "receiver": {"name": taken.receiver},
                },
            )
            group["alerts"].append(entry)
    ordered = sorted(
        found.values(), key=lambda g: (sorted(g["labels"].items()), g["receiver"]["name"])
    )
    return orjson.dumps(ordered)


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_the_streamed_answers_are_those_of_the_whole_read(
    api: Api, monkeypatch: MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(silences, "CHUNK", chunk)
    every = orjson.loads(_whole(api, "", False))
    assert len(every) == 39
    assert {len(a["status"]["silencedBy"]) > 0 for a in every} == {True, False}
    assert {len(a["status"]["inhibitedBy"]) > 0 for a in every} == {True, False}
    for query in QUERIES:
        answer = api.get(f"/api/v2/alerts{query}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.content == _whole(api, query, False), query
        groups = api.get(f"/api/v2/alerts/groups{query}")
        assert groups.status_code == 200
        assert groups.content == _whole(api, query, True), query
    assert len(orjson.loads(api.get("/api/v2/alerts/groups").content)) > 20


def test_a_budget_spent_after_the_first_bytes_leaves_the_answer_unfinished(
    api: Api, monkeypatch: MonkeyPatch, caplog: LogCaptureFixture
) -> None:
    """A timer that stands still until the first chunk was sent, then jumps past the
    budget: the answer started (200) cannot turn into a 503, so it ends without its closing
    bracket, which no client can take for a shorter list."""
    monkeypatch.setattr(silences, "CHUNK", 2)
    started = []
    stream = Streamed.stream_response

    async def starts(self: Streamed, send: Send) -> None:
        started.append(True)
        await stream(self, send)

    def spent_later(ctx: Context, what: str) -> Budget:
        def timer() -> float:
            return 100.0 if started else 0.0

        return Budget(3, what, "narrow it with filter= or raise api.read_budget", timer)

    monkeypatch.setattr(Streamed, "stream_response", starts)
    monkeypatch.setattr(silences, "read_budget", spent_later)
    for path in ["/api/v2/alerts", "/api/v2/alerts/groups"]:
        started.clear()
        caplog.clear()
        with caplog.at_level(logging.WARNING, "tocsin.api"):
            answer = api.get(path)
        assert answer.status_code == 200
        assert answer.content.startswith(b'[{"')
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(answer.content)
        assert any("cut short" in r.getMessage() for r in caplog.records)


def test_a_client_that_stops_reading_holds_the_read_until_the_budget_is_spent(
    monkeypatch: MonkeyPatch, caplog: LogCaptureFixture
) -> None:
    """A send that never completes (a client that does not read) is given up when the
    budget is spent: the answer ends unfinished and the read (its connection) is closed."""
    closed = []

    def pieces() -> Generator[bytes, None, None]:
        try:
            yield b"["
            yield b"1"
            yield b"]"
        finally:
            closed.append(True)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()  # the client took nothing more

    monkeypatch.setattr(alertmanager, "SEND_AT_LEAST_S", 0.05)
    answer = Streamed(pieces(), Budget(0.05, "the read of the alerts"))
    with caplog.at_level(logging.WARNING, "tocsin.api"):
        asyncio.run(answer.stream_response(send))  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[-1]["more_body"] is True
    assert closed == [True]
    assert any("the client did not take the answer" in r.getMessage() for r in caplog.records)
