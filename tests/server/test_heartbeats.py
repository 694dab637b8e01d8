"""Heartbeats on the virtual clock (SQLite and PostgreSQL): a missed beat fires the monitor's
alert once into the normal pipeline (routed, grouped, paged), the next beat resolves it, two
replicas fire it once, a received Watchdog alert beats, and the doors refuse what they must."""

from __future__ import annotations

import threading
from pathlib import Path
from textwrap import dedent
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from tests.server.conftest import Api, make_state
from tocsin.api.app import create_app
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.engine.loop import DueWorkEngine
from tocsin.store import kinds
from tocsin.store.schema import alerts, due_work, heartbeats, incidents, timeline

CONFIG = dedent(
    """
    route:
      receiver: default
      group_by: [alertname, heartbeat]
      group_wait: 30s
      routes:
        - matchers: ['alertname="Watchdog"']
          receiver: "null"
        - matchers: ['alertname="HeartbeatMissed"']
          receiver: pager
          group_wait: 0s
          channels: [ops]
    receivers: [{name: default}, {name: pager}, {name: "null"}]
    channels: [{name: ops, type: console}]
    heartbeats:
      - name: backup
        interval: 10m
        grace: 5m
        labels: {severity: critical, team: ops}
        annotations: {runbook_url: "https://runbooks.example/backup"}
      - name: prometheus
        interval: 1m
        grace: 30s
        from_alert: ['alertname="Watchdog"']
    """
)


def settle(api: Api) -> None:
    """Engine passes until nothing is due now (the loop does the same: a pass that leaves
    work due now is followed by another at once)."""
    while api.run_engine():
        pass


def open_api(db: Engine, clock: VirtualClock, text: str = CONFIG) -> tuple[TestClient, Api]:
    state = make_state(db, clock, text)
    client = TestClient(create_app(state, run_engine=False))
    client.__enter__()
    return client, Api(client, state, db)


def missed(api: Api) -> list[dict[str, Any]]:
    """The incidents of heartbeat alerts, oldest first."""
    found = api.get(
        "/api/v1/incidents?status=pending,triggered,acknowledged,resolved&limit=100"
    ).json()
    return sorted(
        (i for i in found if i["group_labels"].get("alertname") == "HeartbeatMissed"),
        key=lambda i: i["id"],
    )


def states(api: Api) -> dict[str, str]:
    return {h["name"]: h["state"] for h in api.get("/api/v1/heartbeats").json()["heartbeats"]}


def test_a_missed_beat_fires_once_and_the_next_beat_resolves_it(
    db: Engine, clock: VirtualClock
) -> None:
    client, api = open_api(db, clock)
    with client:
        settle(api)  # the engine watches the configured heartbeats from now
        assert api.post("/api/v1/heartbeats/backup", None, role="intake").status_code == 200
        api.post("/api/v2/alerts", [{"labels": {"alertname": "Watchdog"}}], role="intake")
        clock.advance(60)
        api.post("/api/v2/alerts", [{"labels": {"alertname": "Watchdog"}}], role="intake")
        clock.advance(14 * 60 - 1)  # 15 min after the beat is the deadline: one second short
        settle(api)
        assert states(api)["backup"] == "ok"
        assert [i for i in missed(api) if i["group_labels"]["heartbeat"] == "backup"] == []
        clock.advance(1)
        settle(api)
        assert states(api)["backup"] == "missed"
        [incident] = [i for i in missed(api) if i["group_labels"]["heartbeat"] == "backup"]
        assert incident["status"] == "triggered" and incident["receiver"] == "pager"
        record = api.get(f"/api/v1/incidents/{incident['id']}").json()
        [alert] = record["alerts"]
        assert alert["labels"] == {
            "alertname": "HeartbeatMissed",
            "heartbeat": "backup",
            "severity": "critical",
            "team": "ops",
        }
        assert alert["annotations"]["last_beat"] == "2027-01-15T08:00:00+00:00"
        assert alert["annotations"]["runbook_url"] == "https://runbooks.example/backup"
        assert "since 2027-01-15T08:00:00+00:00" in alert["annotations"]["summary"]
        assert alert["starts_at"].startswith("2027-01-15T08:15:00")
        pages = api.get(f"/api/v1/incidents/{incident['id']}/notifications").json()
        assert [(n["channel"], n["kind"]) for n in pages] == [("ops", "firing")]

        for _ in range(10):  # still missed: sent again, never a second incident or page
            clock.advance(60)
            settle(api)
        assert len([i for i in missed(api) if i["group_labels"]["heartbeat"] == "backup"]) == 1
        pages = api.get(f"/api/v1/incidents/{incident['id']}/notifications").json()
        assert [n["kind"] for n in pages] == ["firing"]

        answer = api.post("/api/v1/heartbeats/backup", None, role="intake").json()
        assert answer["state"] == "missed" and answer["beats"] == 2  # the engine resolves it
        settle(api)
        assert states(api)["backup"] == "ok"
        [alert] = api.get(f"/api/v1/incidents/{incident['id']}").json()["alerts"]
        assert alert["ends_at"].startswith("2027-01-15T08:25:00")  # resolved at the beat
        clock.advance(5 * 60)  # the group's next flush (group_interval) says so and resolves
        settle(api)
        record = api.get(f"/api/v1/incidents/{incident['id']}").json()
        assert record["status"] == "resolved"
        pages = api.get(f"/api/v1/incidents/{incident['id']}/notifications").json()
        assert [n["kind"] for n in pages] == ["firing", "resolved"]

        # missed again later: a new incident, paged again
        clock.advance(10 * 60)
        settle(api)
        backups = [i for i in missed(api) if i["group_labels"]["heartbeat"] == "backup"]
        assert [i["status"] for i in backups] == ["resolved", "triggered"]


def test_a_watchdog_alert_beats_and_its_silence_pages(db: Engine, clock: VirtualClock) -> None:
    """Prometheus's always-firing Watchdog, routed to a null receiver as kube-prometheus
    does, keeps the `prometheus` heartbeat alive; when it stops, someone is paged."""
    client, api = open_api(db, clock)
    with client:
        settle(api)
        for _ in range(5):  # Prometheus resends every minute
            answer = api.post(
                "/api/v2/alerts",
                [{"labels": {"alertname": "Watchdog", "severity": "none"}}],
                role="intake",
            )
            assert answer.status_code == 200
            clock.advance(60)
            settle(api)
        assert states(api)["prometheus"] == "ok"
        with db.connect() as conn:
            count = conn.execute(
                select(heartbeats.c.beats).where(heartbeats.c.name == "prometheus")
            )
            assert count.scalar_one() == 5
        # a resolved Watchdog is no beat
        api.post(
            "/api/v2/alerts",
            [
                {
                    "labels": {"alertname": "Watchdog", "severity": "none"},
                    "endsAt": "2027-01-15T08:00:00Z",
                }
            ],
            role="intake",
        )
        clock.advance(31)  # 90 s after the last beat
        settle(api)
        assert states(api)["prometheus"] == "missed"
        [incident] = [i for i in missed(api) if i["group_labels"]["heartbeat"] == "prometheus"]
        assert incident["status"] == "triggered"
        # the Watchdog itself went to the null receiver and paged nobody
        watchdogs = [
            i
            for i in api.get("/api/v1/incidents?limit=100").json()
            if i["group_labels"].get("alertname") == "Watchdog"
        ]
        assert all(i["receiver"] == "null" for i in watchdogs)
        # the webhook intake (Alertmanager in front) beats too
        api.post(
            "/api/v1/intake/alertmanager",
            {
                "version": "4",
                "status": "firing",
                "receiver": "tocsin",
                "groupKey": "{}:{}",
                "groupLabels": {},
                "commonLabels": {},
                "commonAnnotations": {},
                "externalURL": "http://am",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "Watchdog"},
                        "annotations": {},
                        "startsAt": "2027-01-15T08:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                    }
                ],
            },
            role="intake",
        )
        settle(api)
        assert states(api)["prometheus"] == "ok"
        for _ in range(5):  # Prometheus is back: until the group's next flush resolves it
            clock.advance(60)
            watchdog = [{"labels": {"alertname": "Watchdog", "severity": "none"}}]
            api.post("/api/v2/alerts", watchdog, role="intake")
            settle(api)
        assert api.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "resolved"


def test_an_anonymous_intakes_watchdog_is_stored_but_beats_nothing(
    db: Engine, clock: VirtualClock
) -> None:
    """A beat needs an intake token: an intake that takes requests without one (anonymous)
    stores a Watchdog it is sent, but it keeps no dead man's switch alive, or anyone who can
    reach tocsin could hide a broken Prometheus."""
    text = CONFIG + dedent(
        """
        intakes:
          - name: open
            anonymous: true
            labels: {alertname: "name"}
        """
    )
    client, api = open_api(db, clock, text)
    with client:
        settle(api)
        answer = api.client.post("/api/v1/intake/open", json={"name": "Watchdog"})
        assert answer.status_code == 200 and answer.json()["stored"] == 1
        with db.connect() as conn:
            beats = conn.execute(
                select(heartbeats.c.beats).where(heartbeats.c.name == "prometheus")
            ).scalar_one_or_none()
        assert not beats
        # with an intake token, the same intake's Watchdog beats
        assert (
            api.post("/api/v1/intake/open", {"name": "Watchdog"}, role="intake").status_code == 200
        )
        with db.connect() as conn:
            beats = conn.execute(
                select(heartbeats.c.beats).where(heartbeats.c.name == "prometheus")
            ).scalar_one()
        assert beats == 1


def test_two_replicas_fire_a_missed_heartbeat_once(db: Engine, clock: VirtualClock) -> None:
    config = parse_config(CONFIG)
    engines = [DueWorkEngine(db, config, clock, owner=f"replica-{n}") for n in range(2)]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(engine: DueWorkEngine) -> None:
        try:
            barrier.wait(timeout=10)
            engine.run_due()
        except BaseException as exc:  # the test reads it below
            failures.append(exc)

    for moment in (0.0, 16 * 60.0, 60.0, 60.0):  # watch together; missed; sent again twice
        clock.advance(moment)
        threads = [threading.Thread(target=run, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not failures, failures
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(heartbeats)).scalar_one() == 2
        items = conn.execute(
            select(func.count()).select_from(due_work).where(due_work.c.kind == kinds.HEARTBEAT)
        ).scalar_one()
        assert items == 2
        fired = conn.execute(
            select(func.count())
            .select_from(alerts)
            .where(alerts.c.labels.like('%"HeartbeatMissed"%'))
        ).scalar_one()
        assert fired == 2  # one alert each for backup and prometheus (never beaten)
        opened = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
        assert opened == 2
        triggered = conn.execute(
            select(func.count()).select_from(timeline).where(timeline.c.kind == "triggered")
        ).scalar_one()
        assert triggered == 2


def test_the_doors_refuse_what_they_must(db: Engine, clock: VirtualClock) -> None:
    client, api = open_api(db, clock)
    with client:
        assert api.post("/api/v1/heartbeats/backup", None, role="viewer").status_code == 403
        unknown = api.post("/api/v1/heartbeats/nightly", None, role="intake")
        assert unknown.status_code == 404 and "nightly" in unknown.json()["error"]["message"]
        assert client.post("/api/v1/heartbeats/backup").status_code == 401
        assert api.get("/api/v1/heartbeats", role="intake").status_code == 403
        listed = api.get("/api/v1/heartbeats", role="viewer").json()["heartbeats"]
        assert [h["name"] for h in listed] == ["backup", "prometheus"]
        assert listed[0]["last_beat"] is None and listed[0]["state"] == "ok"
        assert listed[1]["from_alert"] == ['alertname="Watchdog"']
        # a beat before any engine watched it makes its row
        done = api.post("/api/v1/heartbeats/backup", None, role="intake").json()
        assert done["last_beat"] == "2027-01-15T08:00:00+00:00" and done["beats"] == 1


def test_a_heartbeat_removed_by_a_reload_ends_and_its_alert_resolves(
    tmp_path: Path, db: Engine, clock: VirtualClock
) -> None:
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG)
    client, api = open_api(db, clock)
    api.state.config_path = path
    with client:
        settle(api)
        clock.advance(16 * 60)
        settle(api)
        assert states(api) == {"backup": "missed", "prometheus": "missed"}
        path.write_text(CONFIG.split("  - name: prometheus")[0])
        assert client.post("/-/reload", headers=api.headers("admin")).status_code == 200
        clock.advance(1)
        settle(api)
        assert states(api) == {"backup": "missed"}
        clock.advance(5 * 60)  # the group's next flush says it resolved
        settle(api)
        [gone] = [i for i in missed(api) if i["group_labels"]["heartbeat"] == "prometheus"]
        assert gone["status"] == "resolved"
        with db.connect() as conn:
            names = conn.execute(select(heartbeats.c.name)).scalars().all()
            assert names == ["backup"]


def test_the_console_lists_the_heartbeats_missed_first(db: Engine, clock: VirtualClock) -> None:
    from tests.server.test_console import signin
    from tocsin.web import console

    state = make_state(db, clock, CONFIG)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        api = Api(client, state, db)
        api.post("/api/v1/heartbeats/prometheus", None, role="intake")
        settle(api)
        clock.advance(15 * 60)  # backup is missed; prometheus beats again just in time
        api.post("/api/v1/heartbeats/prometheus", None, role="intake")
        settle(api)
        assert "/signin" in str(client.get("/heartbeats").url)  # not signed in
        assert signin(client, api.tokens["viewer"], "/heartbeats").status_code == 303
        shown = client.get("/heartbeats")
        assert shown.status_code == 200 and "/heartbeats" in str(shown.url), shown.text
        text = shown.text
        assert text.index("<code>backup</code>") < text.index("<code>prometheus</code>")
        assert "missed since 2027-01-15 08:15:00 UTC" in text
        assert "2 beats" in text and "never" in text
        assert "<code>alertname=&#34;Watchdog&#34;</code>" in text


def test_a_simulation_says_it_leaves_heartbeats_out(tmp_path: Path) -> None:
    """A scenario sends no beats: every heartbeat would be missed, so none is checked, and
    the warnings say so rather than leaving it unsaid."""
    from typer.testing import CliRunner

    from tocsin.cli import app

    (tmp_path / "tocsin.yaml").write_text(CONFIG)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "config: tocsin.yaml\nstart: 2027-01-15T08:00:00Z\nuntil: 1h\nevents:\n"
        "  - {at: 0s, fire: {alertname: Disk, severity: warning}}\n"
    )
    done = CliRunner().invoke(app, ["simulate", str(scenario), "--format", "table"])
    assert done.exit_code == 0, done.output
    assert "HeartbeatMissed" not in done.output.split("Warnings")[0]
    warned = " ".join(done.output.split("Warnings")[1].split())
    assert "heartbeats are not simulated" in warned and "backup, prometheus" in warned
