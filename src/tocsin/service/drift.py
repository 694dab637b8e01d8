"""Drift against the live rules: the runbook catalog beside the alerting rules a Prometheus
actually loaded (``/api/v1/rules``), as ``tocsin runbooks drift``, ``runbooks lint
--prometheus``, ``GET /api/v1/runbooks/drift`` and the console's drift page show it.

Which Prometheus: the one the caller names, else the first runner of ``type: promql`` in
``execute.runners`` (its ``url``, its ``bearer_token`` and its ``timeout``). The comparison
itself is pure (``runbooks/drift.py``); this module reads the rules, with a timeout, a bound
on the answer's size, and every failure an ``Unavailable`` naming the URL and why.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tocsin import times
from tocsin.config import Config
from tocsin.config.models import PromqlRunnerConfig
from tocsin.errors import Invalid, TocsinError, Unavailable
from tocsin.notify.base import resolve_secret
from tocsin.oncall.severity import DEFAULT_LEVELS
from tocsin.runbooks.drift import KINDS, Finding, LiveRule, compare, counts, rules_from_api
from tocsin.runbooks.model import Catalog
from tocsin.service.context import Context, load_runbooks

TIMEOUT_S = 30.0  # a Prometheus given by URL; a runner's own ``timeout`` otherwise
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # of /api/v1/rules, decoded
_MAX_ERROR_BYTES = 4096  # what is read of a refusal
NOT_CONFIGURED = (
    "no Prometheus is configured to compare the runbooks with: add a runner of type promql "
    "with its url under execute.runners in tocsin.yaml (docs/config.md)"
)


@dataclass(frozen=True)
class Prometheus:
    """Where the live rules are read: the URL, its bearer token, how long to wait."""

    url: str
    token: str | None = field(default=None, repr=False)
    timeout_s: float = TIMEOUT_S
    runner: str | None = None  # the runner it comes from, when configured

    @property
    def shown(self) -> str:
        """The URL without credentials in it (``http://user:pass@host`` → ``http://host``)."""
        return shown_url(self.url)


@dataclass(frozen=True)
class DriftReport:
    prometheus: str  # its URL, without credentials
    read_at: float  # when the rules were read (epoch seconds)
    rules: int  # alerting rules Prometheus has loaded
    alerts: int  # alerts of the runbook catalog
    findings: list[Finding]

    def counts(self) -> dict[str, int]:
        return counts(self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "prometheus": self.prometheus,
            "read_at": times.to_dt(self.read_at).isoformat().replace("+00:00", "Z"),
            "rules": self.rules,
            "alerts": self.alerts,
            "counts": self.counts(),
            "kinds": list(KINDS),
            "findings": [f.to_json() for f in self.findings],
        }


def shown_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the URL given"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _checked(url: str, what: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Invalid(f"{what} is not a URL", field="prometheus") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(
            f"{what} must be an http(s) URL with a host, such as http://prometheus:9090",
            field="prometheus",
        )
    return url


def prometheus_of(config: Config | None, url: str | None = None) -> Prometheus:
    """The Prometheus named by ``url``, else the configuration's first promql runner;
    ``Invalid`` when there is neither (``NOT_CONFIGURED``, how to configure one)."""
    if url is not None:
        return Prometheus(_checked(url.strip(), f"the Prometheus URL {shown_url(url)!r}"))
    runners = config.model.execute.runners if config is not None else []
    runner = next((r for r in runners if isinstance(r, PromqlRunnerConfig)), None)
    if runner is None:
        raise Invalid(NOT_CONFIGURED, field="prometheus")
    token = None
    if runner.bearer_token is not None:
        try:
            token = resolve_secret(runner.bearer_token)
        except TocsinError as exc:
            raise Unavailable(f"the bearer token of runner {runner.name}: {exc.message}") from None
    return Prometheus(
        _checked(runner.url, f"the url of runner {runner.name}"),
        token,
        times.parse_duration(runner.timeout),
        runner.name,
    )


def _refuse(answer: httpx.Response, shown: str) -> None:
    """Raise ``Unavailable`` saying why Prometheus did not answer with its rules: its status
    line and its own error (``{"status": "error", "error": ...}``), of which no more than
    ``_MAX_ERROR_BYTES`` is read."""
    head = bytearray()
    for chunk in answer.iter_bytes():
        head += chunk
        if len(head) >= _MAX_ERROR_BYTES:
            break
    try:
        answer.raise_for_status()
    except httpx.HTTPStatusError as exc:
        status = str(exc).splitlines()[0].split(" for url ")[0]  # Client error '401 Unauthorized'
        said: object
        try:
            body = json.loads(bytes(head[:_MAX_ERROR_BYTES]))
            said = body.get("error") if isinstance(body, dict) else None
        except (ValueError, RecursionError):
            said = bytes(head[:200]).decode("utf-8", "replace")
        why = status + (f": {' '.join(str(said).split())[:300]}" if said else "")
        if answer.is_redirect:
            where = shown_url(answer.headers.get("location", ""))
            why += f" (redirects are not followed: give the URL it leads to, {where})"
        raise Unavailable(f"{shown} refused: {why}") from None
    raise Unavailable(f"{shown} did not answer with its rules")


def _reason(exc: httpx.HTTPError) -> str:
    """Why a request failed, in a few words (the deepest cause's message)."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = " ".join((str(cause) or type(cause).__name__).split())
    return "connection refused" if "refused" in text.lower() else text[:200]


def _read_rules(prometheus: Prometheus) -> list[LiveRule]:
    """The alerting rules Prometheus loaded (``/api/v1/rules?type=alert``): at most
    ``MAX_ANSWER_BYTES`` of answer, within its timeout; ``Unavailable`` otherwise."""
    url = prometheus.url.rstrip("/") + "/api/v1/rules"
    shown = prometheus.shown.rstrip("/") + "/api/v1/rules"
    headers = {"Accept": "application/json", "User-Agent": "tocsin"}
    if prometheus.token:
        headers["Authorization"] = f"Bearer {prometheus.token}"
    deadline = time.monotonic() + prometheus.timeout_s
    body = bytearray()
    try:
        with (
            httpx.Client(
                timeout=prometheus.timeout_s, follow_redirects=False, trust_env=False
            ) as http,
            http.stream(
                "GET",
                url,
                params={"type": "alert", "exclude_alerts": "true"},
                headers=headers,
            ) as answer,
        ):
            if not answer.is_success:
                _refuse(answer, shown)
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise Unavailable(
                        f"{shown} answered more than {MAX_ANSWER_BYTES / 2**20:g} MiB of rules; "
                        "tocsin reads no more"
                    )
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("too slow", request=answer.request)
    except httpx.TimeoutException:
        raise Unavailable(f"{shown} did not answer within {prometheus.timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot read {shown}: {_reason(exc)}") from None
    try:
        return rules_from_api(json.loads(body))
    except RecursionError:
        raise Unavailable(f"{shown} is not Prometheus's rules API: it is nested too deep") from None
    except ValueError as exc:  # not JSON, or Invalid: not the rules API
        why = exc.message if isinstance(exc, TocsinError) else "it is not JSON"
        raise Unavailable(f"{shown} is not Prometheus's rules API: {why}") from None


def compare_with(
    catalog: Catalog, config: Config | None, prometheus_url: str | None, now: float
) -> DriftReport:
    """The catalog beside the rules of the Prometheus given or configured (the
    configuration's severity levels and label decide severities; the defaults without
    one)."""
    prometheus = prometheus_of(config, prometheus_url)
    rules = _read_rules(prometheus)
    levels = config.paging.levels if config is not None else DEFAULT_LEVELS
    label = config.paging.severity_label if config is not None else "severity"
    return DriftReport(
        prometheus=prometheus.shown,
        read_at=now,
        rules=len(rules),
        alerts=len(catalog.alerts()),
        findings=compare(catalog, rules, levels, label),
    )


def _configured(
    catalog: Catalog | None, config: Config, url: str | None, now: float
) -> DriftReport:
    if catalog is None:
        raise Invalid(
            "this configuration names no runbooks (runbooks: in tocsin.yaml): there is "
            "nothing to compare with the live rules"
        )
    return compare_with(catalog, config, url, now)


def drift(ctx: Context, prometheus_url: str | None = None) -> DriftReport:
    """The configuration's runbooks beside the live rules (``prometheus_url``, else the
    configured Prometheus); ``Invalid`` when the configuration names no runbooks or no
    Prometheus, ``Unavailable`` when its rules cannot be read."""
    return _configured(ctx.catalog, ctx.config, prometheus_url, ctx.now())


def drift_here(config: Config, prometheus_url: str | None, now: float) -> DriftReport:
    """``drift`` for a process with no database (``tocsin runbooks drift`` on this host):
    the configuration's runbooks read now."""
    return _configured(load_runbooks(config), config, prometheus_url, now)
