"""Status updates, pure: stages, default templates, runbook placeholders."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from tocsin import times
from tocsin.incidents.updates import (
    STAGES,
    Fields,
    default_template,
    find_template,
    render_default,
    render_update,
    substitute,
    transition_problem,
    update_problem,
)

format_duration = partial(times.format_duration, style="short")

T0 = datetime(2024, 5, 14, 14, 5, tzinfo=UTC)
NOW = datetime(2024, 5, 14, 15, 30, tzinfo=UTC)


def fields(**over: object) -> Fields:
    base: dict[str, object] = {
        "incident_id": 7,
        "title": "PebbleAPIDown pebble-api",
        "stage": "identified",
        "now": NOW,
        "severity": "critical",
        "priority": 1,
        "service": "pebble-api",
        "started_at": T0,
        "impact": "Uploads fail",
        "message": "Bad deploy; rolling back",
        "next_update_at": datetime(2024, 5, 14, 16, 0, tzinfo=UTC),
        "by": "alice",
        "url": "https://tocsin.example.com/api/v1/incidents/7",
    }
    base.update(over)
    return Fields(**base)  # type: ignore[arg-type]


def test_stages_move_freely_but_resolved_needs_a_reopen() -> None:
    for a in STAGES[:-1]:
        for b in STAGES:
            assert transition_problem(a, b) is None
    assert transition_problem(None, "monitoring") is None
    assert transition_problem("resolved", "resolved") is None
    for b in STAGES[:-1]:
        assert "reopen" in (transition_problem("resolved", b) or "")
    assert "unknown stage" in (transition_problem("investigating", "fixed") or "")


def test_default_template_by_stage() -> None:
    assert default_template("investigating", first=True) == "initial"
    assert default_template("investigating", first=False) == "update"
    assert default_template("identified", first=True) == "update"
    assert default_template("monitoring", first=False) == "update"
    assert default_template("resolved", first=True) == "resolution"


def test_durations() -> None:
    assert format_duration(45) == "45s"
    assert format_duration(12 * 60) == "12m"
    assert format_duration(3600 + 5 * 60) == "1h 05m"
    assert format_duration(2 * 86400 + 3 * 3600) == "2d 3h"
    assert format_duration(-5) == "0s"


def test_default_templates_carry_the_fields() -> None:
    text = render_default("update", fields())
    assert text.startswith("[UPDATE] PebbleAPIDown pebble-api\n")
    assert "Status: Identified" in text
    assert "Severity: critical" in text
    assert "Impact: Uploads fail" in text
    assert "Start Time: 2024-05-14 14:05 UTC" in text
    assert "Duration so far: 1h 25m" in text
    assert "Update: Bad deploy; rolling back" in text
    assert "Next Update: 16:00 UTC" in text
    initial = render_default("initial", fields(stage="investigating", impact=None))
    assert initial.startswith("[INCIDENT] ")
    assert "Status: Investigating" in initial and "Impact: being assessed" in initial
    resolution = render_default("resolution", fields(stage="resolved", next_update_at=None))
    assert resolution.startswith("[RESOLVED] ")
    assert "Resolved: 15:30 UTC" in resolution and "Duration: 1h 25m" in resolution
    assert "Next Update" not in resolution


def test_a_message_is_data_never_a_template() -> None:
    text = render_default("update", fields(message="{{ 7*7 }} <severity> {time}"))
    assert "{{ 7*7 }} <severity> {time}" in text


SEED_INITIAL = """\
[INCIDENT] <Brief Description>
Severity: P<1-4>
Status: Investigating / Identified / Monitoring / Resolved
Impact: <User-facing impact>
Start Time: <HH:MM UTC>
Next Update: <HH:MM UTC>
"""

SEED_RESOLVED = """\
[RESOLVED] <Brief Description>
Duration: <X hours Y minutes>
Impact: <Summary of user impact>
Root Cause: <Brief explanation>
Resolution: <What fixed it>
Follow-up: <Postmortem ticket/link>
"""


def test_runbook_placeholders_are_substituted_by_name_and_by_label() -> None:
    out = substitute(SEED_INITIAL, fields().values())
    assert out == (
        "[INCIDENT] PebbleAPIDown pebble-api\n"
        "Severity: P1\n"
        "Status: Identified\n"
        "Impact: Uploads fail\n"
        "Start Time: 14:05 UTC\n"
        "Next Update: 16:00 UTC\n"
    )
    resolved = substitute(SEED_RESOLVED, fields(stage="resolved").values())
    assert "Duration: 1h 25m" in resolved
    assert "Resolution: Bad deploy; rolling back" in resolved
    # unknown placeholders stay as written
    assert "Root Cause: <Brief explanation>" in resolved
    assert "Follow-up: <Postmortem ticket/link>" in resolved


def test_other_placeholder_shapes_and_what_is_left_alone() -> None:
    values = fields().values()
    text = "[Service Name] is down since {time}; sev {{ severity }}; see [the docs](https://x)"
    assert substitute(text, values) == (
        "pebble-api is down since 15:30 UTC; sev critical; see [the docs](https://x)"
    )
    # bracketed words that are no field, and fields without a value, stay
    assert substitute("[INCIDENT] [ ] <ETA>", values) == "[INCIDENT] [ ] <ETA>"
    assert substitute("Impact: <impact>", fields(impact=None).values()) == "Impact: <impact>"
    # one pass: a value that looks like a placeholder is not substituted again
    assert substitute("<message>", fields(message="<severity>").values()) == "<severity>"
    # a single stage written in is the current one
    assert substitute("Status: Investigating", values) == "Status: Identified"
    assert substitute("Status: degraded", values) == "Status: degraded"


def test_render_update_chooses_default_or_runbook_template() -> None:
    books = {"Initial Incident Report": SEED_INITIAL}
    name, text = render_update(None, fields(stage="investigating"), True, books)
    assert name == "initial" and text.startswith("[INCIDENT] ")
    name, text = render_update("initial-incident-report", fields(), False, books)
    assert name == "initial-incident-report"
    assert "Severity: P1" in text
    assert text.rstrip().endswith("Bad deploy; rolling back")  # no place for it: appended
    assert find_template("Resolution", books) == ("default", "resolution")
    with pytest.raises(KeyError):
        render_update("nope", fields(), False, books)


def test_which_incidents_take_an_update() -> None:
    assert update_problem("pending", None, "investigating") == "the incident has not triggered yet"
    assert update_problem("triggered", "investigating", "identified") is None
    resolved = update_problem("resolved", "investigating", "monitoring")
    assert resolved is not None and "resolved" in resolved
    assert update_problem("resolved", "monitoring", "resolved") is None  # the resolution
    assert update_problem("acknowledged", "resolved", "monitoring") == transition_problem(
        "resolved", "monitoring"
    )
