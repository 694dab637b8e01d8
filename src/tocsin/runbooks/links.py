"""Where a runbook section can be read on the web: ``runbooks_url`` joined with the runbook's
path relative to the runbook directory it was found in, and the section's anchor.

The one builder of that link: pages, the incident record and the exported Prometheus rules
(``runbook_url`` annotations) all call ``section_url``. It never returns a local path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from tocsin.runbooks.text import slugify


def relative_path(source: str, roots: Iterable[str | Path]) -> str:
    """The runbook's path relative to the runbook directory (or file) it was read from, in
    POSIX form; a file outside every root is named by its file name alone."""
    path = Path(source)
    with contextlib.suppress(OSError):
        path = path.resolve()
    for raw in roots:
        root = Path(raw)
        with contextlib.suppress(OSError):
            root = root.resolve()
        if path == root:
            return path.name
        with contextlib.suppress(ValueError):
            return path.relative_to(root).as_posix()
    return PurePosixPath(path.as_posix()).name


def section_url(
    base: str | None, roots: Iterable[str | Path], source: str, title: str
) -> str | None:
    """``base`` (``runbooks_url``) + the runbook's path under its directory + ``#anchor`` of
    the section; None without a base."""
    if not base:
        return None
    return base.rstrip("/") + "/" + quote(relative_path(source, roots)) + f"#{slugify(title)}"
