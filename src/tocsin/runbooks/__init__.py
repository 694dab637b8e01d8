"""The runbook catalog: Markdown runbooks to alerts, steps, commands and their risk.

First stage of tocsin's data: everything later (incidents, pages, diagnostics) links to the
alerts found here by name.
"""

from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.model import Alert, Catalog, Command, Problem, Runbook, Step
from tocsin.runbooks.parse import parse_runbook

__all__ = [
    "Alert",
    "Catalog",
    "Command",
    "Problem",
    "Runbook",
    "Step",
    "load_catalog",
    "parse_runbook",
]
