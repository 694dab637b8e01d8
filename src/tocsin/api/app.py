"""The ASGI application: routes, the writer thread and the engine loop of this process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from sqlalchemy import text

from tocsin import __version__
from tocsin.api import (
    alertmanager,
    errors,
    intake,
    metrics,
    native,
    paging,
    reports,
    runbooks,
    tokens,
)
from tocsin.api import contacts as contacts_api
from tocsin.api import heartbeats as heartbeats_api
from tocsin.api import maintenance as maintenance_api
from tocsin.api import pagerduty as pagerduty_api
from tocsin.api import postmortem as postmortem_api
from tocsin.api import runs as runs_api
from tocsin.api import share as share_api
from tocsin.api import slack as slack_api
from tocsin.api import sms as sms_api
from tocsin.api import updates as status_updates
from tocsin.api.auth import require
from tocsin.api.state import AppState, EngineFlush
from tocsin.config import ConfigError
from tocsin.engine.executor import Executor
from tocsin.engine.loop import DueWorkEngine
from tocsin.execute.registry import build_runners
from tocsin.intake.process import WriterProcess, WriterSpec
from tocsin.intake.writer import AlertWriter
from tocsin.store.db import Checkpointer

log = logging.getLogger("tocsin.api")


def create_app(
    state: AppState, run_engine: bool = True, writer_process: bool = False, **engine_options: Any
) -> FastAPI:
    """The application over ``state``. With ``run_engine`` the process also runs its due-work
    loop (every replica does; they share the work through leases). With ``writer_process``
    (``tocsin serve``; it needs ``state.config_path``) the intake's database work runs in a
    process of its own (``intake.process``), else in a thread of this one."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.started_at = state.clock.now()
        engine = DueWorkEngine(
            state.db, state.config, state.clock, catalog=state.catalog, **engine_options
        )
        state.engine = engine
        engine.deliverer.metrics = app.state.metrics
        loop = asyncio.get_running_loop()

        def wake_engine(due_at: float) -> None:
            if engine.sleeps_past(due_at):
                loop.call_soon_threadsafe(engine.wake.set)
            if engine.executor is not None:  # a trigger at intake may have queued diagnostics
                loop.call_soon_threadsafe(engine.executor.wake.set)

        sending: set[asyncio.Task[int]] = set()

        def executor_wake() -> None:
            if engine.executor is not None:
                engine.executor.wake.set()

        def send_now(
            created: list[Any],
            committed: concurrent.futures.Future[bool] | asyncio.Future[bool],
        ) -> None:
            """Deliveries made in the intake's transaction, sent once its commit held."""

            def start() -> None:
                outcome = asyncio.wrap_future(committed, loop=loop)  # asyncio's as it is
                if engine.executor is not None:  # a trigger's diagnostics, once committed
                    outcome.add_done_callback(lambda _done: executor_wake())
                task = loop.create_task(engine.deliverer.send(created, outcome))
                sending.add(task)
                task.add_done_callback(sending.discard)

            if isinstance(committed, asyncio.Future):  # the writer process's, in this loop
                start()
            else:  # the writer thread's
                loop.call_soon_threadsafe(start)

        writer: AlertWriter | WriterProcess
        if writer_process:
            assert state.config_path is not None, "the writer process loads the config file"
            from tocsin.logs import current_format

            spec = WriterSpec(
                config_path=state.config_path,
                database_url=state.db.url.render_as_string(hide_password=False),
                owner=engine.owner,
                flush=EngineFlush if run_engine else None,  # a running engine flushes at intake
                log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
                log_format=current_format(),  # the writer process logs as this one
            )
            writer = WriterProcess(
                spec,
                lambda: state.config.route,
                state.clock,
                on_commit=wake_engine,
                on_created=send_now,
                metrics=app.state.metrics,
            )
            await writer.start()
        else:
            writer = AlertWriter(
                state.db,
                lambda: state.config.route,
                state.clock,
                on_commit=wake_engine,
                # a running engine flushes new groups in the intake's own transaction
                after_store=engine.flush_inline if run_engine else None,
                on_created=send_now,
                metrics=app.state.metrics,
            )
        state.writer = writer
        checkpointer = Checkpointer(state.db).start()  # SQLite: not in the commits' time
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run_forever(stop)) if run_engine else None
        running = None
        if run_engine:  # runbook commands run where the engine runs (engine/executor.py)
            engine.executor = Executor(
                state.db,
                engine.pager,
                state.clock,
                engine.owner,
                build_runners,
                on_sent=lambda: wake_engine(0.0),
            )
            running = asyncio.create_task(engine.executor.run_forever(stop))
        if state.config.model.api.anonymous_intake:
            log.warning(
                "anonymous intake is enabled: anyone who reaches this server can post alerts"
            )
        try:
            yield
        finally:
            await writer.aclose()  # no more intake, nor flushes at intake
            await asyncio.sleep(0)  # the sends its last commits scheduled have started
            if sending:
                await asyncio.gather(*sending, return_exceptions=True)
            stop.set()
            engine.wake.set()
            if task is not None:
                await task
            if running is not None:
                await running
            else:
                await engine.deliverer.close()
            checkpointer.stop()

    app = FastAPI(
        title="tocsin",
        version=__version__,
        lifespan=lifespan,
        description="Runbook-driven alert response. Alertmanager-compatible "
        "`/api/v2`, other intakes, and the native `/api/v1`.",
        openapi_url=None,  # served below: behind a token unless api.public_docs
        docs_url=None,
        redoc_url=None,
    )
    app.state.tocsin = state
    app.state.metrics = metrics.install(state)  # this app's own registry
    app.include_router(alertmanager.router, tags=["alertmanager v2"])
    app.include_router(intake.router, tags=["intake"])
    app.include_router(native.router, tags=["incidents"])
    app.include_router(paging.router, tags=["paging"])
    app.include_router(maintenance_api.router, tags=["maintenance"])
    app.include_router(status_updates.router, tags=["status updates"])
    app.include_router(runs_api.router, tags=["runs"])
    app.include_router(postmortem_api.router, tags=["postmortems"])
    app.include_router(reports.router, tags=["reports"])
    app.include_router(runbooks.router, tags=["runbooks"])
    app.include_router(metrics.router, tags=["metrics"])
    app.include_router(tokens.router, tags=["tokens"])
    app.include_router(pagerduty_api.router, tags=["pagerduty"])
    app.include_router(slack_api.router, tags=["slack"])
    app.include_router(contacts_api.router, tags=["contact methods"])
    app.include_router(heartbeats_api.router, tags=["heartbeats"])

    def docs_reader(request: Request) -> None:
        """The API's description is public only where ``api.public_docs`` says so; else any
        token that may read (a browser asks for it: HTTP basic, the token as password)."""
        if not state.config.model.api.public_docs:
            require(request, "read")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Response:
        docs_reader(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> Response:
        docs_reader(request)
        page: HTMLResponse = get_swagger_ui_html(openapi_url="/openapi.json", title="tocsin")
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> Response:
        docs_reader(request)
        page: HTMLResponse = get_redoc_html(openapi_url="/openapi.json", title="tocsin")
        return page

    app.include_router(share_api.router, tags=["links"])
    app.include_router(sms_api.router, tags=["sms"])

    @app.get("/-/healthy", include_in_schema=False)
    async def healthy() -> Response:
        return PlainTextResponse("OK")

    @app.get("/-/ready", include_in_schema=False)
    async def ready() -> Response:
        try:
            with state.db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # the database is what makes this process ready
            return PlainTextResponse(f"database unavailable: {exc}", status_code=503)
        return PlainTextResponse("OK")

    @app.api_route("/-/reload", methods=["POST", "PUT"], include_in_schema=False)
    async def reload(request: Request) -> Response:
        require(request, "admin")
        try:
            state.reload()
        except ConfigError as exc:
            return PlainTextResponse(f"failed to reload config: {exc}", status_code=500)
        return PlainTextResponse("OK")

    errors.install(app)
    app.add_middleware(errors.BodyLimit)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse(status_code=500, content="internal error; see the server log")

    return app
