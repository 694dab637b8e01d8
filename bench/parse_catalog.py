"""Benchmark: reading the runbook catalog (seeds + prometheus-operator corpus).

Prints files/s, MB/s and alerts/s for the whole catalog (read, parse, classify, lint), and,
side by side, markdown-it-py's bare parse of the same text: the floor this reading stands
on. The ratio says what tocsin's rules cost over the Markdown parser itself.

    .venv/bin/python bench/parse_catalog.py [--rounds N] [PATH ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tocsin.runbooks.loader import discover, load_catalog
from tocsin.runbooks.markdown import _MD

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _best_of(rounds: int, work: object) -> list[float]:
    assert callable(work)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "paths", nargs="*", type=Path, default=[SHARED / "seeds", SHARED / "corpus"]
    )
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    paths = [p for p in args.paths if p.exists()]
    if not paths:
        raise SystemExit(f"nothing to read: {', '.join(map(str, args.paths))} missing")
    files, _ = discover(paths)
    texts = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    size = sum(len(t.encode()) for t in texts)
    catalog = load_catalog(paths)
    alerts = len(catalog.alerts())
    commands = sum(len(a.commands()) for _rb, a in catalog.alerts())

    full = _best_of(args.rounds, lambda: load_catalog(paths))
    bare = _best_of(args.rounds, lambda: [_MD.parse(t) for t in texts])
    best_full, best_bare = min(full), min(bare)
    print(
        f"catalog: {len(files)} files, {size / 1e6:.2f} MB, {alerts} alerts, "
        f"{commands} commands, {len(catalog.problems)} problems"
    )
    print(f"rounds: {args.rounds} (best and median shown)")
    print(
        f"tocsin catalog   : {best_full * 1e3:8.1f} ms best  {statistics.median(full) * 1e3:8.1f} "
        f"ms median  {len(files) / best_full:8.0f} files/s  {size / 1e6 / best_full:6.2f} MB/s  "
        f"{alerts / best_full:8.0f} alerts/s"
    )
    print(
        f"markdown-it parse: {best_bare * 1e3:8.1f} ms best  {statistics.median(bare) * 1e3:8.1f} "
        f"ms median  {len(files) / best_bare:8.0f} files/s  {size / 1e6 / best_bare:6.2f} MB/s"
    )
    print(f"ratio tocsin catalog / bare markdown-it parse: {best_full / best_bare:.2f}x")


if __name__ == "__main__":
    main()
