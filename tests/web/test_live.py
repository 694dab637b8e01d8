"""The console's change stream (``web.live.changes``) on a virtual clock: no server."""

from __future__ import annotations

import asyncio

from tocsin.web import live


def _collect(
    marks: list[int], lifetime_s: float, gone_after: int | None = None, since: int | None = None
) -> list[str]:
    """The events of a stream whose mark reads ``marks`` in turn (the last one after)."""
    slept: list[float] = []
    reads = iter(marks)
    last = marks[-1]

    async def mark() -> int:
        return next(reads, last)

    async def gone() -> bool:
        return gone_after is not None and len(slept) >= gone_after

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run() -> list[str]:
        return [
            chunk.decode()
            async for chunk in live.changes(
                mark, gone, sleep, poll_s=1.0, lifetime_s=lifetime_s, since=since
            )
        ]

    return asyncio.run(run())


def test_a_change_is_sent_once_and_quiet_is_kept_alive() -> None:
    events = _collect([5, 5, 6, 6, 6, 9], lifetime_s=20)
    assert events[0] == "retry: 2000\nevent: ready\ndata: 5\n\n"
    assert [e for e in events if e.startswith("event: changed")] == [
        "event: changed\ndata: 6\n\n",
        "event: changed\ndata: 9\n\n",
    ]
    # 20 polls: the last change at the 5th, then 15 quiet ones make one comment
    assert events[-1] == ": nothing new\n\n" and len(events) == 4


def test_the_stream_ends_when_the_browser_leaves_or_its_time_is_up() -> None:
    assert len(_collect([1, 2, 3, 4, 5, 6], lifetime_s=100, gone_after=2)) == 3
    assert len(_collect([1, 2, 3, 4, 5, 6], lifetime_s=3)) == 4  # ready and three changes


def test_a_process_serves_at_most_its_limit_of_streams() -> None:
    streams = live.Streams(limit=2)
    assert streams.take() and streams.take() and not streams.take()
    streams.give_back()
    assert streams.take()


def test_a_change_between_the_page_and_its_stream_is_sent_at_once() -> None:
    """The page was made at mark 4; by the time its stream starts the mark is 5 (an
    acknowledgement came in between): the first event after ready says changed."""
    events = _collect([5, 5], lifetime_s=1, since=4)
    assert events[:2] == ["retry: 2000\nevent: ready\ndata: 5\n\n", "event: changed\ndata: 5\n\n"]
    assert _collect([5, 5], lifetime_s=1, since=5)[1:] == []  # nothing missed: nothing sent
