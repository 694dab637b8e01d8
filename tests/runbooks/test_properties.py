"""Property tests: whatever Markdown arrives, reading it never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.runbooks.commands import find_placeholders, guess_language, strip_prompts
from tocsin.runbooks.lint import lint_alert, lint_document
from tocsin.runbooks.parse import parse_runbook
from tocsin.runbooks.risk import classify

MARKDOWN_PIECES = st.sampled_from(
    [
        "# ",
        "## ",
        "### ",
        "#### ",
        "\n",
        "\n\n",
        "- ",
        "* ",
        "1. ",
        "2) ",
        "   ",
        "    ",
        "**",
        "*",
        "_",
        "`",
        "```",
        "```bash\n",
        "```sql\n",
        "~~~",
        "> ",
        "| a | b |\n",
        "|---|---|\n",
        "---\n",
        "[x](#y)",
        "<b>",
        "\\",
        ":",
        "(Critical)",
        "**Severity**: ",
        "**Alert:** ",
        "**Threshold**: ",
        "Impact",
        "Diagnosis",
        "Escalation",
        "0-5 min",
        "HighCPUUsage",
        "P1 - Critical",
        "rm -rf /",
        "<PID>",
        "$NAMESPACE",
        "{{ $labels.x }}",
        "SELECT 1;",
        "Get-Process",
        "kubectl get pods",
        "\t",
        "é",
        "\u200b",
        "[INCIDENT]",
    ]
)
MARKDOWN = st.lists(st.one_of(MARKDOWN_PIECES, st.text(max_size=20)), max_size=80).map("".join)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(MARKDOWN)
def test_parser_never_raises(text: str) -> None:
    runbook, problems, doc = parse_runbook(text, "fuzz.md")
    lint_document(doc, runbook)
    for alert in runbook.alerts:
        lint_alert(runbook, alert)
        assert alert.name
    assert all(p.source == "fuzz.md" for p in problems)


@SETTINGS
@given(st.text(max_size=300))
def test_parser_never_raises_on_any_text(text: str) -> None:
    parse_runbook(text, "any.md")


CODE = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "rm",
                " -rf ",
                "'",
                '"',
                "$(",
                ")",
                "${",
                "}",
                "<",
                ">",
                "|",
                ";",
                "&&",
                "\\\n",
                "\n",
                "kubectl ",
                "exec ",
                " -- ",
                "psql -c ",
                "SELECT ",
                "DROP ",
                "--",
                "#",
                "$ ",
                "PS> ",
                "redis-cli ",
                "DEL ",
                "curl -X ",
                "DELETE ",
                "Remove-Item ",
                "@{",
                "for x in a; do ",
            ]
        ),
        st.text(max_size=10),
    ),
    max_size=40,
).map("".join)


@SETTINGS
@given(CODE, st.sampled_from(["bash", "sql", "powershell", "promql", "python", "yaml", "", "go"]))
def test_command_readers_never_raise(code: str, language: str) -> None:
    verdict = classify(code, language)
    assert verdict.risk in ("read", "change", "destructive")
    find_placeholders(code, language)
    guess_language(code)
    strip_prompts(code)


@SETTINGS
@given(CODE)
def test_adding_a_destructive_line_never_lowers_risk(code: str) -> None:
    assert classify(code + "\nrm -rf /srv/data\n", "bash").risk == "destructive"
