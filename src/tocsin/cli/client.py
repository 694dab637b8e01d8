"""The one interface the operating commands work through, and its local implementation.

A command (``incident ...``, ``override ...``, ``silence ...``, ``oncall``, ``report``,
``actions ...``) asks a :class:`Client` for plain data (the JSON the API answers) and renders
it; it never knows where the data came from. Two clients answer:

- :class:`LocalClient`: the configuration file and the database of this host (``--config``,
  ``--data-dir``, ``--database-url``), through the service layer, as before;
- ``remote.RemoteClient``: a running server (``--url`` and a token), through its HTTP API.

So a command's output is the same either way. Both raise ``tocsin.errors`` (``NotFound``,
``Invalid``, ``Conflict``, ``Forbidden``, ``Unavailable``); :func:`with_client` prints the
message and exits 1.

Who acts (item 12 of issue 17): a remote client's actions are the token's user's (the server
decides); a local one needs ``--by`` naming a configured user, or takes the OS user's name
when that is a configured user, and refuses otherwise (:meth:`LocalClient.actor`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer

from tocsin.cli.options import DatabaseUrl, DataDir, Site, err, os_user, shown
from tocsin.errors import Invalid, TocsinError

if TYPE_CHECKING:
    from tocsin.alerts.matchers import Matcher
    from tocsin.incidents.stats import WorkingHours
    from tocsin.service.context import Context

PAGING_ACTIONS = ("ack", "resolve", "escalate")


class Client(Protocol):
    """What the operating commands ask for; every answer is the API's JSON shape."""

    where: str  # the server's URL, or the configuration file (for messages)

    def actor(self, by: str | None) -> str:
        """Who acts: the token's user (remote), or ``by`` / the OS user, if configured."""
        ...

    def incidents(
        self,
        statuses: list[str] | None,
        severities: list[str] | None,
        assignee: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]: ...

    def incident(self, number: int) -> dict[str, Any]:
        """The record with its timeline."""
        ...

    def page(self, action: str, number: int, by: str) -> dict[str, Any]:
        """``ack``, ``resolve`` or ``escalate``; the incident after it."""
        ...

    def note(self, number: int, text: str, by: str) -> dict[str, Any]: ...

    def assign(self, number: int, changes: dict[str, str], by: str) -> dict[str, Any]: ...

    def reopen(self, number: int, reason: str, by: str) -> dict[str, Any]: ...

    def post_update(
        self,
        number: int,
        stage: str,
        message: str,
        by: str,
        template: str | None,
        impact: str | None,
        public: bool = False,
    ) -> dict[str, Any]: ...

    def updates(self, number: int) -> list[dict[str, Any]]: ...

    def postmortem(self, number: int) -> str: ...

    def postmortem_status(self, number: int, status: str, by: str) -> dict[str, str]:
        """Move the postmortem to ``status``; ``{status, was}``."""
        ...

    def action_items(
        self,
        incident: int | None,
        status: str | None,
        owner: str | None,
        overdue: bool,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]: ...

    def add_action_item(
        self, number: int, title: str, owner: str, by: str, due: str | None
    ) -> dict[str, Any]: ...

    def close_action_item(self, item_id: int, by: str) -> dict[str, Any]: ...

    def oncall(self, at: datetime, schedule: str | None) -> list[dict[str, Any]]: ...

    def add_override(
        self,
        schedule: str,
        user: str,
        start: datetime,
        end: datetime,
        by: str,
        replaces: str | None,
        reason: str,
    ) -> dict[str, Any]: ...

    def overrides(self, schedule: str | None) -> list[dict[str, Any]]: ...

    def delete_override(self, override_id: int) -> None: ...

    def contacts(self, by: str, user: str | None) -> dict[str, Any]:
        """A person's contact methods and notification rules (``by``'s own, or ``user``'s)."""
        ...

    def test_contact(self, name: str, by: str, user: str | None) -> dict[str, Any]:
        """Send a test through one of a person's contact methods."""
        ...

    def silences(self) -> list[dict[str, Any]]:
        """Every silence, in Alertmanager's shape and order."""
        ...

    def add_silence(
        self,
        matchers: Sequence[Matcher],
        starts: datetime,
        ends: datetime,
        by: str,
        comment: str,
    ) -> str:
        """The new silence's id."""
        ...

    def expire_silence(self, silence_id: str) -> None: ...

    def maintenance(self, include_past: bool) -> list[dict[str, Any]]:
        """Maintenance windows not over (all of them with ``include_past``), newest first."""
        ...

    def add_maintenance(self, window: dict[str, Any], by: str) -> dict[str, Any]:
        """A new maintenance window from ``window`` (the API's body); the window."""
        ...

    def end_maintenance(self, window_id: int, by: str) -> dict[str, Any]: ...

    def report(self, since: float, until: float, hours: WorkingHours | None) -> dict[str, Any]: ...

    # runbook commands that run (docs/execute.md)
    def steps(self, number: int, typed: dict[str, str]) -> list[dict[str, Any]]: ...

    def run_step(
        self,
        number: int,
        step: int,
        by: str,
        approve: bool,
        digest: str | None,
        typed: dict[str, str],
    ) -> dict[str, Any]: ...

    def runs(self, number: int) -> list[dict[str, Any]]: ...

    def run(self, run_id: int) -> dict[str, Any]: ...

    def approve_run(
        self, run_id: int, by: str, digest: str, confirm: str | None
    ) -> dict[str, Any]: ...

    def refuse_run(self, run_id: int, by: str, reason: str) -> dict[str, Any]: ...

    def rerun(self, run_id: int, by: str, approve: bool) -> dict[str, Any]: ...

    def drift(self, prometheus: str | None) -> dict[str, Any]:
        """The runbooks beside the rules Prometheus loaded (``prometheus``: its URL, else the
        configured one): ``service.drift.DriftReport.to_json``."""
        ...

    def heartbeats(self) -> list[dict[str, Any]]:
        """The configured heartbeats and their state (``GET /api/v1/heartbeats``)."""
        ...

    def beat(self, name: str) -> dict[str, Any]:
        """A beat of the heartbeat ``name``; the heartbeat after it."""
        ...


# --------------------------------------------------------------------------- local


def users_text(names: Sequence[str]) -> str:
    shown_names = sorted(names)
    if not shown_names:
        return "none are configured"
    more = f", … ({len(shown_names)} in all)" if len(shown_names) > 12 else ""
    return "users: " + ", ".join(shown_names[:12]) + more


class LocalClient:
    """The configuration and database of this host, through the service layer."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.where = str(site.config)
        self._ctx: Context | None = None

    def ctx(self) -> Context:
        """The service context (configuration loaded, database migrated, runbooks read)."""
        if self._ctx is None:
            from tocsin.service.context import local

            loaded, engine = self.site.open()
            self._ctx = local(loaded, engine, runbooks=True)
        return self._ctx

    def actor(self, by: str | None) -> str:
        users = self.ctx().config.paging.users
        if not users:  # a configuration that names nobody: any name acts, as tokens take
            from tocsin.service.tokens import check_user

            name = by if by is not None else os_user()
            if not name:
                raise Invalid("who acts? give --by NAME (the OS user has no name)")
            return check_user(name, "responder", users)
        if by is not None:
            if by in users:
                return by
            raise Invalid(f"--by {by!r} is not a user in {self.where} ({users_text(list(users))})")
        me = os_user()
        if me is not None and me in users:
            return me
        who = f"the OS user {me!r} is not one" if me else "the OS user has no name"
        raise Invalid(
            f"who acts? give --by NAME, a user in {self.where}; {who} ({users_text(list(users))})"
        )

    def incidents(
        self,
        statuses: list[str] | None,
        severities: list[str] | None,
        assignee: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        from tocsin.service.record import list_incidents

        return list_incidents(
            self.ctx(), statuses=statuses, severities=severities, assignee=assignee, limit=limit
        )

    def incident(self, number: int) -> dict[str, Any]:
        from tocsin.service.record import record

        return record(self.ctx(), number, with_timeline=True)

    def page(self, action: str, number: int, by: str) -> dict[str, Any]:
        from tocsin.service import incidents

        act = {
            "ack": incidents.acknowledge,
            "resolve": incidents.resolve,
            "escalate": incidents.escalate,
        }[action]
        return act(self.ctx(), number, by)

    def note(self, number: int, text: str, by: str) -> dict[str, Any]:
        from tocsin.service import incidents

        return incidents.note(self.ctx(), number, text, by)

    def assign(self, number: int, changes: dict[str, str], by: str) -> dict[str, Any]:
        from tocsin.service import incidents

        return incidents.assign(self.ctx(), number, changes, by)

    def reopen(self, number: int, reason: str, by: str) -> dict[str, Any]:
        from tocsin.service import incidents

        return incidents.reopen(self.ctx(), number, reason, by)

    def post_update(
        self,
        number: int,
        stage: str,
        message: str,
        by: str,
        template: str | None,
        impact: str | None,
        public: bool = False,
    ) -> dict[str, Any]:
        from tocsin.service import updates

        posted = updates.post(
            self.ctx(), number, stage, message, by, template=template, impact=impact, public=public
        )
        return posted.to_json()

    def updates(self, number: int) -> list[dict[str, Any]]:
        from tocsin.service import updates

        return updates.history(self.ctx(), number)

    def postmortem(self, number: int) -> str:
        from tocsin.service.postmortem import postmortem_markdown

        return postmortem_markdown(self.ctx(), number)

    def postmortem_status(self, number: int, status: str, by: str) -> dict[str, str]:
        from tocsin.service.postmortem import set_status

        return set_status(self.ctx(), number, status, by)

    def action_items(
        self,
        incident: int | None,
        status: str | None,
        owner: str | None,
        overdue: bool,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        from tocsin.service.postmortem import action_items

        found = action_items(
            self.ctx(),
            incident_id=incident,
            status=status,
            owner=owner,
            overdue=overdue,
            limit=limit,
        )
        return found.to_json(), found.total

    def add_action_item(
        self, number: int, title: str, owner: str, by: str, due: str | None
    ) -> dict[str, Any]:
        from tocsin.service.postmortem import add_action_item, due_at

        ctx = self.ctx()
        now = ctx.now()
        item = add_action_item(ctx, number, title, owner, by, due_at(due, now), now)
        return item.to_json(now)

    def close_action_item(self, item_id: int, by: str) -> dict[str, Any]:
        from tocsin.service.postmortem import change_action_item

        ctx = self.ctx()
        now = ctx.now()
        return change_action_item(ctx, item_id, by, status="done", now=now).to_json(now)

    def oncall(self, at: datetime, schedule: str | None) -> list[dict[str, Any]]:
        from tocsin.service.paging import oncall_now

        return oncall_now(self.ctx(), at, schedule)

    def add_override(
        self,
        schedule: str,
        user: str,
        start: datetime,
        end: datetime,
        by: str,
        replaces: str | None,
        reason: str,
    ) -> dict[str, Any]:
        from tocsin.service.paging import add_override

        return add_override(
            self.ctx(), schedule, user, start, end, by, replaces=replaces, reason=reason
        )

    def overrides(self, schedule: str | None) -> list[dict[str, Any]]:
        from tocsin.service.paging import override_json, overrides

        return [override_json(i, o) for i, o in overrides(self.ctx(), schedule)]

    def delete_override(self, override_id: int) -> None:
        from tocsin.service.paging import remove_override

        remove_override(self.ctx(), override_id)

    def contacts(self, by: str, user: str | None) -> dict[str, Any]:
        from tocsin.service import contacts

        ctx = self.ctx()  # on this host: anyone's, as the files allow
        return contacts.view(ctx, contacts.person_for(ctx, by, True, user))

    def test_contact(self, name: str, by: str, user: str | None) -> dict[str, Any]:
        from tocsin.service import contacts

        ctx = self.ctx()
        person = contacts.person_for(ctx, by, True, user)
        return contacts.send_test(ctx, person, name, by).to_json()

    def silences(self) -> list[dict[str, Any]]:
        from tocsin import times
        from tocsin.alerts.silences import silence_json
        from tocsin.service import silences

        ctx = self.ctx()
        now = times.to_dt(ctx.now())
        return [silence_json(s, now) for s in silences.silences(ctx, [], now)]

    def add_silence(
        self,
        matchers: Sequence[Matcher],
        starts: datetime,
        ends: datetime,
        by: str,
        comment: str,
    ) -> str:
        from tocsin.service import silences

        return silences.add_silence(self.ctx(), None, matchers, starts, ends, by, comment)

    def expire_silence(self, silence_id: str) -> None:
        from tocsin.service import silences

        silences.expire_silence(self.ctx(), silence_id)

    def maintenance(self, include_past: bool) -> list[dict[str, Any]]:
        from tocsin.service import maintenance

        return [w.json() for w in maintenance.windows(self.ctx(), include_past)]

    def add_maintenance(self, window: dict[str, Any], by: str) -> dict[str, Any]:
        from tocsin import times
        from tocsin.service import maintenance

        def ts(key: str) -> float | None:
            value = window.get(key)
            return None if value is None else times.to_ts(datetime.fromisoformat(value))

        return maintenance.add(
            self.ctx(),
            matchers=list(window.get("matchers") or []),
            receiver=window.get("receiver"),
            starts_at=ts("startsAt"),
            ends_at=ts("endsAt"),
            time_interval=window.get("timeInterval"),
            comment=str(window.get("comment") or ""),
            created_by=by,
        ).json()

    def end_maintenance(self, window_id: int, by: str) -> dict[str, Any]:
        from tocsin.service import maintenance

        return maintenance.end(self.ctx(), window_id, by).json()

    def heartbeats(self) -> list[dict[str, Any]]:
        from tocsin.service import heartbeats

        return heartbeats.listing(self.ctx())

    def beat(self, name: str) -> dict[str, Any]:
        from tocsin.service import heartbeats

        return heartbeats.beat(self.ctx(), name)

    def steps(self, number: int, typed: dict[str, str]) -> list[dict[str, Any]]:
        from tocsin.service import runs

        return [runs.step_json(s) for s in runs.steps(self.ctx(), number, typed)]

    def run_step(
        self,
        number: int,
        step: int,
        by: str,
        approve: bool,
        digest: str | None,
        typed: dict[str, str],
    ) -> dict[str, Any]:
        from tocsin.service import runs

        return runs.request(
            self.ctx(), number, step, by, approve=approve, digest=digest, typed=typed
        ).to_json()

    def runs(self, number: int) -> list[dict[str, Any]]:
        from tocsin.service import runs

        return [r.to_json() for r in runs.runs_of(self.ctx(), number)]

    def run(self, run_id: int) -> dict[str, Any]:
        from tocsin.service import runs

        return runs.run_of(self.ctx(), run_id).to_json()

    def approve_run(self, run_id: int, by: str, digest: str, confirm: str | None) -> dict[str, Any]:
        from tocsin.service import runs

        return runs.approve(self.ctx(), run_id, by, digest, confirm).to_json()

    def refuse_run(self, run_id: int, by: str, reason: str) -> dict[str, Any]:
        from tocsin.service import runs

        return runs.refuse(self.ctx(), run_id, by, reason).to_json()

    def rerun(self, run_id: int, by: str, approve: bool) -> dict[str, Any]:
        from tocsin.service import runs

        return runs.rerun(self.ctx(), run_id, by, approve=approve).to_json()

    def report(self, since: float, until: float, hours: WorkingHours | None) -> dict[str, Any]:
        from tocsin.service.reports import report

        result: dict[str, Any] = report(self.ctx(), since, until, hours).to_json()
        return result

    def drift(self, prometheus: str | None) -> dict[str, Any]:
        """No database is opened: the configuration, its runbooks and the Prometheus."""
        import time

        from tocsin.config import load_config
        from tocsin.service.drift import drift_here

        return drift_here(load_config(self.site.config), prometheus, time.time()).to_json()


# --------------------------------------------------------------------------- the options

SiteConfig = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="TOCSIN_CONFIG",
        help="The tocsin.yaml to use (default: ./tocsin.yaml), when working on this host.",
    ),
]
Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="TOCSIN_URL",
        help="A running tocsin server to work on, such as https://tocsin.example.com "
        "(instead of this host's files).",
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="TOCSIN_TOKEN",
        help="The API token for --url (or token: in ~/.config/tocsin/cli.yaml).",
        show_default=False,
    ),
]

_CLIENT_OPTIONS = (
    ("config", SiteConfig),
    ("data_dir", DataDir),
    ("database_url", DatabaseUrl),
    ("url", Url),
    ("token", Token),
)


def connect(
    config: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    url: str | None,
    token: str | None,
) -> Client:
    """The client the options name: a server (``--url``/``TOCSIN_URL``, else the CLI file's
    ``url`` when no local option is given), else this host's configuration and database."""
    from tocsin.cli.remote import RemoteClient, cli_file, cli_settings

    local_given = any(v is not None for v in (config, data_dir, database_url))
    if url is not None and local_given:
        raise Invalid(
            "--url works on a server; --config, --data-dir and --database-url on this host's "
            "database: give one or the other (check TOCSIN_URL and TOCSIN_CONFIG)"
        )
    if url is None and not local_given:
        settings = cli_settings()
        url = settings.url
        token = token or settings.token
    elif url is not None and token is None:
        token = cli_settings().token
    if url is None:
        if token is not None and not local_given:
            raise Invalid(
                f"a token but no server: give --url (TOCSIN_URL, or url: in {cli_file()}), "
                "or --config/--data-dir to work on this host"
            )
        return LocalClient(Site(config or Path("tocsin.yaml"), data_dir, database_url))
    if not token:
        raise Invalid(
            f"--url {url} needs a token: --token, TOCSIN_TOKEN, or token: in {cli_file()}"
        )
    return RemoteClient(url, token)


def fail(refused: TocsinError, prefix: str = "") -> typer.Exit:
    """Print why (one line on stderr, as data: no markup, no terminal escapes); exit 1."""
    err.print(f"tocsin: {prefix}{shown(refused.message)}", soft_wrap=True)
    return typer.Exit(1)


@contextmanager
def refusals(prefix: str = "") -> Iterator[None]:
    """Inside: a ``TocsinError`` becomes its message and exit status 1."""
    try:
        yield
    except TocsinError as refused:
        raise fail(refused, prefix) from None


def with_client(command: Callable[..., None]) -> Callable[..., None]:
    """The command with ``--config``, ``--data-dir``, ``--database-url``, ``--url`` and
    ``--token`` as its last options in place of its keyword-only parameter ``client``, which
    it receives as a :class:`Client`; a ``TocsinError`` it lets out is printed, exit 1."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "client"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
        for name, kind in _CLIENT_OPTIONS
    ]

    @functools.wraps(command)
    def run(**options: Any) -> None:
        where = [options.pop(name) for name, _kind in _CLIENT_OPTIONS]
        with refusals():
            client = connect(*where)
            command(**options, client=client)

    shown_signature = signature.replace(parameters=[*kept, *added])
    run.__signature__ = shown_signature  # type: ignore[attr-defined]  # what typer reads
    run.__annotations__ = {p.name: p.annotation for p in shown_signature.parameters.values()}
    return run
