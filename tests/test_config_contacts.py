"""Contact methods and notification rules in tocsin.yaml: each mistake is an error at the line
of its value, as every configuration error is (the API refuses the same, service/contacts)."""

from __future__ import annotations

import pytest

from tocsin.config import ConfigError, parse_config

HEAD = (
    "route: {receiver: d}\n"
    "receivers: [{name: d}]\n"
    "channels:\n"
    "  - {name: mail, type: email, smtp: {host: localhost}, from: t@example.com}\n"
    "  - {name: hook, type: webhook, url: 'http://127.0.0.1:9/h'}\n"
    "users:\n"
)


def problems(users: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(HEAD + users, "c.yaml")
    return [str(p) for p in caught.value.problems]


def test_good_methods_and_rules_load() -> None:
    config = parse_config(
        HEAD + "  - name: al\n"
        "    email: al@example.com\n"
        "    contact_methods: [{name: mail, channel: mail}, {name: hook, channel: hook}]\n"
        "    notification_rules: [{contact: mail}, {contact: hook, after: 2m}]\n"
        "  - {name: bo, email: bo@example.com, contact: [mail]}\n",
        "c.yaml",
    )
    al = config.paging.profiles["al"]
    assert [(r.contact, r.after_s) for r in al.rules] == [("mail", 0.0), ("hook", 120.0)]
    assert al.origin == "config" and config.paging.profiles["bo"].origin == "legacy"


def test_each_mistake_at_the_line_of_its_value() -> None:
    found = problems(
        "  - name: al\n"  # 7
        "    contact_methods:\n"
        "      - {name: m, channel: mail}\n"  # 9: al has no email
        "      - {name: x, channel: pager}\n"  # 10: unknown channel
        "      - {name: h, channel: hook, address: 'x'}\n"  # 11: a webhook takes none
        "      - {name: e, channel: mail, address: 'not-mail'}\n"  # 12
        "    notification_rules:\n"
        "      - {contact: ghost}\n"  # 14: unknown method
        "      - {contact: m, after: 2h}\n"  # 15: over an hour
    )
    assert found == [
        "c.yaml:9:9: users[0].contact_methods[0].address: contact method 'm' needs an email"
        " address: give address, or the user's email",
        "c.yaml:10:28: users[0].contact_methods[1].channel: unknown channel 'pager'",
        "c.yaml:11:43: users[0].contact_methods[2].address: channel 'hook' (webhook) takes no"
        " address",
        "c.yaml:12:43: users[0].contact_methods[3].address: 'not-mail' is not an email address",
        "c.yaml:14:19: users[0].notification_rules[0].contact: unknown contact method 'ghost'",
        "c.yaml:15:29: users[0].notification_rules[1].after: after must be between 0s and 1h",
    ]


def test_methods_need_rules_and_not_contact_too() -> None:
    found = problems(
        "  - name: al\n"
        "    email: al@example.com\n"
        "    contact: [mail]\n"
        "    contact_methods: [{name: mail, channel: mail}]\n"
    )
    assert found == [
        "c.yaml:7:5: users[0].notification_rules: user 'al' has contact methods but no"
        " notification rules",
        "c.yaml:9:14: users[0].contact: give contact or contact_methods, not both",
    ]
