"""The groups of a groups read between its passes: in order, each with its alerts in the order
added, whether held in memory or written out in sorted runs."""

from __future__ import annotations

import io
import random

import pytest

from tocsin.routing.places import GROUP_COST, Places
from tocsin.routing.tree import Route

BY_NAME = Route(receiver="r", group_by=("alertname",), key="{}/a")
EVERYTHING = Route(receiver="q", group_by=(), key="{}/b")


@pytest.mark.parametrize("held", [None, 1, GROUP_COST + 2, 10_000])
def test_places_give_the_groups_in_order_with_their_alerts_in_the_order_added(
    held: int | None,
) -> None:
    places = Places(io.BytesIO, held) if held is not None else Places()
    for fp, name in [("0a", "B"), ("0b", "A"), ("0c", "B"), ("1f", "B")]:
        places.add(BY_NAME, {"alertname": name, "instance": fp}, fp)
        places.add(EVERYTHING, {"alertname": name}, fp)
    found = [(route.receiver, list(fps)) for route, fps in places.in_order()]
    assert found == [
        ("q", ["000000000000000a", "000000000000000b", "000000000000000c", "000000000000001f"]),
        ("r", ["000000000000000b"]),
        ("r", ["000000000000000a", "000000000000000c", "000000000000001f"]),
    ]


@pytest.mark.parametrize("seed", range(5))
def test_runs_written_out_give_what_memory_gives(seed: int) -> None:
    """Many alerts over a few hundred groups of two routes: with runs of a few groups each
    written out, the same groups in the same order as all held in memory."""
    chance = random.Random(seed)
    alerts = sorted(
        (f"{chance.getrandbits(64):016x}", f"N{chance.randrange(300)}", f"i{chance.randrange(3)}")
        for _ in range(2_000)
    )
    spilled = Places(io.BytesIO, held=chance.choice([30, 200, 1_000]))
    held = Places()
    for places in (spilled, held):
        for fp, name, instance in alerts:
            places.add(BY_NAME, {"alertname": name, "instance": instance}, fp)
            if instance == "i0":
                places.add(EVERYTHING, {"alertname": name}, fp)
    expected = [(route.key, list(fps)) for route, fps in held.in_order()]
    assert len(expected) > 250
    assert [(route.key, list(fps)) for route, fps in spilled.in_order()] == expected
    assert spilled._runs  # written out indeed
