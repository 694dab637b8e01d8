"""Who and where an escalation step pages (pure): its targets resolved to deliveries.

Part of the escalate stage. A step names targets (``user:alice``, ``schedule:primary``,
``team:platform``, ``channel:ops``); each becomes deliveries (a person's contact channels, a
channel as it is) or a problem to put on the timeline (nobody on call, a user without contact
methods), never silence. The engine reads the schedule overrides only when a target goes
through a schedule (``through_schedule``), then passes them in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tocsin.oncall.contacts import ADDRESS_KIND, Profile, Skipped, from_contact, plan
from tocsin.oncall.escalation import Target
from tocsin.oncall.schedule import Override, Schedule, on_call


class Person(Protocol):
    """A configured user, as paging reads one."""

    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def slack(self) -> str | None: ...
    @property
    def contact(self) -> Sequence[str]: ...
    @property
    def full_name(self) -> str | None: ...


class Team(Protocol):
    """A configured team: its schedule, else all its members, is paged."""

    @property
    def members(self) -> Sequence[str]: ...
    @property
    def schedule(self) -> str | None: ...


@dataclass(frozen=True)
class Delivery:
    target: str  # what the policy named: schedule:primary, user:alice, channel:slack
    channel: str
    recipient: dict[str, str] | None  # the person paged, if any
    after_s: float = 0.0  # a person's rule: sent this long after the step
    key: str = ""  # its part of the idempotency key (default: the channel)

    @property
    def key_part(self) -> str:
        return self.key or self.channel


@dataclass(frozen=True)
class Skip:
    """A person's rule not followed when a step paged them (a method not verified)."""

    target: str
    person: str
    skipped: Skipped


@dataclass(frozen=True)
class Directory:
    """The people, teams, schedules and channels targets are looked up in."""

    users: Mapping[str, Person]
    teams: Mapping[str, Team]
    schedules: Mapping[str, Schedule]
    channels: Collection[str]
    # each person's methods and rules in force (``oncall.contacts``); a person not here
    # is paged through ``contact:`` as before
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    channel_types: Mapping[str, str] = field(default_factory=dict)  # name -> type


def through_schedule(targets: Sequence[Target], directory: Directory) -> bool:
    """Whether paging ``targets`` asks who is on call in a known schedule (and so needs the
    schedule overrides)."""
    for target in targets:
        name: str | None = target.name if target.kind == "schedule" else None
        if target.kind == "team":
            team = directory.teams.get(target.name)
            name = team.schedule if team is not None else None
        if name is not None and name in directory.schedules:
            return True
    return False


def deliveries(
    targets: Sequence[Target],
    directory: Directory,
    when: datetime,
    overrides: Sequence[Override] = (),
    skips: list[Skip] | None = None,
) -> tuple[list[Delivery], list[str]]:
    """Who and where ``targets`` page at ``when``, and the problems found, in target order.
    A person is paged by their rules (``oncall.contacts.plan``): one delivery per rule, due
    ``after_s`` after the step; the rules skipped go to ``skips`` when given."""
    out: list[Delivery] = []
    problems: list[str] = []

    def person(name: str, via: str) -> None:
        user = directory.users.get(name)
        if user is None:
            problems.append(f"{via}: unknown user {name!r}")
            return
        profile = directory.profiles.get(name)
        if profile is None:
            profile = Profile(*from_contact(user.contact), origin="legacy")
        if not profile.methods or not profile.rules:
            problems.append(f"{via}: user {name!r} has no contact methods")
            return
        recipient = {"name": user.name, "email": user.email or "", "slack": user.slack or ""}
        if user.full_name:
            recipient["full_name"] = user.full_name  # how their messages greet them
        phone = getattr(user, "phone", None)
        if phone:
            recipient["phone"] = phone  # the number an SMS or a call goes to (E.164)
        zone = getattr(user, "timezone", None)
        if zone and zone != "UTC":
            recipient["timezone"] = zone  # the times in their messages are in it
        phone = getattr(user, "phone", None)
        if phone:
            recipient["phone"] = phone  # where SMS and voice reach them
        legacy = profile.origin == "legacy"
        planned, skipped = plan(
            profile.methods, profile.rules, directory.channel_types, user, legacy=legacy
        )
        if skips is not None:
            skips.extend(Skip(via, name, s) for s in skipped)
        if not planned:
            problems.append(f"{via}: user {name!r} has no usable contact method")
        for p in planned:
            if p.legacy:  # paged as before contact methods existed
                out.append(Delivery(via, p.channel, recipient))
                continue
            own = {**recipient, "contact": p.contact}
            if p.address:
                own["address"] = p.address
                kind = ADDRESS_KIND.get(directory.channel_types.get(p.channel, ""))
                if kind is not None:
                    own[kind] = p.address  # the channels that read slack/email/phone find it
            out.append(Delivery(via, p.channel, own, p.after_s, p.key))

    def scheduled(name: str, via: str) -> None:
        schedule = directory.schedules.get(name)
        if schedule is None:
            problems.append(f"{via}: unknown schedule {name!r}")
            return
        users = on_call(schedule, when, [o for o in overrides if o.schedule == name])
        if not users:
            problems.append(f"{via}: nobody is on call in schedule {name!r}")
        for user in users:
            person(user, via)

    for target in targets:
        via = str(target)
        if target.kind == "user":
            person(target.name, via)
        elif target.kind == "schedule":
            scheduled(target.name, via)
        elif target.kind == "team":
            team = directory.teams.get(target.name)
            if team is None:
                problems.append(f"{via}: unknown team {target.name!r}")
            elif team.schedule:
                scheduled(team.schedule, via)
            else:
                for member in team.members:
                    person(member, via)
        elif target.name in directory.channels:
            out.append(Delivery(via, target.name, None))
        else:
            problems.append(f"{via}: unknown channel {target.name!r}")
    return out, problems
