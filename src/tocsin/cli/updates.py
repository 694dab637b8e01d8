"""``tocsin incident update N --stage STAGE --message TEXT``: post a status update from the
terminal (rendered, recorded on the timeline and queued to the incident's channels, as the
API's ``POST /api/v1/incidents/{id}/status-updates``); ``tocsin incident updates N`` lists
them. Both are commands of the ``incident`` group (registered in ``tocsin.cli``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tocsin.cli.client import Client, refusals, with_client
from tocsin.cli.options import By, Number
from tocsin.incidents.updates import STAGES
from tocsin.templating import printable


@with_client
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
    public: Annotated[
        bool,
        typer.Option(
            "--public", help="Also publish the message on the public status page (/status)."
        ),
    ] = False,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    by: By = None,
    *,
    client: Client,
) -> None:
    """Post a status update: its text goes to the incident's channels (the stage
    resolved does not resolve the paging: use tocsin incident resolve)."""
    with refusals(f"incident {number}: "):
        who = client.actor(by)
        posted = client.post_update(number, stage, message, who, template, impact, public)
    if output == "json":
        print(json.dumps(posted))
        return
    print(printable(posted["text"], lines=True), end="")  # a label's ESC is shown, not sent
    sent = printable(", ".join(posted["channels"])) or "no channel"
    stage_shown, template_shown = printable(posted["stage"]), printable(posted["template"])
    print(f"-- incident {number}: {stage_shown} ({template_shown}), queued to {sent}")


@with_client
def list_updates(
    number: Number,
    *,
    client: Client,
) -> None:
    """The incident's status updates, oldest first (JSON lines)."""
    found = client.updates(number)
    for item in found:
        print(json.dumps(item))
