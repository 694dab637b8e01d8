"""Issue 22's check: one Alertmanager configuration, run side by side by the real
Alertmanager (Debian's ``prometheus-alertmanager``) and by a real ``tocsin serve --config``;
one real Prometheus with an always-firing rule sends to both. Each tool has its own local
Slack, webhook and SMTP sinks (the only difference between the two files is the sinks'
addresses), and what arrives from tocsin carries what Alertmanager sent, field by field where
the formats are meant to agree. Real time here: a 1 s evaluation interval, a 1 s group_wait,
and waits on conditions (``waiting.wait_for``), never on the clock."""

from __future__ import annotations

import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from tests.notify.sinks import HttpSink, SmtpSink
from tests.prometheus import alerting_prometheus
from tests.server.test_real_clients import Server, free_port, tocsin
from tests.server.waiting import wait_for

pytestmark = pytest.mark.slow

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"

# The shape of tests/config/alertmanager/alertmanager-simple (Alertmanager's own
# doc/examples/simple.yml): the global SMTP settings, a root route grouping by alertname and
# a receiver with its integrations; here one receiver with a Slack incoming webhook, a
# webhook and an email, and short timings so that a test sees them.
CONFIG = dedent(
    """\
    global:
      resolve_timeout: 5m
      smtp_smarthost: '127.0.0.1:{smtp_port}'
      smtp_from: 'alertmanager@example.org'
      smtp_require_tls: false
    route:
      receiver: team-X
      group_by: ['alertname']
      group_wait: 1s
      group_interval: 3s
      repeat_interval: 1h
    receivers:
      - name: team-X
        slack_configs:
          - api_url: '{slack}'
            channel: '#ops'
            send_resolved: true
            title: '[{{{{ .Status | toUpper }}}}] {{{{ .CommonLabels.alertname }}}}'
            text: '{{{{ range .Alerts }}}}{{{{ .Annotations.summary }}}}{{{{ end }}}}'
        webhook_configs:
          - url: '{hook}'
        email_configs:
          - to: 'team-x@example.org'
    """
)

RULES = dedent(
    """\
    groups:
      - name: dropin
        interval: 1s
        rules:
          - alert: DropinProbe
            expr: vector(1)
            labels: {severity: critical}
            annotations: {summary: the disk of db1 is full}
    """
)

SUMMARY = "the disk of db1 is full"


@dataclass
class Sinks:
    slack: HttpSink
    hook: HttpSink
    smtp: SmtpSink

    def config(self) -> str:
        return CONFIG.format(slack=self.slack.url, hook=self.hook.url, smtp_port=self.smtp.port)


@contextmanager
def sinks() -> Iterator[Sinks]:
    with HttpSink(mode="slack") as slack, HttpSink() as hook, SmtpSink() as smtp:
        yield Sinks(slack, hook, smtp)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _slack_title(body: dict[str, Any]) -> str:
    """The rendered title of a Slack post: Alertmanager's attachment's, tocsin's header's."""
    if "attachments" in body:
        return str(body["attachments"][0]["title"])
    return str(body["blocks"][0]["text"]["text"])


def _slack_titles(sink: HttpSink) -> list[str]:
    return [_slack_title(r.json()) for r in list(sink.requests)]


def _resolved(sink: HttpSink) -> dict[str, Any]:
    """The first Slack post of the resolution."""
    return next(
        body
        for body in (r.json() for r in list(sink.requests))
        if _slack_title(body) == "[RESOLVED] DropinProbe"
    )


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _same_webhook_body(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """tocsin's webhook body carries what Alertmanager's does. ``externalURL`` and
    ``groupKey`` legitimately differ (each tool has its own URL and its own group key), and
    times are written differently (Go's RFC 3339 with ``Z``, Python's with ``+00:00``) for
    the same instant, which is what is compared."""
    assert set(ours) == set(theirs)  # no field missing, none added
    for key in (
        "version",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "truncatedAlerts",
    ):
        assert ours[key] == theirs[key], key
    assert len(ours["alerts"]) == len(theirs["alerts"]) == 1
    for mine, their in zip(ours["alerts"], theirs["alerts"], strict=True):
        assert set(mine) == set(their)
        for key in ("labels", "annotations", "status", "fingerprint", "generatorURL"):
            assert mine[key] == their[key], key
        for key in ("startsAt", "endsAt"):  # the times Prometheus sent, passed on
            assert _instant(mine[key]) == _instant(their[key]), key


def test_tocsin_sends_what_alertmanager_sends(tmp_path: Path, database_url: str) -> None:
    if not Path(ALERTMANAGER).exists():
        pytest.skip(
            "prometheus-alertmanager not installed (Debian package prometheus-alertmanager; "
            "scripts/install-test-tools.sh)"
        )
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    with ExitStack() as stack:
        am_sinks = stack.enter_context(sinks())
        our_sinks = stack.enter_context(sinks())
        processes: list[subprocess.Popen[bytes]] = []

        def stop_all() -> None:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=30)

        stack.callback(stop_all)

        # the real Alertmanager with the file pointing at its sinks
        am_dir = tmp_path / "am"
        am_dir.mkdir()
        (am_dir / "alertmanager.yml").write_text(am_sinks.config())
        am_url = f"http://127.0.0.1:{free_port()}"
        processes.append(
            subprocess.Popen(
                [
                    ALERTMANAGER,
                    f"--config.file={am_dir / 'alertmanager.yml'}",
                    f"--storage.path={am_dir / 'data'}",
                    f"--web.listen-address={am_url.removeprefix('http://')}",
                    "--cluster.listen-address=",  # no gossip: a single instance
                ],
                stdout=subprocess.DEVNULL,
                stderr=(am_dir / "alertmanager.log").open("wb"),
            )
        )

        # tocsin with the same file, pointing at its own sinks
        our_dir = tmp_path / "tocsin"
        our_dir.mkdir()
        config = our_dir / "alertmanager.yml"
        config.write_text(our_sinks.config())
        db_args = (
            ["--database-url", database_url]
            if not database_url.startswith("sqlite")
            else ["--data-dir", str(our_dir / "data")]
        )
        made = tocsin("tokens", "create", "--role", "intake", *db_args)
        token = made.stdout.strip().splitlines()[-1]
        server = Server.serving(config, token, our_dir, db_args)
        server.start()
        stack.callback(server.kill)
        wait_for(lambda: _ready(am_url), timeout=30)

        # one Prometheus, sending to both
        targets = [
            (am_url.removeprefix("http://"), None),
            (server.url.removeprefix("http://"), token),
        ]
        processes.append(alerting_prometheus(prometheus, tmp_path, RULES, targets))

        every = (am_sinks, our_sinks)
        wait_for(
            lambda: all(s.slack.requests and s.hook.requests and s.smtp.messages for s in every),
            timeout=90,
        )

        # --- Slack: Alertmanager's attachment, tocsin's header block ---------------------------
        assert not am_sinks.slack.rejected and not our_sinks.slack.rejected
        theirs = am_sinks.slack.requests[0].json()
        ours = our_sinks.slack.requests[0].json()
        assert theirs["channel"] == ours["channel"] == "#ops"
        [attachment] = theirs["attachments"]
        assert attachment["title"] == "[FIRING] DropinProbe"
        header = ours["blocks"][0]
        assert header["type"] == "header"
        assert header["text"]["text"] == attachment["title"]
        # the configured text, rendered: Alertmanager's attachment text, tocsin's section
        assert attachment["text"] == SUMMARY
        assert ours["blocks"][1] == {"type": "section", "text": {"type": "mrkdwn", "text": SUMMARY}}
        # what only Alertmanager's defaults give (no username, fallback, color or title_link
        # is configured here) is its own text: tocsin's defaults stand in (the incoming
        # webhook's own name, the top-level text as the notification's fallback, a link to
        # the incident in a context block), as issue 22 asks
        assert theirs["username"] == "Alertmanager" and "username" not in ours
        assert ours["text"] == attachment["title"]

        # --- webhook: both send Alertmanager's body -----------------------------------------
        theirs = am_sinks.hook.requests[0].json()
        ours = our_sinks.hook.requests[0].json()
        _same_webhook_body(ours, theirs)
        assert theirs["status"] == "firing" and theirs["receiver"] == "team-X"
        assert theirs["alerts"][0]["labels"] == {
            "alertname": "DropinProbe",
            "severity": "critical",
        }

        # --- email: the global SMTP settings, the default subjects ---------------------------
        their_mail = am_sinks.smtp.messages[0]
        our_mail = our_sinks.smtp.messages[0]
        for mail in (their_mail, our_mail):
            assert mail.rcpt_tos == ["team-x@example.org"]
            assert mail.mail_from == "alertmanager@example.org"
            assert mail.message["To"] == "team-x@example.org"
            assert "alertmanager@example.org" in str(mail.message["From"])
            assert not mail.tls  # smtp_require_tls: false
        their_subject = str(their_mail.message["Subject"])
        our_subject = str(our_mail.message["Subject"])
        # Alertmanager's default subject (its "__subject" template) and tocsin's default title
        # agree here: the status and count, the group's labels, then in parentheses the rest
        # of the common labels for Alertmanager, the severity for tocsin (its own default, as
        # issue 22 asks where Alertmanager's default is used): the same while severity is
        # the only common label beyond the group's, as here
        assert their_subject == our_subject == "[FIRING:1] DropinProbe (critical)"

        # --- the rule stops firing: both send the resolution where send_resolved says so ----
        # the same rule (its state carried over a reload) now finds nothing: Prometheus
        # sends it resolved to both
        (tmp_path / "rules.yml").write_text(RULES.replace("expr: vector(1)", "expr: vector(1) < 0"))
        processes[-1].send_signal(signal.SIGHUP)
        wait_for(
            lambda: all(
                "[RESOLVED] DropinProbe" in _slack_titles(s.slack)
                and "resolved" in [r.json()["status"] for r in list(s.hook.requests)]
                for s in every
            ),
            timeout=90,
        )
        assert not am_sinks.slack.rejected and not our_sinks.slack.rejected
        theirs = _resolved(am_sinks.slack)
        ours = _resolved(our_sinks.slack)
        assert theirs["channel"] == ours["channel"] == "#ops"
        assert ours["blocks"][0]["text"]["text"] == theirs["attachments"][0]["title"]
        # the resolved alert's summary, as the configured text renders it
        assert theirs["attachments"][0]["text"] == SUMMARY
        assert ours["blocks"][1]["text"]["text"] == SUMMARY
        theirs = next(r.json() for r in am_sinks.hook.requests if r.json()["status"] == "resolved")
        ours = next(r.json() for r in our_sinks.hook.requests if r.json()["status"] == "resolved")
        _same_webhook_body(ours, theirs)
        assert [a["status"] for a in theirs["alerts"]] == ["resolved"]
        # email's send_resolved is false by default in both: the firing mail is the only one
        # (both tools flush a group's integrations together, so a resolution mail would have
        # been sent with the Slack and webhook ones)
        assert len(am_sinks.smtp.messages) == len(our_sinks.smtp.messages) == 1
