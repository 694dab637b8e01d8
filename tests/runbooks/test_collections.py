"""Public runbook collections in styles the seeds and tests/runbooks/styles do not use, and one
hand-written collection (tests/runbooks/collections/<name>/runbooks/, each with its SOURCE.md
and licence): every alert
the text documents is found, with the severity the text gives it, no other name is taken for an
alert, every file yields alerts, and some commands have the language and risk a reader gives
them. The goldens (collections/expected.yaml) were written from the documents, not from tocsin.

The recall and severity accuracy over all of them are printed by
``pytest -s -q tests/runbooks/test_collections.py -k figures``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.model import Alert, Catalog

COLLECTIONS = Path(__file__).parent / "collections"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (COLLECTIONS / "expected.yaml").read_text(encoding="utf-8")
)
NAMES = sorted(EXPECTED)


@cache
def _catalog(name: str) -> Catalog:
    return load_catalog([COLLECTIONS / name / "runbooks"])


def _found(name: str) -> dict[str, Alert]:
    found: dict[str, Alert] = {}
    for _rb, alert in _catalog(name).alerts():
        found.setdefault(alert.name, alert)
    return found


def _severity_right(expected: str | list[str] | None, got: str | None) -> bool:
    if isinstance(expected, list):
        return got in expected
    return got == expected


@dataclass
class Figures:
    expected: int  # alerts the text documents
    found: int  # …that tocsin found
    stated: int  # alerts whose text states a severity
    stated_right: int  # …found with that severity
    unstated_right: int  # alerts with no severity in the text, found with none
    invented: list[str]  # names tocsin took for alerts that are not


def _figures(name: str) -> Figures:
    want: dict[str, Any] = EXPECTED[name]["alerts"]
    found = _found(name)
    allowed = set(EXPECTED[name].get("not_alerts") or [])

    def right(n: str) -> bool:
        return n in found and _severity_right(want[n], found[n].severity)

    return Figures(
        expected=len(want),
        found=sum(1 for n in want if n in found),
        stated=sum(1 for sev in want.values() if sev is not None),
        stated_right=sum(1 for n, sev in want.items() if sev is not None and right(n)),
        unstated_right=sum(1 for n, sev in want.items() if sev is None and right(n)),
        invented=sorted(n for n in found if n not in want and n not in allowed),
    )


def test_there_are_at_least_six_collections_each_with_its_source_and_licence() -> None:
    assert len(NAMES) >= 6
    for name in NAMES:
        source = (COLLECTIONS / name / "SOURCE.md").read_text(encoding="utf-8")
        assert "Licence:" in source and "Repository:" in source, name
        assert "SPDX" in source, name
        assert list((COLLECTIONS / name / "runbooks").glob("*.md")), name


@pytest.mark.parametrize("name", NAMES)
def test_every_documented_alert_is_found(name: str) -> None:
    found = _found(name)
    missing = [n for n in EXPECTED[name]["alerts"] if n not in found]
    assert not missing


@pytest.mark.parametrize("name", NAMES)
def test_severities_are_those_the_text_gives(name: str) -> None:
    found = _found(name)
    wrong = {
        n: (sev, found[n].severity, found[n].severity_raw)
        for n, sev in EXPECTED[name]["alerts"].items()
        if n in found and not _severity_right(sev, found[n].severity)
    }
    assert not wrong


@pytest.mark.parametrize("name", NAMES)
def test_nothing_else_is_taken_for_an_alert(name: str) -> None:
    assert not _figures(name).invented


@pytest.mark.parametrize("name", NAMES)
def test_every_file_is_read_as_a_runbook_with_alerts(name: str) -> None:
    catalog = _catalog(name)
    files = sorted((COLLECTIONS / name / "runbooks").glob("*.md"))
    assert len(catalog.runbooks) == len(files)
    assert all(rb.alerts for rb in catalog.runbooks)
    assert not [p for p in catalog.problems if p.code in ("no-alerts", "unparsable")]


@pytest.mark.parametrize("name", NAMES)
def test_commands_have_the_language_and_risk_a_reader_gives_them(name: str) -> None:
    found = _found(name)
    for want in EXPECTED[name]["commands"]:
        alert = found[want["alert"]]
        matching = [c for c in alert.commands() if want["code"] in c.code]
        assert matching, (want, [c.code for c in alert.commands()])
        assert [(c.language, c.risk) for c in matching][:1] == [(want["language"], want["risk"])]


def test_figures_recall_and_severity_accuracy_over_all_collections() -> None:
    rows = [(name, _figures(name)) for name in NAMES]
    print()
    header = ("collection", "alerts", "found", "stated", "right", "invented")
    print(f"{header[0]:<24} " + " ".join(f"{h:>8}" for h in header[1:]))
    for name, f in rows:
        print(
            f"{name:<24} {f.expected:>8} {f.found:>8} {f.stated:>8} {f.stated_right:>8} "
            f"{len(f.invented):>8}"
        )
    expected = sum(f.expected for _n, f in rows)
    found = sum(f.found for _n, f in rows)
    stated = sum(f.stated for _n, f in rows)
    right = sum(f.stated_right for _n, f in rows)
    unstated = expected - stated
    kept_none = sum(f.unstated_right for _n, f in rows)
    empty = sum(1 for n in NAMES for rb in _catalog(n).runbooks if not rb.alerts)
    print(
        f"alert recall {found}/{expected} = {found / expected:.1%}; "
        f"severity right {right}/{stated} = {right / stated:.1%} of the alerts whose text "
        f"states one; {kept_none}/{unstated} with none stated read with none; "
        f"files read as having no alerts: {empty}"
    )
    assert found == expected
    assert right / stated >= 0.98
    assert kept_none == unstated
    assert empty == 0
