"""``tocsin routes test`` shows what tocsin would do with an alert (issue 17, item 16): the
routes, their receivers and channels, the escalation policy and who each step would page,
resolved against the schedules; ``-q`` keeps amtool's line for scripts. With seed 000, the
note when an alert's own escalation path in the runbook is not used (item 18)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from textwrap import dedent

from typer.testing import CliRunner

from tocsin.cli import app

runner = CliRunner()

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 30s
  channels: [team]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      group_wait: 0s
      escalation_policy: page
      continue: true
    - matchers: ['service="db"']
      receiver: database
receivers: [{name: default}, {name: pager}, {name: database}]
channels:
  - {name: team, type: console}
  - {name: mail, type: console}
  - {name: sms, type: console}
users:
  - {name: ana, contact: [mail, sms]}
  - {name: ben, contact: [mail]}
rotations:
  - {name: week, type: weekly, start: "2026-01-05T00:00:00", participants: [ana]}
  - {name: later, type: weekly, start: "2100-01-04T00:00:00", participants: [ana]}
schedules:
  - {name: primary, layers: [{rotation: week}]}
  - {name: empty, layers: [{rotation: later}]}
escalation_policies:
  - name: page
    steps:
      - {targets: ["schedule:primary"], delay: 5m}
      - {targets: ["user:ben", "channel:team"], delay: 10m}
      - {targets: ["user:ben"], delay: 1m, matchers: ['service="web"']}
severities:
  levels: [{name: critical, ack_deadline: 5m}, {name: warning}]
"""


def write(tmp_path: Path) -> Path:
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG)
    return path


def routes_test(*args: str) -> list[str]:
    done = runner.invoke(app, ["routes", "test", *args])
    assert done.exit_code == 0, done.output
    return done.output.splitlines()


def test_it_shows_routes_receivers_channels_policy_and_who_is_paged(tmp_path: Path) -> None:
    config = str(write(tmp_path))
    lines = routes_test("--config", config, "alertname=DiskFull", "severity=critical", "service=db")
    assert lines[0].startswith(
        'alert {alertname="DiskFull", service="db", severity="critical"}, at '
    )
    assert lines[1:] == [
        "severity critical: to be acknowledged within 5m",
        "",
        'route 1 of 2: {}/{severity="critical"} -> receiver pager (continue: the next routes are'
        " tried too)",
        "  channels: team (first message now, then as it changes)",
        "  escalation policy page, until acknowledged:",
        "    step 1, now: schedule:primary -> ana by mail, sms",
        "    step 2, after 5m: user:ben, channel:team -> ben by mail; channel team",
        "",
        'route 2 of 2: {}/{service="db"} -> receiver database',
        "  channels: team (first message after 30s, then as it changes)",
        "  escalation policy: none (nobody is paged; the channels are told)",
        "",
        "on call: the schedules as configured; overrides are not read here (tocsin oncall)",
    ]
    quiet = routes_test(
        "-q", "--config", config, "alertname=DiskFull", "severity=critical", "service=db"
    )
    assert quiet == ["pager,database"]  # amtool's line, for scripts
    plan = json.loads(
        "\n".join(routes_test("--format", "json", "--config", config, "severity=critical"))
    )
    [route] = plan["routes"]
    assert [s["paged"] for s in route["steps"]] == [
        [{"who": "ana", "channels": ["mail", "sms"]}],
        [{"who": "ben", "channels": ["mail"]}, {"who": "channel team", "channels": []}],
    ]


def test_a_schedule_with_nobody_on_call_is_shown_as_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(CONFIG.replace('targets: ["schedule:primary"]', 'targets: ["schedule:empty"]'))
    lines = routes_test("--config", str(path), "severity=critical", "service=web")
    steps = [line for line in lines if line.startswith(("    step", "      problem"))]
    assert steps == [
        "    step 1, now: schedule:empty -> NOBODY",
        "      problem: schedule:empty: nobody is on call in schedule 'empty'",
        "    step 2, after 5m: user:ben, channel:team -> ben by mail; channel team",
        "    step 3, after 15m: user:ben -> ben by mail",  # its matcher holds for service=web
    ]


def test_it_names_an_alerts_own_runbook_path_left_unused(tmp_path: Path, seeds_dir: Path) -> None:
    shutil.copy(seeds_dir / "000_4392ebbad4033ec5.txt", tmp_path / "seed.md")
    config = tmp_path / "tocsin.yaml"
    config.write_text(
        dedent(
            """
            route: {receiver: default, escalation_policy: runbook}
            receivers: [{name: default}]
            channels: [{name: mail, type: console}]
            users: [{name: ana, contact: [mail]}]
            escalation_policies:
              - name: runbook
                from_runbook:
                  runbook: seed.md
                  roles:
                    Primary on-call: user:ana
                    Senior on-call: user:ana
                    Team leads: user:ana
                    Incident commander: user:ana
                    CTO/VP Engineering: user:ana
            """
        )
    )
    lines = routes_test("--config", str(config), "alertname=DatabaseDown")
    [note] = [line for line in lines if line.startswith("  note: ")]
    assert "DatabaseDown's own escalation path in the runbook" in note
    assert "5 min DBA" in note and "is not used, the matrix is" in note
    assert not any("note" in line for line in routes_test("--config", str(config), "alertname=X"))
