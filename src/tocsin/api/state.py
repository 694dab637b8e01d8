"""What the API works with: database, configuration (reloadable), clock, writer, engine; and
the engine's flush at intake as the writer process builds it (``EngineFlush``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from tocsin.alerts.payloads import Limits
from tocsin.clock import Clock
from tocsin.config import Config, ConfigError, load_config
from tocsin.engine.loop import DueWorkEngine
from tocsin.intake.process import WriterProcess
from tocsin.intake.writer import AlertWriter
from tocsin.runbooks.model import Catalog
from tocsin.service.context import load_runbooks
from tocsin.store.repo import TokenRow

log = logging.getLogger("tocsin.api")
# the writer process's, as all its records
writer_log = logging.getLogger("tocsin.intake.writer")


class EngineFlush:
    """The engine's flush at intake in the writer process (``intake.process.Flush``; the class
    is the ``FlushFactory`` the server's ``WriterSpec`` names): an engine of its own over the
    server's configuration file, leased to the server's engine (``owner``), which sends what
    it creates."""

    def __init__(self, config_path: Path, db: Engine, clock: Clock, owner: str) -> None:
        self.config_path = config_path
        config = load_config(config_path)
        self.engine = DueWorkEngine(db, config, clock, owner=owner, catalog=load_runbooks(config))

    def flush_inline(
        self, conn: Connection, touched: list[int], stop: Callable[[], bool] | None = None
    ) -> tuple[list[Any], bool]:
        return self.engine.flush_inline(conn, touched, stop)

    def reload(self) -> None:
        """The server loaded its configuration again: so does this process (on an error it
        keeps the one it has)."""
        try:
            loaded = load_config(self.config_path)
            configure(self.engine, loaded, load_runbooks(loaded))
        except ConfigError as exc:
            writer_log.error("the writer process kept its configuration: %s", exc)


def configure(engine: DueWorkEngine, config: Config, catalog: Catalog | None) -> None:
    """Give a running engine a configuration loaded again, and its runbooks."""
    engine.config = config
    engine.pager.catalog = catalog


@dataclass
class AppState:
    db: Engine
    config: Config
    clock: Clock
    config_path: Path | None = None
    started_at: float = 0.0
    writer: AlertWriter | WriterProcess | None = None
    engine: DueWorkEngine | None = None
    catalog: Catalog | None = None  # the runbooks of config.runbooks, for links and diagnostics
    after_reload: Callable[[], None] | None = None  # `tocsin serve`: settle its memory again
    _lock: threading.Lock = field(default_factory=threading.Lock)
    token_cache: dict[str, tuple[TokenRow | None, float]] = field(default_factory=dict)
    rate_buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def reload(self) -> None:
        """Load the configuration file again; on any error the running one stays."""
        if self.config_path is None:
            return
        config = load_config(self.config_path)
        catalog = load_runbooks(config)
        with self._lock:
            self.config = config
            self.catalog = catalog
            if self.engine is not None:
                configure(self.engine, config, catalog)
            if self.writer is not None:
                self.writer.reload()
        log.info("configuration reloaded from %s", self.config_path)
        if self.after_reload is not None:
            self.after_reload()
