"""The ``tocsin`` command line: the app, and every command registered in one place.

A front door beside the HTTP API. Each command module (``runbooks``, ``server``, ``users``,
``configuration``, ``simulation``, ``paging``, ``incidents``, ``updates``, ``response``,
``reports``, ``silences``) defines thin commands over the packages and imports what they share
from ``options``; this module imports them and registers their commands and groups below, so the
whole command tree reads here, in the order ``tocsin --help`` lists it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tocsin import __version__
from tocsin.cli import (
    configuration,
    heartbeats,
    incidents,
    maintenance,
    me,
    paging,
    replay,
    reports,
    response,
    runbooks,
    runs,
    server,
    silences,
    simulation,
    updates,
    users,
)
from tocsin.cli.help import readable
from tocsin.cli.options import out

app = typer.Typer(
    help="tocsin: runbook-driven alert response.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # docstrings wrap as paragraphs; ``code`` shows as code
)


def _version(value: bool) -> None:
    if value:
        out.print(f"tocsin {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """tocsin reads the runbooks your team already writes and makes them run."""


# commands at the top level
app.command()(server.serve)
app.command()(simulation.simulate)
app.command("oncall")(paging.oncall)
app.command("report")(reports.report)
app.command("replay")(replay.replay)
app.command("run")(runs.run)

# groups, each of one module
app.add_typer(runbooks.runbooks_app, name="runbooks")
app.add_typer(server.db_app, name="db")
app.add_typer(server.tokens_app, name="tokens")
app.add_typer(users.users_app, name="users")
app.add_typer(configuration.routes_app, name="routes")
app.add_typer(configuration.config_app, name="config")
app.add_typer(me.me_app, name="me")

# ``tocsin incident``: its commands come from four modules
incident_app = typer.Typer(help="Act on incidents.", no_args_is_help=True)
incident_app.command("list")(incidents.list_incidents)
incident_app.command("ack")(paging.ack)
incident_app.command("resolve")(paging.resolve)
incident_app.command("escalate")(paging.escalate)
incident_app.command("update")(updates.update)
incident_app.command("updates")(updates.list_updates)
incident_app.command("show")(incidents.show)
incident_app.command("note")(incidents.note)
incident_app.command("assign")(incidents.assign)
incident_app.command("reopen")(incidents.reopen)
incident_app.command("postmortem")(response.postmortem)
app.add_typer(incident_app, name="incident")

app.add_typer(paging.override_app, name="override")
app.add_typer(silences.silence_app, name="silence")
app.add_typer(maintenance.maintenance_app, name="maintenance")
app.add_typer(heartbeats.heartbeats_app, name="heartbeats")
app.add_typer(response.actions_app, name="actions")
app.add_typer(runs.runs_app, name="runs")
readable(app)  # --help names values in words (PATH, N, TEXT), flags bare


def main() -> None:
    app()
