"""The console's runbook commands that run (docs/execute.md): ask to run a step from the
incident's runbook panel, approve, refuse or run again from its runs; each through the
service layer (``service.runs``) as the signed-in person."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from tocsin.errors import Invalid
from tocsin.service import runs
from tocsin.service.context import Context, serving
from tocsin.web import access

router = APIRouter()

MAX_TYPED = 20


def typed_of(form: FormData) -> dict[str, str]:
    """Placeholder values the form carries (``fill.<key>``), bounded as the page's are."""
    found: dict[str, str] = {}
    for name, value in form.multi_items():
        key = name.removeprefix("fill.")
        if not name.startswith("fill.") or not isinstance(value, str) or not value.strip():
            continue
        if key.replace("_", "").isalnum() and len(key) <= 100 and len(found) < MAX_TYPED:
            found[key] = value.strip()[:500]
    return found


def _number(form: FormData, name: str) -> int:
    raw = str(form.get(name) or "")
    if not raw.isdigit() or len(raw) > 6:
        raise Invalid(f"{name} must be a number")
    return int(raw)


def _digest(form: FormData) -> str | None:
    raw = str(form.get("digest") or "")
    return raw if len(raw) == 64 and all(c in "0123456789abcdef" for c in raw) else None


def said(run: Any) -> str:
    """What the flash says of a run just asked for or acted on."""
    if run.status == "queued":
        return f"Step {run.step} is running (run {run.id})"
    if run.status == "awaiting":
        return f"Step {run.step} waits for {run.reason} (run {run.id})"
    return f"Run {run.id} of step {run.step}: {run.status}"


async def request_run(
    request: Request, ctx: Context, incident_id: int, by: str, form: FormData
) -> Response:
    """Ask to run a step (the runbook panel's button)."""
    step = _number(form, "step")
    approve = form.get("approve") == "on"
    run = await asyncio.to_thread(
        runs.request,
        ctx,
        incident_id,
        step,
        by,
        approve=approve,
        digest=_digest(form),
        typed=typed_of(form),
    )
    return access.redirect(f"/incidents/{incident_id}", flash=said(run))


@router.post("/runs/{run_id}/{action}")
@access.handled
async def run_action(request: Request, run_id: int, action: str) -> Response:
    """Approve, refuse or run again a run of the incident's runs."""
    person, form = await access.acting(request)
    ctx = serving(access.app_state(request))
    if action == "approve":
        confirm = str(form.get("confirm") or "")[:2000] or None
        run = await asyncio.to_thread(
            runs.approve, ctx, run_id, person.user, _digest(form), confirm
        )
    elif action == "refuse":
        reason = str(form.get("reason") or "")[: runs.MAX_REASON_CHARS]
        run = await asyncio.to_thread(runs.refuse, ctx, run_id, person.user, reason)
    elif action == "rerun":
        run = await asyncio.to_thread(runs.rerun, ctx, run_id, person.user)
    else:
        raise Invalid(f"no action {action[:40]!r}")
    return access.redirect(f"/incidents/{run.incident_id}", flash=said(run))
