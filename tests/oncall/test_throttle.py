"""The delivery lanes and each person's limit per contact method (issue 18 item 4): pure, on
numbers for time (no database, no clock)."""

from __future__ import annotations

import pytest

from tocsin.oncall.severity import DEFAULT_LEVELS
from tocsin.oncall.throttle import (
    TOP,
    Bucket,
    Held,
    Limit,
    decide,
    lane_name,
    priority,
    summary,
    take,
)

T0 = 1_800_000_000.0
SMS = Limit(2, 60.0)  # two at once, then one every 30 s


def test_lanes_order_severity_first_then_pages_before_information() -> None:
    lanes = {
        (kind, severity): priority(kind, severity, DEFAULT_LEVELS)
        for kind in ("escalation", "firing", "resolved", "acknowledged", "status_update")
        for severity in ("critical", "P1", "warning", None, "bogus")
    }
    assert lanes["escalation", "critical"] == lanes["firing", "P1"] == TOP
    assert lanes["resolved", "critical"] == 1
    assert lanes["escalation", "warning"] == 4 < lanes["resolved", "warning"] == 5
    # a critical acknowledgement still goes before a warning page: severity first
    assert lanes["acknowledged", "critical"] < lanes["escalation", "warning"]
    assert lanes["escalation", None] == lanes["escalation", "bogus"] == 8  # unrated: last
    assert max(lanes.values()) == lanes["status_update", None] == 9
    assert [lane_name(v, DEFAULT_LEVELS) for v in (0, 1, 4, 9)] == [
        "critical/page",
        "critical/info",
        "warning/page",
        "unrated/info",
    ]


def test_the_k_plus_first_message_within_the_window_is_held_until_a_token_refills() -> None:
    bucket: Bucket | None = None
    sent = []
    for n in range(3):
        d = decide(
            bucket, SMS, "escalation", priority("escalation", "warning", DEFAULT_LEVELS), T0 + n
        )
        bucket = d.bucket
        sent.append(d.send)
    assert sent == [True, True, False]
    held = decide(bucket, SMS, "resolved", 5, T0 + 3)
    assert not held.send and not held.bypassed
    # two tokens went at T0 and T0+1; the bucket refills one every 30 s, so at T0+3 it
    # holds 0.1 of a token: the next one is there 27 s later
    assert held.wait_s == pytest.approx(27.0)
    later, wait = take(held.bucket, SMS, T0 + 3 + held.wait_s)
    assert wait == 0 and later.tokens < 1e-9  # the summary takes the token that came back


def test_a_page_of_the_top_lane_is_never_held_and_counts() -> None:
    empty = Bucket(0.0, T0)
    page = decide(empty, SMS, "escalation", TOP, T0)
    assert page.send and page.bypassed and page.bucket.tokens == -1.0
    # its token is owed: what follows waits longer than after an empty bucket
    after = decide(page.bucket, SMS, "resolved", 1, T0)
    assert not after.send and after.wait_s == 60.0
    # debts stop at one burst
    deep = Bucket(-5.0, T0)
    assert decide(deep, SMS, "firing", TOP, T0).bucket.tokens == -2.0
    # a top-lane message that only informs is held like any other
    assert not decide(empty, SMS, "resolved", TOP, T0).send
    # a critical page within the limit is simply sent
    assert decide(None, SMS, "escalation", TOP, T0) == decide(None, SMS, "firing", 0, T0)


def test_the_summary_names_how_many_since_when_which_incidents_and_the_pages_to_ack() -> None:
    held = [
        Held(12, "resolved", "DiskFull host=a", "warning", "https://t/12", T0),
        Held(13, "escalation", "ApiDown", "warning", "https://t/13", T0 + 20),
        Held(12, "acknowledged", "DiskFull host=a", "warning", "https://t/12", T0 + 30),
        Held(14, "escalation", "QueueStuck", None, "https://t/14", T0 + 200),
    ]
    title, text = summary(held, SMS, "sms", T0 + 240)
    assert title == "4 messages held back in the last 4m: 3 incidents (#12, #13, #14)"
    assert text == (
        "4 messages held back in the last 4m: 3 incidents (#12, #13, #14).\n"
        "The limit of sms is 2 per 1m for each person.\n"
        "Pages waiting for acknowledgement:\n"
        "- #13 ApiDown (warning): https://t/13\n"
        "- #14 QueueStuck: https://t/14\n"
        "Also held: acknowledged of #12; resolved of #12."
    )
    one, _ = summary(held[:1], SMS, "sms", T0 + 5)
    assert one == "1 message held back in the last 1m: 1 incident (#12)"


def test_a_summary_of_a_storm_stays_short() -> None:
    held = [Held(n, "escalation", f"A{n}", "warning", f"https://t/{n}", T0) for n in range(500)]
    title, text = summary(held, SMS, "sms", T0 + 60)
    assert title.endswith(
        "500 incidents (#0, #1, #2, #3, #4, #5, #6, #7, #8, #9, #10, #11, "
        "#12, #13, #14, #15, #16, #17, #18, #19 and 480 more)"
    )
    assert text.count("\n- ") == 21 and text.endswith("- and 480 more")
    assert len(text) < 3000
