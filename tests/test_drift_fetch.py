"""``service/drift.py``: which Prometheus, reading its rules (token, timeout, size bound,
every failure one ``Unavailable`` naming the URL and why), and the report, against a fake
Prometheus on this host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prometheus import Answer, FakePrometheus, fake_prometheus, free_port, rules_answer
from tocsin.config import Config, parse_config
from tocsin.errors import Invalid, Unavailable
from tocsin.runbooks.model import Alert, Catalog, Runbook
from tocsin.service import drift

NOW = 1_800_000_000.0
CATALOG = Catalog(
    runbooks=[
        Runbook(
            source="shop.md",
            title="Shop",
            alerts=[Alert(name="ShopDown", title="t", line=3, severity="critical", for_s=120)],
        )
    ]
)
BASE = "route: {receiver: default}\nreceivers: [{name: default}]\n"


def _config(runner: str = "") -> Config:
    return parse_config(BASE + (f"execute:\n  runners:\n{runner}" if runner else ""))


def _runner(url: str, extra: str = "") -> str:
    return f"    - name: prom\n      type: promql\n      url: {url}\n{extra}"


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    with fake_prometheus() as running:
        yield running


def test_the_configured_runner_is_read_with_its_token(
    fake: FakePrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROM_TOKEN", "s3cret")
    fake.answer = Answer(
        body=rules_answer(
            {
                "name": "ShopDown",
                "query": "up == 0",
                "duration": 600,
                "labels": {"severity": "P1"},
            }
        )
    )
    config = parse_config(
        BASE + "execute:\n  runners:\n"
        "    - {name: shell, type: shell}\n"  # not a promql runner: passed over
         + _runner(fake.url, "      bearer_token: {env: PROM_TOKEN}\n")
    )
    report = drift.compare_with(CATALOG, config, None, NOW)
    (path, headers), *_ = fake.asked
    assert path == "/api/v1/rules?type=alert&exclude_alerts=true"
    assert headers["Authorization"] == "Bearer s3cret"
    assert (report.prometheus, report.rules, report.alerts) == (fake.url, 1, 1)
    assert [(f.kind, f.runbook, f.rule) for f in report.findings] == [("for", "2m", "10m")]
    body = report.to_json()
    assert body["read_at"] == "2027-01-15T08:00:00Z"
    assert body["counts"] == {
        "no_runbook": 0,
        "no_rule": 0,
        "threshold": 0,
        "for": 1,
        "severity": 0,
    }
    assert "s3cret" not in json.dumps(body)


def test_a_url_given_wins_and_its_credentials_are_never_shown(fake: FakePrometheus) -> None:
    given = fake.url.replace("http://", "http://ops:pa55@")
    report = drift.compare_with(CATALOG, _config(_runner("http://127.0.0.1:1")), given, NOW)
    assert report.prometheus == fake.url
    assert fake.asked[0][1]["Authorization"].startswith("Basic ")  # httpx sends them
    assert [f.kind for f in report.findings] == ["no_rule"]


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (
            Answer(401, b'{"status":"error","errorType":"unauthorized","error":"no token"}'),
            "/api/v1/rules refused: Client error '401 Unauthorized': no token",
        ),
        (
            Answer(503, b"Service Unavailable\n", {"Content-Type": "text/plain"}),
            "refused: Server error '503 Service Unavailable': Service Unavailable",
        ),
        (
            Answer(302, b"", {"Location": "http://ops:pw@elsewhere:9090/api/v1/rules"}),
            "redirects are not followed: give the URL it leads to, http://elsewhere:9090/",
        ),
        (Answer(body=b"<html>Grafana</html>"), "is not Prometheus's rules API: it is not JSON"),
        (
            Answer(body=b'{"status": "error", "error": "bad_data"}'),
            "is not Prometheus's rules API: the answer says bad_data",
        ),
        (Answer(body=b'{"data": {"groups": 1}}'), "the answer is not a success"),
        (Answer(body=b"[" * 100_000), "is not Prometheus's rules API"),
    ],
)
def test_every_failure_says_where_and_why(fake: FakePrometheus, answer: Answer, says: str) -> None:
    fake.answer = answer
    with pytest.raises(Unavailable) as caught:
        drift.compare_with(CATALOG, None, fake.url, NOW)
    assert fake.url in caught.value.message
    assert says in caught.value.message
    assert "ops:pw" not in caught.value.message


def test_an_answer_over_the_bound_is_not_read_whole(
    fake: FakePrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift, "MAX_ANSWER_BYTES", 64 * 1024)
    fake.answer = Answer(body=b" " * (1024 * 1024))
    with pytest.raises(
        Unavailable, match=r"answered more than 0\.0625 MiB of rules; tocsin reads no"
    ):
        drift.compare_with(CATALOG, None, fake.url, NOW)


def test_a_prometheus_that_does_not_answer_in_time(fake: FakePrometheus) -> None:
    fake.answer = Answer(delay_s=3)
    config = _config(_runner(fake.url, "      timeout: 1s\n"))
    with pytest.raises(Unavailable, match=r"/api/v1/rules did not answer within 1 s"):
        drift.compare_with(CATALOG, config, None, NOW)


def test_a_prometheus_not_there() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable, match=f"cannot read {url}/api/v1/rules: connection refused"):
        drift.compare_with(CATALOG, None, url, NOW)


def test_no_prometheus_configured_says_how_to_configure_one() -> None:
    with pytest.raises(Invalid) as caught:
        drift.compare_with(CATALOG, _config(), None, NOW)
    assert caught.value.message == drift.NOT_CONFIGURED
    assert "type promql" in caught.value.message and "execute.runners" in caught.value.message
    with pytest.raises(Invalid, match="no Prometheus is configured"):
        drift.compare_with(CATALOG, None, None, NOW)


@pytest.mark.parametrize("url", ["ftp://prom", "prometheus:9090", "http://", "http://[::1"])
def test_a_url_that_is_no_http_url_is_refused(url: str) -> None:
    with pytest.raises(Invalid, match="URL"):
        drift.compare_with(CATALOG, None, url, NOW)


def test_a_token_that_cannot_be_read_says_whose(tmp_path: Path) -> None:
    config = _config(
        _runner("http://127.0.0.1:1", f"      bearer_token: {{file: {tmp_path / 'none'}}}\n")
    )
    with pytest.raises(Unavailable, match="the bearer token of runner prom: cannot read secret"):
        drift.compare_with(CATALOG, config, None, NOW)


def test_a_configuration_without_runbooks_has_nothing_to_compare(fake: FakePrometheus) -> None:
    config = parse_config(BASE + "execute:\n  runners:\n" + _runner(fake.url))
    with pytest.raises(Invalid, match="names no runbooks"):
        drift.drift_here(config, None, NOW)
    assert fake.asked == []
