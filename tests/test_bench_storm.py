"""The storm bench's arithmetic (bench/storm.py): request end times counted into 5-s rates,
the minimum window, its ratio to Alertmanager's, and the shapes' configurations."""

from __future__ import annotations

import json

import pytest
import yaml
from bench.storm import (
    SHAPES,
    Request,
    alertmanager_config,
    batch_body,
    client_shares,
    fitted,
    measured,
    min_window,
    ratio,
    resend_body,
    slowest,
    tocsin_config,
    window_rates,
)

from tocsin.config import parse_config


def _req(ended: float, alerts: int = 100, seconds: float = 0.01, ok: bool = True) -> Request:
    return Request(ended=ended, seconds=seconds, alerts=alerts, ok=ok)


def test_requests_are_counted_in_the_window_they_ended_in() -> None:
    start = 1000.0
    requests = [
        _req(1000.0),  # the first instant belongs to the first window
        _req(1004.99),
        _req(1005.0),  # a boundary opens the next window
        _req(1009.0, alerts=300),
        _req(1012.0),
    ]
    assert window_rates(requests, start, 15) == [200 / 5, 400 / 5, 100 / 5]


def test_a_trailing_partial_window_and_requests_outside_the_run_are_dropped() -> None:
    requests = [_req(99.0), _req(101.0), _req(106.0), _req(111.0), _req(140.0)]
    # 12 s from 100: two whole windows; 111 falls in the dropped partial third one
    assert window_rates(requests, 100.0, 12) == [20.0, 20.0]


def test_failed_requests_carry_no_alerts_and_an_empty_window_counts_zero() -> None:
    requests = [_req(0.5), _req(1.0, ok=False), _req(11.0, ok=False)]
    rates = window_rates(requests, 0.0, 15)
    assert rates == [20.0, 0.0, 0.0]
    assert min_window(rates) == 0.0


def test_a_cap_on_alerts_is_shared_between_the_clients_in_whole_batches() -> None:
    assert client_shares(200_000) == [100_000, 100_000]
    assert client_shares(250) == [200, 100]  # 3 batches: the first client posts two
    assert sum(s or 0 for s in client_shares(1_000_050)) == 1_000_100
    assert client_shares(None) == [None, None]


def test_a_storm_cut_short_by_its_cap_is_measured_until_its_last_answer() -> None:
    start = 1000.0
    assert measured([_req(1012.5), _req(1030.0)], start, 60) == 30.0
    assert measured([_req(1070.0)], start, 60) == 60  # the clients stop at --seconds anyway
    assert measured([], start, 60) == 60
    assert window_rates([_req(1012.5)], start, measured([_req(1012.5)], start, 60)) == [0.0, 0.0]


def test_min_window_ratio_and_slowest() -> None:
    assert min_window([8577.0, 139.0, 106.0, 70.0]) == 70.0
    assert min_window([]) is None
    assert ratio(70.0, 45_000.0) == pytest.approx(70 / 45_000)
    assert ratio(None, 45_000.0) is None
    assert ratio(70.0, None) is None
    assert ratio(70.0, 0.0) is None
    assert slowest([_req(1.0, seconds=0.2), _req(2.0, seconds=13.0, ok=False)]) == 13.0
    assert slowest([]) is None


def test_a_30s_group_wait_is_cut_to_fall_inside_a_short_run() -> None:
    shape = SHAPES["wait-30s"]
    assert fitted(shape, 60) is shape
    short = fitted(shape, 20)
    assert short.group_wait == "6s"
    assert float(short.group_wait.rstrip("s")) < 20
    # the shapes without a wait are left as they are
    assert fitted(SHAPES["one-group"], 10) is SHAPES["one-group"]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_both_servers_get_the_same_route(name: str) -> None:
    shape = SHAPES[name]
    parse_config(tocsin_config(shape), f"{name}.yaml")  # tocsin takes it as it is
    ours = yaml.safe_load(tocsin_config(shape))["route"]
    theirs = yaml.safe_load(alertmanager_config(shape))["route"]
    assert ours == theirs
    assert "channels" not in ours  # nothing is delivered
    assert ours.get("group_by") == (list(shape.group_by) if shape.group_by else None)


def test_a_batch_is_100_new_alerts() -> None:
    alerts = json.loads(batch_body("p", 7))
    instances = {a["labels"]["instance"] for a in alerts}
    assert len(alerts) == len(instances) == 100
    assert instances.isdisjoint(a["labels"]["instance"] for a in json.loads(batch_body("p", 8)))


def test_a_resent_batch_keeps_its_labels_and_start_and_carries_the_end_it_is_given() -> None:
    first = json.loads(resend_body("r", 200, 50, "2026-01-01T00:00:00.000Z", "A"))
    again = json.loads(resend_body("r", 200, 50, "2026-01-01T00:00:00.000Z", "B"))
    assert len(first) == 50
    assert [a["labels"] for a in first] == [a["labels"] for a in again]
    assert {a["labels"]["instance"] for a in first} == {f"r-{n}" for n in range(200, 250)}
    assert {a["startsAt"] for a in first + again} == {"2026-01-01T00:00:00.000Z"}
    assert [a["endsAt"] for a in first] == ["A"] * 50
    assert [a["endsAt"] for a in again] == ["B"] * 50
