"""The groups of many alerts in Alertmanager's order, without holding them: what a read of
``/api/v2/alerts/groups`` keeps of every alert between its two passes. Each group is kept as
its place (``Route.group_place``: bytes that sort as Alertmanager orders groups) and its
alerts' fingerprints as numbers. Past a bound, what is held is written out as a sorted run to
a file the caller gives (a temporary file), and the runs are merged at the end: a read holds
at most the bound, whatever the number of groups or alerts."""

from __future__ import annotations

import heapq
import itertools
import struct
from array import array
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import IO, TypeAlias

from tocsin.routing.tree import Route

# what is held before it is written out: a fingerprint counts 1 (8 bytes), a group 25 (its
# place, the dict's entry: about 200 bytes); 2,000,000 is about 16 MB
HELD = 2_000_000
GROUP_COST = 25

# one alert's fingerprint as a number, or several
Numbers: TypeAlias = "int | array[int]"

# a run's record: the place's length, the route's number, the fingerprints' count; then the
# place, then the fingerprints (8 bytes each)
_RECORD = struct.Struct("<IHQ")
_READ_NUMBERS = 8192  # fingerprints read at a time from a run


class Places:
    """Groups added alert by alert (fingerprints in order), given back in order
    (``in_order``). ``spill`` opens a file (binary, readable and writable) for the runs;
    without it everything stays in memory."""

    def __init__(self, spill: Callable[[], IO[bytes]] | None = None, held: int = HELD) -> None:
        self._spill = spill
        self._limit = held
        self._numbers: dict[int, int] = {}  # id(route): its number
        self._routes: list[Route] = []
        self._found: list[dict[bytes, Numbers]] = []  # per route number
        self._held = 0
        self._file: IO[bytes] | None = None
        self._runs: list[tuple[int, int]] = []  # the runs' (start, end) in the file

    def close(self) -> None:
        """Lets the runs' file go."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def add(self, route: Route, labels: Mapping[str, str], fingerprint: str) -> None:
        """An alert in ``route``'s group of ``labels``, after those added before."""
        n = self._numbers.get(id(route))
        if n is None:
            n = self._numbers[id(route)] = len(self._routes)
            self._routes.append(route)
            self._found.append({})
        found = self._found[n]
        place = route.group_place(labels)
        number = int(fingerprint, 16)
        had = found.get(place)
        if had is None:
            found[place] = number
            self._held += GROUP_COST
        elif isinstance(had, int):
            found[place] = array("Q", (had, number))
        else:
            had.append(number)
        self._held += 1
        if self._held > self._limit and self._spill is not None:
            self._write_run()

    def in_order(self) -> Iterator[tuple[Route, Iterator[str]]]:
        """Each group's route and fingerprints (``%016x``, as they were added), the groups in
        their places' order. Each group's fingerprints are read before the next group is
        given."""
        runs = [self._read_run(start, end) for start, end in self._runs]
        runs.append(self._held_run())
        merged = heapq.merge(*runs, key=lambda record: record[0])  # stable: earlier runs first
        record = next(merged, None)
        while record is not None:
            place, n, numbers = record
            pieces = [numbers]  # a group's pieces: one per run it is in
            record = next(merged, None)
            while record is not None and record[0] == place:
                pieces.append(record[2])
                record = next(merged, None)
            found = itertools.chain.from_iterable(piece() for piece in pieces)
            yield self._routes[n], (f"{number:016x}" for number in found)

    def _held_run(self) -> Iterator[tuple[bytes, int, Callable[[], Iterator[int]]]]:
        """What is held, sorted, let go as it is given."""
        order = sorted((place, n) for n, found in enumerate(self._found) for place in found)
        for place, n in order:
            had = self._found[n].pop(place)
            numbers = (had,) if isinstance(had, int) else had
            yield place, n, partial(iter, numbers)
        self._held = 0

    def _write_run(self) -> None:
        if self._file is None:
            assert self._spill is not None
            self._file = self._spill()
        file = self._file
        start = file.seek(0, 2)
        for place, n, numbers in self._held_run():
            found = array("Q", numbers())
            file.write(_RECORD.pack(len(place), n, len(found)))
            file.write(place)
            file.write(found.tobytes())
        self._runs.append((start, file.tell()))

    def _read_run(
        self, start: int, end: int
    ) -> Iterator[tuple[bytes, int, Callable[[], Iterator[int]]]]:
        """A run's records, each fingerprint read only when asked for."""
        file = self._file
        assert file is not None
        at = start
        while at < end:
            file.seek(at)
            size, n, count = _RECORD.unpack(file.read(_RECORD.size))
            place = file.read(size)
            first = at + _RECORD.size + size
            at = first + 8 * count
            yield place, n, partial(self._numbers_at, first, count)

    def _numbers_at(self, first: int, count: int) -> Iterator[int]:
        file = self._file
        assert file is not None
        for offset in range(0, count, _READ_NUMBERS):
            file.seek(first + 8 * offset)
            found = array("Q")
            found.frombytes(file.read(8 * min(_READ_NUMBERS, count - offset)))
            yield from found
