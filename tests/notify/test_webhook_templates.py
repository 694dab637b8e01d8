"""Webhook bodies from a template (``body_template``: Microsoft Teams, Google Chat): the shipped
examples render valid JSON for every kind of message, untrusted label values stay inside their
JSON strings whatever they hold, a template that prints a value outside a string is refused at
load, and the channel posts the rendered body to a real local receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.notify.conftest import config, deliver
from tests.notify.messages import alert, make_message
from tests.notify.sinks import HttpSink
from tocsin.config import WebhookChannelConfig
from tocsin.notify.base import ChannelConfigError
from tocsin.notify.message import message_context
from tocsin.templating import (
    HOSTILE,
    KINDS,
    TemplateError,
    check_json_template,
    compile_template,
    render_json,
    sample_context,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "webhook-templates"
TEMPLATES = {p.name: p.read_text() for p in sorted(EXAMPLES.glob("*.json.j2"))}
NASTY = 'db "primary"\n}], "text": "owned\\u0022 \\ \x1b[31m {{ 7*7 }} </script>'


def test_both_examples_are_shipped() -> None:
    assert set(TEMPLATES) == {"teams.json.j2", "google-chat.json.j2"}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("kind", KINDS)
def test_an_example_renders_valid_json_for_every_kind(name: str, kind: str) -> None:
    template = check_json_template(TEMPLATES[name], name)
    body = json.loads(render_json(template, sample_context(kind)))
    assert isinstance(body, dict)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_teams_keeps_a_nasty_label_inside_its_string() -> None:
    message = make_message(
        title=NASTY,
        summary=NASTY,
        group_labels={"alertname": "X"},
        alerts=(alert({"alertname": "X", "instance": NASTY}),),
    )
    template = check_json_template(TEMPLATES["teams.json.j2"], "teams")
    body = json.loads(render_json(template, message_context(message)))
    card = body["attachments"][0]["content"]
    assert card["body"][0]["text"] == f"[FIRING] #42 {NASTY}"
    assert {"title": "instance", "value": NASTY} in card["body"][1]["facts"]
    assert card["body"][2] == {"type": "TextBlock", "wrap": True, "text": NASTY}
    assert "owned" not in body  # no key of its own: it stayed text


def test_google_chat_escapes_html_and_json() -> None:
    message = make_message(
        summary="<a href='https://evil.example'>click</a> & \"more\"\n",
        alerts=(alert({"alertname": "HighErrorRate", "service": "pebble-api", "x": NASTY}),),
    )
    template = check_json_template(TEMPLATES["google-chat.json.j2"], "chat")
    body = json.loads(render_json(template, message_context(message)))
    widgets = body["cardsV2"][0]["card"]["sections"][0]["widgets"]
    texts = strings(widgets)
    assert (
        "&lt;a href=&#39;https://evil.example&#39;&gt;click&lt;/a&gt; &amp; &#34;more&#34;\n"
        in (texts)
    )
    assert not any("<a " in t for t in texts)
    assert {
        "decoratedText": {
            "topLabel": "x",
            "text": NASTY.replace('"', "&#34;").replace("<", "&lt;").replace(">", "&gt;"),
        }
    } in widgets


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ('{"text": {{ title }}}', "does not render valid JSON"),
        # a number in the sample (10.0.3.17:8080 without its dots), anything on a real page
        (
            '{"n": {{ alerts[0].labels.instance | replace(".", "") | replace(":", "") }}}',
            "with hostile labels",
        ),
        ('{"text": "{{ title }}"', "does not render valid JSON"),
        ('{"text": "{{ nosuch }}"}', "undefined"),
        ('{"text": "{{ title.__class__ }}"}', "not allowed in the sandbox"),
    ],
)
def test_a_template_that_could_break_is_refused_at_load(source: str, why: str) -> None:
    with pytest.raises(TemplateError) as raised:
        check_json_template(source, "bad")
    assert why in str(raised.value)


def test_hostile_text_is_data() -> None:
    template = compile_template(
        '{"t": "{{ title }}", "all": {{ alerts | tojson }}}', "t", json_body=True
    )
    context = sample_context() | {"title": HOSTILE}
    body = json.loads(render_json(template, context))
    assert body["t"] == HOSTILE
    assert body["all"][0]["labels"]["alertname"] == "HighErrorRate"


def test_the_channel_posts_the_rendered_body() -> None:
    with HttpSink() as sink:
        cfg = config(
            WebhookChannelConfig,
            name="teams",
            type="webhook",
            url=sink.url,
            body_template=TEMPLATES["teams.json.j2"],
        )
        outcome = deliver(cfg, make_message(title=NASTY))
    assert outcome.ok, outcome.error
    [request] = sink.requests
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["type"] == "message"
    assert body["attachments"][0]["content"]["body"][0]["text"] == f"[FIRING] #42 {NASTY}"


def test_a_broken_body_template_is_a_channel_error_at_build() -> None:
    cfg = config(
        WebhookChannelConfig,
        name="w",
        type="webhook",
        url="http://127.0.0.1/",
        body_template='{"text": {{ title }}}',
    )
    with pytest.raises(ChannelConfigError, match=r"w\.body_template"):
        deliver(cfg, make_message())
