"""Post-incident duties without a clock: the deadlines a severity carries (``duties:`` in
``tocsin.yaml``, defaults like the seed runbooks'), when each falls due and when its owner
is reminded, and the configuration that refuses what nothing reads."""

from __future__ import annotations

from textwrap import dedent

import pytest

from tocsin.config import ConfigError, parse_config
from tocsin.config.duties import DutiesConfig, Duty, SeverityDuties

T = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a resolution
H = 3600.0

BASE = dedent(
    """
    route: {receiver: default}
    receivers: [{name: default}]
    """
)


def test_the_seed_defaults_a_critical_incident_carries() -> None:
    # seed 001: an incident report within 24 h and a post-mortem meeting for critical
    # incidents; seed 004: a postmortem within 48 h
    plan = DutiesConfig().plan("critical", T)
    assert plan == [
        Duty("report", "Write the incident report", T + 24 * H, T + 22 * H),
        Duty("postmortem", "Complete the postmortem", T + 48 * H, T + 46 * H),
        Duty("meeting", "Hold the post-mortem meeting", T + 7 * 24 * H, T + 166 * H),
    ]
    assert DutiesConfig().plan("Critical", T) == plan  # a level's name, any case
    assert DutiesConfig().plan("warning", T) == []  # a level not named has none
    assert DutiesConfig().plan(None, T) == []


def test_a_teams_own_deadlines_and_reminders() -> None:
    duties = DutiesConfig(
        severities={"warning": SeverityDuties(postmortem="5d", report="1h")},
        remind_before="3h",
    )
    assert duties.plan("critical", T) == []  # named levels replace the defaults
    assert duties.plan("warning", T) == [
        # due in an hour: the reminder cannot come before the resolution
        Duty("report", "Write the incident report", T + H, T),
        Duty("postmortem", "Complete the postmortem", T + 120 * H, T + 117 * H),
    ]
    assert DutiesConfig(severities={}).plan("critical", T) == []


def test_the_duties_section_in_tocsin_yaml() -> None:
    config = parse_config(
        BASE + "duties:\n  severities:\n    critical: {report: 12h}\n  remind_before: 30m\n"
    )
    assert config.model.duties.plan("critical", T) == [
        Duty("report", "Write the incident report", T + 12 * H, T + 11.5 * H)
    ]
    assert parse_config(BASE).model.duties.plan("critical", T)[0].due_at == T + 24 * H


@pytest.mark.parametrize(
    ("section", "wrong"),
    [
        ("duties:\n  severities:\n    critical: {review: 24h}\n", "review"),
        ("duties:\n  severities:\n    critical: {report: soon}\n", "report"),
        ("duties:\n  remind: 2h\n", "remind"),
    ],
)
def test_what_nothing_reads_is_refused(section: str, wrong: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(BASE + section)
    assert wrong in str(raised.value)
