"""The active silences as an index (``alerts.silences.SilenceIndex``), kept across requests
and transactions in each process, and built again only when it is stale.

It is stale when a silence was written (the ``silences`` version, which every write of a
silence bumps in its transaction, in whichever process or replica: ``repo.save_silence``) or
when time passed the next start or end of a silence it knows (``SilenceIndex.current``). A
rebuild parses again only the silences whose row changed. The index also remembers what
mutes each fingerprint, so a read that sees the same alerts again does not match them again.

The version is read before the silences, in the caller's transaction: an index is never
filed under a version newer than the silences it holds (at worst under an older one, and then
built again by the next reader).
"""

from __future__ import annotations

import threading
import weakref
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from tocsin.alerts.silences import Silence, SilenceIndex
from tocsin.store import repo


class SilenceCache:
    """One database's active silences, for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._index: SilenceIndex | None = None
        # id -> (the row's columns, the silence parsed from them): what a rebuild reuses
        self._parsed: dict[str, tuple[tuple[Any, ...], Silence]] = {}
        self.builds = 0  # how many times an index was built (tests and metrics read it)

    def index(self, conn: Connection, now: datetime) -> SilenceIndex:
        """The index of the silences active at ``now``, as ``conn``'s transaction sees them."""
        version = repo.silences_version(conn)
        found = self._fresh(version, now)
        if found is not None:
            return found
        with self._lock:
            found = self._fresh(version, now)
            if found is not None:
                return found
            index = SilenceIndex(self._silences(conn, now), now)
            self._version, self._index = version, index
            self.builds += 1
            return index

    def _fresh(self, version: int, now: datetime) -> SilenceIndex | None:
        index = self._index
        if index is not None and self._version == version and index.current(now):
            return index
        return None

    def _silences(self, conn: Connection, now: datetime) -> list[Silence]:
        parsed: dict[str, tuple[tuple[Any, ...], Silence]] = {}
        for row in repo.unexpired_silence_rows(conn, now):
            key = tuple(row)
            known = self._parsed.get(row.id)
            silence = known[1] if known is not None and known[0] == key else None
            parsed[row.id] = (key, silence or repo.silence_of_row(row))
        self._parsed = parsed
        return [silence for _, silence in parsed.values()]


_CACHES: weakref.WeakKeyDictionary[Engine, SilenceCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(engine: Engine) -> SilenceCache:
    with _CACHES_LOCK:
        found = _CACHES.get(engine)
        if found is None:
            found = _CACHES[engine] = SilenceCache()
        return found


def active_index(conn: Connection, now: datetime) -> SilenceIndex:
    """The silences active at ``now`` as an index, from this process's cache of ``conn``'s
    database (built again if a silence was written since, or time passed a start or end)."""
    return cache_of(conn.engine).index(conn, now)
