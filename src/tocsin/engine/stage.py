"""What a stage of the engine's cycle is: the contract between ``engine/loop.py`` and the
stage modules (flush, trigger, escalate, deadline, acknowledgement, resolution, reminders).

Every stage reads ``Settings`` (the configuration in force, which a reload replaces, and the
runbook catalog); ``engine.paging.Pager`` is one. A stage that due work falls due for has a
``Stage`` function: it is handed the claimed item inside the cycle's transaction and settles
it (``repo.finish`` or ``repo.reschedule``) as part of its work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Connection

from tocsin.clock import Clock
from tocsin.config import Config
from tocsin.runbooks.model import Catalog


class Settings(Protocol):
    """The configuration and runbook catalog every stage reads, and the engine's clock."""

    @property
    def config(self) -> Config: ...
    @property
    def catalog(self) -> Catalog | None: ...
    @property
    def clock(self) -> Clock: ...


# (settings, the transaction, the claimed due_work row, its lease owner, now)
Stage = Callable[[Settings, Connection, Any, str, float], None]
