"""``tocsin silence add | list | expire``: silences from the terminal, as ``amtool silence``.

- ``tocsin silence add alertname=DiskFull 'instance=~"db.*"' --duration 2h --comment "..."``
  prints the new silence's id;
- ``tocsin silence list [MATCHER...] [--expired] [--quiet]``: the silences that are active or
  pending (expired ones with ``--expired``), whose matchers include every one given;
- ``tocsin silence expire ID...``.

Matchers are Alertmanager's (``=``, ``!=``, ``=~``, ``!~``; values quoted or not). Like every
operating command they work through a ``client.Client``: a running server's
``/api/v2/silences`` (``--url``), or this host's database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from tocsin.cli.client import Client, refusals, with_client
from tocsin.cli.options import By, out, shown

silence_app = typer.Typer(help="Silences: mute matching alerts for a while.", no_args_is_help=True)

MAX_COMMENT_CHARS = 1000


def _matchers(texts: list[str]) -> list[Any]:
    """Each argument is one matcher (``a=b``, ``a=~"x.*"``) or a list (``{a="b",c!="d"}``)."""
    from tocsin.alerts.matchers import MatcherError, parse_matchers

    found: list[Any] = []
    for text in texts:
        try:
            found.extend(parse_matchers(text))
        except MatcherError as exc:
            raise typer.BadParameter(exc.message, param_hint="MATCHER") from None
    return found


def _when(text: str, now: datetime) -> datetime:
    from tocsin.times import parse_when

    try:
        return datetime.fromtimestamp(parse_when(text, now.timestamp()), UTC)
    except (ValueError, OverflowError, OSError):
        raise typer.BadParameter(f"{text!r} is not a time (ISO 8601, now, +2h)") from None


def _duration(text: str) -> float:
    from tocsin.times import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise typer.BadParameter(
            f"{text!r} is not a duration (30m, 2h, 1d)", param_hint="--duration"
        )
    return seconds


@silence_app.command("add")
@with_client
def silence_add(
    matchers: Annotated[
        list[str],
        typer.Argument(
            metavar="MATCHER...",
            help="What to silence: alertname=DiskFull 'instance=~\"db.*\"' (all must match).",
        ),
    ],
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why (required).")],
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="How long from the start: 30m, 2h, 1d.")
    ] = "1h",
    start: Annotated[str, typer.Option("--start", help="ISO 8601, now, +1h.")] = "now",
    end: Annotated[
        str | None, typer.Option("--end", help="ISO 8601 or +2h (instead of --duration).")
    ] = None,
    by: By = None,
    *,
    client: Client,
) -> None:
    """Silence the alerts that match every MATCHER; prints the silence's id."""
    wanted = _matchers(matchers)
    if not wanted:
        raise typer.BadParameter("give at least one matcher", param_hint="MATCHER")
    comment = comment.strip()
    if not comment or len(comment) > MAX_COMMENT_CHARS:
        raise typer.BadParameter(
            f"a comment has 1 to {MAX_COMMENT_CHARS} characters", param_hint="--comment"
        )
    now = datetime.now(UTC)
    begins = _when(start, now)
    ends = _when(end, begins) if end else begins + timedelta(seconds=_duration(duration))
    who = client.actor(by)
    print(client.add_silence(wanted, begins, ends, who, comment))


def _at(text: str) -> str:
    """Alertmanager's time (``2027-01-15T10:00:00.000Z``) as people read it."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_OPS = {(False, True): "=", (True, True): "=~", (False, False): "!=", (True, False): "!~"}


def _matcher_text(matcher: dict[str, Any]) -> str:
    """An API matcher as Alertmanager writes it: ``name=~"value"``."""
    op = _OPS[bool(matcher["isRegex"]), bool(matcher.get("isEqual", True))]
    value = str(matcher["value"]).replace("\\", "\\\\").replace('"', '\\"')
    return f'{matcher["name"]}{op}"{value}"'


@silence_app.command("list")
@with_client
def silence_list(
    matchers: Annotated[
        list[str] | None,
        typer.Argument(metavar="[MATCHER]...", help="Only silences with these matchers."),
    ] = None,
    expired: Annotated[
        bool, typer.Option("--expired", help="Expired silences instead of current ones.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the ids.")] = False,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    *,
    client: Client,
) -> None:
    """Silences that are active or pending (or --expired), soonest ending first."""
    wanted = {_matcher_text_of(m) for m in _matchers(matchers or [])}
    found = [
        s
        for s in client.silences()
        if (s["status"]["state"] == "expired") == expired
        and wanted <= {_matcher_text(m) for m in s["matchers"]}
    ]
    if quiet:
        for silence in found:
            print(silence["id"])
        return
    if output == "json":
        print(json.dumps(found, indent=2))
        return
    table = Table(title=f"silences ({len(found)})", title_justify="left")
    table.add_column("id", no_wrap=True, min_width=36)  # whole: it is what expire takes
    for column in ("state", "matchers", "ends", "created by", "comment"):
        table.add_column(column)
    for silence in found:
        table.add_row(
            silence["id"],
            shown(silence["status"]["state"]),
            shown(" ".join(_matcher_text(m) for m in silence["matchers"])),
            _at(silence["endsAt"]),
            shown(silence["createdBy"]),
            shown(silence["comment"][:80]),
        )
    out.print(table)


def _matcher_text_of(matcher: Any) -> str:
    return _matcher_text(
        {
            "name": matcher.name,
            "value": matcher.value,
            "isRegex": matcher.is_regex,
            "isEqual": matcher.is_equal,
        }
    )


@silence_app.command("expire")
@with_client
def silence_expire(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="The silences' ids.")],
    *,
    client: Client,
) -> None:
    """End silences now."""
    for silence_id in ids:
        with refusals():
            client.expire_silence(silence_id)
        out.print(f"silence {shown(silence_id)} expired")
