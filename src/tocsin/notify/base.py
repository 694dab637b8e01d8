"""What every channel shares: the ``Channel`` contract, the settings a channel is built from,
secrets, and a failure that becomes an ``Outcome`` instead of an exception.

A channel (``notify.slack``, ``notify.email``, ...) is the last stage of the data path, where a
``Message`` leaves tocsin. Its ``send`` makes one delivery attempt and reports it as an
``Outcome``; it never raises for a delivery problem (a refused connection, a timeout, a 4xx, a
TLS failure) and turns a bug of its own into a permanent failure, so that the message is
dead-lettered to the fallback channel at once. Whether and when to try again is the retry
policy's business (``notify.retry``), not the channel's.

The settings are Protocols: ``config.py`` builds the objects (its channel models fit them),
and notify never imports the configuration.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from tocsin.clock import Clock
from tocsin.errors import Invalid
from tocsin.notify.message import Message
from tocsin.notify.retry import Outcome, RetrySettings
from tocsin.notify.templates import ChannelTemplateSet, TemplateSources
from tocsin.templating import one_line

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("tocsin.notify.channels")  # one name for every channel's log

_MAX_ERROR_CHARS = 300


class Channel(Protocol):
    name: str
    kind: str

    async def send(self, message: Message) -> Outcome:
        """One delivery attempt; every delivery problem is an Outcome, never an exception."""
        ...


class ChannelConfigError(Invalid):
    """A channel cannot be built from its configuration (missing secret, bad URL, ...)."""


# --- settings ------------------------------------------------------------------------------


# A member whose model type is narrower than the Protocol's (``Literal["slack"]`` for ``str``,
# a model for a Protocol) is a read-only property: only those match covariantly.


class SecretRef(Protocol):
    """A secret given inline, from a file, or from an environment variable (one of them)."""

    value: str | None
    file: str | None
    env: str | None


class ChannelSettings(Protocol):
    """What every channel is built from; each channel's module adds what it reads."""

    name: str

    @property
    def type(self) -> str: ...
    @property
    def retry(self) -> RetrySettings: ...
    @property
    def templates(self) -> TemplateSources: ...


SecretResolver = Callable[[SecretRef], str]


# --- threads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadRoot:
    """The message a chat channel keeps for an incident in one conversation: the one it
    edits as the incident changes and replies under (Slack: the channel ID and ``ts``)."""

    channel_id: str
    ts: str


class Threads(Protocol):
    """Where a chat channel keeps each incident's root message, by (incident, channel name,
    conversation). The channel layer has no database: the engine hands a channel an object
    that keeps them in the store (``engine.deliver.StoreThreads``); ``MemoryThreads`` keeps
    them in memory where there is no store (the simulator, unit tests)."""

    async def get(self, incident_id: int, channel: str, conversation: str) -> ThreadRoot | None:
        """The root kept for the incident in the conversation, or None."""
        ...

    async def put(
        self, incident_id: int, channel: str, conversation: str, root: ThreadRoot
    ) -> None:
        """Keep ``root`` as the incident's message in the conversation (replacing any)."""
        ...


class MemoryThreads:
    """``Threads`` in a dict: for a process with no store."""

    def __init__(self) -> None:
        self.roots: dict[tuple[int, str, str], ThreadRoot] = {}

    async def get(self, incident_id: int, channel: str, conversation: str) -> ThreadRoot | None:
        return self.roots.get((incident_id, channel, conversation))

    async def put(
        self, incident_id: int, channel: str, conversation: str, root: ThreadRoot
    ) -> None:
        self.roots[(incident_id, channel, conversation)] = root


@dataclass(frozen=True)
class HttpOptions:
    """How an HTTP channel reaches its receiver beyond the shared session (a channel's
    ``http_client``): headers it adds (``Authorization``), its own TLS, a proxy."""

    headers: tuple[tuple[str, str], ...] = ()
    tls: ssl.SSLContext | None = None
    proxy: str | None = None


@dataclass(frozen=True)
class Parts:
    """What ``build_channel`` makes ready for every channel's builder, before the builder
    reads the settings of its own type."""

    name: str
    where: str  # "channel 'name'", the start of every configuration error
    templates: ChannelTemplateSet
    timeout_s: float  # per attempt
    clock: Clock
    secrets: SecretResolver
    http: aiohttp.ClientSession  # shared by the HTTP channels; the engine owns and closes it
    stream: TextIO | None  # the console's; None is stdout
    # where a chat channel keeps each incident's root message (None: in memory)
    threads: Threads | None = None
    # where the gateways reach this tocsin (``global.external_url``): the webhooks an SMS or
    # a call names for its status callbacks and key presses; "" when unknown
    external_url: str = ""
    http_options: HttpOptions = HttpOptions()


# --- secrets -------------------------------------------------------------------------------


def resolve_secret(secret: SecretRef) -> str:
    """The secret's value: inline, else the file's contents (stripped), else the environment
    variable. ChannelConfigError when none is given or the one given is missing."""
    if secret.value is not None:
        return secret.value
    if secret.file is not None:
        try:
            return Path(secret.file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ChannelConfigError(f"cannot read secret file {secret.file}: {exc}") from None
    if secret.env is not None:
        value = os.environ.get(secret.env)
        if value is None:
            raise ChannelConfigError(f"environment variable {secret.env} is not set")
        return value
    raise ChannelConfigError("a secret needs one of value, file or env")


def secret_value(resolver: SecretResolver, secret: SecretRef, what: str) -> str:
    """The secret, resolved at build time; an error names ``what`` (the setting's place)."""
    try:
        value = resolver(secret)
    except ChannelConfigError as exc:
        raise ChannelConfigError(f"{what}: {exc}") from None
    if not value:
        raise ChannelConfigError(f"{what} is empty")
    return value


# --- outcomes ------------------------------------------------------------------------------


def error_text(text: str) -> str:
    """An error as an Outcome keeps it: one line, bounded (a receiver's body can be long)."""
    return one_line(text, _MAX_ERROR_CHARS)


async def guarded(channel: str, attempt: Callable[[], Awaitable[Outcome]]) -> Outcome:
    """Run one attempt; a bug in a channel (not a delivery problem) becomes a permanent
    failure, so that the message is dead-lettered to the fallback channel at once."""
    try:
        return await attempt()
    except Exception as exc:
        log.exception("channel %s failed to send a message", channel)
        return Outcome(
            ok=False,
            status=None,
            error=error_text(f"internal error: {type(exc).__name__}: {exc}"),
            transient=False,
        )


class BaseChannel:
    """What every channel class shares: ``send`` never raises (``guarded`` turns any failure
    into an Outcome); each channel implements ``_send``."""

    kind: str

    def __init__(self, parts: Parts) -> None:
        self.name = parts.name
        self._templates = parts.templates
        self._timeout_s = parts.timeout_s
        self._clock = parts.clock

    async def send(self, message: Message) -> Outcome:
        return await guarded(self.name, lambda: self._send(message))

    async def _send(self, message: Message) -> Outcome:
        raise NotImplementedError
