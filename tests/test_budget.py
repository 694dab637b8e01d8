"""``clock.Budget``: the time a piece of work may take, on a timer given in tests."""

from __future__ import annotations

import pytest

from tocsin.clock import Budget
from tocsin.errors import Unavailable


def test_a_budget_is_spent_when_its_time_has_passed() -> None:
    now = [100.0]
    budget = Budget(5, "the read of the alerts", "narrow it", timer=lambda: now[0])
    budget.check()
    now[0] = 104.9
    assert not budget.spent()
    budget.check()
    now[0] = 105.0
    assert budget.spent()
    with pytest.raises(Unavailable) as raised:
        budget.check()
    assert raised.value.message == (
        "the read of the alerts was cut short after its budget of 5 s: narrow it"
    )
