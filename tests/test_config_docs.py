"""Issue 17, item 22: docs/config.md names every key ``tocsin.yaml`` can hold."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tocsin.config.models import TocsinConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def _models(annotation: Any) -> list[tuple[type[BaseModel], str]]:
    """The models inside a field's type, each with how its keys are reached (``[]``: an item
    of a list, ``.*``: a value of a mapping)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, "")]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple):
        return [(m, "[]" + way) for arg in args for m, way in _models(arg)]
    if origin is dict:
        return [(m, ".*" + way) for m, way in _models(args[-1])]
    return [found for arg in args for found in _models(arg)]


def keys(model: type[BaseModel], prefix: str = "", seen: set[type] | None = None) -> list[str]:
    """Every key path of ``model``: ``channels[].smtp.host``; a model met again (a route's
    ``routes``) is not walked twice."""
    seen = set() if seen is None else seen
    found: list[str] = []
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        found.append(path)
        for inner, way in _models(field.annotation):
            if inner not in seen:
                seen.add(inner)
                found += keys(inner, f"{path}{way}.", seen)
    return list(dict.fromkeys(found))


def test_the_walk_finds_nested_keys() -> None:
    found = keys(TocsinConfig)
    assert "channels[].smtp.allow_plaintext_auth" in found
    assert "duties.severities.*.report" in found and "route.continue" in found
    assert len(found) > 120


def test_every_key_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [key for key in keys(TocsinConfig) if f"`{key}`" not in text]
    assert not missing, f"docs/config.md does not name: {', '.join(missing)}"
