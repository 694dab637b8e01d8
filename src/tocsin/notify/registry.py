"""The channel types tocsin knows, and ``build_channel``, which turns a channel's settings into
a ``Channel``: the one place that lists the channels.

Adding a channel: write ``notify/<type>.py`` with a ``build(cfg, parts)`` over
``notify.base`` (and ``notify.http`` for an HTTP receiver), and add its line to ``BUILDERS``
(and its settings model to ``config.py``). No other channel changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

import aiohttp

from tocsin.clock import Clock, RealClock
from tocsin.notify import console, email, pagerduty, slack, sms, webhook
from tocsin.notify.base import (
    Channel,
    ChannelConfigError,
    ChannelSettings,
    Parts,
    SecretResolver,
    Threads,
    resolve_secret,
)
from tocsin.notify.http import http_options
from tocsin.notify.templates import ChannelTemplateSet
from tocsin.templating import TemplateError
from tocsin.times import parse_duration

# A builder reads the settings of its own type (``slack.SlackSettings``, ...): the
# configuration's ``type`` picks the builder, and its model has that builder's fields.
Builder = Callable[[Any, Parts], Channel]

BUILDERS: dict[str, Builder] = {
    "slack": slack.build,
    "email": email.build,
    "webhook": webhook.build,
    "pagerduty": pagerduty.build,
    "console": console.build,
    "sms": sms.build_sms,
    "voice": sms.build_voice,
}


def build_channel(
    cfg: ChannelSettings,
    *,
    http: aiohttp.ClientSession,
    secrets: SecretResolver | None = None,
    clock: Clock | None = None,
    stream: TextIO | None = None,
    threads: Threads | None = None,
    external_url: str = "",
) -> Channel:
    """The channel a configuration describes. Secrets are resolved and templates compiled
    now, so that a missing secret or a broken template is a ChannelConfigError at load.
    ``external_url``: where the gateways reach this tocsin (``global.external_url``)."""
    timeout_s = parse_duration(cfg.retry.timeout)
    try:
        templates = ChannelTemplateSet(cfg.name, cfg.templates)
    except TemplateError as exc:
        raise ChannelConfigError(str(exc)) from None
    where = f"channel {cfg.name!r}"
    resolver = secrets or resolve_secret
    parts = Parts(
        name=cfg.name,
        where=f"channel {cfg.name!r}",
        templates=templates,
        timeout_s=timeout_s,
        clock=clock or RealClock(),
        secrets=secrets or resolve_secret,
        http=http,
        stream=stream,
        threads=threads,
        external_url=external_url,
        http_options=http_options(getattr(cfg, "http_client", None), resolver, where),
    )
    builder = BUILDERS.get(cfg.type)
    if builder is None:
        raise ChannelConfigError(f"{parts.where}: unknown channel type {cfg.type!r}")
    return builder(cfg, parts)
