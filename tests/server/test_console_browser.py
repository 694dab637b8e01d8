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
from datetime import UTC, datetime, timedelta
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
    assert "started at step 1: paged " in header  # the person, by name
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


def test_an_override_changes_who_is_on_call(
    chromium: Any, served: tuple[Server, dict[str, str]]
) -> None:
    server, tokens = served
    page = _sign_in(chromium, server, tokens["alice"], 1440, 900)
    page.goto(f"{server.url}/oncall")
    primary = page.locator("section.schedule", has_text="pebble-primary")
    before = primary.locator("p").first.inner_text()
    assert "On call now: erin" not in before
    now = datetime.now(UTC)
    page.select_option("select[name=schedule]", "pebble-primary")
    page.select_option("select[name=user]", "erin")
    page.fill("input[name=start]", (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=end]", (now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=reason]", "swap for the evening")
    page.click("button:has-text('Add override')")
    page.wait_for_url("**/oncall?flash=**")
    primary = page.locator("section.schedule", has_text="pebble-primary")
    assert primary.locator("p").first.inner_text().startswith("On call now: erin")
    assert page.locator("text=erin takes pebble-primary").count() == 1


# the lowest contrast of any text on the page against its background (WCAG's formula)
LOWEST_CONTRAST = """() => {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c && !c.endsWith(", 0)") && c !== "transparent") return c;
    }
    return "rgb(255, 255, 255)";
  };
  let lowest = 21, where = "";
  for (const el of document.querySelectorAll("body *")) {
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text || el.closest("svg") || !el.getClientRects().length) continue;
    const a = lum(getComputedStyle(el).color), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < lowest) {
      lowest = ratio; where = el.tagName + " " + el.textContent.trim().slice(0, 40);
    }
  }
  return [lowest, where];
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_console_is_usable_from_the_keyboard_and_its_text_is_readable(
    chromium: Any, served: tuple[Server, dict[str, str]], scheme: str
) -> None:
    server, tokens = served
    _fire(server, {"alertname": "PebbleAPIDown", "severity": "critical", "pod": "api-1"})
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{server.url}/signin")
    assert page.evaluate("document.activeElement.id") == "token"  # the field has the focus
    page.keyboard.type(tokens["alice"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/incidents")
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for path in ("/incidents", "/incidents/1", "/alerts", "/oncall", "/reports", "/status"):
        page.goto(server.url + path)
        lowest, where = page.evaluate(LOWEST_CONTRAST)
        assert lowest >= 4.5, f"{path} ({scheme}): contrast {lowest:.2f} at {where}"
    page.goto(f"{server.url}/incidents/1")
    # a runbook command's copy button puts the filled command on the clipboard
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    copy = page.locator("button.copy").nth(1)
    assert copy.is_visible()
    copy.click()
    page.wait_for_function("document.querySelectorAll('button.copy')[1].textContent == 'Copied'")
    assert "describe pod api-1" in page.evaluate("navigator.clipboard.readText()")
    for _ in range(40):  # Tab until the Acknowledge button has the focus, then Enter
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Acknowledge":
            break
    else:
        raise AssertionError("Acknowledge cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/incidents/1?flash=Acknowledged")
    context.close()
