"""A circuit breaker per provider: stop calling a provider that keeps failing.

Kept rather than taken from a library: the router acquires a breaker before it calls (a
route whose circuit is open is skipped without a call, and says why), releases it
unjudged when the task's latency budget cancels the call (that says nothing about the
provider), and counts a failure only when the provider is at fault (a request it
rejected is not), on a clock the tests drive. purgatory (maintained, asyncio) wraps a
call in a context manager that counts every exception it lets through, keeps its state
behind an async store and reads the wall clock; pybreaker's async support needs Tornado.
Fitting either would take more code than this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agents.router._types import Clock
from bus.errors import ConfigError


class BreakerState(StrEnum):
    """Where a circuit breaker is."""

    CLOSED = "closed"
    """Calls go through; consecutive failures are counted."""
    OPEN = "open"
    """Calls are refused until the cool-down has passed."""
    HALF_OPEN = "half_open"
    """The cool-down has passed: one trial call decides between closed and open."""


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open.

    Attributes:
        failure_threshold: Consecutive failures that open the circuit.
        cooldown_s: Seconds the circuit stays open before one trial call is let through.
    """

    failure_threshold: int = 5
    cooldown_s: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ConfigError("breaker failure_threshold must be at least 1")
        if self.cooldown_s < 0:
            raise ConfigError("breaker cooldown_s must not be negative")


class CircuitBreaker:
    """Closed -> open after N consecutive failures -> half-open after a cool-down.

    In half-open exactly one caller gets the trial call (`acquire` returns True once);
    its outcome closes the circuit or opens it for another cool-down. A caller that got
    the trial and ends without an outcome (cancelled) must call `release`.

    Args:
        policy: Threshold and cool-down.
        clock: Monotonic seconds (injected, so tests move time instead of sleeping).
    """

    def __init__(self, policy: BreakerPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        """The current state (open turns half-open by itself once the cool-down passed)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._policy.cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def failures(self) -> int:
        """Consecutive failures so far."""
        return self._failures

    def retry_in(self) -> float:
        """Seconds until the next trial call may go through (0 if one may now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._policy.cooldown_s - self._clock())

    def acquire(self) -> bool:
        """Whether a call may go through now; in half-open, True only for the trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial:
            self._trial = True
            return True
        return False

    def succeeded(self) -> None:
        """The call worked: close the circuit."""
        self._failures = 0
        self._opened_at = None
        self._trial = False

    def failed(self) -> None:
        """The call failed: count it; open the circuit at the threshold or after a trial."""
        self._failures += 1
        if self._trial or self._failures >= self._policy.failure_threshold:
            self._opened_at = self._clock()
        self._trial = False

    def release(self) -> None:
        """The call ended without an outcome: let another caller make the trial."""
        self._trial = False

    def describe(self) -> str:
        """Why calls are refused, for skip reasons."""
        if self.state is BreakerState.OPEN:
            return (
                f"circuit open after {self._failures} consecutive failures; "
                f"trial call in {self.retry_in():.1f}s"
            )
        return "circuit half-open; the trial call is in flight"
