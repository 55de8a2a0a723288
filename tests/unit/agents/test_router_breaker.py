"""CircuitBreaker on an injected clock: closed -> open -> half-open -> closed or open."""

from __future__ import annotations

import pytest

from agents.router import BreakerPolicy, BreakerState, CircuitBreaker
from caseyard.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> BreakerState:
    """The state, read through a call so that mypy does not narrow it between reads."""
    return breaker.state


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(BreakerPolicy(failure_threshold=3, cooldown_s=10.0), clock)


def test_opens_after_consecutive_failures_only(breaker: CircuitBreaker) -> None:
    breaker.failed()
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.acquire()
    breaker.failed()
    assert state(breaker) is BreakerState.OPEN
    assert breaker.failures == 3
    assert not breaker.acquire()


def test_half_open_lets_exactly_one_trial_through(breaker: CircuitBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.failed()
    clock.now = 9.5
    assert breaker.retry_in() == pytest.approx(0.5)
    assert "trial call in 0.5s" in breaker.describe()
    clock.now = 10.0
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.acquire()
    assert not breaker.acquire(), "a second caller waits for the trial's outcome"
    assert "trial call is in flight" in breaker.describe()

    breaker.succeeded()
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.failures == 0
    assert breaker.acquire() and breaker.acquire()


def test_a_failed_trial_opens_for_another_cooldown(breaker: CircuitBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.failed()
    clock.now = 10.0
    assert breaker.acquire()
    breaker.failed()
    assert state(breaker) is BreakerState.OPEN
    clock.now = 19.9
    assert not breaker.acquire()
    clock.now = 20.0
    assert breaker.acquire()


def test_a_released_trial_can_be_taken_again(breaker: CircuitBreaker, clock: Clock) -> None:
    for _ in range(3):
        breaker.failed()
    clock.now = 10.0
    assert breaker.acquire()
    breaker.release()
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.acquire()


def test_without_a_cooldown_the_trial_comes_at_once(clock: Clock) -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=1, cooldown_s=0.0), clock)
    breaker.failed()
    assert state(breaker) is BreakerState.HALF_OPEN, "no cool-down: straight to a trial"
    assert breaker.acquire()
    breaker.succeeded()
    assert state(breaker) is BreakerState.CLOSED


@pytest.mark.parametrize(("threshold", "cooldown"), [(0, 1.0), (1, -1.0)])
def test_policy_is_checked(threshold: int, cooldown: float) -> None:
    with pytest.raises(ConfigError):
        BreakerPolicy(failure_threshold=threshold, cooldown_s=cooldown)
