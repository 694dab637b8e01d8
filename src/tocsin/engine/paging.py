"""Paging, as the service layer and the simulator call it: one object holding the
configuration in force and the runbook catalog (``engine.stage.Settings``, which every stage
reads), whose methods are the stage functions a person's action needs. The engine's own cycle
calls the stage modules directly (``engine/loop.CYCLE``).

Each method is a stage module's function itself, with the ``Pager`` as its first argument;
it runs in the caller's transaction (notifications go to the outbox in that same transaction,
so a decision to page and the page itself commit together or not at all; the engine delivers
the outbox afterwards). Status changes are decided by ``incidents.lifecycle.transition``;
``acknowledge`` and ``resolve`` return None when done, else why not.
"""

from __future__ import annotations

from tocsin.clock import Clock, RealClock
from tocsin.config import Config
from tocsin.engine import acknowledgement, messages, resolution
from tocsin.engine import escalate as escalate_stage
from tocsin.engine import trigger as trigger_stage
from tocsin.runbooks.model import Catalog


class Pager:
    def __init__(
        self, config: Config, catalog: Catalog | None = None, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.clock = clock or RealClock()

    # what goes out: engine/messages.py (its content: incidents/messages.py)
    incident_url = messages.incident_url
    to_channels = messages.to_channels
    _runbook = messages.runbook

    # a group flush with news, and the first page: engine/trigger.py
    flushed = trigger_stage.flushed

    # escalation now (engine/escalate.py), a person's acknowledgement
    # (engine/acknowledgement.py), the end (engine/resolution.py)
    escalate = escalate_stage.fire
    acknowledge = acknowledgement.acknowledge
    resolve = resolution.resolve
