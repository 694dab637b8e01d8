"""``tocsin me``: a person's contact methods and rules on the command line, on this host's
files, and a test that arrives (a real HTTP sink on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.notify.sinks import HttpSink
from tocsin.cli import app

runner = CliRunner()
CONFIG = """
route: {{receiver: d}}
receivers: [{{name: d}}]
channels:
  - {{name: hook, type: webhook, url: "{url}"}}
users:
  - name: alice
    contact_methods: [{{name: pager, channel: hook}}]
    notification_rules: [{{contact: pager, after: 1m}}]
  - {{name: bob, contact: [hook]}}
"""


def test_contacts_rules_and_a_test(tmp_path: Path) -> None:
    with HttpSink() as sink:
        config = tmp_path / "tocsin.yaml"
        config.write_text(CONFIG.format(url=sink.url))
        where = ["-c", str(config), "--data-dir", str(tmp_path)]
        done = runner.invoke(app, ["me", "contacts", "--by", "alice", "--format", "json", *where])
        assert done.exit_code == 0, done.output
        view = json.loads(done.output)
        assert [(m["name"], m["channel"], m["source"]) for m in view["methods"]] == [
            ("pager", "hook", "config")
        ]
        done = runner.invoke(app, ["me", "rules", "--by", "alice", *where])
        assert done.exit_code == 0 and "1m" in done.output and "pager" in done.output
        done = runner.invoke(app, ["me", "rules", "--by", "alice", "--user", "bob", *where])
        assert done.exit_code == 0 and "hook" in done.output  # contact: [hook], at 0s
        done = runner.invoke(app, ["me", "test", "pager", "--by", "alice", *where])
        assert done.exit_code == 0, done.output
        assert "test sent to alice through pager" in done.output
        [got] = [r.json() for r in sink.requests]
        assert got["kind"] == "test" and got["recipient"]["contact"] == "pager"
        assert "This is a test from tocsin" in got["text"]
        done = runner.invoke(app, ["me", "test", "nope", "--by", "alice", *where])
        assert done.exit_code == 1 and "no contact method 'nope'" in done.output
