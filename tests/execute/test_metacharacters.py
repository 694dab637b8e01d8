"""A label value is data in every runner: filled into a command by the project's filler
(``runbooks/fill.fill``, which quotes per language), it reaches the command as the literal
text it was, and nothing in it runs. Each value would run ``touch MARK`` (or worse) if it
were pasted into the command unquoted; the tests check the value comes back verbatim and no
mark was made."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import pytest

from tests.execute.conftest import Sshd, postgres_database, runner_config
from tocsin.execute.base import Request
from tocsin.execute.http import HttpRunner
from tocsin.execute.promql import PromqlRunner
from tocsin.execute.shell import ShellRunner
from tocsin.execute.sql import SqlRunner
from tocsin.runbooks.fill import fill
from tocsin.templating import printable

MARK = "/tmp/tocsin-pwned-by-a-label"

HOSTILE = [
    f"$(touch {MARK}); `touch {MARK}`",
    f"; touch {MARK}",
    f"' ; touch {MARK} ; '",
    f'" ; touch {MARK} ; "',
    f"x\ntouch {MARK}",
    f"x && touch {MARK} || touch {MARK}",
    f"x | tee {MARK}",
    f"x > {MARK}",
    "-- --help",
    "-rf /",
    "--version",
    "a'b\"c`d$e\\f",
    "$HOME ${PATH} $((1+1)) !!",
    "*",
    "'; DROP TABLE hosts; --",
    '"} or vector(1) or up{job="',
    "\\",
    "é ✓ \u202e",
]


@pytest.fixture(autouse=True)
def no_mark() -> Iterator[None]:
    Path(MARK).unlink(missing_ok=True)
    yield
    assert not Path(MARK).exists(), "a label value ran as a command"


def filled(code: str, language: str, value: str) -> str:
    result = fill(code, language, {"x": value})
    assert result.unfilled == [], result
    return result.text


SHELL_FORMS = [
    "printf '%s\\n' {{ $labels.x }}",  # a bare word
    "printf '%s\\n' '{{ $labels.x }}'",  # inside single quotes
    "printf '%s\\n' \"{{ $labels.x }}\"",  # inside double quotes
    "printf '%s\\n' $X",  # a variable-style placeholder
]


@pytest.mark.parametrize("form", SHELL_FORMS)
@pytest.mark.parametrize("value", HOSTILE)
def test_shell(value: str, form: str) -> None:
    text = filled(form, "bash", value)
    result = ShellRunner(runner_config(type="shell", timeout="10s")).run(Request(text, "bash"))
    assert result.status == "ok", (text, result)
    assert result.output == printable(value, lines=True) + "\n"


@pytest.mark.parametrize("value", HOSTILE)
def test_ssh(sshd: Sshd, value: str) -> None:
    text = filled(SHELL_FORMS[0], "bash", value)
    result = sshd.runner().run(Request(text, "bash", labels={"instance": "127.0.0.1:9100"}))
    assert result.status == "ok", (text, result)
    assert result.output == printable(value, lines=True) + "\n"


@pytest.mark.parametrize("value", [*HOSTILE, f"-oProxyCommand=touch {MARK}", "127.0.0.1 -p 1"])
def test_ssh_host_label(value: str) -> None:
    runner = ShellRunner(
        runner_config(type="shell", ssh={"allow_hosts": [".*"], "connect_timeout": "2s"})
    )
    result = runner.run(Request("true", "bash", labels={"instance": value}))
    assert result.status == "error" and result.error.endswith("is not allowed")


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRunner]:
    if request.param == "sqlite":
        dsn = f"sqlite:///{tmp_path / 'app.db'}"
        runner = SqlRunner(runner_config(type="sql", dsn={"value": dsn}))
        runner.run(Request("CREATE TABLE hosts (name text)", "sql", read_only=False))
        yield runner
        runner.close()
        return
    with postgres_database() as url:
        runner = SqlRunner(runner_config(type="sql", dsn={"value": url}))
        runner.run(Request("CREATE TABLE hosts (name text)", "sql", read_only=False))
        yield runner
        runner.close()


@pytest.mark.parametrize("value", HOSTILE)
def test_sql(database: SqlRunner, value: str) -> None:
    as_literal = filled("SELECT {{ $labels.x }} AS v FROM hosts", "sql", value)
    database.run(Request("INSERT INTO hosts VALUES ('h')", "sql", read_only=False))
    for request in (
        Request(as_literal, "sql"),
        Request("SELECT :x AS v FROM hosts", "sql", params={"x": value}),
    ):
        result = database.run(request)
        assert result.status == "ok", (request.text, result)
        assert result.output.splitlines()[2].rstrip() == printable(value).rstrip()
    still = database.run(Request("SELECT count(*) AS n FROM hosts", "sql"))
    assert still.status == "ok" and still.output.splitlines()[2] == "1"


@pytest.mark.parametrize("value", HOSTILE)
def test_promql(prometheus: str, value: str) -> None:
    runner = PromqlRunner(runner_config(type="promql", url=prometheus, timeout="10s"))
    as_string = filled("{{ $labels.x }}", "promql", value)  # a string literal query
    result = runner.run(Request(as_string, "promql"))
    assert result.status == "ok", (as_string, result)
    assert result.output.splitlines()[2].rstrip() == printable(value).rstrip()
    # a label matcher's value: the injection would have made it match vector(1)
    selector = filled("up{job={{ $labels.x }}}", "promql", value)
    nothing = runner.run(Request(selector, "promql"))
    assert nothing.status == "ok" and nothing.output == "no data", (selector, nothing)


class _Echo(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []
    header_names: ClassVar[list[set[str]]] = []

    def do_GET(self) -> None:
        _Echo.paths.append(self.path)
        _Echo.header_names.append({name.lower() for name in self.headers})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def echo() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


# values with no space: a URL with a space is refused before any request, these are sent
NO_SPACE = [
    "$(id)",
    f";touch${{IFS}}{MARK}",
    "`id`",
    "|id",
    "&id",
    "'",
    '"',
    "-o/tmp/x",
    "%0d%0aX-Injected:1",
]


@pytest.mark.parametrize("value", HOSTILE + NO_SPACE)
def test_http(echo: int, value: str) -> None:
    runner = HttpRunner(runner_config(type="http", allow_hosts=[f"127.0.0.1:{echo}"]))
    text = filled(f"curl -s http://127.0.0.1:{echo}/q?v={{{{ $labels.x }}}}", "bash", value)
    before = len(_Echo.paths)
    result = runner.run(Request(text, "bash"))
    if result.status == "error":  # refused as a check (a space, a brace): nothing was sent
        assert result.error.startswith("not an HTTP check: "), result
        assert len(_Echo.paths) == before
        return
    assert result.status == "ok", result
    assert unquote(_Echo.paths[-1]) == unquote(f"/q?v={value}")  # the same URL, as text
    assert "x-injected" not in _Echo.header_names[-1]
    hostile_host = filled("curl -s http://{{ $labels.x }}/metrics", "bash", value)
    assert runner.run(Request(hostile_host, "bash")).status == "error"
