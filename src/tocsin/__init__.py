"""tocsin: runbook-driven alert response."""

__version__ = "0.1.0"
