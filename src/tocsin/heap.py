"""What a long-running process of the server gives back to the system.

A storm makes the server and its writer process allocate and free a great deal in bursts:
request bodies, parsed alerts, a flush's chunk of 5,000 changed alerts, the rows of a group
commit. glibc keeps what is freed in each thread's arena for the next allocation and returns
it to the system only from the top of a heap, so a freed block between blocks still in use
stays resident: after 200,000 alerts into one group the server held about 30 MB that it no
longer used (``malloc_trim`` gave it back). ``Releaser`` asks glibc to return it every few
seconds, from a daemon thread of each process (``tocsin serve`` and its writer process).

Where the C library is not glibc (no ``malloc_trim``) nothing is done.

``settle`` keeps the garbage collector off what lives as long as the process, in both
processes too.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable

from tocsin.periodic import Periodic

GC_YOUNG_THRESHOLD = 20_000
EVERY_S = 2.0  # a trim costs about 10 ms over a heap of 100 MB, the arenas locked meanwhile


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release() -> bool:
    """Return the freed memory of every arena to the system: whether glibc could be asked
    (``malloc_trim`` releases the GIL while it runs)."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


class Releaser(Periodic):
    """``release`` every ``every_s`` seconds on a daemon thread, until ``stop``."""

    def __init__(self, every_s: float = EVERY_S) -> None:
        super().__init__("tocsin-heap", every_s, lambda: release())

    def enabled(self) -> bool:
        return _TRIM is not None


def settle() -> None:
    """Keep the garbage collector off what lives as long as the process (configuration,
    runbooks, the app, the modules): collect once, freeze what is left, and collect the
    young generation less often. The intake allocates thousands of short-lived objects per
    request; without this, collections that walk every long-lived object cost it about a
    tenth of its time, and each full collection stops the process for tens of milliseconds
    (in the writer process, a page waiting for its commit waited that long).

    Called again after each reload: what was frozen is thawed and collected first, for the
    reference cycles of a configuration no longer used are never collected while frozen.
    That full collection pauses the process once per reload (milliseconds; more with large
    runbook directories)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
