"""The PromQL runner: an instant query to a Prometheus's HTTP API, its answer as a small text
table.

A query is ``GET {url}/api/v1/query?query=TEXT`` with the runner's timeout (sent to
Prometheus too, so that it stops evaluating), a bearer token where one is configured, no
proxy from the environment, no redirect followed. The answer is read up to 32 MiB; a vector
is shown as one row per series (its labels as Prometheus writes them, its value), a matrix as
one row per series with its last samples, a scalar or a string as one row; at most
``max_rows`` rows, then how many more there were. An error Prometheus answers (a query it
cannot parse, a timeout it hit) is a failed run with its ``errorType`` and text; an answer
that never came is an ``error``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from tocsin.config.models import PromqlRunnerConfig
from tocsin.execute.base import Request, Result, RunnerConfigError, Status
from tocsin.execute.common import BaseRunner, cap_text, error_line, secret, table
from tocsin.notify.base import SecretResolver, resolve_secret
from tocsin.templating import printable

_MAX_ANSWER = 32 * 1024 * 1024  # bytes read of an answer
_SAMPLES_SHOWN = 10  # of each series of a matrix: the last ones


class _TooLarge(Exception):
    """The answer is larger than ``_MAX_ANSWER``."""


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any  # the JSON, or None when the answer was not JSON
    text: str  # the start of the answer, for an error


def _check_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RunnerConfigError(f"{where}: url must be an http(s) URL with a host")
    return url.rstrip("/")


def _client(token: str | None, timeout_s: float) -> httpx.Client:
    headers = {"User-Agent": "tocsin", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(
        headers=headers,
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,  # no proxy or netrc from the environment
    )


def _get(client: httpx.Client, url: str, params: Mapping[str, str]) -> _Answer:
    """GET, the answer read up to ``_MAX_ANSWER`` bytes (``_TooLarge`` past it)."""
    with client.stream("GET", url, params=params) as response:
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > _MAX_ANSWER:
                raise _TooLarge(f"the answer is larger than {_MAX_ANSWER // 2**20} MiB")
    text = data.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    return _Answer(response.status_code, body, text[:500])


def _error_of(answer: _Answer) -> str | None:
    """Why the answer is not a success, or None."""
    body = answer.body
    if isinstance(body, dict) and body.get("status") == "error":
        return f"{body.get('errorType', 'error')}: {body.get('error', '')}"
    if answer.status >= 400 or not isinstance(body, dict) or body.get("status") != "success":
        return f"HTTP {answer.status}: {answer.text}"
    return None


def series_name(metric: Mapping[str, str]) -> str:
    """A series as Prometheus writes it: ``up{instance="db1:9100", job="node"}``."""
    name = metric.get("__name__", "")
    pairs = [
        f"{k}={json.dumps(v, ensure_ascii=False)}"
        for k, v in sorted(metric.items())
        if k != "__name__"
    ]
    return f"{name}{{{', '.join(pairs)}}}" if pairs or not name else name


def _value(text: object) -> str:
    """A sample's value as Prometheus sends it (a string: ``"1"``, ``"NaN"``, ``"+Inf"``)."""
    return str(text)


def _point(series: Mapping[str, Any]) -> str:
    """A vector's sample: its value, or a native histogram's count and sum."""
    if "value" in series:
        return _value(series["value"][1])
    histogram = series["histogram"][1]
    return f"histogram: count {histogram.get('count')}, sum {histogram.get('sum')}"


def _time(ts: object) -> str:
    try:
        seconds = float(str(ts))
    except ValueError:
        return str(ts)
    if not math.isfinite(seconds):
        return str(ts)
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sample(pair: Sequence[object]) -> str:
    return f"{_value(pair[1])} @ {_time(pair[0])}"


def render(data: Mapping[str, Any], max_rows: int) -> str:
    """A query's ``data`` as a text table; ValueError when it is no result Prometheus gives."""
    kind = data.get("resultType")
    result = data.get("result")
    headers: list[str]
    rows: list[list[str]]
    if kind == "vector" and isinstance(result, list):
        headers = ["series", "value"]
        rows = [[series_name(s["metric"]), _point(s)] for s in result[:max_rows]]
    elif kind == "matrix" and isinstance(result, list):
        headers = ["series", "values"]
        rows = []
        for s in result[:max_rows]:
            values = s.get("values", [])
            shown = [_sample(v) for v in values[-_SAMPLES_SHOWN:]]
            if len(values) > _SAMPLES_SHOWN:
                shown.insert(0, f"({len(values) - _SAMPLES_SHOWN} earlier)")
            rows.append([series_name(s["metric"]), ", ".join(shown)])
    elif kind in ("scalar", "string") and isinstance(result, list) and len(result) == 2:
        headers, rows = [kind], [[_value(result[1])]]
    else:
        raise ValueError(f"an answer of type {kind!r}")
    total = len(result)
    if total == 0:
        return "no data"
    out = table(headers, rows)
    if total > max_rows:
        out += f"\n… {total - max_rows} more rows"
    return out


class PromqlRunner(BaseRunner):
    kind = "promql"

    def __init__(
        self, config: PromqlRunnerConfig, resolver: SecretResolver = resolve_secret
    ) -> None:
        super().__init__(config)
        where = f"runner {config.name!r}"
        self.url = _check_url(config.url, where)
        self.max_rows = config.max_rows
        token = (
            secret(resolver, config.bearer_token, f"{where}: bearer_token")
            if (config.bearer_token)
            else None
        )
        self._client = _client(token, self.timeout_s)

    def serves(self, language: str, text: str) -> bool:
        return language == "promql"

    def target(self, request: Request) -> str:
        """The Prometheus's host and port, never the credentials its URL may hold."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if parts.port else host

    def close(self) -> None:
        self._client.close()

    def _run(self, request: Request) -> Result:
        target = self.target(request)
        if request.language != "promql":
            return Result("error", "", target=target, error=f"it runs no {request.language}")
        params = {"query": request.text, "timeout": f"{self.timeout_s:g}s"}
        try:
            answer = _get(self._client, f"{self.url}/api/v1/query", params)
        except httpx.TimeoutException:
            return Result(
                "timeout", "", target=target, error=f"no answer within {self.timeout_s:g}s"
            )
        except (httpx.HTTPError, _TooLarge) as exc:
            return Result(
                "error", "", target=target, error=error_line(f"{type(exc).__name__}: {exc}")
            )
        why = _error_of(answer)
        if why is not None:
            body = answer.body if isinstance(answer.body, dict) else {}
            status: Status = "timeout" if body.get("errorType") == "timeout" else "failed"
            return Result(status, "", exit_code=answer.status, target=target, error=error_line(why))
        try:
            output = render(answer.body.get("data") or {}, self.max_rows)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return Result(
                "error",
                "",
                exit_code=answer.status,
                target=target,
                error=error_line(f"cannot show the answer: {exc}"),
            )
        notes = [f"warning: {printable(w)}" for w in answer.body.get("warnings") or []]
        notes += [f"info: {printable(i)}" for i in answer.body.get("infos") or []]
        if notes:
            output += "\n" + "\n".join(notes)
        output, truncated = cap_text(output, self.output_limit)
        return Result("ok", output, exit_code=answer.status, truncated=truncated, target=target)
