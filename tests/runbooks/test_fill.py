"""Filling a command's placeholders from an alert's labels (issue 17, item 1)."""

from __future__ import annotations

import json
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.runbooks.fill import fill, label_for

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "'",
            '"',
            "\\",
            "$(rm -rf /)",
            "`reboot`",
            "a b; rm -rf / #",
            "x' OR '1'='1",
            '"; DROP TABLE t; --',
            "!!",
            "$HOME",
            "{{ $labels.pod }}",
            "<pod>",
            "line\nbreak",
            "\u2019; Remove-Item C:\\ -Recurse; \u2018",
        ]
    ),
)
# shlex.split cannot carry NUL, like the shell itself
SHELL_VALUES = HOSTILE.filter(lambda v: "\x00" not in v)


def test_the_issue_examples_are_filled() -> None:
    pod = fill("kubectl -n pebble describe pod {{ $labels.pod }}", "bash", {"pod": "pebble-x2"})
    assert pod.text == "kubectl -n pebble describe pod pebble-x2"
    assert pod.filled == {"{{ $labels.pod }}": "pod"} and pod.unfilled == []
    ip = fill(
        "iptables -A INPUT -s <suspicious_ip> -j DROP", "bash", {"suspicious_ip": "203.0.113.7"}
    )
    assert ip.text == "iptables -A INPUT -s 203.0.113.7 -j DROP"


def test_what_no_label_fills_stays_as_written() -> None:
    out = fill("kill -9 <PID> && kubectl -n $NAMESPACE logs <pod-name>", "bash", {"pod": "p1"})
    assert out.text == "kill -9 <PID> && kubectl -n $NAMESPACE logs p1"
    assert out.unfilled == ["<PID>", "$NAMESPACE"]


def test_labels_match_as_lint_matches_them() -> None:
    labels = {"namespace": "ns", "pod_name": "p", "Instance": "i"}
    assert label_for("${NAMESPACE}", labels) == "namespace"
    assert label_for("${NAMESPACE:-default}", labels) == "namespace"
    assert label_for("<pod-name>", labels) == "pod_name"
    assert label_for("{{ $labels.instance }}", labels) == "Instance"
    assert label_for("{{ $value }}", labels) is None


@settings(max_examples=300, deadline=None)
@given(value=SHELL_VALUES)
def test_a_filled_shell_command_passes_the_value_as_one_word(value: str) -> None:
    labels = {"pod": value}
    assert shlex.split(fill("kubectl describe pod <pod> -n x", "bash", labels).text) == [
        "kubectl",
        "describe",
        "pod",
        value,
        "-n",
        "x",
    ]
    assert shlex.split(fill('echo "pod: $POD!" done', "bash", labels).text) == [
        "echo",
        f"pod: {value}!",
        "done",
    ]
    assert shlex.split(fill("grep 'name=<pod>' f", "bash", labels).text) == [
        "grep",
        f"name={value}",
        "f",
    ]
    assert shlex.split(fill("curl --data=<pod>", "bash", labels).text) == [
        "curl",
        f"--data={value}",
    ]


@settings(max_examples=200, deadline=None)
@given(value=HOSTILE)
def test_a_filled_sql_command_holds_the_value_as_one_literal(value: str) -> None:
    out = fill("SELECT * FROM pg_stat_activity WHERE usename = <user>", "sql", {"user": value})
    literal = out.text.removeprefix("SELECT * FROM pg_stat_activity WHERE usename = ")
    assert literal.startswith("'") and literal.endswith("'")
    assert literal[1:-1].replace("''", "").count("'") == 0
    assert literal[1:-1].replace("''", "'") == value
    inside = fill("SELECT 1 WHERE a = '<user>'", "sql", {"user": value}).text
    assert inside == "SELECT 1 WHERE a = '" + value.replace("'", "''") + "'"


@settings(max_examples=200, deadline=None)
@given(value=HOSTILE)
def test_a_filled_promql_query_holds_the_value_as_one_string(value: str) -> None:
    out = fill('up{pod="{{ $labels.pod }}"}', "promql", {"pod": value}).text
    assert out.startswith('up{pod="') and out.endswith('"}')
    assert json.loads(out[len("up{pod=") : -1]) == value  # one Go/JSON string, escapes kept
    bare = fill("up{pod=<pod>}", "promql", {"pod": value}).text
    assert json.loads(bare[len("up{pod=") : -1]) == value


@settings(max_examples=200, deadline=None)
@given(value=HOSTILE)
def test_a_filled_powershell_command_holds_the_value_as_one_string(value: str) -> None:
    out = fill("Get-Process -Name <name>", "powershell", {"name": value}).text
    literal = out.removeprefix("Get-Process -Name ")
    assert literal[0] == "'" and literal[-1] == "'"
    body = literal[1:-1]
    for quote in "'\u2018\u2019\u201a\u201b":
        # every quote inside is doubled: none can end the string
        assert body.replace(quote * 2, "").count(quote) == 0
    double = fill('Write-Host "at $NAME now"', "powershell", {"name": value}).text
    assert "$" not in double.replace("`$", "") or "$" not in value


@pytest.mark.parametrize("language", ["python", "yaml", "json"])
def test_languages_without_known_quoting_are_not_filled(language: str) -> None:
    out = fill("print(<pod>)", language, {"pod": "x"})
    assert out.text == "print(<pod>)" and out.unfilled == ["<pod>"]
