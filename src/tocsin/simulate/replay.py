"""The player of ``tocsin replay``: stored history played through the pipeline of ``tocsin
simulate``, on its virtual clock over an in-memory database, with its simulated channels.

It is the simulation's runner (``run._Runner``) fed with the history instead of a scenario's
events, read as it goes (``events``): each stored episode is posted again at its start as the
Alertmanager API takes it, and resolved at its end when it ended in the window (the exact
alert, by its labels, not every alert that has them). The real acknowledgements come at their
real times: each acknowledges the candidate's triggered incidents that hold an alert of the
incident it acknowledged (``_acknowledge``). The silences and overrides in force in the window
are copied in first: a replay changes the configuration, not what people did.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from tocsin import times
from tocsin.config import Config
from tocsin.incidents.replay import Acknowledgement, Context, Episode
from tocsin.service.replay import Played
from tocsin.simulate.run import MAX_STEPS, _Collect, _Runner
from tocsin.simulate.scenario import (
    Event,
    IncidentRef,
    Scenario,
    ScenarioError,
    ScenarioModel,
    Step,
)
from tocsin.store import outbox, repo
from tocsin.store.db import begin_write

SOURCE = "replay"  # the scenario's name in messages
# an episode that ended where it started (stored so) is resolved this long after its start:
# a resolve in the same batch as its fire would find nothing firing yet
MIN_EPISODE_S = 0.001
# engine passes an alert may take (a flush, a trigger, escalation steps, deliveries, its end:
# about 7 in bench/replay.py), beyond the simulation's own bound
PASSES_PER_ALERT = 50
_PROBLEM = re.compile(r"[^:]*: events\[(\d+)\]\.fire: (?:alert \d+: )?(.*)", re.DOTALL)


def _scenario(since: float, until: float) -> Scenario:
    model = ScenarioModel.model_construct(
        description="replay",
        config=None,
        config_inline={},
        start=times.to_dt(since),
        until=until - since,
        seed=None,
        channels={},
        events=[],
    )
    return Scenario(SOURCE, Path("."), model, since, until, ())


class _Replay(_Runner):
    """The simulation's runner over stored history."""

    def __init__(
        self,
        config: Config,
        since: float,
        until: float,
        episodes: Iterable[Episode],
        acknowledgements: Sequence[Acknowledgement],
        max_steps: int,
    ) -> None:
        super().__init__(_scenario(since, until), config, max_steps)
        self.episodes = episodes
        self.acknowledgements = list(acknowledgements)
        self.acknowledged = 0
        self.pending: dict[int, Acknowledgement] = {}  # an acknowledgement's step, by index
        self.origin: dict[int, Episode] = {}  # a fire's episode, by index, until posted

    def share(self, shared: Context) -> None:
        """Copy the silences and overrides people made into the simulated database."""
        now = self.clock.now()
        with begin_write(self.db) as conn:
            for silence in shared.silences:
                repo.save_silence(conn, silence)
            for made in shared.overrides:
                outbox.add_override(conn, made.override, made.created_by, now, made.reason)

    def events(self) -> Iterator[Step]:
        """Fires at each episode's start, resolves at its end (when in the window) and the
        real acknowledgements, merged in time order (at one moment: resolves, then fires, then
        acknowledgements), holding only the alerts still firing."""
        until = self.scenario.end
        ends: list[tuple[float, int, dict[str, str]]] = []  # a heap of resolves to come
        acks = iter(self.acknowledgements)
        ack = next(acks, None)
        index = 0

        def before(at: float, last: bool) -> Iterator[Step]:
            """What comes before a fire at ``at``: resolves up to it, acknowledgements before
            it (``last``: everything up to ``at``)."""
            nonlocal ack, index
            while True:
                end_at = ends[0][0] if ends else None
                ack_at = ack.at if ack is not None else None
                if end_at is not None and end_at <= at and (ack_at is None or end_at <= ack_at):
                    _at, _seq, labels = heapq.heappop(ends)
                    index += 1
                    yield Step(end_at, index, Event(at=end_at, resolve=labels))
                elif (
                    ack is not None
                    and ack_at is not None
                    and (ack_at < at or (last and ack_at <= at))
                ):
                    index += 1
                    self.pending[index] = ack
                    ref = IncidentRef(incident=ack.incident, by=ack.by)
                    yield Step(ack_at, index, Event(at=ack_at, ack=ref))
                    ack = next(acks, None)
                else:
                    return

        for episode in self.episodes:
            self.max_steps += PASSES_PER_ALERT  # the bound on engine passes follows the window
            start = episode.starts_at
            yield from before(start, last=False)
            labels = dict(episode.labels)
            index += 1
            self.origin[index] = episode
            yield Step(
                start,
                index,
                Event(at=start, fire=labels, annotations=dict(episode.annotations) or None),
            )
            if episode.ends_at < until:
                end = max(episode.ends_at, start + MIN_EPISODE_S)
                heapq.heappush(ends, (end, episode.id, labels))
        yield from before(until, last=True)

    def resolving(self, selector: dict[str, str]) -> list[tuple[dict[str, str], datetime]]:
        """The one alert whose labels these are: a replayed resolve ends that episode only."""
        return [(labels, since) for labels, since in self.firing.values() if labels == selector]

    def _post(self, batch: list[Step], now: float) -> None:
        """Post as the simulation does; an alert the candidate's limits refuse is named by
        its stored episode, not by a scenario's event."""
        try:
            super()._post(batch, now)
        except ScenarioError as exc:
            raise ScenarioError([self._refused(problem) for problem in exc.problems]) from None
        finally:
            for step in batch:
                self.origin.pop(step.index, None)

    def _refused(self, problem: str) -> str:
        """A problem with a posted event (``replay: events[3].fire: alert 0: ...``) said of
        the stored episode it came from."""
        found = _PROBLEM.match(problem)
        episode = self.origin.get(int(found.group(1))) if found else None
        if found is None or episode is None:
            return problem
        started = times.to_dt(episode.starts_at).isoformat().replace("+00:00", "Z")
        return (
            f"{SOURCE}: the candidate's limits refuse the stored alert {dict(episode.labels)} "
            f"(episode {episode.id}, started {started}): {found.group(2)}"
        )

    def _apply(self, batch: list[Step]) -> None:
        ack = self.pending.pop(batch[0].index, None)
        if ack is None:
            super()._apply(batch)
            return
        self._acknowledge(ack)

    def _acknowledge(self, ack: Acknowledgement) -> None:
        """A real acknowledgement: every candidate incident still triggered that holds one of
        the alerts of the incident it acknowledged is acknowledged by the same person."""
        now = self.clock.now()
        with begin_write(self.db) as conn:
            held = sorted({i for fp in ack.fingerprints for i in repo.incidents_of(conn, fp)})
            for incident_id in held:
                incident = repo.get_incident(conn, incident_id)
                if incident is None or incident.status != "triggered":
                    continue
                detail = {"replayed_from": ack.incident}
                if self.engine.pager.acknowledge(conn, incident_id, ack.by, now, detail) is None:
                    self.acknowledged += 1


def play(
    config: Config,
    since: float,
    until: float,
    episodes: Iterable[Episode],
    acknowledgements: Sequence[Acknowledgement],
    shared: Context,
    max_steps: int = MAX_STEPS,
    *,
    quiet: bool = True,
) -> Played:
    """Play the history through ``config`` (``service.replay.Player``). The caller reads the
    simulated database it returns and disposes of it. Raises ``ScenarioError`` for an alert
    the candidate's limits refuse, ``SimulationError`` for a runaway.

    The pipeline's warnings are kept for the comparison. ``quiet`` (the command) keeps them
    out of the log as ``tocsin simulate`` does; in a server (the console) the log stays the
    server's, and what this thread logs is kept as well as logged."""
    runner = _Replay(config, since, until, episodes, acknowledgements, max_steps)
    collect = _Collect()
    logger = logging.getLogger("tocsin")
    propagate = logger.propagate
    if not quiet:
        mine = threading.get_ident()
        collect.addFilter(lambda record: record.thread == mine)
    logger.addHandler(collect)
    if quiet:
        logger.propagate = False  # the pipeline's warnings belong in the comparison
    try:
        runner.share(shared)
        asyncio.run(runner.run())
    except BaseException:
        runner.db.dispose()
        raise
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
    return Played(runner.db, runner.acknowledged, list(dict.fromkeys(collect.lines)), runner.steps)
