"""What every runner shares: its bounds (a timeout, an output limit, runs at once), the one
guard that turns any failure of a run into a ``Result``, capped output, and text tables.

The output of a command is untrusted text that a person reads in a terminal, a page or a
chat: it is kept to ``output_limit`` bytes and every control character in it is shown as a
visible escape (``templating.printable``), newlines and tabs apart.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from tocsin.execute.base import Request, Result, RunnerConfigError
from tocsin.notify.base import ChannelConfigError, SecretRef, SecretResolver, secret_value
from tocsin.templating import one_line, printable
from tocsin.times import parse_duration

log = logging.getLogger("tocsin.execute")

_MAX_ERROR_CHARS = 300
_MAX_CELL_CHARS = 200  # a table's cell (a long text column) is cut here


class RunnerSettings(Protocol):
    """What every runner's configuration has (``config.models._RunnerBase``)."""

    name: str
    timeout: str
    output_limit: int
    concurrency: int


def error_line(text: str) -> str:
    """A reason as a ``Result`` keeps it: one line, bounded, no control character."""
    return printable(one_line(text, _MAX_ERROR_CHARS))


def secret(resolver: SecretResolver, ref: SecretRef, what: str) -> str:
    """A secret resolved at build (``notify.base.secret_value``, as channels' are); a
    ``RunnerConfigError`` that names ``what`` otherwise."""
    try:
        return secret_value(resolver, ref, what)
    except ChannelConfigError as exc:
        raise RunnerConfigError(exc.message) from None


class Capped:
    """Bytes kept up to ``limit``; what comes after is counted and dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self._data)
        if len(chunk) > room:
            self._data += chunk[: max(room, 0)]
            self.truncated = True
        else:
            self._data += chunk

    @property
    def full(self) -> bool:
        return len(self._data) >= self.limit

    def text(self, encoding: str = "utf-8") -> str:
        """The bytes as text: undecodable bytes replaced, a character cut at the limit
        dropped, control characters made visible (newlines and tabs kept)."""
        try:
            decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        except LookupError:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return printable(decoder.decode(bytes(self._data), final=not self.truncated), lines=True)


def cap_text(text: str, limit: int) -> tuple[str, bool]:
    """``text`` kept to ``limit`` bytes of UTF-8 (a character cut there dropped), and
    whether anything was cut."""
    data = text.encode()
    if len(data) <= limit:
        return text, False
    return data[:limit].decode("utf-8", "ignore"), True


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: a header line, a rule, one line per row, columns padded. Each cell
    is one line (its control characters, newlines included, shown as escapes) of at most
    200 characters."""
    cells = [[_cell(value) for value in row] for row in rows]
    names = [_cell(name) for name in headers]
    widths = [len(name) for name in names]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(names), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _cell(value: object) -> str:
    text = printable("NULL" if value is None else value)
    return text if len(text) <= _MAX_CELL_CHARS else text[: _MAX_CELL_CHARS - 1] + "…"


class BaseRunner:
    """A runner's bounds and its guard: ``run`` waits for a free slot (at most the timeout),
    calls ``_run`` and measures it; a failure of the runner itself (a bug, not the command's)
    is logged and becomes a ``Result`` with status ``error``. ``run`` never raises."""

    kind: str

    def __init__(self, config: RunnerSettings) -> None:
        self.name = config.name
        self.timeout_s = parse_duration(config.timeout)
        if self.timeout_s <= 0:
            raise RunnerConfigError(f"runner {config.name!r}: the timeout must be above 0s")
        self.output_limit = config.output_limit
        self.concurrency = config.concurrency
        self._slots = threading.BoundedSemaphore(config.concurrency)

    def target(self, request: Request) -> str:
        raise NotImplementedError

    def _run(self, request: Request) -> Result:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to let go of, by default."""

    def run(self, request: Request) -> Result:
        if not self._slots.acquire(timeout=self.timeout_s):
            return Result(
                "error",
                "",
                target=self._safe_target(request),
                error=f"runner {self.name} is busy: {self.concurrency} runs at once",
            )
        start = time.monotonic()
        try:
            result = self._run(request)
        except Exception as exc:
            log.exception("runner %s failed", self.name)
            result = Result(
                "error",
                "",
                target=self._safe_target(request),
                error=error_line(f"internal error: {type(exc).__name__}: {exc}"),
            )
        finally:
            self._slots.release()
        return replace(result, duration_s=time.monotonic() - start)

    def _safe_target(self, request: Request) -> str:
        try:
            return self.target(request)
        except Exception:
            return ""
