"""Test alerts: "send a test alert", as every paging tool has, so that a team sees a page go
through its own routes, channels and runbooks before a real one does. The alert is built
here; the front door hands it to the intake's writer like any other."""

from __future__ import annotations

from datetime import datetime

from tocsin.alerts.model import Alert
from tocsin.errors import Invalid
from tocsin.service.context import Context

TEST_ALERT = "TocsinTestAlert"


def choices(ctx: Context) -> list[tuple[str, str]]:
    """The alerts a test may fire, as (name, severity): each alert of the runbooks (so the
    page carries its runbook), then a plain test alert."""
    found: dict[str, str] = {}
    if ctx.catalog is not None:
        for _book, alert in sorted(ctx.catalog.alerts(), key=lambda each: each[1].name):
            found.setdefault(alert.name, alert.severity or "critical")
    found.setdefault(TEST_ALERT, "critical")
    return list(found.items())


def test_alert(ctx: Context, name: str, by: str, now: datetime) -> Alert:
    """The test alert ``name`` (one of ``choices``), sent by ``by``: labelled ``test="true"``
    and ``instance="tocsin-test"`` so that a silence or a route can tell it apart."""
    severity = dict(choices(ctx)).get(name)
    if severity is None:
        raise Invalid(f"no alert {name[:100]!r} to test: choose one of the runbooks' alerts")
    return Alert(
        labels={
            "alertname": name,
            "severity": severity,
            "instance": "tocsin-test",
            "test": "true",
        },
        annotations={"summary": f"A test alert sent by {by} from the console: nothing is wrong"},
        starts_at=now,
    )
