"""``tocsin incident update N --stage STAGE --message TEXT``: post a status update from the
terminal (rendered, recorded on the timeline and queued to the incident's channels, as the
API's ``POST /api/v1/incidents/{id}/status-updates``); ``tocsin incident updates N`` lists
them. Both are commands of the ``incident`` group (registered in ``tocsin.cli``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tocsin.cli.options import By, Number, Site, err, with_site
from tocsin.incidents.updates import STAGES
from tocsin.templating import printable


@with_site
def update(
    number: Number,
    stage: Annotated[str, typer.Option("--stage", help=f"One of {', '.join(STAGES)}.")],
    message: Annotated[str, typer.Option("--message", "-m", help="What we know, what we do.")],
    template: Annotated[
        str | None,
        typer.Option(
            "--template", help="initial, update, resolution or a runbook template's name."
        ),
    ] = None,
    impact: Annotated[str | None, typer.Option("--impact", help="The impact, if known.")] = None,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    by: By = "cli",
    *,
    site: Site,
) -> None:
    """Post a status update: its text goes to the incident's channels (the stage
    resolved does not resolve the paging: use tocsin incident resolve)."""
    from tocsin.errors import TocsinError
    from tocsin.service import updates
    from tocsin.service.context import local

    loaded, engine = site.open()
    ctx = local(loaded, engine, runbooks=True)
    try:
        posted = updates.post(ctx, number, stage, message, by, template=template, impact=impact)
    except TocsinError as exc:
        err.print(f"tocsin: incident {number}: {exc.message}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if output == "json":
        print(json.dumps(posted.to_json()))
        return
    print(printable(posted.text, lines=True), end="")  # a label's ESC is shown, not sent
    sent = ", ".join(posted.channels) or "no channel"
    print(f"-- incident {number}: {posted.stage} ({posted.template}), queued to {sent}")


@with_site
def list_updates(
    number: Number,
    *,
    site: Site,
) -> None:
    """The incident's status updates, oldest first (JSON lines)."""
    from tocsin.errors import NotFound
    from tocsin.service import updates
    from tocsin.service.context import local

    loaded, engine = site.open()
    try:
        found = updates.history(local(loaded, engine), number)
    except NotFound as exc:
        err.print(f"tocsin: {exc.message}")
        raise typer.Exit(1) from None
    for item in found:
        print(json.dumps(item))
