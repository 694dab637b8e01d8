"""Reading runbook files and directories into a Catalog: the only part of ``runbooks/`` that
touches the file system.

Bad input never stops the catalog: an unreadable, binary, non-UTF-8, empty or oversized file
becomes a problem entry and every other file still loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from tocsin.runbooks.lint import lint_catalog, lint_document
from tocsin.runbooks.model import Catalog, Problem
from tocsin.runbooks.parse import parse_runbook

SUFFIXES = frozenset({".md", ".markdown", ".txt"})
# Runbooks are kilobytes; a file this large is not one, and reading it would only cost time.
MAX_FILE_BYTES = 4 * 1024 * 1024


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Files named, and the runbook files (.md, .markdown, .txt) below directories named,
    in a stable order. Hidden files and directories are skipped when walking."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    candidate = Path(root) / name
                    if not name.startswith(".") and candidate.suffix.lower() in SUFFIXES:
                        files.append(candidate)
        elif path.exists():
            files.append(path)
        else:
            problems.append(_problem(str(path), "not-found", "no such file or directory"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve() if f.exists() else f
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


def _problem(source: str, code: str, message: str, level: str = "error") -> Problem:
    return Problem(
        source=source,
        line=None,
        level="error" if level == "error" else "warning",
        code=code,
        message=message,
    )


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[str | None, Problem | None]:
    """The file's text, or the problem that stops it from being a runbook."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, _problem(
                source,
                "too-large",
                f"{size:,} bytes is more than the {max_bytes:,} a runbook may have; skipped",
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except IsADirectoryError:
        return None, _problem(source, "unreadable", "is a directory")
    except OSError as exc:
        return None, _problem(source, "unreadable", exc.strerror or str(exc))
    if len(data) > max_bytes:
        return None, _problem(source, "too-large", f"more than {max_bytes:,} bytes; skipped")
    if b"\x00" in data:
        return None, _problem(source, "binary", "binary file (NUL bytes), not Markdown")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, _problem(
            source,
            "encoding",
            f"not UTF-8: invalid byte 0x{data[exc.start]:02x} at offset {exc.start}",
        )
    if not text.strip():
        return None, _problem(source, "empty", "empty file", level="warning")
    return text, None


def load_catalog(
    paths: Iterable[str | Path], today: date | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Catalog:
    """Read every runbook under ``paths`` into one catalog with its lint problems."""
    files, problems = discover(paths)
    catalog = Catalog(problems=problems)
    for path in files:
        text, problem = read_text(path, max_bytes)
        if problem is not None:
            catalog.problems.append(problem)
            continue
        assert text is not None
        try:
            runbook, doc_problems, document = parse_runbook(text, str(path))
        except Exception as exc:  # one unreadable file never stops the catalog
            catalog.problems.append(
                _problem(
                    str(path),
                    "unparsable",
                    f"cannot be read as a runbook ({type(exc).__name__}: {str(exc)[:200]})",
                )
            )
            continue
        catalog.runbooks.append(runbook)
        catalog.problems.extend(doc_problems)
        catalog.problems.extend(lint_document(document, runbook))
    catalog.problems.extend(lint_catalog(catalog, today or date.today()))
    return catalog
