# Quick start: `make run` (tocsin's main job on the embedded default) and `make test` (the whole
# suite). Both create or refresh .venv from pyproject.toml; nothing is installed by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tocsin runbooks list examples/runbooks
	$(BIN)/tocsin runbooks lint examples/runbooks
	$(BIN)/tocsin serve --config examples/tocsin.yaml --data-dir data

test: $(STAMP)
	sh scripts/install-test-tools.sh
	$(MAKE) --no-print-directory check

check: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest --durations=10

bench: $(STAMP)
	$(BIN)/python bench/parse_catalog.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
