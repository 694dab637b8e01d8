"""``tocsin config check``: every error in one pass, each at the value that is wrong (issue 17,
item 15), and nothing in a configuration accepted and then ignored (issue 17, item 20)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.config import ConfigError, load_config, parse_config

REPO = Path(__file__).parents[1]
EXAMPLE = REPO / "examples" / "tocsin.yaml"
runner = CliRunner()
TOP = {"route", "channels", "users", "severities", "escalation_policies", "execute"}


def _place(text: str, line_has: str, value: str) -> str:
    """``line:column`` of ``value`` on the one line of ``text`` that holds ``line_has``."""
    found = [i for i, line in enumerate(text.splitlines()) if line_has in line]
    assert len(found) == 1, (line_has, found)
    line = text.splitlines()[found[0]]
    return f"{found[0] + 1}:{line.index(value) + 1}"


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_every_error_in_one_pass_at_the_line_of_its_value(tmp_path: Path) -> None:
    """Errors of shape and of reference (schedule, user, channel, policy, receiver, runbook,
    severity) all come at once: on main the bad duration and the Alertmanager receiver
    config hid every other error, and the unknown schedule of a runbook's role pointed at the
    policy."""
    shutil.copytree(REPO / "examples" / "runbooks", tmp_path / "runbooks")
    text = EXAMPLE.read_text()
    text = _edit(text, "  group_interval: 1m\n", "  group_interval: 1 minute\n")
    text = _edit(
        text, "  - name: pager\n", "  - name: pager\n    slack_configs: [{channel: '#pager'}]\n"
    )
    text = _edit(text, "receiver: pebble-team\n", "receiver: pebble-teams\n")
    text = _edit(text, "escalation_policy: business-hours", "escalation_policy: business-hour")
    text = _edit(
        text,
        "      escalation_policy: pebble\n      channels: [team-console]",
        "      escalation_policy: pebble\n      channels: [team-consol]",
    )
    text = _edit(
        text,
        "Secondary on-call: schedule:pebble-secondary",
        "Secondary on-call: schedule:pebble-second",
    )
    text = _edit(text, "participants: [dana]", "participants: [dana, frank]")
    text = _edit(text, "runbooks:\n  - runbooks\n", "runbooks:\n  - runbook\n")
    text = _edit(
        text,
        "        delay: 30m\n",
        "        delay: 30m\n        matchers: ['severity=\"whenever\"']\n",
    )
    config = tmp_path / "tocsin.yaml"
    config.write_text(text)

    done = runner.invoke(app, ["config", "check", "--config", str(config)], terminal_width=400)

    assert done.exit_code == 1
    expected = [
        (
            _place(text, "group_interval:", "1 minute"),
            "route.group_interval: not a valid duration string",
        ),
        (
            _place(text, "channels: [team-consol]", "team-consol"),
            "route.routes[0].channels[0]: unknown channel 'team-consol'",
        ),
        (
            _place(text, "receiver: pebble-teams", "pebble-teams"),
            "route.routes[1].receiver: undefined receiver 'pebble-teams' used in route",
        ),
        (
            _place(text, "escalation_policy: business-hour", "business-hour"),
            "route.routes[1].escalation_policy: unknown escalation policy 'business-hour'",
        ),
        (
            _place(text, "slack_configs", "{"),
            "receivers[1].slack_configs[0]: no global Slack API URL set either inline or in a file",
        ),
        (
            _place(text, "  - runbook\n".strip("\n"), "runbook"),
            "runbooks[0]: no such file or directory: runbook",
        ),
        (
            _place(text, "participants: [dana, frank]", "frank"),
            "rotations[3].participants[1]: unknown user 'frank'",
        ),
        (
            _place(text, "Secondary on-call: schedule:pebble-second", "schedule:"),
            "escalation_policies[0].from_runbook.roles.Secondary on-call: "
            "unknown schedule 'pebble-second'",
        ),
        (
            _place(text, "matchers: ['severity=\"whenever\"']", "'severity"),
            "escalation_policies[1].steps[0].matchers[0]: unknown severity 'whenever'",
        ),
    ]
    lines = [line for line in done.output.splitlines() if line.startswith(str(config))]
    assert len(lines) == len(expected), done.output
    for (place, message), line in zip(expected, lines, strict=True):
        assert line.startswith(f"{config}:{place}: {message}"), (place, message, line)


def test_an_error_of_shape_does_not_hide_the_names_of_others() -> None:
    """Beside an error of shape, every reference is still checked, and an item that could
    not be read is not reported again as unknown wherever it is named."""
    text = (
        "route:\n"
        "  receiver: d\n"
        "  group_wait: soon\n"  # 3: shape
        "  channels: [mail, gone]\n"  # 4: gone is unknown, mail is declared (though broken)
        "receivers: [{name: d}]\n"
        "channels:\n"
        "  - {name: mail, type: email, from: a@b.c}\n"  # 7: smtp missing
        "users:\n"
        "  - {name: al, contact: [mail]}\n"
        "teams:\n"
        "  - {name: t, members: [al, bo], schedule: nights}\n"  # 11: bo, nights unknown
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "t.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "t.yaml:3:15: route.group_wait: not a valid duration string: 'soon'",
        "t.yaml:4:20: route.channels[1]: unknown channel 'gone'",
        "t.yaml:7:5: channels[0].smtp: Field required",
        "t.yaml:11:29: teams[0].members[1]: unknown user 'bo'",
        "t.yaml:11:44: teams[0].schedule: unknown schedule 'nights'",
    ]


def test_an_error_beside_another_in_the_same_section_is_not_hidden() -> None:
    """Two errors of the root route, one of shape and one of sense; and a value dropped for
    its shape does not come back as a second error (a user's contact list)."""
    text = (
        "route:\n  group_wait: soon\n  continue: true\n"
        "receivers: [{name: d}]\n"
        "channels: [{name: c, type: console}]\n"
        "users: [{name: al, contact: c}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:2:3: route.receiver: the root route must name a receiver",
        "r.yaml:2:15: route.group_wait: not a valid duration string: 'soon'",
        "r.yaml:3:13: route.continue: cannot have continue in root route",
        "r.yaml:6:29: users[0].contact: Input should be a valid list",
    ]


def test_a_policy_from_a_runbook_is_checked_at_each_of_its_values() -> None:
    """On main both were reported at the policy, the bad role not at all beside the runbook."""
    text = (
        "route: {receiver: d}\nreceivers: [{name: d}]\n"
        "severities: {from_runbook: nope.md}\n"
        "escalation_policies:\n"
        "  - name: p\n"
        "    from_runbook:\n"
        "      runbook: x.md\n"
        "      roles: {Primary: 'b'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "p.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "p.yaml:3:28: severities.from_runbook: cannot read nope.md: No such file or directory",
        "p.yaml:7:16: escalation_policies[0].from_runbook.runbook: cannot read x.md: "
        "No such file or directory",
        "p.yaml:8:24: escalation_policies[0].from_runbook.roles.Primary: target 'b' must be "
        "KIND:NAME with KIND one of user, schedule, team, channel",
    ]


@pytest.mark.parametrize(
    ("kind", "name"), [("opsgenie_configs", "Opsgenie"), ("msteams_configs", "Microsoft Teams")]
)
def test_alertmanager_integrations_tocsin_lacks_are_refused_by_name(kind: str, name: str) -> None:
    """An integration with no tocsin channel would page nobody: refused, never ignored."""
    text = f"route: {{receiver: team}}\nreceivers:\n  - name: team\n    {kind}:\n      - {{}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "am.yaml")
    [problem] = caught.value.problems
    assert str(problem).startswith(
        f"am.yaml:5:7: receivers[0].{kind}: tocsin has no {name} integration (yet), so this "
        f"receiver's {name} notifications would go nowhere"
    )


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "route: {receiver: d}\nreceivers: [{name: d}]\nglobal: {opsgenie_api_key: x}\n",
            "global.opsgenie_api_key",
            "tocsin does not carry over Alertmanager's global `opsgenie_api_key`",
        ),
        (
            "route: {receiver: d}\nreceivers: [{name: d}]\n"
            "channels: [{name: c, type: webhook, url: 'http://x', header: {a: b}}]\n",
            "channels[0].header",
            "unknown key `header`, which nothing would read: did you mean `headers`?",
        ),
        (
            "route: {receiver: d}\nreceivers: [{name: d}]\n"
            "users: [{name: a, contact: [], tz: x}]\n",
            "users[0].tz",
            "the keys here are `contact`, `contact_methods`, `email`",
        ),
    ],
)
def test_a_key_nothing_reads_is_refused(text: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "x.yaml")
    assert any(p.location == where and message in p.message for p in caught.value.problems), [
        str(p) for p in caught.value.problems
    ]


BASE = "route: {receiver: d}\nreceivers: [{name: d}]\nusers: [{name: a, contact: [c]}]\n"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "channels: [{name: c, type: webhook, url: 'http://x', secret: {env: K, file: f}}]\n",
            "channels[0].secret",
            "give only one of value, file or env (given: file, env)",
        ),
        (
            "channels: [{name: c, type: slack, url: 'http://x', url_secret: {env: K}}]\n",
            "channels[0].url_secret",
            "give url or url_secret, not both",
        ),
        (
            "channels: [{name: c, type: slack, url: 'http://x', token: {env: K}}]\n",
            "channels[0].token",
            "give token (a Slack app) or url (a webhook), not both",
        ),
        (
            "channels: [{name: c, type: slack, url: 'http://x', by_severity: {critical: '#o'}}]\n",
            "channels[0].by_severity",
            "by_severity is where a Slack app posts: it needs token",
        ),
        (
            "channels: [{name: c, type: console}]\nrotations:\n"
            "  - {name: r, type: daily, shift: 12h, start: 2027-01-01T00:00, participants: [a]}\n",
            "rotations[0].shift",
            "only a custom rotation reads shift; a daily rotation's shifts are `length` days long",
        ),
        (
            "channels: [{name: c, type: console}]\nrotations:\n"
            "  - {name: r, type: custom, shift: 12h, length: 2, start: 2027-01-01T00:00,"
            " participants: [a]}\n",
            "rotations[0].length",
            "a custom rotation's shifts are `shift` long",
        ),
        (
            "channels: [{name: c, type: console}]\n"
            "severities: {levels: [{name: critical}], from_runbook: x.md}\n",
            "severities.from_runbook",
            "give levels or from_runbook, not both",
        ),
    ],
)
def test_a_value_that_another_would_silence_is_refused(text: str, where: str, message: str) -> None:
    """Two ways of saying one thing, of which one would be read and the other ignored."""
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + text, "v.yaml")
    assert [(p.location, p.message) for p in caught.value.problems] == [(where, message)]


def _documented_configs() -> list[tuple[str, str]]:
    """Every YAML block of the docs that is (part of) a ``tocsin.yaml``."""
    out = []
    for page in sorted([*(REPO / "docs").glob("*.md"), REPO / "README.md"]):
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S)):
            out.append((f"{page.name}[{i}]", block))
    return out


@pytest.mark.parametrize(("name", "block"), _documented_configs())
def test_the_docs_use_no_key_tocsin_refuses(name: str, block: str) -> None:
    """A block of the docs is often a part of a configuration, so names it refers to may be
    missing: but no key in it may be one that tocsin refuses or ignores."""
    data = yaml.safe_load(block)
    if not isinstance(data, dict) or "events" in data or not (TOP & set(data)):
        pytest.skip(f"{name} is not a tocsin.yaml")
    data.setdefault("route", {"receiver": "d"})
    try:
        parse_config(yaml.safe_dump(data), name)
    except ConfigError as exc:
        shape = [p for p in exc.problems if "unknown key" in p.message or "does not" in p.message]
        assert not shape, [str(p) for p in shape]


def test_the_example_of_make_run_loads() -> None:
    config = load_config(EXAMPLE)  # the configuration of `make run`
    assert config.paging.policies and config.receivers == ["default", "pager", "pebble-team"]


def test_storm_keys_are_checked_where_they_are_written(tmp_path: Path) -> None:
    """The storm digest (issue 18, item 4): the top-level defaults and a route's own are
    accepted and inherited; a threshold under 1, a window under a second, a bad duration and
    an unknown key are refused at their line."""
    shutil.copytree(REPO / "examples" / "runbooks", tmp_path / "runbooks")
    text = EXAMPLE.read_text()
    good = _edit(
        text,
        "route:\n",
        "storm: {incidents: 50, window: 2m}\nroute:\n  storm: {update_every: 1m}\n",
    )
    config = tmp_path / "tocsin.yaml"
    config.write_text(good)
    done = runner.invoke(app, ["config", "check", "--config", str(config)], terminal_width=400)
    assert done.exit_code == 0, done.output
    rule = load_config(config).route.storm
    assert (rule.incidents, rule.window_s, rule.update_every_s) == (50, 120.0, 60.0)
    bad = _edit(
        text,
        "route:\n",
        "storm: {incidents: 0, window: 500ms}\nroute:\n  storm: {update_every: soon, limit: 3}\n",
    )
    config.write_text(bad)
    done = runner.invoke(app, ["config", "check", "--config", str(config)], terminal_width=400)
    assert done.exit_code == 1
    for key in ("storm.incidents", "storm.window", "route.storm.update_every", "route.storm.limit"):
        assert key in done.output, (key, done.output)


@pytest.mark.parametrize("value", ["@bob", "bob", "u024be7lh", "U0", "C024BE7LH"])
def test_a_slack_user_is_a_member_id_not_a_handle(value: str) -> None:
    """``users[].slack`` says who a Slack button press is: a member ID (``U…``, ``W…``),
    never a handle, which can be renamed and is not unique across Slack Connect."""
    text = (
        "route: {receiver: default}\nreceivers: [{name: default}]\n"
        "channels: [{name: c, type: console}]\n"
        f"users: [{{name: bob, slack: '{value}', contact: [c]}}]\n"
    )
    with pytest.raises(ConfigError, match=r"users\[0\]\.slack"):
        parse_config(text)
    for good in ("U024BE7LH", "W0123ABC"):
        parse_config(text.replace(f"'{value}'", good))


AM_INTERVALS = (
    "route:\n"  # 1
    "  receiver: d\n"  # 2
    "  routes:\n"  # 3
    "    - receiver: d\n"  # 4
    "      mute_time_intervals: [nights, nope]\n"  # 5
    "receivers: [{name: d}]\n"  # 6
    "time_intervals:\n"  # 7
    "  - name: nights\n"  # 8
    "    time_intervals:\n"  # 9
    "      - times: [{start_time: '00:00', end_time: '06:00'}]\n"  # 10
    "        months: ['december:may']\n"  # 11
    "        location: Mars/Olympus\n"  # 12
    "mute_time_intervals:\n"  # 13
    "  - name: nights\n"  # 14
)


def test_time_intervals_are_checked_with_alertmanagers_words_at_their_lines() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(AM_INTERVALS, "am.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "am.yaml:5:37: route.routes[0].mute_time_intervals[1]: "
        'undefined time interval "nope" used in route',
        # Alertmanager reads `mute_time_intervals` first: the later name is the second
        'am.yaml:8:11: time_intervals[0].name: time interval "nights" is not unique',
        "am.yaml:11:17: time_intervals[0].time_intervals[0].months: "
        "end month may is before start month december",
        "am.yaml:12:19: time_intervals[0].time_intervals[0].location: "
        "unknown time zone Mars/Olympus",
    ]


def test_the_root_route_takes_no_time_intervals() -> None:
    text = (
        "route: {receiver: d, mute_time_intervals: [w]}\nreceivers: [{name: d}]\n"
        "time_intervals: [{name: w, time_intervals: [{weekdays: [sunday]}]}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "am.yaml")
    assert [p.message for p in caught.value.problems] == [
        "root route must not have any mute time intervals"
    ]


def test_time_intervals_load_and_are_not_inherited() -> None:
    text = AM_INTERVALS.replace(", nope", "").replace("['december:may']", "['march:may']")
    text = text.replace("Mars/Olympus", "Europe/Berlin").replace(
        "mute_time_intervals:\n  - name: nights\n", ""
    )
    text = text.replace("    - receiver: d\n", "    - receiver: d\n      routes: [{receiver: d}]\n")
    config = parse_config(text, "am.yaml")
    [child] = config.route.routes
    assert child.mute_time_intervals == ["nights"]
    assert child.routes[0].mute_time_intervals == []  # as Alertmanager: not inherited
    [entry] = config.intervals["nights"]
    assert entry.location == "Europe/Berlin" and entry.months == ((3, 5),)
    assert "time_intervals:" in config.alertmanager_yaml()


_AMTOOL = "/usr/bin/amtool"
_VALID_INTERVALS = (
    "route:\n  receiver: d\n  routes:\n    - receiver: d\n"
    "      mute_time_intervals: [nights]\n      active_time_intervals: [office]\n"
    "receivers: [{name: d}]\n"
    "time_intervals:\n"
    "  - name: office\n    time_intervals:\n"
    "      - weekdays: ['monday:friday']\n"
    "        times: [{start_time: '09:00', end_time: '17:00'}]\n"
    "        location: Europe/Berlin\n"
    "mute_time_intervals:\n"
    "  - name: nights\n    time_intervals:\n"
    "      - times: [{start_time: '00:00', end_time: '24:00'}]\n"
    "        days_of_month: ['-7:-1', '1']\n        months: ['1', 'march:may']\n"
    "        years: ['2020:2030']\n"
)


@pytest.mark.parametrize(
    "change",
    [
        ("", ""),
        ("'-7:-1', '1'", "'10:-25'"),
        ("'-7:-1', '1'", "'0'"),
        ("'monday:friday'", "'friday:monday'"),
        ("'monday:friday'", "'Monday'"),
        ("'1', 'march:may'", "'13'"),
        ("'1', 'march:may'", "' 5'"),
        ("'2020:2030'", "'2030:2020'"),
        ("end_time: '17:00'", "end_time: '24:01'"),
        ("end_time: '17:00'", "end_time: '09:00'"),
        ("Europe/Berlin", "Europe/Nowhere"),
        ("[nights]", "[nope]"),
        ("active_time_intervals: [office]", "active_time_intervals: []"),
    ],
)
def test_amtool_check_config_and_tocsin_agree_on_time_intervals(
    change: tuple[str, str], tmp_path: Path
) -> None:
    if not Path(_AMTOOL).exists():
        pytest.skip("amtool is not installed")
    text = _VALID_INTERVALS.replace(*change)
    path = tmp_path / "am.yml"
    path.write_text(text)
    amtool = subprocess.run(
        [_AMTOOL, "check-config", str(path)], capture_output=True, text=True, check=False
    )
    try:
        parse_config(text, "am.yml")
        ours = True
    except ConfigError:
        ours = False
    assert ours == (amtool.returncode == 0), amtool.stdout + amtool.stderr
