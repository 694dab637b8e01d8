"""Bad input: every kind of broken file gives a problem entry and the rest still loads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tocsin.runbooks.loader import MAX_FILE_BYTES, discover, load_catalog

GOOD = "## Alerts\n\n### DiskFull\n\n**Severity:** warning\n\n#### Fix\n- `df -h`\n"


def _codes(paths: list[Path]) -> dict[str, str]:
    catalog = load_catalog(paths)
    assert [a.name for _rb, a in catalog.alerts()] == ["DiskFull"], "the good file must load"
    return {Path(p.source).name: p.code for p in catalog.problems if p.code != "no-actions"}


def test_each_bad_file_is_a_problem_and_the_good_one_loads(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text(GOOD)
    (tmp_path / "binary.md").write_bytes(b"# Title\x00\x01\x02")
    (tmp_path / "latin1.md").write_bytes("# Caf\xe9 runbook\n".encode("latin-1"))
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "blank.md").write_text("  \n\n")
    big = tmp_path / "huge.md"
    with big.open("wb") as handle:  # 50 MB, sparse: costs no disk
        handle.truncate(50 * 1024 * 1024)
    codes = _codes([tmp_path])
    assert codes == {
        "binary.md": "binary",
        "latin1.md": "encoding",
        "empty.md": "empty",
        "blank.md": "empty",
        "huge.md": "too-large",
    }


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text(GOOD)
    if os.geteuid() != 0:
        locked = tmp_path / "locked.md"
        locked.write_text(GOOD)
        locked.chmod(0)
        codes = _codes([tmp_path])
        assert codes == {"locked.md": "unreadable"}
    # root reads any file; /proc/self/mem refuses reads at offset 0 for everyone
    catalog = load_catalog([tmp_path / "good.md", Path("/proc/self/mem")])
    problems = [p for p in catalog.problems if p.source == "/proc/self/mem"]
    assert [p.code for p in problems] == ["unreadable"]
    assert len(catalog.alerts()) == 1


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text(GOOD)
    codes = _codes([tmp_path / "good.md", tmp_path / "nope.md"])
    assert codes == {"nope.md": "not-found"}


@pytest.mark.parametrize(
    "text",
    [
        "> " * 100_000 + "deep",
        "".join("  " * i + "- item\n" for i in range(2000)),
        "[" * 50_000 + "]" * 50_000,
        "*" * 100_000,
        "```\n" * 20_000,
        "| a |\n|---|\n" + "| x |\n" * 20_000,
        "#" * 5000 + " title\n" * 1000,
    ],
    ids=["quotes", "lists", "brackets", "emphasis", "fences", "table", "hashes"],
)
def test_pathological_nesting_is_read_quickly(tmp_path: Path, text: str) -> None:
    (tmp_path / "good.md").write_text(GOOD)
    (tmp_path / "weird.md").write_text(text)
    started = time.monotonic()
    catalog = load_catalog([tmp_path])
    elapsed = time.monotonic() - started
    assert [a.name for _rb, a in catalog.alerts()] == ["DiskFull"]
    assert elapsed < 60, "a pathological file must not hang the catalog"


def test_directory_walk_picks_runbook_suffixes_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("a.md", "b.markdown", "c.txt", "d.rst", ".hidden.md", "sub/e.MD", ".git/f.md"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(GOOD)
    files, problems = discover([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "a.md",
        "b.markdown",
        "c.txt",
        "sub/e.MD",
    ]
    assert problems == []
    explicit, _ = discover([tmp_path / "d.rst"])
    assert explicit == [tmp_path / "d.rst"]


def test_size_limit_is_a_parameter(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text(GOOD)
    catalog = load_catalog([tmp_path], max_bytes=10)
    assert [p.code for p in catalog.problems] == ["too-large"]
    assert MAX_FILE_BYTES >= 1024 * 1024
