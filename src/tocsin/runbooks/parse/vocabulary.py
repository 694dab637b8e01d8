"""The words runbooks head their parts with: the field names (impact, severity, threshold,
alert name …), the titles that name a response phase (``Detailed Troubleshooting`` ->
diagnose), the generic titles, and the names that are never alerts. The parse stages read
titles through these.
"""

from __future__ import annotations

import re

from tocsin.runbooks.model import Phase
from tocsin.runbooks.text import clean_spaces, is_camel_identifier, is_severity_word

_PROSE_FIELDS: dict[str, str] = {
    "impact": "impact",
    "business impact": "impact",
    "user impact": "impact",
    "customer impact": "impact",
    "symptom": "symptoms",
    "symptoms": "symptoms",
    "signs": "symptoms",
    "meaning": "meaning",
    "what it means": "meaning",
    "description": "summary",
    "summary": "summary",
    "overview": "summary",
    "context": "summary",
}


SEVERITY_FIELDS = {"severity", "priority", "sev", "severity level", "level", "alert severity"}


# Titles of an alert's sub-section that is about its severity ("## Severities": "This alert might
# create S1 incidents"); its text says the severity in prose.
SEVERITY_SECTIONS = {
    "severity",
    "severities",
    "priority",
    "sev",
    "severity level",
    "alert severity",
}


THRESHOLD_FIELDS = {
    "threshold",
    "condition",
    "trigger",
    "fires when",
    "expression",
    "expr",
    "query",
    "alert condition",
    "triggers",
}


REFERENCE_FIELDS = {"dashboards", "dashboard", "runbook", "playbook", "owner", "links", "see also"}


NAME_FIELDS = {"alert", "alert name", "alertname", "alerts", "alert rule", "rule", "alert id"}


_GENERIC_TITLES = (
    "response steps",
    "steps",
    "procedure",
    "actions",
    "runbook",
    "what to do",
    "playbook",
    "response",
    "example commands",
    "commands",
    "notes",
    "procedures",
)


_PHASE_KEYWORDS: list[tuple[Phase, tuple[str, ...]]] = [
    ("escalate", ("escalat", "paging", "page on-call", "page the", "who to call")),
    ("other", ("communicat", "status page", "announce")),
    (
        "prevent",
        (
            "prevent",
            "long-term",
            "long term",
            "follow-up",
            "follow up",
            "post-mortem",
            "postmortem",
            "post-incident",
            "lessons",
            "avoid",
            "harden",
        ),
    ),
    ("verify", ("verif", "validat", "confirm", "smoke test", "post-check")),
    (
        "remediate",
        (
            "remediat",
            "mitigat",
            "resolution",
            "resolv",
            "fix",
            "repair",
            "recover",
            "restart",
            "rollback",
            "roll back",
            "workaround",
            "restore",
            "cleanup",
            "clean up",
            "clean",
            "scale",
            "kill",
            "increase",
            "reduce",
            "block",
            "enable",
            "disable",
            "emergency",
            "rebuild",
            "expand",
            "failover",
            "intervention",
            "terminate",
            "flush",
            "clear",
            "apply",
            "rotate",
            "optimi",
            "upgrade",
            "reset",
            "remove",
            "free up",
            "unblock",
            "drain",
            "delete",
            "re-run",
            "rerun",
            "roll it back",
            "revert",
            "failover",
            "fail over",
            "purge",
        ),
    ),
    (
        "diagnose",
        (
            "diagnos",
            "investigat",
            "troubleshoot",
            "triage",
            "identify",
            "check",
            "debug",
            "analy",
            "inspect",
            "review",
            "immediate action",
            "detect",
            "find",
            "look",
            "query",
            "queries",
            "determine",
            "assess",
            "examine",
            "root cause",
            "common cause",
            "common issue",
            "what to check",
            "logs",
            "monitor",
            "first response",
            "initial response",
            "status",
            "gather",
            "collect",
            "fetch",
            "get the",
            "view",
            "observe",
            "measure",
        ),
    ),
]


STOP_NAMES = {
    "runbook",
    "runbooks",
    "alerts",
    "alert",
    "overview",
    "index",
    "readme",
    "introduction",
    "contents",
    "summary",
    "impact",
    "meaning",
    "diagnosis",
    "mitigation",
    "symptoms",
    "remediation",
    "investigation",
    "resolution",
    "prevention",
    "escalation",
    "description",
    "tools",
    "contacts",
    "configuration",
    "email",
    "slack",
    "pagerduty",
    "references",
    "resources",
    "appendix",
    "glossary",
    "changelog",
    "notes",
    "example",
    "examples",
    "testing",
    "purpose",
    "audience",
    "scope",
    "background",
    "dashboard",
    "dashboards",
}


_STRUCTURE_WORDS = (
    "impact",
    "symptom",
    "meaning",
    "diagnos",
    "investigat",
    "remediat",
    "mitigat",
    "resolution",
    "response step",
    "immediate action",
    "threshold",
    "escalat",
    "prevent",
    "description",
    "troubleshoot",
    "fix",
    "verif",
    "runbook",
    "severit",
    "recovery",
    "triage",
)


def severity_heading(title: str) -> str | None:
    """The severity a heading over a group of alerts gives them: ``Emergency-level alerts``,
    ``Critical Alerts``, ``P1 alerts``, ``Warning``. None for any other heading."""
    words = re.sub(r"[-–—:]", " ", norm(title)).split()
    generic = ("alert", "alerts", "level", "levels", "severity", "rules")
    kept = [w for w in words if w not in generic]
    text = " ".join(kept)
    return text if kept and len(kept) <= 3 and is_severity_word(text) else None


def accept_valued_label(label: str, rest: str) -> bool:
    """A bold line that opens an alert of its own though it carries a value: a rule name and a
    severity (``**QueueBacklogHigh** — warning``, ``**DiskFull**: critical``)."""
    value = rest.strip(" -–—:()[]")
    return is_camel_identifier(label) and bool(value) and is_severity_word(value)


def norm(title: str) -> str:
    title = title[:300]
    title = re.sub(r"^\s*(step\s+)?\d+(\.\d+)*[.):]?\s+", "", title, flags=re.I)
    title = re.sub(r"^\s*(?:[a-h]|i{1,3}|iv|vi{0,3})[.)]\s+", "", title, flags=re.I)
    title = re.sub(r"\s*\([^)]*\)\s*$", "", title)
    return clean_spaces(title.strip(" :*-–")).lower()


def phase_of(title: str, step: bool = False) -> Phase | None:
    """Phase a heading names (``Detailed Troubleshooting`` -> diagnose); None when the title
    is generic (``Response Steps``) or conditional (``If restart doesn't help``). The keyword
    that comes first decides (``Identify blocking queries`` is a diagnosis). A step's own
    title (``step=True``) is read after its condition: ``If the deploy is bad, roll back``
    -> remediate."""
    lowered = norm(title)
    if step:
        lowered = re.sub(r"^(if|when|once|after)\b(?! to\b)[^,:]*[,:]\s*", "", lowered)
        lowered = re.sub(
            r"^(as a last resort|otherwise|then|finally|optionally)[,:]?\s*", "", lowered
        )
        if re.match(r"^(page|notify|call|contact|escalate|inform|alert)\b", lowered):
            return "escalate"
    if not lowered or re.match(
        r"^(if|when(?! to\b)|option|case|scenario|otherwise|else)\b", lowered
    ):
        return None
    if lowered in _GENERIC_TITLES:
        return None
    best: tuple[int, int, Phase] | None = None
    for rank, (phase, words) in enumerate(_PHASE_KEYWORDS):
        for word in words:
            at = lowered.find(word)
            while at > 0 and lowered[at - 1].isalpha():  # only at the start of a word
                at = lowered.find(word, at + 1)
            if at != -1 and (best is None or (at, rank) < best[:2]):
                best = (at, rank, phase)
    return best[2] if best else None


def accept_plain_label(title: str) -> bool:
    """Which plain one-line paragraphs (``How to fix:``, ``Steps:``, ``What it means:``) open a
    section: the words runbooks use to head their parts."""
    lowered = norm(title)
    if prose_field(title) or lowered in THRESHOLD_FIELDS or lowered in _GENERIC_TITLES:
        return True
    if re.match(r"^(if|when|option|case|scenario|otherwise|else)\b", lowered):
        return False
    return phase_of(title) is not None and len(lowered.split()) <= 4


def prose_field(title: str) -> str | None:
    lowered = norm(title)
    return _PROSE_FIELDS.get(lowered)


def is_structural(title: str) -> bool:
    lowered = norm(title)
    return any(w in lowered for w in _STRUCTURE_WORDS)
