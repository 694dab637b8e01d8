"""Diagnostic: the intake's writer alone, without HTTP or an event loop beside it.

Stores batches of 100 new alerts (``bench/ingest.py``'s bodies and configuration: every alert
opens an incident) with the writer's own functions (``repo.prepare`` then ``repo.store`` in
one transaction per ``--batches-per-commit`` batches), after ``--prefill`` alerts already
stored, and prints the microseconds per alert of each statement kind and of the commit, wall
and thread CPU, and the bytes written to disk per alert. Set beside ``bench/ingest.py``, the
figures tell how much of a server's time per alert is the database's own work: what is left is
the server around it.

With ``--flush`` it runs the writer process's whole commit path instead, with
``bench/storm.py``'s per-alert shape (``group_wait: 0s``): ``Committer`` with the
engine's flush at intake (``api.state.EngineFlush``), as ``tocsin serve``'s writer process
does, so each new alert's incident is also flushed, triggered and (past the storm threshold)
held in the same transaction. It prints the wall and CPU microseconds per alert of each
``--segment`` alerts in turn: whether the cost grows with what is stored.

    .venv/bin/python bench/writer.py [--alerts 50000] [--prefill 50000]
        [--batches-per-commit 3] [--database-url URL] [--flush] [--segment 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

# run as a script, sys.path[0] is bench/: the repository root makes ``bench.ingest`` importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import BATCH, CONFIG, batches
from bench.storm import SHAPES, tocsin_config
from tocsin.alerts.payloads import parse_v2
from tocsin.config import parse_config
from tocsin.intake.turn import HeldWriter
from tocsin.store import bulk, db, repo


def _written_bytes() -> int:
    """Bytes this process has sent to the block layer (Linux ``/proc/self/io``)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@contextmanager
def timed_statements(wall: defaultdict[str, float], cpu: defaultdict[str, float]) -> Iterator[None]:
    """Add each bulk statement's wall and thread-CPU seconds under its kind (the function and
    the table or the start of the SQL) while inside."""
    originals: dict[str, Callable[..., Any]] = {}

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(conn: Any, what: str, *args: Any, **kwargs: Any) -> Any:
            started, started_cpu = time.perf_counter(), time.thread_time()
            try:
                return function(conn, what, *args, **kwargs)
            finally:
                kind = f"{name} {what if len(what) < 30 else what[:40] + '…'}"
                wall[kind] += time.perf_counter() - started
                cpu[kind] += time.thread_time() - started_cpu

        return timed

    for name in ("insert", "update", "select_in"):  # all that repo.store runs
        originals[name] = getattr(bulk, name)
        setattr(bulk, name, wrap(name, originals[name]))
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(bulk, name, function)


def prepared(prefix: str, count: int, now: datetime, text: str = CONFIG) -> list[repo.Prepared]:
    config = parse_config(text)
    return [
        repo.prepare(
            parse_v2(orjson.loads(body), now, config.resolve_timeout_s, config.limits).alerts,
            now,
            config.route,
        )
        for body in batches(prefix, 0, count)
    ]


def store_all(held: HeldWriter, work: list[repo.Prepared], per_commit: int) -> float:
    """Store ``work`` in transactions of ``per_commit`` batches; the seconds spent committing."""
    committing = 0.0
    for start in range(0, len(work), per_commit):
        with held.begin() as conn:
            for batch in work[start : start + per_commit]:
                repo.store(conn, batch)
            commit_started = time.perf_counter()
        committing += time.perf_counter() - commit_started
    return committing


def commit_path(
    engine: Any, config_path: Path, work: list[repo.Prepared], per_commit: int, segment: int
) -> list[tuple[int, float, float]]:
    """Commit ``work`` as the writer process does (``Committer`` with the engine's flush at
    intake), ``per_commit`` batches at a time: (alerts, wall s, CPU s) of each segment."""
    from tocsin.api.state import EngineFlush
    from tocsin.clock import RealClock
    from tocsin.intake.commit import Committer

    clock = RealClock()
    flush = EngineFlush(config_path, engine, clock, "bench-writer")
    committer = Committer(engine, clock, after_store=flush.flush_inline)
    out: list[tuple[int, float, float]] = []
    alerts, wall, cpu = 0, 0.0, 0.0
    try:
        for start in range(0, len(work), per_commit):
            part = work[start : start + per_commit]
            started, started_cpu = time.perf_counter(), time.thread_time()
            committer.commit(part)
            wall += time.perf_counter() - started
            cpu += time.thread_time() - started_cpu
            alerts += sum(len(batch) for batch in part)
            if alerts >= segment:
                out.append((alerts, wall, cpu))
                alerts, wall, cpu = 0, 0.0, 0.0
    finally:
        committer.close()
    if alerts:
        out.append((alerts, wall, cpu))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="the intake writer alone")
    parser.add_argument("--alerts", type=int, default=50_000, help="new alerts timed")
    parser.add_argument("--prefill", type=int, default=50_000, help="alerts stored first")
    parser.add_argument("--batches-per-commit", type=int, default=3)
    parser.add_argument(
        "--database-url", default=None, help="a throwaway database (default: SQLite in a temp dir)"
    )
    parser.add_argument(
        "--flush", action="store_true", help="the whole commit path: with the flush at intake"
    )
    parser.add_argument("--segment", type=int, default=20_000, help="alerts per line (--flush)")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or db.database_url(tmp, None)
        engine = db.make_engine(url)
        db.upgrade(engine)
        held = HeldWriter(engine)
        tag = os.urandom(3).hex()
        store_all(held, prepared(f"pre{tag}", args.prefill // BATCH, now), 20)
        # with --flush, bench/storm.py's per-alert shape: no group_wait, each flushed at intake
        shape = tocsin_config(SHAPES["per-alert"]) if args.flush else CONFIG
        work = prepared(f"new{tag}", max(1, args.alerts // BATCH), now, shape)
        count = sum(len(batch) for batch in work)
        if args.flush:
            held.close()
            config_path = Path(tmp) / "tocsin.yaml"
            config_path.write_text(shape)
            segments = commit_path(engine, config_path, work, args.batches_per_commit, args.segment)
            engine.dispose()
            print(
                f"{count} new alerts after {args.prefill} stored, each a new incident flushed "
                f"at intake, {args.batches_per_commit} batches of {BATCH} per commit, "
                f"{url.split(':', 1)[0]}"
            )
            print(f"{'alerts':>10} {'wall µs':>8} {'cpu µs':>8}  per alert")
            done = 0
            for alerts, wall_s, cpu_s in segments:
                done += alerts
                print(f"{done:10,} {wall_s / alerts * 1e6:8.1f} {cpu_s / alerts * 1e6:8.1f}")
            total_wall = sum(w for _, w, _ in segments)
            total_cpu = sum(c for _, _, c in segments)
            print(f"{'all':>10} {total_wall / count * 1e6:8.1f} {total_cpu / count * 1e6:8.1f}")
            return
        wall: defaultdict[str, float] = defaultdict(float)
        cpu: defaultdict[str, float] = defaultdict(float)
        written = _written_bytes()
        started, started_cpu = time.perf_counter(), time.thread_time()
        with timed_statements(wall, cpu):
            committing = store_all(held, work, args.batches_per_commit)
        total, total_cpu = time.perf_counter() - started, time.thread_time() - started_cpu
        written = _written_bytes() - written
        held.close()
        engine.dispose()
    per = 1e6 / count
    print(
        f"{count} new alerts after {args.prefill} stored, {args.batches_per_commit} batches "
        f"of {BATCH} per commit, {url.split(':', 1)[0]}"
    )
    print(f"{'':52} {'wall µs':>8} {'cpu µs':>8}  per alert")
    print(f"{'all':52} {total * per:8.2f} {total_cpu * per:8.2f}")
    print(f"{'commit':52} {committing * per:8.2f}")
    for kind, seconds in sorted(wall.items(), key=lambda item: -item[1]):
        print(f"{kind:52} {seconds * per:8.2f} {cpu[kind] * per:8.2f}")
    if written:
        print(f"written to disk: {written / count / 1024:.1f} KB per alert")


if __name__ == "__main__":
    main()
