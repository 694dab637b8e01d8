"""Alertmanager's Go templates translated to the one sandboxed renderer (config/gotemplate.py).

One table of Go templates, in the forms public Alertmanager configurations use (the source of
each form named beside it) and with the constructs of Alertmanager's own default.tmpl, with
the text Alertmanager renders for one alert group, worked out by Go's rules.
The same table is checked twice: tocsin's translation renders exactly that text, and (where
``prometheus-alertmanager`` is installed) a real Alertmanager, posting to a local Slack sink,
renders it too. Then the refusals, with their line, column and what to write instead, and a
property: hostile label values never change what the template does.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from tests.notify.sinks import HttpSink, free_port
from tocsin.alerts.fingerprint import fingerprint_hex_python
from tocsin.config.gotemplate import GoTemplateError, parse_defines, translate
from tocsin.notify.message import Message, message_context
from tocsin.templating import TemplateError, check_template, compile_template, render

GROUP = {"alertname": "HighErrorRate", "service": "pebble-api"}
ALERTS: list[dict[str, Any]] = [
    {
        "labels": {
            **GROUP,
            "severity": "critical",
            "instance": "10.0.3.17:8080",
            "job": "pebble-api",
        },
        "annotations": {
            "summary": "5xx ratio is 7.2% on 10.0.3.17:8080",
            "description": "More than 5% of requests failed.",
        },
        "startsAt": "2024-05-14T02:58:10Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
    },
    {
        "labels": {
            **GROUP,
            "severity": "critical",
            "instance": "10.0.3.18:8080",
            "job": "pebble-api",
        },
        "annotations": {
            "summary": "5xx ratio is 6.1% on 10.0.3.18:8080",
            "description": "More than 5% of requests failed.",
        },
        "startsAt": "2024-05-14T02:59:40.5Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
    },
]
FINGERPRINTS = [fingerprint_hex_python(a["labels"]) for a in ALERTS]

# A templates: file, as Alertmanager's `templates:` would load it.
TEMPLATES_FILE = """\
{{/* A title of the form many public slack.tmpl files use: status, count, alert name */}}
{{ define "chat.title" -}}
  {{ .Status | toUpper -}}
  {{ if eq .Status "firing" }} x{{ .Alerts.Firing | len }}{{- end }} -
  {{- " " }}{{ .CommonLabels.alertname }}
{{- end }}

{{/* A colour by status and severity, trimmed as such files trim */}}
{{ define "chat.colour" -}}
  {{- if ne .Status "firing" -}} green
  {{- else if eq .CommonLabels.severity "critical" -}} red
  {{- else if eq .CommonLabels.severity "warning" -}} amber
  {{- else -}} grey
  {{- end -}}
{{- end }}

{{/* The constructs of Alertmanager's own __subject (template/default.tmpl) */}}
{{ define "my.subject" }}{{ .Status | toUpper }}{{ if eq .Status "firing" }} ({{ .Alerts.Firing | len }}){{ end }}: {{ .GroupLabels.SortedPairs.Values | join "/" }}{{ if gt (len .CommonLabels) (len .GroupLabels) }} [{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join ", " }}{{ end }}]{{ end }}{{ end }}

{{/* A link to silence the group, as public configs build one */}}
{{ define "silence.link" -}}
  {{ .ExternalURL }}/#/silences/new?filter=%7B
  {{- range $i, $p := .GroupLabels.SortedPairs -}}
    {{- if $i }}%2C{{ end -}}
    {{ $p.Name }}%3D%22{{ $p.Value }}%22
  {{- end -}}
  %7D
{{- end }}

{{ define "alert.list" }}{{ range . }}- {{ .Labels.instance }}: {{ .Annotations.summary }}
{{ end }}{{ end }}
"""  # noqa: E501


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    expected: str
    since: tuple[int, int] = (0, 25)  # the first Alertmanager (0.x) that has what it uses


CASES = [
    # mmeuric/ft_transcendence project/infra/monitoring/alertmanager/alertmanager.yml.tpl
    Case(
        "ft_transcendence.title",
        "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
        "[FIRING] HighErrorRate",
    ),
    # the same file's text (a YAML folded scalar: its lines joined by spaces)
    Case(
        "ft_transcendence.text",
        "{{ range .Alerts -}} *{{ .Labels.job }}* — {{ .Annotations.summary }} "
        "{{ .Annotations.description }} {{ end }}",
        "*pebble-api* — 5xx ratio is 7.2% on 10.0.3.17:8080 More than 5% of requests failed. "
        "*pebble-api* — 5xx ratio is 6.1% on 10.0.3.18:8080 More than 5% of requests failed. ",
    ),
    # kalisio/kargo configs/prometheus/alertmanager.yml.tpl: summary differs, so it is no
    # common annotation and renders as "" (missingkey=zero)
    Case(
        "kargo.text",
        '{{ if eq .Status "resolved" }}[RESOLVED] {{ end }}{{ .CommonAnnotations.summary }}',
        "",
    ),
    # ministryofjustice/cloud-platform-terraform-monitoring templates/alertmanager_receivers.tpl
    Case("moj.runbook", "{{ (index .Alerts 0).Annotations.runbook_url }}", ""),
    Case(
        "moj.query",
        "{{ (index .Alerts 0).GeneratorURL }}",
        "http://prometheus.example:9090/graph?g0.expr=up",
    ),
    # the templates: file above
    Case("file.title", '{{ template "chat.title" . }}', "FIRING x2 - HighErrorRate"),
    Case("file.colour", '{{ template "chat.colour" . }}', "red"),
    Case(
        "file.silence",
        '{{ template "silence.link" . }}',
        "http://tocsin.example/#/silences/new?filter="
        "%7Balertname%3D%22HighErrorRate%22%2Cservice%3D%22pebble-api%22%7D",
    ),
    Case(
        "file.subject",
        '{{ template "my.subject" . }}',
        "FIRING (2): HighErrorRate/pebble-api [pebble-api, critical]",
    ),
    Case(
        "file.list",
        'Firing:\n{{ template "alert.list" .Alerts.Firing }}',
        "Firing:\n- 10.0.3.17:8080: 5xx ratio is 7.2% on 10.0.3.17:8080\n"
        "- 10.0.3.18:8080: 5xx ratio is 6.1% on 10.0.3.18:8080\n",
    ),
    # the subset, one feature at a time
    Case(
        "sorted-pairs",
        "{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}\n"
        "{{ end }}",
        "alertname=HighErrorRate;instance=10.0.3.17:8080;job=pebble-api;service=pebble-api;"
        "severity=critical;\nalertname=HighErrorRate;instance=10.0.3.18:8080;job=pebble-api;"
        "service=pebble-api;severity=critical;\n",
    ),
    Case(
        "range-kv",
        "{{ range $k, $v := .CommonLabels }}{{ $k }}={{ $v }} {{ end }}",
        "alertname=HighErrorRate job=pebble-api service=pebble-api severity=critical ",
    ),
    Case(
        "printed", '{{ .GroupLabels.Names }}|{{ eq .Status "firing" }}', "[alertname service]|true"
    ),
    # a label set prints through its String method (before 0.26: Go's map[a:b])
    Case(
        "printed-labels",
        "{{ .GroupLabels }}|{{ .GroupLabels.SortedPairs }}",
        "alertname=HighErrorRate, service=pebble-api|alertname=HighErrorRate, service=pebble-api",
        since=(0, 26),
    ),
    Case(
        "values-join",
        '{{ .GroupLabels.SortedPairs.Values | join ", " }}',
        "HighErrorRate, pebble-api",
    ),
    Case(
        "names-join-method",
        '{{ .CommonLabels.Names.Join "," }}',
        "alertname,job,service,severity",
        since=(0, 34),
    ),
    Case(
        "starts-at",
        "{{ range .Alerts }}{{ .StartsAt }}|{{ end }}",
        "2024-05-14 02:58:10 +0000 UTC|2024-05-14 02:59:40.5 +0000 UTC|",
    ),
    Case(
        "format",
        '{{ range .Alerts }}{{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}|'
        '{{ .StartsAt.Format "Jan 2, 2006 at 3:04pm (-07:00 Z07:00) 05.999 .000" }}|'
        '{{ .StartsAt.Format "January Monday 06 002 1/_2 03PM Mon" }}\n{{ end }}',
        "2024-05-14 02:58:10 UTC|May 14, 2024 at 2:58am (+00:00 Z) 10 .000|"
        "May Tuesday 24 135 5/14 02AM Tue\n"
        "2024-05-14 02:59:40 UTC|May 14, 2024 at 2:59am (+00:00 Z) 40.5 .500|"
        "May Tuesday 24 135 5/14 02AM Tue\n",
    ),
    Case(
        "date",
        '{{ range .Alerts }}{{ .StartsAt | date "15:04" }} {{ date "2006" .StartsAt }} {{ end }}',
        "02:58 2024 02:59 2024 ",
        since=(0, 28),
    ),
    Case(
        "fingerprint",
        "{{ range .Alerts }}{{ .Fingerprint }} {{ end }}",
        f"{FINGERPRINTS[0]} {FINGERPRINTS[1]} ",
    ),
    Case(
        "case",
        '{{ .CommonLabels.severity | title }} {{ "  X " | trimSpace | toLower }}',
        "Critical x",
        since=(0, 26),
    ),
    Case(
        "variables",
        "{{ range $i, $a := .Alerts }}{{ $i }}:{{ $a.Labels.instance }}@{{ $.CommonLabels.job }} "
        "{{ end }}",
        "0:10.0.3.17:8080@pebble-api 1:10.0.3.18:8080@pebble-api ",
    ),
    Case(
        "logic",
        '{{ if and (eq .CommonLabels.severity "critical") (not (eq .Status "resolved")) }}page'
        "{{ else if or .CommonLabels.x .CommonLabels.y }}x{{ else }}no{{ end }}|"
        '{{ or .CommonAnnotations.summary "no summary" }}|{{ ne .Status "firing" }}|'
        '{{ eq .CommonLabels.severity "warning" "critical" }}',
        "page|no summary|false|true",
    ),
    Case(
        "trim-comment",
        "{{/* a comment */}}\n{{- range .Alerts.Firing }}\n  - {{ .Labels.instance -}}\n"
        "{{ end }}\n",
        "\n  - 10.0.3.17:8080\n  - 10.0.3.18:8080\n",
    ),
    Case(
        "range-else",
        "{{ range .Alerts.Resolved }}{{ .Labels.instance }}{{ else }}none{{ end }}",
        "none",
    ),
    Case("len", "{{ len .Alerts }} {{ .Alerts.Firing | len }} {{ len .CommonLabels }}", "2 2 4"),
    Case(
        "declare",
        "{{ $sev := .CommonLabels.severity }}{{ range .Alerts }}{{ $sev }} {{ end }}",
        "critical critical ",
    ),
    Case(
        "index-label",
        '{{ index .CommonLabels "severity" }}{{ index .CommonLabels "nope" }}',
        "critical",
    ),
    Case("receiver", "{{ .Receiver }}", "cases"),
    Case("missing-label", "[{{ .CommonLabels.nosuch }}]", "[]"),
    Case(
        "braces-text",
        "{% raw %}{#x#} {{ `{{ .Status }}` }} \\n",
        "{% raw %}{#x#} {{ .Status }} \\n",
    ),
]
DEFINES = parse_defines(TEMPLATES_FILE, where="slack.tmpl")


def message(labels_of: list[dict[str, Any]] = ALERTS) -> Message:
    return Message(
        kind="firing",
        incident_id=1,
        title="HighErrorRate pebble-api",
        status="triggered",
        severity="critical",
        summary="",
        group_labels=dict(GROUP),
        alerts=tuple(
            {
                "fingerprint": fingerprint_hex_python(a["labels"]),
                "status": "firing",
                "labels": a["labels"],
                "annotations": a["annotations"],
                "starts_at": a["startsAt"],
                "ends_at": None,
                "generator_url": a["generatorURL"],
            }
            for a in labels_of
        ),
        idempotency_key="incident-1-firing-1",
        created_at="2024-05-14T03:00:00Z",
        external_url="http://tocsin.example/incidents/1",
        receiver="cases",
    )


def rendered(source: str, msg: Message | None = None, *, html: bool = False) -> str:
    jinja = translate(source, where="test", defines=DEFINES)
    assert jinja is not None
    # check_template: what channel building does (renders against every kind's sample)
    return render(check_template(jinja, "test", html=html), message_context(msg or message()))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_renders_what_alertmanager_renders(case: Case) -> None:
    assert rendered(case.source) == case.expected


def test_default_templates_mean_tocsins_defaults() -> None:
    for source in (
        '{{ template "slack.default.title" . }}',
        ' {{ template "email.default.html" . }}\n',
        '{{ template "__subject" . }}',
        '{{- template "slack.default.text" $ -}}',
    ):
        assert translate(source, where="test") is None
    # a templates: file that redefines a default name is that file's text
    defines = parse_defines(
        '{{ define "slack.default.title" }}mine: {{ .Status }}{{ end }}', where="t.tmpl"
    )
    jinja = translate('{{ template "slack.default.title" . }}', where="t", defines=defines)
    assert jinja is not None
    assert render(check_template(jinja, "t"), message_context(message())) == "mine: firing"


def test_resolved_and_external_url() -> None:
    resolved = Message(
        **{
            **message().__dict__,
            "kind": "resolved",
            "receiver": "db.team (nights)",
            "status": "resolved",
            "alerts": tuple(
                {**a, "status": "resolved", "ends_at": "2024-05-14T03:10:00Z"}
                for a in message().alerts
            ),
        }
    )
    source = (
        '{{ template "chat.title" . }}|{{ template "chat.colour" . }}|'
        "{{ range .Alerts.Resolved }}{{ .EndsAt }};{{ end }}|{{ .ExternalURL }}|{{ .Receiver }}"
    )
    assert rendered(source, resolved) == (
        "RESOLVED - HighErrorRate|green|2024-05-14 03:10:00 +0000 UTC;"
        "2024-05-14 03:10:00 +0000 UTC;|http://tocsin.example|db\\.team \\(nights\\)"
    )


def test_html_fields_escape_values_not_the_template() -> None:
    hostile = [{**ALERTS[0], "annotations": {"summary": "<script>x</script> & co"}}]
    out = rendered(
        "<b>{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}</b>", message(hostile), html=True
    )
    assert out == "<b>&lt;script&gt;x&lt;/script&gt; &amp; co</b>"


REFUSALS = [
    # (source, line, column, what, instead)
    ("{{ .RouteLabels.team }}", 1, 4, ".RouteLabels", "write the labels you mean"),
    (
        'title:\n  {{ printf "%s" .Status }}',
        2,
        6,
        "the function printf",
        "write the text and the values next to each other",
    ),
    (
        "{{ range .Alerts }}{{ .StartsAt.Unix }}{{ end }}",
        1,
        32,
        "the time method .Unix",
        "{{ .StartsAt.Format",
    ),
    (
        "{{ .StartsAt | since }}",
        1,
        4,
        "no field .StartsAt in the notification's data",
        "it has .Alerts",
    ),
    ("{{ .Labels.instance }}", 1, 4, "no field .Labels", ".CommonLabels"),
    ("{{ if .Status }}firing", 1, 1, "{{ if }} without its {{ end }}", ""),
    (
        '{{ template "nosuch" . }}',
        1,
        1,
        'no file listed in templates: defines "nosuch"',
        '{{ define "nosuch" }}',
    ),
    (
        'Alert: {{ template "slack.default.title" . }}',
        1,
        8,
        'default template "slack.default.title" inside other text',
        "tocsin's own default",
    ),
    ('{{ define "x" }}y{{ end }}', 1, 4, "{{ define }} inside a text field", "templates:"),
    ("{{ .Alerts }}", 1, 1, "printing a list of alerts", "print its fields"),
    ("{{ $x := 1 }}{{ $x = 2 }}", 1, 17, "assigning to $x with =", ":="),
    ("{{ .CommonLabels.job | len }}", 1, 24, "len of a string", "len .Alerts.Firing"),
    ("{{ humanizeDuration 3 }}", 1, 4, "the function humanizeDuration", "{{ .StartsAt }}"),
    ("{{ .Alerts.Firing.Firing }}", 1, 18, "no field .Firing in a list of alerts", ""),
    ('{{ eq .Alerts "x" }}', 1, 4, "eq of a list of alerts and a string", "compare two"),
    ("{{ range .Alerts }}{{ break }}{{ end }}", 1, 23, "{{ break }}", "{{ if }}"),
    ("{{ .Status\n}", 2, 1, "an unexpected character '}'", ""),
    ("{{ .Status ", 1, 1, "an action that is never closed", ""),
    ("{{ 'x' }}", 1, 4, "a character constant", "double quotes"),
    ('{{ .CommonLabels.job | reReplaceAll "a" "b" }}', 1, 24, "the function reReplaceAll", ""),
    ("{{ with $x := .CommonLabels }}{{ end }}{{ $x }}", 1, 43, "the undefined variable $x", ""),
    ("x {{ end }}", 1, 3, "{{ end }} with nothing to close", ""),
    # digits that are not ASCII (str.isdigit takes them) crashed the lexer's assert
    ("{{ index .Alerts.Firing \u0661 }}", 1, 25, "an unexpected character", ""),
    ("{{ index .Alerts.Firing 1\u00b2 }}", 1, 26, "an unexpected character", ""),
    # a number of 5,000 digits made int() raise its own ValueError, not a refusal
    ("{{ index .Alerts.Firing " + "9" * 5000 + " }}", 1, 25, "the number 9999", "smaller"),
]


@pytest.mark.parametrize("source,line,column,what,instead", REFUSALS)
def test_refusals_say_where_what_and_what_to_write(
    source: str, line: int, column: int, what: str, instead: str
) -> None:
    with pytest.raises(GoTemplateError) as caught:
        translate(
            source, where="alertmanager.yml:12 receivers[0].slack_configs[0].text", defines=DEFINES
        )
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.line, error.column) == (line, column), str(error)
    assert what in error.what, str(error)
    assert instead in error.instead, str(error)
    assert str(error).startswith(
        f"alertmanager.yml:12 receivers[0].slack_configs[0].text: line {line}, column {column}: "
    )


def test_template_files_errors_and_recursion() -> None:
    with pytest.raises(GoTemplateError) as caught:
        parse_defines(
            '{{ define "a" }}ok{{ end }}\n\n  {{ define "b" }}{{ if .Status }}', where="slack.tmpl"
        )
    assert (caught.value.line, caught.value.column) == (3, 19)
    assert "without its {{ end }}" in caught.value.what
    with pytest.raises(GoTemplateError, match=re.escape('a second {{ define "a" }}')):
        parse_defines('{{ define "a" }}1{{ end }}{{ define "a" }}2{{ end }}', where="t")
    looping = parse_defines(
        '{{ define "a" }}{{ template "b" . }}{{ end }}'
        '{{ define "b" }}{{ template "a" . }}{{ end }}',
        where="t",
    )
    with pytest.raises(GoTemplateError, match='template "a" calls itself'):
        translate('{{ template "a" . }}', where="t", defines=looping)
    # an error inside a define says which define, and where in its body
    bad = parse_defines('{{ define "bad" }}\nline two {{ .Nope }}{{ end }}', where="t")
    with pytest.raises(GoTemplateError) as caught:
        translate('{{ template "bad" . }}', where="t", defines=bad)
    assert (caught.value.line, caught.value.column) == (2, 13)
    assert 'in {{ define "bad" }}' in caught.value.what
    # a define called ten times inside one called ten times, six levels deep, is 10^6
    # copies (100 MB of Jinja; two levels more, gigabytes): refused once past the bound
    text = '{{ define "t0" }}{{ .Status }} and some text{{ end }}'
    for level in range(1, 7):
        text += f'{{{{ define "t{level}" }}}}' + f'{{{{ template "t{level - 1}" . }}}}' * 10
        text += "{{ end }}"
    nested = parse_defines(text, where="t")
    with pytest.raises(GoTemplateError, match="inlined into more than 1,000,000 characters"):
        translate('{{ template "t6" . }}', where="t", defines=nested)
    # the same defines, called within the bound, translate
    assert translate('{{ template "t2" . }}', where="t", defines=nested)
    # nested deeper than the parser's recursion goes: refused, not a RecursionError
    deep = "{{ if true }}" * 2000 + "x" + "{{ end }}" * 2000
    with pytest.raises(GoTemplateError, match="nested too deep"):
        translate(deep, where="t")
    with pytest.raises(GoTemplateError, match="nested too deep"):
        parse_defines('{{ define "d" }}' + deep + "{{ end }}", where="t")
    with pytest.raises(GoTemplateError, match="nested too deep"):
        translate("{{ " + "(" * 2000 + ".Status" + ")" * 2000 + " }}", where="t")
    # what translates but is nested too deep for Jinja's compiler is refused when compiled
    with pytest.raises(TemplateError, match="nested too deep"):
        compile_template(translate("{{ if true }}" * 300 + "{{ end }}" * 300, where="t") or "", "t")
    loops = translate("{{ range $.Alerts }}" * 25 + "{{ end }}" * 25, where="t") or ""
    with pytest.raises(TemplateError, match="nested too deep"):
        compile_template(loops, "t")  # Python: "too many statically nested blocks"
    # text outside the defines is not used, as Alertmanager does not use it
    assert parse_defines('junk {{ .Status }}{{ define "a" }}x{{ end }}', where="t") == {"a": "x"}


# label values: any text, the template syntax of both languages and HTML included
_HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "{{ 7*7 }}",
            "{% for x in range(9) %}",
            "{# #}",
            "}}",
            "{{",
            "' ~ x ~ '",
            "{{ alertmanager.__class__ }}",
            "<b>",
            "\\",
            '"',
            "\r\n",
            "{%+ endfor +%}",
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(value=_HOSTILE, summary=_HOSTILE)
def test_hostile_label_values_are_data(value: str, summary: str) -> None:
    labels = {**ALERTS[0]["labels"], "instance": value}
    alert = {**ALERTS[0], "labels": labels, "annotations": {"summary": summary}}
    out = rendered(
        "{{ range .Alerts }}<{{ .Labels.instance }}|{{ .Annotations.summary }}>{{ end }}"
        '{{ range $k, $v := .CommonLabels }}{{ if eq $k "instance" }}[{{ $v }}]{{ end }}'
        "{{ end }}",
        message([alert]),
    )
    assert out == f"<{value}|{summary}>[{value}]"


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(exclude_categories=["Cs"]), max_size=60))
def test_literals_and_text_survive_translation(text: str) -> None:
    """Any template text, and any string literal, renders as itself: the translation's
    quoting holds for every character."""
    if "{{" in text or text.endswith("{"):
        return  # a Go action: not plain text
    go_literal = json.dumps(text, ensure_ascii=False)  # Go reads its escapes too
    assert rendered(text) == text
    assert rendered("{{ " + go_literal + " }}") == text
    # an html field: the template's own text as it is, an action's value escaped (Go's
    # html/template escapes the same characters, and + too: the same text on screen)
    assert rendered(text, html=True) == text
    assert rendered("{{ " + go_literal + " }}", html=True) == str(escape(text))


# --- a real Alertmanager -------------------------------------------------------------------

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def alertmanager_version() -> tuple[int, int]:
    assert ALERTMANAGER is not None
    out = subprocess.run([ALERTMANAGER, "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    assert found is not None, out
    return int(found.group(1)), int(found.group(2))


@pytest.fixture(scope="module")
def alertmanager_output(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """What a real Alertmanager renders for every case of the table: one receiver with one
    slack_config per case (its ``text``), posting to a local sink; the two alerts posted to
    its API. Case name -> the text it sent."""
    if ALERTMANAGER is None:
        pytest.skip("prometheus-alertmanager is not installed")
    import yaml

    version = alertmanager_version()
    cases = [case for case in CASES if case.since <= version]
    workdir = tmp_path_factory.mktemp("alertmanager")
    (workdir / "slack.tmpl").write_text(TEMPLATES_FILE)
    with HttpSink() as sink:
        base = sink.url.rsplit("/", 1)[0]
        config = {
            "route": {
                "receiver": "cases",
                "group_by": ["alertname", "service"],
                "group_wait": "1s",
                "group_interval": "5m",
                "repeat_interval": "4h",
            },
            "receivers": [
                {
                    "name": "cases",
                    "slack_configs": [
                        {
                            "api_url": f"{base}/case/{n}",
                            "channel": "#x",
                            "title": "t",
                            "text": case.source,
                        }
                        for n, case in enumerate(cases)
                    ],
                }
            ],
            "templates": [str(workdir / "slack.tmpl")],
        }
        (workdir / "am.yml").write_text(yaml.safe_dump(config, allow_unicode=True))
        port, cluster = free_port(), free_port()
        process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={workdir / 'am.yml'}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--cluster.listen-address=127.0.0.1:{cluster}",
                "--web.external-url=http://tocsin.example",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://127.0.0.1:{port}/api/v2/alerts"
            body = json.dumps(
                [
                    {k: a[k] for k in ("labels", "annotations", "startsAt", "generatorURL")}
                    for a in ALERTS
                ]
            ).encode()
            deadline = time.monotonic() + 30
            while True:  # until its API answers
                try:
                    request = urllib.request.Request(
                        url, body, {"Content-Type": "application/json"}
                    )
                    urllib.request.urlopen(request, timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("Alertmanager did not start") from None
                    time.sleep(0.1)
            while len({r.path for r in sink.requests}) < len(cases):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            process.terminate()
            _, errors = process.communicate(timeout=10)
        sent = {r.path: r.json()["attachments"][0]["text"] for r in sink.requests}
        if len(sent) < len(cases):
            pytest.fail(f"Alertmanager sent {len(sent)} of {len(cases)}: {errors.decode()}")
        yield {case.name: sent[f"/case/{n}"] for n, case in enumerate(cases)}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_real_alertmanager_renders_the_same(
    case: Case, alertmanager_output: dict[str, str]
) -> None:
    if case.name not in alertmanager_output:
        pytest.skip(f"the installed Alertmanager is older than 0.{case.since[1]}")
    assert alertmanager_output[case.name] == case.expected


_FRAGMENTS = [
    "{{",
    "}}",
    "{{- ",
    " -}}",
    "{{ ",
    " }}",
    "{{/*",
    "*/}}",
    ".Status",
    ".Alerts",
    ".Labels",
    ".CommonLabels",
    ".x",
    "$",
    "$x",
    "$k, $v := ",
    ":=",
    "=",
    "|",
    "(",
    ")",
    ",",
    "range ",
    "if ",
    "else",
    "else if ",
    "end",
    "with ",
    "template ",
    '"chat.title"',
    '"a\\n"',
    "`r`",
    "eq ",
    "len ",
    "join ",
    "index ",
    "0",
    "-1",
    "1.5",
    "'c'",
    " ",
    "\n",
    "text",
    "{",
    "}",
    "{%",
    "#}",
    "define ",
    "break",
    "nil",
    "true",
    "printf ",
]


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(st.sampled_from(_FRAGMENTS), max_size=14))
def test_any_text_is_translated_or_refused_never_crashes(parts: list[str]) -> None:
    """Whatever the text, translate either refuses it (GoTemplateError, with a position
    inside the text) or returns Jinja the renderer compiles and renders."""
    source = "".join(parts)
    try:
        jinja = translate(source, where="t", defines=DEFINES)
    except GoTemplateError as error:
        assert 1 <= error.line <= source.count("\n") + 1
        assert error.column >= 1
        return
    if jinja is not None:
        render(check_template(jinja, "t"), message_context(message()))
