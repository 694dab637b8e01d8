"""Inhibition with Alertmanager's semantics: a firing source alert mutes target alerts that
match the target matchers and have equal values for the ``equal`` labels. An alert that
matches both sides of a rule does not inhibit itself."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tocsin.alerts.matchers import Matcher, matches_all


@dataclass(frozen=True)
class InhibitRule:
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def is_source(self, labels: Mapping[str, str]) -> bool:
        return matches_all(list(self.source_matchers), labels)

    def is_target(self, labels: Mapping[str, str]) -> bool:
        return matches_all(list(self.target_matchers), labels)

    def equal_key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(name, "") for name in self.equal)


def inhibited_by(
    rules: Iterable[InhibitRule],
    labels: Mapping[str, str],
    fingerprint: str,
    firing: Iterable[tuple[str, Mapping[str, str]]],
) -> list[str]:
    """The fingerprint of the firing alert that inhibits this one (a list, as the API shows
    it), or an empty list."""
    firing = list(firing)
    found: list[str] = []
    for rule in rules:
        if not rule.is_target(labels):
            continue
        key = rule.equal_key(labels)
        for source_fp, source_labels in firing:
            if source_fp == fingerprint:
                continue
            if rule.is_source(source_labels) and rule.equal_key(source_labels) == key:
                # Alertmanager: an alert that is both source and target of a rule is only
                # inhibited by a source that is not itself a target
                if rule.is_target(source_labels) and rule.is_source(labels):
                    continue
                return [source_fp]  # Alertmanager records the first inhibiting alert
    return found
