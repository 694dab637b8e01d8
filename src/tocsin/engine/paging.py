"""Paging, as the front doors and the engine call it: one object holding the configuration
in force and the runbook catalog (``engine.stage.Settings``), whose methods are the stages.

Each method is a stage module's function itself, with the ``Pager`` as its first argument;
it runs in the caller's transaction (notifications go to the outbox in that same transaction,
so a decision to page and the page itself commit together or not at all; the engine delivers
the outbox afterwards). Status changes are decided by ``incidents.lifecycle.transition``;
``acknowledge`` and ``resolve`` return None when done, else why not.
"""

from __future__ import annotations

from tocsin.config import Config
from tocsin.engine import acknowledgement, messages, resolution
from tocsin.engine import deadline as deadline_stage
from tocsin.engine import escalate as escalate_stage
from tocsin.engine import trigger as trigger_stage
from tocsin.runbooks.model import Catalog


class Pager:
    def __init__(self, config: Config, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog

    # what goes out: engine/messages.py (its content: incidents/messages.py)
    message = messages.message
    incident_title = messages.incident_title
    title = messages.title
    incident_url = messages.incident_url
    to_channels = messages.to_channels
    _runbook = messages.runbook
    _runbook_link = messages.runbook_link

    # a group flush with news, and the first page: engine/trigger.py
    flushed = trigger_stage.flushed
    trigger = trigger_stage.trigger

    # escalation, and who a step pages (oncall/targets.py): engine/escalate.py
    escalate = escalate_stage.fire
    deliveries = escalate_stage.pages
    deadline = deadline_stage.missed  # engine/deadline.py

    # a person's acknowledgement, and its lapse: engine/acknowledgement.py
    acknowledge = acknowledgement.acknowledge
    ack_timeout = acknowledgement.lapsed

    # the end: engine/resolution.py
    resolve = resolution.resolve
    stopped = staticmethod(resolution.stopped)  # (conn, incident_id): it reads no settings
