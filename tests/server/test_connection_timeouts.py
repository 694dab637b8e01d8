"""Connections that send half a request, or nothing, or sit idle after one, are closed
(issue 17, item 28): a real ``tocsin serve`` with short ``http:`` deadlines, raw sockets, and
a client served meanwhile. Each check waits for the server to close the connection with a
socket timeout far longer than the configured deadline (no timing is asserted: a server that
never closes fails by the socket timeout)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import CONFIG
from tests.server.test_real_clients import Server, tocsin

pytestmark = pytest.mark.slow

HTTP = """
http:
  header_timeout: 1s
  body_timeout: 1s
  keep_alive_timeout: 1s
  max_header_bytes: 2048
"""
GENEROUS_S = 30.0  # far past every deadline above: only a connection never closed reaches it


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG + HTTP)
    db_args = ["--data-dir", str(tmp_path / "data")]
    token = tocsin("tokens", "create", "--role", "admin", *db_args).stdout.splitlines()[-1]
    srv = Server.serving(config, token, tmp_path, db_args)
    srv.start()
    yield srv
    srv.kill()


def connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=GENEROUS_S)
    return sock


def closed_by_server(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a socket timeout, i.e. a
    connection held open, raises)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def healthy(server: Server) -> bool:
    with urllib.request.urlopen(f"{server.url}/-/healthy", timeout=10) as answer:
        return bool(answer.status == 200)


def test_half_headers_nothing_and_half_a_body_are_closed_while_others_are_served(
    server: Server,
) -> None:
    half = connect(server)
    half.sendall(b"POST /api/v2/alerts HTTP/1.1\r\nHost: tocsin\r\nAuthorization: Bea")
    silent = connect(server)
    body = connect(server)
    body.sendall(
        b"POST /api/v2/alerts HTTP/1.1\r\nHost: tocsin\r\n"
        b"Authorization: Bearer " + server.token.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"
    )
    assert healthy(server)  # served while the three are held
    with half, silent, body:
        assert closed_by_server(half) == b""
        assert closed_by_server(silent) == b""
        assert closed_by_server(body) == b""  # no answer to a body that never came
    assert healthy(server)


def test_an_idle_keep_alive_connection_is_closed_after_its_answer(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: tocsin\r\n\r\n")
        received = closed_by_server(sock)
    assert received.startswith(b"HTTP/1.1 200")
    assert b"connection: close" not in received.lower()  # kept alive, then closed when idle


def test_a_second_request_on_a_kept_alive_connection_must_send_its_headers_in_time(
    server: Server,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: tocsin\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first:
            first += sock.recv(65536)
        head, _, rest = first.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200")
        # the answer is in: now half of a second request, and nothing more
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHo")
        assert closed_by_server(sock) == b""


def test_headers_over_the_limit_are_refused(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: tocsin\r\nX-Pad: " + b"a" * 4096)
        received = closed_by_server(sock)
    assert received.startswith(b"HTTP/1.1 431")


def test_connections_over_the_limit_are_answered_503_until_the_held_ones_are_closed(
    tmp_path: Path,
) -> None:
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG + HTTP + "  max_connections: 2\n")
    db_args = ["--data-dir", str(tmp_path / "data")]
    srv = Server.serving(config, "", tmp_path, db_args)
    srv.start()
    try:
        held = [connect(srv), connect(srv)]
        request = urllib.request.Request(f"{srv.url}/-/healthy")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 503
        for sock in held:  # the silent ones are closed at their header deadline
            with sock:
                assert closed_by_server(sock) == b""
        assert healthy(srv)
    finally:
        srv.kill()
