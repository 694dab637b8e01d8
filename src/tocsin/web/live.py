"""The console's live pages: a server-sent event stream per open page that says
``changed`` when what the page shows has changed (``service.record.change_mark``), on which
htmx's SSE extension fetches the page's live parts again.

Each stream looks for a change every ``POLL_S`` (a seek of an index), so it works the same
across the processes and replicas of one server; it sends a comment when nothing happened
for ``HEARTBEAT_S`` (proxies close quiet connections), and ends after ``LIFETIME_S`` (the
browser reconnects at once); each ends within a poll once the server begins to stop
(``STOPPING``).
A process serves at most ``MAX_STREAMS`` at once; more are refused (503), and the pages
still read and act without them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

POLL_S = 1.0
HEARTBEAT_S = 15.0
LIFETIME_S = 300.0
MAX_STREAMS = 200
# set when the server begins to stop (``serve.py``): every stream ends at its next poll
STOPPING = threading.Event()


class Streams:
    """How many streams this process serves now."""

    def __init__(self, limit: int = MAX_STREAMS) -> None:
        self.limit = limit
        self.open = 0

    def take(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def give_back(self) -> None:
        self.open -= 1


async def changes(
    mark: Callable[[], Awaitable[int]],
    gone: Callable[[], Awaitable[bool]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    poll_s: float = POLL_S,
    lifetime_s: float = LIFETIME_S,
    since: int | None = None,
) -> AsyncIterator[bytes]:
    """The event stream: ``changed`` (with the new mark) each time ``mark`` moves, a
    comment after ``HEARTBEAT_S`` of quiet, until ``gone`` (the browser left) or
    ``lifetime_s`` has passed. ``since``: the mark the page was made at; a change between
    then and the stream's start is sent at once (else it would be missed)."""
    last = await mark()
    yield f"retry: 2000\nevent: ready\ndata: {last}\n\n".encode()
    if since is not None and since != last:
        yield f"event: changed\ndata: {last}\n\n".encode()
    waited = quiet = 0.0
    while waited < lifetime_s and not await gone():
        await sleep(poll_s)
        waited += poll_s
        now = await mark()
        if now != last:
            last, quiet = now, 0.0
            yield f"event: changed\ndata: {now}\n\n".encode()
        else:
            quiet += poll_s
            if quiet >= HEARTBEAT_S:
                quiet = 0.0
                yield b": nothing new\n\n"
