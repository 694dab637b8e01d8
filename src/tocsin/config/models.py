"""The shape of ``tocsin.yaml``: one pydantic model per section, with the checks a single value
can make on itself (durations, matchers, label names, times of day).

The first stage of loading (``load.py`` validates a document against ``TocsinConfig``); what
refers to something elsewhere in the file is checked later, where it is built (``routes.py``,
``paging.py``). The routing tree and inhibition rules keep Alertmanager's syntax (``matchers:``
lists, legacy ``match``/``match_re``, ``group_by: ['...']``, ``continue``, Prometheus
durations), so a team can move its Alertmanager route block over unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tocsin.alerts.matchers import parse_matcher
from tocsin.config.am_models import (
    AmEmailConfig,
    AmHttpConfig,
    AmPagerDutyConfig,
    AmSlackConfig,
    AmWebhookConfig,
)
from tocsin.config.duties import DutiesConfig
from tocsin.config.intakes import IntakeConfig, check_unique
from tocsin.oncall.throttle import Limit
from tocsin.routing.intervals import (
    parse_days_of_month,
    parse_months,
    parse_times,
    parse_weekdays,
    parse_years,
    zone,
)
from tocsin.times import parse_duration

# a place in the document, as keys and list indexes: ("route", "routes", 0, "group_wait")
Loc = tuple[str | int, ...]


class _Strict(BaseModel):
    """Every section: a key that nothing reads is refused at load, never accepted and ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _valid_duration(value: str) -> str:
    parse_duration(value)
    return value


# a Prometheus duration (30s, 5m, 1h30m), checked where it is read
Duration = Annotated[str, AfterValidator(_valid_duration)]


def _valid_matchers(value: list[str]) -> list[str]:
    for text in value:
        parse_matcher(text)
    return value


# label matchers in Alertmanager's syntax (`severity="critical"`, `team=~"db|api"`)
Matchers = Annotated[list[str], AfterValidator(_valid_matchers)]


class GlobalConfig(_Strict):
    resolve_timeout: Duration = "5m"
    external_url: str = "http://localhost:9093"
    # Alertmanager's notifier defaults, read into the channels of an alertmanager.yml's
    # receivers (config/alertmanager.py) and gone from the converted tocsin.yaml
    smtp_from: str | None = None
    smtp_hello: str | None = None
    smtp_smarthost: str | None = None
    smtp_auth_username: str | None = None
    smtp_auth_password: str | None = None
    smtp_auth_password_file: str | None = None
    smtp_require_tls: bool = True
    slack_api_url: str | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: str | None = None
    http_config: AmHttpConfig | None = None


class StormConfig(_Strict):
    """Alert storms (docs/config.md, ``storm``): when a route triggers more than ``incidents``
    incidents within ``window``, the rest are paged as one digest, updated at most once per
    ``update_every``. At the top level: the default of every route; on a route: what it
    changes for itself and the routes under it (a key left out is inherited)."""

    enabled: bool | None = None
    incidents: int | None = Field(None, ge=1, le=1_000_000)
    window: Duration | None = None
    update_every: Duration | None = None

    @field_validator("window", "update_every")
    @classmethod
    def _at_least_a_second(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) < 1:
            raise ValueError("must be at least 1s")
        return value


class RouteConfig(_Strict):
    receiver: str | None = None
    group_by: list[str] | None = None
    continue_: bool = Field(False, alias="continue")
    matchers: Matchers = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: list[RouteConfig] = Field(default_factory=list)
    # later stages: escalation policy and channels named per route, auto-resolve
    escalation_policy: str | None = None
    channels: list[str] = Field(default_factory=list)
    auto_resolve: bool | None = None
    storm: StormConfig | None = None  # the storm digest (StormConfig), inherited
    # run the runbook's read commands when an incident triggers (docs/execute.md), inherited
    auto_diagnose: bool | None = None
    # Alertmanager's: names of `time_intervals` that mute this route, or outside all of
    # which it is muted; not inherited (routing/intervals.py)
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if "..." in value and len(value) > 1:
            raise ValueError("cannot have wildcard group_by (`...`) and other labels")
        for name in value:
            if name != "..." and not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", name):
                raise ValueError(f"invalid label name {name!r} in group_by")
        return value


class TimeRangeConfig(_Strict):
    """A ``times`` entry of a time interval: ``HH:MM`` up to ``HH:MM``, the end excluded."""

    start_time: str | None = None
    end_time: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> TimeRangeConfig:
        parse_times(self.start_time, self.end_time)
        return self


def _each(parse: Callable[[str], object]) -> Callable[[list[str]], list[str]]:
    def check(value: list[str]) -> list[str]:
        for text in value:
            parse(text)
        return value

    return check


class TimeIntervalSpec(_Strict):
    """One entry of a named time interval, as Alertmanager's ``time_interval`` (its
    checks and messages: ``routing/intervals.py``)."""

    times: list[TimeRangeConfig] = Field(default_factory=list)
    weekdays: Annotated[list[str], AfterValidator(_each(parse_weekdays))] = Field(
        default_factory=list
    )
    days_of_month: Annotated[list[str], AfterValidator(_each(parse_days_of_month))] = Field(
        default_factory=list
    )
    months: Annotated[list[str], AfterValidator(_each(parse_months))] = Field(default_factory=list)
    years: Annotated[list[str], AfterValidator(_each(parse_years))] = Field(default_factory=list)
    location: str | None = None

    @field_validator("location")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value


class TimeIntervalConfig(_Strict):
    """A named time interval (``time_intervals:``, or the older ``mute_time_intervals:``):
    routes name it in ``mute_time_intervals``/``active_time_intervals``, maintenance windows
    to recur."""

    name: str = Field(min_length=1, max_length=200)
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)


class ReceiverConfig(_Strict):
    """A receiver is a name routes give (``amtool`` shows it); what a route tells is its
    ``channels:``. Alertmanager's ``slack_configs``, ``email_configs``, ``webhook_configs``
    and ``pagerduty_configs`` become channels named ``<receiver>/<type>/<index>``, which a
    route naming the receiver tells (``config/alertmanager.py``); other integrations are
    refused at load (``load.py``), never accepted and ignored."""

    name: str
    # Alertmanager's integrations, each config a channel of its own (config/alertmanager.py)
    slack_configs: list[AmSlackConfig] = Field(default_factory=list)
    email_configs: list[AmEmailConfig] = Field(default_factory=list)
    webhook_configs: list[AmWebhookConfig] = Field(default_factory=list)
    pagerduty_configs: list[AmPagerDutyConfig] = Field(default_factory=list)

    def integrations(self) -> int:
        """How many channels the receiver's Alertmanager configs make."""
        return sum(
            len(getattr(self, key))
            for key in ("slack_configs", "email_configs", "webhook_configs", "pagerduty_configs")
        )


class InhibitRuleConfig(_Strict):
    source_matchers: Matchers = Field(default_factory=list)
    target_matchers: Matchers = Field(default_factory=list)
    source_match: dict[str, str] = Field(default_factory=dict)
    source_match_re: dict[str, str] = Field(default_factory=dict)
    target_match: dict[str, str] = Field(default_factory=dict)
    target_match_re: dict[str, str] = Field(default_factory=dict)
    equal: list[str] = Field(default_factory=list)


class LimitsConfig(_Strict):
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    max_alerts_per_batch: int = Field(1000, ge=1)
    max_labels_per_alert: int = Field(64, ge=1)
    max_label_name_bytes: int = Field(256, ge=1)
    max_label_value_bytes: int = Field(4096, ge=1)
    max_annotations_per_alert: int = Field(64, ge=0)
    max_annotation_value_bytes: int = Field(16384, ge=1)


class PersonLimitConfig(_Strict):
    """At most ``count`` messages to one person on one channel per ``per`` (a token bucket:
    ``count`` at once, then one every ``per``/``count``)."""

    count: int = Field(ge=1, le=10_000)
    per: Duration

    @field_validator("per")
    @classmethod
    def _positive(cls, value: str) -> str:
        if parse_duration(value) < 1:
            raise ValueError("must be at least 1s")
        return value

    def limit(self) -> Limit:
        return Limit(self.count, parse_duration(self.per))


# each contact method's limit per person, by channel type (GoAlert throttles each user's
# contact methods; PagerDuty throttles its own and the console is no person's)
PERSON_LIMITS: dict[str, PersonLimitConfig | None] = {
    "slack": PersonLimitConfig(count=10, per="1m"),
    "email": PersonLimitConfig(count=10, per="5m"),
    "webhook": PersonLimitConfig(count=10, per="1m"),
    "pagerduty": None,
    "console": None,
    "sms": PersonLimitConfig(count=5, per="5m"),
    "voice": PersonLimitConfig(count=3, per="10m"),
}


class DeliveryConfig(_Strict):
    """How the engine holds the deliveries it sends (docs/paging.md, "Delivery")."""

    # a claimed delivery is another process's to send again after this long without word
    # from its sender (after a crash); renewed every third of it while a send runs
    lease: Duration = "30s"
    # a message waiting for an earlier one of its group and channel is looked at again after
    # this long (sooner when the earlier one is settled)
    order_wait: Duration = "5s"
    # sends of the top lane (pages of the most severe level) at once on each channel, apart
    # from the channel's ``concurrency`` that the other lanes share
    top_lane_concurrency: int = Field(4, ge=1, le=256)
    # per channel type: each person's limit (null: none); types not named keep the default
    person_limits: dict[str, PersonLimitConfig | None] = Field(default_factory=dict)

    @field_validator("person_limits")
    @classmethod
    def _known_types(
        cls, value: dict[str, PersonLimitConfig | None]
    ) -> dict[str, PersonLimitConfig | None]:
        unknown = sorted(set(value) - set(PERSON_LIMITS))
        if unknown:
            raise ValueError(
                f"unknown channel type {', '.join(unknown)} (known: {', '.join(PERSON_LIMITS)})"
            )
        return value

    def person_limit(self, channel_type: str, own: PersonLimitConfig | None) -> Limit | None:
        """A channel's limit per person: its own ``person_limit``, else its type's."""
        if own is not None:
            return own.limit()
        config = self.person_limits.get(channel_type, PERSON_LIMITS.get(channel_type))
        return config.limit() if config is not None else None

    @field_validator("lease", "order_wait")
    @classmethod
    def _at_least_a_second(cls, value: str) -> str:
        if parse_duration(value) < 1:
            raise ValueError("must be at least 1s")
        return value


class ApiConfig(_Strict):
    anonymous_intake: bool = False
    public_docs: bool = False  # /docs, /redoc, /openapi.json without a token
    # the most time a read of the firing alerts (/api/v2/alerts, /api/v2/alerts/groups) may
    # spend; cut short, it answers 503, or ends an answer already started unfinished (amtool
    # gives up after 30 s)
    read_budget: Duration = "10s"

    @field_validator("read_budget")
    @classmethod
    def _positive(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("must be more than 0s")
        return value


class HttpConfig(_Strict):
    """The server's connections (read at start): how long a client may take to send a
    request's headers and its body, how long an idle keep-alive connection stays open, how
    many connections are served at once, and how large the headers may be."""

    header_timeout: Duration = "10s"
    body_timeout: Duration = "30s"
    keep_alive_timeout: Duration = "5s"
    max_connections: int = Field(1000, ge=1)
    max_header_bytes: int = Field(65536, ge=1024)


class LoggingConfig(_Strict):
    """The server's log (read at start); ``--log-format`` and ``--log-level`` (or
    TOCSIN_LOG_FORMAT, TOCSIN_LOG_LEVEL) win over these."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"


class Secret(_Strict):
    """A secret given inline, from a file, or from an environment variable (one of them)."""

    value: str | None = None
    file: str | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Secret:
        given = [k for k in ("value", "file", "env") if getattr(self, k) is not None]
        if len(given) != 1:
            either = "one of value, file or env"
            raise ValueError(
                f"give only {either} (given: {', '.join(given)})" if given else f"give {either}"
            )
        return self


class RetryConfig(_Strict):
    max_attempts: int = Field(8, ge=1, le=100)
    initial_backoff: Duration = "1s"
    max_backoff: Duration = "5m"
    timeout: Duration = "10s"  # per attempt


class ChannelTemplates(_Strict):
    """Jinja2 templates (sandboxed) replacing a channel's defaults; see docs/paging.md."""

    title: str | None = None
    text: str | None = None
    html: str | None = None


class _ChannelBase(_Strict):
    name: str
    retry: RetryConfig = Field(default_factory=RetryConfig)
    concurrency: int = Field(4, ge=1, le=256)
    rate_per_minute: int | None = Field(None, ge=1)
    # each person's limit on this channel (default: delivery.person_limits of its type)
    person_limit: PersonLimitConfig | None = None
    fallback: str | None = None  # channel that gets what this one dead-letters
    templates: ChannelTemplates = Field(default_factory=ChannelTemplates)
    # false: a resolution is not sent to this channel (Alertmanager's send_resolved)
    send_resolved: bool = True


class BasicAuthConfig(_Strict):
    username: str
    password: Secret


class AuthorizationConfig(_Strict):
    type: str = Field("Bearer", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    credentials: Secret


class ClientTlsConfig(_Strict):
    ca_file: str | None = None  # verify the receiver against these CAs
    cert_file: str | None = None  # a client certificate (with key_file)
    key_file: str | None = None
    insecure_skip_verify: bool = False  # do not verify the receiver's certificate


class HttpClientConfig(_Strict):
    """How an HTTP channel reaches its receiver: authentication (``basic_auth`` or
    ``authorization``, not both), TLS, and a proxy (Alertmanager's ``http_config``)."""

    basic_auth: BasicAuthConfig | None = None
    authorization: AuthorizationConfig | None = None
    tls: ClientTlsConfig | None = None
    proxy_url: str | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> HttpClientConfig:
        if self.basic_auth is not None and self.authorization is not None:
            raise ValueError("give basic_auth or authorization, not both")
        if self.tls is not None and (self.tls.cert_file is None) != (self.tls.key_file is None):
            raise ValueError("tls: give cert_file and key_file together")
        return self


class SlackChannelConfig(_ChannelBase):
    type: Literal["slack"]
    url: str | None = None  # incoming webhook URL
    url_secret: Secret | None = None  # or the URL as a secret (it is one)
    # Or a Slack app: its bot token posts (chat.postMessage) one message per incident and
    # updates it in place (chat.update); its signing secret verifies button presses and slash
    # commands (/api/v1/slack/interactions, /api/v1/slack/commands).
    token: Secret | None = None  # the bot token (xoxb-…)
    signing_secret: Secret | None = None
    conversation: str | None = None  # the channel ID (C…) or #name the app posts to
    by_severity: dict[str, str] = Field(default_factory=dict)  # severity -> conversation
    api_url: str = "https://slack.com/api/"  # Slack's Web API (a local one in tests)
    # an incoming webhook's overrides of the name and icon it posts with
    username: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None
    http_client: HttpClientConfig | None = None  # the webhook's auth, TLS, proxy


class SmtpConfig(_Strict):
    host: str
    port: int = 587
    starttls: bool = True
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password: Secret | None = None
    verify: bool = True  # verify the server's certificate
    ca_file: str | None = None
    # a password over neither STARTTLS nor implicit TLS travels in clear text: refused unless
    # this says that is wanted (a relay on localhost, a test server)
    allow_plaintext_auth: bool = False
    hello: str | None = None  # the name said in EHLO (default: this host's)


class EmailChannelConfig(_ChannelBase):
    type: Literal["email"]
    smtp: SmtpConfig
    sender: str = Field(alias="from")
    to: list[str] = Field(default_factory=list)  # when the channel itself is the target


class WebhookChannelConfig(_ChannelBase):
    type: Literal["webhook"]
    url: str | None = None
    url_secret: Secret | None = None  # or the URL as a secret (one of the two)
    secret: Secret | None = None  # HMAC-SHA256 signing key
    headers: dict[str, str] = Field(default_factory=dict)
    # the request body as a JSON template (Teams, Google Chat ...: docs/sources.md), in place
    # of tocsin's own JSON; every value it prints is escaped as JSON string text
    body_template: str | None = Field(default=None, max_length=100_000)
    # the body: tocsin's message, or Alertmanager's webhook body (version "4") for a
    # receiver written for Alertmanager
    payload: Literal["tocsin", "alertmanager"] = "tocsin"
    receiver: str | None = None  # the alertmanager body's `receiver` (default: the name)
    max_alerts: int = Field(0, ge=0)  # the alertmanager body's alerts, at most (0: all)
    http_client: HttpClientConfig | None = None

    @model_validator(mode="after")
    def _one_url(self) -> WebhookChannelConfig:
        if (self.url is None) == (self.url_secret is None):
            raise ValueError("give url or url_secret, exactly one")
        return self


class PagerDutyChannelConfig(_ChannelBase):
    type: Literal["pagerduty"]
    routing_key: Secret
    url: str = "https://events.pagerduty.com/v2/enqueue"
    # the signing secret of a v3 webhook subscription whose events come back to
    # /api/v1/pagerduty/webhook (an acknowledgement or resolve made in PagerDuty acts here)
    webhook_secret: Secret | None = None
    http_client: HttpClientConfig | None = None
    # the event's severity whatever the incident's (Alertmanager's `severity`); default: the
    # incident's severity, mapped to PagerDuty's four
    severity: Literal["critical", "error", "warning", "info"] | None = None


class ConsoleChannelConfig(_ChannelBase):
    type: Literal["console"]


class _TwilioChannelBase(_ChannelBase):
    """A gateway with Twilio's API shape (Twilio, or a compatible one at ``api_url``)."""

    account_sid: str = Field(min_length=1, max_length=64)
    auth_token: Secret
    sender: str = Field(alias="from", pattern=r"^\+[1-9][0-9]{6,14}$")  # E.164
    api_url: str = "https://api.twilio.com"


class SmsChannelConfig(_TwilioChannelBase):
    type: Literal["sms"]


class VoiceChannelConfig(_TwilioChannelBase):
    type: Literal["voice"]


# the channel types, as pydantic names them in the location of an error (load.py drops them)
CHANNEL_TYPES = ("slack", "email", "webhook", "pagerduty", "console", "sms", "voice")
ChannelConfig = Annotated[
    SlackChannelConfig
    | EmailChannelConfig
    | WebhookChannelConfig
    | PagerDutyChannelConfig
    | ConsoleChannelConfig
    | SmsChannelConfig
    | VoiceChannelConfig,
    Field(discriminator="type"),
]


# --- runbook runners (execute/, docs/execute.md) -----------------------------------------


class SshConfig(_Strict):
    """A shell runner's commands through ``ssh`` to the host an alert's label names."""

    host_label: str = "instance"  # the label naming the host (a ``:port`` after it is dropped)
    # the hosts it may reach (RE2, anchored); a label naming any other is refused
    allow_hosts: list[str] = Field(min_length=1)
    user: str | None = None
    port: int = Field(22, ge=1, le=65535)
    identity_file: str | None = None
    known_hosts_file: str | None = None
    options: dict[str, str] = Field(default_factory=dict)  # more ``-o Name=value``
    connect_timeout: Duration = "10s"


class _RunnerBase(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # what the runner serves: runbook files (globs, relative to a runbook directory) and
    # routes (receiver names); empty: every runbook, every route
    runbooks: list[str] = Field(default_factory=list)
    routes: list[str] = Field(default_factory=list)
    timeout: Duration = "30s"
    output_limit: int = Field(65536, ge=256, le=4 * 1024 * 1024)  # bytes kept of the output
    concurrency: int = Field(4, ge=1, le=64)  # runs at once


class ShellRunnerConfig(_RunnerBase):
    type: Literal["shell"]
    languages: list[Literal["bash", "powershell"]] = Field(default_factory=lambda: ["bash"])  # type: ignore[arg-type]
    # the environment: only these variables of tocsin's own, and ``env``; nothing else
    pass_env: list[str] = Field(default_factory=lambda: ["PATH", "LANG", "TZ"])
    env: dict[str, Secret] = Field(default_factory=dict)
    workdir: str = "/"
    user: str | None = None  # run as this (unprivileged) user; tocsin must be root to switch
    ssh: SshConfig | None = None


class PromqlRunnerConfig(_RunnerBase):
    type: Literal["promql"]
    url: str  # the Prometheus (its HTTP API: /api/v1/query, /api/v1/rules)
    bearer_token: Secret | None = None
    max_rows: int = Field(50, ge=1, le=10000)


class SqlRunnerConfig(_RunnerBase):
    type: Literal["sql"]
    dsn: Secret  # an SQLAlchemy URL (postgresql://, sqlite:///...); it holds a password
    max_rows: int = Field(100, ge=1, le=10000)


class HttpRunnerConfig(_RunnerBase):
    type: Literal["http"]
    # the hosts it may reach (``host`` or ``host:port``); any other is refused
    allow_hosts: list[str] = Field(min_length=1)


RUNNER_TYPES = ("shell", "promql", "sql", "http")
RunnerConfig = Annotated[
    ShellRunnerConfig | PromqlRunnerConfig | SqlRunnerConfig | HttpRunnerConfig,
    Field(discriminator="type"),
]


class ExecuteConfig(_Strict):
    """Runbook commands that run (docs/execute.md): none without a runner."""

    runners: list[RunnerConfig] = Field(default_factory=list)
    # runbooks (globs) whose read commands run when an incident triggers; routes turn it on
    # with their own ``auto_diagnose: true``
    auto_diagnose_runbooks: list[str] = Field(default_factory=list)
    per_incident: int = Field(2, ge=1, le=16)  # runs of one incident at once
    auto_limit: int = Field(10, ge=1, le=100)  # read commands run automatically per incident


class ContactMethodConfig(_Strict):
    """A way to reach a person: a configured channel, and the address it reaches them at
    (left out: the user's own ``slack``, ``email`` or ``phone``, as the channel's type needs;
    a webhook needs none). docs/paging.md, "Personal notification rules"."""

    name: str
    channel: str
    address: str | None = None


class NotificationRuleConfig(_Strict):
    """Page through the contact method ``contact`` this long after the step pages the user."""

    contact: str
    after: Duration = "0s"


class UserConfig(_Strict):
    name: str
    full_name: str | None = None
    email: str | None = None
    # Slack member ID (U…, W…): mentioned and sent direct messages when paged through Slack,
    # and who a Slack button press or command is (a handle is refused: it can be renamed)
    slack: str | None = Field(None, pattern=r"^[UW][A-Z0-9]{2,20}$")
    # PagerDuty user ID (P…): who an acknowledgement or resolve made in PagerDuty was
    pagerduty: str | None = Field(None, pattern=r"^P[A-Z0-9]{5,20}$")
    timezone: str = "UTC"
    contact: list[str] = Field(default_factory=list)  # channels that page this person
    phone: str | None = Field(None, pattern=r"^\+[1-9][0-9]{6,14}$")  # E.164, for SMS and voice
    # what this person may do from a chat button, an SMS reply or a phone call, where no token
    # or console session says (a viewer is told no)
    role: Literal["viewer", "responder", "admin"] = "responder"
    # contact methods and the timed rules that use them (instead of `contact`); the user may
    # change theirs from the console or the API (docs/paging.md)
    contact_methods: list[ContactMethodConfig] = Field(default_factory=list)
    notification_rules: list[NotificationRuleConfig] = Field(default_factory=list)


class TeamConfig(_Strict):
    name: str
    members: list[str] = Field(default_factory=list)
    schedule: str | None = None  # paging the team pages who is on call here; else every member


class RotationConfig(_Strict):
    name: str
    type: Literal["hourly", "daily", "weekly", "custom"]
    length: int = Field(1, ge=1, le=1000)  # hours, days or weeks per shift
    shift: Duration | None = None  # custom shift length
    start: datetime  # first hand-off, local wall time in `timezone`
    timezone: str = "UTC"
    participants: list[str] = Field(min_length=1)


# weekday names (their first three letters) as restrictions give them, 0 = Monday
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def clock_minutes(text: str, end: bool = False) -> int:
    """Minutes since midnight of a time of day ("HH:MM"); "24:00" only as the end of a window."""
    found = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not found or int(found.group(2)) > 59 or int(found.group(1)) > 24:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    minutes = int(found.group(1)) * 60 + int(found.group(2))
    if minutes > 1440 or (minutes == 1440 and not end):
        raise ValueError(f"{text!r} is not a time of day (HH:MM)")
    return minutes


class RestrictionConfig(_Strict):
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    from_: str = Field("00:00", alias="from")
    to: str = "24:00"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        for day in value:
            if day.strip().lower()[:3] not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday (mon … sun)")
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        clock_minutes(value)
        return value

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        clock_minutes(value, end=True)
        return value


class LayerConfig(_Strict):
    rotation: str
    restrictions: list[RestrictionConfig] = Field(default_factory=list)


class ScheduleConfig(_Strict):
    name: str
    timezone: str = "UTC"
    layers: list[LayerConfig] = Field(min_length=1)


class SeverityLevelConfig(_Strict):
    name: str
    ack_deadline: Duration | None = None
    aliases: list[str] = Field(default_factory=list)
    update_every: Duration | None = None  # remind the channels when no status update for this


class SeveritiesConfig(_Strict):
    label: str = "severity"
    from_runbook: str | None = None  # a runbook whose severity table gives the levels
    levels: list[SeverityLevelConfig] | None = None
    update_every: Duration | None = None  # for levels that do not say (status-update reminders)


class StepConfig(_Strict):
    targets: list[str] = Field(min_length=1)
    delay: Duration = "5m"
    matchers: Matchers = Field(default_factory=list)


class FromRunbookConfig(_Strict):
    runbook: str  # path, relative to this file
    alert: str | None = None  # the alert's own matrix instead of the runbook-wide one
    roles: dict[str, str] = Field(default_factory=dict)  # role -> "schedule:x[, user:y]"
    last_delay: Duration = "30m"


class PolicyConfig(_Strict):
    name: str
    steps: list[StepConfig] = Field(default_factory=list)
    from_runbook: FromRunbookConfig | None = None
    repeat: int = Field(0, ge=0, le=100)
    ack_timeout: Duration | None = None


class ComponentConfig(_Strict):
    """A part of the service the public status page shows: an incident affects it when one
    of its alerts matches all of ``matchers``."""

    name: str = Field(min_length=1, max_length=100)
    matchers: Matchers = Field(min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=500)


class StatusPageConfig(_Strict):
    """The public status page (``/status``): no sign-in, no labels, people or notes."""

    title: str = Field("Service status", min_length=1, max_length=200)
    components: list[ComponentConfig] = Field(default_factory=list, max_length=100)

    @field_validator("components")
    @classmethod
    def _unique(cls, value: list[ComponentConfig]) -> list[ComponentConfig]:
        names = [c.name for c in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"component names must differ: {', '.join(twice)}")
        return value


def provider_url_ok(url: str) -> bool:
    """Whether ``url`` may be an OpenID provider's: https, or http to this host only (a
    provider for tests)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")


class OidcConfig(_Strict):
    """Sign-in to the console through an OpenID Connect provider (authorization code flow
    with PKCE, ``web/oidc.py``): the ID token's ``user_claim`` names one of ``users:``."""

    issuer: str = Field(min_length=1, max_length=500)
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: Secret
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "email", "profile"], min_length=1, max_length=20
    )
    # "email": a user whose email is the token's (verified) email; any other claim: a user
    # whose name is the claim's value
    user_claim: str = Field("email", min_length=1, max_length=100)
    role: Literal["viewer", "responder", "admin"] = "responder"
    name: str = Field("Sign in with single sign-on", min_length=1, max_length=100)

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        if not provider_url_ok(value):
            raise ValueError("must be an https URL (http only to localhost, for tests)")
        if "?" in value or "#" in value:
            raise ValueError("must have no query or fragment")
        return value.rstrip("/")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("must include openid")
        bad = [s for s in value if not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]{1,100}", s)]
        if bad:
            raise ValueError(f"not a scope: {bad[0]!r}")
        return value


class ConsoleConfig(_Strict):
    """The web console: how people may sign in besides tokens and passwords."""

    oidc: OidcConfig | None = None


class HeartbeatConfig(_Strict):
    """A heartbeat monitor (docs/paging.md, "Heartbeats"): beaten by ``POST
    /api/v1/heartbeats/{name}`` or by received alerts matching ``from_alert`` (Prometheus's
    ``Watchdog``); when no beat comes within ``interval + grace``, an alert with ``labels``
    (``alertname`` ``HeartbeatMissed`` unless given, and ``heartbeat: <name>``) and
    ``annotations`` fires into the routing tree; the next beat resolves it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    interval: Duration
    grace: Duration = "0s"
    from_alert: Matchers = Field(default_factory=list, max_length=20)
    labels: dict[str, str] = Field(default_factory=dict, max_length=50)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=50)

    @field_validator("interval")
    @classmethod
    def _at_least_a_second(cls, value: str) -> str:
        if parse_duration(value) < 1:
            raise ValueError("must be at least 1s")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name):
                raise ValueError(f"invalid label name {name!r}")
            if name == "heartbeat":
                raise ValueError("`heartbeat` is set to the monitor's name; choose another label")
            if not text:
                raise ValueError(f"label {name!r} is empty")
        return value


def _unique_heartbeats(value: list[HeartbeatConfig]) -> list[HeartbeatConfig]:
    names = [h.name for h in value]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"heartbeat names must differ: {', '.join(twice)}")
    return value


class TocsinConfig(_Strict):
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: RouteConfig
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    # Alertmanager's template files (globs, relative to this file): their {{ define }}s serve
    # the receivers' {{ template "name" . }} (config/gotemplate.py)
    templates: list[str] = Field(default_factory=list, max_length=100)
    runbooks: list[str] = Field(default_factory=list)
    # where the runbook directory can be read on the web (e.g.
    # https://github.com/acme/ops/blob/main/runbooks/): pages and exported rules link to the
    # section at this URL plus the file's path under its runbook directory
    runbooks_url: str | None = None
    # how long the signed "Open" link of a page to the incident's text stays good
    share_link_ttl: Duration = "7d"
    # the incident title, a template over the incident's alerts (the message context of
    # templating.py); default: the alert name and the group labels
    incident_title: str | None = Field(default=None, max_length=2000)
    api: ApiConfig = Field(default_factory=ApiConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    # the storm digest's defaults for every route (a route's own `storm:` changes them)
    storm: StormConfig = Field(default_factory=StormConfig)
    channels: list[ChannelConfig] = Field(default_factory=list)
    users: list[UserConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    rotations: list[RotationConfig] = Field(default_factory=list)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    severities: SeveritiesConfig = Field(default_factory=SeveritiesConfig)
    escalation_policies: list[PolicyConfig] = Field(default_factory=list)
    # Alertmanager's named time intervals (mute_time_intervals: the older key, the same)
    time_intervals: list[TimeIntervalConfig] = Field(default_factory=list)
    mute_time_intervals: list[TimeIntervalConfig] = Field(default_factory=list)
    # a Jinja2 file (relative to tocsin.yaml) replacing the default postmortem template
    postmortem_template: str | None = None
    # what a resolved incident still asks of people, per severity (config/duties.py)
    duties: DutiesConfig = Field(default_factory=DutiesConfig)
    # the public status page: its title and components
    status_page: StatusPageConfig = Field(default_factory=StatusPageConfig)
    # the web console: sign-in through an OpenID Connect provider
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    # runbook commands that run: runners, automatic diagnostics (docs/execute.md)
    execute: ExecuteConfig = Field(default_factory=ExecuteConfig)
    # heartbeat monitors (a dead man's switch; docs/paging.md, "Heartbeats")
    heartbeats: Annotated[list[HeartbeatConfig], AfterValidator(_unique_heartbeats)] = Field(
        default_factory=list, max_length=1000
    )
    # JSON from other tools through mappings: POST /api/v1/intake/{name} (docs/sources.md)
    intakes: list[IntakeConfig] = Field(default_factory=list)

    @field_validator("intakes")
    @classmethod
    def _unique_intakes(cls, value: list[IntakeConfig]) -> list[IntakeConfig]:
        for _, problem in check_unique(value):
            raise ValueError(problem)
        return value
