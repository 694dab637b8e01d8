"""The runbook catalog: what tocsin knows from the runbooks a team wrote.

Plain values (pydantic models, no behaviour beyond derived properties). The JSON export is
``Catalog.model_dump(mode="json")``; its field names are a public contract (docs/runbooks.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Risk = Literal["read", "change", "destructive"]
Phase = Literal["diagnose", "remediate", "verify", "prevent", "escalate", "other"]
Level = Literal["error", "warning"]
PHASES: tuple[Phase, ...] = ("diagnose", "remediate", "verify", "prevent", "escalate", "other")
RISK_ORDER: dict[str, int] = {"read": 0, "change": 1, "destructive": 2}


class Command(BaseModel):
    language: str
    code: str
    risk: Risk
    risk_reason: str = ""
    placeholders: list[str] = Field(default_factory=list)
    line: int
    inline: bool = False  # from an inline code span rather than a code block


class Step(BaseModel):
    phase: Phase
    title: str
    text: str
    commands: list[Command] = Field(default_factory=list)
    line: int = 0


class EscalationTier(BaseModel):
    after_s: int | None
    target: str
    text: str


class SeverityVariant(BaseModel):
    """Guidance a runbook gives for one severity of the alert (``## Critical`` / ``## Warning``)."""

    severity: str
    title: str
    text: str
    line: int


class Alert(BaseModel):
    name: str
    title: str
    severity: str | None = None
    severity_raw: str | None = None
    threshold: str | None = None
    expr: str | None = None
    for_s: int | None = None
    line: int
    summary: str | None = None
    impact: str | None = None
    symptoms: str | None = None
    meaning: str | None = None
    shares_section_with: list[str] = Field(default_factory=list)
    severity_variants: list[SeverityVariant] = Field(default_factory=list)
    escalation: list[EscalationTier] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)

    def phase_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(PHASES, 0)
        for step in self.steps:
            counts[step.phase] += 1
        return counts

    def commands(self) -> list[Command]:
        return [c for s in self.steps for c in s.commands]


class SeverityLevel(BaseModel):
    name: str
    level: str | None
    response_time_s: int | None
    description: str = ""
    escalation_path: list[str] = Field(default_factory=list)


class Template(BaseModel):
    name: str
    text: str
    alert: str | None = None
    line: int = 0


class Channel(BaseModel):
    kind: Literal["slack", "email", "pagerduty", "phone"]
    name: str
    text: str = ""
    severity: str | None = None


class Contact(BaseModel):
    name: str
    kind: Literal["slack", "email", "phone", "pagerduty", "other"]
    value: str


class Metadata(BaseModel):
    last_updated: str | None = None
    last_updated_date: str | None = None  # ISO date when last_updated could be read
    review_cycle: str | None = None
    review_cycle_days: int | None = None
    owner: str | None = None
    version: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)


class Runbook(BaseModel):
    source: str
    title: str
    metadata: Metadata = Field(default_factory=Metadata)
    severity_levels: list[SeverityLevel] = Field(default_factory=list)
    escalation: list[EscalationTier] = Field(default_factory=list)
    templates: list[Template] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)


class Problem(BaseModel):
    source: str
    line: int | None
    level: Level
    code: str
    message: str
    alert: str | None = None


class Catalog(BaseModel):
    runbooks: list[Runbook] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)

    def alerts(self) -> list[tuple[Runbook, Alert]]:
        return [(rb, a) for rb in self.runbooks for a in rb.alerts]

    def find(self, name: str) -> list[tuple[Runbook, Alert]]:
        """Alerts by name; exact match first, then case-insensitive."""
        exact = [(rb, a) for rb, a in self.alerts() if a.name == name]
        if exact:
            return exact
        return [(rb, a) for rb, a in self.alerts() if a.name.lower() == name.lower()]

    @property
    def has_errors(self) -> bool:
        return any(p.level == "error" for p in self.problems)
