"""Shared test fixtures: where ../shared (seeds and corpus) lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TOCSIN_SHARED", REPO.parent / "shared"))
EXAMPLES = REPO / "examples" / "runbooks"


@pytest.fixture
def seeds_dir() -> Path:
    path = SHARED / "seeds"
    if not path.is_dir():
        pytest.skip(f"the seed runbooks are not at {path} (set TOCSIN_SHARED to ../shared)")
    return path


@pytest.fixture
def corpus_dir() -> Path:
    path = SHARED / "corpus" / "prometheus-operator"
    if not path.is_dir():
        pytest.skip(f"the runbook corpus is not at {path} (set TOCSIN_SHARED to ../shared)")
    return path


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
