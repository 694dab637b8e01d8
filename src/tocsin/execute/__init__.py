"""Runbook commands that run (docs/execute.md): one runner per kind of target, at the edge.

``base.py`` the contract (a ``Request`` in, a ``Result`` out, never an exception); one module
per runner kind (``shell.py``: bash and PowerShell, here or through ssh; ``promql.py``;
``sql.py``; ``http.py``); ``registry.py`` builds the configured runners. What may run, when,
and with whose approval is decided in pure code (``runbooks/gate.py``), never here.
"""
