"""The heartbeat rules, pure: the deadline, what a check decides, which alerts beat."""

from __future__ import annotations

import pytest

from tocsin import times
from tocsin.alerts.heartbeat import (
    MISSED,
    OK,
    RESEND_S,
    Beats,
    Monitor,
    beaten,
    check,
    deadline,
)
from tocsin.alerts.matchers import parse_matcher
from tocsin.alerts.model import Alert
from tocsin.config import parse_config
from tocsin.config.load import ConfigError

T0 = 1_800_000_000.0
BACKUP = Monitor("backup", 600.0, 300.0, {"severity": "critical"}, {"runbook_url": "https://x"})


def test_the_deadline_counts_from_the_last_beat_or_from_the_start() -> None:
    assert deadline(BACKUP, Beats(OK, T0)) == T0 + 900
    assert deadline(BACKUP, Beats(OK, T0, last_beat=T0 + 100)) == T0 + 1000


@pytest.mark.parametrize(
    ("beats", "now", "kinds", "state", "next_at"),
    [
        (Beats(OK, T0, T0), T0 + 899, [], OK, T0 + 900),  # not yet
        (Beats(OK, T0, T0), T0 + 900, ["firing"], MISSED, T0 + 900 + RESEND_S),  # missed
        (Beats(OK, T0), T0 + 900, ["firing"], MISSED, T0 + 900 + RESEND_S),  # never beat
        # still missed: sent again, its start kept
        (
            Beats(MISSED, T0, T0, T0 + 900, BACKUP.alert_labels()),
            T0 + 960,
            ["firing"],
            MISSED,
            T0 + 960 + RESEND_S,
        ),
        # a beat came: resolved
        (
            Beats(MISSED, T0, T0 + 950, T0 + 900, BACKUP.alert_labels()),
            T0 + 950,
            ["resolved"],
            OK,
            T0 + 1850,
        ),
        # relabelled by a reload while missed: the old alert ends, the new one fires
        (
            Beats(MISSED, T0, T0, T0 + 900, {"alertname": "Old", "heartbeat": "backup"}),
            T0 + 960,
            ["resolved", "firing"],
            MISSED,
            T0 + 960 + RESEND_S,
        ),
    ],
)
def test_a_check_decides(
    beats: Beats, now: float, kinds: list[str], state: str, next_at: float
) -> None:
    decided = check(BACKUP, beats, now)
    at = times.to_dt(now)
    assert ["resolved" if a.resolved(at) else "firing" for a in decided.alerts] == kinds
    assert decided.state.state == state and decided.next_at == next_at
    for alert in decided.alerts:
        if not alert.resolved(at):
            assert alert.labels == {
                "alertname": "HeartbeatMissed",
                "severity": "critical",
                "heartbeat": "backup",
            }
            assert alert.starts_at == times.to_dt(T0 + 900)  # when it was missed
            assert alert.annotations["runbook_url"] == "https://x"
            assert alert.annotations["last_beat"] in ("never", times.to_dt(T0).isoformat())
    if state == MISSED:
        assert decided.state.labels == BACKUP.alert_labels()
        assert decided.state.missed_at == T0 + 900


def test_the_configured_alertname_wins_and_heartbeat_is_always_the_name() -> None:
    monitor = Monitor("etl", 60.0, labels={"alertname": "EtlSilent"})
    assert monitor.alert_labels() == {"alertname": "EtlSilent", "heartbeat": "etl"}


def test_firing_alerts_that_match_beat_resolved_ones_do_not() -> None:
    watchdog = Monitor("prometheus", 60.0, matchers=(parse_matcher('alertname="Watchdog"'),))
    other = Monitor("prom-b", 60.0, matchers=(parse_matcher('prometheus=~"b.*"'),))
    now = times.to_dt(T0)
    firing = Alert({"alertname": "Watchdog"}, ends_at=times.to_dt(T0 + 60))
    ended = Alert({"alertname": "Watchdog", "prometheus": "b1"}, ends_at=now)
    assert beaten([watchdog, other, BACKUP], [firing, ended], T0) == ["prometheus"]
    assert beaten([BACKUP], [firing], T0) == []  # no from_alert: beaten by its URL only


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ("{name: 'a b', interval: 1m}", "heartbeats[0].name"),
        ("{name: x, interval: 0s}", "at least 1s"),
        ("{name: x}", "heartbeats[0].interval"),
        ("{name: x, interval: 1m, labels: {heartbeat: y}}", "`heartbeat` is set"),
        ("{name: x, interval: 1m, from_alert: ['alertname=~\"(\"']}", "heartbeats[0].from_alert"),
        ("{name: x, interval: 1m, timeout: 5m}", "heartbeats[0].timeout"),
    ],
)
def test_the_configuration_refuses(entry: str, said: str) -> None:
    text = f"route: {{receiver: d}}\nreceivers: [{{name: d}}]\nheartbeats:\n  - {entry}\n"
    with pytest.raises(ConfigError) as refused:
        parse_config(text)
    assert said in str(refused.value)


def test_two_heartbeats_of_one_name_are_refused() -> None:
    text = (
        "route: {receiver: d}\nreceivers: [{name: d}]\nheartbeats:\n"
        "  - {name: x, interval: 1m}\n  - {name: x, interval: 2m}\n"
    )
    with pytest.raises(ConfigError, match="heartbeat names must differ: x"):
        parse_config(text)
