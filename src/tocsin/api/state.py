"""What the API works with: database, configuration (reloadable), clock, writer, engine."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from tocsin.alerts.payloads import Limits
from tocsin.config import Config, load_config
from tocsin.engine.clock import Clock
from tocsin.engine.loop import DueWorkEngine
from tocsin.store.writer import AlertWriter

log = logging.getLogger("tocsin.api")


@dataclass
class AppState:
    db: Engine
    config: Config
    clock: Clock
    config_path: Path | None = None
    started_at: float = 0.0
    writer: AlertWriter | None = None
    engine: DueWorkEngine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    token_cache: dict[str, tuple[str | None, float]] = field(default_factory=dict)
    rate_buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def limits(self) -> Limits:
        m = self.config.model.limits
        return Limits(
            max_alerts_per_batch=m.max_alerts_per_batch,
            max_labels_per_alert=m.max_labels_per_alert,
            max_label_name_bytes=m.max_label_name_bytes,
            max_label_value_bytes=m.max_label_value_bytes,
            max_annotations_per_alert=m.max_annotations_per_alert,
            max_annotation_value_bytes=m.max_annotation_value_bytes,
        )

    def reload(self) -> None:
        """Load the configuration file again; on any error the running one stays."""
        if self.config_path is None:
            return
        config = load_config(self.config_path)
        with self._lock:
            self.config = config
            if self.engine is not None:
                self.engine.config = config
        log.info("configuration reloaded from %s", self.config_path)
