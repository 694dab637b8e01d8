"""Benchmark: alert storms, tocsin beside Alertmanager in the same run (issue 18).

For each storm shape (a routing configuration, the same for both servers, with no delivery:
a receiver without channels), starts a fresh server per target and posts batches of 100 new
alerts to ``/api/v2/alerts`` from two keep-alive client processes for ``--seconds``. Each
request's end time and duration are recorded; the intake rate is then counted per 5-s window
(the alerts of the requests that ended in it), the last partial window dropped. Prints, per
shape and target, the rate of every window, the minimum window, its ratio to Alertmanager's
minimum window for the same shape, the slowest request and how long ``GET /api/v2/alerts/groups``
(and tocsin's ``GET /api/v1/incidents/1/timeline``) took right after the storm.

Shapes (issue 18's table):

- ``one-group``: ``group_wait: 0s, group_interval: 1s``, no ``group_by``: every alert in one
  group, flushed every second;
- ``per-alert``: ``group_by: [alertname, instance], group_wait: 0s``: each alert a new group
  (a new incident in tocsin), flushed at once;
- ``wait-30s``: ``group_by: [alertname], group_wait: 30s, group_interval: 5m``: one group whose
  first flush comes at 30 s. When ``--seconds`` is under 40, ``group_wait`` is cut to a third of
  the run, so that the flush still falls inside the measured windows (a shape never hides a
  cost by putting it after the end);
- ``resend``: Prometheus's re-sends. ``--resend-alerts`` firing alerts (``group_by:
  [alertname, instance], group_wait: 0s``) are re-posted every ``--resend-every`` seconds with
  the same ``startsAt`` and an ``endsAt`` 4x the delay ahead, as Prometheus sets it; a round that
  overruns is followed at once by the next. Prints the whole rounds, the longest round and the
  alerts resolved while still being sent: those whose re-send was answered only after the
  ``endsAt`` of their previous send (the server had to take them as resolved by then;
  once per late re-send). The
  default, 25,000 every 15 s, is the rate of Prometheus's 100,000 every 60 s on a quarter clock.

``--alerts N`` stops each storm shape once N new alerts were taken (issue 18's memory target:
200,000 firing in one group); the windows then cover the time the storm lasted.

Resident memory (the server and its writer process, sampled twice a second) is printed twice:
through the storm, including the flushes it left tocsin's engine (sampled until no due work
waits: "flushed all after"), and through the reads after it.

Targets: tocsin on SQLite (full fsync), tocsin on PostgreSQL (a throwaway database per shape,
when 127.0.0.1:5432 answers) and Alertmanager from Debian's ``prometheus-alertmanager``.

    .venv/bin/python bench/storm.py [--seconds 60]
        [--shapes one-group,per-alert,wait-30s,resend] [--targets sqlite,postgresql,alertmanager]
        [--resend-alerts 25000] [--resend-every 15] [--alerts 200000]
"""

from __future__ import annotations

import argparse
import http.client
import math
import multiprocessing
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

# run as a script, sys.path[0] is bench/: the repository root makes ``bench.ingest`` importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import (
    BATCH,
    PeakRss,
    Target,
    alertmanager_target,
    drop_pg,
    pg_database,
    post_batch,
    tocsin_target,
)

TARGETS = ("sqlite", "postgresql", "alertmanager")
WINDOW_S = 5.0
CLIENTS = 2
REQUEST_TIMEOUT_S = 120.0
START_DELAY_S = 0.5
PROMETHEUS_TIMEOUT_S = 10.0
TIMELINE = "/api/v1/incidents/1/timeline"  # the storm's incident (one-group, wait-30s)
SETTLE_LIMIT_S = 300.0

Start = Callable[[], tuple[subprocess.Popen[bytes], int, dict[str, str]]]


# --------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Shape:
    name: str
    title: str
    group_by: tuple[str, ...] | None
    group_wait: str
    group_interval: str

    def route(self) -> str:
        """The route's grouping keys, in YAML (the same text for both servers)."""
        lines = [f"  group_wait: {self.group_wait}", f"  group_interval: {self.group_interval}"]
        if self.group_by is not None:
            lines.insert(0, f"  group_by: [{', '.join(self.group_by)}]")
        return "\n".join(lines)


SHAPES: dict[str, Shape] = {
    "one-group": Shape(
        "one-group", "one group (group_wait: 0s, group_interval: 1s, no group_by)", None, "0s", "1s"
    ),
    "per-alert": Shape(
        "per-alert",
        "group_by: [alertname, instance], group_wait: 0s (each alert a new group)",
        ("alertname", "instance"),
        "0s",
        "5m",
    ),
    "wait-30s": Shape(
        "wait-30s",
        "group_by: [alertname], group_wait: 30s, group_interval: 5m",
        ("alertname",),
        "30s",
        "5m",
    ),
    "resend": Shape(
        "resend",
        "Prometheus re-sends: --resend-alerts firing alerts re-posted every --resend-every s, "
        "endsAt 4x that ahead; group_by: [alertname, instance], group_wait: 0s",
        ("alertname", "instance"),
        "0s",
        "5m",
    ),
}


def fitted(shape: Shape, seconds: float) -> Shape:
    """``shape`` with a ``group_wait`` short enough that the first flush falls inside a run of
    ``seconds`` (at a third of it, when 30 s would come too late)."""
    if shape.group_wait != "30s" or seconds >= 40:
        return shape
    wait = max(1, int(seconds // 3))
    return Shape(
        shape.name,
        shape.title.replace("group_wait: 30s", f"group_wait: {wait}s (30s cut to fit the run)"),
        shape.group_by,
        f"{wait}s",
        shape.group_interval,
    )


def tocsin_config(shape: Shape) -> str:
    return f"""
global: {{resolve_timeout: 5m}}
route:
  receiver: default
{shape.route()}
receivers: [{{name: default}}]
limits: {{max_alerts_per_batch: 1000, max_body_bytes: 10485760}}
api: {{anonymous_intake: false}}
"""


def alertmanager_config(shape: Shape) -> str:
    return f"route:\n  receiver: default\n{shape.route()}\nreceivers: [{{name: default}}]\n"


# --------------------------------------------------------------------------- pure: windows


@dataclass(frozen=True)
class Request:
    """One POST: when it ended (``time.monotonic()``, the same clock in every process), how
    long it took, how many alerts it carried, whether it was answered 200."""

    ended: float
    seconds: float
    alerts: int
    ok: bool


def window_rates(
    requests: Sequence[Request], start: float, seconds: float, width: float = WINDOW_S
) -> list[float]:
    """Alerts/s in each whole ``width``-second window from ``start`` through ``start +
    seconds``: the alerts of the successful requests that ended in it. A trailing partial
    window is dropped; a window in which nothing ended counts 0."""
    count = int(seconds // width)
    totals = [0] * count
    for request in requests:
        if not request.ok:
            continue
        index = math.floor((request.ended - start) / width)
        if 0 <= index < count:
            totals[index] += request.alerts
    return [total / width for total in totals]


def min_window(rates: Sequence[float]) -> float | None:
    return min(rates) if rates else None


def ratio(value: float | None, peer: float | None) -> float | None:
    """``value / peer``, or None when either is missing or the peer is 0."""
    if value is None or not peer:
        return None
    return value / peer


def slowest(requests: Sequence[Request]) -> float | None:
    return max((r.seconds for r in requests), default=None)


# --------------------------------------------------------------------------- loader


def batch_body(prefix: str, index: int) -> bytes:
    """Batch ``index`` of 100 new alerts (a new ``instance`` each), built from a string
    template: the loader must stay cheaper than the fastest server."""
    alerts = ",".join(
        f'{{"labels":{{"alertname":"StormAlert","instance":"{prefix}-{index}-{i}","job":"storm",'
        '"severity":"warning"},"annotations":{"summary":"storm alert"}}'
        for i in range(BATCH)
    )
    return f"[{alerts}]".encode()


def _client(
    port: int,
    headers: dict[str, str],
    prefix: str,
    start: float,
    end: float,
    share: int | None,
    results: multiprocessing.Queue[list[tuple[float, float, int, bool]]],
) -> None:
    """Post new alerts until ``end``, or until ``share`` of them were taken."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    conn.connect()
    out: list[tuple[float, float, int, bool]] = []
    index = 0
    taken = 0
    body = batch_body(prefix, index)
    delay = start - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    while time.monotonic() < end and (share is None or taken < share):
        began = time.monotonic()
        ok = post_batch(conn, body, headers)
        ended = time.monotonic()
        out.append((ended, ended - began, BATCH, ok))
        taken += BATCH if ok else 0
        index += 1
        body = batch_body(prefix, index)
    conn.close()
    results.put(out)


def client_shares(alerts: int | None) -> list[int | None]:
    """Each client's share of ``alerts`` new alerts, in whole batches (None: no cap)."""
    if alerts is None:
        return [None] * CLIENTS
    batches = -(-alerts // BATCH)
    return [(batches // CLIENTS + (n < batches % CLIENTS)) * BATCH for n in range(CLIENTS)]


def measured(requests: Sequence[Request], start: float, seconds: float) -> float:
    """How long the storm lasted: ``seconds``, or less when the clients stopped at their
    share of ``--alerts`` (until the last request ended)."""
    last = max((r.ended for r in requests), default=start + seconds)
    return max(0.0, min(seconds, last - start))


def run_storm(
    port: int, headers: dict[str, str], prefix: str, seconds: float, alerts: int | None = None
) -> tuple[float, list[Request]]:
    """Post new alerts from ``CLIENTS`` keep-alive processes for ``seconds``, or until
    ``alerts`` were taken: the start of the measured time (``time.monotonic()``) and every
    request."""
    results: multiprocessing.Queue[list[tuple[float, float, int, bool]]] = multiprocessing.Queue()
    start = time.monotonic() + START_DELAY_S
    end = start + seconds
    procs = [
        multiprocessing.Process(
            target=_client, args=(port, headers, f"{prefix}c{n}", start, end, share, results)
        )
        for n, share in enumerate(client_shares(alerts))
    ]
    for p in procs:
        p.start()
    requests = [Request(*row) for _ in procs for row in results.get()]
    for p in procs:
        p.join()
    return start, requests


def resend_body(prefix: str, first: int, count: int, starts_at: str, ends_at: str) -> bytes:
    """Alerts ``first`` .. ``first + count - 1`` of a re-sent set, as Prometheus posts them:
    the same labels and ``startsAt`` every time, ``endsAt`` pushed ahead at each send."""
    alerts = ",".join(
        f'{{"labels":{{"alertname":"StormResend","instance":"{prefix}-{n}","job":"storm",'
        f'"severity":"warning"}},"annotations":{{"summary":"re-sent alert"}},'
        f'"startsAt":"{starts_at}","endsAt":"{ends_at}"}}'
        for n in range(first, first + count)
    )
    return f"[{alerts}]".encode()


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _resender(
    port: int,
    headers: dict[str, str],
    prefix: str,
    alerts: range,
    every: float,
    start: float,
    end: float,
    results: multiprocessing.Queue[tuple[list[tuple[float, float, int, bool]], list[float], int]],
) -> None:
    """Re-post ``alerts`` every ``every`` seconds until ``end``, as Prometheus does with
    ``--rules.alert.resend-delay``: a round that overruns is followed at once by the next.
    Puts every request, each round's lag (its end minus when it was due) and how many alerts
    were resolved while still being sent: re-sent, but answered only after the ``endsAt`` of
    their previous send had passed (the server had to take them as resolved by then)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    conn.connect()
    out: list[tuple[float, float, int, bool]] = []
    lags: list[float] = []
    late = 0
    expires: dict[int, float] = {}  # each batch's last endsAt, as time.time()
    starts_at = _iso(datetime.now(UTC))
    due = start
    while due < end:
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for first in range(alerts.start, alerts.stop, BATCH):
            if time.monotonic() >= end:
                break
            count = min(BATCH, alerts.stop - first)
            ends = datetime.now(UTC) + timedelta(seconds=4 * every)
            body = resend_body(prefix, first, count, starts_at, _iso(ends))
            began = time.monotonic()
            ok = False
            # a keep-alive connection the server closed while we idled between rounds
            # (uvicorn closes after 5 s) is opened again once, as Prometheus's client does
            for _ in range(2):
                try:
                    conn.request("POST", "/api/v2/alerts", body=body, headers=headers)
                    answer = conn.getresponse()
                    answer.read()
                    ok = answer.status == 200
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
            ended = time.monotonic()
            out.append((ended, ended - began, count, ok))
            if ok:
                if time.time() > expires.get(first, math.inf):
                    late += count
                expires[first] = ends.timestamp()
        else:
            lags.append(time.monotonic() - due)
        due = max(due + every, time.monotonic())
    conn.close()
    results.put((out, lags, late))


def run_resend(
    port: int, headers: dict[str, str], prefix: str, seconds: float, alerts: int, every: float
) -> tuple[float, list[Request], list[float], int]:
    """``alerts`` firing alerts, split between ``CLIENTS`` processes, re-posted every
    ``every`` seconds for ``seconds``: the start, every request, every whole round's lag,
    the alerts resolved while still being sent."""
    results: multiprocessing.Queue[
        tuple[list[tuple[float, float, int, bool]], list[float], int]
    ] = multiprocessing.Queue()
    start = time.monotonic() + START_DELAY_S
    share = -(-alerts // CLIENTS)
    procs = [
        multiprocessing.Process(
            target=_resender,
            args=(
                port,
                headers,
                prefix,
                range(n * share, min(alerts, (n + 1) * share)),
                every,
                start,
                start + seconds,
                results,
            ),
        )
        for n in range(CLIENTS)
    ]
    for p in procs:
        p.start()
    requests: list[Request] = []
    lags: list[float] = []
    late = 0
    for _ in procs:
        out, lag, expired = results.get()
        requests.extend(Request(*row) for row in out)
        lags.extend(lag)
        late += expired
    for p in procs:
        p.join()
    return start, requests, lags, late


def engine_lag(port: int, headers: dict[str, str]) -> float | None:
    """tocsin's ``tocsin_engine_lag_seconds`` (0: no due work waiting), None if unread."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("tocsin_engine_lag_seconds "):
            return float(line.split()[1])
    return None


def settle(port: int, headers: dict[str, str], limit_s: float = SETTLE_LIMIT_S) -> float | None:
    """Wait until tocsin's engine has done the flushes the storm left it (no due work
    waiting, twice in a row half a second apart): the seconds that took, None if not within
    ``limit_s``."""
    began = time.monotonic()
    quiet = 0
    while time.monotonic() - began < limit_s:
        quiet = quiet + 1 if engine_lag(port, headers) == 0 else 0
        if quiet == 2:
            return time.monotonic() - began
        time.sleep(0.5)
    return None


def timed_get(port: int, path: str, headers: dict[str, str]) -> float | None:
    """Seconds a GET took, None if it failed, took over a minute or was cut short after it
    started (an incomplete body: ``api.read_budget`` spent mid-answer; shown as ``-``)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
    except (OSError, http.client.HTTPException):
        return None
    return time.monotonic() - began


# --------------------------------------------------------------------------- targets


def viewer_token(database_url: str | None, workdir: Path) -> dict[str, str]:
    db = ["--database-url", database_url] if database_url else ["--data-dir", str(workdir / "data")]
    out = subprocess.run(
        [sys.executable, "-m", "tocsin", "tokens", "create", "--role", "viewer", *db],
        capture_output=True,
        text=True,
        check=True,
    )
    return {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}


def alertmanager_start(binary: str, workdir: Path, shape: Shape) -> Start:
    return alertmanager_target(binary, workdir, alertmanager_config(shape))


# --------------------------------------------------------------------------- report


@dataclass
class Row:
    shape: str
    target: str
    rates: list[float] = field(default_factory=list)
    slowest_s: float | None = None
    failures: int = 0
    taken: int = 0
    groups_read_s: float | None = None
    timeline_read_s: float | None = None
    peak_rss_mb: float | None = None
    settled_s: float | None = None
    reads_rss_mb: float | None = None
    false_resolves: int | None = None
    round_lags: list[float] = field(default_factory=list)

    @property
    def minimum(self) -> float | None:
        return min_window(self.rates)


def _num(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def report(rows: list[Row]) -> None:
    print()
    print(
        "| shape | target | alerts/s per 5-s window | min | min / AM min | slowest request "
        "| alerts taken | flushed all after | peak RSS (storm) | GET groups after "
        "| GET timeline 1 after | peak RSS (reads) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    peers = {r.shape: r.minimum for r in rows if r.target == "alertmanager"}
    for row in rows:
        windows = " / ".join(f"{rate:,.0f}" for rate in row.rates)
        share = None if row.target == "alertmanager" else ratio(row.minimum, peers.get(row.shape))
        slow = _num(row.slowest_s, ".2f", " s")
        if row.slowest_s is not None and row.slowest_s > PROMETHEUS_TIMEOUT_S:
            slow += " (> Prometheus's 10 s)"
        if row.failures:
            slow += f", {row.failures} failed"
        print(
            f"| {row.shape} | {row.target} | {windows} | {_num(row.minimum, ',.0f')} "
            f"| {_num(share, '.3f', 'x')} | {slow} | {row.taken:,} "
            f"| {_num(row.settled_s, '.1f', ' s')} "
            f"| {_num(row.peak_rss_mb, ',.0f', ' MB')} "
            f"| {_num(row.groups_read_s, '.2f', ' s')} "
            f"| {_num(row.timeline_read_s, '.3f', ' s')} "
            f"| {_num(row.reads_rss_mb, ',.0f', ' MB')} |"
        )


def choice(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated subset of ``allowed``."""

    def parse(text: str) -> list[str]:
        chosen = [t.strip() for t in text.split(",") if t.strip()]
        if not chosen or any(t not in allowed for t in chosen):
            raise argparse.ArgumentTypeError(f"choose among {','.join(allowed)}")
        return chosen

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60, help="storm length per shape")
    parser.add_argument(
        "--shapes",
        type=choice(tuple(SHAPES)),
        default=list(SHAPES),
        help=f"comma-separated subset of {','.join(SHAPES)}",
    )
    parser.add_argument(
        "--targets",
        type=choice(TARGETS),
        default=list(TARGETS),
        help="comma-separated subset of sqlite,postgresql,alertmanager",
    )
    parser.add_argument(
        "--resend-alerts",
        type=int,
        default=25_000,
        help="resend shape: firing alerts re-posted (25,000 every 15 s is the rate of "
        "Prometheus's 100,000 every 60 s)",
    )
    parser.add_argument(
        "--resend-every",
        type=float,
        default=15,
        help="resend shape: seconds between re-sends (Prometheus's --rules.alert.resend-delay, "
        "1m by default; shortened here); endsAt is 4x this ahead",
    )
    parser.add_argument(
        "--alerts",
        type=int,
        default=None,
        help="storm shapes: stop once this many new alerts were taken (or --seconds passed); "
        "e.g. 200000 for issue 18's memory target",
    )
    args = parser.parse_args()
    if args.seconds < WINDOW_S:
        parser.error(f"--seconds must be at least {WINDOW_S:.0f}")
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if "alertmanager" in args.targets and not binary:
        print("Alertmanager skipped: install Debian's prometheus-alertmanager")
    tag = secrets.token_hex(3)
    print(
        f"{args.seconds:.0f} s per shape and target, {CLIENTS} keep-alive client processes, "
        f"batches of {BATCH} new alerts, {os.cpu_count()} cores",
        flush=True,
    )
    rows: list[Row] = []
    for name in args.shapes:
        shape = fitted(SHAPES[name], args.seconds)
        print(f"\n{shape.name}: {shape.title}", flush=True)
        for target in args.targets:
            if target == "alertmanager" and not binary:
                continue
            pg = pg_database() if target == "postgresql" else None
            if target == "postgresql" and not pg:
                continue
            label = "alertmanager" if target == "alertmanager" else f"tocsin/{target}"
            row = Row(shape.name, label)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    workdir = Path(tmp)
                    start: Start = (
                        alertmanager_start(str(binary), workdir, shape)
                        if target == "alertmanager"
                        else tocsin_target(workdir, pg, config_text=tocsin_config(shape))
                    )
                    with Target(label, start) as server:
                        read_headers = {} if target == "alertmanager" else viewer_token(pg, workdir)
                        assert server.process is not None
                        with PeakRss(server.process.pid) as memory:
                            if shape.name == "resend":
                                began, requests, row.round_lags, row.false_resolves = run_resend(
                                    server.port,
                                    server.headers,
                                    f"{shape.name}{tag}",
                                    args.seconds,
                                    args.resend_alerts,
                                    args.resend_every,
                                )
                            else:
                                began, requests = run_storm(
                                    server.port,
                                    server.headers,
                                    f"{shape.name}{tag}",
                                    args.seconds,
                                    args.alerts,
                                )
                            # a storm stopped by --alerts is measured until its last
                            # answer; the re-sends' pauses between rounds are theirs
                            capped = args.alerts is not None and shape.name != "resend"
                            lasted = (
                                measured(requests, began, args.seconds) if capped else args.seconds
                            )
                            row.rates = window_rates(requests, began, lasted)
                            row.slowest_s = slowest(requests)
                            row.failures = sum(not r.ok for r in requests)
                            row.taken = sum(r.alerts for r in requests if r.ok)
                            if target != "alertmanager":
                                # the flushes the storm left behind are the storm's too
                                row.settled_s = settle(server.port, read_headers)
                        row.peak_rss_mb = memory.peak_kb / 1024  # the storm's, not the reads'
                        with PeakRss(server.process.pid) as reads:
                            # the timeline first: a groups read given up on after a minute
                            # may still be answered, and the timeline would wait behind it
                            if target != "alertmanager":
                                row.timeline_read_s = timed_get(server.port, TIMELINE, read_headers)
                            row.groups_read_s = timed_get(
                                server.port, "/api/v2/alerts/groups", read_headers
                            )
                        row.reads_rss_mb = reads.peak_kb / 1024
            finally:
                if pg:
                    drop_pg(pg)
            rows.append(row)
            print(
                f"  {label:18} " + " / ".join(f"{r:,.0f}" for r in row.rates) + " alerts/s, "
                f"slowest request {_num(row.slowest_s, '.2f', ' s')}, {row.taken:,} alerts "
                f"taken, peak RSS {_num(row.peak_rss_mb, ',.0f', ' MB')} (storm) / "
                f"{_num(row.reads_rss_mb, ',.0f', ' MB')} (reads)",
                flush=True,
            )
    report(rows)
    resent = [r for r in rows if r.shape == "resend"]
    if resent:
        print()
        print(
            f"re-sends: {args.resend_alerts:,} alerts every {args.resend_every:g} s, endsAt "
            f"{4 * args.resend_every:g} s ahead, for {args.seconds:g} s"
        )
        print(
            "| target | whole rounds | longest round (due to last answer) "
            "| resolved while still sent |"
        )
        print("|---|---|---|---|")
        for row in resent:
            print(
                f"| {row.target} | {len(row.round_lags) // CLIENTS} "
                f"| {_num(max(row.round_lags, default=None), '.1f', ' s')} "
                f"| {_num(row.false_resolves, ',d')} |"
            )


if __name__ == "__main__":
    main()
