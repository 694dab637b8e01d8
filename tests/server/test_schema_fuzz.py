"""Schemathesis against the OpenAPI schema of a real ``tocsin serve``: whatever the schema
admits (and what it does not), no request gets a 5xx. On SQLite and on PostgreSQL, whose
integers and text have limits SQLite lacks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.server.conftest import CONFIG, postgres_database
from tests.server.test_real_clients import Server, tocsin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            db_args = ["--data-dir", str(tmp / "data")]
        else:
            db_args = ["--database-url", stack.enter_context(postgres_database("tocsin_fuzz"))]
        config = tmp / "tocsin.yaml"
        config.write_text(CONFIG)
        created = tocsin("tokens", "create", "--role", "admin", *db_args)
        token = created.stdout.strip().splitlines()[-1]
        server = Server.serving(config, token, tmp, db_args, log_level="error")
        server.start()
        stack.callback(server.kill)
        # something to find: an incident, so that /incidents/{id} paths have a live target
        fuzz = [{"labels": {"alertname": "Fuzz", "severity": "critical"}}]
        server.request("POST", "/api/v2/alerts", fuzz)
        yield server


def test_no_server_errors(live: Server) -> None:
    """Every operation, up to 25 generated requests each (the schemathesis pytest plugin
    does not run under this pytest, so the operations are driven by hand)."""
    headers = {"Authorization": f"Bearer {live.token}"}  # the description needs one too
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", headers=headers)
    failures: list[str] = []
    operations = 0
    # an invalid schema fails in ok(); revoking tokens may revoke the fuzzer's own: last
    found = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    found.sort(key=lambda op: op.method.upper() == "DELETE" and "/tokens/" in op.path)
    for operation in found:
        operations += 1

        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(base_url=live.url, headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200}"
                    f" -> {response.status_code}: {response.text[:300]}"
                )

        run()
    assert operations >= 20
    assert failures == [], "\n".join(failures)
