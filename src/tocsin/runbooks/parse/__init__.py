"""A runbook document to a ``Runbook``: which sections are alerts, and what each holds.

General rules only, no per-team cases. An alert section is recognized by what on-call
runbooks have in common: a name shaped like an alert rule (``HighCPUUsage``, in a heading or an
``Alert:`` field), a severity, sub-sections such as Impact / Symptoms / Diagnosis / Mitigation,
and a parent heading that talks about alerts. Enough of that evidence makes a section an alert.
Sections that are not alerts give the runbook-wide parts: severity levels, escalation
matrices, communication templates, channels, contacts and review metadata.

The stages, in the order ``document.parse_runbook`` runs them: ``sections`` (the document's
structure: alerts written as ``Alert:`` fields become sections), ``alerts`` (which sections
are alerts, and each alert's parts, from ``names``, ``vocabulary``, ``steps``, ``thresholds``
and ``escalation``), ``alert_table`` (alerts listed one per table row), then the runbook-wide
parts: ``severity``, ``escalation``, templates, ``contacts`` and ``metadata``.
"""

from tocsin.runbooks.parse.document import parse_runbook

__all__ = ["parse_runbook"]
