"""Personal notification rules (pure): what a person's methods and rules are checked for, what
a step that pages them makes, and the verification code's rules. No database, no clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tocsin.oncall.contacts import (
    CODE_TRIES,
    MAX_AFTER_S,
    Method,
    Pending,
    Planned,
    Profile,
    Rule,
    Skipped,
    check_code,
    code_hash,
    from_contact,
    plan,
    problems,
    said,
)
from tocsin.oncall.escalation import Target
from tocsin.oncall.targets import Delivery, Directory, Skip, deliveries

TYPES = {"slack-app": "slack", "mail": "email", "sms": "sms", "voice": "voice", "hook": "webhook"}


@dataclass(frozen=True)
class Person:
    name: str = "alice"
    email: str | None = "alice@example.com"
    slack: str | None = "U0ALICE01"
    phone: str | None = "+15551230001"
    contact: tuple[str, ...] = ()
    full_name: str | None = None


ALICE = Person()
METHODS = (
    Method("slack-dm", "slack-app"),
    Method("phone", "sms"),
    Method("call", "voice", "+15551230002"),
)
RULES = (Rule("slack-dm", 0), Rule("phone", 120), Rule("call", 300))


def test_a_good_profile_has_no_problems() -> None:
    assert problems(METHODS, RULES, TYPES, ALICE) == []


@pytest.mark.parametrize(
    ("methods", "rules", "where", "message"),
    [
        (
            (Method("x", "nowhere"),),
            (Rule("x"),),
            ("contact_methods", 0, "channel"),
            "unknown channel 'nowhere'",
        ),
        (
            (Method("m", "mail"),),
            (Rule("ghost"),),
            ("notification_rules", 0, "contact"),
            "unknown contact method 'ghost'",
        ),
        (
            (Method("bad name!", "mail"),),
            (Rule("bad name!"),),
            ("contact_methods", 0, "name"),
            "a name is 1 to 40",
        ),
        (
            (Method("m", "mail", "not-an-address"),),
            (Rule("m"),),
            ("contact_methods", 0, "address"),
            "is not an email address",
        ),
        (
            (Method("p", "sms", "5551234"),),
            (Rule("p"),),
            ("contact_methods", 0, "address"),
            "E.164",
        ),
        (
            (Method("s", "slack-app", "alice"),),
            (Rule("s"),),
            ("contact_methods", 0, "address"),
            "Slack member ID",
        ),
        (
            (Method("h", "hook", "x"),),
            (Rule("h"),),
            ("contact_methods", 0, "address"),
            "takes no address",
        ),
        (
            (Method("m", "mail"), Method("m", "sms")),
            (Rule("m"),),
            ("contact_methods", 1, "name"),
            "named twice",
        ),
        (
            (Method("m", "mail"),),
            (Rule("m", MAX_AFTER_S + 1),),
            ("notification_rules", 0, "after"),
            "between 0s and 1h",
        ),
        (
            (Method("m", "mail"),),
            (Rule("m", 60), Rule("m", 60)),
            ("notification_rules", 1, "contact"),
            "given twice",
        ),
    ],
)
def test_each_problem_at_its_place(
    methods: tuple[Method, ...], rules: tuple[Rule, ...], where: tuple[object, ...], message: str
) -> None:
    found = problems(methods, rules, TYPES, ALICE)
    assert [p.where for p in found] == [where]
    assert message in found[0].message


def test_a_method_with_no_address_for_its_type() -> None:
    nobody = Person(email=None, slack=None, phone=None)
    found = problems(METHODS, RULES, TYPES, nobody)
    assert [p.where for p in found] == [
        ("contact_methods", 0, "address"),
        ("contact_methods", 1, "address"),
    ]
    assert "needs a Slack member ID" in found[0].message
    assert "needs an E.164 phone number" in found[1].message


def test_bounds() -> None:
    many = tuple(Method(f"m{i}", "hook") for i in range(11))
    found = problems(many, (Rule("m0"),), TYPES, ALICE)
    assert [p.message for p in found] == ["at most 10 contact methods"]
    rules = tuple(Rule("m0", i) for i in range(11))
    found = problems(many[:1], rules, TYPES, ALICE)
    assert [p.message for p in found] == ["at most 10 notification rules"]


def test_plan_in_time_order_with_addresses_from_the_person() -> None:
    planned, skipped = plan(METHODS, tuple(reversed(RULES)), TYPES, ALICE)
    assert planned == [
        Planned("slack-dm", "slack-app", "U0ALICE01", 0),
        Planned("phone", "sms", "+15551230001", 120),
        Planned("call", "voice", "+15551230002", 300),
    ]
    assert skipped == []
    assert [p.key for p in planned] == [
        "slack-app:slack-dm:0s",
        "sms:phone:120s",
        "voice:call:300s",
    ]


def test_an_unverified_method_the_person_added_is_skipped() -> None:
    methods = (*METHODS[:2], Method("call", "voice", "+15551230002", "user", verified=False))
    planned, skipped = plan(methods, RULES, TYPES, ALICE)
    assert [p.contact for p in planned] == ["slack-dm", "phone"]
    assert skipped == [Skipped("call", "voice", "not verified")]
    # a webhook reaches no person: nothing to verify
    hook = (Method("hook", "hook", None, "user", verified=False),)
    assert plan(hook, (Rule("hook"),), TYPES, ALICE)[0][0].contact == "hook"


def test_contact_means_methods_of_those_channels_at_once() -> None:
    methods, rules = from_contact(["mail", "sms", "mail"])
    assert methods == (Method("mail", "mail"), Method("sms", "sms"))
    assert rules == (Rule("mail"), Rule("sms"))
    planned, _ = plan(methods, rules, TYPES, ALICE, legacy=True)
    assert [p.key for p in planned] == ["mail", "sms"]  # the idempotency keys of before


def test_a_step_pages_by_the_rules() -> None:
    directory = Directory(
        users={"alice": ALICE},
        teams={},
        schedules={},
        channels=set(TYPES),
        profiles={"alice": Profile(METHODS, RULES, "config")},
        channel_types=TYPES,
    )
    skips: list[Skip] = []
    found, problems_found = deliveries((Target.parse("user:alice"),), directory, _AT, skips=skips)
    assert problems_found == [] and skips == []
    assert [(d.channel, d.after_s, d.key_part) for d in found] == [
        ("slack-app", 0, "slack-app:slack-dm:0s"),
        ("sms", 120, "sms:phone:120s"),
        ("voice", 300, "voice:call:300s"),
    ]
    call = found[2].recipient
    assert call is not None
    assert call["contact"] == "call" and call["address"] == "+15551230002"
    assert call["phone"] == "+15551230002"  # what an SMS or voice channel reads
    assert found[0].recipient is not None and found[0].recipient["slack"] == "U0ALICE01"


def test_a_legacy_person_is_paged_as_before() -> None:
    legacy = Person(contact=("mail",), phone=None)
    directory = Directory(users={"alice": legacy}, teams={}, schedules={}, channels=set())
    found, _ = deliveries((Target.parse("user:alice"),), directory, _AT)
    assert found == [
        Delivery(
            "user:alice",
            "mail",
            {"name": "alice", "email": "alice@example.com", "slack": "U0ALICE01"},
        )
    ]


def test_the_code_rules() -> None:
    good = code_hash("k", "alice", "call", "123456")
    assert good != code_hash("k", "alice", "phone", "123456")  # bound to the method
    pending = Pending(good, expires_at=1000.0)
    assert check_code(None, good, 0) == "none"
    assert check_code(pending, good, 999.0) == "verified"
    assert check_code(pending, code_hash("k", "alice", "call", "000000"), 10) == "wrong"
    assert check_code(pending, good, 1000.0) == "expired"
    assert check_code(Pending(good, 1000.0, CODE_TRIES), good, 10) == "used_up"


def test_what_the_timeline_says_was_cancelled() -> None:
    assert said([("alice", "phone"), ("alice", "call")]) == "alice by phone, alice by call"


from datetime import UTC, datetime  # noqa: E402

_AT = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
