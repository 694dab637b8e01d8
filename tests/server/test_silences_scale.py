"""Silences at scale through the API: ``filter=`` and ``receiver=`` narrow the alerts before
any muting work, and a filtered read answers what the full read narrowed would."""

from __future__ import annotations

from urllib.parse import quote

from tests.server.conftest import Api
from tests.server.test_api_v2 import _silence, iso
from tocsin import times
from tocsin.alerts.matchers import matches_filter, parse_matcher
from tocsin.service import silences
from tocsin.service.context import Context

ALERTS = [
    {"labels": {"alertname": "NodeDown", "severity": "critical", "instance": "i1"}},
    {"labels": {"alertname": "DiskSlow", "severity": "warning", "instance": "i1"}},
    {"labels": {"alertname": "DiskSlow", "severity": "warning", "instance": "i2"}},
    {"labels": {"alertname": "K1", "severity": "critical", "instance": "i3"}},
    {"labels": {"alertname": "K1", "severity": "warning", "instance": "i4"}},
    {"labels": {"alertname": "K2", "instance": "i5"}},
]
SILENCES = [
    [{"name": "alertname", "value": "K1", "isRegex": False}],
    [{"name": "instance", "value": "i[45]", "isRegex": True}],
    [
        {"name": "alertname", "value": "K1|K2", "isRegex": True},
        {"name": "severity", "value": "critical", "isRegex": False, "isEqual": False},
    ],
]


def _storm(api: Api) -> None:
    assert api.post("/api/v2/alerts", ALERTS).status_code == 200
    for matchers in SILENCES:
        assert (
            api.post("/api/v2/silences", _silence(matchers, iso(-60), iso(3600))).status_code == 200
        )


def test_a_filtered_read_answers_what_the_full_read_narrowed_would(api: Api) -> None:
    _storm(api)
    every = api.get("/api/v2/alerts").json()
    assert {a["labels"]["instance"]: len(a["status"]["silencedBy"]) for a in every} == {
        "i1": 0,
        "i2": 0,
        "i3": 1,
        "i4": 3,
        "i5": 2,
    }
    assert sum(1 for a in every if a["status"]["inhibitedBy"]) == 1
    for text in ['alertname="K1"', 'instance=~"i[1-4]"', 'severity!="critical"', 'team=""']:
        matcher = parse_matcher(text)
        narrowed = [a for a in every if matches_filter([matcher], a["labels"])]
        assert api.get(f"/api/v2/alerts?filter={quote(text)}").json() == narrowed
    pager = [a for a in every if {"name": "pager"} in a["receivers"]]
    assert api.get("/api/v2/alerts?receiver=pag.*").json() == pager
    quiet = [a for a in every if a["status"]["state"] == "active"]
    assert api.get("/api/v2/alerts?silenced=false&inhibited=false").json() == quiet
    groups = api.get("/api/v2/alerts/groups").json()
    k1_groups = [
        {**g, "alerts": [a for a in g["alerts"] if a["labels"]["alertname"] == "K1"]}
        for g in groups
    ]
    k1 = quote('alertname=~"K1"')
    filtered = api.get(f"/api/v2/alerts/groups?filter={k1}").json()
    assert filtered == [g for g in k1_groups if g["alerts"]]


def test_only_the_selected_alerts_are_checked_against_silences(api: Api) -> None:
    _storm(api)
    ctx = Context(api.state.db, api.state.config, api.state.clock)
    now = times.to_dt(ctx.now())
    alerts, muting = silences.firing(ctx, now, [parse_matcher('alertname="K1"')])
    assert sorted(a.labels["instance"] for a in alerts.values()) == ["i3", "i4"]
    # no muting was worked out for any other alert
    assert set(muting.silenced_by) == set(alerts)
    routed, _ = silences.firing(ctx, now, (), lambda a: a.labels.get("severity") == "critical")
    assert sorted(a.labels["instance"] for a in routed.values()) == ["i1", "i3"]
