"""Delivery against a real ``tocsin serve`` (issue 17): resolving an incident whose alert still
fires warns, and the resolution reaches Slack before the page of the incident the alert opens
next (item 3); each delivery is recorded as it completes and a kill -9 re-sends only what
was in flight (item 29)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink, Reply
from tests.server.test_real_clients import Server, tocsin
from tests.server.waiting import wait_for

pytestmark = pytest.mark.slow


def db_args(tmp_path: Path, database_url: str) -> list[str]:
    if database_url.startswith("sqlite"):
        return ["--data-dir", str(tmp_path / "data")]
    return ["--database-url", database_url]


def start(tmp_path: Path, config: str, database_url: str) -> tuple[Server, Path, list[str]]:
    path = tmp_path / "tocsin.yaml"
    path.write_text(dedent(config))
    args = db_args(tmp_path, database_url)
    token = tocsin("tokens", "create", "--role", "admin", *args).stdout.splitlines()[-1]
    server = Server.serving(path, token, tmp_path, args)
    server.start()
    return server, path, args


ORDER = """
global: {{resolve_timeout: 1h}}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 10m
  channels: [team]
receivers: [{{name: default}}]
channels:
  - name: team
    type: slack
    url: "{team}"
    retry: {{max_attempts: 5, initial_backoff: 1s, max_backoff: 1s}}
delivery: {{lease: 3s, order_wait: 1s}}
"""

ALERT = [{"labels": {"alertname": "DatabaseDown", "instance": "db1", "severity": "critical"}}]


def slack_said(sink: HttpSink) -> list[tuple[str, str]]:
    """(header, incident link text) of every request the Slack sink received, in order."""
    out = []
    for request in sink.requests:
        blocks = request.json()["blocks"]
        context = blocks[-1]["elements"][0]["text"]
        out.append((blocks[0]["text"]["text"], context.split("|")[-1].split(">")[0]))
    return out


def test_resolving_a_firing_incident_warns_and_its_resolution_goes_out_first(
    tmp_path: Path, database_url: str
) -> None:
    with HttpSink("slack") as team:
        server, config, args = start(tmp_path, ORDER.format(team=team.url), database_url)
        try:
            assert server.request("POST", "/api/v2/alerts", ALERT)[0] == 200
            wait_for(lambda: len(team.requests) == 1)
            team.reply(503, b"busy")  # the resolution's first attempt fails: it is retried
            status, done = server.request("POST", "/api/v1/incidents/1/resolve")
            assert status == 200 and isinstance(done, dict) and done["status"] == "resolved"
            warning = done["warning"]
            assert "1 alert of this incident still fires (DatabaseDown)" in warning
            assert "a new incident opens" in warning
            wait_for(lambda: len(team.requests) == 2)  # the attempt answered 503
            # Prometheus sends the alert again: incident #2 opens and pages at once, but its
            # page waits for #1's resolution, which was decided first
            assert server.request("POST", "/api/v2/alerts", ALERT)[0] == 200
            wait_for(lambda: len(team.requests) == 4)
            assert slack_said(team) == [
                ("[FIRING:1] DatabaseDown (critical)", "Incident #1"),
                ("[RESOLVED] DatabaseDown (critical)", "Incident #1"),  # 503
                ("[RESOLVED] DatabaseDown (critical)", "Incident #1"),
                ("[FIRING:1] DatabaseDown (critical)", "Incident #2"),
            ]
            time.sleep(1.5)
            assert len(team.requests) == 4
        finally:
            server.kill()
        # the CLI says the same to a person at a terminal
        cli = tocsin("incident", "resolve", "2", "--config", str(config), *args, check=False)
        assert cli.returncode == 0, cli.stderr
        assert "warning: 1 alert of this incident still fires (DatabaseDown)" in " ".join(
            cli.stderr.split()
        )


KILL = """
global: {{resolve_timeout: 1h}}
route:
  receiver: default
  group_by: [instance]
  group_wait: 0s
  group_interval: 10m
  channels: [fast, slow]
receivers: [{{name: default}}]
channels:
  - {{name: fast, type: webhook, url: "{fast}"}}
  - name: slow
    type: webhook
    url: "{slow}"
    concurrency: 4
    retry: {{timeout: 2m}}
delivery: {{lease: 2s, order_wait: 1s}}
"""


def keys(sink: HttpSink) -> Counter[str]:
    return Counter(r.headers["idempotency-key"] for r in sink.requests)


def statuses(server: Server, incidents: int) -> dict[str, list[str]]:
    """Each channel's notification statuses over the incidents, as the API shows them."""
    out: dict[str, list[str]] = {"fast": [], "slow": []}
    for incident in range(1, incidents + 1):
        _, notes = server.request("GET", f"/api/v1/incidents/{incident}/notifications")
        assert isinstance(notes, list)
        for note in notes:
            out[note["channel"]].append(note["status"])
    return out


def test_a_kill_during_deliveries_resends_only_what_was_in_flight(
    tmp_path: Path, database_url: str
) -> None:
    groups = 10
    with HttpSink() as fast, HttpSink(default=Reply(delay_s=60)) as slow:
        server, config, args = start(
            tmp_path, KILL.format(fast=fast.url, slow=slow.url), database_url
        )
        try:
            alerts: list[dict[str, Any]] = [
                {"labels": {"alertname": "DiskFull", "instance": f"db{i}"}} for i in range(groups)
            ]
            assert server.request("POST", "/api/v2/alerts", alerts)[0] == 200
            # the fast channel's deliveries are recorded as they complete, while the slow
            # channel's first four (its concurrency) hang
            wait_for(lambda: statuses(server, groups)["fast"] == ["sent"] * groups)
            wait_for(lambda: len(slow.requests) == 4)
            time.sleep(3)  # past the 2 s lease: renewed while the sends run, nobody re-sends
            assert len(slow.requests) == 4 and max(keys(slow).values()) == 1
            assert statuses(server, groups)["slow"] == ["pending"] * groups
            in_flight = set(keys(slow))
        finally:
            server.kill(signal.SIGKILL)
        slow.default = Reply()  # the slow channel answers at once from now on
        restarted = Server.serving(config, server.token, tmp_path, args)
        restarted.start()
        try:
            wait_for(lambda: statuses(restarted, groups)["slow"] == ["sent"] * groups)
            wait_for(lambda: len(slow.requests) >= groups + len(in_flight))
            time.sleep(1)
        finally:
            restarted.kill()
    # nothing lost: every notification reached its sink
    assert len(keys(fast)) == groups and len(keys(slow)) == groups
    # the fast channel's were recorded before the kill: none sent twice
    assert max(keys(fast).values()) == 1
    # the slow channel's: only those in flight at the kill went twice
    twice = {key for key, n in keys(slow).items() if n > 1}
    assert twice == in_flight and max(keys(slow).values()) == 2


def test_the_delivery_timings_are_configured_with_defaults_and_bounded() -> None:
    from tocsin.config import parse_config
    from tocsin.errors import Invalid

    base = "route: {receiver: default}\nreceivers: [{name: default}]\n"
    delivery = parse_config(base).model.delivery
    assert (delivery.lease, delivery.order_wait) == ("30s", "5s")
    assert parse_config(base + "delivery: {lease: 10s}\n").model.delivery.lease == "10s"
    with pytest.raises(Invalid, match=r"tocsin.yaml:3:19: delivery.lease: must be at least 1s"):
        parse_config(base + "delivery: {lease: 0s}\n")


def test_a_batch_knows_its_order_from_the_transaction_that_made_it(db: Engine) -> None:
    """The deliveries a transaction creates (``take_new``) or claims (``to_send``) come with
    their group and whether an earlier message of that group and channel is still to be
    sent, so the sender asks the database nothing between the commit and the send."""
    from sqlalchemy import insert

    from tocsin.store import outbox
    from tocsin.store.db import begin_write
    from tocsin.store.schema import incidents

    now = 1_800_000_000.0
    with begin_write(db) as conn:
        for group in ("g1", "g1", "g2"):
            conn.execute(
                insert(incidents).values(
                    group_key=group,
                    route_id="r",
                    receiver="default",
                    group_labels="{}",
                    status="triggered",
                    opened_at=now,
                    first_alert_at=now,
                    last_alert_at=now,
                    group_wait_s=0,
                    group_interval_s=300,
                    repeat_interval_s=3600,
                )
            )

    def pending(incident: int, channel: str, key: str) -> outbox.Pending:
        return outbox.Pending(incident, channel, f"channel:{channel}", "firing", {}, key)

    with begin_write(db) as conn:  # incident 1's resolution, still to be sent
        (earlier,) = outbox.enqueue(conn, [pending(1, "team", "resolution")], now)
        outbox.forget_new(conn)
    with begin_write(db) as conn:  # incident 2 (same group) and 3 (another) page
        outbox.enqueue(
            conn,
            [pending(2, "team", "page"), pending(2, "mail", "mail"), pending(3, "team", "other")],
            now,
        )
        created = outbox.take_new(conn, "me", now, 30)
    rows = {row.idempotency_key: row for _item, row in created}
    assert {k: (r.order_group, r.order_waits) for k, r in rows.items()} == {
        "page": ("g1", True),  # after the resolution of the same group and channel
        "mail": ("g1", False),  # another channel: nothing before it
        "other": ("g2", False),  # another group
    }
    with begin_write(db) as conn:  # claimed together, neither waits: the batch orders them
        both = outbox.to_send(conn, [earlier, rows["page"].id])
    assert [r.order_waits for r in both.values()] == [False, False]
    with begin_write(db) as conn:  # the resolution is sent: the page waits no more
        outbox.record_attempt(conn, earlier, now, True, 200, "", 1.0, "me")
        (row,) = outbox.to_send(conn, [rows["page"].id]).values()
    assert row.order_waits is False
