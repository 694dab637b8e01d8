"""Severity levels: names, aliases, ordering and import from a runbook's table."""

from __future__ import annotations

from tocsin.oncall.severity import DEFAULT_LEVELS, Level, from_runbook, highest, level_of, rank
from tocsin.runbooks.model import SeverityLevel


def test_level_by_name_alias_or_normalization() -> None:
    assert level_of(DEFAULT_LEVELS, "critical") == DEFAULT_LEVELS[0]
    assert level_of(DEFAULT_LEVELS, "P1") == DEFAULT_LEVELS[0]
    assert level_of(DEFAULT_LEVELS, "SEV-2") == DEFAULT_LEVELS[1]
    assert level_of(DEFAULT_LEVELS, "P3 - Warning") == DEFAULT_LEVELS[2]
    assert level_of(DEFAULT_LEVELS, "whatever") is None
    assert level_of(DEFAULT_LEVELS, None) is None


def test_highest_and_rank() -> None:
    assert highest(DEFAULT_LEVELS, ["warning", None, "critical", "info"]) == "critical"
    assert highest(DEFAULT_LEVELS, ["odd", "warning"]) == "warning"
    assert highest(DEFAULT_LEVELS, ["odd"]) == "odd"
    assert highest(DEFAULT_LEVELS, []) is None
    assert rank(DEFAULT_LEVELS, "p2") == 1 and rank(DEFAULT_LEVELS, "odd") == 4


def test_levels_from_a_runbook_table() -> None:
    rows = [
        SeverityLevel(name="P1 - Critical", level="critical", response_time_s=300),
        SeverityLevel(name="P2 - High", level="high", response_time_s=900),
        SeverityLevel(name="P4 - Info", level="info", response_time_s=None),
        SeverityLevel(name="P3 - Warning", level="warning", response_time_s=3600),
    ]
    levels = from_runbook(rows)
    assert [lv.name for lv in levels] == ["critical", "high", "warning", "info"]
    assert levels[0] == Level("critical", 300.0, ("P1", "P1 - Critical"))
    assert levels[3].ack_deadline_s is None
    assert level_of(levels, "p1") == levels[0]


def test_lookups_follow_the_levels_given_not_an_earlier_answer() -> None:
    """level_of and rank keep an index of a tuple of levels (the configuration's); a list is
    looked through each time, and the first level naming a value wins, as a scan would."""
    levels = [Level("sev-a", aliases=("shared",)), Level("sev-b", aliases=("shared",))]
    assert level_of(levels, "shared") == levels[0]
    assert rank(tuple(levels), "shared") == 0
    levels.reverse()  # the same list, changed: no stale answer
    assert level_of(levels, "shared") == levels[0]
    assert level_of(levels, "SEV-A") == Level("sev-a", aliases=("shared",))
    other = (Level("critical"), Level("warning"))  # another tuple: its own index
    assert rank(other, "warning") == 1
    assert rank(DEFAULT_LEVELS, "warning") == 2
    assert highest(other, ["nonsense", "warning", None]) == "warning"
