"""The routing tree's lookups by id and its paging options."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st


def test_find_a_route_by_id_and_read_its_paging_options() -> None:
    from tocsin.config import parse_config

    config = parse_config(
        "route:\n  receiver: d\n  channels: [c]\n  escalation_policy: p\n  routes:\n"
        "    - {matchers: ['x=\"1\"'], channels: []}\n"
        "receivers: [{name: d}]\nchannels: [{name: c, type: console}]\n"
        "users: [{name: u, contact: [c]}]\n"
        "escalation_policies: [{name: p, steps: [{targets: ['user:u']}]}]\n"
    )
    child = config.route.routes[0]
    assert config.route.find(child.id) is child and config.route.find("nope") is None
    assert config.route.channels == ["c"] and child.channels == []
    assert child.escalation_policy == "p"


# any text, NUL and other control characters, non-ASCII and surrogate-free code points included
_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=6)


@given(
    st.lists(
        st.tuples(
            st.dictionaries(_TEXT, _TEXT, max_size=4), st.sampled_from(["", "a", "a\x00", "b"])
        ),
        min_size=2,
        max_size=8,
    )
)
def test_groups_sort_by_their_place_as_alertmanager_sorts_them(
    groups: list[tuple[dict[str, str], str]],
) -> None:
    """``group_place`` sorts as (the label set's sorted pairs, the receiver) does, and two
    groups have one place only when both are equal."""
    from tocsin.routing.tree import Route

    routes = {receiver: Route(receiver=receiver, group_by_all=True) for _, receiver in groups}
    places = [routes[receiver].group_place(labels) for labels, receiver in groups]
    keys = [(sorted(labels.items()), receiver) for labels, receiver in groups]
    for (place, key), (other_place, other_key) in itertools.product(
        zip(places, keys, strict=True), repeat=2
    ):
        assert (place < other_place) == (key < other_key)
        assert (place == other_place) == (key == other_key)
