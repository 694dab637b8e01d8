"""The one template renderer: sandboxed, strict, bounded; the defaults read well."""

from __future__ import annotations

import pytest

from tests.notify.messages import alert, make_message
from tocsin import templating
from tocsin.notify.message import KINDS, message_context
from tocsin.templating import (
    DEFAULT_HTML,
    DEFAULT_TEMPLATES,
    DEFAULT_TEXT,
    DEFAULT_TITLE,
    TemplateError,
    check_template,
    compile_template,
    one_line,
    printable,
    render,
    sample_context,
)


def text(source: str, **context: object) -> str:
    return render(compile_template(source, "test"), context)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ alerts.__class__ }}",
        "{{ alerts.append(1) }}",
        "{{ labels.update({'a': 'b'}) }}",
        "{{ (labels|attr('__class__')) }}",
    ],
)
def test_sandbox_stops_access_to_internals(source: str) -> None:
    template = compile_template(source, "evil.text")
    with pytest.raises(TemplateError) as caught:
        render(template, {"alerts": [], "labels": {}})
    message = str(caught.value)
    assert "evil.text" in message
    assert "line 1" in message
    assert "unsafe" in message or "not allowed" in message or "undefined" in message


def test_class_access_names_the_problem() -> None:
    with pytest.raises(TemplateError, match=r"not allowed in the sandbox.*__class__.*unsafe"):
        text("{{ ''.__class__.__mro__ }}")


def test_label_values_are_data_never_templates() -> None:
    message = make_message(
        alerts=(alert({"alertname": "X", "instance": "{{ 7*7 }}"}, {"summary": "{% raw %}"}),)
    )
    context = message_context(message)
    for name, (source, html) in DEFAULT_TEMPLATES.items():
        out = render(compile_template(source, name, html=html), context)
        assert "49" not in out
    body = render(compile_template(DEFAULT_TEXT, "text"), context)
    assert "{{ 7*7 }}" in body
    assert "{% raw %}" in body


def test_html_autoescapes_untrusted_text_and_text_does_not() -> None:
    message = make_message(alerts=(alert({"alertname": "X"}, {"summary": "<script>x</script>"}),))
    context = message_context(message)
    html = render(compile_template(DEFAULT_HTML, "html", html=True), context)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    plain = render(compile_template(DEFAULT_TEXT, "text"), context)
    assert "<script>x</script>" in plain


def test_non_web_links_never_reach_a_template() -> None:
    message = make_message(runbook_url="javascript:alert(1)", external_url="file:///etc/passwd")
    context = message_context(message)
    assert context["runbook_url"] is None
    assert context["external_url"] == ""
    html = render(compile_template(DEFAULT_HTML, "html", html=True), context)
    assert "javascript:" not in html and "file:" not in html


def test_undefined_variable_is_an_error_with_its_line() -> None:
    with pytest.raises(TemplateError) as caught:
        text("first line\n{{ titel }}", title="x")
    assert caught.value.lineno == 2
    assert "'titel' is undefined" in str(caught.value)
    assert str(caught.value).startswith("template 'test', line 2:")


def test_missing_key_and_runtime_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="has no attribute 'nope'"):
        text("{{ labels.nope }}", labels={})
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        text("{{ 1 / 0 }}")


def test_syntax_error_names_template_and_line() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template("ok\n{% for a in alerts %}\n{{ a }}", "team.text")
    assert caught.value.name == "team.text"
    assert caught.value.lineno is not None
    assert "endfor" in str(caught.value)


def test_output_is_truncated_with_a_marker_never_an_error() -> None:
    template = compile_template("{% for i in range(5000) %}0123456789{% endfor %}", "big")
    out = render(template, {}, max_chars=1000)
    assert len(out) == 1000
    assert out.endswith("[truncated by tocsin: longer than 1000 characters]")
    assert render(template, {}).startswith("0123456789")
    assert len(render(template, {})) == 50_000


def test_huge_context_is_bounded_by_default() -> None:
    context = {"items": ["x" * 1000] * 500}
    out = render(compile_template("{% for i in items %}{{ i }}{% endfor %}", "t"), context)
    assert len(out) == 100_000
    assert "truncated" in out


@pytest.mark.parametrize(
    "source", ["{{ 'x' * 1000000000 }}", "{{ 2 ** 100000000 }}", "{{ 10 ** 999 ** 999 }}"]
)
def test_arithmetic_bombs_are_refused(source: str) -> None:
    with pytest.raises(TemplateError, match="too large"):
        text(source)


def test_compiled_templates_are_cached_by_source_and_flavour() -> None:
    a = compile_template("{{ title }}", "a")
    b = compile_template("{{ title }}", "b")
    c = compile_template("{{ title }}", "c", html=True)
    assert a.compiled is b.compiled
    assert a.compiled is not c.compiled
    assert (a.name, b.name) == ("a", "b")


@pytest.mark.parametrize("kind", KINDS)
def test_defaults_render_the_sample_for_every_kind(kind: str) -> None:
    context = sample_context(kind)
    for name, (source, html) in DEFAULT_TEMPLATES.items():
        out = render(compile_template(source, name, html=html), context)
        assert out.strip()
        assert "HighErrorRate pebble-api" in out
    title = render(compile_template(DEFAULT_TITLE, "title"), context)
    assert "\n" not in title.strip()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("firing", "[FIRING:2] HighErrorRate pebble-api (critical)"),
        ("resolved", "[RESOLVED] HighErrorRate pebble-api (critical)"),
        ("acknowledged", "[ACK] HighErrorRate pebble-api (critical)"),
        ("escalation", "[ESCALATED step 2] HighErrorRate pebble-api (critical)"),
        ("deadline", "[ACK OVERDUE] HighErrorRate pebble-api (critical)"),
        ("reminder", "[STILL FIRING:2] HighErrorRate pebble-api (critical)"),
        ("status_update", "[UPDATE] HighErrorRate pebble-api (critical)"),
        ("test", "[TEST] HighErrorRate pebble-api (critical)"),
    ],
)
def test_default_title(kind: str, expected: str) -> None:
    assert render(compile_template(DEFAULT_TITLE, "title"), sample_context(kind)) == expected


def test_default_text_has_what_the_responder_needs_first() -> None:
    body = render(compile_template(DEFAULT_TEXT, "text"), sample_context("firing"))
    lines = body.splitlines()
    assert lines[0] == "Ada Lovelace, you are paged for this incident."
    for expected in (
        "Incident #42: HighErrorRate pebble-api",
        "Status:   triggered",
        "Severity: critical",
        "Alerts:   2 firing, 1 resolved",
        "Open:     https://tocsin.example.com/incidents/42",
        "Runbook: pebble-api: HighErrorRate <https://runbooks.example.com/pebble-api#higherrorrate>",
        "1. Error rate by route [risk: read, promql]",
        "2. Recent errors in the logs [risk: read, bash]",
        "Firing (2):",
        "Resolved (1):",
        "    instance = 10.0.3.17:8080",
    ):
        assert expected in lines, expected
    # the runbook and the first checks come before the alert details
    assert body.index("Runbook:") < body.index("First checks:") < body.index("Firing (2):")


def test_status_update_leads_with_the_human_text() -> None:
    body = render(compile_template(DEFAULT_TEXT, "text"), sample_context("status_update"))
    assert body.startswith("Rolled back pebble-api")
    assert "you are paged" not in body


def test_message_context_has_the_sample_keys() -> None:
    assert set(message_context(make_message())) == set(sample_context())
    context = message_context(make_message())
    assert [a["name"] for a in context["firing"]] == ["HighErrorRate", "HighErrorRate"]
    assert context["common_labels"]["service"] == "pebble-api"
    assert "instance" not in context["common_labels"]


def test_many_alerts_are_summarised() -> None:
    alerts = tuple(alert({"alertname": "Disk", "instance": f"host-{i}"}) for i in range(45))
    body = render(
        compile_template(DEFAULT_TEXT, "text"), message_context(make_message(alerts=alerts))
    )
    assert "Firing (45):" in body
    assert "… and 25 more" in body
    assert "host-19" in body and "host-20" not in body


def test_one_line() -> None:
    assert one_line("a\r\nBcc: evil@x\n  b\tc") == "a Bcc: evil@x b c"
    assert one_line("abcdef", 4) == "abc…"


# (text, printable(text), printable(text, lines=True))
CONTROLS = [
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    (  # an OSC 8 hyperlink that shows "docs" and leads elsewhere
        "\x1b]8;;https://evil.example/\x1b\\docs\x1b]8;;\x1b\\",
        "\\x1b]8;;https://evil.example/\\x1b\\docs\\x1b]8;;\\x1b\\",
        "\\x1b]8;;https://evil.example/\\x1b\\docs\\x1b]8;;\\x1b\\",
    ),
    ("\x1b]0;owned\x07title", "\\x1b]0;owned\\x07title", "\\x1b]0;owned\\x07title"),
    ("bell\x07", "bell\\x07", "bell\\x07"),
    ("disk full\rall good  ", "disk full\\rall good  ", "disk full\\rall good  "),
    ("a\r\nb", "a\\r\\nb", "a\nb"),
    ("x\x08\x08ok", "x\\x08\\x08ok", "x\\x08\\x08ok"),
    ("c1\x9b31m csi", "c1\\x9b31m csi", "c1\\x9b31m csi"),
    ("osc\x9d0;t\x9c", "osc\\x9d0;t\\x9c", "osc\\x9d0;t\\x9c"),
    ("del\x7f", "del\\x7f", "del\\x7f"),
    ("nul\x00", "nul\\x00", "nul\\x00"),
    ("line one\n\tline two", "line one\\n\\tline two", "line one\n\tline two"),
    ("evil\u202etxt.exe", "evil\\u202etxt.exe", "evil\\u202etxt.exe"),
    (  # a normal Unicode label: accents, CJK, emoji with a zero-width joiner, no-break space
        "Zürich 東京 👩\u200d💻 café\u00a0[bold]x[/bold] \\x1b",
        "Zürich 東京 👩\u200d💻 café\u00a0[bold]x[/bold] \\x1b",
        "Zürich 東京 👩\u200d💻 café\u00a0[bold]x[/bold] \\x1b",
    ),
    ("", "", ""),
]


@pytest.mark.parametrize(("raw", "one", "lines"), CONTROLS)
def test_printable_shows_control_characters_and_keeps_text(raw: str, one: str, lines: str) -> None:
    assert printable(raw) == one
    assert printable(raw, lines=True) == lines
    assert printable(one) == one and printable(lines, lines=True) == lines  # idempotent
    for shown in (one, lines):
        assert not [c for c in shown if c not in "\n\t" and (ord(c) < 32 or 127 <= ord(c) < 160)]


def test_printable_takes_any_value() -> None:
    assert printable(None) == "None" and printable(42) == "42"


def test_check_template_renders_every_kind() -> None:
    assert templating.KINDS is KINDS
    check_template("{{ title }}{% if escalation_step %} {{ escalation_step + 1 }}{% endif %}", "ok")
    with pytest.raises(TemplateError, match=r"'t', line 1: TypeError.*rendering a firing message"):
        check_template("{{ escalation_step + 1 }}", "t")
    with pytest.raises(TemplateError, match=r"'t', line 1: .*'nope' is undefined"):
        check_template("{{ nope }}", "t")


def test_times_in_messages_are_readable_in_the_recipients_zone() -> None:
    """Issue 17, item 9: "since 2024-05-14 04:58:10 CEST" for a person in Berlin, UTC for a
    channel; no microseconds; the ISO forms stay for machines."""
    first = alert({"alertname": "DatabaseDown"}) | {"starts_at": "2024-05-14T02:58:10.372+00:00"}
    berlin = {"name": "Ada", "email": "ada@example.com", "slack": "", "timezone": "Europe/Berlin"}
    context = message_context(make_message(alerts=(first,), recipient=berlin))
    [item] = context["alerts"]
    assert item["starts_at"] == "2024-05-14 04:58:10 CEST"
    assert item["starts_at_iso"] == "2024-05-14T02:58:10.372+00:00"
    body = render(compile_template(DEFAULT_TEXT, "text"), context)
    assert "since 2024-05-14 04:58:10 CEST" in body and ".372" not in body
    html = render(compile_template(DEFAULT_HTML, "html", html=True), context)
    assert "since 2024-05-14 04:58:10 CEST" in html
    channel = message_context(make_message(alerts=(first,), recipient=None))
    assert channel["alerts"][0]["starts_at"] == "2024-05-14 02:58:10 UTC"


def test_a_person_is_greeted_by_their_full_name_where_one_is_configured() -> None:
    """Issue 17, item 20: ``users[].full_name`` is read: the page greets them by it."""
    context = sample_context("firing")
    context["recipient"] = {"name": "ada", "email": "", "slack": "", "full_name": "Ada Byron"}
    body = render(compile_template(DEFAULT_TEXT, "text"), context)
    assert body.splitlines()[0] == "Ada Byron, you are paged for this incident."
    context["recipient"] = {"name": "ada", "email": "", "slack": ""}
    body = render(compile_template(DEFAULT_TEXT, "text"), context)
    assert body.splitlines()[0] == "ada, you are paged for this incident."
