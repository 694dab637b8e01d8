"""Issue 22: real public Alertmanager configurations (tests/config/alertmanager/, each with
its SOURCE.md): ``tocsin config check`` and ``amtool check-config`` agree on what is valid,
tocsin refuses on purpose only what it says it refuses, and ``tocsin config convert`` writes a
tocsin.yaml that routes the same way."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.config import ConfigError, parse_config
from tocsin.config.alertmanager import tocsin_yaml
from tocsin.routing.tree import Route

FIXTURES = Path(__file__).parent / "config" / "alertmanager"
CASES = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
AMTOOL = shutil.which("amtool")
runner = CliRunner()


def _expect(fixture: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((fixture / "expect.yaml").read_text(encoding="utf-8"))
    assert data["amtool"] in ("valid", "invalid") and data["tocsin"] in (
        "valid",
        "invalid",
        "refused",
    ), fixture.name
    return data


def _tocsin(fixture: Path) -> str | None:
    """What ``config check`` would print wrong about the file (None: valid)."""
    text = (fixture / "alertmanager.yml").read_text(encoding="utf-8")
    try:
        parse_config(text, "alertmanager.yml", fixture)
    except ConfigError as exc:
        return str(exc)
    return None


def test_there_are_fixtures_and_each_names_its_source_and_licence() -> None:
    assert len(CASES) >= 10
    for fixture in CASES:
        source = (fixture / "SOURCE.md").read_text(encoding="utf-8")
        assert "https://github.com/" in source and "licence:" in source, fixture.name
        assert (fixture / "alertmanager.yml").is_file() and (fixture / "expect.yaml").is_file()


@pytest.mark.parametrize("fixture", CASES, ids=lambda p: p.name)
def test_tocsin_says_what_the_fixture_expects(fixture: Path) -> None:
    expect = _expect(fixture)
    problems = _tocsin(fixture)
    if expect["tocsin"] == "valid":
        assert problems is None, problems
    else:
        assert problems is not None
        for said in expect.get("says", []):
            assert said in problems, (said, problems)
    if expect["tocsin"] == "refused":
        # on purpose only: what amtool accepts and tocsin cannot carry over, said by name
        assert expect["amtool"] == "valid" and expect.get("says"), fixture.name


@pytest.mark.skipif(
    AMTOOL is None,
    reason="amtool is not installed (Debian's prometheus-alertmanager; "
    "scripts/install-test-tools.sh installs it)",
)
@pytest.mark.parametrize("fixture", CASES, ids=lambda p: p.name)
def test_amtool_and_tocsin_agree(fixture: Path) -> None:
    """Valid for one is valid for the other, but where tocsin refuses a feature on purpose
    (``tocsin: refused`` in the fixture's expect.yaml, with what it says)."""
    assert AMTOOL is not None
    expect = _expect(fixture)
    done = subprocess.run(
        [AMTOOL, "check-config", str(fixture / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    amtool_valid = done.returncode == 0
    assert amtool_valid == (expect["amtool"] == "valid"), done.stdout + done.stderr
    tocsin_valid = _tocsin(fixture) is None
    if expect["tocsin"] == "refused":
        assert amtool_valid and not tocsin_valid
    else:
        assert tocsin_valid == amtool_valid, (done.stdout, _tocsin(fixture))


def _shape(route: Route) -> list[tuple[Any, ...]]:
    return [
        (
            r.receiver,
            tuple(str(m) for m in r.matchers),
            tuple(r.channels),
            r.group_by,
            r.group_by_all,
            r.group_wait_s,
            r.group_interval_s,
            r.repeat_interval_s,
            r.continue_,
        )
        for r in route.walk()
    ]


VALID = [p for p in CASES if _expect(p)["tocsin"] == "valid"]


@pytest.mark.parametrize("fixture", VALID, ids=lambda p: p.name)
def test_convert_writes_a_tocsin_yaml_that_routes_the_same(fixture: Path) -> None:
    text = (fixture / "alertmanager.yml").read_text(encoding="utf-8")
    loaded = parse_config(text, "alertmanager.yml", fixture)
    converted = tocsin_yaml(loaded.model, "alertmanager.yml")
    again = parse_config(converted, "tocsin.yaml", fixture)
    assert _shape(again.route) == _shape(loaded.route)
    assert again.receivers == loaded.receivers
    assert {n: c.model_dump() for n, c in again.paging.channels.items()} == {
        n: c.model_dump() for n, c in loaded.paging.channels.items()
    }
    assert [r.equal for r in again.inhibit_rules] == [r.equal for r in loaded.inhibit_rules]
    # converted once more, it is the same file: nothing Alertmanager-only is left in it
    assert tocsin_yaml(again.model, "alertmanager.yml") == converted
    assert "_configs" not in converted and "smtp_" not in converted


def test_convert_keeps_file_secrets_files_and_routes_test_agrees(tmp_path: Path) -> None:
    """The Slack URL files stay files; ``routes test`` names the same receivers and channels
    for the Alertmanager file and the tocsin.yaml written from it."""
    source = FIXTURES / "alertmanager-testdata-slack-api-url-file" / "alertmanager.yml"
    out = tmp_path / "tocsin.yaml"
    done = runner.invoke(app, ["config", "convert", str(source), "--output", str(out)])
    assert done.exit_code == 0, done.output
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    channels = {c["name"]: c for c in data["channels"]}
    assert channels["slack-notifications/slack/0"]["url_secret"] == {"file": "/global_file"}
    assert channels["slack-notifications/slack/1"]["url_secret"] == {"file": "/override_file"}
    assert channels["slack-notifications/slack/2"]["url"] == "http://mysecret.example.com/"
    assert [c["conversation"] for c in channels.values()] == ["#alerts1", "#alerts2", "#alerts3"]
    assert data["route"]["channels"] == list(channels)
    checked = runner.invoke(app, ["config", "check", "--config", str(out)])
    assert checked.exit_code == 0, checked.output
    for config in (source, out):
        plan = runner.invoke(app, ["routes", "test", "--config", str(config), "alertname=X"])
        assert plan.exit_code == 0, plan.output
        assert "-> receiver slack-notifications" in plan.output
        assert "channels: slack-notifications/slack/0, slack-notifications/slack/1, " in plan.output


def test_convert_of_an_invalid_file_writes_nothing(tmp_path: Path) -> None:
    source = FIXTURES / "alertmanager-testdata-slack-no-api-url" / "alertmanager.yml"
    out = tmp_path / "tocsin.yaml"
    done = runner.invoke(app, ["config", "convert", str(source), "--output", str(out)])
    assert done.exit_code != 0
    assert "no global Slack API URL set" in done.output
    assert not out.exists()
