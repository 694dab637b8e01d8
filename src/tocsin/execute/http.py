"""The http runner: a bash line that is one ``curl`` or ``wget`` GET or HEAD
(``runbooks/curl.parse_check``), sent as that HTTP request with no shell at all, to the
hosts the runner allows only.

The URL's ``host:port`` must be one of ``allow_hosts`` (an entry without a port stands for
the scheme's default: ``prometheus`` allows ``http://prometheus/`` and
``https://prometheus/``, not ``http://prometheus:9090/``). Redirects are followed only where
the line asks (curl's ``-L``; wget follows unless ``--max-redirect=0``), at most 10, and
only to allowed hosts: a redirect anywhere else stops the run with an ``error``. Going to
another host drops the line's headers. Certificates are always checked; no proxy or netrc
from the environment is used, no cookie is kept.

The output is the status line, a few of the answer's headers (``content-type``,
``content-length``, ``location``, ``retry-after``) and the body, read up to
``output_limit`` bytes, its control characters shown as escapes. An answer of 400 or more is
a failed run, its status the ``exit_code``.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from tocsin.config.models import HttpRunnerConfig
from tocsin.execute.base import Request, Result, RunnerConfigError
from tocsin.execute.common import BaseRunner, Capped, error_line
from tocsin.runbooks.curl import HttpCheck, Refused, parse_check
from tocsin.templating import printable

MAX_REDIRECTS = 10
_SHOWN_HEADERS = ("content-type", "content-length", "location", "retry-after")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Place:
    """Where a URL goes: scheme, host (lower case, IPv6 without brackets) and port."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def place_of(url: str) -> Place | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return Place(scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme])


def allowed_places(entries: list[str], where: str) -> frozenset[tuple[str, int]]:
    """``host`` or ``host:port`` entries as (host, port) pairs: a host without a port
    stands for ports 80 and 443."""
    places: set[tuple[str, int]] = set()
    for entry in entries:
        text = entry.strip().lower()
        try:
            parts = urlsplit(f"//{text}")
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        if not host or parts.path or parts.query or "@" in text:
            raise RunnerConfigError(f"{where}: allow_hosts: {entry!r} is not host or host:port")
        if port is None:
            places |= {(host, 80), (host, 443)}
        else:
            places.add((host, port))
    return frozenset(places)


class _Stop(Exception):
    """The run stops before an answer it can show (a host not allowed)."""


class HttpRunner(BaseRunner):
    kind = "http"

    def __init__(self, config: HttpRunnerConfig) -> None:
        super().__init__(config)
        self.allowed = allowed_places(config.allow_hosts, f"runner {config.name!r}")
        self._tls = ssl.create_default_context()  # made once: loading the CAs takes a while

    def serves(self, language: str, text: str) -> bool:
        return language == "bash" and isinstance(parse_check(text), HttpCheck)

    def _check(self, request: Request) -> tuple[HttpCheck, Place]:
        check = parse_check(request.text)
        if isinstance(check, Refused):
            raise _Stop(f"not an HTTP check: {check.why}")
        place = place_of(check.url)
        if place is None:
            raise _Stop("the URL is not valid")
        self._allow(place)
        return check, place

    def _allow(self, place: Place) -> None:
        if (place.host, place.port) not in self.allowed:
            raise _Stop(f"host {printable(str(place))} is not allowed")

    def target(self, request: Request) -> str:
        try:
            _check, place = self._check(request)
        except _Stop as stop:
            return f"error: {stop}"
        return f"http {place}"

    def _run(self, request: Request) -> Result:
        try:
            check, place = self._check(request)
        except _Stop as stop:
            return Result("error", "", target=self._safe_target(request), error=str(stop))
        timeout = min(self.timeout_s, check.timeout_s or self.timeout_s)
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        url = check.url
        headers = dict(check.headers)
        headers.setdefault("User-Agent", f"tocsin ({check.tool} check)")
        target = f"http {place}"
        try:
            with httpx.Client(verify=self._tls, trust_env=False, follow_redirects=False) as client:
                for _hop in range(MAX_REDIRECTS + 1):
                    left = max(deadline - time.monotonic(), 0.001)
                    with client.stream(
                        check.method, url, headers=headers, timeout=httpx.Timeout(left)
                    ) as response:
                        location = response.headers.get("location")
                        if check.follow and response.is_redirect and location:
                            after = urljoin(url, location)
                            lines.append(f"{_status_line(response)} → {printable(after)}")
                            following = place_of(after)
                            if following is None:
                                raise _Stop(f"redirect to {printable(after)}: not http(s)")
                            try:
                                self._allow(following)
                            except _Stop as stop:
                                raise _Stop(f"redirect refused: {stop}") from None
                            if following.host != place.host or following.port != place.port:
                                headers = {"User-Agent": headers["User-Agent"]}
                            url, place = after, following
                            continue
                        return self._answer(response, check, lines, target, deadline)
                raise _Stop(f"more than {MAX_REDIRECTS} redirects")
        except _Stop as stop:
            return Result("error", "\n".join(lines), target=target, error=str(stop))
        except httpx.TimeoutException:
            return Result(
                "timeout", "\n".join(lines), target=target, error=f"no answer within {timeout:g}s"
            )
        except httpx.HTTPError as exc:
            return Result(
                "error",
                "\n".join(lines),
                target=target,
                error=error_line(f"{type(exc).__name__}: {exc}"),
            )

    def _answer(
        self,
        response: httpx.Response,
        check: HttpCheck,
        lines: list[str],
        target: str,
        deadline: float,
    ) -> Result:
        body = Capped(self.output_limit)
        timed_out = False
        if check.method != "HEAD":
            for chunk in response.iter_bytes():
                body.add(chunk)
                if body.truncated:
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    break
        lines.append(_status_line(response))
        for name in _SHOWN_HEADERS:
            value = response.headers.get(name)
            if value is not None:
                lines.append(f"{name}: {printable(value)}")
        text = body.text(response.charset_encoding or "utf-8")
        output = "\n".join(lines) + "\n\n" + text
        status = response.status_code
        if timed_out:
            return Result(
                "timeout",
                output,
                exit_code=status,
                truncated=True,
                target=target,
                error="the body did not end before the timeout",
            )
        if status >= 400:
            return Result(
                "failed",
                output,
                exit_code=status,
                truncated=body.truncated,
                target=target,
                error=f"HTTP {status}",
            )
        return Result("ok", output, exit_code=status, truncated=body.truncated, target=target)


def _status_line(response: httpx.Response) -> str:
    return printable(f"{response.http_version} {response.status_code} {response.reason_phrase}")
