"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright)
against a real ``tocsin serve`` on the example configuration: sign in, see an incident, read
its runbook filled from the alert's labels, acknowledge it, and be refused as a viewer or
without the form's CSRF token; at a phone's width and a desktop's. ``make test`` installs
chromium where it can; without it (or Playwright) these tests skip with the reason."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.test_real_clients import Server, tocsin

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WIDTHS = ((1440, 900), (375, 740))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium not installed (Debian package chromium; make test installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    config = tmp_path / "examples" / "tocsin.yaml"
    db_args = ["--data-dir", str(tmp_path / "data")]
    tokens = {
        user: tocsin(
            "tokens", "create", "--user", user, "--role", role, "--config", str(config), *db_args
        ).stdout.strip().splitlines()[-1]
        for user, role in (("alice", "responder"), ("bob", "viewer"))
    }  # fmt: skip
    server = Server.serving(config, tokens["alice"], tmp_path, db_args)
    server.start()
    yield server, tokens
    server.kill()


def _fire(server: Server, labels: dict[str, str]) -> None:
    status, _ = server.request("POST", "/api/v2/alerts", [{"labels": labels}])
    assert status == 200


def _sign_in(browser: Any, server: Server, token: str, width: int, height: int) -> Any:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(f"{server.url}/")
    assert "/signin" in page.url
    page.fill("#token", token)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_url("**/incidents")
    return page


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_a_responder_signs_in_reads_the_runbook_and_acknowledges(
    chromium: Any, served: tuple[Server, dict[str, str]], tmp_path: Path, width: int, height: int
) -> None:
    server, tokens = served
    _fire(server, {"alertname": "PebbleAPIDown", "severity": "critical", "pod": "api-7f9c"})
    page = _sign_in(chromium, server, tokens["alice"], width, height)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.reload()
    assert page.locator("text=triggered 1").count() == 1
    page.screenshot(path=str(tmp_path / f"incidents-{width}.png"), full_page=True)
    page.click("td.title a")
    page.wait_for_url("**/incidents/1")
    # the runbook's command, its placeholder filled from the alert's pod label
    assert page.locator("text=kubectl -n pebble describe pod api-7f9c").count() >= 1
    page.screenshot(path=str(tmp_path / f"incident-{width}.png"), full_page=True)
    # the escalation where it stands, and the page's delivery with its attempt
    header = page.locator(".header").inner_text()
    assert "Escalation (pebble)" in header and "step 1 of" in header and "Next: step 2" in header
    assert page.locator(".badge.delivery-sent").count() >= 1
    page.click("button:has-text('Acknowledge')")
    page.wait_for_url("**/incidents/1?flash=Acknowledged")
    assert page.locator(".header .badge.status-acknowledged").inner_text() == "acknowledged"
    assert page.locator("text=Acknowledged by alice").count() == 1
    assert "Stopped: acknowledged." in page.locator(".header").inner_text()
    status, body = server.request("GET", "/api/v1/incidents/1")
    assert status == 200 and isinstance(body, dict)
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == "alice"
    # readable at this width: nothing wider than the window
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide at {width} px"
    assert errors == []


def test_a_viewer_is_refused_an_action_and_a_post_without_csrf_is_refused(
    chromium: Any, served: tuple[Server, dict[str, str]]
) -> None:
    server, tokens = served
    _fire(server, {"alertname": "PebbleAPIDown", "severity": "critical", "pod": "api-1"})
    viewer = _sign_in(chromium, server, tokens["bob"], 1440, 900)
    viewer.goto(f"{server.url}/incidents/1")
    assert viewer.locator("button:has-text('Acknowledge')").count() == 0
    csrf = viewer.locator("form[action='/signout'] input[name=csrf]").get_attribute("value")
    refused = viewer.request.post(f"{server.url}/incidents/1/acknowledge", form={"csrf": csrf})
    assert refused.status == 403 and "a viewer may not do this" in refused.text()
    responder = _sign_in(chromium, server, tokens["alice"], 1440, 900)
    forged = responder.request.post(f"{server.url}/incidents/1/acknowledge", form={})
    assert forged.status == 403
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{server.url}/api/v1/incidents/1",
            headers={"Authorization": f"Bearer {tokens['alice']}"},
        )
    ) as answer:
        assert json.loads(answer.read())["status"] == "triggered"


def test_a_new_incident_and_an_acknowledgement_appear_without_a_reload(
    chromium: Any, served: tuple[Server, dict[str, str]]
) -> None:
    server, tokens = served
    _fire(server, {"alertname": "PebbleAPIDown", "severity": "critical", "pod": "api-1"})
    watcher = _sign_in(chromium, server, tokens["bob"], 1440, 900)
    assert watcher.locator("td.title").count() == 1
    watcher.wait_for_function("document.querySelector('[sse-connect]') !== null")
    _fire(server, {"alertname": "PebbleHighErrorRate", "severity": "critical", "pod": "api-2"})
    watcher.wait_for_selector("text=PebbleHighErrorRate", timeout=10_000)  # no reload
    assert watcher.locator("td.title").count() == 2
    watcher.goto(f"{server.url}/incidents/1")
    status, _ = server.request("POST", "/api/v1/incidents/1/ack")
    assert status == 200
    watcher.wait_for_selector(".header .badge.status-acknowledged", timeout=10_000)
    assert watcher.locator("text=Acknowledged by alice").count() == 1


def test_a_silence_made_from_an_alert_mutes_it(
    chromium: Any, served: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    server, tokens = served
    _fire(server, {"alertname": "PebbleSlowRequests", "severity": "warning", "service": "api"})
    page = _sign_in(chromium, server, tokens["alice"], 375, 740)
    page.goto(f"{server.url}/alerts")
    page.click("text=Silence this")
    page.wait_for_url("**/silences/new?**")
    assert page.locator("#preview .labels").count() == 1  # the alert it would mute
    page.fill("#comment", "known slow disk, replaced tonight")
    page.click("button:has-text('Create silence')")
    page.wait_for_url("**/silences?flash=**")
    page.screenshot(path=str(tmp_path / "silences-375.png"), full_page=True)
    page.goto(f"{server.url}/alerts")
    assert page.locator(".badge.muted").inner_text() == "silenced"
    assert page.locator("text=Silence this").count() == 0
