"""The writer process's wire: messages framed over the socket pair between the server and its
writer process (``intake.process``), and the deliveries the flush at intake made, as plain
tuples. Batches cross as ``store.repo.Prepared.to_wire``.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
import time
from typing import Any

from tocsin.store import bulk

_HEAD = struct.Struct("!I")


def frame(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEAD.pack(len(body)) + body


def send(stream: asyncio.StreamWriter, message: tuple[Any, ...]) -> None:
    stream.write(frame(message))


async def receive(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    (size,) = _HEAD.unpack(await reader.readexactly(_HEAD.size))
    message: tuple[Any, ...] = pickle.loads(await reader.readexactly(size))
    return message


class Channel:
    """The writer process's blocking end: whole messages, all those already there at once."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.ended = False
        self._early: list[tuple[Any, ...]] = []  # read by ``waiting``, not yet received
        self._looked = 0.0  # when ``waiting`` last read the socket

    def receive(self, block: bool) -> list[tuple[Any, ...]] | None:
        """The whole messages that have arrived (waiting for one if ``block``); None once the
        server has gone and every message is taken."""
        messages, self._early = [*self._early, *self._messages()], []
        while not self.ended:
            self.sock.setblocking(block and not messages)
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                break
            if not data:
                self.ended = True
                break
            self.buffer += data
            messages += self._messages()
        return None if self.ended and not messages else messages

    def waiting(self, alerts: int, every_s: float = 0.0005) -> bool:
        """Whether a batch of at most ``alerts`` alerts has arrived and waits (without
        blocking; what is read stays for ``receive``). Reads the socket at most once per
        ``every_s``: asked between the flushes of a storm's batch, it costs no syscall each."""
        now = time.perf_counter()
        if now - self._looked >= every_s and not self.ended:
            self._looked = now
            self.sock.setblocking(False)
            try:
                while data := self.sock.recv(1 << 20):
                    self.buffer += data
                else:
                    self.ended = True  # the server has gone: ``receive`` says so
            except BlockingIOError:
                pass
            except OSError:
                self.ended = True  # gone: ``receive`` says so once the messages are taken
            self._early += self._messages()
        return any(m[0] == "batch" and batch_size(m[2]) <= alerts for m in self._early)

    def _messages(self) -> list[tuple[Any, ...]]:
        out = []
        while len(self.buffer) >= _HEAD.size:
            (size,) = _HEAD.unpack_from(self.buffer)
            if len(self.buffer) < _HEAD.size + size:
                break
            out.append(pickle.loads(self.buffer[_HEAD.size : _HEAD.size + size]))
            del self.buffer[: _HEAD.size + size]
        return out

    def send(self, message: tuple[Any, ...]) -> None:
        self.sock.setblocking(True)
        self.sock.sendall(frame(message))


def batch_size(wire: tuple[Any, ...]) -> int:
    """How many alerts a batch holds, as ``store.repo.Prepared.to_wire`` sends it."""
    return len(wire[2])


def to_wire_deliveries(created: list[tuple[Any, Any]]) -> list[tuple[Any, ...]]:
    """(due item, notification) row pairs as plain tuples with their column names."""
    return [(item._fields, tuple(item), row._fields, tuple(row)) for item, row in created]


def from_wire_deliveries(wire: list[tuple[Any, ...]]) -> list[tuple[Any, Any]]:
    return [
        (bulk.record(item_names, item), bulk.record(row_names, row))
        for item_names, item, row_names, row in wire
    ]
