"""The responder's console (``tocsin.web``) in process: sign-in, the incident list and page,
actions as form posts through the service layer, roles, CSRF and escaping."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.runbooks.loader import load_catalog
from tocsin.store import repo
from tocsin.store.schema import notifications
from tocsin.web import console

CONFIG = """
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
receivers: [{name: default}]
"""

RUNBOOK = """
# Web runbook

## WebDown

Severity: critical

### Investigation
```bash
kubectl -n web describe pod {{ $labels.pod }}
curl -s http://<host>/health
```
"""

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> *bold* <!here>'


@pytest.fixture
def api(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))  # the server's key, on PostgreSQL
    book = tmp_path / "web.md"
    book.write_text(dedent(RUNBOOK).lstrip())
    state = AppState(db=db, config=parse_config(CONFIG), clock=clock, catalog=load_catalog([book]))
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Api(client, state, db)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def signin(client: TestClient, token: str, next_path: str = "/incidents") -> httpx.Response:
    form = client.get("/signin", params={"next": next_path})
    assert form.status_code == 200
    answer: httpx.Response = client.post(
        "/signin",
        data={"token": token, "csrf": _csrf(form.text), "next": next_path},
        follow_redirects=False,
    )
    return answer


def _fire(api: Api, labels: dict[str, str], annotations: dict[str, str] | None = None) -> int:
    body = [{"labels": labels, "annotations": annotations or {}}]
    assert api.post("/api/v2/alerts", body).status_code == 200
    api.run_engine()
    newest = api.get("/api/v1/incidents?limit=1").json()[0]
    return int(newest["id"])


def test_a_page_without_a_session_leads_to_sign_in_and_back(api: Api) -> None:
    client = api.client
    first = client.get("/incidents?status=triggered", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/signin?next=%2Fincidents%3Fstatus%3Dtriggered"
    signed = signin(client, api.tokens["responder"], "/incidents?status=triggered")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/incidents?status=triggered"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert api.tokens["responder"] not in cookie  # the cookie names the token, never holds it
    listed = client.get("/incidents?status=triggered")
    assert listed.status_code == 200
    assert "responder" in listed.text and "Sign out" in listed.text


def test_sign_in_refuses_a_bad_token_a_machine_token_and_a_form_from_elsewhere(
    api: Api,
) -> None:
    client = api.client
    assert signin(client, "tocsin_not_a_token").status_code == 401
    refused = signin(client, api.tokens["intake"])
    assert refused.status_code == 403 and "for machines" in refused.text
    forged = client.post(
        "/signin", data={"token": api.tokens["admin"], "csrf": "0" * 40}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert "tocsin_session" not in forged.headers.get("set-cookie", "")
    assert client.get("/incidents", follow_redirects=False).status_code == 303


def test_sign_in_goes_back_only_to_a_page_of_this_site(api: Api) -> None:
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = signin(api.client, api.tokens["viewer"], elsewhere)
        assert answer.headers["location"] == "/incidents", elsewhere


def test_the_list_counts_each_status_and_keeps_its_filters_in_the_url(api: Api) -> None:
    for n in range(3):
        _fire(api, {"alertname": "WebDown", "instance": f"web-{n}", "severity": "critical"})
    _fire(api, {"alertname": "DiskFull", "instance": "db-1", "severity": "warning"})
    signin(api.client, api.tokens["viewer"])
    page = api.client.get("/incidents").text
    assert "triggered <b>4</b>" in page
    critical = api.client.get("/incidents?severity=critical").text
    assert "4 incidents" in page and "3 incidents" in critical
    assert 'href="/incidents?severity=critical&amp;status=resolved"' in critical


def test_an_incident_page_shows_labels_and_annotations_escaped(api: Api) -> None:
    number = _fire(
        api,
        {"alertname": "WebDown", "instance": "web-1", "pod": HOSTILE},
        {"summary": HOSTILE, "description": "</textarea><b>x</b>"},
    )
    signin(api.client, api.tokens["viewer"])
    page = api.client.get(f"/incidents/{number}")
    assert page.status_code == 200
    text = page.text
    assert "<script>alert" not in text and "<img src=x" not in text and "<b>x</b>" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "DENY"


def test_the_runbook_panel_fills_commands_from_the_labels_and_marks_what_it_could_not(
    api: Api,
) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "pod": "web-1; rm -rf /"})
    signin(api.client, api.tokens["viewer"])
    text = api.client.get(f"/incidents/{number}").text
    assert "kubectl -n web describe pod &#39;web-1; rm -rf /&#39;" in text
    # the pod label is not plain: it fills the command shown, and never one that runs
    assert (
        "Not filled from the alert (the alert's pod is not plain text, so it is never run as "
        "it is):</span>" in text
    )
    assert '<input name="fill.pod"' in text
    assert '<code>&lt;host&gt;</code> <input name="fill.host"' in text
    assert 'class="badge risk-read"' in text
    # what the person types is quoted as a label's value would be
    typed = api.client.get(f"/incidents/{number}", params={"fill.host": "db-1; reboot"}).text
    assert "curl -s http://&#39;db-1; reboot&#39;/health" in typed
    assert "Filled in by hand: <code>host</code>" in typed


def test_a_responder_acknowledges_and_the_timeline_names_them(api: Api) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    client = api.client
    signin(client, api.tokens["responder"])
    page = client.get(f"/incidents/{number}").text
    done = client.post(
        f"/incidents/{number}/acknowledge", data={"csrf": _csrf(page)}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/incidents/{number}?flash=Acknowledged"
    after = client.get(done.headers["location"]).text
    assert "status-acknowledged" in after and "Acknowledged" in after
    record = api.get(f"/api/v1/incidents/{number}").json()
    assert record["status"] == "acknowledged" and record["acknowledged_by"] == "responder"
    note = client.post(
        f"/incidents/{number}/note", data={"csrf": _csrf(after), "text": "looking <b>now</b>"}
    )
    assert note.status_code == 200 and "looking &lt;b&gt;now&lt;/b&gt;" in note.text


def test_a_form_post_without_its_csrf_token_is_refused_and_changes_nothing(api: Api) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    signin(api.client, api.tokens["responder"])
    for data in ({}, {"csrf": "0" * 40}):
        refused = api.client.post(f"/incidents/{number}/resolve", data=data)
        assert refused.status_code == 403
        assert "did not come from this console" in refused.text
    assert api.get(f"/api/v1/incidents/{number}").json()["status"] == "triggered"


def test_a_viewer_sees_no_actions_and_is_refused_one(api: Api) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    signin(api.client, api.tokens["viewer"])
    page = api.client.get(f"/incidents/{number}").text
    assert "Acknowledge</button>" not in page
    refused = api.client.post(f"/incidents/{number}/acknowledge", data={"csrf": _csrf(page)})
    assert refused.status_code == 403 and "a viewer may not do this" in refused.text
    assert api.get(f"/api/v1/incidents/{number}").json()["status"] == "triggered"


def test_bulk_acknowledge_acts_on_the_ticked_incidents(api: Api) -> None:
    numbers = [
        _fire(api, {"alertname": "WebDown", "instance": f"web-{n}", "severity": "critical"})
        for n in range(3)
    ]
    signin(api.client, api.tokens["responder"])
    page = api.client.get("/incidents").text
    done = api.client.post(
        "/incidents",
        data={"csrf": _csrf(page), "action": "acknowledge", "id": [str(n) for n in numbers[:2]]},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "acknowledged+2" in done.headers["location"]
    statuses = [api.get(f"/api/v1/incidents/{n}").json()["status"] for n in numbers]
    assert statuses == ["acknowledged", "acknowledged", "triggered"]


def test_a_revoked_token_ends_its_sessions(api: Api) -> None:
    signin(api.client, api.tokens["responder"])
    assert api.client.get("/incidents", follow_redirects=False).status_code == 200
    with api.state.db.begin() as conn:
        token = repo.token_identity(conn, api.tokens["responder"])
        assert token is not None
        repo.revoke_token(conn, token.id, 1.0)
    assert api.client.get("/incidents", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(api: Api) -> None:
    signin(api.client, api.tokens["viewer"])
    page = api.client.get("/incidents").text
    out = api.client.post("/signout", data={"csrf": _csrf(page)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    assert api.client.get("/incidents", follow_redirects=False).status_code == 303


def test_an_unknown_incident_and_a_bad_page_read_as_refusals(api: Api) -> None:
    signin(api.client, api.tokens["viewer"])
    assert api.client.get("/incidents/999999").status_code == 404
    assert api.client.get("/incidents?page=0").status_code == 422
    assert api.client.get("/incidents/1/timeline?after=x").status_code == 422


def _page_link(api: Api, number: int) -> str:
    """The "Open" link of the incident's first notification, as a path of this server."""
    with api.state.db.connect() as conn:
        rows = conn.execute(
            select(notifications.c.message).where(notifications.c.incident_id == number)
        ).all()
    links = {json.loads(row.message)["external_url"] for row in rows}
    [link] = links
    return str(link).removeprefix("https://tocsin.example.com")


@pytest.fixture
def paged(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    """The console with a channel, so that incidents send pages with an "Open" link."""
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    text = CONFIG.replace("receivers:", "  channels: [console]\nreceivers:") + (
        "channels: [{name: console, type: console}]\n"
        "global: {external_url: 'https://tocsin.example.com/'}\n"
    )
    state = AppState(db=db, config=parse_config(text), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Api(client, state, db)


def test_a_page_s_open_link_reads_the_incident_without_signing_in_until_it_expires(
    paged: Api, clock: VirtualClock
) -> None:
    api = paged
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    link = _page_link(api, number)
    assert link.startswith(f"/incidents/{number}?expires=")
    opened = api.client.get(link, follow_redirects=False)  # no session
    assert opened.status_code == 200
    assert "WebDown" in opened.text and "Sign in</a> to act on it" in opened.text
    assert "Acknowledge</button>" not in opened.text and 'name="csrf"' not in opened.text
    # it opens that incident only, and acts on nothing
    other = _fire(api, {"alertname": "WebDown", "instance": "web-2", "severity": "critical"})
    query = link.split("?", 1)[1]
    assert api.client.get(f"/incidents/{other}?{query}").status_code == 403
    assert api.client.get("/incidents", follow_redirects=False).status_code == 303
    refused = api.client.post(f"/incidents/{number}/acknowledge?{query}", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/signin")
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert api.client.get(forged).status_code == 403
    clock.advance(7 * 86400)
    gone = api.client.get(link)
    assert gone.status_code == 410 and "this link has expired; sign in" in gone.text


def test_alerts_are_grouped_and_filtered_and_a_silence_from_one_mutes_it(api: Api) -> None:
    for n in range(2):
        _fire(api, {"alertname": "WebDown", "instance": f"web-{n}", "severity": "critical"})
    _fire(api, {"alertname": "DiskFull", "instance": "db-1", "pod": HOSTILE})
    client = api.client
    signin(client, api.tokens["responder"])
    page = client.get("/alerts").text
    assert "3 firing alerts" in page
    assert '<code>alertname="WebDown"</code> <small>(2)</small>' in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    narrowed = client.get("/alerts", params={"filter": '{alertname="WebDown", instance="web-1"}'})
    assert "1 firing alert<" in narrowed.text
    bad = client.get("/alerts", params={"filter": "{alertname=~"})
    assert bad.status_code == 200 and 'class="notice bad"' in bad.text
    # "Silence this" opens the form with the alert's labels as matchers, and its preview
    link = re.search(r'href="(/silences/new\?matchers=[^"]+)"', narrowed.text)
    assert link is not None
    form = client.get(link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200
    assert 'instance="web-1"' in form.text and "Firing alerts it would mute <small>(1)" in form.text
    made = client.post(
        "/silences",
        data={
            "csrf": _csrf(form.text),
            "matchers": 'alertname="WebDown"\ninstance="web-1"',
            "duration": "2h",
            "comment": "replacing the disk",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"].startswith("/silences?flash=")
    [silence] = api.get("/api/v2/silences").json()
    assert silence["createdBy"] == "responder" and silence["status"]["state"] == "active"
    after = client.get("/alerts", params={"filter": '{alertname="WebDown"}'}).text
    assert after.count(">silenced</span>") == 1 and silence["id"] in after
    listed = client.get("/silences").text
    assert "Active <small>(1)" in listed and "replacing the disk" in listed
    expired = client.post(
        f"/silences/{silence['id']}/expire", data={"csrf": _csrf(listed)}, follow_redirects=False
    )
    assert expired.status_code == 303
    assert api.get("/api/v2/silences").json()[0]["status"]["state"] == "expired"


def test_a_silence_is_refused_without_a_reason_a_duration_or_the_right(api: Api) -> None:
    client = api.client
    signin(client, api.tokens["responder"])
    form = client.get("/silences/new").text
    for data, message in (
        ({"matchers": 'alertname="X"', "duration": "2h", "comment": ""}, "say why"),
        ({"matchers": 'alertname="X"', "duration": "soon", "comment": "x"}, "duration"),
        ({"matchers": "", "duration": "2h", "comment": "x"}, "at least one matcher"),
        ({"matchers": "alertname=~(", "duration": "2h", "comment": "x"}, "alertname"),
    ):
        refused = client.post("/silences", data={"csrf": _csrf(form), **data})
        assert refused.status_code == 422 and message in refused.text, (data, refused.text)
    assert api.get("/api/v2/silences").json() == []
    viewer = TestClient(client.app)
    signin(viewer, api.tokens["viewer"])
    page = viewer.get("/silences").text
    assert "New silence" not in page
    body = {"csrf": _csrf(page), "matchers": 'a="b"', "duration": "1h", "comment": "x"}
    assert viewer.post("/silences", data=body).status_code == 403
    assert api.get("/api/v2/silences").json() == []


ONCALL = """
route: {receiver: default, group_by: [alertname]}
receivers: [{name: default}]
channels: [{name: pager, type: console}]
users:
  - {name: ana, timezone: Europe/Berlin, contact: [pager]}
  - {name: ben, contact: [pager]}
  - {name: cy, contact: [pager]}
rotations:
  - {name: weekly, type: weekly, start: "2027-01-11T09:00", timezone: UTC, participants: [ana, ben]}
schedules:
  - {name: primary, timezone: UTC, layers: [{rotation: weekly}]}
"""


@pytest.fixture
def oncall(db: Engine, clock: VirtualClock) -> Iterator[Api]:
    state = AppState(db=db, config=parse_config(ONCALL), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Api(client, state, db)


def test_on_call_shows_who_now_and_an_override_changes_it(oncall: Api) -> None:
    api = oncall
    with api.state.db.begin() as conn:  # a person who is a configured user
        repo.create_token(conn, "cy", "responder", "tocsin_cy_secret", 0.0)
    signin(api.client, "tocsin_cy_secret")
    page = api.client.get("/oncall").text
    assert "On call now: <b>ana</b>" in page  # the rotation's first week (from 11 Jan)
    assert '<span class="bar-label">layer: weekly</span>' in page
    assert '<span class="bar-label">overrides</span>' not in page
    assert "next: ben at 2027-01-18 09:00:00 UTC" in page
    added = api.client.post(
        "/oncall/overrides",
        data={
            "csrf": _csrf(page),
            "schedule": "primary",
            "user": "cy",
            "replaces": "*",
            "start": "2027-01-15T07:00",
            "end": "2027-01-15T20:00",
            "reason": "ana at the dentist",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    after = api.client.get("/oncall").text
    assert "On call now: <b>cy</b>" in after
    assert "<b>cy</b> takes primary" in after
    assert '<span class="bar-label">overrides</span>' in after
    [override] = api.get("/api/v1/overrides").json()
    refused = api.client.post(
        "/oncall/overrides",
        data={"csrf": _csrf(after), "schedule": "primary", "user": "cy", "replaces": "*",
              "start": "2027-01-16T10:00", "end": "2027-01-16T09:00"},
    )  # fmt: skip
    assert refused.status_code == 422 and 'class="notice bad"' in refused.text
    removed = api.client.post(
        f"/oncall/overrides/{override['id']}/remove",
        data={"csrf": _csrf(after)},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert "On call now: <b>ana</b>" in api.client.get("/oncall").text


def test_the_first_sign_in_link_makes_one_first_admin_and_only_while_there_is_none(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tocsin.serve import first_signin

    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    state = AppState(db=db, config=parse_config(CONFIG), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        link = first_signin(db, "http://testserver", clock.now())
        assert link is not None and "/signin/first?expires=" in link
        path = link.removeprefix("http://testserver")
        shown = client.get(path)  # a GET (a mail scanner's) changes nothing
        assert shown.status_code == 200 and "Become the first admin" in shown.text
        assert first_signin(db, "http://testserver", clock.now()) is not None
        tampered = TestClient(client.app).get(path[:-2] + "xx")
        assert tampered.status_code == 403
        data = {
            "csrf": _csrf(shown.text),
            "expires": path.split("expires=")[1].split("&")[0],
            "sig": path.split("sig=")[1],
            "user": "ana",
        }
        made = client.post("/signin/first", data=data, follow_redirects=False)
        assert made.status_code == 303 and "first+admin" in made.headers["location"]
        assert "admin" in client.get("/incidents").text  # signed in, as an admin
        [token] = [
            t for t in Api(client, state, db).get("/api/v1/tokens").json() if t["user"] == "ana"
        ]
        assert token["role"] == "admin"
        # good once: the link is used up, and serve prints none any more
        assert first_signin(db, "http://testserver", clock.now()) is None
        again = TestClient(client.app)
        assert again.get(path).status_code == 409
        again_form = client.get("/signin").text
        data["csrf"] = _csrf(again_form)
        assert client.post("/signin/first", data=data).status_code in (403, 409)
        clock.advance(2 * 86400)
        assert TestClient(client.app).get(path).status_code == 403  # expired


def test_a_status_update_is_previewed_then_sent_and_recorded(api: Api) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    client = api.client
    signin(client, api.tokens["responder"])
    page = client.get(f"/incidents/{number}").text
    assert "<option>initial</option>" in page
    form = {
        "csrf": _csrf(page),
        "stage": "identified",
        "template": "",
        "message": "primary disk <full>",
        "impact": "",
    }
    preview = client.post(f"/incidents/{number}/update", data={**form, "preview": "1"})
    assert preview.status_code == 200
    assert "nothing is sent yet" in preview.text and "primary disk &lt;full&gt;" in preview.text
    events = api.get(f"/api/v1/incidents/{number}/timeline?kind=status_update").json()
    assert events == []  # a preview records nothing
    sent = client.post(f"/incidents/{number}/update", data=form, follow_redirects=False)
    assert sent.status_code == 303 and "Status+update+sent" in sent.headers["location"]
    [event] = api.get(f"/api/v1/incidents/{number}/timeline?kind=status_update").json()
    assert event["detail"]["by"] == "responder" and event["detail"]["stage"] == "identified"
    bad = client.post(f"/incidents/{number}/update", data={**form, "stage": "done"})
    assert bad.status_code == 422 and "unknown stage" in bad.text


def test_the_postmortem_draft_reads_escaped_downloads_and_takes_action_items(api: Api) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "pod": HOSTILE})
    client = api.client
    signin(client, api.tokens["responder"])
    page = client.get(f"/incidents/{number}/postmortem")
    assert page.status_code == 200 and "<h1>" in page.text
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    markdown = client.get(f"/incidents/{number}/postmortem.md")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "attachment" in markdown.headers["content-disposition"]
    assert "WebDown" in markdown.text
    added = client.post(
        f"/incidents/{number}/action-items",
        data={
            "csrf": _csrf(page.text),
            "title": "Alert on disk at 80%",
            "owner": "ana",
            "due": "7d",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text[-600:]
    after = client.get(f"/incidents/{number}/postmortem").text
    assert "Alert on disk at 80%" in after and "ana, due" in after
    [item] = api.get(f"/api/v1/action-items?incident={number}").json()
    done = client.post(f"/action-items/{item['id']}/done", data={"csrf": _csrf(after)})
    assert done.status_code == 200
    assert api.get(f"/api/v1/action-items?incident={number}").json()[0]["status"] == "done"
    refused = client.post(
        f"/incidents/{number}/action-items", data={"csrf": _csrf(after), "title": "", "owner": "x"}
    )
    assert refused.status_code == 422


def test_an_admin_makes_and_revokes_tokens_and_others_may_not(api: Api) -> None:
    client = api.client
    signin(client, api.tokens["admin"])
    page = client.get("/admin/tokens")
    assert page.status_code == 200 and "Make token" in page.text
    made = client.post(
        "/admin/tokens",
        data={"csrf": _csrf(page.text), "user": "prometheus", "role": "intake", "name": "prom"},
    )
    assert made.status_code == 200
    secret = re.search(r"<pre><code>(tocsin_[^<]+)</code></pre>", made.text)
    assert secret is not None
    assert api.client.post(
        "/api/v2/alerts", json=[{"labels": {"alertname": "X"}}],
        headers={"Authorization": f"Bearer {secret.group(1)}"},
    ).status_code == 200  # fmt: skip
    token_id = next(t["id"] for t in api.get("/api/v1/tokens").json() if t["name"] == "prom")
    revoked = client.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf": _csrf(made.text)}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert secret.group(1) not in client.get("/admin/tokens").text  # shown once only
    responder = TestClient(client.app)
    signin(responder, api.tokens["responder"])
    assert responder.get("/admin/tokens").status_code == 403
    assert "Tokens</a>" not in responder.get("/incidents").text


def test_a_test_alert_goes_through_the_intake_and_opens_an_incident(api: Api) -> None:
    client = api.client
    signin(client, api.tokens["responder"])
    page = client.get("/incidents").text
    assert '<option value="WebDown">WebDown (critical)</option>' in page  # the runbook's alert
    sent = client.post(
        "/test-alert", data={"csrf": _csrf(page), "alertname": "WebDown"}, follow_redirects=False
    )
    assert sent.status_code == 303 and "Test+alert+WebDown+sent" in sent.headers["location"]
    api.run_engine()
    [incident] = api.get("/api/v1/incidents").json()
    assert incident["group_labels"] == {"alertname": "WebDown", "instance": "tocsin-test"}
    alerts = api.get(f"/api/v1/incidents/{incident['id']}").json()["alerts"]
    assert alerts[0]["labels"]["test"] == "true"
    assert "responder" in alerts[0]["annotations"]["summary"]
    refused = client.post("/test-alert", data={"csrf": _csrf(page), "alertname": "Nope"})
    assert refused.status_code == 422


def test_the_runbooks_list_their_alerts_and_coverage_and_render_a_section(api: Api) -> None:
    _fire(api, {"alertname": "NoBookForMe", "instance": "x"})
    signin(api.client, api.tokens["viewer"])
    page = api.client.get("/runbooks").text
    assert "Web runbook" in page and 'href="/runbooks/WebDown"' in page
    assert "<code>NoBookForMe</code>" in page  # fired with no runbook
    assert 'Runbook alerts never seen:</b> <a href="/runbooks/WebDown">' in page
    assert "Web runbook" not in api.client.get("/runbooks?q=nothing-like-it").text
    section = api.client.get("/runbooks/WebDown")
    assert section.status_code == 200
    assert "kubectl -n web describe pod {{ $labels.pod }}" in section.text.replace("&#34;", '"')
    assert api.client.get("/runbooks/NoBookForMe").status_code == 404


def test_the_report_charts_response_times_and_lists_the_noisy(api: Api) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    api.post(f"/api/v1/incidents/{number}/ack", {})
    signin(api.client, api.tokens["viewer"])
    page = api.client.get("/reports?days=30")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 6  # by week (2), severity (2), service (2)
    assert "<code>WebDown</code>: 1 firing in 1 incident" in page.text
    assert api.client.get("/reports?days=12").status_code == 422


def test_the_config_page_draws_the_tree_and_says_who_labels_would_page(
    db: Engine, clock: VirtualClock
) -> None:
    from tocsin.config import load_config

    example = Path(__file__).resolve().parents[2] / "examples" / "tocsin.yaml"
    state = AppState(db=db, config=load_config(example), clock=clock, config_path=example)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        api = Api(client, state, db)
        signin(client, api.tokens["viewer"])
        page = client.get("/config").text
        assert "policy <b>pebble</b>" in page and "<code>severity=&#34;critical&#34;</code>" in page
        plan = client.get(
            "/config", params={"labels": 'alertname="PebbleAPIDown"\nseverity="critical"'}
        ).text
        assert "Escalation policy <b>pebble</b>" in plan
        assert "schedule:pebble-primary → <b>" in plan
        bad = client.get("/config", params={"labels": 'alertname=~"x"'})
        assert 'class="notice bad"' in bad.text


STATUS = (
    CONFIG
    + """
status_page:
  title: Pebble status
  components:
    - {name: API, matchers: ['alertname="WebDown"'], description: "uploads and views"}
    - {name: Database, matchers: ['alertname="DbDown"']}
"""
)


def test_the_public_status_page_shows_states_and_only_public_updates(
    db: Engine, clock: VirtualClock
) -> None:
    state = AppState(db=db, config=parse_config(STATUS), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        api = Api(client, state, db)
        anyone = TestClient(client.app)  # no sign-in
        quiet = anyone.get("/status")
        assert quiet.status_code == 200 and "All systems operational" in quiet.text
        number = _fire(
            api, {"alertname": "WebDown", "instance": "web-<b>1</b>", "severity": "critical"}
        )
        clock.advance(31)  # past the page's freshness
        down = anyone.get("/status").text
        assert 'API <span class="badge state-outage">' in down
        assert 'Database <span class="badge state-operational">' in down
        assert "No incidents reported" in down  # nothing published yet
        signin(client, api.tokens["responder"])
        page = client.get(f"/incidents/{number}").text
        for public, message in (
            (False, "internal: db-7 swap"),
            (True, "Uploads fail; we are on it"),
        ):
            form = {"csrf": _csrf(page), "stage": "identified", "message": message}
            if public:
                form["public"] = "1"
            assert client.post(f"/incidents/{number}/update", data=form).status_code == 200
        clock.advance(31)
        shown = anyone.get("/status").text
        assert "Uploads fail; we are on it" in shown and "Identified: API" in shown
        assert "internal" not in shown and "web-" not in shown and "responder" not in shown
        feed = anyone.get("/status/feed.atom")
        assert feed.headers["content-type"].startswith("application/atom+xml")
        assert '<content type="text">Uploads fail; we are on it</content>' in feed.text
        assert "internal" not in feed.text


def test_no_page_passes_untrusted_text_through_unescaped(api: Api) -> None:
    """Labels, annotations, a note, a silence's comment and a status update carrying HTML,
    script and Slack mrkdwn: every page shows them as text."""
    number = _fire(
        api,
        {"alertname": "WebDown", "instance": HOSTILE, "severity": "critical", "pod": HOSTILE},
        {"summary": HOSTILE, "runbook_url": "javascript:alert(1)"},
    )
    client = api.client
    signin(client, api.tokens["admin"])
    page = client.get(f"/incidents/{number}").text
    csrf = _csrf(page)
    client.post(f"/incidents/{number}/note", data={"csrf": csrf, "text": HOSTILE})
    client.post(
        f"/incidents/{number}/update",
        data={"csrf": csrf, "stage": "identified", "message": HOSTILE, "public": "1"},
    )
    client.post(
        "/silences",
        data={"csrf": csrf, "matchers": 'alertname="Other"', "duration": "1h", "comment": HOSTILE},
    )
    client.post(
        f"/incidents/{number}/action-items", data={"csrf": csrf, "title": HOSTILE, "owner": "ana"}
    )
    paths = [
        "/incidents",
        f"/incidents/{number}",
        f"/incidents/{number}/timeline",
        f"/incidents/{number}/postmortem",
        "/alerts",
        "/silences",
        "/oncall",
        "/runbooks",
        "/reports",
        "/config?labels=" + 'alertname="<script>x</script>"',
        "/admin/tokens",
        "/status",
        "/status/feed.atom",
    ]
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200, path
        body = answer.text
        for raw in ("<script>alert", "<img src=x", "<script>x</script>", 'href="javascript:'):
            assert raw not in body, (path, raw)


def test_a_silence_is_edited_and_an_incident_shows_its_alerts_muted(api: Api) -> None:
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1", "severity": "critical"})
    client = api.client
    signin(client, api.tokens["responder"])
    page = client.get("/silences/new").text
    made = client.post(
        "/silences",
        data={
            "csrf": _csrf(page),
            "matchers": 'alertname="WebDown"',
            "duration": "2h",
            "comment": "disk swap",
        },
        follow_redirects=False,
    )
    [silence] = api.get("/api/v2/silences").json()
    assert made.status_code == 303
    incident = client.get(f"/incidents/{number}").text
    assert '<span class="badge muted">silenced</span>' in incident
    assert f"Silenced by <code>{silence['id']}</code>" in incident
    # edit: a longer time alone updates it in place
    form = client.get(f"/silences/new?id={silence['id']}").text
    assert "Editing <code>" in form and "disk swap" in form and 'value="120m"' in form
    saved = client.post(
        "/silences",
        data={
            "csrf": _csrf(form),
            "id": silence["id"],
            "matchers": 'alertname="WebDown"',
            "duration": "4h",
            "comment": "disk swap",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and "updated" in saved.headers["location"]
    [same] = api.get("/api/v2/silences").json()
    assert same["id"] == silence["id"] and same["endsAt"] > silence["endsAt"]


def test_an_incident_is_assigned_an_assignee_and_a_commander(oncall: Api) -> None:
    api = oncall
    number = _fire(api, {"alertname": "WebDown", "instance": "web-1"})
    with api.state.db.begin() as conn:
        repo.create_token(conn, "cy", "responder", "tocsin_cy_secret", 0.0)
    signin(api.client, "tocsin_cy_secret")
    page = api.client.get(f"/incidents/{number}").text
    done = api.client.post(
        f"/incidents/{number}/assign",
        data={"csrf": _csrf(page), "assignee": "ana", "commander": "ben"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "assignee+ana%2C+commander+ben" in done.headers["location"]
    record = api.get(f"/api/v1/incidents/{number}").json()
    assert record["assignee"] == "ana" and record["commander"] == "ben"
    refused = api.client.post(
        f"/incidents/{number}/assign", data={"csrf": _csrf(page), "assignee": "nobody-known"}
    )
    assert refused.status_code == 422


def test_test_labels_name_who_is_on_call_now_overrides_included(
    db: Engine, clock: VirtualClock
) -> None:
    text = (
        ONCALL.replace(
            "route: {receiver: default, group_by: [alertname]}",
            "route: {receiver: default, group_by: [alertname], escalation_policy: primary}",
        )
        + "escalation_policies:\n"
        + "  - {name: primary, steps: [{targets: ['schedule:primary'], delay: 5m}]}\n"
    )
    state = AppState(db=db, config=parse_config(text), clock=clock)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        api = Api(client, state, db)
        signin(client, api.tokens["admin"])
        query = {"labels": 'alertname="X"'}
        assert "schedule:primary → <b>ana</b>" in client.get("/config", params=query).text
        api.post(
            "/api/v1/overrides",
            {"schedule": "primary", "user": "cy", "replaces": "*",
             "start": "2027-01-15T07:00:00Z", "end": "2027-01-15T20:00:00Z"},
        )  # fmt: skip
        assert "schedule:primary → <b>cy</b>" in client.get("/config", params=query).text
