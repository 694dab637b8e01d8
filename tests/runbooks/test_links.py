"""Runbook links: ``runbooks_url`` joined with the path under the runbook directory (issue 17,
item 10)."""

from __future__ import annotations

from pathlib import Path

from tocsin.alerts.model import Alert
from tocsin.config import parse_config
from tocsin.engine.paging import Pager
from tocsin.runbooks.links import section_url
from tocsin.runbooks.loader import load_catalog


def test_a_runbook_in_an_absolute_directory_is_linked_by_its_path_under_it(
    tmp_path: Path,
) -> None:
    books = tmp_path / "ops" / "runbooks"
    (books / "db").mkdir(parents=True)
    (books / "db" / "pg.md").write_text("# DB\n\n## DatabaseDown\n\nSeverity: critical\n")
    config = parse_config(
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        f"runbooks: [{books}]\n"
        "runbooks_url: https://git.example.com/ops/blob/main/runbooks/\n",
        base_dir=tmp_path / "elsewhere",
    )
    catalog = load_catalog(config.runbook_paths())
    page = Pager(config, catalog)._runbook([Alert(labels={"alertname": "DatabaseDown"})])
    assert page["runbook_url"] == (
        "https://git.example.com/ops/blob/main/runbooks/db/pg.md#databasedown"
    )


def test_a_runbook_file_named_alone_and_one_outside_every_root() -> None:
    base = "https://w.example/rb"
    assert (
        section_url(base, ["/srv/rb/x.md"], "/srv/rb/x.md", "A B")
        == "https://w.example/rb/x.md#a-b"
    )
    assert (
        section_url(base, ["/srv/rb"], "/home/u/y z.md", "T") == "https://w.example/rb/y%20z.md#t"
    )
    assert section_url(None, ["/srv/rb"], "/srv/rb/x.md", "T") is None
