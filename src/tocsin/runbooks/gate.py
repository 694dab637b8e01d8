"""What may run, when, and with whose approval: the runbook commands' gates (pure).

A command runs exactly as ``prepare`` writes it: its placeholders filled from the alert's
labels (and the values a person typed) through the one filler, ``runbooks.fill``. Shell,
PowerShell and PromQL get the value quoted for where it stands; SQL gets a bound parameter
(``:pod``) and the value travels beside the statement, never inside it. A command with a
placeholder nothing fills is not run.

The gates follow the command's risk class (``runbooks.risk``, whose verdict is final):

- ``read`` runs when a person asks, and by itself when an incident triggers where
  ``auto_diagnose`` is on (``auto_plan``);
- ``change`` runs only once a responder approves that exact text (its ``digest``);
- ``destructive`` needs a second person, who approves and types the confirmation
  (``confirmation``); it never runs by itself, whatever the configuration says.

A run's states: ``awaiting`` (an approval is missing) → ``queued`` → ``running`` →
``finished``; ``refused`` at any step before running. What came of a finished run is its
result's status (ok, failed, timeout, error).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tocsin.runbooks.commands import placeholder_spans
from tocsin.runbooks.fill import FILLED_LANGUAGES, context_at, fill, label_for

RunStatus = Literal["awaiting", "queued", "running", "finished", "refused"]
OPEN_STATUSES: tuple[RunStatus, ...] = ("awaiting", "queued", "running")
# the languages a runner may be given (python, yaml, json… are shown, never run)
# (an unlabelled block is often a sample of output, not a command: it is never run)
RUNNABLE_LANGUAGES = frozenset({"bash", "powershell", "sql", "promql"})
AUTOMATIC = "tocsin"  # who asks for the runs an incident's trigger starts
# the steps whose read commands run by themselves: diagnosis (and steps of no known phase),
# not the checks a runbook says to make after a remediation or to prevent a recurrence
AUTO_PHASES = frozenset({"diagnose", "other"})
MAX_TYPED_CHARS = 500  # a value a person types for a placeholder
_PARAM = re.compile(r"[^a-z0-9_]+")
_KEY = re.compile(r"[A-Za-z0-9_]{1,100}")


@dataclass(frozen=True)
class Prepared:
    """A command as it would run."""

    text: str  # placeholders filled and quoted; SQL: ``:name`` where a value is bound
    language: str
    params: dict[str, str] = field(default_factory=dict)  # SQL's bound parameters
    unfilled: list[str] = field(default_factory=list)  # placeholders nothing filled
    problem: str = ""  # why it cannot run as written, even filled (else empty)
    # placeholders a value was given for that is not ``usable`` (placeholder -> its name)
    refused: dict[str, str] = field(default_factory=dict)
    # where it runs: the runner, and the values it was filled from (an ssh runner's host is
    # one of them); part of what an approval approves
    where: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """What an approval approves: the text, its parameters, the runner and the values
        it was filled from."""
        extra = {f"where.{k}": v for k, v in self.where.items()}
        return digest(self.language, self.text, {**self.params, **extra})

    @property
    def runnable(self) -> bool:
        return not self.unfilled and not self.problem


def digest(language: str, text: str, params: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for part in (language, text, *(f"{k}={params[k]}" for k in sorted(params))):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


# A value that fills a placeholder of a command that runs (shell, PowerShell, PromQL) must be
# plain: it starts with a letter, a digit or a slash and holds none of the characters any shell,
# PowerShell, PromQL or a program a command hands it to (``sh -c '…'``, ``psql -c "…"``, awk)
# could read as code or as an option: no quotes, spaces, ``$``, backticks, ``;``, ``|``,
# ``&``, brackets or braces, wildcards, backslashes, control characters. Quoting stays, as a
# second wall; this rule holds whatever the quoting misreads (a comment's apostrophe, a
# heredoc, a nested interpreter). SQL's values are bound parameters: any printable text.
PLAIN_VALUE = re.compile(r"[A-Za-z0-9/][A-Za-z0-9._:/@%+=,~-]{0,499}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain(value: str) -> bool:
    return PLAIN_VALUE.fullmatch(value) is not None


def usable(value: str, language: str) -> bool:
    """Whether a value may fill a placeholder of a command of ``language`` that runs."""
    return not _CONTROL.search(value) if language == "sql" else plain(value)


def prepare(
    code: str,
    language: str,
    labels: Mapping[str, str],
    typed: Mapping[str, str] | None = None,
) -> Prepared:
    """The command with every placeholder filled from the alert's ``labels``, else from what
    a person ``typed``: quoted where it stands, or bound (SQL). A value that is not
    ``usable`` fills nothing: its placeholder stays unfilled and ``refused`` says why."""
    if language not in RUNNABLE_LANGUAGES:
        return Prepared(code, language, problem=f"{language or 'this'} code is not run")
    if "\x00" in code:
        return Prepared(code.replace("\x00", ""), language, problem="the command holds a NUL")
    good = {k: v for k, v in labels.items() if usable(v, language)}
    values = {**{k: v for k, v in (typed or {}).items() if usable(v, language)}, **good}
    if language == "sql":
        prepared = bind_sql(code, values)
    else:
        filled = fill(code, language, values)
        prepared = Prepared(filled.text, language, unfilled=filled.unfilled)
    refused = {
        p: name
        for p in prepared.unfilled
        if (name := label_for(p, {**(typed or {}), **labels})) is not None
    }
    if not refused:
        return prepared
    return Prepared(
        prepared.text, language, prepared.params, prepared.unfilled, prepared.problem, refused
    )


def bind_sql(code: str, labels: Mapping[str, str]) -> Prepared:
    """An SQL command with each filled placeholder a bound parameter named after its label
    (``:pod``). Inside a string literal the literal is split around it: ``'%<pod>%'`` becomes
    ``'%' || :pod || '%'``. A placeholder inside a quoted identifier cannot be bound: the
    command is not run."""
    params: dict[str, str] = {}
    unfilled: list[str] = []
    parts: list[str] = []
    problem = ""
    last = 0
    for start, end in placeholder_spans(code, "sql"):
        placeholder = code[start:end]
        name = label_for(placeholder, labels)
        if name is None:
            if placeholder not in unfilled:
                unfilled.append(placeholder)
            continue
        inside = context_at(code, start, "sql")
        if inside == '"':
            problem = f"{placeholder} stands in a quoted identifier; a value cannot be bound there"
            continue
        param = _param_name(name, params, labels[name])
        params[param] = labels[name]
        if inside == "'":
            opens = code[start - 1] == "'" and context_at(code, start - 1, "sql") == ""
            closes = code[end : end + 1] == "'" and context_at(code, end + 1, "sql") == ""
            parts.append(code[last : start - 1] if opens else code[last:start] + "' || ")
            parts.append(f":{param}")
            last = end + 1 if closes else end
            if not closes:
                parts.append(" || '")
        else:
            parts.append(code[last:start])
            parts.append(f":{param}")
            last = end
    parts.append(code[last:])
    return Prepared("".join(parts), "sql", params, unfilled, problem)


def _param_name(label: str, taken: Mapping[str, str], value: str) -> str:
    base = _PARAM.sub("_", label.lower()).strip("_") or "value"
    if base[0].isdigit():
        base = "p_" + base
    name, n = base, 1
    while name in taken and taken[name] != value:
        n += 1
        name = f"{base}_{n}"
    return name


def check_typed(typed: Mapping[str, str]) -> list[str]:
    """What is wrong with the values a person typed for placeholders (empty: nothing)."""
    wrong = []
    for key, value in typed.items():
        if not _KEY.fullmatch(key):
            wrong.append(f"{key[:100]!r}: a placeholder's key is letters, digits and _ (pod)")
        if len(value) > MAX_TYPED_CHARS:
            wrong.append(f"{key}: longer than {MAX_TYPED_CHARS} characters")
        if any(ord(c) < 32 and c not in "\t" for c in value):
            wrong.append(f"{key}: holds a control character (a new line, an escape)")
    return wrong


def confirmation(text: str) -> str:
    """What the second person types to run a destructive command: its first line, with runs
    of spaces as one."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return " ".join(first.split())


def confirmed(text: str, typed: str | None) -> bool:
    return typed is not None and " ".join(typed.split()) == confirmation(text)


@dataclass(frozen=True)
class Decision:
    status: RunStatus  # awaiting, queued or refused
    reason: str = ""  # why refused, or what it waits for


def on_request(
    risk: str,
    prepared: Prepared,
    *,
    has_runner: bool,
    automatic: bool = False,
    approve: bool = False,
    given_digest: str | None = None,
) -> Decision:
    """What becomes of a request to run a command: queued at once, awaiting an approval, or
    refused with the reason. ``approve``: the person asking approves it too (a ``change``;
    ``given_digest`` must be the digest of the text they saw)."""
    if prepared.problem:
        return Decision("refused", prepared.problem)
    if prepared.unfilled:
        said = [
            f"{p} (the value of {prepared.refused[p]} is not plain: letters, digits and "
            "._:/@%+=,~- only, starting with a letter, a digit or /)"
            if p in prepared.refused
            else p
            for p in prepared.unfilled
        ]
        return Decision("refused", "not filled: " + ", ".join(said))
    if not has_runner:
        return Decision("refused", f"no runner serves {prepared.language or 'plain'} commands here")
    if automatic:
        if risk != "read":
            return Decision("refused", f"a {risk} command never runs by itself")
        return Decision("queued")
    if risk == "read":
        return Decision("queued")
    if risk == "change":
        if approve:
            if given_digest != prepared.digest:
                return Decision("refused", "the command changed since it was shown")
            return Decision("queued")
        return Decision("awaiting", "a responder's approval of this exact text")
    return Decision("awaiting", "a second person's approval and typed confirmation")


def on_approve(
    risk: str,
    status: str,
    text: str,
    run_digest: str,
    *,
    requested_by: str,
    approver: str,
    given_digest: str | None,
    typed_confirmation: str | None = None,
) -> Decision:
    """What an approval does to an awaiting run: queue it, or refuse the approval (the run
    stays as it was) with the reason."""
    if status != "awaiting":
        return Decision("refused", f"the run is {status}, not awaiting an approval")
    if given_digest != run_digest:
        return Decision("refused", "the command is not the one shown: read it again")
    if risk == "destructive":
        if approver == requested_by:
            return Decision("refused", "a destructive command needs a second person to approve")
        if not confirmed(text, typed_confirmation):
            return Decision("refused", f"type the command's first line: {confirmation(text)}")
    return Decision("queued")


@dataclass(frozen=True)
class Candidate:
    """A runbook command an incident's trigger may run by itself."""

    step: int
    risk: str
    prepared: Prepared
    runner: str | None  # the runner that serves it, None when none does
    phase: str = "diagnose"  # the runbook step's phase (runbooks.model.Phase)


def auto_plan(candidates: Iterable[Candidate], limit: int) -> list[tuple[Candidate, Decision]]:
    """Which commands run when an incident triggers: the ``read`` commands of its diagnosis
    (``AUTO_PHASES``) a runner serves, fully filled, at most ``limit``; the rest of those
    ``read`` commands with why not. ``change`` and ``destructive`` commands, and the steps of
    other phases, are left for people, unrecorded."""
    out: list[tuple[Candidate, Decision]] = []
    queued = 0
    for c in candidates:
        if c.risk != "read" or c.prepared.language not in RUNNABLE_LANGUAGES:
            continue
        if c.phase not in AUTO_PHASES:
            continue
        decision = on_request(c.risk, c.prepared, has_runner=c.runner is not None, automatic=True)
        if decision.status == "queued":
            if queued >= limit:
                decision = Decision("refused", f"over the {limit} automatic runs per incident")
            else:
                queued += 1
        out.append((c, decision))
    return out


STALE_GRACE_S = 60.0  # past a runner's bounds, before a run whose process died is ended


def given_up_after(timeout_s: float) -> float:
    """How long a run is waited for: a runner may hold it its timeout for a free place, then
    run it its timeout; a few seconds more for the runner's own ending."""
    return 2 * timeout_s + 5


def stale(started_at: float, timeout_s: float, now: float) -> bool:
    """Whether a run still marked running was lost with the process that ran it (it is
    ended as such, never run again)."""
    return now - started_at >= 2 * timeout_s + STALE_GRACE_S


@dataclass(frozen=True)
class Waiting:
    """A queued run, as the executor sees it."""

    id: int
    incident_id: int
    runner: str


def startable(
    queued: Sequence[Waiting],
    running: Iterable[Waiting],
    runner_limits: Mapping[str, int],
    per_incident: int,
) -> list[Waiting]:
    """The queued runs (oldest first) that may start now without passing a runner's
    ``concurrency`` or the runs one incident may have at once."""
    by_runner = Counter(r.runner for r in running)
    by_incident: Counter[int] = Counter()
    for r in running:
        by_incident[r.incident_id] += 1
    chosen = []
    for w in queued:
        if by_runner[w.runner] >= runner_limits.get(w.runner, 1):
            continue
        if by_incident[w.incident_id] >= per_incident:
            continue
        by_runner[w.runner] += 1
        by_incident[w.incident_id] += 1
        chosen.append(w)
    return chosen


__all__ = [
    "AUTOMATIC",
    "FILLED_LANGUAGES",
    "OPEN_STATUSES",
    "Candidate",
    "Decision",
    "Prepared",
    "Waiting",
    "auto_plan",
    "bind_sql",
    "check_typed",
    "confirmation",
    "confirmed",
    "digest",
    "on_approve",
    "on_request",
    "plain",
    "prepare",
    "startable",
    "usable",
]
