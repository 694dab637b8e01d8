"""Issue 22: an alertmanager.yml's receivers as tocsin channels (config/alertmanager.py), read
without a server: which channel each integration config becomes, the global defaults, the
``*_file`` secrets, ``http_config``, and every refusal at its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tocsin.config import ConfigError, parse_config
from tocsin.config.gotemplate import GoTemplateError, translate


def _load(receivers: str, glob: str = "", route: str = "route: {receiver: r}\n") -> Any:
    text = (f"global:\n{glob}" if glob else "") + route + "receivers:\n" + receivers
    return parse_config(text, "am.yml")


def _channels(receivers: str, glob: str = "") -> dict[str, dict[str, Any]]:
    loaded = _load(receivers, glob)
    return {
        name: c.model_dump(by_alias=True, exclude_unset=True)
        for name, c in loaded.paging.channels.items()
    }


def _problems(receivers: str, glob: str = "", route: str = "route: {receiver: r}\n") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(receivers, glob, route)
    return [str(p) for p in caught.value.problems]


SLACK_GLOBAL = "  slack_api_url: https://hooks.example/g\n"
SMTP_GLOBAL = "  smtp_smarthost: mail.example:587\n  smtp_from: am@example.org\n"


@pytest.mark.parametrize(
    ("receivers", "glob", "name", "expected"),
    [
        (  # the global URL, the channel override, Alertmanager's send_resolved default
            "  - name: r\n    slack_configs: [{channel: '#ops'}]\n",
            SLACK_GLOBAL,
            "r/slack/0",
            {"url": "https://hooks.example/g", "conversation": "#ops", "send_resolved": False},
        ),
        (  # a file stays a file, and the config's own replaces the global
            "  - name: r\n    slack_configs: [{api_url_file: /run/slack, send_resolved: true}]\n",
            SLACK_GLOBAL,
            "r/slack/0",
            {"url_secret": {"file": "/run/slack"}, "send_resolved": True},
        ),
        (
            "  - name: r\n    slack_configs: [{username: bot, icon_emoji: ':fire:'}]\n",
            "  slack_api_url_file: /run/g\n",
            "r/slack/0",
            {"url_secret": {"file": "/run/g"}, "username": "bot", "icon_emoji": ":fire:"},
        ),
        (  # Alertmanager's default title is tocsin's default; plain text is kept as written
            "  - name: r\n    slack_configs:\n"
            "      - title: '{{ template \"slack.default.title\" . }}'\n"
            "        text: 'Disk {% full'\n",
            SLACK_GLOBAL,
            "r/slack/0",
            {"templates": {"text": "Disk {{ '{' }}% full"}},
        ),
        (  # smarthost, STARTTLS required by default, the global sign-in
            "  - name: r\n    email_configs: [{to: 'a@x.org, b@x.org'}]\n",
            SMTP_GLOBAL + "  smtp_auth_username: u\n  smtp_auth_password_file: /run/pw\n",
            "r/email/0",
            {
                "smtp": {
                    "host": "mail.example",
                    "port": 587,
                    "tls": False,
                    "starttls": True,
                    "allow_plaintext_auth": False,
                    "username": "u",
                    "password": {"file": "/run/pw"},
                },
                "from": "am@example.org",
                "to": ["a@x.org", "b@x.org"],
                "send_resolved": False,
            },
        ),
        (  # empty global sign-in values are none (Alertmanager's conf.empty-fields.yml)
            "  - name: r\n    email_configs: [{to: a@x.org}]\n",
            SMTP_GLOBAL + "  smtp_auth_username: ''\n  smtp_auth_password: ''\n  smtp_hello: ''\n",
            "r/email/0",
            {
                "smtp": {
                    "host": "mail.example",
                    "port": 587,
                    "tls": False,
                    "starttls": True,
                    "allow_plaintext_auth": False,
                }
            },
        ),
        (  # port 465 is implicit TLS; require_tls false: no STARTTLS; hello; Subject
            "  - name: r\n    email_configs:\n      - to: a@x.org\n        smarthost: smtp.x:465\n"
            "        require_tls: false\n        hello: me.example\n"
            "        headers: {Subject: Alert}\n        from: f@x.org\n",
            "",
            "r/email/0",
            {
                "smtp": {
                    "host": "smtp.x",
                    "port": 465,
                    "tls": True,
                    "starttls": False,
                    "allow_plaintext_auth": False,
                    "hello": "me.example",
                },
                "templates": {"title": "Alert"},
            },
        ),
        (
            "  - name: r\n    webhook_configs: [{url_file: /run/hook, max_alerts: 3}]\n",
            "",
            "r/webhook/0",
            {
                "url_secret": {"file": "/run/hook"},
                "payload": "alertmanager",
                "receiver": "r",
                "max_alerts": 3,
                "send_resolved": True,
            },
        ),
        (
            "  - name: r\n    pagerduty_configs: [{routing_key_file: /run/pd}]\n",
            "  pagerduty_url: https://pd.example/enqueue\n",
            "r/pagerduty/0",
            {"routing_key": {"file": "/run/pd"}, "url": "https://pd.example/enqueue"},
        ),
        (  # a fixed severity; Alertmanager's default client text is tocsin's
            "  - name: r\n    pagerduty_configs:\n      - routing_key: k\n"
            "        severity: Warning\n"
            "        client: '{{ template \"pagerduty.default.client\" . }}'\n",
            "",
            "r/pagerduty/0",
            {"routing_key": {"value": "k"}, "severity": "warning"},
        ),
        (  # the global http_config, as each HTTP channel's http_client
            "  - name: r\n    webhook_configs: [{url: 'http://h/'}]\n",
            "  http_config:\n    basic_auth: {username: u, password_file: /run/p}\n"
            "    tls_config: {insecure_skip_verify: true}\n    proxy_url: http://proxy:3128\n",
            "r/webhook/0",
            {
                "http_client": {
                    "basic_auth": {"username": "u", "password": {"file": "/run/p"}},
                    "tls": {"insecure_skip_verify": True},
                    "proxy_url": "http://proxy:3128",
                }
            },
        ),
        (  # a config's own http_config replaces the global one
            "  - name: r\n    webhook_configs:\n      - url: 'http://h/'\n"
            "        http_config: {bearer_token_file: /run/t, follow_redirects: false}\n",
            "  http_config: {basic_auth: {username: u, password: p}}\n",
            "r/webhook/0",
            {
                "http_client": {
                    "authorization": {"type": "Bearer", "credentials": {"file": "/run/t"}}
                }
            },
        ),
    ],
)
def test_each_integration_config_becomes_a_channel(
    receivers: str, glob: str, name: str, expected: dict[str, Any]
) -> None:
    channel = _channels(receivers, glob)[name]
    for key, value in expected.items():
        assert channel.get(key) == value, (key, channel)


def test_routes_tell_their_receivers_channels_as_alertmanager_sends_to_them() -> None:
    loaded = parse_config(
        "global: {slack_api_url: 'https://hooks.example/g'}\n"
        "route:\n  receiver: team\n  routes:\n"
        "    - {matchers: [alertname=Watchdog], receiver: blackhole}\n"
        "    - matchers: [team=db]\n      routes: [{matchers: [severity=page], receiver: db}]\n"
        "    - {matchers: [x=y], receiver: db, channels: [own]}\n"
        "receivers:\n  - name: blackhole\n"
        "  - name: team\n    slack_configs: [{channel: '#a'}, {channel: '#b'}]\n"
        "  - name: db\n    webhook_configs: [{url: 'http://db/'}]\n"
        "channels: [{name: own, type: console}]\n",
        "am.yml",
    )
    root = loaded.route
    assert root.channels == ["team/slack/0", "team/slack/1"]
    blackhole, by_team, explicit = root.routes
    assert blackhole.channels == []  # Alertmanager sends nothing there
    assert by_team.receiver == "team" and by_team.channels == root.channels  # inherited
    assert by_team.routes[0].channels == ["db/webhook/0"]
    assert explicit.channels == ["own"]
    assert loaded.receivers == ["blackhole", "team", "db"]
    assert set(loaded.paging.channels) == {"own", "team/slack/0", "team/slack/1", "db/webhook/0"}


def test_a_tocsin_yaml_without_integrations_keeps_inheriting_channels() -> None:
    loaded = parse_config(
        "route:\n  receiver: a\n  channels: [c]\n  routes: [{matchers: [x=y], receiver: b}]\n"
        "receivers: [{name: a}, {name: b}]\nchannels: [{name: c, type: console}]\n",
        "tocsin.yaml",
    )
    assert loaded.route.routes[0].channels == ["c"]


@pytest.mark.parametrize(
    ("receivers", "glob", "expected"),
    [
        (
            "  - name: r\n    slack_configs: [{channel: '#a'}]\n",
            "",
            "am.yml:4:21: receivers[0].slack_configs[0]: no global Slack API URL set either "
            "inline or in a file",
        ),
        (
            "  - name: r\n    slack_configs: [{api_url: 'http://a', api_url_file: /f}]\n",
            "",
            "am.yml:4:57: receivers[0].slack_configs[0].api_url_file: at most one of api_url & "
            "api_url_file must be configured",
        ),
        (
            # a template defined inside a field: no translation carries it over
            "  - name: r\n    slack_configs:\n"
            '      - title: \'{{ define "t" }}x{{ end }}{{ template "t" . }}\'\n',
            SLACK_GLOBAL,
            "am.yml:7:16: receivers[0].slack_configs[0].title: ",
        ),
        (
            "  - name: r\n    slack_configs:\n      - pretext: 'Look'\n",
            SLACK_GLOBAL,
            "am.yml:7:18: receivers[0].slack_configs[0].pretext: tocsin's Slack message has no "
            "pretext (its own message is sent): leave it out",
        ),
        (
            "  - name: r\n    slack_configs: [{color: danger}]\n",
            SLACK_GLOBAL,
            "am.yml:6:29: receivers[0].slack_configs[0].color: tocsin does not carry over "
            "`color` of Alertmanager's slack_configs, so it would be ignored",
        ),
        (
            "  - name: r\n    email_configs: [{from: a@x.org, smarthost: 'h:25'}]\n",
            "",
            "am.yml:4:21: receivers[0].email_configs[0]: missing to address in email config",
        ),
        (
            "  - name: r\n    email_configs: [{to: a@x.org, smarthost: 'h:25'}]\n",
            "",
            "am.yml:4:21: receivers[0].email_configs[0]: no global SMTP from set",
        ),
        (
            "  - name: r\n    email_configs: [{to: a@x.org}]\n",
            "  smtp_from: a@x.org\n  smtp_smarthost: mail.example\n",
            "am.yml:3:19: global.smtp_smarthost: address mail.example: missing port in address",
        ),
        (
            "  - name: r\n    email_configs: [{to: a@x.org, headers: {Reply-To: b@x.org}}]\n",
            SMTP_GLOBAL,
            "am.yml:7:55: receivers[0].email_configs[0].headers.Reply-To: tocsin's email "
            "channel sets no header 'Reply-To'",
        ),
        (
            "  - name: r\n    email_configs: [{to: a@x.org, auth_password: pw}]\n",
            "  smtp_from: a@x.org\n  smtp_smarthost: mail.example:25\n  smtp_auth_username: u\n"
            "  smtp_require_tls: false\n",
            "am.yml:9:50: receivers[0].email_configs[0].auth_password: the password would be "
            "sent to the smarthost in clear text",
        ),
        (
            "  - name: r\n    pagerduty_configs: [{routing_key: k, severity: high}]\n",
            "",
            "am.yml:4:52: receivers[0].pagerduty_configs[0].severity: severity must be one of "
            "critical, error, warning, info",
        ),
        (
            "  - name: r\n    pagerduty_configs: [{routing_key: k, client: me}]\n",
            "",
            "am.yml:4:50: receivers[0].pagerduty_configs[0].client: tocsin sets the event's "
            "client itself",
        ),
        (
            "  - name: r\n    webhook_configs: [{max_alerts: 2}]\n",
            "",
            "am.yml:4:23: receivers[0].webhook_configs[0]: one of url or url_file must be "
            "configured",
        ),
        (
            "  - name: r\n    pagerduty_configs: [{service_key: k}]\n",
            "",
            "am.yml:4:39: receivers[0].pagerduty_configs[0].service_key: PagerDuty's Events "
            "API v1 service keys are not supported",
        ),
        (
            "  - name: r\n    webhook_configs:\n      - url: 'http://h/'\n"
            "        http_config: {follow_redirects: true}\n",
            "",
            "am.yml:6:41: receivers[0].webhook_configs[0].http_config.follow_redirects: tocsin "
            "never follows a redirect",
        ),
        (
            "  - name: r\n    webhook_configs:\n      - url: 'http://h/'\n"
            "        http_config: {authorization: {type: Basic, credentials: x}}\n",
            "",
            "am.yml:6:45: receivers[0].webhook_configs[0].http_config.authorization.type: "
            'authorization type cannot be set to "basic"',
        ),
        (
            "  - name: r\n    webhook_configs:\n      - url: 'http://h/'\n"
            "        http_config: {oauth2: {client_id: x}}\n",
            "",
            "am.yml:6:31: receivers[0].webhook_configs[0].http_config.oauth2: tocsin does not "
            "carry over `http_config.oauth2` of Alertmanager's webhook_configs",
        ),
        (
            "  - name: r\n    discord_configs: [{webhook_url: 'http://d'}]\n",
            "",
            "am.yml:4:22: receivers[0].discord_configs: tocsin has no Discord integration (yet)",
        ),
    ],
)
def test_what_cannot_be_carried_over_is_refused_at_its_line(
    receivers: str, glob: str, expected: str
) -> None:
    problems = _problems(receivers, glob)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_made_channel_whose_name_is_taken_is_reported_at_its_config() -> None:
    problems = _problems(
        "  - name: r\n    webhook_configs: [{url: 'http://h/'}]\n",
        route="route: {receiver: r}\nchannels: [{name: r/webhook/0, type: console}]\n",
    )
    assert any(
        p.startswith(
            "am.yml:5:23: receivers[0].webhook_configs[0].name: 'r/webhook/0' is defined twice"
        )
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ template "slack.default.title" . }}', None),
        ('{{- template "email.default.html" . -}}', None),
        ("Disk full on the database", "Disk full on the database"),
        ("50% {# not a comment", "50% {{ '{' }}# not a comment"),
    ],
)
def test_translate_keeps_text_and_defaults(source: str, expected: str | None) -> None:
    assert translate(source, where="x.title") == expected


@pytest.mark.parametrize("source", ['{{ define "t" }}x{{ end }}{{ template "t" . }}'])
def test_translate_refuses_what_it_cannot_carry_over(source: str) -> None:
    with pytest.raises(GoTemplateError):
        translate(source, where="x.title")


def test_templates_files_define_what_receivers_use(tmp_path: Path) -> None:
    """``templates:`` globs, relative to the file: their ``{{ define }}``s serve the
    receivers' ``{{ template "name" . }}``; a later file replaces an earlier one's define, as
    in Alertmanager; a glob that matches nothing is no error."""
    (tmp_path / "tmpl").mkdir()
    (tmp_path / "tmpl" / "a.tmpl").write_text(
        '{{ define "team.title" }}[A] {{ .CommonLabels.alertname }}{{ end }}'
    )
    (tmp_path / "tmpl" / "b.tmpl").write_text(
        '{{ define "team.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}'
    )
    text = (
        "templates: ['tmpl/*.tmpl', 'none/*.tmpl']\n"
        "route: {receiver: r}\n"
        "receivers:\n"
        "  - name: r\n"
        "    slack_configs:\n"
        "      - api_url: https://hooks.slack.com/services/T0/B0/x\n"
        "        title: '{{ template \"team.title\" . }}'\n"
    )
    config = parse_config(text, base_dir=tmp_path)
    title = config.paging.channels["r/slack/0"].templates.title
    assert title is not None
    assert ".Status|upper" in title and "CommonLabels.get('alertname', '')" in title
    assert "[A]" not in title  # b.tmpl, the later file, defines it


def test_a_broken_templates_file_is_refused_at_its_glob(tmp_path: Path) -> None:
    (tmp_path / "bad.tmpl").write_text('{{ define "x" }}{{ if .Status }}never closed{{ end }}')
    text = "templates: [bad.tmpl]\nroute: {receiver: r}\nreceivers: [{name: r}]\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base_dir=tmp_path)
    [problem] = caught.value.problems
    assert problem.location == "templates[0]" and problem.where == "tocsin.yaml:1:13"
    assert "bad.tmpl" in problem.message and "line 1" in problem.message


def test_relative_file_paths_are_beside_the_alertmanager_file(tmp_path: Path) -> None:
    """Alertmanager reads a relative ``*_file`` beside its configuration file; read from
    the server's working directory it would be another file, or none."""
    text = (
        "global:\n  smtp_smarthost: mail.example:587\n  smtp_from: am@example.org\n"
        "  smtp_auth_username: u\n  smtp_auth_password_file: secrets/smtp\n"
        "route: {receiver: r}\nreceivers:\n  - name: r\n"
        "    slack_configs: [{api_url_file: secrets/slack}]\n"
        "    email_configs: [{to: a@example.org}]\n"
        "    webhook_configs:\n      - url: 'https://h/'\n"
        "        http_config:\n          bearer_token_file: secrets/token\n"
        "          tls_config: {ca_file: ca.pem}\n"
        "    pagerduty_configs: [{routing_key_file: /abs/pd}]\n"
    )
    (tmp_path / "ca.pem").write_text("")  # not read at load
    loaded = parse_config(text, str(tmp_path / "am.yml"), tmp_path)
    channels = {
        name: c.model_dump(by_alias=True, exclude_unset=True)
        for name, c in loaded.paging.channels.items()
    }
    assert channels["r/slack/0"]["url_secret"] == {"file": str(tmp_path / "secrets/slack")}
    client = channels["r/webhook/0"]["http_client"]
    assert client["authorization"]["credentials"] == {"file": str(tmp_path / "secrets/token")}
    assert client["tls"]["ca_file"] == str(tmp_path / "ca.pem")
    assert channels["r/pagerduty/0"]["routing_key"] == {"file": "/abs/pd"}  # absolute: as is
    email = channels["r/email/0"]
    assert str(tmp_path / "secrets/smtp") in str(email)


def test_a_smarthost_port_of_other_digits_is_refused_at_its_line() -> None:
    """ "²".isdigit() is true and int() refuses it: the load crashed instead of saying
    where the address is wrong."""
    problems = _problems(
        "  - name: r\n    email_configs: [{to: a@example.org}]\n",
        "  smtp_smarthost: 'mail.example:\u00b2'\n  smtp_from: am@example.org\n",
    )
    assert any("missing port in address" in p for p in problems), problems
