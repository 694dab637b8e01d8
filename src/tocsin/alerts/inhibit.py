"""Inhibition with Alertmanager's semantics: a firing source alert mutes target alerts that
match the target matchers and have equal values for the ``equal`` labels. An alert that
matches both sides of a rule does not inhibit itself."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


class Inhibition:
    """The inhibition sources among the firing alerts, found once and indexed by each rule's
    ``equal`` values, for asking about many alerts (a flush, a listing of every alert): each
    question is a lookup, not a pass over every firing alert."""

    def __init__(
        self, rules: Sequence[InhibitRule], firing: Iterable[tuple[str, Mapping[str, str]]]
    ) -> None:
        self.rules = rules
        self._firing = firing if isinstance(firing, list) else list(firing)
        # per rule (built when an alert is first a target of it): equal values -> the
        # sources with them, in the order given, and whether each is also a target
        self._sources: dict[int, dict[tuple[str, ...], list[tuple[str, bool]]]] = {}

    def _index(self, n: int, rule: InhibitRule) -> dict[tuple[str, ...], list[tuple[str, bool]]]:
        found = self._sources.get(n)
        if found is None:
            found = self._sources[n] = {}
            for source_fp, source_labels in self._firing:
                if rule.is_source(source_labels):
                    found.setdefault(rule.equal_key(source_labels), []).append(
                        (source_fp, rule.is_target(source_labels))
                    )
        return found

    def inhibited_by(self, labels: Mapping[str, str], fingerprint: str) -> list[str]:
        """The fingerprint of the firing alert that inhibits this one (a list, as the API
        shows it), or an empty list."""
        for n, rule in enumerate(self.rules):
            if not rule.is_target(labels):
                continue
            for source_fp, source_is_target in self._index(n, rule).get(rule.equal_key(labels), ()):
                if source_fp == fingerprint:
                    continue
                # Alertmanager: an alert that is both source and target of a rule is only
                # inhibited by a source that is not itself a target
                if source_is_target and rule.is_source(labels):
                    continue
                return [source_fp]  # Alertmanager records the first inhibiting alert
        return []


def inhibited_by(
    rules: Sequence[InhibitRule],
    labels: Mapping[str, str],
    fingerprint: str,
    firing: Iterable[tuple[str, Mapping[str, str]]],
) -> list[str]:
    """``Inhibition.inhibited_by`` for one alert."""
    return Inhibition(rules, firing).inhibited_by(labels, fingerprint)
