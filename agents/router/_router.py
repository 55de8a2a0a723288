"""`Router`: per capability an ordered list of routes, with budgets, fallback and breakers."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Generic, Protocol, TypeVar

import anyio

from agents.router._breaker import BreakerPolicy, BreakerState, CircuitBreaker
from agents.router._errors import (
    NoProviderAllowedError,
    ProviderError,
    ProviderResponseError,
    ProvidersFailedError,
    ProvidersUnavailableError,
    RoutingError,
)
from agents.router._types import (
    Clock,
    Completion,
    CompletionRequest,
    Embeddings,
    Provider,
    estimate_tokens,
)
from bus.errors import ConfigError
from schemas.results import ModelUsage
from schemas.tasks import TaskRequested


class _HasUsage(Protocol):
    @property
    def usage(self) -> ModelUsage: ...


R = TypeVar("R", bound=_HasUsage)


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a capability's ordered provider list.

    Attributes:
        provider: Name of the provider.
        model: Model to ask that provider for.
        expected_latency_ms: Latency to assume before any call was observed (``None``:
            unknown, so a latency budget cannot exclude the route until it has been used).
    """

    provider: str
    model: str
    expected_latency_ms: float | None = None

    @classmethod
    def parse(cls, text: str) -> Route:
        """A route from ``"provider/model"`` (the model may contain ``/`` itself)."""
        provider, sep, model = text.strip().partition("/")
        if not sep or not provider or not model:
            raise ConfigError(f"a route is 'provider/model', got {text!r}")
        return cls(provider, model)

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraints:
    """What a task allows: which models, and how much money and time.

    The same rules as on `TaskRequested`, where the coordinator's policies put them.

    Attributes:
        allowed_models: Glob patterns (``fnmatch``) matched against ``provider/model``,
            e.g. ``local/*`` or ``*/gpt-4o-mini``; empty allows every model.
        max_cost_usd: Budget for the call; a route whose expected cost exceeds it (or
            whose price is unknown) is skipped.
        max_latency_ms: Budget for the call; a route whose expected latency exceeds what
            is left is skipped, and a call still running when it is used up is cancelled.
    """

    allowed_models: frozenset[str] = frozenset()
    max_cost_usd: float | None = None
    max_latency_ms: float | None = None

    def __post_init__(self) -> None:
        for label, value in (
            ("max_cost_usd", self.max_cost_usd),
            ("max_latency_ms", self.max_latency_ms),
        ):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{label} must be a non-negative number, got {value!r}")

    @classmethod
    def from_task(cls, task: TaskRequested) -> Constraints:
        """The allow-list and budgets a task carries."""
        return cls(
            allowed_models=frozenset(task.allowed_models),
            max_cost_usd=task.max_cost_usd,
            max_latency_ms=task.max_latency_ms,
        )

    def allows(self, provider: str, model: str) -> bool:
        """Whether the allow-list admits ``model`` at ``provider``."""
        if not self.allowed_models:
            return True
        name = f"{provider}/{model}"
        return any(fnmatchcase(name, pattern) for pattern in self.allowed_models)

    def after(self, usage: ModelUsage) -> Constraints:
        """What is left of the budgets after a call (for tasks that call several times)."""
        return replace(
            self,
            max_cost_usd=(
                None if self.max_cost_usd is None else max(0.0, self.max_cost_usd - usage.cost_usd)
            ),
            max_latency_ms=(
                None
                if self.max_latency_ms is None
                else max(0.0, self.max_latency_ms - usage.latency_ms)
            ),
        )


class Outcome(StrEnum):
    """What happened to one route during a routed call."""

    SERVED = "served"
    UNSURE = "unsure"
    """Answered below the confidence asked for: the next route was asked too."""
    FAILED = "failed"
    NOT_ALLOWED = "not_allowed"
    OVER_BUDGET = "over_budget"
    CIRCUIT_OPEN = "circuit_open"


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One route the router considered, and what happened.

    Attributes:
        provider: Provider name.
        model: Model name.
        outcome: Served, failed, or why it was skipped.
        reason: Human-readable detail (the error message for failures).
        error: Class name of the error, for failures.
        retryable: Whether the failure or skip can pass (timeouts, open circuits).
        latency_ms: Time spent on the call (0 for skipped routes).
        usage: What the call cost, for routes that answered.
        confidence: How sure the answer was, when the caller asked for a confidence.
    """

    provider: str
    model: str
    outcome: Outcome
    reason: str = ""
    error: str | None = None
    retryable: bool = False
    latency_ms: float = 0.0
    usage: ModelUsage | None = None
    confidence: float | None = None

    def __str__(self) -> str:
        detail = f"{self.error}: {self.reason}" if self.error else self.reason
        return f"{self.provider}/{self.model} {self.outcome}" + (f" ({detail})" if detail else "")


@dataclass(frozen=True, slots=True)
class Routed(Generic[R]):
    """A routed call's answer, with the record of every route considered.

    Attributes:
        response: The serving provider's answer.
        attempts: Every route considered, in order; the last one served.
    """

    response: R
    attempts: tuple[Attempt, ...]
    sure: bool = True
    """False when a confidence was asked for and no route reached it: `response` is then
    the most confident answer any route gave."""

    @property
    def usage(self) -> ModelUsage:
        """Provider, model, tokens, cost and latency of the call that served."""
        return self.response.usage

    @property
    def spent(self) -> ModelUsage:
        """What every answering route together cost, named after the one that served."""
        answered = [a.usage for a in self.attempts if a.usage is not None]
        return self.usage.model_copy(
            update={
                "input_tokens": sum(u.input_tokens for u in answered),
                "output_tokens": sum(u.output_tokens for u in answered),
                "cost_usd": sum(u.cost_usd for u in answered),
                "latency_ms": sum(u.latency_ms for u in answered),
            }
        )

    @property
    def provider(self) -> str:
        """Name of the provider that served."""
        return self.response.usage.provider

    @property
    def model(self) -> str:
        """Model that served."""
        return self.response.usage.model


@dataclass(slots=True)
class ModelTotals:
    """What the calls of one (provider, model) through a router added up to, so far.

    Skipped routes are not calls; a call cancelled by the latency budget is a failure.
    """

    served: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    """Summed over served calls."""


Note = Callable[[str, str | int | float | bool], None]
"""Adds an attribute to the observation of a model call."""


class ModelCallObserver(Protocol):
    """Watches each model call (the composition root makes it a span with the GenAI
    semantic conventions' ``gen_ai.*`` attributes: nothing below the root imports
    tracing). ``operation`` is ``chat`` or ``embeddings``. A provider's failure is noted as
    ``error.type``; an error leaving the block is the call's error too."""

    def __call__(
        self, operation: str, provider: str, model: str
    ) -> AbstractContextManager[Note]: ...


@contextmanager
def unobserved(operation: str, provider: str, model: str) -> Iterator[Note]:
    yield lambda name, value: None


class Router:
    """Routes model calls to providers: allow-list, budgets, fallback, circuit breakers.

    For each call the capability's routes are considered in order. A route is skipped
    when the task's allow-list excludes it, when its expected cost (price table and a
    token estimate) or expected latency (moving average of observed latencies) exceeds
    the remaining budget, or when its provider's circuit is open. The first route whose
    call succeeds serves; a `ProviderError` falls back to the next route. Providers are
    opened and closed by their owner, not by the router.

    Args:
        providers: The providers, by their ``name``.
        routes: Per capability, the ordered routes to try.
        clock: Monotonic seconds for budgets, latencies and breakers (injected in tests).
        breaker: When a provider's circuit opens and for how long.
        latency_smoothing: Weight of the newest observation in the latency average.
        default_output_tokens: Output length assumed for the cost estimate when the
            request sets no ``max_output_tokens``.
        observe: Watches each call made (see `ModelCallObserver`).

    Raises:
        ConfigError: Duplicate provider names, or a route naming an unknown provider.
    """

    def __init__(
        self,
        providers: Iterable[Provider],
        routes: Mapping[str, Sequence[Route]],
        *,
        clock: Clock = time.monotonic,
        breaker: BreakerPolicy | None = None,
        latency_smoothing: float = 0.3,
        default_output_tokens: int = 256,
        observe: ModelCallObserver = unobserved,
    ) -> None:
        self._providers: dict[str, Provider] = {}
        for provider in providers:
            if provider.name in self._providers:
                raise ConfigError(f"two providers are named {provider.name!r}")
            self._providers[provider.name] = provider
        for capability, entries in routes.items():
            for route in entries:
                if route.provider not in self._providers:
                    raise ConfigError(
                        f"route {route} for {capability!r} names an unknown provider "
                        f"(have: {', '.join(sorted(self._providers)) or 'none'})"
                    )
        if not 0 < latency_smoothing <= 1:
            raise ConfigError("latency_smoothing must be in (0, 1]")
        self._routes = {capability: tuple(entries) for capability, entries in routes.items()}
        self._clock = clock
        self._policy = breaker or BreakerPolicy()
        self._breakers = {name: CircuitBreaker(self._policy, clock) for name in self._providers}
        self._smoothing = latency_smoothing
        self._default_output_tokens = default_output_tokens
        self._watch = observe
        self._latency: dict[tuple[str, str], float] = {}
        self.totals: dict[tuple[str, str], ModelTotals] = {}
        """Per (provider, model): calls, tokens and spend so far (read by metrics)."""

    def routes(self, capability: str) -> tuple[Route, ...]:
        """The configured routes of ``capability``, in order."""
        return self._routes.get(capability, ())

    def breaker_state(self, provider: str) -> BreakerState:
        """The state of ``provider``'s circuit breaker."""
        return self._breakers[provider].state

    def expected_latency_ms(self, route: Route) -> float | None:
        """The moving average of ``route``'s observed latency, or its configured prior."""
        return self._latency.get((route.provider, route.model), route.expected_latency_ms)

    async def complete(
        self,
        request: CompletionRequest,
        constraints: Constraints | None = None,
        *,
        check: Callable[[Completion], object] | None = None,
        confidence: Callable[[Completion], float] | None = None,
        min_confidence: float | None = None,
    ) -> Routed[Completion]:
        """Serve ``request`` from the first eligible route that succeeds.

        ``check`` reads an answer as the caller needs it (e.g. validates it against the
        output model); an answer it refuses with ``ValueError`` (pydantic's
        ``ValidationError`` is one) counts as that provider's failure, and the next route
        is tried, as for malformed JSON.

        With ``confidence`` and ``min_confidence``, routes cascade: an answer less sure than
        ``min_confidence`` is recorded (``unsure``) and the next route is asked, within
        what is left of the budgets; if none is sure enough, the most confident answer
        serves, with ``sure`` False (the caller escalates, e.g. to a person).

        Raises:
            RoutingError: Nothing served; the message lists every route and why.
        """
        input_tokens = sum(estimate_tokens(m.content) for m in request.messages)
        output_tokens = request.max_output_tokens or self._default_output_tokens

        async def call(provider: Provider, route: Route) -> Completion:
            completion = await provider.complete(replace(request, model=route.model))
            if check is not None:
                try:
                    check(completion)
                except ValueError as exc:
                    first = str(exc).splitlines()
                    reason = " ".join(first[:3]) if first else type(exc).__name__
                    raise ProviderResponseError(
                        f"the answer is not what was asked for: {reason}",
                        provider=route.provider,
                        model=route.model,
                    ) from exc
            return completion

        judge = (
            (confidence, min_confidence)
            if confidence is not None and min_confidence is not None
            else None
        )
        return await self._route(
            "chat",
            request.capability,
            constraints or Constraints(),
            (input_tokens, output_tokens),
            call,
            judge,
        )

    async def embed(
        self, capability: str, texts: Sequence[str], constraints: Constraints | None = None
    ) -> Routed[Embeddings]:
        """Embed ``texts`` with the first eligible route of ``capability`` that succeeds.

        Raises:
            RoutingError: Nothing served; the message lists every route and why.
        """
        input_tokens = sum(estimate_tokens(text) for text in texts)

        async def call(provider: Provider, route: Route) -> Embeddings:
            return await provider.embed(texts, model=route.model)

        return await self._route(
            "embeddings", capability, constraints or Constraints(), (input_tokens, 0), call
        )

    async def _route(
        self,
        operation: str,
        capability: str,
        constraints: Constraints,
        tokens: tuple[int, int],
        call: Callable[[Provider, Route], Awaitable[R]],
        judge: tuple[Callable[[R], float], float] | None = None,
    ) -> Routed[R]:
        routes = self._routes.get(capability, ())
        if not routes:
            raise NoProviderAllowedError(capability, (), "no routes are configured for it")
        started = self._clock()
        attempts: list[Attempt] = []
        best: tuple[float, R] | None = None
        for route in routes:
            remaining_ms = (
                None
                if constraints.max_latency_ms is None
                else constraints.max_latency_ms - (self._clock() - started) * 1000
            )
            skipped = self._skip(route, constraints, tokens, remaining_ms)
            if skipped is not None:
                attempts.append(skipped)
                continue
            result, attempt = await self._attempt(operation, route, call, remaining_ms)
            if result is None:
                attempts.append(attempt)
                continue
            if judge is None:
                attempts.append(attempt)
                return Routed(result, tuple(attempts))
            score, threshold = judge[0](result), judge[1]
            attempt = replace(attempt, confidence=score)
            if score >= threshold:
                attempts.append(attempt)
                return Routed(result, tuple(attempts))
            attempts.append(
                replace(
                    attempt,
                    outcome=Outcome.UNSURE,
                    reason=f"confidence {score:.2f} is below {threshold:.2f}",
                )
            )
            if best is None or score > best[0]:
                best = (score, result)
            # What an unsure answer cost comes out of the budget left for the next route
            # (the time it took already does: the latency budget runs on the clock).
            if constraints.max_cost_usd is not None:
                left = max(0.0, constraints.max_cost_usd - result.usage.cost_usd)
                constraints = replace(constraints, max_cost_usd=left)
        if best is not None:
            return Routed(best[1], tuple(attempts), sure=False)
        raise _failure(capability, attempts)

    def _skip(
        self,
        route: Route,
        constraints: Constraints,
        tokens: tuple[int, int],
        remaining_ms: float | None,
    ) -> Attempt | None:
        """Why ``route`` is skipped, or ``None`` with its provider's breaker acquired."""

        def skip(outcome: Outcome, reason: str, *, retryable: bool = False) -> Attempt:
            return Attempt(
                provider=route.provider,
                model=route.model,
                outcome=outcome,
                reason=reason,
                retryable=retryable,
            )

        if not constraints.allows(route.provider, route.model):
            return skip(Outcome.NOT_ALLOWED, "not in the task's model allow-list")
        if constraints.max_cost_usd is not None:
            price = self._providers[route.provider].price(route.model)
            if price is None:
                return skip(Outcome.OVER_BUDGET, "no price known, so the cost budget cannot hold")
            expected = price.cost(*tokens)
            if expected > constraints.max_cost_usd:
                return skip(
                    Outcome.OVER_BUDGET,
                    f"expected cost ${expected:.6f} exceeds the budget "
                    f"${constraints.max_cost_usd:.6f}",
                )
        if remaining_ms is not None:
            if remaining_ms <= 0:
                return skip(Outcome.OVER_BUDGET, "the latency budget is used up")
            expected_ms = self.expected_latency_ms(route)
            if expected_ms is not None and expected_ms > remaining_ms:
                return skip(
                    Outcome.OVER_BUDGET,
                    f"expected latency {expected_ms:.0f}ms exceeds the remaining "
                    f"{remaining_ms:.0f}ms",
                )
        breaker = self._breakers[route.provider]
        if not breaker.acquire():
            # An open circuit passes with time, so a later attempt of the task may succeed.
            return skip(Outcome.CIRCUIT_OPEN, breaker.describe(), retryable=True)
        return None

    async def _attempt(
        self,
        operation: str,
        route: Route,
        call: Callable[[Provider, Route], Awaitable[R]],
        remaining_ms: float | None,
    ) -> tuple[R | None, Attempt]:
        """Call one route whose breaker is acquired; the answer (if any) and the record."""
        with self._watch(operation, route.provider, route.model) as note:
            result, attempt = await self._call(route, call, remaining_ms)
            if result is not None:
                usage = result.usage
                note("gen_ai.response.model", usage.model)
                note("gen_ai.usage.input_tokens", usage.input_tokens)
                note("gen_ai.usage.output_tokens", usage.output_tokens)
                note("caseyard.cost_usd", usage.cost_usd)
            elif attempt.error is not None:
                note("error.type", attempt.error)
            return result, attempt

    async def _call(
        self,
        route: Route,
        call: Callable[[Provider, Route], Awaitable[R]],
        remaining_ms: float | None,
    ) -> tuple[R | None, Attempt]:
        breaker = self._breakers[route.provider]
        provider = self._providers[route.provider]
        started = self._clock()
        result: R | None = None
        error: ProviderError | None = None
        try:
            with anyio.move_on_after(None if remaining_ms is None else remaining_ms / 1000):
                try:
                    result = await call(provider, route)
                except ProviderError as exc:
                    error = exc
        except BaseException:
            breaker.release()
            raise
        latency_ms = (self._clock() - started) * 1000
        totals = self.totals.get((route.provider, route.model))
        if totals is None:
            totals = self.totals[(route.provider, route.model)] = ModelTotals()
        if result is None:
            totals.failed += 1
        else:
            usage = result.usage
            totals.served += 1
            totals.input_tokens += usage.input_tokens
            totals.output_tokens += usage.output_tokens
            totals.cost_usd += usage.cost_usd
            totals.latency_ms += usage.latency_ms
        record = Attempt(
            provider=route.provider,
            model=route.model,
            outcome=Outcome.FAILED,
            latency_ms=latency_ms,
        )
        if result is not None:
            breaker.succeeded()
            self._observe(route, latency_ms)
            return result, replace(record, outcome=Outcome.SERVED, usage=result.usage)
        if error is not None:
            if error.provider_fault:
                breaker.failed()
            else:
                # The provider answered; the request was at fault, not the provider.
                breaker.succeeded()
            return None, replace(
                record, reason=error.detail, error=type(error).__name__, retryable=error.retryable
            )
        # Cancelled by the deadline: the task ran out of time, which says little about
        # the provider's health, and a later attempt of the task gets a fresh budget.
        breaker.release()
        return None, replace(
            record,
            reason=f"cancelled after {latency_ms:.0f}ms: the latency budget ran out",
            error="LatencyBudgetExceeded",
            retryable=True,
        )

    def _observe(self, route: Route, latency_ms: float) -> None:
        key = (route.provider, route.model)
        previous = self._latency.get(key)
        self._latency[key] = (
            latency_ms
            if previous is None
            else self._smoothing * latency_ms + (1 - self._smoothing) * previous
        )


def _failure(capability: str, attempts: Sequence[Attempt]) -> RoutingError:
    if any(a.retryable for a in attempts):
        return ProvidersUnavailableError(capability, attempts)
    if any(a.outcome is Outcome.FAILED for a in attempts):
        return ProvidersFailedError(capability, attempts)
    return NoProviderAllowedError(capability, attempts)
