"""The state store: recent states as objects, the rest compressed, and one wake-up per case."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from coordinator import CaseState, StateStore
from coordinator._store import STALE_SLACK
from tests.unit.coordinator.coord_support import T0, Driver, classify, load

PIPELINE = load(
    """
name: two
version: 1
outcome: done
defaults: {timeout: 10s}
steps:
  - {id: a, capability: classify}
  - {id: b, capability: extract, after: [a], inputs: [a], parameters: {fields: total}}
"""
)


def states(n: int) -> list[CaseState]:
    """`n` open cases past their first step (an output, a running step, two timers)."""
    d = Driver(PIPELINE)
    d.submit()
    d.complete("a", classify())
    assert d.state is not None
    return [replace(d.state, case_id=f"case-{i}", correlation_id=f"case-{i}") for i in range(n)]


def test_states_beyond_the_hot_ones_come_back_equal_from_their_compact_form() -> None:
    store = StateStore(hot=2)
    cases = states(5)
    for state in cases:
        store.put(state.case_id, state)
    assert store.hot == 2 and len(store) == 5
    assert all(state.case_id in store for state in cases)
    assert list(store._hot) == ["case-3", "case-4"]
    for state in cases:
        assert store.get(state.case_id) == state
    # Reading makes a case the most recent: the two read last are the objects now.
    assert store.hot == 2
    assert store.get("case-4") is store.get("case-4")


def test_put_value_keeps_a_restored_changelog_value_until_the_case_is_used() -> None:
    store = StateStore(hot=1)
    (state,) = states(1)
    store.put_value(state.case_id, state.to_bytes())
    assert store.hot == 0 and state.case_id in store
    assert store.get(state.case_id) == state
    assert store.hot == 1


def test_put_replaces_and_pop_forgets_whichever_form_the_case_is_in() -> None:
    store = StateStore(hot=1)
    first, second = states(2)
    store.put(first.case_id, first)
    store.put(second.case_id, second)  # first is compressed now
    newer = replace(first, seq=first.seq + 1)
    store.put(first.case_id, newer)
    assert store.get(first.case_id) == newer
    store.pop(first.case_id)
    store.pop(second.case_id)
    store.pop("never-there")
    assert len(store) == 0 and store.get(first.case_id) is None


def test_a_state_leaves_the_hot_set_as_the_changelog_value_it_came_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = StateStore(hot=1)
    first, second, third = states(3)
    values = {state.case_id: state.to_bytes() for state in (first, second, third)}
    newer = replace(second, seq=second.seq + 1)
    serialised: list[str] = []
    to_bytes = CaseState.to_bytes

    def counted(self: CaseState) -> bytes:
        serialised.append(self.case_id)
        return to_bytes(self)

    monkeypatch.setattr(CaseState, "to_bytes", counted)
    store.put(first.case_id, first, values[first.case_id])
    store.put(second.case_id, second, values[second.case_id])  # first leaves: its value
    store.put(second.case_id, newer)  # a newer state without its value: the old one goes
    store.put(third.case_id, third, values[third.case_id])  # newer leaves: serialised
    assert serialised == [second.case_id]
    # A state read back keeps the value it was read from until it changes.
    assert store.get(first.case_id) == first
    assert store.get(second.case_id) == newer
    assert store.get(third.case_id) == third
    assert serialised == [second.case_id]


def test_compact_form_is_a_fraction_of_the_json() -> None:
    store = StateStore(hot=1)
    cases = states(50)
    for state in cases:
        store.put(state.case_id, state)
    packed = [len(v) for v in store._cold.values()]
    assert len(packed) == 49
    assert max(packed) < len(cases[0].to_bytes()) / 3


def test_a_hot_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        StateStore(hot=0)


def test_wake_ups_come_due_in_time_order_once_each() -> None:
    store = StateStore()
    store.wake_at("late", T0 + timedelta(seconds=30))
    store.wake_at("early", T0 + timedelta(seconds=10))
    store.wake_at("none", None)
    assert store._wakeups[0] == (T0 + timedelta(seconds=10), "early")
    assert store.due(T0) == []
    assert store.due(T0 + timedelta(seconds=10)) == ["early"]
    assert store.due(T0 + timedelta(seconds=10)) == []  # returned once
    assert store.due(T0 + timedelta(minutes=1)) == ["late"]
    assert store._wakeups == []


def test_a_moved_or_cleared_wake_up_leaves_a_stale_entry_that_is_skipped() -> None:
    store = StateStore()
    store.wake_at("a", T0 + timedelta(seconds=10))
    store.wake_at("a", T0 + timedelta(seconds=20))  # later now: 10 s is stale
    store.wake_at("b", T0 + timedelta(seconds=5))
    store.wake_at("b", None)  # no timer pending any more
    store.wake_at("c", T0 + timedelta(seconds=5))
    store.pop("c")  # the case is gone
    assert store.due(T0 + timedelta(seconds=15)) == []
    assert store.due(T0 + timedelta(seconds=20)) == ["a"]
    # Same time again: one entry, not two.
    store.wake_at("a", T0 + timedelta(seconds=30))
    store.wake_at("a", T0 + timedelta(seconds=30))
    assert store.due(T0 + timedelta(seconds=30)) == ["a"]
    assert store._wakeups == []


def test_stale_wake_ups_of_ended_cases_do_not_pile_up_until_they_are_due() -> None:
    """Cases that end leave wake-ups due hours away (an SLA): the heap stays in proportion
    to the cases still waiting, and those still come due in order."""
    store = StateStore()
    far = T0 + timedelta(hours=4)
    for n in range(10_000):
        store.wake_at(f"ended-{n}", far + timedelta(seconds=n))
        store.pop(f"ended-{n}")
    store.wake_at("waiting", T0 + timedelta(minutes=1))
    store.wake_at("later", far)
    assert len(store._wakeups) <= 2 * 2 + STALE_SLACK + 1
    assert store.due(T0 + timedelta(minutes=1)) == ["waiting"]
    assert store.due(far + timedelta(days=1)) == ["later"]


def test_wake_ups_come_due_at_most_a_limit_at_a_time_the_earliest_first() -> None:
    store = StateStore()
    for n in (3, 1, 4, 2):
        store.wake_at(f"case-{n}", T0 + timedelta(seconds=n))
    later = T0 + timedelta(minutes=1)
    assert store.due(later, limit=2) == ["case-1", "case-2"]
    assert store.due(later, limit=0) == []
    assert store.due(later, limit=5) == ["case-3", "case-4"]
