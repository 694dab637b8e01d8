"""An ``alertmanager.yml``'s receivers as tocsin channels: each of a receiver's
``slack_configs``, ``email_configs``, ``webhook_configs`` and ``pagerduty_configs`` becomes a
channel named ``<receiver>/<type>/<index>`` (``team-X/slack/0``), with the ``global``
defaults, ``http_config``, ``send_resolved`` and ``*_file`` secrets carried over, and a route
naming the receiver tells those channels.

Between validation (``load.py``) and the checks by name (``routes.py``, ``paging.py``):
``expand`` rewrites the model in place into the tocsin configuration it means (what
``tocsin config convert`` writes), reporting at its line whatever Alertmanager would refuse
and whatever tocsin cannot carry over. Alertmanager's checks and messages follow its
``config/config.go`` and ``config/notifiers.go``, so that ``tocsin config check`` and
``amtool check-config`` agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from tocsin.config.am_models import (
    AmEmailConfig,
    AmHttpConfig,
    AmPagerDutyConfig,
    AmSlackConfig,
    AmTlsConfig,
    AmWebhookConfig,
)
from tocsin.config.gotemplate import GoTemplateError, translate
from tocsin.config.models import (
    ChannelConfig,
    GlobalConfig,
    Loc,
    ReceiverConfig,
    RouteConfig,
    TocsinConfig,
)

Report = Callable[[Loc, str], None]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_CHANNEL = TypeAdapter(ChannelConfig)
# the text parts of a Slack message Alertmanager has and tocsin's message does not: only
# Alertmanager's default text (tocsin's own stands in) is carried over
_SLACK_DEFAULT_ONLY = ("title_link", "pretext", "fallback", "footer", "callback_id")


def channel_name(receiver: str, kind: str, index: int) -> str:
    """The name of the channel a receiver's ``<kind>_configs[index]`` becomes."""
    return f"{receiver}/{kind}/{index}"


def uses_integrations(model: TocsinConfig) -> bool:
    """Whether the file configures notifications in Alertmanager's receivers: then every
    route naming a receiver tells that receiver's channels (none for a receiver with no
    integration, as Alertmanager sends nothing there)."""
    return any(r.integrations() for r in model.receivers)


def _files_beside(section: object, base_dir: Path) -> None:
    """Every relative ``*_file`` path of an Alertmanager section (and the sections in it)
    made relative to the file's directory, as Alertmanager resolves them: read from the
    server's working directory, ``password_file: secret`` would be another file, or none."""
    if isinstance(section, list):
        for item in section:
            _files_beside(item, base_dir)
        return
    if not isinstance(section, BaseModel):
        return
    for name in type(section).model_fields:
        value = getattr(section, name)
        if name.endswith("_file") and isinstance(value, str) and value:
            if not Path(value).is_absolute():
                setattr(section, name, str(base_dir / value))
        elif isinstance(value, BaseModel | list):
            _files_beside(value, base_dir)


def expand(
    model: TocsinConfig,
    report: Report,
    defines: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> dict[int, Loc]:
    """Turn the receivers' integrations into channels (appended to ``model.channels``), fill
    the routes' ``channels:``, and leave the receivers as names and ``global`` as tocsin's;
    what cannot be carried over is reported at its place. The place in the file of each
    channel made, by its index in ``model.channels`` (for the later checks' reports)."""
    if not uses_integrations(model) and not _global_defaults_set(model.global_):
        return {}
    if base_dir is not None:
        _files_beside(model.global_, base_dir)
        for receiver in model.receivers:
            for configs in (
                receiver.slack_configs,
                receiver.email_configs,
                receiver.webhook_configs,
                receiver.pagerduty_configs,
            ):
                _files_beside(configs, base_dir)
    made = _Maker(model.global_, report, defines or {})
    origins: dict[int, Loc] = {}
    by_receiver: dict[str, list[str]] = {}
    for i, receiver in enumerate(model.receivers):
        names: list[str] = []
        for kind, configs, build in (
            ("slack", receiver.slack_configs, made.slack),
            ("email", receiver.email_configs, made.email),
            ("webhook", receiver.webhook_configs, made.webhook),
            ("pagerduty", receiver.pagerduty_configs, made.pagerduty),
        ):
            for j, config in enumerate(configs):
                at: Loc = ("receivers", i, f"{kind}_configs", j)
                name = channel_name(receiver.name, kind, j)
                data = build(config, at, name)  # type: ignore[arg-type]
                if data is None:
                    continue
                channel = _checked(data, at, report)
                if channel is not None:
                    origins[len(model.channels)] = at
                    model.channels.append(channel)
                    names.append(name)
        by_receiver[receiver.name] = names
    if uses_integrations(model):
        _fill_routes(model.route, by_receiver)
    model.channels = model.channels  # set: the converted file names them
    model.receivers = [ReceiverConfig(name=r.name) for r in model.receivers]
    kept = {k: getattr(model.global_, k) for k in ("resolve_timeout", "external_url")}
    model.global_ = GlobalConfig(
        **{k: v for k, v in kept.items() if k in model.global_.model_fields_set}
    )
    return origins


def _global_defaults_set(g: GlobalConfig) -> bool:
    return bool(g.model_fields_set - {"resolve_timeout", "external_url"})


def _fill_routes(route: RouteConfig, by_receiver: dict[str, list[str]]) -> None:
    """A route that names a receiver and no ``channels:`` tells the receiver's channels (a
    route naming none inherits its parent's, as its receiver is inherited)."""
    if route.receiver is not None and "channels" not in route.model_fields_set:
        route.channels = list(by_receiver.get(route.receiver, []))
    for child in route.routes:
        _fill_routes(child, by_receiver)


def _checked(data: dict[str, Any], at: Loc, report: Report) -> Any:
    """The channel model of ``data``, or None with its problems reported at ``at``."""
    try:
        return _CHANNEL.validate_python(data)
    except ValidationError as exc:
        for error in exc.errors():
            place = [p for p in error["loc"] if p != data["type"]]
            where = f"{'.'.join(str(p) for p in place)}: " if place else ""
            report(at, where + error["msg"].removeprefix("Value error, "))
        return None


def _secret(value: str | None, file: str | None) -> dict[str, str] | None:
    """A tocsin secret from Alertmanager's inline value or ``*_file`` (kept a file); an
    empty one is none, as Alertmanager reads ``smtp_auth_password: ''``."""
    if file:
        return {"file": file}
    if value:
        return {"value": value}
    return None


def _one_of(
    report: Report, at: Loc, config: Any, inline: str, file: str, *, required: str | None = None
) -> bool:
    """Alertmanager's rule for a value given inline or in a file: at most one (and, with
    ``required``, at least one, else ``required`` is the message). False when it is broken."""
    has_inline = bool(getattr(config, inline))
    has_file = bool(getattr(config, file))
    if has_inline and has_file:
        report((*at, file), f"at most one of {inline} & {file} must be configured")
        return False
    if required is not None and not (has_inline or has_file):
        report(at, required)
        return False
    return True


class _Maker:
    """The channel data of each Alertmanager integration config, over the ``global``
    defaults; None (and its problems reported) where it cannot be carried over."""

    def __init__(self, g: GlobalConfig, report: Report, defines: Mapping[str, str]) -> None:
        self.g = g
        self.report = report
        self.defines = defines  # the ``templates:`` files' {{ define }}s, by name
        self.ok = True
        _one_of(report, ("global",), g, "slack_api_url", "slack_api_url_file")
        _one_of(report, ("global",), g, "smtp_auth_password", "smtp_auth_password_file")
        self.http: dict[str, Any] | None = None
        if g.http_config is not None:
            self.http = self._http(g.http_config, ("global", "http_config"))

    def _text(self, source: str | None, at: Loc, where: str) -> str | None:
        if source is None:
            return None
        try:
            return translate(source, where=where, defines=self.defines)
        except GoTemplateError as exc:
            self.report(at, str(exc))
            self.ok = False
            return None

    def _default_only(self, source: str | None, at: Loc, where: str, why: str) -> None:
        """A text part tocsin's message lacks or fills itself: only Alertmanager's default is
        carried over; ``why`` says what tocsin does instead."""
        if source is None:
            return
        try:
            text = translate(source, where=where, defines=self.defines)
        except GoTemplateError:
            text = source
        if text is not None:
            self.report(at, f"{why}: leave it out, or give Alertmanager's default")
            self.ok = False

    def _templates(self, parts: dict[str, str | None]) -> dict[str, str]:
        return {k: v for k, v in parts.items() if v is not None}

    def _http(self, h: AmHttpConfig, at: Loc) -> dict[str, Any] | None:
        """Prometheus's ``http_config`` as a channel's ``http_client``."""
        out: dict[str, Any] = {}
        if h.follow_redirects:
            self.report(
                (*at, "follow_redirects"),
                "tocsin never follows a redirect: set follow_redirects: false, or point the "
                "URL at where it redirects",
            )
            self.ok = False
        auths = [
            k
            for k in ("basic_auth", "authorization", "bearer_token", "bearer_token_file")
            if getattr(h, k) is not None
        ]
        if len(auths) > 1:
            self.report(
                (*at, auths[1]),
                "at most one of basic_auth, authorization, bearer_token & bearer_token_file "
                "must be configured",
            )
            self.ok = False
            return None
        if h.basic_auth is not None:
            b = h.basic_auth
            if not _one_of(self.report, (*at, "basic_auth"), b, "password", "password_file"):
                self.ok = False
            auth: dict[str, Any] = {"username": b.username}
            password = _secret(b.password, b.password_file)
            if password is not None:
                auth["password"] = password
            out["basic_auth"] = auth
        if h.authorization is not None:
            a = h.authorization
            if a.type.lower() == "basic":
                self.report(
                    (*at, "authorization", "type"),
                    'authorization type cannot be set to "basic", use "basic_auth" instead',
                )
                self.ok = False
            credentials = _secret(a.credentials, a.credentials_file)
            if not _one_of(
                self.report,
                (*at, "authorization"),
                a,
                "credentials",
                "credentials_file",
                required="authorization needs credentials or credentials_file",
            ):
                self.ok = False
            elif credentials is not None:
                out["authorization"] = {"type": a.type, "credentials": credentials}
        token = _secret(h.bearer_token, h.bearer_token_file)
        if token is not None:
            out["authorization"] = {"type": "Bearer", "credentials": token}
        if h.tls_config is not None:
            out["tls"] = self._tls(h.tls_config)
        if h.proxy_url is not None:
            out["proxy_url"] = h.proxy_url
        return out or None

    @staticmethod
    def _tls(t: AmTlsConfig) -> dict[str, Any]:
        return t.model_dump(exclude_none=True, exclude_defaults=True)

    def _client(self, own: AmHttpConfig | None, at: Loc) -> dict[str, Any] | None:
        """A config's own ``http_config`` replaces the global one, as in Alertmanager."""
        if own is not None:
            return self._http(own, (*at, "http_config"))
        return self.http

    def _start(self, name: str, kind: str, send_resolved: bool) -> dict[str, Any]:
        self.ok = True
        return {"name": name, "type": kind, "send_resolved": send_resolved}

    def slack(self, c: AmSlackConfig, at: Loc, name: str) -> dict[str, Any] | None:
        data = self._start(name, "slack", c.send_resolved)
        where = f"{name} ({at[2]}[{at[3]}])"
        if not _one_of(self.report, at, c, "api_url", "api_url_file"):
            return None
        if c.api_url or c.api_url_file:
            url, file = c.api_url, c.api_url_file
        else:
            url, file = self.g.slack_api_url, self.g.slack_api_url_file
        if not (url or file):
            self.report(at, "no global Slack API URL set either inline or in a file")
            return None
        if file:
            data["url_secret"] = {"file": file}
        else:
            data["url"] = url
        for key, into in (
            ("channel", "conversation"),
            ("username", "username"),
            ("icon_emoji", "icon_emoji"),
            ("icon_url", "icon_url"),
        ):
            value = getattr(c, key)
            if value is not None and "{{" in value:
                self.report((*at, key), f"{key}: Go templates are not supported here")
                self.ok = False
            elif value:
                data[into] = value
        templates = self._templates(
            {
                "title": self._text(c.title, (*at, "title"), f"{where}.title"),
                "text": self._text(c.text, (*at, "text"), f"{where}.text"),
            }
        )
        for key in _SLACK_DEFAULT_ONLY:
            self._default_only(
                getattr(c, key),
                (*at, key),
                f"{where}.{key}",
                f"tocsin's Slack message has no {key} (its own message is sent)",
            )
        if templates:
            data["templates"] = templates
        client = self._client(c.http_config, at)
        if client is not None:
            data["http_client"] = client
        return data if self.ok else None

    def email(self, c: AmEmailConfig, at: Loc, name: str) -> dict[str, Any] | None:
        data = self._start(name, "email", c.send_resolved)
        where = f"{name} ({at[2]}[{at[3]}])"
        if not c.to:
            self.report(at, "missing to address in email config")
            return None
        sender = c.from_ or self.g.smtp_from
        if not sender:
            self.report(at, "no global SMTP from set")
            return None
        smarthost = c.smarthost or self.g.smtp_smarthost
        if not smarthost:
            self.report(at, "no global SMTP smarthost set")
            return None
        host, sep, port = smarthost.rpartition(":")
        if (
            not sep
            or not host
            or not re.fullmatch(r"[0-9]{1,5}", port)
            or not 0 < int(port) < 65536
        ):
            self.report(
                (*at, "smarthost") if c.smarthost else ("global", "smtp_smarthost"),
                f"address {smarthost}: missing port in address",
            )
            return None
        host = host.strip("[]")
        if not _one_of(self.report, at, c, "auth_password", "auth_password_file"):
            return None
        username = c.auth_username or self.g.smtp_auth_username
        if c.auth_password or c.auth_password_file:
            password = _secret(c.auth_password, c.auth_password_file)
        else:
            password = _secret(self.g.smtp_auth_password, self.g.smtp_auth_password_file)
        require_tls = c.require_tls if c.require_tls is not None else self.g.smtp_require_tls
        implicit = int(port) == 465
        smtp: dict[str, Any] = {
            "host": host,
            "port": int(port),
            "tls": implicit,
            "starttls": require_tls and not implicit,
            # Go's PLAIN auth sends a password in clear text only to this host
            "allow_plaintext_auth": host in _LOOPBACK,
        }
        if username and password is not None:
            smtp["username"] = username
            smtp["password"] = password
        elif username or password is not None:
            self.report(
                at,
                "tocsin signs in to the smarthost with auth_username and auth_password "
                "(or auth_password_file) together: give both, or neither",
            )
            return None
        if password is not None and not (implicit or require_tls) and host not in _LOOPBACK:
            self.report(
                (*at, "auth_password") if c.auth_password else at,
                "the password would be sent to the smarthost in clear text (Alertmanager "
                "refuses it too when it sends): set require_tls: true, or use port 465",
            )
            return None
        if c.tls_config is not None:
            tls = c.tls_config
            if tls.cert_file or tls.key_file:
                self.report(
                    (*at, "tls_config"),
                    "tocsin's email channel has no client certificate: leave out cert_file "
                    "and key_file",
                )
                return None
            smtp["verify"] = not tls.insecure_skip_verify
            if tls.ca_file:
                smtp["ca_file"] = tls.ca_file
        hello = c.hello or self.g.smtp_hello
        if hello:
            smtp["hello"] = hello
        data["smtp"] = smtp
        data["from"] = sender
        data["to"] = [t.strip() for t in c.to.split(",") if t.strip()]
        subject: str | None = None
        for header, value in c.headers.items():
            if header.lower() == "subject":
                subject = self._text(value, (*at, "headers", header), f"{where}.headers.Subject")
            else:
                self.report(
                    (*at, "headers", header),
                    f"tocsin's email channel sets no header {header!r}: only Subject is "
                    "carried over (as the channel's title template)",
                )
                self.ok = False
        templates = self._templates(
            {
                "title": subject,
                "text": self._text(c.text, (*at, "text"), f"{where}.text"),
                "html": self._text(c.html, (*at, "html"), f"{where}.html"),
            }
        )
        if templates:
            data["templates"] = templates
        return data if self.ok else None

    def webhook(self, c: AmWebhookConfig, at: Loc, name: str) -> dict[str, Any] | None:
        data = self._start(name, "webhook", c.send_resolved)
        if not _one_of(
            self.report,
            at,
            c,
            "url",
            "url_file",
            required="one of url or url_file must be configured",
        ):
            return None
        if c.url_file:
            data["url_secret"] = {"file": c.url_file}
        else:
            data["url"] = c.url
        data["payload"] = "alertmanager"
        data["receiver"] = at_receiver(name)
        if c.max_alerts:
            data["max_alerts"] = c.max_alerts
        client = self._client(c.http_config, at)
        if client is not None:
            data["http_client"] = client
        return data if self.ok else None

    def pagerduty(self, c: AmPagerDutyConfig, at: Loc, name: str) -> dict[str, Any] | None:
        data = self._start(name, "pagerduty", c.send_resolved)
        where = f"{name} ({at[2]}[{at[3]}])"
        if not _one_of(
            self.report,
            at,
            c,
            "routing_key",
            "routing_key_file",
            required="missing service or routing key in PagerDuty config",
        ):
            return None
        data["routing_key"] = _secret(c.routing_key, c.routing_key_file)
        data["url"] = c.url or self.g.pagerduty_url or PAGERDUTY_EVENTS_URL
        title = self._text(c.description, (*at, "description"), f"{where}.description")
        if c.severity is not None:
            severity = c.severity.strip().lower()
            if severity in ("critical", "error", "warning", "info"):
                data["severity"] = severity
            elif self._text(c.severity, (*at, "severity"), f"{where}.severity") is not None:
                self.report(
                    (*at, "severity"),
                    "severity must be one of critical, error, warning, info (or left out: "
                    "the incident's severity, mapped to PagerDuty's)",
                )
                self.ok = False
        for key in ("client", "client_url"):
            self._default_only(
                getattr(c, key),
                (*at, key),
                f"{where}.{key}",
                f"tocsin sets the event's {key} itself (tocsin, and the incident's link)",
            )
        if title is not None:
            data["templates"] = {"title": title}
        client = self._client(c.http_config, at)
        if client is not None:
            data["http_client"] = client
        return data if self.ok else None


def at_receiver(channel: str) -> str:
    """The receiver a channel made by ``expand`` came from (its name up to ``/<type>/<i>``)."""
    return channel.rsplit("/", 2)[0]


def tocsin_yaml(model: TocsinConfig, source: str) -> str:
    """The configuration ``model`` holds (an alertmanager.yml expanded by ``expand``) as a
    tocsin.yaml: the keys the file gave and the channels and routes' ``channels:`` made from
    its receivers; secrets stay where they were (a ``*_file`` stays a file)."""
    data = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if not data.get("global"):
        data.pop("global", None)
    data["channels"] = [
        {"name": c["name"], "type": c["type"], **c} for c in data.get("channels", [])
    ]
    if not data["channels"]:
        del data["channels"]
    header = (
        f"# tocsin.yaml converted from {source} by `tocsin config convert`: each receiver's\n"
        "# integrations are channels named <receiver>/<type>/<index>, told by the routes that\n"
        "# name the receiver (docs/migrate-from-alertmanager.md).\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
