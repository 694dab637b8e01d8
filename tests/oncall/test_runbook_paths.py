"""A runbook's escalation in the configuration (issue 17, item 18), with seed 000: an alert's
own escalation path ("5-10 min: Engage DBA" under DatabaseDown) is used for that alert once
its roles are mapped, and the configuration says when it is not; a runbook without a severity
table is refused with the alternatives named."""

from __future__ import annotations

import shutil
from pathlib import Path
from textwrap import dedent

import pytest

from tocsin.config import ConfigError, load_config
from tocsin.oncall.escalation import Policy, advance, from_tiers, start

SEED = "000_4392ebbad4033ec5.txt"
MATRIX_ROLES = """
        Primary on-call: schedule:primary
        Senior on-call: user:sam
        Team leads: user:lee
        Incident commander: user:ivy
        CTO/VP Engineering: user:cto
"""
DATABASE_DOWN_ROLES = """
        On-call engineer: schedule:primary
        DBA: user:dba
        Initiate DR procedure: none
        platform lead: user:lee
"""
CONFIG = """
route: {{receiver: default, escalation_policy: runbook}}
receivers: [{{name: default}}]
runbooks: [seed.md]
channels: [{{name: mail, type: console}}]
users:
  - {{name: ana, contact: [mail]}}
  - {{name: sam, contact: [mail]}}
  - {{name: lee, contact: [mail]}}
  - {{name: ivy, contact: [mail]}}
  - {{name: cto, contact: [mail]}}
  - {{name: dba, contact: [mail]}}
rotations:
  - {{name: week, type: weekly, start: "2026-01-05T00:00:00", participants: [ana]}}
schedules:
  - {{name: primary, layers: [{{rotation: week}}]}}
escalation_policies:
  - name: runbook
    from_runbook:
      runbook: seed.md
      last_delay: 30m
      roles:{roles}
{extra}"""


def write(tmp_path: Path, seeds_dir: Path, roles: str, extra: str = "") -> Path:
    shutil.copy(seeds_dir / SEED, tmp_path / "seed.md")
    path = tmp_path / "tocsin.yaml"
    path.write_text(dedent(CONFIG).format(roles=roles, extra=extra))
    return path


def walk(policy: Policy, labels: dict[str, str]) -> list[tuple[float, list[str]]]:
    """(minute fired, targets) of every step, acknowledged by nobody, for an incident with
    these labels."""
    policy = policy.for_labels(labels)
    fired = []
    state, page = start(policy, labels, 0.0)
    at = 0.0
    while page is not None:
        fired.append((at / 60, [str(t) for t in page.targets]))
        assert state.next_at is not None
        at = state.next_at
        state, page = advance(policy, state, labels, at)
    return fired


def test_an_alerts_own_path_unmapped_is_named_as_not_used(tmp_path: Path, seeds_dir: Path) -> None:
    policy = load_config(write(tmp_path, seeds_dir, MATRIX_ROLES)).paging.policies["runbook"]
    database_down = [n for n in policy.notes if "DatabaseDown's own escalation path" in n]
    assert len(database_down) == 1
    assert "5 min DBA" in database_down[0]
    assert "no target for 'On-call engineer', 'DBA', 'Initiate DR procedure'" in database_down[0]
    assert any("APIUnresponsive's own escalation path" in n for n in policy.notes)
    # meanwhile every alert escalates by the matrix
    assert walk(policy, {"alertname": "DatabaseDown"}) == [
        (0, ["schedule:primary"]),
        (5, ["user:sam"]),
        (15, ["user:lee"]),
        (30, ["user:ivy"]),
        (60, ["user:cto"]),
    ]


def test_an_alerts_own_path_mapped_is_used_for_that_alert_only(
    tmp_path: Path, seeds_dir: Path
) -> None:
    config = load_config(write(tmp_path, seeds_dir, MATRIX_ROLES + DATABASE_DOWN_ROLES))
    policy = config.paging.policies["runbook"]
    assert not any("DatabaseDown" in n for n in policy.notes)
    # 0-5 min on-call engineer, 5-10 DBA, 10-20 DR (pages nobody), 20+ platform lead
    assert walk(policy, {"alertname": "DatabaseDown", "severity": "critical"}) == [
        (0, ["schedule:primary"]),
        (5, ["user:dba"]),
        (20, ["user:lee"]),
    ]
    assert walk(policy, {"alertname": "SlowQueries"})[1] == (5, ["user:sam"])  # the matrix
    assert walk(policy, {})[1] == (5, ["user:sam"])  # a group of several alert names


def test_a_path_that_starts_later_follows_the_matrix_until_then() -> None:
    # examples/runbooks/pebble-api.md's PebbleAPIDown: "10 min: the lead, 30 min: the IC"
    policy = from_tiers(
        "p",
        [(0, "primary"), (300, "secondary"), (1200, "lead"), (2700, "ic")],
        {"primary": "user:a", "secondary": "user:b", "lead": "user:c", "ic": "user:d"},
        last_delay_s=600,
        alerts={"Own": [(600, "lead"), (1800, "ic")], "Empty": []},
    )
    assert walk(policy, {"alertname": "Own"}) == [
        (0, ["user:a"]),
        (5, ["user:b"]),
        (10, ["user:c"]),
        (30, ["user:d"]),
    ]
    assert walk(policy, {"alertname": "Empty"})[2:] == [(20, ["user:c"]), (45, ["user:d"])]
    assert policy.notes == ()


def test_a_runbook_without_a_severity_table_names_the_alternatives(
    tmp_path: Path, seeds_dir: Path
) -> None:
    path = write(tmp_path, seeds_dir, MATRIX_ROLES, "severities: {from_runbook: seed.md}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    [problem] = [str(p) for p in raised.value.problems if "severity table" in str(p)]
    assert "seed.md has no severity table" in problem
    assert "severities.levels" in problem
    assert "{name: critical, ack_deadline: 5m}, {name: warning, ack_deadline: 1h}" in problem
    assert "defaults (critical 5m, high 15m, warning 1h, info none)" in problem
    assert "its alerts use critical, warning" in problem
