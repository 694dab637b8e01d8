"""What the HTTP channels (Slack, webhook, PagerDuty) share: the client session, one bounded
POST, and the reading of its answer as an ``Outcome``.

The receiver is an untrusted peer: no more of its answer is read than an error keeps, its
header lines are bounded, redirects are not followed, and the URL never appears in an error
(a Slack webhook URL is a secret). A 2xx is a success; what else is worth retrying is the retry
policy's business (``notify.retry``), helped by the receiver's ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import yarl
from multidict import CIMultiDictProxy

from tocsin.notify.base import (
    BaseChannel,
    ChannelConfigError,
    HttpOptions,
    Parts,
    SecretRef,
    SecretResolver,
    error_text,
    secret_value,
)
from tocsin.notify.retry import Outcome, parse_retry_after

USER_AGENT = "tocsin"
_MAX_RESPONSE_BYTES = 64 * 1024  # what we read of a receiver's answer
_MAX_HEADER_LINE = 64 * 1024  # a receiver's header line (aiohttp's own limit is 8190 bytes)


def http_session(tls: ssl.SSLContext | None = None) -> aiohttp.ClientSession:
    """The HTTP client the Slack, webhook and PagerDuty channels share; create it inside the
    running event loop (aiohttp binds it there) and close it with ``await session.close()``.

    Certificates are verified (against ``tls`` when given, else the system's CAs); proxies and
    netrc from the environment are ignored (``trust_env=False``); no cookie is kept between
    requests; idle connections are kept for 5 s."""
    connector = aiohttp.TCPConnector(ssl=tls if tls is not None else True, keepalive_timeout=5.0)
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),  # each request is bounded by its channel
        max_line_size=_MAX_HEADER_LINE,
        max_field_size=_MAX_HEADER_LINE,
    )


@dataclass(frozen=True)
class Answer:
    """A receiver's answer: its status, headers and the start of its body."""

    status: int
    headers: CIMultiDictProxy[str]  # names are case-insensitive
    body: str


def _client_error(exc: Exception, url: str) -> str:
    """``Name: text`` of an exception from the HTTP client, without the URL (a Slack webhook
    URL is a secret): aiohttp puts the whole URL into the text of some of its exceptions."""
    if isinstance(exc, aiohttp.ClientResponseError):  # "<status>, message=..., url=..."
        text = f"{exc.status}, message={exc.message!r}"
    elif isinstance(exc, aiohttp.InvalidURL):  # its text is the URL
        text = "the URL is not valid"
    else:
        text = str(exc)
    # and in case another exception names it: the URL (as given or as aiohttp writes it),
    # its path and query
    try:
        parsed = yarl.URL(url)
        parts = {url, str(parsed), parsed.raw_path_qs, parsed.path_qs}
    except (ValueError, TypeError):
        parts = {url}
    for part in sorted(parts - {"", "/"}, key=len, reverse=True):
        text = text.replace(part, "<url>")
    return error_text(f"{type(exc).__name__}: {text}")


async def _post(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
    options: HttpOptions | None = None,
) -> Answer | Outcome:
    """POST once; the answer, or the Outcome of a request that got none. The URL is never put
    into an error (a Slack webhook URL is a secret)."""
    try:
        async with (
            asyncio.timeout(timeout_s),
            http.post(
                url,
                data=body,
                headers={**headers, **dict(options.headers)} if options else headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                ssl=options.tls if options and options.tls is not None else True,
                proxy=options.proxy if options else None,
            ) as response,
        ):
            # An untrusted peer: read no more than we keep. A response left unread is not
            # put back in the pool: aiohttp closes its connection.
            data = bytearray()
            while len(data) < _MAX_RESPONSE_BYTES:
                chunk = await response.content.read(_MAX_RESPONSE_BYTES - len(data))
                if not chunk:
                    break
                data += chunk
            return Answer(response.status, response.headers, data.decode("utf-8", "replace"))
    except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
        return Outcome(ok=False, status=None, error=f"no answer within {timeout_s:g}s")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(ok=False, status=None, error=_client_error(exc, url))


def _outcome(answer: Answer, now: float) -> Outcome:
    """Any 2xx is a success (Slack answers 200 "ok", Slack-compatible receivers such as
    Mattermost any 2xx, PagerDuty 202); otherwise the status, the receiver's ``Retry-After``
    and the start of its body."""
    if 200 <= answer.status <= 299:
        return Outcome(ok=True, status=answer.status)
    return Outcome(
        ok=False,
        status=answer.status,
        retry_after_s=parse_retry_after(answer.headers.get("retry-after"), now),
        error=error_text(f"HTTP {answer.status}: {answer.body}"),
    )


def check_url(url: str, what: str) -> str:
    """``url`` when it is an http(s) URL with a host, else ChannelConfigError (at build)."""
    try:
        parsed = yarl.URL(url)
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):  # yarl would drop them
            raise ValueError("a control character")
    except (ValueError, TypeError):
        # the URL itself stays out of the error: a Slack webhook URL is a secret
        raise ChannelConfigError(f"{what} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ChannelConfigError(f"{what} must be an http(s) URL with a host")
    return url


class HttpChannel(BaseChannel):
    """A channel that POSTs to a URL; ``post`` makes the attempt and reads the answer."""

    def __init__(self, parts: Parts, url: str) -> None:
        super().__init__(parts)
        self._url = url
        self._http = parts.http
        self._options = parts.http_options

    async def exchange(self, body: bytes, headers: Mapping[str, str]) -> Answer | Outcome:
        """POST once; the receiver's answer, for a channel that reads what it says (a
        gateway's id, its error code), or the Outcome of a request that got none."""
        return await _post(self._http, self._url, body, headers, self._timeout_s, self._options)

    async def post(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        answer = await self.exchange(body, headers)
        if isinstance(answer, Outcome):
            return answer
        return self.answered(answer)

    def answered(self, answer: Answer) -> Outcome:
        """The Outcome of a receiver's answer: any 2xx is a success."""
        return _outcome(answer, self._clock.now())


# --- a channel's http_client ----------------------------------------------------------------


class BasicAuthSettings(Protocol):
    username: str

    @property
    def password(self) -> SecretRef | None: ...


class AuthorizationSettings(Protocol):
    type: str

    @property
    def credentials(self) -> SecretRef: ...


class ClientTlsSettings(Protocol):
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    insecure_skip_verify: bool


class ClientSettings(Protocol):
    """A channel's ``http_client``: authentication, TLS, a proxy."""

    proxy_url: str | None

    @property
    def basic_auth(self) -> BasicAuthSettings | None: ...
    @property
    def authorization(self) -> AuthorizationSettings | None: ...
    @property
    def tls(self) -> ClientTlsSettings | None: ...


def http_options(cfg: ClientSettings | None, secrets: SecretResolver, where: str) -> HttpOptions:
    """What a channel's ``http_client`` adds to its requests; secrets are read and the TLS
    context made now, so that a missing file is a ChannelConfigError when the channel is
    built."""
    if cfg is None:
        return HttpOptions()
    headers: list[tuple[str, str]] = []
    if cfg.basic_auth is not None:
        auth = cfg.basic_auth
        password = ""
        if auth.password is not None:
            password = secret_value(secrets, auth.password, f"{where}: basic_auth.password")
        pair = f"{auth.username}:{password}".encode()
        headers.append(("Authorization", "Basic " + base64.b64encode(pair).decode("ascii")))
    if cfg.authorization is not None:
        credentials = secret_value(
            secrets, cfg.authorization.credentials, f"{where}: authorization.credentials"
        )
        if any(c in credentials for c in "\r\n"):
            raise ChannelConfigError(f"{where}: authorization.credentials has a line break")
        headers.append(("Authorization", f"{cfg.authorization.type} {credentials}"))
    tls = None
    if cfg.tls is not None:
        t = cfg.tls
        try:
            tls = ssl.create_default_context(cafile=t.ca_file)
            if t.insecure_skip_verify:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
            if t.cert_file is not None:
                tls.load_cert_chain(t.cert_file, t.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ChannelConfigError(f"{where}: http_client.tls: {exc}") from None
    proxy = None
    if cfg.proxy_url is not None:
        proxy = check_url(cfg.proxy_url, f"{where}: http_client.proxy_url")
    return HttpOptions(tuple(headers), tls, proxy)
