"""``tocsin.yaml``: what the rest of tocsin imports of its configuration.

The start of the data path, in four rooms:
- ``models.py``: the shape of the file (pydantic models, one per section);
- ``load.py``: reading and validating it, every problem reported at ``file:line:column``, and
  the loaded ``Config``;
- ``routes.py``: the Alertmanager half (routing tree, inhibition rules, the document ``amtool``
  reads back);
- ``paging.py``: the paging half (people, schedules, escalation policies, severity levels,
  channels), built into ``Paging`` and cross-checked by name.
"""

from tocsin.config.load import (
    Config,
    ConfigError,
    ConfigProblem,
    Problems,
    load_config,
    parse_config,
    read_source,
    yaml_positions,
)
from tocsin.config.models import (
    ApiConfig,
    ChannelConfig,
    ChannelTemplates,
    ConsoleChannelConfig,
    Duration,
    EmailChannelConfig,
    FromRunbookConfig,
    GlobalConfig,
    InhibitRuleConfig,
    LayerConfig,
    LimitsConfig,
    Matchers,
    PagerDutyChannelConfig,
    PolicyConfig,
    ReceiverConfig,
    RestrictionConfig,
    RetryConfig,
    RotationConfig,
    RouteConfig,
    ScheduleConfig,
    Secret,
    SeveritiesConfig,
    SeverityLevelConfig,
    SlackChannelConfig,
    SmsChannelConfig,
    SmtpConfig,
    StepConfig,
    TeamConfig,
    TocsinConfig,
    UserConfig,
    VoiceChannelConfig,
    WebhookChannelConfig,
)
from tocsin.config.paging import Paging
from tocsin.config.routes import build_route

__all__ = [
    "ApiConfig",
    "ChannelConfig",
    "ChannelTemplates",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "ConsoleChannelConfig",
    "Duration",
    "EmailChannelConfig",
    "FromRunbookConfig",
    "GlobalConfig",
    "InhibitRuleConfig",
    "LayerConfig",
    "LimitsConfig",
    "Matchers",
    "PagerDutyChannelConfig",
    "Paging",
    "PolicyConfig",
    "Problems",
    "ReceiverConfig",
    "RestrictionConfig",
    "RetryConfig",
    "RotationConfig",
    "RouteConfig",
    "ScheduleConfig",
    "Secret",
    "SeveritiesConfig",
    "SeverityLevelConfig",
    "SlackChannelConfig",
    "SmsChannelConfig",
    "SmtpConfig",
    "StepConfig",
    "TeamConfig",
    "TocsinConfig",
    "UserConfig",
    "VoiceChannelConfig",
    "WebhookChannelConfig",
    "build_route",
    "load_config",
    "parse_config",
    "read_source",
    "yaml_positions",
]
