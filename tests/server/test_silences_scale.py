"""Silences at scale through the API: ``filter=`` and ``receiver=`` narrow the alerts before
any muting work, and a filtered read answers what the full read narrowed would."""

from __future__ import annotations

from urllib.parse import quote

from pytest import MonkeyPatch

from tests.server.conftest import Api
from tests.server.test_api_v2 import _silence, iso
from tocsin.alerts.matchers import matches_filter, parse_matcher
from tocsin.clock import Budget, VirtualClock
from tocsin.service import silences
from tocsin.service.context import Context
from tocsin.store.silence_cache import cache_of

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
    budget = silences.read_budget(ctx, "a read")
    with silences.reading(ctx, budget) as firing:
        chunks = list(firing.chunks([parse_matcher('alertname="K1"')]))
        routed = list(firing.chunks((), lambda labels: labels.get("severity") == "critical"))
    assert sorted(a.labels["instance"] for c in chunks for a in c.alerts.values()) == ["i3", "i4"]
    # no muting was worked out for any other alert
    assert {fp for c in chunks for fp in c.muting.silenced_by} == {
        fp for c in chunks for fp in c.alerts
    }
    assert sorted(a.labels["instance"] for c in routed for a in c.alerts.values()) == ["i1", "i3"]


def test_a_read_that_spends_its_budget_answers_503(api: Api, monkeypatch: MonkeyPatch) -> None:
    """The budget is checked as the read goes: here a timer that moves a second at each
    look, against a budget of 3 s."""
    _storm(api)
    looks = []

    def counted(ctx: Context, what: str) -> Budget:
        def timer() -> float:
            looks.append(what)
            return float(len(looks))

        return Budget(3, what, "narrow it with filter= or raise api.read_budget", timer)

    monkeypatch.setattr(silences, "read_budget", counted)
    for path, what in [
        ("/api/v2/alerts", "the read of the alerts"),
        ("/api/v2/alerts/groups", "the read of the alert groups"),
    ]:
        looks.clear()
        answer = api.get(path)
        assert answer.status_code == 503
        assert answer.json() == (
            f"{what} was cut short after its budget of 3 s:"
            " narrow it with filter= or raise api.read_budget"
        )


def test_the_default_budget_is_configured(api: Api) -> None:
    ctx = Context(api.state.db, api.state.config, api.state.clock)
    assert silences.read_budget(ctx, "a read").seconds == 10
    _storm(api)
    assert api.get("/api/v2/alerts").status_code == 200


def test_repeated_reads_build_the_silences_once_and_see_each_change(
    api: Api, clock: VirtualClock
) -> None:
    _storm(api)
    cache = cache_of(api.state.db)
    first = api.get("/api/v2/alerts").json()
    builds = cache.builds
    assert api.get("/api/v2/alerts").json() == first
    k = quote('alertname=~"K.*"')
    assert api.get(f"/api/v2/alerts?filter={k}").status_code == 200
    assert cache.builds == builds
    # a new silence is seen at once; then an expired one
    matchers = [{"name": "instance", "value": "i1", "isRegex": False}]
    posted = api.post("/api/v2/silences", _silence(matchers, iso(-60), iso(3600))).json()
    i1 = [a for a in api.get("/api/v2/alerts").json() if a["labels"]["instance"] == "i1"]
    assert [a["status"]["silencedBy"] for a in i1] == [[posted["silenceID"]]] * 2
    assert api.delete(f"/api/v2/silence/{posted['silenceID']}").status_code == 200
    i1 = [a for a in api.get("/api/v2/alerts").json() if a["labels"]["instance"] == "i1"]
    assert [a["status"]["silencedBy"] for a in i1] == [[], []]
    # time passing a silence's end
    clock.advance(3600)
    assert all(not a["status"]["silencedBy"] for a in api.get("/api/v2/alerts").json())
