"""The runners of ``tocsin simulate``: the configured runners by name, none of which runs
anything. A run the scenario's incidents start (``auto_diagnose``) ends at once with the
result ``stubbed`` and an output that says it was not run, so the table shows which
diagnostics would run, on which runner, and when, and nothing pretends to be their output."""

from __future__ import annotations

from tocsin.config.models import ExecuteConfig
from tocsin.execute.base import Request, Result


class StubRunner:
    kind = "stub"

    def __init__(self, name: str, runs_as: str) -> None:
        self.name = name
        self.runs_as = runs_as  # the configured runner's type

    def serves(self, language: str, text: str) -> bool:
        return True

    def target(self, request: Request) -> str:
        return f"{self.runs_as} runner {self.name} (stubbed)"

    def close(self) -> None:
        """Nothing to let go."""

    def run(self, request: Request) -> Result:
        return Result(
            "stubbed",
            f"(stubbed: tocsin simulate runs no command; the {self.runs_as} runner "
            f"{self.name!r} would run this)\n",
            target=self.target(request),
        )


class StubRunners:
    def __init__(self, execute: ExecuteConfig) -> None:
        self.runners = {r.name: StubRunner(r.name, r.type) for r in execute.runners}

    def get(self, name: str) -> StubRunner | None:
        return self.runners.get(name)

    def close(self) -> None:
        """Nothing to let go."""
