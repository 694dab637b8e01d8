"""The player of ``tocsin replay`` (``simulate/replay.py``) without a stored history: it reads
the episodes as it plays them, never ahead (memory follows the alerts still firing, not the
window), and resolves exactly the alert whose episode ended."""

from __future__ import annotations

from collections.abc import Iterator
from textwrap import dedent

import pytest
from sqlalchemy import func, select

from tocsin.config import parse_config
from tocsin.incidents.replay import Context, Episode
from tocsin.simulate import ScenarioError, replay
from tocsin.store.schema import incidents

START = 1_800_000_000.0
CONFIG = dedent(
    """
    route:
      receiver: default
      group_by: [alertname, instance]
      group_wait: 0s
      group_interval: 1m
    receivers: [{name: default}]
    """
)


def test_episodes_are_pulled_as_they_are_played(monkeypatch: pytest.MonkeyPatch) -> None:
    pulled = 0
    at_post: list[int] = []

    def history() -> Iterator[Episode]:
        nonlocal pulled
        for i in range(40):
            pulled += 1
            labels = {"alertname": "Load", "instance": f"host{i}"}
            yield Episode(i, f"{i:016x}", labels, {}, START + 60 * i, START + 60 * i + 30)

    post = replay._Replay._post

    def counting(self: replay._Replay, batch: list, now: float) -> None:  # type: ignore[type-arg]
        at_post.append(pulled)
        post(self, batch, now)

    monkeypatch.setattr(replay._Replay, "_post", counting)
    played = replay.play(parse_config(CONFIG), START, START + 3600, history(), [], Context())
    try:
        with played.db.connect() as conn:
            opened = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
            open_now = conn.execute(
                select(func.count()).select_from(incidents).where(incidents.c.status != "resolved")
            ).scalar_one()
    finally:
        played.db.dispose()
    assert (opened, open_now) == (40, 0)  # each resolved by its own episode's end
    # 40 fires and 40 resolves, posted in time order; when each is posted, at most the next
    # episode has been read (the batch of one moment ends at the next event)
    assert len(at_post) == 80
    fires = at_post[0::2]
    assert all(n <= i + 2 for i, n in enumerate(fires)), fires


def test_a_resolve_ends_only_the_alert_whose_episode_ended() -> None:
    wide = {"alertname": "Load"}
    narrow = {"alertname": "Load", "instance": "host1"}  # has every label of ``wide``
    episodes = [
        Episode(1, "a" * 16, wide, {}, START, START + 60),
        Episode(2, "b" * 16, narrow, {}, START + 1, START + 7200),  # beyond the window
    ]
    config = parse_config(CONFIG.replace("[alertname, instance]", "[alertname]"))
    played = replay.play(config, START, START + 3600, iter(episodes), [], Context())
    try:
        with played.db.connect() as conn:
            [status] = conn.execute(select(incidents.c.status)).scalars().all()
    finally:
        played.db.dispose()
    assert status != "resolved"  # host1 still fired after Load{} ended


def test_an_alert_the_candidates_limits_refuse_is_named_by_its_episode() -> None:
    config = parse_config(CONFIG + "limits: {max_labels_per_alert: 2}\n")
    episodes = [
        Episode(1, "a" * 16, {"alertname": "A", "instance": "h"}, {}, START, START + 60),
        Episode(
            9, "b" * 16, {"alertname": "B", "instance": "h", "x": "y"}, {}, START + 5, START + 60
        ),
    ]
    with pytest.raises(ScenarioError) as caught:
        replay.play(config, START, START + 3600, iter(episodes), [], Context())
    assert caught.value.problems == [
        "replay: the candidate's limits refuse the stored alert "
        "{'alertname': 'B', 'instance': 'h', 'x': 'y'} (episode 9, started "
        "2027-01-15T08:00:05Z): 3 labels, more than the 2 allowed"
    ]
