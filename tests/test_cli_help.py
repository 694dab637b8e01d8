"""Issue 17, item 21: every command's ``--help`` reads well."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from tocsin.cli import app

runner = CliRunner()


def _paths(typer_app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for command in typer_app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        found.append((*prefix, name.replace("_", "-")))
    for group in typer_app.registered_groups:
        if group.typer_instance is not None and group.name:
            found += _paths(group.typer_instance, (*prefix, group.name))
    return found


COMMANDS = _paths(app)


def test_every_command_is_walked() -> None:
    assert ("actions", "add") in COMMANDS and ("serve",) in COMMANDS and len(COMMANDS) > 25


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_names_values_in_words(path: tuple[str, ...]) -> None:
    shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert shown.exit_code == 0, shown.output
    text = shown.output
    # no Python types: <bool> beside flags, <list[Path]> beside paths, <str>, <int>
    assert not re.search(r"<(bool|str|int|float|path|list\[[^\]]*\])>", text, re.I), text
    assert "``" not in text, text  # RST markup is not shown literally
    # every option has a description
    for line in text.splitlines():
        cells = line.strip("│ ").split()
        if cells and cells[0].startswith("--") and cells[0] != "--help":
            assert len(cells) > 1, f"{' '.join(path)}: {cells[0]} has no description"


def test_a_description_is_not_broken_mid_sentence() -> None:
    """A docstring wrapped in the source reads as one paragraph in the help."""
    shown = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    summary = [line for line in shown.output.splitlines() if "Response times" in line]
    assert summary and "runbook coverage" in summary[0], shown.output


def test_the_options_of_actions_add_say_different_things() -> None:
    shown = runner.invoke(app, ["actions", "add", "--help"], env={"COLUMNS": "120"})
    owner = next(line for line in shown.output.splitlines() if "--owner" in line)
    by = next(line for line in shown.output.splitlines() if "--by" in line)
    assert owner.split("--owner")[1].strip() != by.split("--by")[1].strip()
