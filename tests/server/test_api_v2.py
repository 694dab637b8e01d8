"""Alertmanager API v2 compatibility, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import uuid

import tocsin
from tests.server.conftest import START, Api
from tocsin.clock import VirtualClock


def iso(offset_s: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(START + offset_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


PROBE = {"alertname": "Probe", "instance": "a"}


def test_post_and_get_alerts_with_alertmanager_defaults(api: Api) -> None:
    answer = api.post(
        "/api/v2/alerts", [{"labels": {**PROBE, "empty": ""}, "annotations": {"summary": "s"}}]
    )
    assert answer.status_code == 200 and answer.content == b""
    [alert] = api.get("/api/v2/alerts").json()
    assert alert["fingerprint"] == "2cc8bdfa4d2ec224"
    assert alert["labels"] == PROBE  # the empty-valued label is dropped
    assert alert["startsAt"] == iso(0) and alert["endsAt"] == iso(300)  # resolve_timeout
    assert alert["status"] == {"inhibitedBy": [], "silencedBy": [], "state": "active"}
    assert alert["receivers"] == [{"name": "default"}]
    assert set(alert) == {
        "annotations",
        "endsAt",
        "fingerprint",
        "receivers",
        "startsAt",
        "status",
        "updatedAt",
        "generatorURL",
        "labels",
    }


def test_validation_and_mixed_batches(api: Api) -> None:
    mixed = api.post(
        "/api/v2/alerts",
        [
            {"labels": {"alertname": "Good"}},
            {"labels": {"alertname": "Bad"}, "startsAt": iso(60), "endsAt": iso(0)},
            {"labels": {}},
        ],
    )
    assert mixed.status_code == 400
    assert "start time must be before end time" in mixed.json()
    assert "at least one label pair required" in mixed.json()
    assert [a["labels"]["alertname"] for a in api.get("/api/v2/alerts").json()] == ["Good"]
    missing = api.post("/api/v2/alerts", [{"labels": {"alertname": "Late"}}, {"annotations": {}}])
    assert missing.status_code == 422
    assert missing.json() == {"code": 602, "message": "1.labels in body is required"}
    assert len(api.get("/api/v2/alerts").json()) == 1  # a structural error stores nothing
    assert api.post("/api/v2/alerts", {"labels": {}}).status_code == 422
    bad_json = api.client.post("/api/v2/alerts", content=b"[{", headers=api.headers())
    assert bad_json.status_code == 400 and "parsing alerts body" in bad_json.json()["message"]
    bad_time = api.post("/api/v2/alerts", [{"labels": PROBE, "startsAt": "yesterday"}])
    assert bad_time.status_code == 422


def test_limits(api: Api) -> None:
    too_many = api.post("/api/v2/alerts", [{"labels": {"alertname": f"A{i}"}} for i in range(51)])
    assert too_many.status_code == 413
    big = api.client.post(
        "/api/v2/alerts", content=b"[" + b" " * 70000 + b"]", headers=api.headers()
    )
    assert big.status_code == 413
    long_value = api.post("/api/v2/alerts", [{"labels": {"alertname": "x" * 101}}])
    assert long_value.status_code == 400 and "longer than 100 bytes" in long_value.json()
    labels = {f"l{i}": "v" for i in range(11)}
    assert api.post("/api/v2/alerts", [{"labels": labels}]).status_code == 400
    assert api.get("/api/v2/alerts").json() == []


def test_updates_merge_and_history_keeps_resolved_episodes(api: Api, clock: VirtualClock) -> None:
    api.post("/api/v2/alerts", [{"labels": PROBE, "startsAt": iso(0)}])
    clock.advance(60)
    api.post("/api/v2/alerts", [{"labels": PROBE, "startsAt": iso(0), "endsAt": iso(60)}])
    assert api.get("/api/v2/alerts").json() == []  # resolved: not listed, as Alertmanager
    clock.advance(600)
    api.post("/api/v2/alerts", [{"labels": PROBE, "startsAt": iso(660)}])
    [again] = api.get("/api/v2/alerts").json()
    assert again["startsAt"] == iso(660)
    history = api.get("/api/v1/alerts/history?fingerprint=2cc8bdfa4d2ec224").json()
    assert [(h["starts_at"], h["ends_at"]) for h in history] == [
        (iso(660), iso(960)),
        (iso(0), iso(60)),
    ]


def test_filters(api: Api) -> None:
    api.post(
        "/api/v2/alerts",
        [
            {"labels": {"alertname": "A", "severity": "critical", "instance": "i1"}},
            {"labels": {"alertname": "B", "severity": "warning", "instance": "i2"}},
        ],
    )

    def names(query: str) -> list[str]:
        return [a["labels"]["alertname"] for a in api.get(f"/api/v2/alerts?{query}").json()]

    assert names('filter=severity="critical"') == ["A"]
    assert names('filter=severity=~"crit.*|warn.*"') == ["A", "B"]
    assert names('filter=team=""') == ["A", "B"]  # a missing label matches the empty value
    assert names("receiver=pager") == ["A"]
    assert api.get('/api/v2/alerts?filter=severity=~"("').status_code == 400
    assert api.get("/api/v2/alerts?active=maybe").status_code == 422


def _silence(
    matchers: list[dict[str, object]], start: str, end: str, **extra: object
) -> dict[str, object]:
    return {
        "matchers": matchers,
        "startsAt": start,
        "endsAt": end,
        "createdBy": "me",
        "comment": "maintenance",
        **extra,
    }


ALERTNAME_A = [{"name": "alertname", "value": "A", "isRegex": False}]


def test_silences_mute_alerts(api: Api) -> None:
    api.post("/api/v2/alerts", [{"labels": {"alertname": "A"}}, {"labels": {"alertname": "B"}}])
    created = api.post("/api/v2/silences", _silence(ALERTNAME_A, iso(-60), iso(3600)))
    assert created.status_code == 200
    silence_id = created.json()["silenceID"]
    assert uuid.UUID(silence_id)
    silence = api.get(f"/api/v2/silence/{silence_id}").json()
    assert silence["status"] == {"state": "active"} and silence["startsAt"] == iso(0)
    assert silence["matchers"] == [
        {"isEqual": True, "isRegex": False, "name": "alertname", "value": "A"}
    ]
    alerts = {a["labels"]["alertname"]: a for a in api.get("/api/v2/alerts").json()}
    assert alerts["A"]["status"] == {
        "inhibitedBy": [],
        "silencedBy": [silence_id],
        "state": "suppressed",
    }
    assert [a["labels"]["alertname"] for a in api.get("/api/v2/alerts?silenced=false").json()] == [
        "B"
    ]
    assert api.delete(f"/api/v2/silence/{silence_id}").status_code == 200
    assert api.get(f"/api/v2/silence/{silence_id}").json()["status"]["state"] == "expired"
    again = api.delete(f"/api/v2/silence/{silence_id}")
    assert again.status_code == 500 and "already expired" in again.json()
    assert all(a["status"]["state"] == "active" for a in api.get("/api/v2/alerts").json())


def test_silence_validation(api: Api) -> None:
    cases = [
        (
            _silence([{"name": "a", "value": ".*", "isRegex": True}], iso(0), iso(60)),
            400,
            "at least one matcher must not match the empty string",
        ),
        (
            _silence(ALERTNAME_A, iso(60), iso(0)),
            400,
            "Failed to create silence: start time must be before end time",
        ),
        (
            _silence(ALERTNAME_A, iso(-7200), iso(-3600)),
            400,
            "Failed to create silence: end time can't be in the past",
        ),
        (
            _silence([{"name": "a", "value": "(", "isRegex": True}], iso(0), iso(60)),
            400,
            "invalid regular expression",
        ),
        (
            {**_silence(ALERTNAME_A, iso(0), iso(60)), "createdBy": ""},
            422,
            "createdBy in body is required",
        ),
        (
            {k: v for k, v in _silence(ALERTNAME_A, iso(0), iso(60)).items() if k != "comment"},
            422,
            "comment in body is required",
        ),
        (_silence([], iso(0), iso(60)), 422, "matchers in body should have at least 1 items"),
        (_silence(ALERTNAME_A, iso(0), iso(60), id=str(uuid.uuid4())), 404, "silence not found"),
    ]
    for body, status, message in cases:
        answer = api.post("/api/v2/silences", body)
        assert answer.status_code == status, (body, answer.text)
        assert message in answer.text
    assert api.get("/api/v2/silence/not-a-uuid").status_code == 422
    assert api.get(f"/api/v2/silence/{uuid.uuid4()}").status_code == 404


def test_silence_updates_follow_alertmanager(api: Api, clock: VirtualClock) -> None:
    pending = api.post("/api/v2/silences", _silence(ALERTNAME_A, iso(600), iso(3600))).json()
    same = api.post(
        "/api/v2/silences", _silence(ALERTNAME_A, iso(1200), iso(7200), id=pending["silenceID"])
    )
    assert same.json() == pending  # a pending silence may move its start: updated in place
    changed = api.post(
        "/api/v2/silences",
        _silence(
            [{"name": "alertname", "value": "B", "isRegex": False}],
            iso(1200),
            iso(7200),
            id=pending["silenceID"],
        ),
    ).json()
    assert changed != pending  # other matchers: a new silence, the old one expired
    old = api.get(f"/api/v2/silence/{pending['silenceID']}").json()
    assert old["status"]["state"] == "expired"
    listed = api.get("/api/v2/silences").json()
    assert [s["status"]["state"] for s in listed] == ["pending", "expired"]
    filtered = api.get('/api/v2/silences?filter=alertname="B"').json()
    assert [s["id"] for s in filtered] == [changed["silenceID"]]


def test_inhibition(api: Api) -> None:
    api.post(
        "/api/v2/alerts",
        [
            {"labels": {"alertname": "NodeDown", "severity": "critical", "instance": "i1"}},
            {"labels": {"alertname": "DiskSlow", "severity": "warning", "instance": "i1"}},
            {"labels": {"alertname": "DiskSlow", "severity": "warning", "instance": "i2"}},
        ],
    )
    alerts = api.get("/api/v2/alerts").json()
    source = next(a for a in alerts if a["labels"]["alertname"] == "NodeDown")
    muted = {
        a["labels"]["instance"]: a["status"]["inhibitedBy"]
        for a in alerts
        if a["labels"]["alertname"] == "DiskSlow"
    }
    assert muted == {"i1": [source["fingerprint"]], "i2": []}
    assert len(api.get("/api/v2/alerts?inhibited=false").json()) == 2


def test_groups_status_receivers(api: Api) -> None:
    api.post(
        "/api/v2/alerts",
        [
            {"labels": {"alertname": "A", "severity": "critical", "instance": "1"}},
            {"labels": {"alertname": "A", "severity": "critical", "instance": "2"}},
            {"labels": {"alertname": "B"}},
        ],
    )
    groups = api.get("/api/v2/alerts/groups").json()
    assert [(g["receiver"]["name"], g["labels"], len(g["alerts"])) for g in groups] == [
        ("pager", {"alertname": "A"}, 2),
        ("default", {"alertname": "B"}, 1),
    ]
    status = api.get("/api/v2/status").json()
    assert status["cluster"]["status"] == "disabled"
    assert "receiver: default" in status["config"]["original"]
    assert set(status["versionInfo"]) == {
        "branch",
        "buildDate",
        "buildUser",
        "goVersion",
        "revision",
        "version",
    }
    assert api.get("/api/v2/receivers").json() == [{"name": "default"}, {"name": "pager"}]


def test_status_reports_the_alertmanager_api_version_and_tocsins_own(api: Api) -> None:
    """amtool warns when versionInfo.version is not its own version (issue 17, item 23)."""
    info = api.get("/api/v2/status").json()["versionInfo"]
    assert info["version"] == "0.25.0"
    assert info["revision"] == f"tocsin {tocsin.__version__}"
    assert all(isinstance(value, str) for value in info.values())


def test_auth(api: Api) -> None:
    client = api.client
    assert client.get("/-/healthy").status_code == 200
    assert client.get("/-/ready").status_code == 200
    assert client.get("/api/v2/alerts").status_code == 401
    assert "Basic" in client.get("/api/v2/alerts").headers["www-authenticate"]
    bad = client.get("/api/v2/alerts", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    basic = base64.b64encode(f"prometheus:{api.tokens['intake']}".encode()).decode()
    posted = client.post(
        "/api/v2/alerts", json=[{"labels": PROBE}], headers={"Authorization": f"Basic {basic}"}
    )
    assert posted.status_code == 200
    assert api.get("/api/v2/alerts", role="intake").status_code == 403
    assert (
        api.post(
            "/api/v2/silences", _silence(ALERTNAME_A, iso(0), iso(60)), role="viewer"
        ).status_code
        == 403
    )
    assert api.get("/api/v2/alerts", role="viewer").status_code == 200
    assert client.post("/-/reload", headers=api.headers("responder")).status_code == 403
