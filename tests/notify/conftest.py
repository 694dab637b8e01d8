"""Fixtures for notification tests: a throwaway TLS certificate, and one delivery attempt
through a freshly built channel."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import pytest

from tests.notify.sinks import Certificate, self_signed_certificate
from tocsin.clock import Clock
from tocsin.notify.base import ChannelSettings, SecretResolver
from tocsin.notify.http import http_session
from tocsin.notify.message import Message
from tocsin.notify.registry import build_channel
from tocsin.notify.retry import Outcome


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    found = self_signed_certificate(Path(tmp_path_factory.mktemp("tls")))
    if found is None:
        pytest.skip("openssl is not available to make a test certificate")
    return found


# One TLS context for every test client: building one per client costs ~50 ms.
_CLIENT_TLS = ssl.create_default_context()


def client() -> aiohttp.ClientSession:
    """An HTTP client as the engine makes one; call it inside the running event loop."""
    return http_session(_CLIENT_TLS)


def deliver(
    cfg: ChannelSettings,
    message: Message,
    *,
    secrets: SecretResolver | None = None,
    clock: Clock | None = None,
    stream: TextIO | None = None,
) -> Outcome:
    """Build the channel with a fresh HTTP client and make one attempt."""

    async def attempt() -> Outcome:
        async with client() as http:
            channel = build_channel(cfg, http=http, secrets=secrets, clock=clock, stream=stream)
            return await channel.send(message)

    return asyncio.run(attempt())


def config(model: type[Any], **data: Any) -> Any:
    """A channel config model from its YAML form (aliases such as ``from`` included)."""
    return model.model_validate(data)
