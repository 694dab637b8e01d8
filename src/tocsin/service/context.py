"""What every use case needs, in one small value: the database, the configuration, the
runbook catalog, the clock, the engine's pager when this process runs one, and a way to wake
the engine when a use case gave it work. The API builds one per request from its state
(``serving``), the CLI one per command."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine

from tocsin.clock import Clock, RealClock
from tocsin.config import Config
from tocsin.engine.paging import Pager
from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.model import Catalog

if TYPE_CHECKING:  # the engine's loop (and its channels) only where a server runs one
    from tocsin.engine.loop import DueWorkEngine


def load_runbooks(config: Config) -> Catalog | None:
    """The runbook catalog the configuration names (None when it names none)."""
    paths = config.runbook_paths()
    return load_catalog(paths) if paths else None


def _nothing() -> None:
    """No engine runs in this process: a running server's engine finds the work by itself."""


@dataclass(frozen=True)
class Context:
    db: Engine
    config: Config
    clock: Clock
    catalog: Catalog | None = None
    running: Pager | None = None  # the engine's pager, when this process runs the engine
    wake: Callable[[], None] = field(default=_nothing)  # safe to call from any thread

    def pager(self) -> Pager:
        """The engine's pager when one runs here, else one over this configuration."""
        return (
            self.running
            if self.running is not None
            else Pager(self.config, self.catalog, self.clock)
        )

    def now(self) -> float:
        return self.clock.now()


def local(config: Config, db: Engine, runbooks: bool = False) -> Context:
    """The context of a process that runs no engine (a CLI command): the real clock, and the
    configuration's runbooks when the use case shows them."""
    return Context(db, config, RealClock(), load_runbooks(config) if runbooks else None)


class Serving(Protocol):
    """What a server process holds that a request's context is made of (``api.state``)."""

    @property
    def db(self) -> Engine: ...
    @property
    def config(self) -> Config: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def catalog(self) -> Catalog | None: ...
    @property
    def engine(self) -> DueWorkEngine | None: ...


def serving(state: Serving) -> Context:
    """The context of a request to a server (the API's and the console's): the configuration
    as it is now (a reload takes effect at the next request), and the engine's pager and
    wake-up when this process runs the engine. Called in the server's event loop."""
    engine = state.engine
    if engine is None:
        return Context(state.db, state.config, state.clock, state.catalog)
    loop = asyncio.get_running_loop()

    def wake() -> None:  # use cases may run in a worker thread: wake through the loop
        loop.call_soon_threadsafe(engine.wake.set)
        if engine.executor is not None:  # a run asked for or approved starts at once
            loop.call_soon_threadsafe(engine.executor.wake.set)

    return Context(state.db, state.config, state.clock, state.catalog, engine.pager, wake)
