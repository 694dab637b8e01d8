from textwrap import dedent

import pytest

from tocsin.config import ConfigError, parse_config
from tocsin.times import parse_duration as parse_prom_duration

CONFIG = dedent(
    """
    global:
      resolve_timeout: 1m
    route:
      receiver: default
      group_by: [alertname]
      routes:
        - matchers: ['severity="critical"']
          receiver: pager
          group_wait: 0s
          continue: true
          routes:
            - matchers: ['team="db"']
              receiver: dba
        - match_re:
            service: "api|web"
          receiver: frontend
          group_by: ['...']
        - matchers: ['severity=~"warning|critical"']
          receiver: tickets
          group_by: [alertname, instance]
    receivers:
      - name: default
      - name: pager
      - name: dba
      - name: frontend
      - name: tickets
    inhibit_rules:
      - source_matchers: ['severity="critical"']
        target_matchers: ['severity="warning"']
        equal: [alertname]
    """
).lstrip()


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"alertname": "X"}, ["default"]),
        ({"alertname": "X", "severity": "critical"}, ["pager", "tickets"]),
        ({"alertname": "X", "severity": "critical", "team": "db"}, ["dba", "tickets"]),
        ({"alertname": "X", "service": "api"}, ["frontend"]),
        ({"alertname": "X", "severity": "warning"}, ["tickets"]),
    ],
)
def test_route_matching(labels: dict[str, str], receivers: list[str]) -> None:
    config = parse_config(CONFIG)
    assert [r.receiver for r in config.route.match(labels)] == receivers


def test_inheritance_keys_and_group_keys() -> None:
    config = parse_config(CONFIG)
    root = config.route
    pager, frontend, tickets = root.routes
    dba = pager.routes[0]
    assert (root.group_wait_s, root.group_interval_s, root.repeat_interval_s) == (30, 300, 14400)
    assert dba.group_wait_s == 0 and dba.group_by == ("alertname",)
    assert frontend.group_by_all
    assert dba.key == '{}/{severity="critical"}/{team="db"}'
    assert frontend.key == '{}/{service=~"api|web"}'
    labels = {"alertname": "X", "severity": "critical", "instance": "i1", "service": "api"}
    assert tickets.group_key(labels) == (
        '{}/{severity=~"warning|critical"}:{alertname="X", instance="i1"}'
    )
    assert frontend.group_labels(labels) == labels
    assert config.resolve_timeout_s == 60
    assert len(config.inhibit_rules) == 1


def test_config_errors_name_their_place() -> None:
    bad = (
        CONFIG.replace("group_wait: 0s", "group_wait: soon")
        .replace("receiver: dba", "receiver: nobody")
        .replace("equal: [alertname]", "equals: [x]")
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(bad, "tocsin.yaml")
    text = str(caught.value)
    assert "tocsin.yaml:9:19: route.routes[0].group_wait: not a valid duration string" in text
    # issue 17, item 20: an unknown key says what to write instead
    assert (
        "tocsin.yaml:30:13: inhibit_rules[0].equals: unknown key `equals`, which nothing "
        "would read: did you mean `equal`?"
    ) in text
    # issue 17, item 15: the undefined receiver in the same pass as the errors of shape
    assert "tocsin.yaml:13:21: route.routes[0].routes[0].receiver: undefined receiver" in text
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.replace("receiver: dba", "receiver: nobody"), "tocsin.yaml")
    assert (
        "tocsin.yaml:13:21: route.routes[0].routes[0].receiver: undefined receiver 'nobody'"
        in str(caught.value)
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("route: {}\n", "the root route must name a receiver"),
        (
            "route: {receiver: a, matchers: ['x=\"y\"']}\nreceivers: [{name: a}]\n",
            "the root route must not have any matchers",
        ),
        (
            "route: {receiver: a, group_by: ['...', x]}\nreceivers: [{name: a}]\n",
            "cannot have wildcard group_by",
        ),
        (
            "route: {receiver: a, routes: [{matchers: ['a=~\"(\"']}]}\nreceivers: [{name: a}]\n",
            "invalid regular expression",
        ),
        ("- a\n", "must be a mapping"),
        ("route: [\n", "invalid YAML"),
    ],
)
def test_config_problems(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_config(text)


def test_durations() -> None:
    assert parse_prom_duration("1h30m") == 5400
    assert parse_prom_duration("0s") == 0
    with pytest.raises(ValueError):
        parse_prom_duration("5 minutes")
