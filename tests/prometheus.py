"""Prometheus for the drift tests: a fake one (an HTTP server on this host that answers what
a test tells it, and keeps what it was asked) and the real one (Debian's ``prometheus``
binary, started on a rule file; the tests that need it skip when it is missing)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rules_answer(*rules: dict[str, Any], group: str = "shop", file: str = "/r.yml") -> bytes:
    """What Prometheus answers to ``/api/v1/rules?type=alert``, with these rules."""
    full = [
        {
            "state": "inactive",
            "duration": 0,
            "labels": {},
            "annotations": {},
            "alerts": [],
            "health": "ok",
            "type": "alerting",
            **rule,
        }
        for rule in rules
    ]
    body = {"status": "success", "data": {"groups": [{"name": group, "file": file, "rules": full}]}}
    return json.dumps(body).encode()


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"status": "success", "data": {"groups": []}}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay_s: float = 0.0


@dataclass
class FakePrometheus:
    """An HTTP server on 127.0.0.1 answering every GET with ``answer``; ``asked`` keeps each
    request's path and headers."""

    url: str
    answer: Answer = field(default_factory=Answer)
    asked: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def fake_prometheus() -> Iterator[FakePrometheus]:
    port = free_port()
    fake = FakePrometheus(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.asked.append((self.path, dict(self.headers.items())))
            answer = fake.answer
            if answer.delay_s:
                time.sleep(answer.delay_s)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            # the client may stop reading: what the size bound does
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(answer.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- the real one

RUNBOOK = """\
# Shop — Alert Runbook

## ShopCheckoutErrors

**Severity:** P2 - High
**Threshold:** `sum(rate(checkout_errors_total[5m])) / sum(rate(checkout_total[5m])) > 0.05` \
for 5 minutes

### Investigation
1. Check the checkout pods: `kubectl -n shop get pods -l app=checkout`

## ShopLatencyHigh

**Severity:** Warning
**Threshold:** p99 latency above 500ms for 10 minutes

### Investigation
1. Look at the pods: `kubectl -n shop top pods`

## ShopDown

**Severity:** P1 - Critical
**Threshold:** `up{job="shop"} == 0` for 2 minutes

### Investigation
1. `kubectl -n shop get pods`

## ShopDiskFilling

**Severity:** P1 - Critical
**Threshold:** less than 10% free disk for 15 minutes

### Investigation
1. `df -h`

## ShopQueueStuck

**Severity:** Warning
**Threshold:** `shop_queue_depth > 1000` for 15 minutes

### Investigation
1. `kubectl -n shop logs deploy/worker --tail=100`
"""

# each rule differs from the runbook above in one way, but the first, which agrees
RULES = """\
groups:
  - name: shop
    rules:
      - alert: ShopCheckoutErrors   # agrees: the same expression, for and severity (P2)
        expr: sum(rate(checkout_errors_total[5m])) / sum(rate(checkout_total[5m])) > 0.05
        for: 5m
        labels: {severity: P2}
      - alert: ShopLatencyHigh      # the threshold: 1 s, not 500ms
        expr: >-
          histogram_quantile(0.99, sum by (le)
          (rate(http_request_duration_seconds_bucket{job="shop"}[5m]))) > 1
        for: 10m
        labels: {severity: warning}
      - alert: ShopDown             # for: 10m, not 2m (severity page is critical)
        expr: up{job="shop"} == 0
        for: 10m
        labels: {severity: page}
      - alert: ShopDiskFilling      # the severity: warning, not critical (< 0.1 is 10%)
        expr: node_filesystem_avail_bytes{job="shop"} / node_filesystem_size_bytes{job="shop"} < 0.1
        for: 15m
        labels: {severity: warning}
      - alert: ShopCertificateExpiring   # no runbook
        expr: probe_ssl_earliest_cert_expiry{job="shop"} - time() < 86400 * 14
        labels: {severity: warning}
      - record: job:checkout:rate5m      # a recording rule: not an alert
        expr: sum(rate(checkout_total[5m]))
"""


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


@contextmanager
def real_prometheus(where: Path, rules: str = RULES) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 with ``rules`` loaded; its URL. Skips the test when
    the binary is missing."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(
            "prometheus not installed (Debian package prometheus; scripts/install-test-tools.sh)"
        )
    (where / "rules.yml").write_text(rules)
    (where / "prometheus.yml").write_text(
        f"global: {{evaluation_interval: 15s}}\nrule_files: [{where / 'rules.yml'}]\n"
    )
    url = f"http://127.0.0.1:{free_port()}"
    log = where / "prometheus.log"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={where / 'prometheus.yml'}",
            f"--storage.tsdb.path={where / 'tsdb'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{url}/api/v1/rules")["data"]["groups"]:
                    break
            except (OSError, urllib.error.URLError, ValueError, KeyError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not load the rules: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def alerting_prometheus(
    binary: str, where: Path, rules: str, alertmanagers: list[tuple[str, str | None]]
) -> subprocess.Popen[bytes]:
    """A real Prometheus on 127.0.0.1 that evaluates ``rules`` every second and sends its
    alerts (re-sent every second) to each of ``alertmanagers``: (``host:port``, the bearer
    token it presents, or None). Started, not waited for; the caller stops it. Its log is
    ``where / "prometheus.log"``."""
    (where / "rules.yml").write_text(rules)
    targets = "".join(
        "    - api_version: v2\n"
        + (f"      authorization: {{credentials: {token}}}\n" if token else "")
        + f"      static_configs: [{{targets: ['{host}']}}]\n"
        for host, token in alertmanagers
    )
    (where / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s}\n"
        f"rule_files: [{where / 'rules.yml'}]\n"
        "alerting:\n  alertmanagers:\n" + targets
    )
    return subprocess.Popen(
        [
            binary,
            f"--config.file={where / 'prometheus.yml'}",
            f"--storage.tsdb.path={where / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{free_port()}",
            "--rules.alert.resend-delay=1s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(where / "prometheus.log").open("wb"),
    )
