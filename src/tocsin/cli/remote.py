"""The remote client: the operating commands against a running server, like ``amtool``.

``--url`` (``TOCSIN_URL``) names the server and ``--token`` (``TOCSIN_TOKEN``) the API token;
either may come from the CLI file, ``~/.config/tocsin/cli.yaml`` (``$XDG_CONFIG_HOME`` is
respected; ``TOCSIN_CLI_CONFIG`` names another file)::

    url: https://tocsin.example.com
    token: tocsin_...

A file that holds a token must be readable by its owner only (mode 0600), else it is refused.

Every call goes to the endpoints the API already has (``/api/v1/...`` and Alertmanager's
``/api/v2/silences``) and answers their JSON. A refusal becomes the ``tocsin.errors`` kind of
its status with the server's own message; a server that cannot be reached becomes one line
naming the URL (``Unavailable``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import yaml

from tocsin.cli.options import os_user
from tocsin.errors import (
    HTTP_STATUS,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TocsinError,
    Unavailable,
)

if TYPE_CHECKING:
    from tocsin.alerts.matchers import Matcher
    from tocsin.incidents.stats import WorkingHours

TIMEOUT_S = 30.0
MAX_CLI_FILE_BYTES = 64 * 1024
# a status back into its kind (the API's table), and the statuses outside it: 400 (an
# invalid request answered before the one shape existed), 401 (no or a bad token)
_KINDS: dict[int, type[TocsinError]] = {
    **{status: kind for kind, status in HTTP_STATUS.items() if kind is not Unavailable},
    400: Invalid,
    401: Forbidden,
}


@dataclass(frozen=True)
class CliSettings:
    url: str | None = None
    token: str | None = None


def cli_file() -> Path:
    """Where the CLI file is (whether or not it exists)."""
    named = os.environ.get("TOCSIN_CLI_CONFIG")
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tocsin" / "cli.yaml"


def cli_settings() -> CliSettings:
    """The CLI file's ``url`` and ``token`` (none when there is no file); ``Invalid`` when it
    is malformed, has other keys, or holds a token others may read."""
    path = cli_file()
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            raw = handle.read(MAX_CLI_FILE_BYTES + 1)
    except FileNotFoundError:
        return CliSettings()
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_CLI_FILE_BYTES:
        raise Invalid(f"{path}: larger than {MAX_CLI_FILE_BYTES} bytes")
    try:
        loaded = yaml.safe_load(raw) if raw.strip() else {}
    except yaml.YAMLError as exc:
        raise Invalid(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(loaded, dict):
        raise Invalid(f"{path}: a mapping with url and token is expected")
    unknown = sorted(str(k) for k in loaded if k not in ("url", "token"))
    if unknown:
        raise Invalid(f"{path}: unknown key {unknown[0]!r} (the keys are url and token)")
    for key in ("url", "token"):
        if loaded.get(key) is not None and not isinstance(loaded[key], str):
            raise Invalid(f"{path}: {key} must be a string")
    token = loaded.get("token") or None
    if token is not None and stat.S_IMODE(mode) & 0o077:
        raise Invalid(
            f"{path} holds a token and others may read it (mode {stat.S_IMODE(mode):04o}): "
            f"chmod 600 {path}"
        )
    return CliSettings(url=loaded.get("url") or None, token=token)


def _message(answer: httpx.Response) -> str:
    """The server's own message: the native API's ``error.message``, a ``detail``, or
    Alertmanager's plain string."""
    try:
        body = answer.json()
    except ValueError:
        text = answer.text.strip()
        if text and "\n" not in text and len(text) <= 200 and "<" not in text:
            return text
        return (
            f"{answer.url} answered {answer.status_code} {answer.reason_phrase} (not tocsin's API?)"
        )
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    if isinstance(body, str) and body:
        return body[:500]
    return f"{answer.status_code} {answer.reason_phrase}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class RemoteClient:
    """A running server, through its HTTP API, as the token's user."""

    def __init__(self, url: str, token: str, transport: httpx.BaseTransport | None = None) -> None:
        base = url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise Invalid(f"--url {url!r} must start with http:// or https://")
        self.where = base
        self._http = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "tocsin-cli"},
            timeout=TIMEOUT_S,
            transport=transport,
        )
        self._whoami: dict[str, Any] | None = None
        self._asked = False

    # ------------------------------------------------------------------ plumbing

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        kinds: dict[int, type[TocsinError]] | None = None,
    ) -> httpx.Response:
        """The answer to one request; a refusal raises its kind (by its status, ``kinds``
        first) with the server's message."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            answer = self._http.request(
                method, path, params=query, json=body if body is not None else None
            )
        except httpx.ConnectError as exc:
            raise Unavailable(f"cannot connect to {self.where}: {_reason(exc)}") from None
        except httpx.TimeoutException:
            raise Unavailable(f"{self.where} did not answer within {TIMEOUT_S:.0f} s") from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"{self.where}: {_reason(exc)}") from None
        if answer.status_code >= 400:
            kind = {**_KINDS, **(kinds or {})}.get(answer.status_code, Unavailable)
            message = _message(answer)
            if kind is Unavailable:
                message = f"{self.where} answered {answer.status_code}: {message}"
            raise kind(message)
        return answer

    def json(self, method: str, path: str, **request: Any) -> Any:
        return self.decoded(self.call(method, path, **request))

    def decoded(self, answer: httpx.Response) -> Any:
        """The answer's JSON (``Unavailable`` when it is none: not a tocsin server?)."""
        try:
            return answer.json()
        except ValueError:
            raise Unavailable(
                f"{answer.url} did not answer JSON: is {self.where} a tocsin server?"
            ) from None

    # ------------------------------------------------------------------ who acts

    def whoami(self) -> dict[str, Any] | None:
        """``{"user": ..., "role": ...}`` of the token, or None from a server without
        ``GET /api/v1/whoami``."""
        if not self._asked:
            try:
                self._whoami = self.json("GET", "/api/v1/whoami")
            except NotFound:
                self._whoami = None
            self._asked = True
        return self._whoami

    def actor(self, by: str | None) -> str:
        me = self.whoami()
        if me is None or not me.get("user"):  # an older server names no user
            return by or os_user() or "cli"
        user = str(me["user"])
        if by is not None and by != user:
            raise Invalid(
                f"this token acts as {user}; --by {by} cannot change who acts on {self.where} "
                "(leave --by out)"
            )
        return user

    # ------------------------------------------------------------------ incidents

    def incidents(
        self,
        statuses: list[str] | None,
        severities: list[str] | None,
        assignee: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        answer = self.call(
            "GET",
            "/api/v1/incidents",
            params={
                "status": ",".join(statuses) if statuses else None,
                "severity": ",".join(severities) if severities else None,
                "assignee": assignee,
                "limit": limit,
            },
        )
        found: list[dict[str, Any]] = self.decoded(answer)
        return found, int(answer.headers.get("X-Total-Count", len(found)))

    def incident(self, number: int) -> dict[str, Any]:
        record: dict[str, Any] = self.json("GET", f"/api/v1/incidents/{number}")
        path = f"/api/v1/incidents/{number}/timeline"  # the latest events, and how many
        answer = self.call("GET", path, params={"latest": "true"})
        record["timeline"] = self.decoded(answer)
        record["timeline_total"] = int(answer.headers.get("X-Total-Count", len(record["timeline"])))
        return record

    def page(self, action: str, number: int, by: str) -> dict[str, Any]:
        done: dict[str, Any] = self.json("POST", f"/api/v1/incidents/{number}/{action}")
        return done

    def note(self, number: int, text: str, by: str) -> dict[str, Any]:
        done: dict[str, Any] = self.json(
            "POST", f"/api/v1/incidents/{number}/notes", body={"text": text}
        )
        return done

    def assign(self, number: int, changes: dict[str, str], by: str) -> dict[str, Any]:
        done: dict[str, Any] = self.json("PATCH", f"/api/v1/incidents/{number}", body=changes)
        return done

    def reopen(self, number: int, reason: str, by: str) -> dict[str, Any]:
        done: dict[str, Any] = self.json(
            "POST", f"/api/v1/incidents/{number}/reopen", body={"reason": reason}
        )
        return done

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
        body: dict[str, Any] = {
            "stage": stage,
            "message": message,
            "template": template,
            "impact": impact,
            "public": public or None,  # left out unless asked: older servers know no key
        }
        done: dict[str, Any] = self.json(
            "POST",
            f"/api/v1/incidents/{number}/status-updates",
            body={k: v for k, v in body.items() if v is not None},
        )
        return done

    def updates(self, number: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json("GET", f"/api/v1/incidents/{number}/status-updates")
        return found

    def postmortem(self, number: int) -> str:
        return self.call("GET", f"/api/v1/incidents/{number}/postmortem").text

    def postmortem_status(self, number: int, status: str, by: str) -> dict[str, str]:
        done: dict[str, str] = self.json(
            "PATCH", f"/api/v1/incidents/{number}/postmortem", body={"status": status}
        )
        return done

    # ------------------------------------------------------------------ action items

    def action_items(
        self,
        incident: int | None,
        status: str | None,
        owner: str | None,
        overdue: bool,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        found: list[dict[str, Any]] = []
        total = 0
        while len(found) < limit:  # the API answers pages of up to 500
            answer = self.call(
                "GET",
                "/api/v1/action-items",
                params={
                    "incident": incident,
                    "status": status,
                    "owner": owner,
                    "overdue": "true" if overdue else None,
                    "limit": min(500, limit - len(found)),
                    "offset": len(found),
                },
            )
            page: list[dict[str, Any]] = self.decoded(answer)
            total = int(answer.headers.get("X-Total-Count", len(page)))
            found.extend(page)
            if not page or len(found) >= total:
                break
        return found, total

    def add_action_item(
        self, number: int, title: str, owner: str, by: str, due: str | None
    ) -> dict[str, Any]:
        body = {"title": title, "owner": owner, **({"due": due} if due is not None else {})}
        done: dict[str, Any] = self.json(
            "POST", f"/api/v1/incidents/{number}/action-items", body=body
        )
        return done

    def close_action_item(self, item_id: int, by: str) -> dict[str, Any]:
        done: dict[str, Any] = self.json(
            "PATCH", f"/api/v1/action-items/{item_id}", body={"status": "done"}
        )
        return done

    # ------------------------------------------------------------------ on call

    def oncall(self, at: datetime, schedule: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json(
            "GET", "/api/v1/oncall", params={"at": _iso(at), "schedule": schedule}
        )
        return found

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
        body = {
            "schedule": schedule,
            "user": user,
            "start": _iso(start),
            "end": _iso(end),
            "replaces": replaces,
            "reason": reason,
        }
        made: dict[str, Any] = self.json("POST", "/api/v1/overrides", body=body)
        return made

    def overrides(self, schedule: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json(
            "GET", "/api/v1/overrides", params={"schedule": schedule}
        )
        return found

    def delete_override(self, override_id: int) -> None:
        self.call("DELETE", f"/api/v1/overrides/{override_id}")

    # ------------------------------------------------------------------ maintenance windows

    def maintenance(self, include_past: bool) -> list[dict[str, Any]]:
        params = {"all": "true"} if include_past else None
        found: list[dict[str, Any]] = self.json("GET", "/api/v1/maintenance", params=params)
        return found

    def add_maintenance(self, window: dict[str, Any], by: str) -> dict[str, Any]:
        made: dict[str, Any] = self.json("POST", "/api/v1/maintenance", body=window)
        return made

    def end_maintenance(self, window_id: int, by: str) -> dict[str, Any]:
        ended: dict[str, Any] = self.json("DELETE", f"/api/v1/maintenance/{window_id}")
        return ended

    # ------------------------------------------------------------------ contact methods

    def contacts(self, by: str, user: str | None) -> dict[str, Any]:
        found: dict[str, Any] = self.json(
            "GET", "/api/v1/me/contact-methods", params={"user": user}
        )
        return found

    def test_contact(self, name: str, by: str, user: str | None) -> dict[str, Any]:
        path = f"/api/v1/me/contact-methods/{quote(name, safe='')}/test"
        found: dict[str, Any] = self.json("POST", path, params={"user": user})
        return found

    # ------------------------------------------------------------------ silences

    def silences(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json("GET", "/api/v2/silences")
        return found

    def add_silence(
        self,
        matchers: Sequence[Matcher],
        starts: datetime,
        ends: datetime,
        by: str,
        comment: str,
    ) -> str:
        body = {
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in matchers
            ],
            "startsAt": _iso(starts),
            "endsAt": _iso(ends),
            "createdBy": by,
            "comment": comment,
        }
        made = self.json("POST", "/api/v2/silences", body=body)
        return str(made["silenceID"])

    def expire_silence(self, silence_id: str) -> None:
        try:  # Alertmanager answers an expired silence with a 500
            self.call("DELETE", f"/api/v2/silence/{silence_id}", kinds={500: Conflict})
        except NotFound:
            raise NotFound(f"no silence {silence_id}") from None  # Alertmanager: an empty 404

    # ------------------------------------------------------------------ heartbeats

    def heartbeats(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json("GET", "/api/v1/heartbeats")["heartbeats"]
        return found

    def beat(self, name: str) -> dict[str, Any]:
        done: dict[str, Any] = self.json("POST", f"/api/v1/heartbeats/{quote(name, safe='')}")
        return done

    # ------------------------------------------------------------------ runs

    def steps(self, number: int, typed: dict[str, str]) -> list[dict[str, Any]]:
        fill = [f"{k}={v}" for k, v in typed.items()]
        found: list[dict[str, Any]] = self.json(
            "GET", f"/api/v1/incidents/{number}/steps", params={"fill": fill or None}
        )
        return found

    def run_step(
        self,
        number: int,
        step: int,
        by: str,
        approve: bool,
        digest: str | None,
        typed: dict[str, str],
    ) -> dict[str, Any]:
        body = {"step": step, "approve": approve, "digest": digest, "fill": typed}
        made: dict[str, Any] = self.json("POST", f"/api/v1/incidents/{number}/runs", body=body)
        return made

    def runs(self, number: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.json("GET", f"/api/v1/incidents/{number}/runs")
        return found

    def run(self, run_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.json("GET", f"/api/v1/runs/{run_id}")
        return found

    def approve_run(self, run_id: int, by: str, digest: str, confirm: str | None) -> dict[str, Any]:
        body = {"digest": digest, "confirm": confirm}
        done: dict[str, Any] = self.json("POST", f"/api/v1/runs/{run_id}/approve", body=body)
        return done

    def refuse_run(self, run_id: int, by: str, reason: str) -> dict[str, Any]:
        done: dict[str, Any] = self.json(
            "POST", f"/api/v1/runs/{run_id}/refuse", body={"reason": reason}
        )
        return done

    def rerun(self, run_id: int, by: str, approve: bool) -> dict[str, Any]:
        made: dict[str, Any] = self.json(
            "POST", f"/api/v1/runs/{run_id}/rerun", body={"approve": approve}
        )
        return made

    # ------------------------------------------------------------------ reports

    def report(self, since: float, until: float, hours: WorkingHours | None) -> dict[str, Any]:
        from tocsin.incidents.stats import WorkingHours

        if hours is not None and hours != WorkingHours():
            raise Invalid(
                "--working-hours works on this host's database only: a server reports "
                "with 08:00-18:00"
            )
        found: dict[str, Any] = self.json(
            "GET",
            "/api/v1/reports",
            params={
                "since": _iso(datetime.fromtimestamp(since, UTC)),
                "until": _iso(datetime.fromtimestamp(until, UTC)),
            },
        )
        return found

    # ------------------------------------------------------------------ runbooks

    def drift(self, prometheus: str | None) -> dict[str, Any]:
        if prometheus is not None:
            raise Invalid(
                "--prometheus works on this host's configuration only: a server compares its "
                "runbooks with the Prometheus its own configuration names (execute.runners)"
            )
        found: dict[str, Any] = self.json("GET", "/api/v1/runbooks/drift")
        return found


def _reason(exc: httpx.HTTPError) -> str:
    """Why a request failed, in a few words (the deepest cause's message)."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause) or str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused (is tocsin serve running there?)"
    return " ".join(text.split())[:200]
