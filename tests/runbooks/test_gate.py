"""Issue 20: the gates of runbook commands that run (runbooks/gate.py), pure: what a command
becomes when filled, who may run it, when, and what starts."""

from __future__ import annotations

import shlex
import subprocess

from hypothesis import given
from hypothesis import strategies as st

from tocsin.runbooks.fill import fill
from tocsin.runbooks.gate import (
    Candidate,
    Prepared,
    Waiting,
    auto_plan,
    bind_sql,
    check_typed,
    confirmation,
    on_approve,
    on_request,
    prepare,
    startable,
)

NASTY = [
    "; rm -rf /",
    "$(touch /tmp/pwned)",
    "`id`",
    "a\nb",
    "it's",
    'say "hi"',
    "--help",
    "-oProxyCommand=sh",
    "\\",
    "%",
    "':x'",
]


def test_sql_placeholders_become_bound_parameters() -> None:
    p = prepare("SELECT * FROM pg_stat_activity WHERE usename = '<user>'", "sql", {"user": "x'--"})
    assert p.text == "SELECT * FROM pg_stat_activity WHERE usename = :user"
    assert p.params == {"user": "x'--"} and p.runnable


def test_sql_placeholder_inside_a_literal_splits_it() -> None:
    p = bind_sql("SELECT 1 WHERE name LIKE '%<pod>%' AND pid = <pid>", {"pod": "a'b", "pid": "7"})
    assert p.text == "SELECT 1 WHERE name LIKE '%' || :pod || '%' AND pid = :pid"
    assert p.params == {"pod": "a'b", "pid": "7"}


def test_sql_placeholder_in_an_identifier_is_not_run() -> None:
    p = prepare('SELECT "<column>" FROM t', "sql", {"column": "x"})
    assert not p.runnable and "identifier" in p.problem
    assert on_request("read", p, has_runner=True).status == "refused"


def test_unfilled_placeholder_is_not_run_and_a_typed_value_fills_it() -> None:
    p = prepare("kubectl -n prod logs <pod-name>", "bash", {})
    assert p.unfilled == ["<pod-name>"]
    decision = on_request("read", p, has_runner=True)
    assert decision.status == "refused" and "<pod-name>" in decision.reason
    typed = prepare("kubectl -n prod logs <pod-name>", "bash", {}, {"pod": "api-7f9c"})
    assert typed.text == "kubectl -n prod logs api-7f9c" and typed.runnable


def test_a_value_that_is_not_plain_fills_nothing_that_runs() -> None:
    """Whatever the quoting would make of it, a value with a character a shell, PromQL or a
    program handed the text could read as code fills no command that runs; a person types a
    plain one instead (a label that is plain wins over what they type)."""
    for value in [*NASTY, "", "-v", ".hidden", "a b", "x" * 501, "é"]:
        p = prepare("df -h <mount>", "bash", {"mount": value})
        assert p.unfilled == ["<mount>"] and p.refused == {"<mount>": "mount"}, value
        decision = on_request("read", p, has_runner=True, automatic=True)
        assert decision.status == "refused" and "is not plain" in decision.reason
    typed = prepare("df -h <mount>", "bash", {"mount": "/; id"}, {"mount": "data"})
    assert typed.text == "df -h data" and typed.runnable
    kept = prepare("df -h <mount>", "bash", {"mount": "/srv"}, {"mount": "other"})
    assert kept.text == "df -h /srv"
    for value in ("db-1", "10.0.0.7:9100", "a/b@c%d+e=f,g~h", "pebble-api-7d9f-x2", "/var/lib"):
        assert shlex.split(prepare("echo <x>", "bash", {"x": value}).text) == ["echo", value]
    # SQL binds any printable value, but no control character
    sql = prepare("SELECT 1 WHERE a = <x>", "sql", {"x": "it's; a b"})
    assert sql.params == {"x": "it's; a b"} and sql.runnable
    assert not prepare("SELECT 1 WHERE a = <x>", "sql", {"x": "a\x00b"}).runnable
    assert not prepare("echo 1\x00", "bash", {}).runnable


@given(st.sampled_from(NASTY) | st.text(max_size=40))
def test_a_shell_value_stays_one_word_or_fills_nothing(value: str) -> None:
    """Whatever a label holds, the filled command is the same words with the value as one,
    or the placeholder stays unfilled (and nothing runs)."""
    p = prepare("echo {{ $labels.x }} end", "bash", {"x": value})
    if p.runnable:
        assert shlex.split(p.text) == ["echo", value, "end"]
    else:
        assert p.unfilled == ["{{ $labels.x }}"] and "{{ $labels.x }}" in p.text


def test_metacharacters_stay_data_in_a_real_shell(tmp_path: object) -> None:
    for value in NASTY:  # through the quoting alone (runbooks.fill), as a second wall
        p = Prepared(
            fill("printf '%s|' {{ $labels.x }} \"<x>\"", "bash", {"x": value}).text, "bash"
        )
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", p.text],
            capture_output=True,
            text=True,
            check=True,
            cwd="/",
        )
        assert done.stdout == f"{value}|{value}|"


def test_promql_values_are_escaped_strings() -> None:
    filled = fill('up{instance="{{ $labels.instance }}"}', "promql", {"instance": 'a"} or 1'})
    assert filled.text == 'up{instance="a\\"} or 1"}'
    p = prepare('up{instance="{{ $labels.instance }}"}', "promql", {"instance": 'a"} or 1'})
    assert not p.runnable  # and such a value never fills a query that runs


def test_languages_that_never_run() -> None:
    for language in ("python", "yaml", "json"):
        p = prepare("print(1)", language, {})
        assert not p.runnable
        assert on_request("read", p, has_runner=True).status == "refused"


def _p(text: str = "kubectl rollout restart deploy/api", language: str = "bash") -> Prepared:
    return prepare(text, language, {})


def test_read_runs_at_once_change_waits_destructive_needs_two() -> None:
    assert on_request("read", _p("df -h"), has_runner=True).status == "queued"
    change = on_request("change", _p(), has_runner=True)
    assert change.status == "awaiting" and "approval" in change.reason
    p = _p()
    assert on_request("change", p, has_runner=True, approve=True, given_digest=p.digest).status == (
        "queued"
    )
    stale = on_request("change", p, has_runner=True, approve=True, given_digest="0" * 64)
    assert stale.status == "refused"
    d = _p("kubectl delete ns prod")
    assert on_request(
        "destructive", d, has_runner=True, approve=True, given_digest=d.digest
    ).status == ("awaiting")


def test_no_runner_refuses() -> None:
    decision = on_request("read", _p("df -h"), has_runner=False)
    assert decision.status == "refused" and "no runner" in decision.reason


def test_automatic_runs_only_read_commands_whatever_is_asked() -> None:
    for risk in ("change", "destructive"):
        assert on_request(risk, _p(), has_runner=True, automatic=True).status == "refused"
    assert on_request("read", _p("df -h"), has_runner=True, automatic=True).status == "queued"


def test_approvals() -> None:
    text = "kubectl delete pod api-1\n# then watch it come back"
    p = _p(text)
    args = {"requested_by": "ana", "given_digest": p.digest}
    assert (
        on_approve("change", "awaiting", text, p.digest, approver="ana", **args).status == "queued"
    )
    same = on_approve("destructive", "awaiting", text, p.digest, approver="ana", **args)
    assert same.status == "refused" and "second person" in same.reason
    untyped = on_approve("destructive", "awaiting", text, p.digest, approver="ben", **args)
    assert untyped.status == "refused" and "kubectl delete pod api-1" in untyped.reason
    typed = on_approve(
        "destructive",
        "awaiting",
        text,
        p.digest,
        approver="ben",
        typed_confirmation="kubectl  delete pod api-1 ",
        **args,
    )
    assert typed.status == "queued"
    other = on_approve(
        "change", "awaiting", text, p.digest, approver="ben", requested_by="ana", given_digest="x"
    )
    assert other.status == "refused" and "not the one shown" in other.reason
    done = on_approve("change", "finished", text, p.digest, approver="ben", **args)
    assert done.status == "refused"
    assert confirmation("\n  rm  -rf /data\nmore") == "rm -rf /data"


def test_auto_plan_takes_read_commands_up_to_the_limit() -> None:
    cands = [
        Candidate(1, "read", _p("df -h"), "local"),
        Candidate(2, "change", _p(), "local"),
        Candidate(3, "read", prepare("kubectl logs <pod>", "bash", {}), "local"),
        Candidate(4, "read", _p("uptime"), None),
        Candidate(5, "read", _p("free -m"), "local"),
        Candidate(6, "read", _p("ps aux"), "local"),
        Candidate(7, "read", prepare("print(1)", "python", {}), "local"),
        Candidate(8, "read", _p("df -h /tmp"), "local", "verify"),
    ]
    plan = {c.step: d for c, d in auto_plan(cands, limit=2)}
    assert set(plan) == {1, 3, 4, 5, 6}  # change, python, a verify step: not automatic
    assert plan[1].status == "queued" and plan[5].status == "queued"
    assert plan[3].status == "refused" and "<pod>" in plan[3].reason
    assert plan[4].status == "refused" and "no runner" in plan[4].reason
    assert plan[6].status == "refused" and "2 automatic runs" in plan[6].reason


def test_startable_keeps_each_limit() -> None:
    queued = [
        Waiting(i, incident, runner)
        for i, incident, runner in [
            (1, 10, "sh"),
            (2, 10, "sh"),
            (3, 10, "sh"),
            (4, 11, "sh"),
            (5, 12, "db"),
            (6, 13, "sh"),
        ]
    ]
    running = [Waiting(0, 14, "sh")]
    chosen = [w.id for w in startable(queued, running, {"sh": 3, "db": 1}, per_incident=2)]
    assert chosen == [1, 2, 5]  # sh: 1 running + 2 = 3; incident 10 at its 2


def test_typed_values_are_bounded() -> None:
    assert check_typed({"pod": "a" * 501})
    assert check_typed({"pod": "a\nb"})
    assert not check_typed({"pod": "api-7f9c"})
