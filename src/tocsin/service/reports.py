"""The response report over a window: response times, pages, noisy alerts, missed
deadlines, out-of-hours pages and runbook coverage (the figures are ``incidents.stats``)."""

from __future__ import annotations

from dataclasses import replace

from tocsin.errors import Invalid
from tocsin.incidents import stats
from tocsin.service.context import Context
from tocsin.store import actions, reports

MAX_OVERDUE = 100  # overdue action items listed in a report


def report(
    ctx: Context, since: float, until: float, hours: stats.WorkingHours | None = None
) -> stats.Report:
    """The report of the incidents opened in ``[since, until)``, and the action items
    overdue now (of any incident)."""
    if since >= until:
        raise Invalid("since must be before until")
    now = ctx.now()
    with ctx.db.connect() as conn:
        rows = reports.window(conn, since, until)
        overdue, _total = actions.list_items(conn, overdue_at=now, limit=MAX_OVERDUE)
    zones = {name: user.timezone for name, user in ctx.config.paging.users.items()}
    documented = [alert.name for _, alert in ctx.catalog.alerts()] if ctx.catalog else []
    made = stats.report(
        since,
        until,
        rows.incidents,
        rows.episodes,
        rows.pages,
        runbook_alerts=documented,
        zones=zones,
        hours=hours,
    )
    return replace(made, overdue_action_items=tuple(i.to_json(now) for i in overdue))
