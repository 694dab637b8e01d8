"""``tocsin simulate``: the example scenarios replayed on the virtual clock and checked against
times worked out by hand from the configuration, what each person and channel receives, the
JSON line schema, the table, and the errors of bad scenarios."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from typer.testing import CliRunner

from tocsin import simulate as sim
from tocsin.cli import app
from tocsin.config import Config, load_config
from tocsin.times import format_duration

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCENARIOS = EXAMPLES / "scenarios"
runner = CliRunner()

# The kinds a timeline line can have: the pipeline's and the simulation's own.
KINDS = {
    "opened",
    "group_flushed",
    "triggered",
    "escalated",
    "escalation_exhausted",
    "deadline_missed",
    "acknowledged",
    "ack_expired",
    "notified",
    "notify_failed",
    "resolved",
    *sim.EXTRA_KINDS,
}


@pytest.fixture(scope="module")
def example_config() -> Config:
    return load_config(EXAMPLES / "tocsin.yaml")


_results: dict[str, sim.Result] = {}


def example(name: str, config: Config | None = None) -> sim.Result:
    """An example scenario's result, run once for the module."""
    if name not in _results:
        scenario = sim.load_scenario(SCENARIOS / name)
        config = config or sim.scenario_config(scenario)
        _results[name] = sim.run(scenario, config)
    return _results[name]


def pages(result: sim.Result) -> list[tuple[float, str, str | None, int | None]]:
    """The pages of escalation steps delivered (the first one's kind is ``firing``, a later
    step's ``escalation``; both name their step): (offset, channel, person, step)."""
    return [
        (
            s.at - result.scenario.start,
            s.channel,
            (s.message.recipient or {}).get("name"),
            s.message.escalation_step,
        )
        for s in result.sent
        if s.ok and s.message.escalation_step is not None
    ]


def lines(result: sim.Result, *kinds: str) -> list[tuple[float, str, str | None]]:
    """(offset, kind, who) of the entries of these kinds; who: the recipient, else target."""
    return [
        (e.offset_s, e.kind, e.detail.get("recipient") or e.target)
        for e in result.entries
        if e.kind in kinds
    ]


# --------------------------------------------------------------------------- the examples


def test_nobody_acknowledges_runs_through_every_step(example_config: Config) -> None:
    # runbooks/pebble-api.md: the matrix's tiers at 0 and 5 minutes, then PebbleAPIDown's own
    # path (issue 17, item 18): the lead after 10 minutes, the commander after 30 (the
    # matrix alone: 20 and 45); last step 30m, one repeat. P1 critical must be acknowledged
    # within 5 minutes. Friday 09:00 Berlin: week 10 since the rotations started
    # (2026-11-02), so bob is primary (10 % 3 = 1) and chen secondary.
    result = example("nobody-acknowledges.yaml", example_config)
    [incident] = result.incidents
    assert lines(result, "escalated", "deadline_missed", "escalation_exhausted") == [
        (0, "escalated", "schedule:pebble-primary"),
        (300, "escalated", "schedule:pebble-secondary"),  # step 1's 5 minutes are up
        (300, "deadline_missed", None),  # the 5-minute deadline, as step 2 fires: no extra
        (600, "escalated", "user:dana"),  # the alert's own 10 minutes
        (1800, "escalated", "user:erin"),  # and 30 minutes
        (3600, "escalated", "schedule:pebble-primary"),  # step 4 waits 30m; round 2
        (3900, "escalated", "schedule:pebble-secondary"),
        (4200, "escalated", "user:dana"),
        (5400, "escalated", "user:erin"),
        (7200, "escalation_exhausted", None),
    ]
    assert pages(result) == [
        (0, "page-console", "bob", 1),
        (300, "page-console", "chen", 2),
        (600, "page-console", "dana", 3),
        (1800, "page-console", "erin", 4),
        (3600, "page-console", "bob", 1),
        (3900, "page-console", "chen", 2),
        (4200, "page-console", "dana", 3),
        (5400, "page-console", "erin", 4),
    ]
    assert incident.status == "triggered" and incident.policy == "pebble"
    assert incident.ack_s is None and incident.resolve_s is None
    # eight steps fired: the first page and seven escalations (incidents.figures)
    assert (incident.pages, incident.escalations, incident.deadlines_missed) == (8, 7, 1)
    assert result.warnings == []


def test_acknowledged_after_three_minutes_resolved_at_twenty(example_config: Config) -> None:
    result = example("acknowledged-then-resolved.yaml", example_config)
    assert [(e.offset_s, e.kind) for e in result.entries] == [
        (0, "alert_fired"),
        (0, "opened"),
        (0, "triggered"),
        (0, "escalated"),
        (0, "group_flushed"),  # after the trigger: it says whether the channels were told
        (0, "notified"),
        (0, "notified"),
        (180, "acknowledged"),
        (180, "notified"),
        (180, "notified"),  # bob, paged, hears of it on the channel that paged him
        (1200, "alert_resolved"),
        (1200, "group_flushed"),  # the flush due every minute (group_interval 1m)
        (1200, "resolved"),
        (1200, "notified"),
        (1200, "notified"),
    ]
    # what reached people and channels
    assert [(s.at - result.scenario.start, s.channel, s.message.kind) for s in result.sent] == [
        (0, "page-console", "firing"),  # the first page reads as a new page
        (0, "team-console", "firing"),
        (180, "team-console", "acknowledged"),
        (180, "page-console", "acknowledged"),
        (1200, "team-console", "resolved"),
        (1200, "page-console", "resolved"),
    ]
    [incident] = result.incidents
    assert incident.ack_s == 180 and incident.acknowledged_by == "bob"
    assert incident.resolve_s == 1200 and incident.status == "resolved"
    assert (incident.pages, incident.escalations, incident.deadlines_missed) == (1, 0, 0)
    fired = result.entries[0]
    assert fired.incident == 1 and fired.detail["labels"]["service"] == "pebble-api"


def test_failing_channels_retry_dead_letter_and_fallback() -> None:
    # no seed: each retry waits its full backoff, 10s then 20s
    result = example("failing-channels.yaml")
    attempts = [(s.at - result.scenario.start, s.channel, s.ok, s.status) for s in result.sent]
    assert attempts[:7] == [
        (0, "pagerduty", False, 500),
        (0, "slack-oncall", False, 503),
        (10, "pagerduty", False, 500),
        (10, "slack-oncall", False, 503),
        (30, "pagerduty", False, 500),  # the third and last attempt
        (30, "slack-oncall", True, 200),  # Slack failed twice, then recovers
        (30, "email", True, 200),  # the dead letter's fallback
    ]
    assert lines(result, "attempt_failed", "notify_failed", "notified")[:7] == [
        (0, "attempt_failed", "alice"),
        (0, "attempt_failed", "channel:slack-oncall"),
        (10, "attempt_failed", "alice"),
        (10, "attempt_failed", "channel:slack-oncall"),
        (30, "notify_failed", "alice"),
        (30, "notified", "channel:slack-oncall"),
        (30, "notified", "alice"),
    ]
    dead = next(e for e in result.entries if e.kind == "notify_failed")
    assert dead.channel == "pagerduty" and dead.detail["dead_letter"] is True
    assert dead.detail["attempts"] == 3 and dead.detail["fallback"] == "email"
    fallback = [e for e in result.entries if e.kind == "notified" and e.channel == "email"]
    assert fallback[0].detail["fallback_of"] == dead.detail["notification"]
    slack = next(e for e in result.entries if e.kind == "notified" and e.channel == "slack-oncall")
    assert slack.detail["attempt"] == 3
    assert pages(result) == [(30, "email", "alice", 1)]
    [incident] = result.incidents
    assert incident.dead_letters == 1 and incident.ack_s == 120 and incident.resolve_s == 480


def test_weekend_override_pages_the_stand_in(example_config: Config) -> None:
    result = example("weekend-override.yaml", example_config)
    assert pages(result) == [
        (1800, "page-console", "alice", 1),  # alice, standing in for bob
        (1920, "page-console", "chen", 2),  # alice escalated by hand
        (2410, "team-console", None, 1),  # the warning's policy: its channel target
    ]
    by_hand = [e for e in result.entries if e.kind == "escalated" and e.detail.get("by")]
    assert [(e.offset_s, e.detail["by"], e.detail["reason"]) for e in by_hand] == [
        (1920, "alice", "escalated by hand")
    ]
    first, warning = result.incidents
    assert first.ack_s == 240 and first.acknowledged_by == "chen" and first.resolve_s == 1200
    # the warning: group_wait 10s, the business-hours policy, nobody on call on a Saturday
    assert warning.policy == "business-hours" and warning.triggered_s == 2410
    assert lines(result, "notify_failed", "escalation_exhausted") == [
        (2410, "notify_failed", None),
        (2410 + 1800, "escalation_exhausted", None),
    ]
    assert [(s.channel, s.message.kind) for s in result.sent if s.message.incident_id == 2] == [
        ("team-console", "firing"),  # the step's channel target still gets the page
        ("team-console", "firing"),
    ]
    assert result.warnings == [
        "incident #2: schedule:pebble-business-hours: nobody is on call in schedule "
        "'pebble-business-hours'"
    ]
    override = result.entries[0]
    assert override.kind == "override" and override.target == "schedule:pebble-primary"
    assert override.detail["start"] == "2027-01-16T08:00:00Z"


def test_an_alert_that_matches_no_escalation_policy(tmp_path: Path) -> None:
    path = tmp_path / "unrouted.yaml"
    path.write_text(
        dedent(
            f"""
            config: {EXAMPLES / "tocsin.yaml"}
            start: 2027-01-15T08:00:00Z
            until: 20m
            events:
              - at: 0s
                fire: {{alertname: BackupStale, service: backups, severity: warning}}
            """
        )
    )
    result = sim.simulate_file(path)
    [incident] = result.incidents
    assert incident.policy is None and incident.triggered_s == 10  # the root's group_wait
    assert "escalated" not in result.kinds() and pages(result) == []
    assert [(s.channel, s.message.kind) for s in result.sent] == [("team-console", "firing")]
    triggered = next(e for e in result.entries if e.kind == "triggered")
    assert triggered.detail["policy"] is None
    assert result.warnings == [
        "incident #1 (BackupStale service=backups) matched no escalation policy: nobody was paged"
    ]


# --------------------------------------------------------------------------- timing rules

PAGING = """
start: 2027-01-15T08:00:00Z   # a Friday: alice's day in the daily rotation
until: {until}
{extra}
events:
{events}
config_inline:
  global: {{resolve_timeout: 5m}}
  route:
    receiver: default
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1m
    escalation_policy: default
    channels: [team]
  receivers: [{{name: default}}]
  channels:
    - name: team
      type: webhook
      url: https://hooks.example.com/team
      retry: {{max_attempts: 3, initial_backoff: 10s, max_backoff: 1m}}
      fallback: backup
    - name: pager
      type: webhook
      url: https://hooks.example.com/pager
      retry: {{max_attempts: 3, initial_backoff: 10s, max_backoff: 1m}}
      fallback: backup
    - {{name: backup, type: webhook, url: "https://hooks.example.com/backup"}}
  users:
    - {{name: alice, contact: [pager]}}
    - {{name: bob, contact: [pager]}}
    - {{name: carol, contact: [pager]}}
  rotations:
    - {{name: daily, type: daily, start: "2027-01-15T00:00", participants: [alice, bob]}}
  schedules:
    - {{name: primary, layers: [{{rotation: daily}}]}}
  severities:
    levels:
      - {{name: critical, ack_deadline: 3m}}
      - {{name: warning, ack_deadline: 30m}}
  escalation_policies:
    - name: default
      ack_timeout: 1h
      steps:
        - {{targets: ["schedule:primary"], delay: 5m}}
        - {{targets: ["user:carol"], delay: 10m}}
"""
FIRE = "  - {at: 0s, fire: {alertname: DatabaseDown, severity: critical, service: pebble-db}}"


def paging(tmp_path: Path, events: str, until: str = "30m", extra: str = "") -> sim.Result:
    path = tmp_path / "paging.yaml"
    path.write_text(PAGING.format(until=until, extra=extra, events=events))
    return sim.simulate_file(path)


def test_a_missed_deadline_escalates_at_once_and_a_404_is_not_retried(tmp_path: Path) -> None:
    # 5m/10m policy, 3m deadline: escalated at +0s, deadline missed at +3m and escalated
    # then (not at +5m), the last step's 10 minutes end at +13m
    result = paging(tmp_path, FIRE, extra="channels: {team: {fail: 1, status: 404}}")
    assert lines(result, "escalated", "deadline_missed", "escalation_exhausted") == [
        (0, "escalated", "schedule:primary"),
        (180, "deadline_missed", None),
        (180, "escalated", "user:carol"),
        (780, "escalation_exhausted", None),
    ]
    assert pages(result) == [(0, "pager", "alice", 1), (180, "pager", "carol", 2)]
    # a 404 is permanent: one attempt, dead letter and fallback at once
    dead = next(e for e in result.entries if e.kind == "notify_failed")
    assert (dead.offset_s, dead.channel, dead.detail["attempts"]) == (0, "team", 1)
    assert [(s.at - result.scenario.start, s.channel, s.ok) for s in result.sent][:3] == [
        (0, "pager", True),
        (0, "team", False),
        (0, "backup", True),
    ]
    assert "attempt_failed" not in result.kinds()


def test_an_ack_at_the_deadline_is_in_time_and_its_timeout_triggers_again(
    tmp_path: Path,
) -> None:
    events = FIRE + "\n  - {at: 3m, ack: {incident: 1, by: alice}}"
    result = paging(tmp_path, events, until="1h10m")
    # events come before the engine's work at the same instant: no deadline_missed
    assert lines(result, "escalated", "deadline_missed", "acknowledged", "ack_expired") == [
        (0, "escalated", "schedule:primary"),
        (180, "acknowledged", None),
        (3780, "ack_expired", None),  # ack_timeout 1h: triggers again, from the first step
        (3780, "escalated", "schedule:primary"),
        (4080, "escalated", "user:carol"),
    ]
    [incident] = result.incidents
    assert incident.ack_s == 180 and incident.deadlines_missed == 0
    assert pages(result) == [
        (0, "pager", "alice", 1),
        (3780, "pager", "alice", 1),
        (4080, "pager", "carol", 2),
    ]


def test_a_seed_jitters_retries_reproducibly(tmp_path: Path) -> None:
    result = paging(tmp_path, FIRE, until="2m", extra="seed: 7\nchannels: {pager: {fail: 2}}")
    draws = random.Random(7)
    first = 10 * (0.5 + draws.random() / 2)  # backoff 10s, jittered to [5, 10)
    second = first + 20 * (0.5 + draws.random() / 2)  # then 20s, jittered to [10, 20)
    tries = [s.at - result.scenario.start for s in result.sent if s.channel == "pager"]
    assert tries == pytest.approx([0, first, second])
    assert 5 <= first < 10


def test_actions_the_pipeline_refuses_are_shown(tmp_path: Path) -> None:
    events = "\n".join(
        [
            FIRE,
            "  - {at: 1m, ack: {incident: 1, by: alice}}",
            "  - {at: 2m, escalate: {incident: 1, by: alice}}",
            "  - {at: 3m, resolve_incident: {incident: 1, by: bob}}",
            "  - {at: 4m, ack: {incident: 1}}",
            "  - {at: 5m, ack: {incident: 7}}",
            "  - {at: 6m, ack: {alertname: DatabaseDown}}",
        ]
    )
    result = paging(tmp_path, events)
    refused = [e for e in result.entries if e.kind == "action_refused"]
    assert [(e.offset_s, e.detail["event"], e.detail["reason"]) for e in refused] == [
        (120, 2, "the incident is acknowledged; only a triggered incident escalates"),
        (240, 4, "the incident is resolved"),
        (300, 5, "no incident 7"),
        (360, 6, "no open incident holds a firing alert named 'DatabaseDown'"),
    ]
    assert len(result.warnings) == 4 and "events[2] escalate refused" in result.warnings[0]
    [incident] = result.incidents
    assert incident.status == "resolved" and incident.resolve_s == 180


def test_work_that_fails_is_retried_after_its_lease_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tocsin.engine import deadline as stage
    from tocsin.engine.loop import LEASE_S
    from tocsin.engine.stage import Settings

    deadline = stage.missed
    tries: list[float] = []

    def flaky(self: Settings, conn: Any, incident_id: int, now: float) -> None:
        tries.append(now)
        if len(tries) == 1 or now == tries[0]:  # every try at the first instant fails
            raise RuntimeError("boom")
        deadline(self, conn, incident_id, now)

    monkeypatch.setattr(stage, "missed", flaky)
    result = paging(tmp_path, FIRE, until="10m")
    # the failed tries roll back; the item is claimed again when its lease lapses
    again = 180 + LEASE_S + 0.001
    offsets = [t - result.scenario.start for t in tries]
    assert set(offsets[:-1]) == {180} and offsets[-1] == pytest.approx(again)
    [missed] = lines(result, "deadline_missed")
    assert missed[0] == pytest.approx(again)
    assert any("boom" in w for w in result.warnings), result.warnings


def test_a_runaway_is_stopped(tmp_path: Path) -> None:
    path = tmp_path / "paging.yaml"
    path.write_text(PAGING.format(until="1h", extra="", events=FIRE))
    scenario = sim.load_scenario(path)
    with pytest.raises(sim.SimulationError, match="more than 5 engine passes"):
        sim.run(scenario, sim.scenario_config(scenario), max_steps=5, skip_idle=False)


# --------------------------------------------------------------------------- the command


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["simulate", *args])
    return result.exit_code, result.output


def test_json_lines() -> None:
    code, output = cli(str(SCENARIOS / "acknowledged-then-resolved.yaml"), "--format", "json")
    assert code == 0
    records: list[dict[str, Any]] = [json.loads(line) for line in output.splitlines()]
    assert len(records) == 15  # with bob told of the acknowledgement and the resolution
    start = datetime.fromisoformat("2027-01-15T08:00:00+00:00")
    for r in records:
        assert list(r) == ["at", "offset_s", "kind", "incident", "target", "channel", "detail"]
        at = datetime.fromisoformat(r["at"].replace("Z", "+00:00"))
        assert r["at"].endswith("Z") and (at - start).total_seconds() == r["offset_s"]
        assert r["kind"] in KINDS and isinstance(r["detail"], dict)
        assert r["incident"] is None or isinstance(r["incident"], int)
        assert r["target"] is None or isinstance(r["target"], str)
        assert r["channel"] is None or isinstance(r["channel"], str)
    assert [r["offset_s"] for r in records] == sorted(r["offset_s"] for r in records)
    page = next(r for r in records if r["kind"] == "notified")
    assert page["target"] == "schedule:pebble-primary" and page["channel"] == "page-console"
    assert page["detail"]["recipient"] == "bob" and page["detail"]["kind"] == "firing"
    assert page["detail"]["attempt"] == 1
    assert page["detail"]["runbook_url"].endswith("pebble-api.md#pebbleapidown")
    fired = records[0]
    assert fired["kind"] == "alert_fired" and fired["incident"] == 1
    assert fired["detail"]["labels"]["alertname"] == "PebbleAPIDown"
    escalated = next(r for r in records if r["kind"] == "escalated")
    assert escalated["target"] == "schedule:pebble-primary" and escalated["detail"]["step"] == 1


def test_table_and_summary() -> None:
    code, output = cli(str(SCENARIOS / "acknowledged-then-resolved.yaml"))
    assert code == 0
    assert max(len(line) for line in output.splitlines()) <= 120
    assert "+20m00s" in output and "alert_fired" in output and "page-console" in output
    assert "acknowledged after 3m00s by bob, resolved after 20m00s" in output
    assert "1 page, 0 escalations, 0 deadlines missed, 0 dead letters" in output


def test_a_narrow_table_keeps_its_columns() -> None:
    from rich.console import Console

    result = example("weekend-override.yaml")
    for width in (80, 100, 120):
        console = Console(width=width, record=True)
        for part in sim.report(result, width):
            console.print(part)
        text = console.export_text()
        assert max(len(line) for line in text.splitlines()) <= width
        assert "nobody is on call" in text and "+1h10m10s" in text


def test_bad_scenarios_exit_2_with_the_event_index(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        dedent(
            """\
            config: ../tocsin.yaml
            start: 2027-01-15T08:00:00Z
            events:
              - at: 0s
                fire: {alertname: A}
              - at: soon
                ack: {incident: 1}
              - at: 1m
                ack: {incident: 1, alertname: A}
              - at: 2m
                page: {user: alice}
            channels: {slack: {fail: sometimes}}
            """
        )
    )
    code, output = cli(str(path))
    assert code == 2
    # each problem at the value it is about, in the order of the file
    assert output.splitlines() == [
        f"{path}:6:9: events[1].at: 'soon' is neither a duration (90s, 5m, 1h30m) nor an "
        "ISO 8601 time",
        f"{path}:9:10: events[2].ack: give either incident (its number) or alertname",
        f"{path}:11:11: events[3].page: Extra inputs are not permitted",
        f"{path}:12:26: channels.slack.fail: 'sometimes': give how many attempts fail "
        "(0, 1, 2…) or `always`",
    ]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            "  - {at: 1m, resolve: {alertname: Nope}}",
            "events[1].resolve: no alert with these labels is firing at that time",
        ),
        ("  - {at: 2027-01-15T07:00:00Z, ack: {incident: 1}}", "events[1].at: before start"),
        ("  - {at: 2h, ack: {incident: 1}}", "until: before the last event (events[1])"),
        (
            "  - {at: 0s, override: {schedule: primary, user: zed, end: 1h}}",
            "events[1].override.user: the configuration has no user 'zed'",
        ),
    ],
)
def test_scenario_errors(tmp_path: Path, events: str, message: str) -> None:
    path = tmp_path / "paging.yaml"
    path.write_text(PAGING.format(until="1h", extra="", events=FIRE + "\n" + events))
    code, output = cli(str(path))
    assert code == 2 and message in output, output


def test_unknown_failing_channel_and_bad_format(tmp_path: Path) -> None:
    path = tmp_path / "paging.yaml"
    path.write_text(PAGING.format(until="1h", extra="channels: {sms: {fail: 1}}", events=FIRE))
    code, output = cli(str(path))
    assert code == 2 and "channels.sms: the configuration has no channel 'sms'" in output
    code, output = cli(str(path), "--format", "xml")
    assert code == 2 and "unknown format" in output


def test_a_bad_configuration_exits_1_pointing_into_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "inline.yaml"
    path.write_text(
        dedent(
            """\
            start: 2027-01-15T08:00:00Z
            config_inline:
              route:
                receiver: nobody
              receivers: [{name: default}]
            """
        )
    )
    code, output = cli(str(path))
    assert code == 1
    assert f"{path}:4:15: route.receiver: undefined receiver 'nobody' used in route" in output
    code, output = cli(str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot read" in output


def test_idle_flushes_are_skipped_and_change_nothing(example_config: Config) -> None:
    # two and a half hours of escalation: a flush beat every minute (group_interval 1m),
    # of which only the first after the alert fired has anything to say
    scenario = sim.load_scenario(SCENARIOS / "nobody-acknowledges.yaml")
    stepped = sim.run(scenario, example_config, skip_idle=False)
    skipped = example("nobody-acknowledges.yaml", example_config)
    assert skipped.entries == stepped.entries and skipped.sent == stepped.sent
    # every pass avoided was an idle flush (some idle flushes fell on a pass run anyway)
    assert skipped.steps + skipped.skipped >= stepped.steps
    assert stepped.skipped == 0 and stepped.steps >= 165  # 2h45m of 1-minute flushes
    assert skipped.skipped >= 150 and skipped.steps <= 15


def test_a_month_takes_a_few_hundred_passes(tmp_path: Path) -> None:
    # 30 days of a firing alert: the flushes that repeat it every repeat_interval (4h) run,
    # the 43,000 idle ones between are passed over
    text = (SCENARIOS / "nobody-acknowledges.yaml").read_text()
    path = tmp_path / "month.yaml"
    path.write_text(
        text.replace("until: 2h45m", "until: 30d").replace(
            "config: ../tocsin.yaml", f"config: {EXAMPLES / 'tocsin.yaml'}"
        )
    )
    result = sim.simulate_file(path)
    repeats = [e for e in result.entries if e.kind == "group_flushed"]
    assert len(repeats) == 30 * 24 // 4 + 1  # the first flush, then one every 4h
    assert result.steps + result.skipped >= 30 * 24 * 60
    assert result.steps <= 3 * len(repeats) + 20


@pytest.mark.parametrize(
    ("until", "problem"),
    [
        ("91d", "until: more than 90d after start (the longest simulation)"),
        ("500000w", "until: more than 90d after start"),
        ("9999-12-31T23:59:59Z", "until: more than 90d after start"),
    ],
)
def test_a_far_until_is_refused_without_a_traceback(
    tmp_path: Path, until: str, problem: str
) -> None:
    path = tmp_path / "far.yaml"
    path.write_text(PAGING.format(until=until, extra="", events=FIRE))
    code, output = cli(str(path))
    assert code == 2 and problem in output and "Traceback" not in output


def test_far_events_and_starts_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "far.yaml"
    events = FIRE + "\n  - {at: 100d, ack: {incident: 1}}"
    path.write_text(PAGING.format(until="1h", extra="", events=events))
    code, output = cli(str(path))
    assert code == 2 and "events[1].at: more than 90d after start" in output
    late = PAGING.format(until="1h", extra="", events=FIRE)
    late = late.replace("2027-01-15T08", "9999-01-15T08")
    path.write_text(late)
    code, output = cli(str(path))
    assert code == 2 and "start: must be from the year 1000 to before the year 9000" in output
    for ancient in ("0001-01-01T00:00:00+14:00", "0001-01-01T10:00:00Z"):
        path.write_text(late.replace("9999-01-15T08:00:00Z", ancient))
        code, output = cli(str(path))
        assert code == 2 and "start: must be from the year 1000" in output, output


def test_spans() -> None:
    assert [format_duration(s, "clock") for s in (0, 7.5, 59.96, 300, 3900, 90061)] == [
        "0s",
        "7.5s",
        "1m00s",
        "5m00s",
        "1h05m00s",
        "1d01h01m",
    ]


def test_simulate_and_incident_show_count_alike(tmp_path: Path) -> None:
    """Issue 17, item 6: the summary of `tocsin simulate` and `tocsin incident show` read one
    definition. alice is paged on two channels by step 1 (one page), carol by step 2 (one
    page, one escalation after the first page)."""
    import yaml

    from tocsin.store.db import database_url

    data = yaml.safe_load(PAGING.format(until="12m", extra="", events=FIRE))
    config = data.pop("config_inline")
    config["users"][0]["contact"] = ["pager", "team"]  # alice: two channels
    (tmp_path / "tocsin.yaml").write_text(yaml.safe_dump(config))
    data["config"] = "tocsin.yaml"
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(data))
    scenario = sim.load_scenario(tmp_path / "scenario.yaml")
    db = tmp_path / "data"
    result = sim.run(scenario, sim.scenario_config(scenario), database=database_url(db, None))
    [summary] = result.incidents
    assert pages(result)[:2] == [(0, "pager", "alice", 1), (0, "team", "alice", 1)]
    assert (summary.pages, summary.escalations, summary.deadlines_missed) == (2, 1, 1)
    done = runner.invoke(
        app,
        [
            "incident",
            "show",
            "1",
            "--format",
            "json",
            "-c",
            str(tmp_path / "tocsin.yaml"),
            "--data-dir",
            str(db),
        ],
    )
    assert done.exit_code == 0, done.output
    figures = json.loads(done.output)["figures"]
    assert (figures["pages_sent"], figures["escalations"], figures["deadline_misses"]) == (
        summary.pages,
        summary.escalations,
        summary.deadlines_missed,
    )
    assert figures["messages_sent"] == summary.messages
    assert figures["time_to_acknowledge_s"] == summary.ack_s


def test_keep_leaves_the_simulated_database_for_the_record_commands(tmp_path: Path) -> None:
    kept = tmp_path / "sim"
    code, output = cli(str(SCENARIOS / "acknowledged-then-resolved.yaml"), "--keep", str(kept))
    assert code == 0, output
    common = ["-c", str(EXAMPLES / "tocsin.yaml"), "--data-dir", str(kept)]
    done = runner.invoke(app, ["incident", "show", "1", *common])
    assert done.exit_code == 0, done.output
    assert "Acknowledged by bob" in done.output and "2027-01-15 08:03:00 UTC" in done.output
    code, output = cli(str(SCENARIOS / "acknowledged-then-resolved.yaml"), "--keep", str(kept))
    assert code == 3 and "already holds a database" in output


def test_runbook_diagnostics_are_shown_stubbed(tmp_path: Path) -> None:
    """Issue 20: a simulation runs no command: the diagnostics an incident starts end
    ``stubbed`` at once, on the runner that would run them, and the follow-up says so."""
    path = tmp_path / "disk.yaml"
    path.write_text(
        dedent(
            f"""
            config: {EXAMPLES / "tocsin.yaml"}
            start: 2027-01-15T08:00:00Z
            until: 5m
            events:
              - at: 0s
                fire: {{alertname: PebbleDiskFilling, service: pebble-host, instance: web-1}}
            """
        )
    )
    result = sim.simulate_file(path)
    finished = [e for e in result.entries if e.kind == "run_finished"]
    assert sorted(e.detail["step"] for e in finished) == [1, 2, 3, 4]  # two at a time
    assert {e.detail["result"] for e in finished} == {"stubbed"}
    assert all("stubbed" in e.detail["output"] for e in finished)
    refused = [e for e in result.entries if e.kind == "run_refused"]
    assert [e.detail["step"] for e in refused] == [5]  # promql: no runner in the example
    follow = [s for s in result.sent if s.message.kind == "diagnostics"]
    assert [s.channel for s in follow] == ["team-console", "page-console"]  # dana was paged
    assert "stubbed: tocsin simulate runs no command" in (follow[0].message.text or "")
    assert (tmp_path / "disk.yaml").exists() and not Path("/tmp/pebble-cache").exists()
