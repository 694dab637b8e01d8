"""``intakes:`` in ``tocsin.yaml``: JSON from other tools read into alerts through a mapping
(``alerts/mapping.py``), each at ``POST /api/v1/intake/{name}`` (docs/sources.md).

An intake starts from a shipped mapping (``mapping: grafana | datadog | cloudwatch | zabbix``)
or from nothing, and its own paths add to or replace the shipped ones. Its expressions are
compiled here, at load: a bad one is a configuration error at its line. An ``sns:`` block
makes the intake an Amazon SNS subscriber: every message's signature is checked, only the
listed topics are taken, and a subscription is confirmed only through SNS's own host.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from tocsin.alerts.mapping import SHIPPED, IntakeMapping, MappingSpec
from tocsin.errors import Invalid
from tocsin.times import parse_duration

# the names of the intakes tocsin itself serves under /api/v1/intake/
RESERVED = frozenset({"alertmanager"})
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")  # "intake:<name>" is an alert's source (32)
_TOPIC = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}")


def _valid_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_valid_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusConfig(_Strict):
    """Where an alert says whether it fires, and which values mean what (without case); any
    other value refuses that alert (HTTP 400)."""

    path: str
    firing: list[str] = Field(default_factory=lambda: ["firing"], min_length=1)
    resolved: list[str] = Field(default_factory=lambda: ["resolved"], min_length=1)


class SnsConfig(_Strict):
    """An Amazon SNS subscription: the topics whose messages are taken (their ARNs), whether a
    subscription confirmation is confirmed, and the hosts that may serve the signing
    certificate and the confirmation (default: ``sns.<region>.amazonaws.com`` of the topic's
    region, over HTTPS; a host given with a scheme, ``http://127.0.0.1:8080``, is that origin
    exactly: for tests)."""

    topics: list[str] = Field(min_length=1)
    confirm: bool = True
    hosts: list[str] | None = None

    @model_validator(mode="after")
    def _arns(self) -> SnsConfig:
        for topic in self.topics:
            if not _TOPIC.fullmatch(topic):
                raise ValueError(f"{topic!r} is not an SNS topic ARN (arn:aws:sns:REGION:ID:NAME)")
        return self


class IntakeConfig(_Strict):
    """One intake: ``POST /api/v1/intake/{name}``."""

    name: str
    mapping: Literal["grafana", "datadog", "cloudwatch", "zabbix"] | None = None
    # a request without a token is taken (as api.anonymous_intake, for this intake alone);
    # an SNS intake needs none: its signature and topic say who sent it
    anonymous: bool = False
    alerts: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    labels_from: str | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    annotations_from: str | None = None
    status: StatusConfig | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    generator_url: str | None = None
    dedup_key: str | None = None
    resolve_timeout: Duration | None = None
    sns: SnsConfig | None = None
    _compiled: IntakeMapping | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile(self) -> IntakeConfig:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"name {self.name!r}: use a-z, 0-9, _ and - (at most 24)")
        if self.name in RESERVED:
            raise ValueError(f"name {self.name!r} is tocsin's own intake; choose another")
        if self.sns is not None and self.anonymous:
            raise ValueError("an SNS intake takes no token already: drop anonymous")
        if self.mapping == "cloudwatch" and self.sns is None:
            raise ValueError("mapping cloudwatch arrives through SNS: give sns.topics")
        try:
            self._compiled = IntakeMapping(self.spec(), f"intakes {self.name!r}")
        except Invalid as exc:
            raise ValueError(exc.message) from None
        return self

    def spec(self) -> MappingSpec:
        """The shipped mapping (if any) with this intake's own paths added and in place."""
        base = SHIPPED[self.mapping] if self.mapping else MappingSpec()
        status = self.status
        return MappingSpec(
            alerts=self.alerts if self.alerts is not None else base.alerts,
            labels={**base.labels, **self.labels},
            labels_from=self.labels_from or base.labels_from,
            annotations={**base.annotations, **self.annotations},
            annotations_from=self.annotations_from or base.annotations_from,
            status=status.path if status else base.status,
            firing=tuple(status.firing) if status else base.firing,
            resolved=tuple(status.resolved) if status else base.resolved,
            starts_at=self.starts_at or base.starts_at,
            ends_at=self.ends_at or base.ends_at,
            generator_url=self.generator_url or base.generator_url,
            dedup_key=self.dedup_key or base.dedup_key,
            resolve_timeout_s=(
                parse_duration(self.resolve_timeout)
                if self.resolve_timeout
                else base.resolve_timeout_s
            ),
        )

    @property
    def parser(self) -> IntakeMapping:
        """The compiled mapping."""
        assert self._compiled is not None
        return self._compiled


def check_unique(intakes: list[IntakeConfig]) -> list[tuple[int, str]]:
    """(index, problem) for each intake whose name an earlier one has."""
    seen: set[str] = set()
    out = []
    for i, intake in enumerate(intakes):
        if intake.name in seen:
            out.append((i, f"another intake is named {intake.name!r}"))
        seen.add(intake.name)
    return out
