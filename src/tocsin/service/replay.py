"""``tocsin replay`` and the console's replay: the stored history of a window run through a
candidate configuration, side by side with what really happened.

The use case reads the window from the database (``store/history.py``: the alert episodes in
chunks, the real incidents, acknowledgements, silences and overrides), hands the history to a
``Player`` that runs it through the pipeline on a virtual clock over an in-memory database,
reads the candidate's incidents back with the same reader, and compares the two sides with the
pure rules of ``incidents/replay.py``.

The player is ``simulate.replay.play`` (the pipeline of ``tocsin simulate``); a front door
passes it in, because the simulator is a layer below this one (docs/architecture.md): the use
case decides what is read, bounded and compared, the simulator only plays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol

from sqlalchemy import Engine

from tocsin.config import Config
from tocsin.errors import Invalid, TooLarge
from tocsin.incidents import replay as rules
from tocsin.incidents.stats import WorkingHours
from tocsin.service.context import Context
from tocsin.store import history
from tocsin.words import count

MAX_ALERTS = 10_000  # episodes a replay plays unless told otherwise (about 3 min)


@dataclass
class Played:
    """What a player leaves: the simulated database (the caller reads and disposes it), how
    many candidate incidents the real acknowledgements acknowledged, what the pipeline warned
    of, and how many engine passes it took."""

    db: Engine
    acknowledged: int = 0
    warnings: list[str] = field(default_factory=list)
    passes: int = 0  # engine passes the simulation took


class Player(Protocol):
    def __call__(
        self,
        config: Config,
        since: float,
        until: float,
        episodes: Iterable[rules.Episode],
        acknowledgements: Sequence[rules.Acknowledgement],
        shared: rules.Context,
    ) -> Played: ...


def replay(
    ctx: Context,
    candidate: Config,
    since: float,
    until: float,
    play: Player,
    *,
    max_alerts: int = MAX_ALERTS,
    hours: WorkingHours | None = None,
) -> rules.Comparison:
    """Replay the alert episodes that started in ``[since, until)`` through ``candidate`` and
    compare with what happened. ``Invalid`` for a window that cannot be replayed,
    ``TooLarge`` when it holds more than ``max_alerts`` episodes."""
    why = rules.check_window(since, until)
    if why is not None:
        raise Invalid(why)
    if max_alerts < 1:
        raise Invalid("max alerts must be at least 1")
    with ctx.db.connect() as conn:
        held = history.count_episodes(conn, since, until)
        if held > max_alerts:
            raise TooLarge(
                f"the window holds {count(held, 'alert episode')}, more than the "
                f"{count(max_alerts, 'alert')} a replay may play: replay a shorter window "
                "or raise the bound (--max-alerts)"
            )
        real, real_pages = history.outcome_rows(conn, since, until)
        shared = history.context(conn, since, until)
    acks = rules.acknowledgements(real, since, until)
    # no more than were counted: episodes stored since (a server still taking alerts in)
    # start after the count, and the bound holds
    episodes = islice(history.episodes(ctx.db, since, until), held)
    played = play(candidate, since, until, episodes, acks, shared)
    try:
        with played.db.connect() as conn:
            candidate_rows, candidate_pages = history.outcome_rows(conn, since, until)
    finally:
        played.db.dispose()
    zones = {name: user.timezone for name, user in candidate.paging.users.items()}
    for name, user in ctx.config.paging.users.items():
        zones.setdefault(name, user.timezone)
    return rules.compare(
        since,
        until,
        real,
        real_pages,
        candidate_rows,
        candidate_pages,
        zones,
        alerts=held,
        acknowledgements=len(acks),
        acknowledged=played.acknowledged,
        hours=hours,
        warnings=played.warnings,
    )
