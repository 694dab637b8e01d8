"""``tocsin run INCIDENT STEP``: run a runbook command of an incident (docs/execute.md), and
``tocsin runs``: its steps, its runs, approvals, refusals and runs again. Local or remote as
every operating command (``cli/client.py``); the server's executor runs what is queued."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from tocsin.cli.client import Client, refusals, with_client
from tocsin.cli.options import By, Number
from tocsin.errors import Invalid
from tocsin.incidents.describe import exit_said, seconds_said
from tocsin.templating import printable

runs_app = typer.Typer(
    help="An incident's runbook commands: the steps, their runs, approvals.",
    no_args_is_help=True,
)

Fill = Annotated[
    list[str] | None,
    typer.Option(
        "--fill",
        help="A value for a placeholder no label fills, as KEY=VALUE (pod=api-7f9c); quoted "
        "as the label values are. Repeat it for more.",
    ),
]
RunId = Annotated[int, typer.Argument(help="The run's number (tocsin runs list INCIDENT).")]
Format = Annotated[str, typer.Option("--format", help="text or json.")]


def _typed(fill: list[str] | None) -> dict[str, str]:
    typed: dict[str, str] = {}
    for item in fill or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise Invalid(f"--fill {item!r}: write KEY=VALUE")
        typed[key.strip()] = value
    return typed


def _command(text: str) -> str:
    return printable(text, lines=True)


def _said(run: dict[str, Any]) -> str:
    status = run["status"]
    if status == "finished":
        code = exit_said(str(run.get("target") or ""), run.get("exit_code"))
        took = f", {seconds_said(run['duration_s'])}" if run.get("duration_s") is not None else ""
        return f"finished {run['result']}{code}{took}"
    if status in ("awaiting", "refused") and run.get("reason"):
        return f"{status}: {run['reason']}"
    return str(status)


def _still(run: dict[str, Any]) -> None:
    if run["status"] in ("queued", "running"):
        print(
            f"-- still {run['status']}: a running tocsin serve on this database runs it; "
            f"see tocsin runs show {run['id']}"
        )


def _show(run: dict[str, Any]) -> None:
    where = f" on {run['target']}" if run.get("target") else ""
    print(f"run {run['id']} (step {run['step']}, {run['risk']}){where}: {printable(_said(run))}")
    if run.get("output"):
        print(
            printable(run["output"], lines=True), end="" if run["output"].endswith("\n") else "\n"
        )
    if run.get("truncated"):
        print("-- output cut at the runner's limit")
    if run.get("error"):
        print(f"-- error: {printable(run['error'])}")


def _asker(run: dict[str, Any]) -> str:
    return "auto-diagnose" if run["automatic"] else str(run["requested_by"])


def _wait(client: Client, run: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The run once it finished or was refused, or as it is after ``seconds``."""
    deadline = time.monotonic() + seconds
    while run["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        run = client.run(run["id"])
    return run


@with_client
def run(
    number: Number,
    step: Annotated[int, typer.Argument(help="The step's number (tocsin runs steps INCIDENT).")],
    approve: Annotated[
        bool,
        typer.Option(
            "--approve",
            help="Approve a change command as shown here (it runs at once); a destructive one "
            "needs a second person: tocsin runs approve.",
        ),
    ] = False,
    fill: Fill = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for its output (0: do not wait).")
    ] = 30.0,
    output: Format = "text",
    by: By = None,
    *,
    client: Client,
) -> None:
    """Run a runbook command of an incident: a read command runs at once; a change runs
    once approved (--approve, or tocsin runs approve); a destructive one needs a second
    person and its first line typed. The command is shown as it will run."""
    with refusals(f"incident {number}: "):
        who = client.actor(by)
        typed = _typed(fill)
        steps = client.steps(number, typed)
        if not 1 <= step <= len(steps):
            raise Invalid(f"no step {step} (the runbook has {len(steps)} commands)")
        shown = steps[step - 1]
        if output != "json":
            runner = shown["runner"] or "no runner"
            print(f"step {step} ({shown['risk']}, {shown['language'] or 'plain'}, {runner}):")
            print(_command(shown["command"]))
            for key, value in shown["params"].items():
                print(f"  :{key} = {printable(value)}")
        made = client.run_step(
            number, step, who, approve, shown["digest"] if approve else None, typed
        )
        if wait > 0:
            made = _wait(client, made, wait)
    if output == "json":
        print(json.dumps(made))
        return
    _show(made)
    if wait > 0:
        _still(made)
    if made["status"] == "awaiting" and made["risk"] == "destructive":
        first = shown.get("confirmation") or ""
        print(
            f"-- a second person approves it: tocsin runs approve {made['id']} "
            f"--confirm {json.dumps(first)}"
        )
    elif made["status"] == "awaiting":
        print(f"-- approve it: tocsin runs approve {made['id']}")


@with_client
def steps(
    number: Number,
    fill: Fill = None,
    output: Format = "text",
    *,
    client: Client,
) -> None:
    """The incident's runbook commands, numbered, as they would run: filled from its
    alerts' labels, with their risk and the runner that would run them."""
    with refusals(f"incident {number}: "):
        found = client.steps(number, _typed(fill))
    if output == "json":
        print(json.dumps(found))
        return
    if not found:
        print(f"incident {number}: no runbook commands")
    for s in found:
        why = ""
        if s["unfilled"]:
            why = " · not filled: " + ", ".join(s["unfilled"])
        elif s["problem"]:
            why = f" · {s['problem']}"
        elif not s["runner"]:
            why = " · no runner"
        runner = f" · {s['runner']}" if s["runner"] else ""
        head = f"{s['number']}. {s['risk']} · {s['language'] or 'plain'}{runner}{why}"
        print(printable(f"{head} · {s['section']}"))
        print("   " + _command(s["command"]).replace("\n", "\n   "))


@with_client
def list_runs(number: Number, output: Format = "text", *, client: Client) -> None:
    """The incident's runs, newest first."""
    with refusals(f"incident {number}: "):
        found = client.runs(number)
    if output == "json":
        print(json.dumps(found))
        return
    if not found:
        print(f"incident {number}: no runs")
    for r in found:
        who = printable(_asker(r))
        first = (r["command"].splitlines() or [""])[0]
        said = printable(_said(r))
        print(f"{r['id']}\tstep {r['step']}\t{r['risk']}\t{said}\t{who}\t{printable(first)}")


@with_client
def show(run_id: RunId, output: Format = "text", *, client: Client) -> None:
    """A run: its command, who asked and approved, where it ran, its output."""
    with refusals(f"run {run_id}: "):
        found = client.run(run_id)
    if output == "json":
        print(json.dumps(found))
        return
    print(_command(found["command"]))
    asked = _asker(found)
    approved = f", approved by {found['approved_by']}" if found.get("approved_by") else ""
    print(f"-- asked by {printable(asked)} at {found['requested_at']}{printable(approved)}")
    _show(found)


@with_client
def approve(
    run_id: RunId,
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="A destructive command's first line, typed."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Approve without asking.")] = False,
    by: By = None,
    *,
    client: Client,
) -> None:
    """Approve an awaiting run: its command is shown, and approved as shown."""
    with refusals(f"run {run_id}: "):
        who = client.actor(by)
        found = client.run(run_id)
        print(_command(found["command"]))
        for key, value in found["params"].items():
            print(f"  :{key} = {printable(value)}")
        if not yes and not typer.confirm(f"Run this ({found['risk']}) as {who}?"):
            raise typer.Exit(1)
        done = client.approve_run(run_id, who, found["digest"], confirm)
    _show(done)


@with_client
def refuse(
    run_id: RunId,
    reason: Annotated[str, typer.Option("--reason", help="Why not.")] = "",
    by: By = None,
    *,
    client: Client,
) -> None:
    """Turn down an awaiting or queued run: it never runs."""
    with refusals(f"run {run_id}: "):
        done = client.refuse_run(run_id, client.actor(by), reason)
    _show(done)


@with_client
def rerun(
    run_id: RunId,
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve a change again, as it ran before.")
    ] = False,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for its output (0: do not wait).")
    ] = 30.0,
    by: By = None,
    *,
    client: Client,
) -> None:
    """Run a run's command again, with the same values (approved again where it must be)."""
    with refusals(f"run {run_id}: "):
        made = client.rerun(run_id, client.actor(by), approve)
        if wait > 0:
            made = _wait(client, made, wait)
    _show(made)
    if wait > 0:
        _still(made)


runs_app.command("steps")(steps)
runs_app.command("list")(list_runs)
runs_app.command("show")(show)
runs_app.command("approve")(approve)
runs_app.command("refuse")(refuse)
runs_app.command("rerun")(rerun)
