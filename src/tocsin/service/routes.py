"""What routing and paging would do with an alert, before it fires: the routes it matches,
their receivers, channels and escalation policy, and whom each step of the first round would
page (``tocsin routes test``, the console's "test labels")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tocsin import times
from tocsin.config import Config
from tocsin.oncall.schedule import Override


def route_plan(
    loaded: Config, alert: dict[str, str], now: datetime, overrides: Sequence[Override] = ()
) -> dict[str, Any]:
    """What routing and paging would do with ``alert`` from ``now``: per matched route, its
    receiver, channels, policy and the steps that apply, each with whom it pages then (the
    schedules as configured, with ``overrides`` where given: a server's)."""
    from tocsin.oncall.escalation import Policy, State, advance
    from tocsin.oncall.severity import level_of
    from tocsin.oncall.targets import Directory, deliveries
    from tocsin.routing.tree import format_labels

    paging = loaded.paging
    # each person by the configuration's rules (a person's own, in the database, are not read)
    directory = Directory(
        paging.users,
        paging.teams,
        paging.schedules,
        paging.channels,
        paging.profiles,
        paging.channel_types,
    )
    severity = alert.get(paging.severity_label)
    level = level_of(paging.levels, severity)
    routes: list[dict[str, Any]] = []
    for route in loaded.route.match(alert):
        name = route.escalation_policy
        policy: Policy | None = paging.policies.get(name) if name else None
        steps: list[dict[str, Any]] = []
        labels = dict(alert)
        if level is not None:
            labels[paging.severity_label] = level.name
        own = policy is not None and policy.for_labels(labels) is not policy
        notes: list[str] = []
        if policy is not None:
            notes = [n for n in policy.notes if _concerns(n, alert)]
            policy = policy.for_labels(labels)
            at = now.timestamp() + route.group_wait_s
            state, page = advance(policy, State(), labels, at)
            while page is not None and page.round == 0:  # the first round: what people meet
                found, problems = deliveries(page.targets, directory, times.to_dt(at), overrides)
                paged: dict[str, list[str]] = {}
                for d in found:
                    who = d.recipient["name"] if d.recipient else f"channel {d.channel}"
                    paged.setdefault(who, [])
                    if d.recipient:
                        paged[who].append(d.channel)
                steps.append(
                    {
                        "step": page.step + 1,
                        "after_s": at - now.timestamp(),
                        "targets": [str(t) for t in page.targets],
                        "paged": [{"who": w, "channels": c} for w, c in paged.items()],
                        "problems": problems,
                    }
                )
                if state.next_at is None:
                    break
                at = state.next_at
                state, page = advance(policy, state, labels, at)
        routes.append(
            {
                "route": route.key,
                "receiver": route.receiver,
                "continue": route.continue_,
                "group_by": ["..."] if route.group_by_all else list(route.group_by),
                "group_key": route.group_key(alert),
                "group_wait_s": route.group_wait_s,
                "channels": route.channels,
                "policy": name,
                "policy_missing": name is not None and policy is None,
                "repeat": policy.repeat if policy else 0,
                "steps": steps,
                "own_path": own,  # the alert's own escalation path in the runbook
                "notes": notes,
            }
        )
    return {
        "alert": format_labels(alert),
        "alertname": alert.get("alertname"),
        "at": times.to_dt(now.timestamp()).isoformat(timespec="seconds"),
        "severity": level.name if level else severity,
        "ack_deadline_s": level.ack_deadline_s if level else None,
        "routes": routes,
    }


def _concerns(note: str, alert: dict[str, str]) -> bool:
    """Whether a policy's note is about this alert (notes name the alert they concern)."""
    name = alert.get("alertname")
    return bool(name) and f"{name}'s own escalation path" in note
