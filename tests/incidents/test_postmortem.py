"""The postmortem without a database: context, figures, escaping, the default Markdown (an
exact snapshot), a team's own template, and the configuration check of that template."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest

from tocsin.alerts.model import Alert
from tocsin.config import ConfigError, parse_config
from tocsin.incidents.figures import Event
from tocsin.incidents.postmortem import (
    DEFAULT_TEMPLATE,
    MAX_ROWS,
    ActionItem,
    build_context,
    cell,
    check_postmortem_template,
    compile_postmortem,
    render_postmortem,
    sample_context,
)
from tocsin.templating import TemplateError
from tocsin.times import format_duration as duration

SNAPSHOTS = Path(__file__).parent / "snapshots"
T = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def at(offset: float) -> datetime:
    return datetime.fromtimestamp(T + offset, UTC)


def snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("TOCSIN_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


LABELS = {"alertname": "PebbleAPIDown", "service": "pebble-api", "severity": "critical"}
FP = {"fingerprint": "0123456789abcdef", "labels": LABELS}


def scenario() -> dict[str, object]:
    """Opened 08:00:00 and paged at once; 08:05:00 no answer, step 2 (bob) fails once and
    then reaches him; acknowledged 08:07:00 by bob (7 min after the first page); a note, a
    status update; resolved 08:42:30 (42 min 30 s after the first alert)."""
    alerts = [
        Alert(
            labels=LABELS,
            annotations={
                "summary": "pebble-api answers 503",
                "description": "Every request fails.",
            },
            starts_at=at(0),
            ends_at=at(2550),
        ),
        Alert(
            labels={**LABELS, "instance": "b|2"},
            annotations={"summary": "pebble-api answers 503"},  # the same: listed once
            starts_at=at(20),
            ends_at=at(9000),
        ),
    ]
    events = [
        Event(T, "opened", {"route": "{}", "receiver": "pager"}),
        Event(T, "alert_fired", {"fingerprint": "0123456789abcdef", "alertname": "PebbleAPIDown"}),
        Event(T, "group_flushed", {"firing": [FP], "resolved": []}),
        Event(T, "triggered", {"severity": "critical", "policy": "api"}),
        Event(T, "escalated", {"step": 1, "targets": ["schedule:api"], "reason": "started"}),
        Event(T, "notified", {"channel": "team", "target": "channel:team", "kind": "firing"}),
        Event(T, "notified", {"channel": "sms", "target": "user:alice", "kind": "escalation"}),
        Event(T + 300, "deadline_missed", {"severity": "critical", "deadline_s": 300}),
        Event(T + 300, "escalated", {"step": 2, "targets": ["user:bob"], "reason": "deadline"}),
        Event(
            T + 330,
            "notify_failed",
            {"channel": "sms", "target": "user:bob", "attempts": 3, "error": "status 503"},
        ),
        Event(
            T + 331, "notified", {"channel": "email", "target": "user:bob", "kind": "escalation"}
        ),
        Event(T + 420, "acknowledged", {"by": "bob"}),
        Event(T + 600, "note", {"by": "bob", "text": "Deploy 1.42 | rolled back\nat 08:09"}),
        Event(T + 900, "status_update", {"stage": "monitoring", "message": "Error rate falling."}),
        Event(T + 2550, "resolved", {"by": "bob"}),
    ]
    items = [
        ActionItem(2, 7, "Canary deploys", "carol", T + 8 * 86_400, "open", T + 3000, "bob"),
        ActionItem(
            1, 7, "Page | SMS fallback\nfirst", "alice", T + 86_400, "open", T + 3000, "bob"
        ),
    ]
    incident = {
        "id": 7,
        "title": None,  # from the group labels
        "severity": "critical",
        "status": "resolved",
        "stage": "resolved",
        "assignee": "bob",
        "commander": None,
        "opened_at": T,
        "acknowledged_by": "bob",
        "resolved_by": "bob",
        "group_labels": '{"alertname": "PebbleAPIDown"}',
    }
    # the postmortem is written two days later: alice's item is overdue
    return build_context(incident, alerts, events, items, now=T + 2 * 86_400)


def test_default_postmortem_snapshot() -> None:
    context = scenario()
    figures = context["figures"]
    assert isinstance(figures, dict)
    assert figures["time_to_acknowledge_s"] == 420 and figures["time_to_resolve_s"] == 2550
    # escalations: step 2 (step 1 only started the policy); pages: alice and bob (the team
    # channel's message is not a page)
    assert (figures["escalations"], figures["deadline_misses"]) == (1, 1)
    assert (figures["pages_sent"], figures["messages_sent"], figures["pages_failed"]) == (2, 3, 1)
    assert context["durations"] == {
        "time_to_acknowledge": "7 min 0 s",
        "time_to_resolve": "42 min 30 s",
    }
    text = render_postmortem(context)
    snapshot("pure-incident.md", text)


def test_impact_prefers_impact_then_summary_then_description() -> None:
    def impact(*annotations: dict[str, str]) -> object:
        alerts = [Alert(labels={"alertname": "A", "i": str(n)}, annotations=a,
                        starts_at=at(n)) for n, a in enumerate(annotations)]  # fmt: skip
        return build_context({"id": 1}, alerts, [], [], now=T)["impact"]

    assert impact({"summary": "s", "impact": "i"}, {"impact": "i"}, {"impact": "j"}) == ["i", "j"]
    assert impact({"summary": "s", "description": "d"}) == ["s"]
    assert impact({"description": "d"}) == ["d"]
    assert impact({}) == []
    text = render_postmortem(build_context({"id": 1}, [], [], [], now=T))
    assert "_TODO: who or what was affected" in text
    assert "_None yet: add them with `tocsin actions add 1" in text


def test_durations_and_cells() -> None:
    assert [duration(s) for s in (0, 42, 60, 420, 2550, 3600, 7325, 90_061)] == [
        "0 s",
        "42 s",
        "1 min 0 s",
        "7 min 0 s",
        "42 min 30 s",
        "1 h 0 min 0 s",
        "2 h 2 min 5 s",
        "1 d 1 h 1 min",
    ]
    assert duration(None) == "n/a"
    assert cell("a | b\nc\r\nd") == "a \\| b c d"
    assert cell("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    assert cell("[x](javascript:y) *b* `c` ![i](u)") == (
        "\\[x\\](javascript:y) \\*b\\* \\`c\\` \\!\\[i\\](u)"
    )
    assert cell("ends in \\") == "ends in \\\\"
    assert cell(None) == ""


def test_untrusted_text_is_data() -> None:
    events = [Event(T, "note", {"by": "x", "text": "{{ 7*7 }} | {% raw %}"})]
    text = render_postmortem(build_context({"id": 1, "title": "{{ 6*6 }}"}, [], events, [], T))
    assert "{{ 6\\*6 }}" in text and "{{ 7\\*7 }} \\| {% raw %}" in text
    assert "49" not in text and "36" not in text


def test_a_long_timeline_is_cut() -> None:
    events = [Event(T + i, "notified", {"channel": "c", "kind": "reminder"}) for i in range(1005)]
    context = build_context({"id": 1}, [], events, [], T)
    assert len(context["timeline"]) == MAX_ROWS
    assert "… and 5 later events, not listed." in render_postmortem(context)


def test_same_time_deliveries_are_in_a_stable_order() -> None:
    a = Event(T, "notified", {"channel": "b", "target": "user:b", "kind": "escalation"})
    b = Event(T, "notified", {"channel": "a", "target": "user:a", "kind": "escalation"})
    first = build_context({"id": 1}, [], [a, b], [], T)["timeline"]
    assert first == build_context({"id": 1}, [], [b, a], [], T)["timeline"]


def test_a_custom_template() -> None:
    template = check_postmortem_template(
        "{{ incident.title }}: TTA {{ durations.time_to_acknowledge }}"
        "{% for i in action_items if i.overdue %}; overdue {{ cell(i.title) }}{% endfor %}",
        "custom",
    )
    text = render_postmortem(scenario(), template)
    assert text == "PebbleAPIDown: TTA 7 min 0 s; overdue Page \\| SMS fallback first\n"


def test_broken_templates_are_errors() -> None:
    with pytest.raises(TemplateError, match="line 1"):
        check_postmortem_template("{% for %}", "pm.md")
    with pytest.raises(TemplateError, match="sample postmortem"):
        check_postmortem_template("{{ incident.nosuchfield }}", "pm.md")
    with pytest.raises(TemplateError, match="sample postmortem"):
        check_postmortem_template("{{ incident.__class__.__mro__ }}", "pm.md")
    check_postmortem_template(DEFAULT_TEMPLATE, "default")
    assert render_postmortem(sample_context()).startswith("# Postmortem: incident #42")
    assert compile_postmortem("x").name == "postmortem"


CONFIG = dedent(
    """
    route: {receiver: default}
    receivers: [{name: default}]
    postmortem_template: templates/postmortem.md.j2
    """
)


def test_the_configured_template_is_checked_at_load(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    path = tmp_path / "templates" / "postmortem.md.j2"
    with pytest.raises(ConfigError, match="postmortem_template: cannot read"):
        parse_config(CONFIG, "tocsin.yaml", tmp_path)
    path.write_text("# {{ incident.id }}\n{{ incident.nosuch }}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        parse_config(CONFIG, "tocsin.yaml", tmp_path)
    [problem] = raised.value.problems
    assert problem.where == "tocsin.yaml:4:22" and problem.location == "postmortem_template"
    assert "line 2" in problem.message
    path.write_text("# Review of #{{ incident.id }}\n", encoding="utf-8")
    config = parse_config(CONFIG, "tocsin.yaml", tmp_path)
    assert config.postmortem is not None
    assert render_postmortem(scenario(), config.postmortem) == "# Review of #7\n"
    assert parse_config("route: {receiver: d}\nreceivers: [{name: d}]\n").postmortem is None


def test_labels_and_annotations_cannot_write_markdown_or_html() -> None:
    """A title from alert labels and an impact annotation: no HTML, heading or link survives
    (the review's reproduction)."""
    hostile = Alert(
        labels={"alertname": "Disk<img src=x onerror=alert(1)>"},
        annotations={"impact": "<script>x</script>\n\n## Root cause\n- [click](javascript:a)"},
        starts_at=at(0),
        ends_at=at(60),
    )
    incident = {"id": 3, "title": "Disk<img src=x onerror=alert(1)>", "opened_at": T}
    text = render_postmortem(build_context(incident, [hostile], [], [], T + 120))
    assert "<img" not in text and "<script" not in text
    assert text.count("\n## Root cause") == 1  # the template's own heading only
    assert "  \\## Root cause" in text
    assert "](javascript" not in text.replace("\\](javascript", "")


def test_control_characters_are_shown_not_written() -> None:
    """ESC, BEL, CR, C1 and DEL from a label, an annotation, a note, an action item's title and
    a person's name reach the Markdown as visible escapes, in the default and a custom template."""
    hostile = Alert(
        labels={"alertname": "Disk\x1b[31m", "host": "a\x1b]8;;https://evil.example/\x1b\\b"},
        annotations={"impact": "checkout\x07 down\rall fine\nsecond \x9b2J line"},
        starts_at=at(0),
        ends_at=at(60),
    )
    events = [
        Event(T + 10, "note", {"by": "eve\x1b[8m", "text": "hidden\x1b[8m text\x7f"}),
        Event(T + 20, "acknowledged", {"by": "mallory\r\x1b[2K"}),
    ]
    items = [ActionItem(1, 3, "Fix\x1b[5m blink", "bob\x9b", T + 86_400, "open", T, "eve\x07")]
    incident = {"id": 3, "title": "Disk\x1b[31m", "opened_at": T, "assignee": "x\x1b[0m"}
    context = build_context(incident, [hostile], events, items, T + 120)
    custom = compile_postmortem(
        "{{ incident.title }} {{ alerts[0].labels_text }} {{ impact | join(' ') }}"
    )
    for text in (render_postmortem(context), render_postmortem(context, custom)):
        assert not [c for c in text if c not in "\n" and (ord(c) < 32 or 127 <= ord(c) < 160)]
        assert "Disk\\x1b" in text
    text = render_postmortem(context)
    for shown in ("eve\\x1b", "hidden\\x1b", "mallory \\x1b", "bob\\x9b", "Fix\\x1b", "x\\x1b"):
        assert shown in text, shown
    assert "- checkout\\x07 down\n  all fine\n  second \\x9b2J line" in text  # lines kept


def test_impact_from_the_runbook_people_links_detection_related_and_prompts() -> None:
    """Issue 17, item 11: the runbook's Impact beside the alert's summary, people named and
    fingerprints folded away, time to detect, links, related incidents, the review's
    prompts."""
    alerts = [
        Alert(
            labels={**LABELS, "instance": "api-1"},
            annotations={"summary": "pebble-api answers 503"},
            starts_at=at(-90),  # firing 90 s before the incident opened
        ),
        Alert(labels={**LABELS, "instance": "api-2"}, annotations={}, starts_at=at(-30)),
    ]
    fired = {
        "fingerprint": "fedcba9876543210",
        "labels": {**LABELS, "instance": "api-2"},
    }
    events = [
        Event(T, "opened", {"receiver": "pager"}),
        Event(T, "alert_fired", {"fingerprint": "fedcba9876543210", "alertname": "PebbleAPIDown"}),
        Event(T, "group_flushed", {"firing": [fired], "resolved": []}),
        Event(T, "escalated", {"step": 1, "targets": ["schedule:api"], "reason": "started"}),
        Event(T + 1, "notified", {"channel": "team", "target": "channel:team", "kind": "firing"}),
        Event(
            T + 2,
            "notified",
            {"channel": "sms", "target": "schedule:api", "kind": "escalation", "notification": 4},
        ),
        Event(
            T + 60,
            "notify_failed",
            {
                "channel": "sms",
                "target": "user:bob",
                "attempts": 3,
                "error": "503",
                "notification": 5,
            },
        ),
    ]
    runbooks = [
        {
            "runbook": "Pebble API",
            "section": "PebbleAPIDown",
            "url": "https://git.example/ops/blob/main/pebble.md#pebbleapidown",
            "alerts": ["PebbleAPIDown"],
            "impact": "Every upload fails: customers see an error page.",
        }
    ]
    related = [
        {"id": 3, "title": None, "severity": "critical", "status": "resolved",
         "opened_at": T - 5 * 86_400, "group_labels": '{"alertname": "PebbleAPIDown"}'},
    ]  # fmt: skip
    context = build_context(
        {"id": 7, "group_labels": {"alertname": "PebbleAPIDown"}, "opened_at": T,
         "postmortem_status": "in-review"},
        alerts, events, [], T + 3600,
        runbooks=runbooks, related=related, people={4: "alice", 5: "bob"},
        url="https://tocsin.example/api/v1/incidents/7",
    )  # fmt: skip
    text = render_postmortem(context)
    impact = text.split("## Impact")[1].split("##")[0]
    assert (
        "- From the runbook (PebbleAPIDown): Every upload fails: customers see an error page."
    ) in impact
    assert "\n- pebble-api answers 503\n" in impact  # the alert's own summary beside it
    # people, not schedules; alerts by name and what tells them apart; no fingerprint
    assert "| Paged alice (schedule:api) via sms |" in text
    assert "Delivery of message to bob via sms failed after 3 attempts: 503" in text
    assert "1 firing: PebbleAPIDown instance=api-2)" in text
    timeline = text.split("## Timeline")[1].split("## Detection")[0]
    assert "fedcba9876543210" not in text and "service=pebble-api" not in timeline
    # from the first alert's start (08:00:00 - 90 s) to the first page to a person (+2 s)
    assert context["detection"]["time_to_detect"] == "1 min 32 s"
    assert "| Time to detect (first alert to first page) | 1 min 32 s |" in text
    assert "- Incident: <https://tocsin.example/api/v1/incidents/7>" in text
    assert (
        "- Runbook: Pebble API, PebbleAPIDown "
        "<https://git.example/ops/blob/main/pebble.md#pebbleapidown>\n\n## Summary"
    ) in text
    assert "| Postmortem | in-review |" in text
    assert "| 3 | PebbleAPIDown | critical | 2027-01-10 08:00:00 UTC | resolved |" in text
    for heading in ("## Related incidents", "## What went well", "## Where we got lucky"):
        assert f"\n{heading}\n\n" in text
    assert "_TODO: what helped" in text and "_TODO: what could have made this worse" in text


def test_no_fingerprint_reaches_the_document() -> None:
    """Issue 17, item 11: alerts are named by alertname and distinguishing labels wherever
    the timeline speaks of them (fired, inhibited, muted in a flush), never by fingerprint."""
    one = Alert(labels={**LABELS, "instance": "api-1"}, starts_at=at(0))
    two = Alert(labels={**LABELS, "instance": "api-2"}, starts_at=at(5))
    outside = "0f0f0f0f0f0f0f0f"
    events = [
        Event(T, "alert_fired", {"fingerprint": one.fingerprint, "alertname": "PebbleAPIDown"}),
        Event(
            T + 5,
            "inhibited",
            {
                "fingerprint": two.fingerprint,
                "alertname": "PebbleAPIDown",
                "inhibited_by": [one.fingerprint, outside],
            },
        ),
        Event(
            T + 5,
            "group_flushed",
            {
                "firing": [{"fingerprint": one.fingerprint, "labels": dict(one.labels)}],
                "resolved": [],
                "muted": {two.fingerprint: {"silenced_by": [], "inhibited_by": [outside]}},
            },
        ),
    ]
    context = build_context({"id": 1}, [one, two], events, [], T + 60)
    text = render_postmortem(context)
    for fp in (one.fingerprint, two.fingerprint, outside):
        assert fp not in text
        assert fp not in str(context["timeline"])
    rows = [row["what"] for row in context["timeline"]]
    assert "PebbleAPIDown instance=api-1 fired" in rows
    assert (
        "PebbleAPIDown instance=api-2 inhibited by PebbleAPIDown instance=api-1, "
        "an alert outside this incident"
    ) in rows


def test_a_flush_of_several_alerts_is_one_row_naming_them_apart() -> None:
    """Issue 18: a flush's alerts_changed event is one row of the postmortem's timeline; it
    names its alerts by what tells them apart (no fingerprint, no shared labels), and an
    inhibited one by the alert that inhibits it."""
    shared = {"alertname": "NodeDown", "team": "infra", "severity": "critical"}
    alerts = [
        Alert(labels={**shared, "instance": f"n{i}"}, starts_at=datetime.fromtimestamp(T, UTC))
        for i in range(3)
    ]
    fp = [a.fingerprint for a in alerts]
    named = [
        {"kind": "alert_fired", "fingerprint": fp[i], "alertname": "NodeDown",
         "labels": dict(alerts[i].labels)}
        for i in range(2)
    ] + [
        {"kind": "inhibited", "fingerprint": fp[2], "alertname": "NodeDown",
         "labels": dict(alerts[2].labels), "inhibited_by": [fp[0]]}
    ]  # fmt: skip
    detail = {"fired": 2, "resolved": 0, "silenced": 0, "inhibited": 1, "still_firing": 2}
    events = [Event(T, "alerts_changed", {**detail, "alerts": named})]
    [row] = build_context({"id": 1}, alerts, events, [], T + 60)["timeline"]
    assert row["what"] == (
        "2 alerts fired: NodeDown instance=n0, NodeDown instance=n1; "
        "1 inhibited: NodeDown instance=n2; 2 still firing"
    )
    one = {**detail, "fired": 0, "still_firing": 0, "alerts": named[2:]}
    [row] = build_context({"id": 1}, alerts, [Event(T, "alerts_changed", one)], [], T)["timeline"]
    assert row["what"] == "NodeDown instance=n2 inhibited by NodeDown instance=n0"
    assert all(f not in str(row) for f in fp)
