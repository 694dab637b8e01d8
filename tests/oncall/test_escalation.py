"""The escalation state machine: steps, delays, matchers, rounds, runbook matrices."""

from __future__ import annotations

import pytest

from tocsin.alerts.matchers import parse_matcher
from tocsin.oncall.escalation import (
    Page,
    Policy,
    PolicyError,
    State,
    Step,
    Target,
    advance,
    from_tiers,
    progress,
    start,
)

PRIMARY = Target("schedule", "primary")
SECONDARY = Target("schedule", "secondary")
LEAD = Target("user", "dana")


def policy(repeat: int = 0) -> Policy:
    return Policy(
        name="default",
        steps=(
            Step((PRIMARY,), 300.0),
            Step((SECONDARY,), 600.0, (parse_matcher('severity="critical"'),)),
            Step((LEAD, Target("channel", "slack")), 900.0),
        ),
        repeat=repeat,
    )


def test_start_fires_the_first_step_and_waits_its_delay() -> None:
    state, page = start(policy(), {"severity": "critical"}, 1000.0)
    assert page == Page(0, 0, (PRIMARY,), first=True)
    assert state == State(step=0, round=0, next_at=1300.0)


def test_steps_fire_in_order_then_escalation_is_exhausted() -> None:
    labels = {"severity": "critical"}
    state, _ = start(policy(), labels, 0.0)
    state, page = advance(policy(), state, labels, 300.0)
    assert page == Page(1, 0, (SECONDARY,)) and state.next_at == 900.0
    state, page = advance(policy(), state, labels, 900.0)
    assert page is not None and page.targets == (LEAD, Target("channel", "slack"))
    assert state.next_at == 1800.0
    state, page = advance(policy(), state, labels, 1800.0)
    assert page is None and state.exhausted and state.next_at is None
    assert advance(policy(), state, labels, 9999.0) == (state, None)


def test_a_step_whose_matchers_do_not_match_is_skipped_without_waiting() -> None:
    labels = {"severity": "warning"}
    state, _ = start(policy(), labels, 0.0)
    state, page = advance(policy(), state, labels, 300.0)
    assert page is not None and page.step == 2  # secondary is for critical only
    assert state.next_at == 1200.0


def test_repeat_runs_the_policy_again_after_the_last_step() -> None:
    labels = {"severity": "critical"}
    state, _ = start(policy(repeat=1), labels, 0.0)
    fired = []
    t = 0.0
    while not state.exhausted:
        assert state.next_at is not None
        t = state.next_at
        state, page = advance(policy(repeat=1), state, labels, t)
        if page:
            fired.append((page.round, page.step, t))
    assert fired == [
        (0, 1, 300.0),
        (0, 2, 900.0),
        (1, 0, 1800.0),
        (1, 1, 2100.0),
        (1, 2, 2700.0),
    ]


def test_the_first_page_reads_as_a_new_page_and_a_later_step_as_an_escalation() -> None:
    """The message kind of a step's page (issue 18's reader): the step that starts an
    escalation is the first page a person gets ("[FIRING:1] ..."); only a step after it (a
    later step, a later round, "escalate now") says that the incident escalated."""
    critical, warning = {"severity": "critical"}, {"severity": "warning"}
    state, page = start(policy(repeat=1), critical, 0.0)
    assert page is not None and page.step == 0 and page.kind == "firing"
    kinds = []
    while page is not None:
        state, page = advance(policy(repeat=1), state, critical, 0.0)
        if page is not None:
            kinds.append((page.round, page.step, page.kind))
    assert kinds == [
        (0, 1, "escalation"),
        (0, 2, "escalation"),
        (1, 0, "escalation"),  # the next round's first step: escalated past the first page
        (1, 1, "escalation"),
        (1, 2, "escalation"),
    ]
    # a first step that does not apply: the step that fires first is still the first page
    only_critical = (parse_matcher('severity="critical"'),)
    matched = Policy("p", (Step((PRIMARY,), 60.0, only_critical), Step((LEAD,), 60.0)))
    _, page = start(matched, warning, 0.0)
    assert page is not None and page.step == 1 and page.kind == "firing"
    # escalation started again (an acknowledgement lapsed, a storm handed over): a new page
    _, page = start(policy(), critical, 5000.0)
    assert page is not None and page.kind == "firing"


def test_a_policy_where_no_step_applies_is_exhausted_at_once() -> None:
    only_critical = Policy("p", (Step((PRIMARY,), 60.0, (parse_matcher('severity="critical"'),)),))
    state, page = start(only_critical, {"severity": "info"}, 0.0)
    assert page is None and state.exhausted


def test_snapshot_round_trips() -> None:
    p = Policy(
        "x",
        (Step((PRIMARY, LEAD), 120.0, (parse_matcher('team=~"db|api"'),)),),
        repeat=2,
        ack_timeout_s=3600.0,
    )
    assert Policy.from_json(p.to_json()) == p


def test_target_parsing() -> None:
    assert Target.parse(" schedule:primary ") == PRIMARY
    for bad in ("primary", "pager:x", "user:", ""):
        with pytest.raises(PolicyError):
            Target.parse(bad)


def test_runbook_matrix_becomes_steps_with_gaps_as_delays() -> None:
    tiers = [
        (0, "Primary on-call"),
        (300, "Secondary on-call"),
        (1200, "Pebble team lead"),
        (2700, "Incident commander"),
    ]
    roles = {
        "primary on-call": "schedule:primary",
        "Secondary on-call": "schedule:secondary",
        "Pebble team lead": "user:dana",
        "Incident commander": "user:erin, channel:slack-incidents",
    }
    p = from_tiers("pebble", tiers, roles, last_delay_s=600.0)
    assert [s.delay_s for s in p.steps] == [300.0, 900.0, 1500.0, 600.0]
    assert p.steps[3].targets == (Target("user", "erin"), Target("channel", "slack-incidents"))


def test_runbook_matrix_with_an_unmapped_role_is_an_error_naming_it() -> None:
    with pytest.raises(PolicyError, match="'Engineering manager'"):
        from_tiers("p", [(0, "On-call"), (900, "Engineering manager")], {"on-call": "user:a"})
    with pytest.raises(PolicyError, match="no escalation matrix"):
        from_tiers("p", [], {})


def test_state_round_trips() -> None:
    state = State(step=2, round=1, next_at=123.5, exhausted=False)
    assert State.from_json(state.to_json()) == state
    assert State.from_json({}) == State()


def _snapshot(state: State, labels: dict[str, str]) -> dict[str, object]:
    return {"policy": policy().to_json(), "labels": labels, "state": state.to_json()}


def test_progress_names_the_step_fired_and_the_next_that_applies() -> None:
    state, _ = start(policy(), {"severity": "warning"}, 1000.0)
    shown = progress(_snapshot(state, {"severity": "warning"}), "triggered")
    assert shown["policy"] == "default" and shown["step"] == 1 and shown["steps"] == 3
    assert shown["targets"] == ["schedule:primary"] and shown["stopped"] is None
    # the secondary's step does not apply to a warning: the lead's comes next
    assert shown["next"] == {
        "step": 3,
        "round": 1,
        "targets": ["user:dana", "channel:slack"],
        "at": 1300.0,
    }


def test_progress_says_why_escalation_stopped() -> None:
    state, _ = start(policy(), {"severity": "critical"}, 1000.0)
    assert progress(_snapshot(state, {}), "acknowledged")["stopped"] == "acknowledged"
    for _ in range(3):
        state, _ = advance(policy(), state, {"severity": "critical"}, 2000.0)
    shown = progress(_snapshot(state, {"severity": "critical"}), "triggered")
    assert shown["stopped"] == "exhausted" and shown["next"] is None
