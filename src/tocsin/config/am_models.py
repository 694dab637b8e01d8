"""Alertmanager's receiver integrations and ``global`` notifier defaults as tocsin reads them
from an ``alertmanager.yml`` (``receivers[].slack_configs``, ``email_configs``,
``webhook_configs``, ``pagerduty_configs``; ``global.smtp_*``, ``slack_api_url`` …).

Only the keys tocsin carries over are modelled; every other key is refused at load by name
(``load.unknown_key``), never accepted and ignored. ``config/alertmanager.py`` turns these
into tocsin channels. Field names and defaults are Alertmanager's own (its
``config/notifiers.go``), so a file ``amtool check-config`` accepts reads the same here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# the integrations tocsin has no channel for: refused by name, with the line, at load
UNSUPPORTED_INTEGRATIONS = {
    "opsgenie_configs": "Opsgenie",
    "victorops_configs": "VictorOps",
    "msteams_configs": "Microsoft Teams",
    "msteamsv2_configs": "Microsoft Teams (Workflows)",
    "telegram_configs": "Telegram",
    "sns_configs": "Amazon SNS",
    "wechat_configs": "WeChat",
    "discord_configs": "Discord",
    "webex_configs": "Webex",
    "pushover_configs": "Pushover",
    "jira_configs": "Jira",
    "rocketchat_configs": "Rocket.Chat",
    "incidentio_configs": "incident.io",
    "mattermost_configs": "Mattermost",
    "signl4_configs": "SIGNL4",
    "hipchat_configs": "HipChat",
}


class _AmStrict(BaseModel):
    """A section of Alertmanager's file: a key tocsin does not carry over is refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AmBasicAuth(_AmStrict):
    username: str = ""
    password: str | None = None
    password_file: str | None = None


class AmAuthorization(_AmStrict):
    type: str = "Bearer"
    credentials: str | None = None
    credentials_file: str | None = None


class AmTlsConfig(_AmStrict):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False


class AmHttpConfig(_AmStrict):
    """Prometheus's ``http_config`` as the HTTP channels can honour it."""

    basic_auth: AmBasicAuth | None = None
    authorization: AmAuthorization | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    tls_config: AmTlsConfig | None = None
    proxy_url: str | None = None
    # tocsin never follows a redirect: only `false` is what it does
    follow_redirects: bool | None = None


class AmSlackConfig(_AmStrict):
    send_resolved: bool = False
    http_config: AmHttpConfig | None = None
    api_url: str | None = None
    api_url_file: str | None = None
    channel: str | None = None
    username: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None
    title: str | None = None
    text: str | None = None
    # Alertmanager's default texts of these are kept as tocsin's defaults; other text is
    # refused (tocsin's Slack message has no such part)
    title_link: str | None = None
    pretext: str | None = None
    fallback: str | None = None
    footer: str | None = None
    callback_id: str | None = None


class AmEmailConfig(_AmStrict):
    send_resolved: bool = False
    to: str | None = None
    from_: str | None = Field(None, alias="from")
    smarthost: str | None = None
    hello: str | None = None
    auth_username: str | None = None
    auth_password: str | None = None
    auth_password_file: str | None = None
    require_tls: bool | None = None
    tls_config: AmTlsConfig | None = None
    html: str | None = None
    text: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class AmWebhookConfig(_AmStrict):
    send_resolved: bool = True
    http_config: AmHttpConfig | None = None
    url: str | None = None
    url_file: str | None = None
    max_alerts: int = Field(0, ge=0)


class AmPagerDutyConfig(_AmStrict):
    send_resolved: bool = True
    http_config: AmHttpConfig | None = None
    routing_key: str | None = None
    routing_key_file: str | None = None
    url: str | None = None
    description: str | None = None
    severity: str | None = None
    # Alertmanager's default texts of these are kept (tocsin fills them); other text refused
    client: str | None = None
    client_url: str | None = None
