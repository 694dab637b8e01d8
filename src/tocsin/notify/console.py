"""Console: a ``Message``'s rendered title and text on a stream (``tocsin simulate``, local use).

What reaches the terminal is ``templating.printable``: a label's ESC, BEL or carriage return
is shown as ``\\x1b``, ``\\x07``, ``\\r`` and does nothing (the text keeps its lines)."""

from __future__ import annotations

import sys

from tocsin.notify.base import BaseChannel, ChannelSettings, Parts, error_text
from tocsin.notify.message import Message, message_context
from tocsin.notify.retry import Outcome
from tocsin.templating import printable


class ConsoleChannel(BaseChannel):
    kind = "console"

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts)
        self._stream = parts.stream

    async def _send(self, message: Message) -> Outcome:
        context = message_context(message)
        title = printable(self._templates.render("title", context))
        text = printable(self._templates.render("text", context), lines=True)
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(f"── {printable(self.name)} ── {title}\n{text.rstrip()}\n\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # closed or broken stream
            return Outcome(ok=False, error=error_text(f"{type(exc).__name__}: {exc}"))
        return Outcome(ok=True)


def build(cfg: ChannelSettings, parts: Parts) -> ConsoleChannel:
    return ConsoleChannel(parts)
