"""The console's runbooks and reports: the runbook catalog (searchable, each runbook's lint
problems, which alerts fired with no runbook and which runbook alerts were never seen), the
catalog's drift against the rules the configured Prometheus loaded, an alert's runbook
section rendered, and the response report over a window with its charts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from tocsin import times
from tocsin.alerts.matchers import parse_matchers
from tocsin.errors import Invalid, NotFound, Unavailable
from tocsin.runbooks.drift import KINDS, TITLES
from tocsin.runbooks.links import relative_path
from tocsin.runbooks.lint import lint_catalog
from tocsin.service import drift, paging, record, reports
from tocsin.service.context import Context, serving
from tocsin.service.routes import route_plan
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()

COVERAGE_DAYS = 30
WINDOWS = (7, 30, 90)  # a report's window, in days
WEEKS = 8  # the charts' weeks


def _catalog(ctx: Context, query: str) -> dict[str, Any]:
    catalog = ctx.catalog
    if catalog is None:
        return {"books": [], "problems": {}, "coverage": None}
    roots = ctx.config.runbook_paths()
    problems: dict[str, list[Any]] = {}
    for problem in lint_catalog(catalog, times.to_dt(ctx.now()).date()):
        problems.setdefault(relative_path(problem.source, roots), []).append(problem)
    wanted = query.lower()
    books = []
    for book in catalog.runbooks:
        alerts = [
            a
            for a in book.alerts
            if not wanted or wanted in a.name.lower() or wanted in (a.title or "").lower()
        ]
        if wanted and not alerts and wanted not in book.title.lower():
            continue
        source = relative_path(book.source, roots)
        books.append({"title": book.title, "source": source, "alerts": alerts})
    now = ctx.now()
    made = reports.report(ctx, now - COVERAGE_DAYS * 86400, now + 1)
    return {
        "books": books,
        "problems": problems,
        "coverage": {
            "without_runbook": made.without_runbook,
            "runbooks_not_seen": made.runbooks_not_seen,
        },
    }


@router.get("/runbooks")
@access.handled
async def runbook_list(request: Request) -> Response:
    person = access.require(request, "read")
    query = request.query_params.get("q", "").strip()[:200]
    view = await asyncio.to_thread(_catalog, serving(access.app_state(request)), query)
    return page(
        "runbooks.html", person=person, title="Runbooks", q=query, days=COVERAGE_DAYS, **view
    )


@router.get("/runbooks/drift")
@access.handled
async def drift_page(request: Request) -> Response:
    """The runbooks beside the rules the configured Prometheus loaded: the findings by kind,
    or why there are none to show (no Prometheus configured, or it cannot be read). Before
    ``/runbooks/{name}``: an alert named ``drift`` is read at ``/runbooks/drift?alert=1``."""
    person = access.require(request, "read")
    ctx = serving(access.app_state(request))
    if request.query_params.get("alert"):
        return await _section(request, person, ctx, "drift")
    report, problem, status = None, "", 200
    try:
        report = await asyncio.to_thread(drift.drift, ctx)
    except Invalid as exc:  # no runbooks, or no Prometheus, configured
        problem = exc.message
    except Unavailable as exc:
        problem, status = exc.message, 503
    roots = ctx.config.runbook_paths()
    groups = []
    if report is not None:
        for kind in KINDS:
            found = [
                {**f.to_json(), "source": relative_path(f.source, roots) if f.source else None}
                for f in report.findings
                if f.kind == kind
            ]
            groups.append({"kind": kind, "title": TITLES[kind], "findings": found})
    return page(
        "drift.html",
        status=status,
        person=person,
        title="Drift against Prometheus",
        report=report.to_json() if report is not None else None,
        groups=groups,
        problem=problem,
    )


async def _section(request: Request, person: Any, ctx: Context, name: str) -> Response:
    severity = request.query_params.get("severity", "").strip()[:64] or None
    found = await asyncio.to_thread(record.runbook_sections, ctx, [name[:200]], severity)
    if not found:
        raise NotFound(f"no runbook documents an alert named {name[:200]!r}")
    return page("runbook.html", person=person, title=name, alert=name, sections=found)


@router.get("/runbooks/{name}")
@access.handled
async def runbook_section(request: Request, name: str) -> Response:
    """An alert's runbook section, at a severity (``severity``) when given."""
    person = access.require(request, "read")
    return await _section(request, person, serving(access.app_state(request)), name)


# --------------------------------------------------------------------------- config


def _labels(text: str) -> dict[str, str]:
    """An alert's labels as a person writes them: ``{a="b", c="d"}`` or ``a=b`` a line."""
    text = text.strip()[:4000]
    body = text if text.startswith("{") or "\n" not in text else ",".join(text.splitlines())
    found = parse_matchers(body)
    if any(m.op.value != "=" for m in found):
        raise Invalid('give labels as name="value"')
    return {m.name: m.value for m in found}


@router.get("/config")
@access.handled
async def config_page(request: Request) -> Response:
    """The routing tree, what an alert with given labels would meet (``labels``), and the
    configuration's notes."""
    person = access.require(request, "read")
    state = access.app_state(request)
    ctx = serving(state)
    text = request.query_params.get("labels", "")
    plan, error = None, ""
    if text.strip():
        try:
            overrides = [o for _id, o in await asyncio.to_thread(paging.overrides, ctx)]
            plan = route_plan(ctx.config, _labels(text), times.to_dt(ctx.now()), overrides)
        except Invalid as exc:
            error = exc.message
    notes = [note for policy in ctx.config.paging.policies.values() for note in policy.notes]
    return page(
        "config.html",
        person=person,
        title="Configuration",
        root=ctx.config.route,
        labels=text[:4000],
        plan=plan,
        error=error,
        notes=notes,
        source=str(state.config_path) if state.config_path else "",
    )


# --------------------------------------------------------------------------- reports


def _bars(values: list[tuple[str, float | None]], unit: str = "min") -> Markup:
    """A horizontal bar chart, drawn on the server as SVG: one bar a value, labelled."""
    height = 24 * max(1, len(values)) + 8
    top = max([v for _, v in values if v is not None] or [1.0]) or 1.0
    parts = [
        f'<svg class="chart" viewBox="0 0 600 {height}" role="img" aria-label="{len(values)} bars">'
    ]
    for i, (label, value) in enumerate(values):
        y = 4 + i * 24
        width = 0 if value is None else max(2, round(value / top * 380))
        shown = "-" if value is None else f"{value:.1f} {unit}"
        parts.append(
            f'<text x="0" y="{y + 16}" class="label">{Markup.escape(label[:28])}</text>'
            f'<rect x="190" y="{y + 3}" width="{width}" height="16" class="bar"></rect>'
            f'<text x="{196 + width}" y="{y + 16}" class="value">{shown}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # every label escaped above; numbers only otherwise


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def _report(ctx: Context, days: int) -> dict[str, Any]:
    now = ctx.now()
    made = reports.report(ctx, now - days * 86400, now + 1)
    data = made.to_json()
    weeks = []
    for week in range(WEEKS, 0, -1):
        start = now - week * 7 * 86400
        part = reports.report(ctx, start, start + 7 * 86400).overall
        label = datetime.fromtimestamp(start, UTC).strftime("week of %d %b")
        weeks.append((label, part))
    response = data["response"]
    return {
        "report": data,
        "charts": [
            (
                f"Time to {what}, median, by {by}",
                _bars(
                    [
                        (r["key"], _minutes(r[f"time_to_{key}"]["median_s"]))
                        for r in response[f"by_{by}"]
                    ]
                ),
            )
            for by in ("severity", "service")
            for what, key in (("acknowledge", "acknowledge"), ("resolve", "resolve"))
        ],
        "ack_by_week": _bars(
            [(label, _minutes(r.time_to_acknowledge.median_s)) for label, r in weeks]
        ),
        "resolve_by_week": _bars(
            [(label, _minutes(r.time_to_resolve.median_s)) for label, r in weeks]
        ),
    }


@router.get("/reports")
@access.handled
async def report_page(request: Request) -> Response:
    person = access.require(request, "read")
    raw = request.query_params.get("days", "30")
    if not raw.isdigit() or int(raw) not in WINDOWS:
        raise Invalid(f"days must be one of {', '.join(map(str, WINDOWS))}")
    view = await asyncio.to_thread(_report, serving(access.app_state(request)), int(raw))
    return page(
        "reports.html", person=person, title="Reports", days=int(raw), windows=WINDOWS, **view
    )
