"""The http runner against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.execute.conftest import free_port, runner_config
from tocsin.execute.base import Request, RunnerConfigError
from tocsin.execute.http import HttpRunner

BIG = b"x" * 100_000


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, str, dict[str, str]]]] = []

    def _send(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("content_type", "text/plain; charset=utf-8"))
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        _Handler.seen.append((self.command, self.path, dict(self.headers)))
        port = int(self.server.server_address[1])  # type: ignore[index]
        routes = {
            "/ok": lambda: self._send(200, b"hello\n"),
            "/big": lambda: self._send(200, BIG),
            "/fail": lambda: self._send(500, b"broken\n"),
            "/missing": lambda: self._send(404, b"no such page\n"),
            "/here": lambda: self._send(302, b"", Location="/ok"),
            "/away": lambda: self._send(302, b"", Location=f"http://localhost:{port}/ok"),
            "/file": lambda: self._send(302, b"", Location="file:///etc/passwd"),
            "/loop": lambda: self._send(302, b"", Location="/loop"),
            "/controls": lambda: self._send(200, b"\x1b[31mred\x1b[0m\x07\r\nnext\n"),
            "/latin": lambda: self._send(
                200, "café\n".encode("latin-1"), content_type="text/plain; charset=latin-1"
            ),
        }
        if self.path == "/slow":
            time.sleep(3)
            self._send(200, b"late\n")
            return
        routes.get(self.path, lambda: self._send(404, b"?"))()

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that stopped reading (a capped body, a timeout) is no error here


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def http(port: int, **fields: object) -> HttpRunner:
    fields.setdefault("allow_hosts", [f"127.0.0.1:{port}"])
    fields.setdefault("timeout", "10s")
    return HttpRunner(runner_config(type="http", **fields))


def line(text: str) -> Request:
    return Request(text, "bash")


def test_a_get(server: int) -> None:
    runner = http(server)
    result = runner.run(line(f"curl -sf -H 'X-Probe: yes' http://127.0.0.1:{server}/ok"))
    assert result.status == "ok" and result.exit_code == 200, result
    assert result.output == (
        "HTTP/1.1 200 OK\ncontent-type: text/plain; charset=utf-8\ncontent-length: 6\n\nhello\n"
    )
    assert result.target == f"http 127.0.0.1:{server}"
    method, path, headers = _Handler.seen[-1]
    assert (method, path, headers["X-Probe"]) == ("GET", "/ok", "yes")
    assert headers["User-Agent"] == "tocsin (curl check)"


def test_a_head(server: int) -> None:
    result = http(server).run(line(f"curl -I http://127.0.0.1:{server}/big"))
    assert result.status == "ok" and result.output.endswith("content-length: 100000\n\n")
    assert _Handler.seen[-1][0] == "HEAD"
    spider = http(server).run(line(f"wget -q --spider http://127.0.0.1:{server}/ok"))
    assert spider.status == "ok" and _Handler.seen[-1][0] == "HEAD"


def test_an_error_status_is_a_failed_run(server: int) -> None:
    result = http(server).run(line(f"curl -s http://127.0.0.1:{server}/fail"))
    assert result.status == "failed" and result.exit_code == 500
    assert result.error == "HTTP 500" and result.output.endswith("\n\nbroken\n")
    missing = http(server).run(line(f"wget -qO- http://127.0.0.1:{server}/missing"))
    assert missing.status == "failed" and missing.exit_code == 404


def test_a_host_not_allowed_is_refused_before_any_request(server: int) -> None:
    before = len(_Handler.seen)
    runner = http(server)
    for url, shown in (
        (f"http://localhost:{server}/ok", f"localhost:{server}"),
        ("http://127.0.0.1/ok", "127.0.0.1:80"),
        (f"https://127.0.0.1:{server}/ok", None),  # allowed: it fails at TLS instead
    ):
        result = runner.run(line(f"curl {url}"))
        if shown is None:
            assert result.status == "error" and "not allowed" not in result.error
            continue
        assert result.status == "error" and result.error == f"host {shown} is not allowed"
        assert result.target == f"error: host {shown} is not allowed"
    assert len(_Handler.seen) == before


def test_allow_hosts_entries() -> None:
    runner = HttpRunner(
        runner_config(type="http", allow_hosts=["Prometheus", "api:8080", "[::1]:9090"])
    )
    assert runner.target(line("curl http://prometheus/")) == "http prometheus:80"
    assert runner.target(line("curl https://prometheus/")) == "http prometheus:443"
    assert runner.target(line("curl http://prometheus:9090/")).startswith("error: host")
    assert runner.target(line("curl http://api:8080/")) == "http api:8080"
    assert runner.target(line("curl http://[::1]:9090/")) == "http [::1]:9090"
    with pytest.raises(RunnerConfigError, match="is not host or host:port"):
        HttpRunner(runner_config(type="http", allow_hosts=["http://api/path"]))


def test_redirects(server: int) -> None:
    runner = http(server)
    followed = runner.run(line(f"curl -sL http://127.0.0.1:{server}/here"))
    assert followed.status == "ok" and followed.output.startswith(
        f"HTTP/1.1 302 Found → http://127.0.0.1:{server}/ok\nHTTP/1.1 200 OK\n"
    )
    assert followed.output.endswith("hello\n")
    kept = runner.run(line(f"curl -s http://127.0.0.1:{server}/here"))  # no -L: not followed
    assert kept.status == "ok" and kept.exit_code == 302 and "location: /ok" in kept.output
    before = len(_Handler.seen)
    away = runner.run(line(f"curl -L http://127.0.0.1:{server}/away"))
    assert away.status == "error"
    assert away.error == f"redirect refused: host localhost:{server} is not allowed"
    assert len(_Handler.seen) == before + 1  # the redirect was not followed
    not_http = runner.run(line(f"wget -qO- http://127.0.0.1:{server}/file"))
    assert not_http.status == "error" and "not http(s)" in not_http.error
    loop = runner.run(line(f"curl -L http://127.0.0.1:{server}/loop"))
    assert loop.status == "error" and loop.error == "more than 10 redirects"


def test_the_body_is_capped(server: int) -> None:
    result = http(server, output_limit=1000).run(line(f"curl http://127.0.0.1:{server}/big"))
    assert result.status == "ok" and result.truncated
    assert result.output.endswith("\n\n" + "x" * 1000)


def test_control_characters_are_shown_and_charsets_read(server: int) -> None:
    result = http(server).run(line(f"curl http://127.0.0.1:{server}/controls"))
    assert result.output.endswith("\n\n\\x1b[31mred\\x1b[0m\\x07\nnext\n")
    latin = http(server).run(line(f"curl http://127.0.0.1:{server}/latin"))
    assert latin.output.endswith("café\n")


def test_the_timeout(server: int) -> None:
    start = time.monotonic()
    result = http(server).run(line(f"curl -m 1 http://127.0.0.1:{server}/slow"))
    assert result.status == "timeout" and result.error == "no answer within 1s"
    assert time.monotonic() - start < 2.5


def test_no_server_is_an_error() -> None:
    port = free_port()
    result = http(port).run(line(f"curl http://127.0.0.1:{port}/"))
    assert result.status == "error" and "ConnectError" in result.error


def test_it_serves_curl_and_wget_checks_only(server: int) -> None:
    runner = http(server)
    assert runner.serves("bash", "curl -s http://api/healthz")
    assert runner.serves("bash", "wget -qO- http://api/healthz")
    assert not runner.serves("bash", "curl -X POST http://api/")
    assert not runner.serves("bash", "curl http://api/ | jq .")
    assert not runner.serves("bash", "df -h")
    assert not runner.serves("promql", "curl http://api/")
    refused = runner.run(line(f"curl -d x http://127.0.0.1:{server}/ok"))
    assert refused.status == "error" and refused.error == "not an HTTP check: it sends data"
