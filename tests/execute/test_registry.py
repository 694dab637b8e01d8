"""Building the configured runners from ``tocsin.yaml``, and choosing one per command."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from tocsin.config import parse_config
from tocsin.execute.base import Request, RunnerConfigError
from tocsin.execute.http import HttpRunner
from tocsin.execute.promql import PromqlRunner
from tocsin.execute.registry import Runners, build_runners, runbook_matches
from tocsin.execute.shell import ShellRunner
from tocsin.execute.sql import SqlRunner

BASE = """\
route:
  receiver: default
  routes:
    - matchers: ['team="db"']
      receiver: dba
receivers:
  - name: default
  - name: dba
"""


def build(execute: str, tmp_path: Path) -> Runners:
    config = parse_config(BASE + dedent(execute).replace("TMP", str(tmp_path)))
    return build_runners(config.model.execute)


def test_every_kind_is_built_from_the_file(tmp_path: Path) -> None:
    runners = build(
        """
        execute:
          runners:
            - {name: health, type: http, allow_hosts: ["api:8080"]}
            - {name: sh, type: shell}
            - {name: prom, type: promql, url: "http://prometheus:9090"}
            - {name: db, type: sql, dsn: {value: "sqlite:///TMP/app.db"}, routes: [dba]}
        """,
        tmp_path,
    )
    try:
        kinds = [(r.name, type(r)) for r in runners]
        assert kinds == [
            ("health", HttpRunner),
            ("sh", ShellRunner),
            ("prom", PromqlRunner),
            ("db", SqlRunner),
        ]
        assert len(runners) == 4 and runners.get("prom") is not None
    finally:
        runners.close()


def test_the_order_decides(tmp_path: Path) -> None:
    http_first = build(
        """
        execute:
          runners:
            - {name: health, type: http, allow_hosts: [api]}
            - {name: sh, type: shell}
        """,
        tmp_path,
    )
    curl = "curl -s http://api/healthz"
    chosen = http_first.choose("bash", curl, "pebble.md", "default")
    assert chosen is not None and chosen.name == "health"
    other = http_first.choose("bash", "curl -s http://api/ | jq .", "pebble.md", "default")
    assert other is not None and other.name == "sh"
    shell_first = build(
        """
        execute:
          runners:
            - {name: sh, type: shell}
            - {name: health, type: http, allow_hosts: [api]}
        """,
        tmp_path,
    )
    chosen = shell_first.choose("bash", curl, "pebble.md", "default")
    assert chosen is not None and chosen.name == "sh"
    assert shell_first.choose("promql", "up", "pebble.md", "default") is None


def test_runbooks_and_routes(tmp_path: Path) -> None:
    runners = build(
        """
        execute:
          runners:
            - {name: pebble, type: shell, runbooks: ["pebble-*.md"], routes: [default]}
            - {name: dba, type: shell, runbooks: ["db/*.md"], routes: [dba]}
            - {name: any, type: shell, languages: [powershell]}
        """,
        tmp_path,
    )

    def chosen(source: str, route: str | None, language: str = "bash") -> str | None:
        runner = runners.choose(language, "true", source, route)
        return runner.name if runner else None

    assert chosen("pebble-api.md", "default") == "pebble"
    assert chosen("team/pebble-api.md", "default") == "pebble"  # its file name matches
    assert chosen("pebble-api.md", "dba") is None
    assert chosen("db/postgres.md", "dba") == "dba"
    assert chosen("other/db/postgres.md", "dba") is None
    assert chosen("pebble-api.md", None) is None  # no route: only a runner naming none
    assert chosen("anything.md", None, "powershell") == "any"


@pytest.mark.parametrize(
    ("globs", "source", "matches"),
    [
        ([], "x.md", True),
        (["*.md"], "team/x.md", True),
        (["team/*.md"], "team/x.md", True),
        (["team/*.md"], "./team/x.md", True),
        (["team/*.md"], "other/x.md", False),
        (["X.md"], "x.md", False),
    ],
)
def test_runbook_globs(globs: list[str], source: str, matches: bool) -> None:
    assert runbook_matches(globs, source) is matches


def test_an_unusable_runner_is_refused_at_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOCSIN_TEST_NO_TOKEN", raising=False)
    with pytest.raises(RunnerConfigError, match="runner 'prom': bearer_token: environment"):
        build(
            """
            execute:
              runners:
                - {name: db, type: sql, dsn: {value: "sqlite:///TMP/app.db"}}
                - name: prom
                  type: promql
                  url: "http://prometheus:9090"
                  bearer_token: {env: TOCSIN_TEST_NO_TOKEN}
            """,
            tmp_path,
        )
    with pytest.raises(RunnerConfigError, match="runner 'db': dsn: cannot read secret file"):
        build(
            """
            execute:
              runners:
                - {name: db, type: sql, dsn: {file: TMP/missing}}
            """,
            tmp_path,
        )


def test_a_chosen_runner_runs(tmp_path: Path) -> None:
    runners = build(
        """
        execute:
          runners:
            - {name: sh, type: shell, workdir: TMP}
        """,
        tmp_path,
    )
    runner = runners.choose("bash", "pwd", "x.md", "default")
    assert runner is not None
    assert runner.run(Request("pwd", "bash")).output == f"{tmp_path}\n"
