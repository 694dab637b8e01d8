"""The executor: runs the queued runbook commands on worker threads, beside the engine's
cycle in every server process (docs/execute.md).

A pass reads the queued runs and those running (in every replica), starts what
``runbooks.gate.startable`` allows (each runner's ``concurrency``, ``execute.per_incident``),
each by a claim (``store.runs.claim``: only one executor starts a run), and runs it on a
thread of its own; the result and its timeline event commit when it ends. When an
incident's last automatic run ends, ``engine.diagnose.follow_up`` sends their output, and
the engine is woken to deliver it.

A run that was running when its process died is never run again (a change must not run
twice unseen): once its runner's timeout and a minute have passed, it is finished with the
error that says so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine

from tocsin import logs, times
from tocsin.clock import Clock
from tocsin.config import Config
from tocsin.config.models import ExecuteConfig
from tocsin.engine.diagnose import follow_up
from tocsin.engine.stage import Settings
from tocsin.errors import Invalid
from tocsin.execute.base import Request, Result, Runner
from tocsin.runbooks.gate import Waiting, given_up_after, stale, startable
from tocsin.store import repo, runs
from tocsin.store.db import begin_write
from tocsin.store.runs import Run

log = logging.getLogger("tocsin.execute")

MAX_WORKERS = 64
IDLE_PASS_S = 5.0  # with no runner configured, how often queued runs are looked for


class Runners(Protocol):
    """The configured runners (``execute.registry``)."""

    def get(self, name: str) -> Runner | None: ...
    def close(self) -> None: ...


Build = Callable[[ExecuteConfig], Runners]


class Executor:
    def __init__(
        self,
        db: Engine,
        settings: Settings,
        clock: Clock,
        owner: str,
        build: Build,
        on_sent: Callable[[], None] = lambda: None,
        poll_s: float = 0.25,
        one_at_a_time: bool = False,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.owner = owner
        self.build = build
        self.on_sent = on_sent  # a follow-up went to the outbox: the engine delivers it
        self.poll_s = poll_s
        # runs one after the other (``tocsin simulate``: its one in-memory connection is
        # shared by every thread, so two transactions at once would be one)
        self.one_at_a_time = one_at_a_time
        self.wake = asyncio.Event()
        self._config: Config | None = None
        self._runners: Runners | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._idle_pass = -math.inf
        self._pool = concurrent.futures.ThreadPoolExecutor(MAX_WORKERS, "tocsin-run")

    def runners(self) -> Runners:
        """The runners of the configuration in force (built again after a reload)."""
        config = self.settings.config
        if self._runners is None or config is not self._config:
            try:
                built = self.build(config.model.execute)
            except Invalid as exc:  # a reload with a runner that cannot be used
                if self._runners is None:
                    raise
                log.error("the runners of the configuration in force are kept: %s", exc)
                self._config = config
                return self._runners
            if self._runners is not None:
                self._runners.close()
            self._runners, self._config = built, config
        return self._runners

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.pass_once()
            except Exception:  # a pass that failed is tried again at the next
                log.exception("the executor's pass failed")
            self.wake.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(waits, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
        await self.aclose()

    async def aclose(self) -> None:
        """Wait for the runs under way (each ends by its runner's timeout), then let go."""
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._pool.shutdown(wait=False)
        if self._runners is not None:
            self._runners.close()

    async def drain(self) -> int:
        """Passes until nothing more starts and nothing runs (``tocsin simulate``, tests):
        how many runs started."""
        started = 0
        while True:
            now_started = await self.pass_once()
            started += now_started
            if self._tasks:
                await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
            elif not now_started:
                return started

    async def pass_once(self) -> int:
        """Start what may start now; end the runs a dead process left. How many started."""
        if not self.settings.config.model.execute.runners and not self._tasks:
            # no runner now: what was queued before a reload removed them is ended (below)
            # by a pass every few seconds, not every wake
            if time.monotonic() - self._idle_pass < IDLE_PASS_S:
                return 0
            self._idle_pass = time.monotonic()
        queued, running = await asyncio.to_thread(self._read)
        await asyncio.to_thread(self._end_stale, running)
        execute = self.settings.config.model.execute
        limits = {r.name: r.concurrency for r in execute.runners}
        waiting = [Waiting(r.id, r.incident_id, r.runner or "") for r in queued]
        busy = [Waiting(r.id, r.incident_id, r.runner or "") for r in running]
        allowed = startable(waiting, busy, limits, execute.per_incident)
        if self.one_at_a_time:
            allowed = allowed[: 0 if self._tasks else 1]
        chosen = {w.id for w in allowed}
        started = 0
        for run in queued:
            if run.id in chosen and run.id not in self._tasks:
                task = asyncio.create_task(self._start(run))
                self._tasks[run.id] = task
                task.add_done_callback(self._done)
                started += 1
        return started

    def _done(self, task: asyncio.Task[None]) -> None:
        for run_id, running in list(self._tasks.items()):
            if running is task:
                del self._tasks[run_id]
        self.wake.set()  # a run ended: one that waited for its place may start

    def _read(self) -> tuple[list[Run], list[Run]]:
        with self.db.connect() as conn:
            return runs.with_status(conn, "queued"), runs.with_status(conn, "running")

    def _end_stale(self, running: list[Run]) -> None:
        now = self.clock.now()
        limits = {
            r.name: times.parse_duration(r.timeout)
            for r in self.settings.config.model.execute.runners
        }
        longest = max(limits.values(), default=0.0)
        for run in running:
            if run.id in self._tasks or run.started_at is None:
                continue
            if not stale(run.started_at, limits.get(run.runner or "", longest), now):
                continue
            try:
                self._record(
                    run,
                    Result(
                        "error",
                        "",
                        error="the process running it stopped before it ended; it was not "
                        "run again",
                    ),
                )
            except Exception:  # one that cannot be recorded does not stop the others
                log.exception("a stale run could not be ended", extra=logs.fields(run=run.id))

    async def _start(self, run: Run) -> None:
        try:
            await self._start_run(run)
        except Exception:  # claimed but not recorded: ended later as stale, with why
            log.exception("a run failed to start", extra=logs.fields(run=run.id))

    async def _start_run(self, run: Run) -> None:
        runner = self.runners().get(run.runner or "")
        request = Request(
            text=run.command,
            language=run.language,
            params=run.params,
            labels=run.labels,
            read_only=run.risk == "read",
        )
        target = runner.target(request) if runner is not None else ""
        claimed = await asyncio.to_thread(self._claim, run, target)
        if not claimed:
            return
        if runner is None:
            result = Result("error", "", error=f"runner {run.runner!r} is not configured now")
        elif target.startswith("error:"):
            result = Result("error", "", target=target, error=target.removeprefix("error:").strip())
        else:
            result = await self._run(runner, request, run)
        log.info(
            "run finished",
            extra=logs.fields(
                incident=run.incident_id,
                run=run.id,
                step=run.step,
                runner=run.runner,
                result=result.status,
                exit_code=result.exit_code,
                duration_s=round(result.duration_s, 3),
            ),
        )
        try:
            await asyncio.to_thread(self._record, run, result)
        except Exception:  # ended later as stale, with the error that says so
            log.exception("a run's result could not be recorded", extra=logs.fields(run=run.id))

    async def _run(self, runner: Runner, request: Request, run: Run) -> Result:
        """The runner's result; a runner that does not come back within twice its timeout
        (a network that stalls below its own bounds) ends the run as timed out, and its
        thread is left to finish on its own."""
        loop = asyncio.get_running_loop()
        runners = self.settings.config.model.execute.runners
        limit = next(
            (times.parse_duration(r.timeout) for r in runners if r.name == run.runner), 30.0
        )
        started = loop.time()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._pool, runner.run, request), given_up_after(limit)
            )
        except TimeoutError:
            return Result(
                "timeout",
                "",
                duration_s=loop.time() - started,
                error=f"the runner did not come back within {given_up_after(limit):g} s",
            )
        except Exception as exc:  # a runner never raises; if one does, the run says so
            return Result("error", "", error=f"{type(exc).__name__}: {exc}"[:500])

    def _claim(self, run: Run, target: str) -> bool:
        with begin_write(self.db) as conn:
            return runs.claim(conn, run, self.owner, target, self.clock.now())

    def _record(self, run: Run, result: Result) -> None:
        with begin_write(self.db) as conn:
            # runs of one incident end one after the other: the last to end sees the others
            # ended, and sends the follow-up (PostgreSQL; SQLite's writes are one at a time)
            repo.lock_incidents(conn, [run.incident_id])
            current = runs.get(conn, run.id)
            if current is None or current.status != "running":
                return
            runs.finish(
                conn,
                current,
                result=result.status,
                output=result.output,
                exit_code=result.exit_code,
                truncated=result.truncated,
                error=result.error,
                now=self.clock.now(),
            )
            sent = run.automatic and follow_up(
                self.settings, conn, run.incident_id, self.clock.now()
            )
        if sent:
            self.on_sent()
