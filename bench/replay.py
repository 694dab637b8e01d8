"""Benchmark: ``tocsin replay`` over a stored history it makes first.

The history: N alerts (each its own group, a few minutes to an hour long, one every
``days * 86400 / N`` seconds) run through ``tocsin simulate`` into a SQLite file, so that the
database holds what a server would have stored (alerts, incidents, timelines, pages). Then the
window is replayed through a candidate that groups by ``service`` instead of ``alertname``
and ``instance``. Prints the time, the engine passes, and the peak of Python's allocations
(``tracemalloc``) for the history's reading alone (in chunks) and, with ``--trace``, for the
whole replay (tracing slows it two to three times: its time is then not the replay's).

    .venv/bin/python bench/replay.py [--alerts N] [--days D] [--trace]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import yaml

from tocsin.config import parse_config
from tocsin.service import replay
from tocsin.service.context import local
from tocsin.simulate import parse_scenario, run
from tocsin.simulate.replay import play
from tocsin.store import history
from tocsin.store.db import database_url, make_engine, upgrade

CONFIG = """
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  escalation_policy: primary
receivers: [{name: default}]
channels:
  - {name: pager, type: webhook, url: "http://127.0.0.1:9/pager"}
users:
  - {name: alice, contact: [pager], timezone: Europe/Berlin}
  - {name: bob, contact: [pager], timezone: America/New_York}
rotations:
  - name: weekly
    type: weekly
    start: "2027-01-04T09:00"
    timezone: UTC
    participants: [alice, bob]
schedules:
  - {name: primary, layers: [{rotation: weekly}]}
escalation_policies:
  - name: primary
    steps:
      - {targets: ["schedule:primary"], delay: 10m}
"""
START = datetime(2027, 1, 4, tzinfo=UTC)


def scenario(alerts: int, days: float) -> str:
    gap = days * 86400 / alerts
    events = []
    for i in range(alerts):
        labels = {
            "alertname": f"Alert{i % 40}",
            "instance": f"host{i % 97}",
            "service": f"svc{i % 7}",
            "severity": "critical",
        }
        events.append({"at": round(i * gap, 3), "fire": labels})
        events.append({"at": round(i * gap + 120 + (i % 30) * 100, 3), "resolve": labels})
    return yaml.safe_dump(
        {
            "start": START.isoformat(),
            "until": f"{int(days * 86400 + 7200)}s",
            "config_inline": yaml.safe_load(CONFIG),
            "events": events,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--trace", action="store_true", help="trace the replay's allocations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url(Path(tmp), None)
        config = parse_config(CONFIG)
        started = time.perf_counter()
        made = run(parse_scenario(scenario(args.alerts, args.days)), config, database=url)
        print(
            f"history: {args.alerts} alerts over {args.days:g} days stored in "
            f"{time.perf_counter() - started:.1f} s ({made.steps} engine passes)"
        )
        db = make_engine(url)
        upgrade(db)
        since = START.timestamp()
        until = since + args.days * 86400 + 7200

        tracemalloc.start()
        started = time.perf_counter()
        read = sum(1 for _ in history.episodes(db, since, until))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"reading {read} episodes in chunks of {history.CHUNK}: "
            f"{time.perf_counter() - started:.2f} s, peak {peak / 1e6:.1f} MB"
        )

        candidate = parse_config(CONFIG.replace("[alertname, instance]", "[severity]"))
        passes = 0

        def counted(*a: object, **k: object) -> replay.Played:
            nonlocal passes
            played = play(*a, **k)  # type: ignore[arg-type]
            passes = played.passes
            return played

        if args.trace:
            tracemalloc.start()
        started = time.perf_counter()
        result = replay.replay(
            local(config, db), candidate, since, until, counted, max_alerts=args.alerts
        )
        took = time.perf_counter() - started
        traced = ""
        if args.trace:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            traced = f", peak {peak / 1e6:.1f} MB (traced)"
        print(f"replay: {took:.1f} s, {passes} engine passes{traced}")
        print(
            f"  incidents {result.real.incidents} -> {result.candidate.incidents}, "
            f"pages {result.real.pages} -> {result.candidate.pages}, "
            f"out of hours {result.real.out_of_hours} -> {result.candidate.out_of_hours}"
        )
        db.dispose()


if __name__ == "__main__":
    main()
