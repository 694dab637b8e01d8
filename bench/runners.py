"""Benchmark: what a runner adds to the command it runs.

For a local ``true`` through the shell runner, side by side with ``subprocess.run`` of the
same bash line (the floor: starting bash); and, where the peers answer, a ``SELECT 1`` through
the sql runner on SQLite and on PostgreSQL (``TOCSIN_TEST_DATABASE_URL``, by default the
local server's ``test`` database). Prints the median and the 95th percentile per run.

    .venv/bin/python bench/runners.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

from pydantic import TypeAdapter

from tocsin.config.models import RunnerConfig
from tocsin.execute.base import Request, Runner
from tocsin.execute.registry import BUILDERS
from tocsin.notify.base import resolve_secret

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def _timed(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    for _ in range(min(20, runs)):  # warm up
        work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000


def _runner(**fields: object) -> Runner:
    config = TypeAdapter(RunnerConfig).validate_python({"name": "bench", **fields})
    return BUILDERS[config.type](config, resolve_secret)


def _line(what: str, median: float, p95: float) -> None:
    print(f"{what:<44} median {median:7.2f} ms   p95 {p95:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    runs = parser.parse_args().runs

    argv = ["bash", "--noprofile", "--norc", "-c", "true"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    _line("subprocess.run(bash -c true) (the floor)", *_timed(runs, lambda: _bare(argv, env)))
    shell = _runner(type="shell")
    request = Request("true", "bash")
    _line("shell runner: true", *_timed(runs, lambda: shell.run(request)))

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _runner(type="sql", dsn={"value": f"sqlite:///{tmp}/bench.db"})
        select = Request("SELECT 1", "sql")
        _line("sql runner: SELECT 1 (SQLite)", *_timed(runs, lambda: sqlite.run(select)))
        sqlite.close()
    postgres = _runner(
        type="sql", dsn={"value": os.environ.get("TOCSIN_TEST_DATABASE_URL", PG_DEFAULT)}
    )
    if postgres.run(select).status == "ok":
        _line("sql runner: SELECT 1 (PostgreSQL)", *_timed(runs, lambda: postgres.run(select)))
    else:
        print("sql runner on PostgreSQL: skipped (no server answers)")
    postgres.close()


def _bare(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True)


if __name__ == "__main__":
    main()
