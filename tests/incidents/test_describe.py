"""Every timeline event as a sentence (issue 17, item 7): one function for the postmortem,
``incident show``, the CLI and ``tocsin simulate``; no raw JSON in anything a person reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.incidents.describe import (
    SIMULATION_KINDS,
    TIMELINE_KINDS,
    event_sentence,
    known_sentence,
)
from tocsin.incidents.flush import ALERT_EVENT_KINDS
from tocsin.store.kinds import REMINDER

SRC = Path(__file__).resolve().parents[2] / "src" / "tocsin"

# A detail of each kind as the pipeline writes it, and the sentence people read.
SENTENCES: list[tuple[str, dict[str, Any], str]] = [
    (
        "storm_started",
        {"storm": 3, "route": 'team="db"', "incidents": 20, "window_s": 60, "recent": 20},
        'Alert storm 3 started on route team="db": more than 20 incidents in 1 min 0 s; '
        "this incident pages for it and its messages are the digest",
    ),
    (
        "storm_held",
        {"storm": 3, "lead": 21, "held": 4},
        "Held in storm 3 (4 held): paged as one digest through incident #21, not on its own",
    ),
    (
        "storm_update",
        {"storm": 3, "held": 40, "channels": ["team"]},
        "Digest of storm 3 updated (40 held) to team",
    ),
    (
        "storm_acknowledged",
        {"storm": 3, "by": "alice", "covered": 39},
        "Acknowledged by alice for storm 3: 39 held incidents acknowledged with it",
    ),
    (
        "storm_ack_expired",
        {"storm": 3, "waiting": 39},
        "Acknowledgement of storm 3 lapsed: 39 held incidents wait again with this one",
    ),
    (
        "storm_handed_over",
        {"storm": 3, "to": 22},
        "Resolved before storm 3 was acknowledged: incident #22 leads it",
    ),
    (
        "storm_lead",
        {"storm": 3, "after": 21},
        "Leads storm 3 now (incident #21 resolved): paging for it",
    ),
    ("storm_ended", {"storm": 3}, "Alert storm 3 ended: nothing held waits for an acknowledgement"),
    (
        "paging_held",
        {"reason": "maintenance", "window": 3, "until": 1800000900.0},
        "Paging held by maintenance window 3 (until 2027-01-15 08:15:00 UTC): alerts kept, "
        "nobody paged",
    ),
    (
        "paging_resumed",
        {"reason": "time_interval", "intervals": ["morning"]},
        "Paging resumed: no longer held by time interval morning",
    ),
    (
        "run_requested",
        {"run": 4, "step": 2, "risk": "read", "command": "df -h\nfree -m", "automatic": True},
        "Run of step 2 (read) asked by itself (auto-diagnose): df -h …",
    ),
    (
        "run_requested",
        {"run": 5, "step": 4, "risk": "change", "command": "touch x", "by": "ana"},
        "Run of step 4 (change) asked by ana: touch x",
    ),
    (
        "run_approved",
        {"run": 5, "step": 4, "risk": "change", "command": "touch x", "by": "ben"},
        "Run of step 4 approved by ben: touch x",
    ),
    (
        "run_refused",
        {"run": 6, "step": 3, "risk": "read", "reason": "not filled: <pod>"},
        "Run of step 3 refused: not filled: <pod>",
    ),
    (
        "run_started",
        {"run": 5, "step": 4, "command": "touch x", "target": "ssh ops@db-1"},
        "Run of step 4 started on ssh ops@db-1: touch x",
    ),
    (
        "run_finished",
        {
            "run": 5,
            "step": 4,
            "result": "failed",
            "exit_code": 2,
            "duration_s": 1.5,
            "error": "exit status 2",
        },
        "Run of step 4 finished failed, exit 2 in 1.5 s: exit status 2",
    ),
    (
        "opened",
        {"group_key": '{}:{alertname="X"}', "route": 0, "receiver": "pager"},
        "Incident opened for receiver pager",
    ),
    ("alert_fired", {"fingerprint": "0123", "alertname": "DatabaseDown"}, "DatabaseDown fired"),
    (
        "alert_resolved",
        {"fingerprint": "0123", "alertname": "DatabaseDown"},
        "DatabaseDown resolved",
    ),
    (
        "silenced",
        {"fingerprint": "0123", "alertname": "DiskFull", "silenced_by": ["s-1"]},
        "DiskFull silenced (by silence s-1)",
    ),
    (
        "inhibited",
        {"fingerprint": "0123", "alertname": "DiskFull", "inhibited_by": ["ab"]},
        "DiskFull inhibited (by 1 alert)",
    ),
    (
        "alerts_changed",
        {
            "fired": 1,
            "resolved": 0,
            "silenced": 0,
            "inhibited": 0,
            "still_firing": 1,
            "alerts": [
                {
                    "kind": "alert_fired",
                    "fingerprint": "01",
                    "alertname": "DatabaseDown",
                    "labels": {"alertname": "DatabaseDown", "service": "db"},
                }
            ],
        },
        "DatabaseDown service=db fired",
    ),
    (
        "group_flushed",
        {
            "firing": [
                {"fingerprint": "01", "labels": {"alertname": "DatabaseDown", "service": "db"}}
            ],
            "resolved": [],
            "muted": {},
        },
        "Alerts sent to the channels (1 firing: DatabaseDown service=db)",
    ),
    (
        "group_flushed",  # an incident held in an alert storm tells no channel itself
        {
            "firing": [
                {"fingerprint": "01", "labels": {"alertname": "DiskFull", "instance": "n7"}}
            ],
            "firing_count": 1,
            "resolved": [],
            "muted": {},
            "held_in": 3,
        },
        "Alerts recorded; held in storm 3, no message sent (1 firing: DiskFull instance=n7)",
    ),
    (
        "triggered",
        {"severity": "critical", "policy": "pebble", "channels": ["slack-platform"]},
        "Triggered at severity critical, escalation policy pebble, channels slack-platform",
    ),
    (
        "severity_raised",
        {"from": "warning", "to": "critical"},
        "Severity raised from warning to critical",
    ),
    (
        "escalated",
        {
            "policy": "pebble",
            "step": 1,
            "round": 1,
            "targets": ["schedule:primary"],
            "reason": "started",
            "paged": {"bob": ["slack"]},
        },
        "Escalation policy pebble started at step 1: paged bob (slack)",
    ),
    (
        "escalated",
        {
            "policy": "pebble",
            "step": 2,
            "round": 1,
            "targets": ["user:carol"],
            "reason": "not acknowledged in time",
            "paged": {"carol": ["slack", "email"]},
        },
        "Escalated to step 2 (not acknowledged in time): paged carol (slack, email)",
    ),
    (
        "escalated",
        {
            "step": 2,
            "round": 2,
            "targets": ["user:carol"],
            "reason": "escalated by hand",
            "by": "ana",
            "paged": {"carol": ["slack"], "channel:ops": ["ops"]},
        },
        "Escalated to step 2, round 2 by ana: paged carol (slack), channel ops",
    ),
    (
        "escalated",
        {"step": 3, "targets": ["schedule:lead"], "reason": "deadline"},
        "Escalated to step 3 (deadline): paged schedule lead",
    ),
    (
        "escalation_exhausted",
        {"policy": "pebble", "reason": "not acknowledged in time"},
        "Escalation policy pebble exhausted: no step left",
    ),
    (
        "deadline_missed",
        {"severity": "critical", "deadline_s": 300, "triggered_at": "2027-01-15T08:00:00+00:00"},
        "Not acknowledged within 5 min 0 s: the critical deadline was missed",
    ),
    (
        "notified",
        {
            "channel": "slack",
            "target": "schedule:primary",
            "kind": "escalation",
            "attempt": 1,
            "notification": 3,
            "recipient": "bob",
            "page": "inc1:g1:r0:s0:schedule:primary:bob",
        },
        "Paged bob (schedule:primary) via slack",
    ),
    (
        "notified",
        {
            "channel": "mail",
            "target": "user:alice",
            "kind": "firing",  # the first page of an escalation
            "attempt": 1,
            "recipient": "alice",
            "page": "inc1:g1:r0:s0:user:alice:alice",
        },
        "Paged alice via mail",
    ),
    (
        "notified",
        {"channel": "team", "target": "channel:team", "kind": "firing", "attempt": 2},
        "Sent firing via team, attempt 2",
    ),
    (
        "notify_failed",
        {
            "channel": "sms",
            "target": "user:bob",
            "kind": "escalation",
            "attempts": 3,
            "error": "status 503",
            "dead_letter": True,
            "fallback": "email",
            "notification": 4,
        },
        "Delivery of escalation to user bob via sms failed after 3 attempts: status 503; "
        "falling back to email",
    ),
    (
        "notify_failed",
        {
            "channel": "sms",
            "target": "user:bob",
            "kind": "firing",  # a person's first page
            "attempts": 3,
            "error": "status 503",
            "dead_letter": True,
            "fallback": None,
            "notification": 4,
        },
        "Delivery of page to user bob via sms failed after 3 attempts: status 503",
    ),
    (
        "notify_failed",
        {"channel": "team", "target": "channel:team", "kind": "firing", "attempts": 3},
        "Delivery of firing to channel team via team failed after 3 attempts",
    ),
    (
        "notify_failed",
        {"reason": "escalation policy 'x' is not configured"},
        "Could not page: escalation policy 'x' is not configured",
    ),
    (
        "phone_failed",
        {
            "medium": "sms",
            "channel": "sms",
            "person": "alice",
            "number": "…0101",
            "status": "undelivered",
            "error_code": "30003",
            "sid": "SM1",
        },
        "SMS to alice (…0101) via sms not delivered: undelivered, error 30003",
    ),
    (
        "phone_failed",
        {"medium": "voice", "person": "alice", "number": "…0101", "status": "no-answer"},
        "Call to alice (…0101) not delivered: no-answer",
    ),
    (
        "held_back",
        {
            "channel": "sms",
            "person": "bob",
            "kind": "resolved",
            "notification": 7,
            "limit": "1 per 1m",
            "summary_at": "2027-01-15T08:01:00+00:00",
        },
        "Held back resolved to bob on sms (limit 1 per 1m): in a summary later",
    ),
    (
        "escalated",
        {
            "policy": "p",
            "step": 1,
            "round": 1,
            "reason": "started",
            "paged": {},
            "later": {"alice": ["phone after 2m", "call after 5m"]},
        },
        "Escalation policy p started at step 1: nobody paged yet; later: alice (phone after 2m,"
        " call after 5m)",
    ),
    (
        "notifications_cancelled",
        {
            "count": 2,
            "reason": "acknowledged",
            "cancelled": [
                {"person": "alice", "contact": "phone", "channel": "sms"},
                {"person": "alice", "contact": "call", "channel": "voice"},
            ],
            "said": "alice by phone, alice by call",
        },
        "2 later notifications cancelled: alice by phone, alice by call",
    ),
    (
        "contact_skipped",
        {"person": "alice", "contact": "phone", "channel": "sms", "reason": "not verified"},
        "Did not page alice by phone (sms): not verified",
    ),
    (
        "held_summary",
        {"channel": "sms", "person": "bob", "held": 2, "total": 5, "incidents": 4},
        "Summed up 5 held messages for bob on sms in one message (2 of this incident)",
    ),
    ("acknowledged", {"by": "ana"}, "Acknowledged by ana"),
    ("ack_expired", {"acknowledged_by": "ana"}, "Acknowledgement by ana lapsed: paging again"),
    ("resolved", {"by": "ana"}, "Resolved by ana"),
    ("resolved", {"by": "ana", "via": "sms"}, "Resolved by ana via sms"),
    ("resolved", {"reason": "all alerts resolved"}, "Resolved: all alerts resolved"),
    ("reopened", {"by": "ana", "reason": "back"}, "Reopened by ana: back"),
    (
        "alerts_resolved",
        {"auto_resolve": False},
        "All alerts resolved; the incident stays open until a person resolves it",
    ),
    ("note", {"text": "checked the primary", "by": "alice"}, "Note by alice: checked the primary"),
    ("assigned", {"assignee": "ben", "by": "ana"}, "Assigned to ben by ana"),
    (
        "assigned",
        {"commander": "carol", "assignee": None, "by": "ana"},
        "Assignee cleared, Commander set to carol by ana",
    ),
    (
        "runbook_opened",
        {"by": "ana", "source": "db.md", "section": "DatabaseDown"},
        "Runbook opened by ana (DatabaseDown)",
    ),
    (
        "status_update",
        {
            "stage": "identified",
            "previous_stage": "investigating",
            "template": None,
            "message": "Disk full on the primary",
            "text": "…",
            "by": "ana",
            "channels": ["team"],
        },
        "Status update (identified) by ana: Disk full on the primary",
    ),
    (
        REMINDER,
        {
            "since": "2027-01-15T08:00:00+00:00",
            "silent_s": 1800.0,
            "every_s": 1800,
            "stage": "investigating",
            "channels": ["slack-platform"],
        },
        "No status update for 30 min 0 s (one is due every 30 min 0 s); reminded slack-platform",
    ),
    (
        "action_item",
        {
            "id": 2,
            "title": "Fail over automatically",
            "owner": "carol",
            "due": 1800000000.0,
            "status": "open",
            "change": "added",
            "by": "ana",
        },
        "Action item #2 added by ana: Fail over automatically (owner carol, due 2027-01-15 "
        "08:00:00 UTC)",
    ),
    (
        "postmortem_status",
        {"status": "in-review", "from": "draft", "by": "ana"},
        "Postmortem in-review by ana (was draft)",
    ),
    (
        "duty_reminder",
        {
            "id": 3,
            "duty": "report",
            "title": "Incident report",
            "owner": "carol",
            "due": 1800000000.0,
            "channels": ["pager"],
        },
        "Reminded carol: Incident report (#3, due 2027-01-15 08:00:00 UTC)",
    ),
    (
        "override",
        {
            "event": 0,
            "override": 1,
            "user": "alice",
            "replaces": "bob",
            "start": "2027-01-16T08:00:00Z",
            "end": "2027-01-18T08:00:00Z",
            "by": "bob",
        },
        "Override: alice for bob on call from 2027-01-16 08:00:00 UTC to 2027-01-18 08:00:00 UTC "
        "by bob",
    ),
    (
        "action_refused",
        {"event": 3, "action": "ack", "by": "ana", "reason": "the incident is resolved"},
        "Ack by ana refused: the incident is resolved",
    ),
    (
        "attempt_failed",
        {
            "channel": "pager",
            "target": "user:bob",
            "kind": "escalation",
            "attempt": 1,
            "status": 503,
        },
        "Attempt 1 of escalation via pager failed (status 503), will retry",
    ),
    (
        "attempt_failed",
        {"channel": "pager", "target": "user:bob", "kind": "firing", "attempt": 2},
        "Attempt 2 of page via pager failed (no answer), will retry",
    ),
    (
        "attempt_failed",
        {
            "channel": "team",
            "target": "channel:team",
            "kind": "firing",
            "attempt": 1,
            "status": 429,
            "error": "slack: ratelimited",
        },
        "Attempt 1 of firing via team failed (status 429: slack: ratelimited), will retry",
    ),
]


def _named(kind: str, n: int) -> dict[str, Any]:
    labels = {"alertname": "NodeDown", "instance": f"n{n}"}
    return {"kind": kind, "fingerprint": f"{n:02}", "alertname": "NodeDown", "labels": labels}


def test_a_storm_flush_reads_as_counts_with_the_first_alerts_named() -> None:
    """Issue 18: one event for 5,000 changes says how many and names the first five."""
    detail = {
        "fired": 4_990,
        "resolved": 7,
        "silenced": 3,
        "inhibited": 0,
        "still_firing": 4_990,
        "alerts": [_named("alert_fired", n) for n in range(5)]
        + [_named("alert_resolved", n) for n in range(5, 10)]
        + [{**_named("silenced", n), "silenced_by": ["s1"]} for n in range(10, 13)],
    }
    assert event_sentence("alerts_changed", detail) == (
        "4,990 alerts fired: NodeDown instance=n0, NodeDown instance=n1, NodeDown instance=n2, "
        "NodeDown instance=n3, NodeDown instance=n4 and 4,985 more; "
        "7 resolved: NodeDown instance=n5, NodeDown instance=n6, NodeDown instance=n7, "
        "NodeDown instance=n8, NodeDown instance=n9 and 2 more; "
        "3 silenced: NodeDown instance=n10, NodeDown instance=n11, NodeDown instance=n12; "
        "4,990 still firing"
    )
    flushed = {
        "firing": [{"labels": _named("", n)["labels"]} for n in range(5)],
        "firing_count": 4_990,
        "resolved": [],
        "muted": {"a": {}, "b": {}},
        "muted_count": 3,
    }
    assert event_sentence("group_flushed", flushed) == (
        "Alerts sent to the channels (4,990 firing: NodeDown instance=n0, NodeDown instance=n1, "
        "NodeDown instance=n2, NodeDown instance=n3, NodeDown instance=n4 and 4,985 more; "
        "3 muted)"
    )


@pytest.mark.parametrize(("kind", "detail", "sentence"), SENTENCES)
def test_sentences(kind: str, detail: dict[str, Any], sentence: str) -> None:
    assert event_sentence(kind, detail) == sentence


def test_every_kind_has_a_sentence_and_none_prints_json() -> None:
    samples = {kind: detail for kind, detail, _ in SENTENCES}
    assert set(samples) == set(TIMELINE_KINDS) | set(SIMULATION_KINDS)
    for kind in (*TIMELINE_KINDS, *SIMULATION_KINDS):
        for detail in (samples[kind], {}, {"nested": {"a": [1, {"b": 2}]}}):
            text = event_sentence(kind, detail)
            assert known_sentence(kind, detail) is not None, kind
            assert "{" not in text and "}" not in text and "\n" not in text, (kind, text)


def _constants(tree: ast.Module) -> dict[str, str]:
    """A module's string constants (``KIND = "duty_reminder"``, ``X: Final = "y"``)."""
    found: dict[str, str] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        value = getattr(node, "value", None)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return found


def test_the_timeline_vocabulary_is_what_the_code_writes() -> None:
    """Every kind a module writes with ``add_timeline`` (a literal, a string constant of the
    module or of store/kinds.py, or the flush's alert events) is in the vocabulary, so a new
    kind cannot go without its sentence."""
    kinds = _constants(ast.parse((SRC / "store" / "kinds.py").read_text(encoding="utf-8")))
    written: set[str] = set(ALERT_EVENT_KINDS) | {"opened"}  # opened: store/repo.py, in bulk
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = kinds | _constants(tree)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_timeline"
            ):
                continue
            if len(node.args) < 4:
                continue
            kind = node.args[3]
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                written.add(kind.value)
            elif isinstance(kind, ast.Name) and kind.id in constants:
                written.add(constants[kind.id])
    assert REMINDER in written and "escalated" in written
    assert written <= set(TIMELINE_KINDS), written - set(TIMELINE_KINDS)


def test_an_unknown_kind_reads_as_words_and_values() -> None:
    text = event_sentence("paged_by_carrier_pigeon", {"to": "bob", "with": {"seed": [1, 2]}})
    assert text == "Paged by carrier pigeon: to bob; with seed 1, 2"


def test_long_and_multi_line_text_stays_one_bounded_line() -> None:
    text = event_sentence("note", {"text": "line one\nline two " + "x" * 2000, "by": "ana"})
    assert "\n" not in text and len(text) <= 500 and text.startswith("Note by ana: line one line")


def test_times_in_a_sentence_take_the_readers_zone() -> None:
    detail = {"id": 1, "title": "t", "owner": "o", "due": 1800000000.0, "change": "added"}
    assert "due 2027-01-15 09:00:00 CET" in event_sentence("action_item", detail, "Europe/Berlin")


# every key an event's detail is read by, and a value of each JSON type for it
_KEYS = sorted(
    set(
        re.findall(
            r"""d(?:etail)?(?:\.get\(|\[)["']([a-z_]+)["']""",
            (SRC / "incidents" / "describe.py").read_text(),
        )
    )
)
_ODD = [None, True, 0, 7, -1.5, "", "text", [], [7], ["a", None], [{"x": 1}], {}, {"a": [1]}]


def test_a_detail_of_any_shape_reads_as_a_sentence() -> None:
    """The console and the postmortem render whatever a stored event holds: a value of an
    unexpected type is read past, never raised on (a page of a timeline must not fail)."""
    assert len(_KEYS) > 20, _KEYS
    for kind in (*TIMELINE_KINDS, *SIMULATION_KINDS):
        for key in _KEYS:
            for value in _ODD:
                text = event_sentence(kind, {key: value})
                assert isinstance(text, str) and "\n" not in text, (kind, key, value)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([*TIMELINE_KINDS, *SIMULATION_KINDS]),
    detail=st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=10), _JSON, max_size=6),
)
def test_a_detail_of_random_shape_reads_as_a_sentence(kind: str, detail: dict[str, Any]) -> None:
    text = event_sentence(kind, detail)
    assert isinstance(text, str) and "\n" not in text
