"""Housekeeping on a daemon thread: one task every few seconds, until told to stop.

The server's long-running processes each keep some (``heap.Releaser``: freed memory back to
the system; ``store.db.Checkpointer``: SQLite's write-ahead log back into the database). A
task that fails is logged and tried again ten intervals later: housekeeping never ends a
process, nor stops for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Self

log = logging.getLogger("tocsin.periodic")


class Periodic:
    """``task`` every ``every_s`` seconds on a daemon thread named ``name``, from ``start``
    (where ``enabled``) until ``stop``."""

    def __init__(self, name: str, every_s: float, task: Callable[[], object]) -> None:
        self.every_s = every_s
        self.task = task
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def enabled(self) -> bool:
        """Whether the task has anything to do here (``start`` starts nothing if not)."""
        return True

    def start(self) -> Self:
        if self.enabled():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        wait = self.every_s
        while not self._stop.wait(wait):
            try:
                self.task()
                wait = self.every_s
            except Exception:
                log.exception("%s failed; tried again in %.1f s", self._thread.name, 10 * wait)
                wait = 10 * self.every_s
