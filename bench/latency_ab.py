"""Benchmark: the page latency of two versions of tocsin, probes alternating between them.

On a noisy machine, ``bench/latency.py`` run once per version can differ by a third from one
run to the next, far more than most changes move it. This starts both versions at once on
SQLite (each with its own database, both posting to one webhook sink) and sends the same
probes as ``bench/latency.py`` (idle condition) to each in turn, A then B then B then A, so
that both see the same moments of the machine. Prints p50 and p90 of each and the ratio B/A.

A version is a git revision (checked out in a temporary worktree, with the fingerprint
extension copied from this checkout when it is built) or ``.`` for this checkout's files as
they are.

    .venv/bin/python bench/latency_ab.py REV_A [REV_B=.] [--runs 150]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# run as a script, sys.path[0] is bench/: the repository root makes ``bench.ingest`` importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.latency import PAUSE_S, WARMUP, Row, Sink, probe, tocsin_start

ROOT = Path(__file__).resolve().parents[1]
HERE = "."


@contextlib.contextmanager
def source_tree(revision: str, scratch: Path) -> Iterator[Path]:
    """The ``src`` directory of ``revision`` (a temporary worktree), or this checkout's."""
    if revision == HERE:
        yield ROOT / "src"
        return
    tree = scratch / f"tree-{secrets.token_hex(4)}"
    # worktrees of runs that were killed: their directories are gone, their records not
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), revision],
        check=True,
    )
    try:
        for built in (ROOT / "src" / "tocsin" / "alerts").glob("_fnv*.so"):
            shutil.copy(built, tree / "src" / "tocsin" / "alerts" / built.name)
        yield tree / "src"
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
        )


def knows_storms(src: Path) -> bool:
    """Whether the version in ``src`` has the storm digest (and its ``storm:`` key)."""
    return "class StormConfig" in (src / "tocsin" / "config" / "models.py").read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="a git revision, or . for this checkout")
    parser.add_argument("b", nargs="?", default=HERE, help="likewise (default: .)")
    parser.add_argument("--runs", type=int, default=150, help="probes per version")
    args = parser.parse_args()
    rows = [Row(f"A {args.a}", "idle"), Row(f"B {args.b}", "idle")]
    with (
        tempfile.TemporaryDirectory(prefix="tocsin-ab-") as scratch,
        source_tree(args.a, Path(scratch)) as src_a,
        source_tree(args.b, Path(scratch)) as src_b,
        Sink() as sink,
    ):
        servers = []
        given = os.environ.get("PYTHONPATH")
        try:
            for index, src in enumerate((src_a, src_b)):
                workdir = Path(scratch) / f"server-{index}"
                workdir.mkdir()
                # the server and the commands that make its token import tocsin from ``src``
                os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), given]))
                servers.append(tocsin_start(workdir, sink.port, None, knows_storms(src))())
            if given is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = given
            conns = [
                http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for _process, port, _headers in servers
            ]
            for turn in range(WARMUP + args.runs):
                for k in (0, 1) if turn % 2 else (1, 0):
                    instance = f"ab{k}-{turn}-{secrets.token_hex(4)}"
                    latency, ok = probe(conns[k], servers[k][2], sink, instance)
                    if turn >= WARMUP:
                        if latency is None:
                            rows[k].misses += 1
                        else:
                            rows[k].latencies_ms.append(latency)
                        rows[k].failures += 0 if ok else 1
                    time.sleep(PAUSE_S)
        finally:
            for process, _port, _headers in servers:
                process.terminate()
                process.wait()
    for row in rows:
        print(
            f"{row.target:24} p50 {row.percentile(50):6.2f} ms   p90 {row.percentile(90):6.2f} ms"
            f"   runs {len(row.latencies_ms)}   misses {row.misses}   failed posts {row.failures}"
        )
    print(f"ratio B/A: p50 {rows[1].percentile(50) / rows[0].percentile(50):.3f}x")


if __name__ == "__main__":
    main()
