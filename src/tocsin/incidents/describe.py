"""How an incident is described to people: its title and what its alerts share (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tocsin.alerts.model import Alert


def common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The pairs every map has (Alertmanager's CommonLabels / CommonAnnotations)."""
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def incident_title(group_labels: dict[str, str], alerts: list[Alert]) -> str:
    """``AlertName label=value …`` from the group labels, naming the alert when the group
    does not."""
    names = sorted({a.name for a in alerts if a.name})
    head = group_labels.get("alertname") or (names[0] if len(names) == 1 else "")
    if not head:
        head = f"{len(names)} alerts" if names else "alerts"
    rest = " ".join(f"{k}={v}" for k, v in sorted(group_labels.items()) if k != "alertname")
    return f"{head} {rest}".strip()[:200]
