"""tocsin.heap: freed memory goes back to the system (glibc's malloc_trim), every few seconds."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from tocsin import heap

glibc = pytest.mark.skipif(heap._TRIM is None, reason="the C library has no malloc_trim")


def _anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon")


@glibc
def test_release_gives_back_what_was_freed_between_blocks_still_used() -> None:
    rng = random.Random(18)
    blocks = [bytes(rng.randint(600, 5000)) for _ in range(20_000)]  # about 55 MB
    kept = blocks[::7]  # what stays in use pins the heap between the freed blocks
    del blocks
    before = _anon_kb()
    assert heap.release()
    assert before - _anon_kb() > 20_000  # kB: most of the 47 MB freed
    assert len(kept) == 2858


def test_the_releaser_releases_on_its_thread_until_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    twice = threading.Event()

    def counted() -> bool:
        calls.append(threading.current_thread().name)
        if len(calls) >= 2:
            twice.set()
        return True

    monkeypatch.setattr(heap, "release", counted)
    monkeypatch.setattr(heap, "_TRIM", heap._TRIM or (lambda pad: 0))
    releaser = heap.Releaser(every_s=0.001).start()
    assert twice.wait(30)
    releaser.stop()
    stopped = len(calls)
    assert set(calls) == {"tocsin-heap"}
    assert not releaser.running()
    assert len(calls) == stopped
