"""``--help`` that reads well: words for what an option takes, none for a flag.

Typer labels every parameter with its Python type (``<bool>`` beside each flag,
``<list[Path]>`` beside a list of paths). ``readable`` gives every command and group of an
app a help formatter that names the value a person types instead (``PATH...``, ``N``,
``TEXT``, ``DURATION``) and leaves flags bare. An option that sets its own ``metavar`` keeps it.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

WORDS: dict[Any, str] = {
    int: "N",
    float: "NUMBER",
    str: "TEXT",
    Path: "PATH",
    datetime.datetime: "TIME",
}


def word(param: Any) -> str | None:
    """What a person types for ``param``: ``None`` for a flag (nothing to type)."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    if param.metavar is not None:  # an argument shows it as its name already
        return None if param.param_type_name == "argument" else str(param.metavar)
    described = param.type_descriptor
    if described.is_choice and described.choices:
        text = "|".join(str(getattr(c, "value", c)) for c in described.choices)
    elif described.is_path:
        text = "PATH"
    else:
        annotation = described.annotation
        args = getattr(annotation, "__args__", ())
        inner = args[0] if described.is_list and args else annotation
        text = WORDS.get(inner, getattr(inner, "__name__", "VALUE").upper())
    plural = described.is_list or param.nargs != 1
    return f"{text}..." if plural else text


def _label(params: list[Any]) -> None:
    for param in params:
        label = word(param)
        # typer reads the label through this method; a per-parameter answer replaces it
        param.display_type_rich = lambda ctx, label=label: label


class Command(TyperCommand):
    """A command whose help names values in words."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _label(self.get_params(ctx))
        super().format_help(ctx, formatter)


class Group(TyperGroup):
    """A group whose help names values in words."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _label(self.get_params(ctx))
        super().format_help(ctx, formatter)


def _chosen(cls: Any) -> bool:
    """Whether a command or group names a class of its own (typer's default is a placeholder)."""
    return isinstance(cls, type) and cls not in (TyperGroup,)


def readable(app: typer.Typer) -> None:
    """Give ``app``'s commands and groups, all the way down, the readable help."""
    if not _chosen(app.info.cls):
        app.info.cls = Group
    for command in app.registered_commands:
        if not _chosen(command.cls) or command.cls is TyperCommand:
            command.cls = Command
    for group in app.registered_groups:
        if not _chosen(group.cls):
            group.cls = Group
        if group.typer_instance is not None:
            readable(group.typer_instance)
