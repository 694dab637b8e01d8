"""The routing tree's lookups by id and its paging options."""

from __future__ import annotations


def test_find_a_route_by_id_and_read_its_paging_options() -> None:
    from tocsin.config import parse_config

    config = parse_config(
        "route:\n  receiver: d\n  channels: [c]\n  escalation_policy: p\n  routes:\n"
        "    - {matchers: ['x=\"1\"'], channels: []}\n"
        "receivers: [{name: d}]\nchannels: [{name: c, type: console}]\n"
        "users: [{name: u, contact: [c]}]\n"
        "escalation_policies: [{name: p, steps: [{targets: ['user:u']}]}]\n"
    )
    child = config.route.routes[0]
    assert config.route.find(child.id) is child and config.route.find("nope") is None
    assert config.route.channels == ["c"] and child.channels == []
    assert child.escalation_policy == "p"
