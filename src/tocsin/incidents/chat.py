"""What a person asks from chat, and what tocsin answers (pure).

A Slack app sends two kinds of request (``api/slack.py``): a button press on a page
(``block_actions``, one form field ``payload`` holding JSON) and a slash command
(``/tocsin ack 12``, form fields). Both are read here into an ``Ask`` (what to do, to which
incident or run) and a ``ChatUser`` (who pressed or typed), every field bounded and checked;
and the sentences a person reads back ("Acknowledged #12 as alice", a refusal, the usage) are
written here. Who that person is in tocsin, and doing it, is ``service/chat.py``.

Nothing here reads the network, the database or the clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from tocsin import times
from tocsin.errors import Invalid

MAX_FORM_FIELDS = 40
MAX_TEXT_CHARS = 500  # a slash command's words
MAX_FIELD_CHARS = 4000  # any other field (a response_url is far shorter)
MAX_URL_CHARS = 2000
MAX_ID = 2**31 - 1  # incidents and runs are numbered in 31 bits (store.schema.MAX_ROW_ID)

# The buttons the Slack message carries (block_id "tocsin_actions"), by action_id; the value
# of each is the incident's number, or the run's for an approval.
ACTIONS_BLOCK = "tocsin_actions"
BUTTONS: dict[str, str] = {
    "tocsin_ack": "acknowledge",
    "tocsin_resolve": "resolve",
    "tocsin_escalate": "escalate",
    "tocsin_approve_run": "approve",
    "tocsin_open": "open",  # a link button: Slack reports the press too; nothing to do
}
# The slash command's words, by what each asks.
WORDS: dict[str, str] = {
    "ack": "acknowledge",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
    "escalate": "escalate",
    "oncall": "oncall",
    "on-call": "oncall",
    "who": "oncall",
    "help": "help",
}

Action = Literal["acknowledge", "resolve", "escalate", "approve", "oncall", "help", "open"]
ACTING: frozenset[str] = frozenset({"acknowledge", "resolve", "escalate", "approve"})

_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")  # a member ID
_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,30}$")
_NUMBER = re.compile(r"^#?([0-9]{1,10})$")


@dataclass(frozen=True)
class ChatUser:
    """A Slack member as a request names them: the member ID (``U…``), the handle
    (``username`` of a button press, ``user_name`` of a command) and the workspace."""

    id: str
    handle: str = ""
    team: str = ""


@dataclass(frozen=True)
class Ask:
    """What a person asks: an action and the incident (or, to approve, the run) it names.
    ``problem``: why the words were not understood (the usage follows it)."""

    action: Action
    target: int | None = None
    problem: str = ""

    @property
    def acts(self) -> bool:
        """Whether it changes something (and so needs a person who may respond)."""
        return self.action in ACTING


@dataclass(frozen=True)
class Asked:
    """One request from Slack: who, what, and where the answer goes later (``response_url``:
    Slack's URL for answers after the request's own, within 30 minutes). ``command``: the
    slash command's name as the app calls it (``/tocsin``), for the usage."""

    user: ChatUser
    ask: Ask
    response_url: str
    command: str = "/tocsin"


# --- reading requests ------------------------------------------------------------------------


def form(body: bytes) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body, each once; Invalid when it
    is not one (not UTF-8, too many fields, a field twice)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the body is not UTF-8 form data") from None
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError:
        raise Invalid("the body is not UTF-8 form data") from None
    except ValueError:
        raise Invalid(f"the body has more than {MAX_FORM_FIELDS} form fields") from None
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise Invalid(f"the form field {name!r} is given twice")
        out[name] = value
    return out


def _text(value: Any, what: str, limit: int = MAX_FIELD_CHARS, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise Invalid(f"{what} is missing or not text")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return value


def _user(user_id: Any, handle: Any, team: Any) -> ChatUser:
    uid = _text(user_id, "the user's id", 40)
    if not _SLACK_ID.match(uid):
        raise Invalid(f"the user's id {uid[:40]!r} is not a Slack member ID (U…)")
    name = _text(handle, "the user's name", 100, required=False)
    if not name.isprintable():
        raise Invalid("the user's name has control characters")
    workspace = _text(team, "the team's id", 40, required=False)
    if workspace and not _TEAM_ID.match(workspace):
        raise Invalid(f"the team's id {workspace!r} is not a Slack team ID (T…)")
    return ChatUser(uid, name, workspace)


def _response_url(value: Any) -> str:
    url = _text(value, "response_url", MAX_URL_CHARS)
    if not url.startswith(("https://", "http://")) or not url.isprintable() or " " in url:
        raise Invalid("response_url is not an http(s) URL")
    return url


def answers_to(response_url: str, api_url: str) -> bool:
    """Whether tocsin posts its answer to ``response_url``: Slack's own host for answers
    (``hooks.slack.com``, or ``hooks.`` + the app's ``api_url`` host, or that host itself: a
    Slack-compatible server or a test's), by https unless ``api_url`` itself is plain http.
    The URL comes from the request's body: even signed, it must not send tocsin's requests
    to another host (an address inside the network tocsin runs in)."""
    try:
        url, api = urlsplit(response_url), urlsplit(api_url)
        host, api_host = (url.hostname or "").lower(), (api.hostname or "").lower()
    except ValueError:  # not a URL (an unclosed "[", a port that is no number)
        return False
    if url.scheme != "https" and url.scheme != api.scheme:
        return False
    return bool(host) and host in {"hooks.slack.com", api_host, f"hooks.{api_host}"}


def _number(value: str, what: str) -> int:
    found = _NUMBER.match(value.strip())
    number = int(found.group(1)) if found else 0
    if not 1 <= number <= MAX_ID:
        raise Invalid(f"{what} {value[:40]!r} is not a number from 1 to {MAX_ID}")
    return number


def parse_interaction(body: bytes) -> Asked | None:
    """A button press (``block_actions``) from its form body; None when there is nothing to do
    (a link button such as "Open in the console", a button of another app, or another kind of
    interaction); Invalid when the body is not a Slack interaction."""
    raw = form(body).get("payload")
    if raw is None:
        raise Invalid("the body has no payload field")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise Invalid("the payload is not JSON") from None
    if not isinstance(payload, dict):
        raise Invalid("the payload is not a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise Invalid("the payload has no type")
    if kind != "block_actions":
        return None
    user = payload.get("user")
    if not isinstance(user, dict):
        raise Invalid("the payload has no user")
    who = _user(user.get("id"), user.get("username") or user.get("name"), user.get("team_id"))
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise Invalid("the payload has no actions")
    pressed = actions[0]  # a button press reports the one button
    action_id = _text(pressed.get("action_id"), "the action's action_id", 255)
    action = BUTTONS.get(action_id)
    if action is None or action == "open":
        return None
    value = _text(pressed.get("value"), f"the value of {action_id}", 40)
    what = "the run" if action == "approve" else "the incident"
    ask = Ask(action, _number(value, what))  # type: ignore[arg-type]  # a BUTTONS value
    return Asked(who, ask, _response_url(payload.get("response_url")))


def ssl_check(body: bytes) -> bool:
    """Whether the body is Slack's check of the command URL's certificate (``ssl_check=1``,
    sent unsigned when the URL is saved): answered 200, with nothing done."""
    try:
        return form(body).get("ssl_check") == "1"
    except Invalid:
        return False


def parse_command_form(body: bytes) -> Asked:
    """A slash command from its form body (``command``, ``text``, ``user_id``, ``user_name``,
    ``team_id``, ``response_url``); Invalid when it is not one."""
    fields = form(body)
    command = _text(fields.get("command"), "command", 100)
    if not command.startswith("/") or not command.isprintable():
        raise Invalid("command is not a slash command")
    text = _text(fields.get("text"), "text", MAX_TEXT_CHARS, required=False)
    who = _user(fields.get("user_id"), fields.get("user_name"), fields.get("team_id"))
    return Asked(who, parse_command(text), _response_url(fields.get("response_url")), command)


def parse_command(text: str) -> Ask:
    """What a slash command's words ask: ``ack 12`` (or ``acknowledge #12``), ``resolve 12``,
    ``escalate 12``, ``oncall``, ``help``; anything else is help with the ``problem``."""
    words = text.split()
    if not words:
        return Ask("help")
    verb = words[0].lower()
    action = WORDS.get(verb)
    if action is None:
        return Ask("help", problem=f"I do not know {_shown(words[0])}.")
    if action in ("help", "oncall"):
        if len(words) > 1:
            return Ask("help", problem=f"{verb} takes nothing after it.")
        return Ask(action)  # type: ignore[arg-type]  # a WORDS value
    if len(words) != 2:
        return Ask("help", problem=f"Say which incident: {verb} 12.")
    found = _NUMBER.match(words[1])
    number = int(found.group(1)) if found else 0
    if not 1 <= number <= MAX_ID:
        return Ask("help", problem=f"{_shown(words[1])} is not an incident number.")
    return Ask(action, number)  # type: ignore[arg-type]  # a WORDS value


def _shown(word: str) -> str:
    """A word a person typed, quoted back, bounded and printable."""
    cut = word[:40] + ("…" if len(word) > 40 else "")
    return "“" + "".join(c if c.isprintable() else "?" for c in cut) + "”"


# --- answers -------------------------------------------------------------------------------

_DOING = {
    "acknowledge": "Acknowledging",
    "resolve": "Resolving",
    "escalate": "Escalating",
    "approve": "Approving",
}
_DONE = {
    "acknowledge": "Acknowledged",
    "resolve": "Resolved",
    "escalate": "Escalated",
    "approve": "Approved",
}
# what a role that may not do it is told it may not do
_MAY_NOT = {
    "acknowledge": "acknowledge",
    "resolve": "resolve",
    "escalate": "escalate",
    "approve": "approve runs",
    "oncall": "read",
}


def named(ask: Ask) -> str:
    """What the ask names, as people read it: ``#12``, or ``run 7``."""
    return f"run {ask.target}" if ask.action == "approve" else f"#{ask.target}"


def usage(command: str = "/tocsin", problem: str = "") -> str:
    """The slash command's help, after why the words were not understood (if they were not)."""
    lines = [problem] if problem else []
    lines += [
        f"{command} ack 12: acknowledge incident #12 (escalation stops)",
        f"{command} resolve 12: resolve incident #12",
        f"{command} escalate 12: page the next step of #12's escalation now",
        f"{command} oncall: who is on call now",
        f"{command} help: this help",
    ]
    return "\n".join(lines)


def doing(ask: Ask) -> str:
    """The answer at once, while the work is queued: "Acknowledging #12…"."""
    if ask.action == "oncall":
        return "Looking up who is on call…"
    return f"{_DOING[ask.action]} {named(ask)}…"


def done(ask: Ask, by: str, extra: str = "") -> str:
    """The answer when it was done: "Acknowledged #12 as alice"."""
    return f"{_DONE[ask.action]} {named(ask)} as {by}" + (f": {extra}" if extra else "")


def already(ask: Ask, by: str | None) -> str:
    """Someone else did it first: "#12 was already acknowledged by bob" (no one: its alerts
    resolved by themselves)."""
    return f"{named(ask)} was already {_DONE[ask.action].lower()}" + (f" by {by}" if by else "")


def refused(ask: Ask, reason: str, status: str | None = None, by: str | None = None) -> str:
    """Why it was not done: "#12 is already resolved", or "Could not escalate #12: …"."""
    if status == "resolved" and ask.action in ("acknowledge", "escalate"):
        return f"{named(ask)} is already resolved" + (f" (by {by})" if by else "")
    verb = "approve" if ask.action == "approve" else ask.action
    return f"Could not {verb} {named(ask)}: {reason}"


def not_allowed(name: str, role: str, ask: Ask) -> str:
    """A person whose role may not do it: "alice is a viewer: viewers may not acknowledge"."""
    return (
        f"Refused: {name} is a {role} in tocsin: {role}s may not {_MAY_NOT[ask.action]}. "
        "An admin can change the role: of your tocsin user."
    )


def not_mapped(user: ChatUser, why: str = "") -> str:
    """A Slack member who is no tocsin user: how to become one."""
    return (
        "Refused: you are not a tocsin user here"
        + (f" ({why})" if why else "")
        + f". Ask an admin to add `slack: {user.id}` to your user in tocsin's configuration."
    )


def destructive(run_id: int, incident_id: int, console: str) -> str:
    """A destructive run is approved where its first line is typed: the console."""
    return (
        f"Could not approve run {run_id}: it is destructive, and its approver types its "
        f"first line. Approve it in the console: {console}"
    )


@dataclass(frozen=True)
class OnCall:
    """Who is on call in one schedule, and until when (already written for people)."""

    schedule: str
    names: Sequence[str]
    until: str | None = None
    following: Sequence[str] = ()


def oncall_text(rows: Sequence[OnCall]) -> str:
    """Who is on call now, a line per schedule."""
    if not rows:
        return "No schedules are configured: nobody is on call."
    lines = ["On call now:"]
    for row in rows:
        who = ", ".join(row.names) if row.names else "nobody"
        line = f"{row.schedule}: {who}"
        if row.until:
            line += f" until {row.until}"
            if row.following:
                line += f" (then {', '.join(row.following)})"
        lines.append(line)
    return "\n".join(lines)


def oncall_rows(found: Sequence[Mapping[str, Any]]) -> list[OnCall]:
    """``service.paging.oncall_now``'s answer as ``OnCall`` rows, its times as people read
    them (``2027-01-15 17:00:00 UTC``)."""
    out = []
    for row in found:
        following = [str(name) for name in (row.get("next") or {}).get("users", [])]
        until = times.format_time(times.parse_time(row["until"])) if row.get("until") else None
        out.append(OnCall(row["schedule"], [u["name"] for u in row["users"]], until, following))
    return out
