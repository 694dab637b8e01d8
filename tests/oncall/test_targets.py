"""Who an escalation step pages: targets to deliveries, and the problems found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tocsin.oncall.escalation import Target
from tocsin.oncall.schedule import Layer, Override, Rotation, Schedule
from tocsin.oncall.targets import Delivery, Directory, deliveries, through_schedule

AT = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class User:
    name: str
    email: str | None = None
    slack: str | None = None
    contact: list[str] = field(default_factory=list)
    full_name: str | None = None


@dataclass(frozen=True)
class Team:
    members: list[str] = field(default_factory=list)
    schedule: str | None = None


DAILY = Rotation("daily", "daily", ("alice", "bob"), datetime(2027, 1, 15), "UTC")
DIRECTORY = Directory(
    users={
        "alice": User("alice", "alice@example.com", contact=["pager"]),
        "bob": User("bob", contact=["pager", "sms"]),
        "mute": User("mute"),
    },
    teams={"ops": Team(schedule="primary"), "db": Team(members=["bob", "ghost"])},
    schedules={"primary": Schedule("primary", "UTC", (Layer(DAILY),))},
    channels={"slack"},
)
ALICE = {"name": "alice", "email": "alice@example.com", "slack": ""}
BOB = {"name": "bob", "email": "", "slack": ""}


def test_each_target_kind_and_its_problems_in_target_order() -> None:
    targets = tuple(
        Target.parse(t)
        for t in (
            "schedule:primary",
            "user:mute",
            "team:db",
            "channel:slack",
            "channel:nowhere",
            "schedule:none",
        )
    )
    found, problems = deliveries(targets, DIRECTORY, AT)
    assert found == [
        Delivery("schedule:primary", "pager", ALICE),
        Delivery("team:db", "pager", BOB),
        Delivery("team:db", "sms", BOB),
        Delivery("channel:slack", "slack", None),
    ]
    assert problems == [
        "user:mute: user 'mute' has no contact methods",
        "team:db: unknown user 'ghost'",
        "channel:nowhere: unknown channel 'nowhere'",
        "schedule:none: unknown schedule 'none'",
    ]


def test_overrides_apply_to_their_schedule() -> None:
    swap = Override("primary", AT, AT.replace(hour=9), "bob", replaces="alice")
    found, problems = deliveries((Target.parse("team:ops"),), DIRECTORY, AT, [swap])
    assert found == [Delivery("team:ops", "pager", BOB), Delivery("team:ops", "sms", BOB)]
    assert problems == []


def test_overrides_are_needed_only_through_a_known_schedule() -> None:
    assert through_schedule((Target.parse("team:ops"),), DIRECTORY)
    assert through_schedule((Target.parse("schedule:primary"),), DIRECTORY)
    assert not through_schedule((Target.parse("schedule:none"),), DIRECTORY)
    assert not through_schedule((Target.parse("team:db"), Target.parse("user:bob")), DIRECTORY)


def test_a_recipient_carries_their_time_zone_when_it_is_not_utc() -> None:
    """Issue 17, item 9: messages to a person show times in that person's zone."""

    @dataclass(frozen=True)
    class Zoned(User):
        timezone: str = "UTC"

    directory = Directory(
        users={"ana": Zoned("ana", contact=["pager"], timezone="America/Lima")},
        teams={},
        schedules={},
        channels=set(),
    )
    found, problems = deliveries((Target.parse("user:ana"),), directory, AT)
    assert not problems
    assert found == [
        Delivery(
            "user:ana",
            "pager",
            {"name": "ana", "email": "", "slack": "", "timezone": "America/Lima"},
        )
    ]


def test_a_full_name_reaches_the_message_context() -> None:
    """Issue 17, item 20: ``users[].full_name`` is read, not accepted and ignored."""
    directory = Directory(
        users={"ada": User("ada", contact=["pager"], full_name="Ada Lovelace")},
        teams={},
        schedules={},
        channels=set(),
    )
    found, problems = deliveries((Target.parse("user:ada"),), directory, AT)
    recipient = found[0].recipient
    assert not problems and recipient is not None and recipient["full_name"] == "Ada Lovelace"
