"""The PromQL runner and ``rules`` against a real Prometheus scraping itself (Debian's
``prometheus``, installed by ``scripts/install-test-tools.sh``; the tests skip without it),
and the bearer token against a local HTTP server that demands it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.execute.conftest import free_port, runner_config
from tocsin.execute.base import Request, RunnerConfigError
from tocsin.execute.promql import PromqlRunner, series_name

pytestmark = pytest.mark.slow


def promql(url: str, **fields: object) -> PromqlRunner:
    return PromqlRunner(runner_config(type="promql", url=url, timeout="10s", **fields))


def query(text: str) -> Request:
    return Request(text, "promql")


def test_an_instant_query_is_a_table(prometheus: str) -> None:
    port = prometheus.rsplit(":", 1)[1]
    result = promql(prometheus).run(query("up"))
    assert result.status == "ok" and result.exit_code == 200, result
    assert result.target == f"127.0.0.1:{port}"
    assert result.output.splitlines() == [
        "series"
        + " " * (len(f'up{{instance="127.0.0.1:{port}", job="prometheus"}}') - 4)
        + "value",
        "-" * len(f'up{{instance="127.0.0.1:{port}", job="prometheus"}}') + "  -----",
        f'up{{instance="127.0.0.1:{port}", job="prometheus"}}  1',
    ]


def test_scalars_strings_matrices_and_nothing(prometheus: str) -> None:
    runner = promql(prometheus)
    assert runner.run(query("scalar(vector(3))")).output == "scalar\n------\n3"
    assert runner.run(query('"hello"')).output == "string\n------\nhello"
    assert runner.run(query('up{job="no-such-job"}')).output == "no data"
    matrix = runner.run(query("up[30s]"))
    assert matrix.status == "ok"
    assert "series" in matrix.output and "values" in matrix.output
    assert "1 @ 20" in matrix.output  # a value at an ISO time


def test_rows_past_max_rows_are_counted(prometheus: str) -> None:
    result = promql(prometheus, max_rows=2).run(query('{job="prometheus"}'))
    lines = result.output.splitlines()
    assert len(lines) == 5 and lines[-1].startswith("… ") and lines[-1].endswith(" more rows")
    assert int(lines[-1].split()[1]) >= 1


def test_a_query_prometheus_refuses_has_failed(prometheus: str) -> None:
    result = promql(prometheus).run(query("sum(up"))
    assert result.status == "failed" and result.exit_code == 400
    assert result.error.startswith("bad_data: ") and "unclosed left parenthesis" in result.error
    assert result.output == ""


def test_no_prometheus_is_an_error() -> None:
    result = promql(f"http://127.0.0.1:{free_port()}").run(query("up"))
    assert result.status == "error" and "ConnectError" in result.error


def test_the_output_limit(prometheus: str) -> None:
    result = promql(prometheus, output_limit=256, max_rows=1000).run(query('{job="prometheus"}'))
    assert result.status == "ok" and result.truncated
    assert len(result.output.encode()) <= 256


def test_series_names_are_written_as_prometheus_writes_them() -> None:
    assert series_name({"__name__": "up", "job": 'a"b', "instance": "x"}) == (
        'up{instance="x", job="a\\"b"}'
    )
    assert series_name({"__name__": "up"}) == "up"
    assert series_name({}) == "{}"


class _Guarded(BaseHTTPRequestHandler):
    """A Prometheus-shaped answer for a request that brings the right bearer token."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer s3cret":
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b"unauthorized\n")
            return
        body = {"status": "success", "data": {"resultType": "scalar", "result": [1, "42"]}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_the_bearer_token_is_sent(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Guarded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        (tmp_path / "token").write_text("s3cret\n")
        with_token = promql(url, bearer_token={"file": str(tmp_path / "token")})
        assert with_token.run(query("42")).output == "scalar\n------\n42"
        without = promql(url).run(query("42"))
        assert without.status == "failed" and without.exit_code == 401
        assert without.error == "HTTP 401: unauthorized"
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(RunnerConfigError, match="bearer_token: cannot read secret file"):
        promql(url, bearer_token={"file": str(tmp_path / "missing")})
    with pytest.raises(RunnerConfigError, match="url must be an http"):
        promql("ftp://prometheus")
