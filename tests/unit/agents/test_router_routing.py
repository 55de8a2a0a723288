"""Router: order, fallback, allow-list, budgets, circuit breakers, usage records."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import anyio
import pytest

from agents.router import (
    BreakerPolicy,
    BreakerState,
    Completion,
    CompletionRequest,
    Constraints,
    Embeddings,
    ModelPrice,
    NoProviderAllowedError,
    Note,
    Outcome,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderRejectedError,
    ProvidersFailedError,
    ProvidersUnavailableError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    Route,
    Router,
)
from caseyard.errors import ConfigError
from schemas.results import ModelUsage
from schemas.tasks import TaskRequested
from schemas.testing import example_events


class FakeClock:
    """Monotonic seconds that only move when a test (or a fake provider) moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeProvider:
    """A provider whose calls take `latency_ms` of fake time and fail as scripted."""

    def __init__(
        self,
        name: str,
        clock: FakeClock,
        *,
        latency_ms: float = 100.0,
        prices: dict[str, ModelPrice] | None = None,
        failures: Sequence[ProviderError | None] = (),
        hang: bool = False,
    ) -> None:
        self._name = name
        self._clock = clock
        self.latency_ms = latency_ms
        self._prices = prices if prices is not None else {"m": ModelPrice(1.0, 2.0)}
        self.failures = list(failures)
        self.hang = hang
        self.calls: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    def price(self, model: str) -> ModelPrice | None:
        return self._prices.get(model)

    async def _call(self, model: str) -> ModelUsage:
        self.calls.append(model)
        if self.hang:
            await anyio.sleep_forever()
        self._clock.advance(self.latency_ms / 1000)
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        return ModelUsage(
            provider=self._name,
            model=model,
            input_tokens=10,
            output_tokens=4,
            cost_usd=0.001,
            latency_ms=self.latency_ms,
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        assert request.model is not None, "the router names the model"
        usage = await self._call(request.model)
        return Completion(text=f"{self._name}/{request.model}", usage=usage)

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> Embeddings:
        assert model is not None
        usage = await self._call(model)
        return Embeddings(vectors=tuple((float(len(t)),) for t in texts), usage=usage)


def timeout(name: str, model: str = "m") -> ProviderTimeoutError:
    return ProviderTimeoutError("no answer within 0.2s", provider=name, model=model)


def server_error(name: str, model: str = "m") -> ProviderUnavailableError:
    return ProviderUnavailableError("HTTP 500: boom", provider=name, model=model, status=500)


REQUEST = CompletionRequest.from_prompt("classify", "an invoice for 12 EUR")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def router_of(
    clock: FakeClock,
    *providers: Provider,
    routes: Sequence[Route] | None = None,
    breaker: BreakerPolicy | None = None,
) -> Router:
    table = {"classify": list(routes or [Route(p.name, "m") for p in providers])}
    return Router(providers, table, clock=clock, breaker=breaker)


@pytest.mark.anyio
async def test_first_route_serves_and_usage_is_recorded(clock: FakeClock) -> None:
    a, b = FakeProvider("a", clock, latency_ms=40), FakeProvider("b", clock)
    router = router_of(clock, a, b)

    routed = await router.complete(REQUEST)

    assert routed.response.text == "a/m"
    assert (routed.provider, routed.model) == ("a", "m")
    assert routed.usage == ModelUsage(
        provider="a", model="m", input_tokens=10, output_tokens=4, cost_usd=0.001, latency_ms=40
    )
    [attempt] = routed.attempts
    assert attempt.outcome is Outcome.SERVED
    assert attempt.usage == routed.usage
    assert attempt.latency_ms == pytest.approx(40)
    assert b.calls == []


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [timeout, server_error])
async def test_falls_back_on_a_retryable_failure(
    clock: FakeClock, failure: Callable[[str], ProviderError]
) -> None:
    error = failure("a")
    a, b = FakeProvider("a", clock, failures=[error]), FakeProvider("b", clock)
    router = router_of(clock, a, b)

    routed = await router.complete(REQUEST)

    assert routed.provider == "b"
    failed, served = routed.attempts
    assert failed.outcome is Outcome.FAILED
    assert failed.error == type(error).__name__
    assert failed.retryable
    assert failed.reason == error.detail
    assert failed.latency_ms == pytest.approx(100)
    assert served.outcome is Outcome.SERVED


@pytest.mark.anyio
async def test_an_answer_the_caller_refuses_falls_back_to_the_next_route(
    clock: FakeClock,
) -> None:
    a, b = FakeProvider("a", clock), FakeProvider("b", clock)

    def check(completion: Completion) -> None:
        if completion.text.startswith("a/"):
            raise ValueError("1 validation error for ClassifyOutput\ndoc_type: missing")

    routed = await router_of(clock, a, b).complete(REQUEST, check=check)

    assert routed.provider == "b"
    failed, served = routed.attempts
    assert failed.error == "ProviderResponseError"
    assert failed.reason == (
        "the answer is not what was asked for: 1 validation error for ClassifyOutput "
        "doc_type: missing"
    )
    assert served.outcome is Outcome.SERVED
    with pytest.raises(ProvidersFailedError, match="not what was asked for"):
        await router_of(clock, a).complete(REQUEST, check=check)


@pytest.mark.anyio
async def test_falls_back_past_a_provider_specific_failure(clock: FakeClock) -> None:
    auth = ProviderAuthError("HTTP 401: bad key", provider="a", model="m", status=401)
    a, b = FakeProvider("a", clock, failures=[auth]), FakeProvider("b", clock)

    routed = await router_of(clock, a, b).complete(REQUEST)

    assert routed.provider == "b"
    assert not routed.attempts[0].retryable


@pytest.mark.anyio
async def test_all_failing_retryably_lists_every_provider(clock: FakeClock) -> None:
    a = FakeProvider("a", clock, failures=[timeout("a")])
    b = FakeProvider("b", clock, failures=[server_error("b")])

    with pytest.raises(ProvidersUnavailableError) as caught:
        await router_of(clock, a, b).complete(REQUEST)

    error = caught.value
    assert error.retryable
    assert error.capability == "classify"
    assert [(x.provider, x.error) for x in error.attempts] == [
        ("a", "ProviderTimeoutError"),
        ("b", "ProviderUnavailableError"),
    ]
    assert str(error) == (
        "no provider served 'classify': "
        "a/m failed (ProviderTimeoutError: no answer within 0.2s); "
        "b/m failed (ProviderUnavailableError: HTTP 500: boom)"
    )


@pytest.mark.anyio
async def test_all_failing_for_good_is_not_retryable(clock: FakeClock) -> None:
    rejected = ProviderRejectedError("HTTP 400: too long", provider="a", model="m", status=400)
    a = FakeProvider("a", clock, failures=[rejected])

    with pytest.raises(ProvidersFailedError, match="too long") as caught:
        await router_of(clock, a).complete(REQUEST)

    assert not caught.value.retryable


@pytest.mark.anyio
async def test_a_bug_in_a_provider_is_not_swallowed(clock: FakeClock) -> None:
    class Broken(FakeProvider):
        async def complete(self, request: CompletionRequest) -> Completion:
            raise KeyError("bug")

    router = router_of(clock, Broken("a", clock), FakeProvider("b", clock))

    with pytest.raises(KeyError):
        await router.complete(REQUEST)
    assert router.breaker_state("a") is BreakerState.CLOSED


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("allowed", "served"),
    [
        ({"b/m2"}, "b"),
        ({"*/m2"}, "b"),
        ({"b/*"}, "b"),
        ({"c/*"}, "c"),
        ({"x/*", "c/m?"}, "c"),
        (set(), "a"),
    ],
)
async def test_allow_list(clock: FakeClock, allowed: set[str], served: str) -> None:
    providers = [FakeProvider(name, clock) for name in "abc"]
    routes = [Route("a", "m"), Route("b", "m2"), Route("c", "m3")]
    router = router_of(clock, *providers, routes=routes)

    routed = await router.complete(REQUEST, Constraints(allowed_models=frozenset(allowed)))

    assert routed.provider == served
    assert all(a.outcome is Outcome.NOT_ALLOWED for a in routed.attempts[:-1])
    assert all(p.calls == [] for p in providers if p.name != served)


@pytest.mark.anyio
async def test_nothing_allowed(clock: FakeClock) -> None:
    a, b = FakeProvider("a", clock), FakeProvider("b", clock)
    # Patterns match 'provider/model' as a whole: a bare provider or model name is not enough.
    only = Constraints(allowed_models=frozenset({"a", "m", "openai/*"}))

    with pytest.raises(NoProviderAllowedError, match="a/m not_allowed") as caught:
        await router_of(clock, a, b).complete(REQUEST, only)

    assert not caught.value.retryable
    assert [x.outcome for x in caught.value.attempts] == [Outcome.NOT_ALLOWED] * 2
    assert a.calls == b.calls == []


@pytest.mark.anyio
async def test_unknown_capability(clock: FakeClock) -> None:
    router = router_of(clock, FakeProvider("a", clock))

    with pytest.raises(NoProviderAllowedError, match="no routes are configured") as caught:
        await router.complete(CompletionRequest.from_prompt("translate", "hi"))
    assert caught.value.attempts == ()


@pytest.mark.anyio
async def test_cost_budget_skips_expensive_and_unpriced_routes(clock: FakeClock) -> None:
    pricey = FakeProvider("pricey", clock, prices={"m": ModelPrice(1_000_000.0, 1_000_000.0)})
    unpriced = FakeProvider("unpriced", clock, prices={})
    cheap = FakeProvider("cheap", clock, prices={"m": ModelPrice(0.1, 0.2)})
    router = router_of(clock, pricey, unpriced, cheap)

    routed = await router.complete(REQUEST, Constraints(max_cost_usd=0.01))

    assert routed.provider == "cheap"
    over, no_price, served = routed.attempts
    assert over.outcome is Outcome.OVER_BUDGET
    assert "expected cost" in over.reason
    assert no_price.outcome is Outcome.OVER_BUDGET
    assert "no price" in no_price.reason
    assert served.outcome is Outcome.SERVED
    assert pricey.calls == unpriced.calls == []


@pytest.mark.anyio
async def test_without_a_cost_budget_price_does_not_matter(clock: FakeClock) -> None:
    pricey = FakeProvider("pricey", clock, prices={})
    routed = await router_of(clock, pricey).complete(REQUEST)
    assert routed.provider == "pricey"


@pytest.mark.anyio
async def test_cost_estimate_uses_max_output_tokens(clock: FakeClock) -> None:
    # $1 per output token: 256 default output tokens exceed $100, 50 do not.
    a = FakeProvider("a", clock, prices={"m": ModelPrice(0.0, 1_000_000.0)})
    router = router_of(clock, a)
    budget = Constraints(max_cost_usd=100.0)

    with pytest.raises(NoProviderAllowedError, match="expected cost"):
        await router.complete(REQUEST, budget)
    short = CompletionRequest(
        capability="classify", messages=REQUEST.messages, max_output_tokens=50
    )
    assert (await router.complete(short, budget)).provider == "a"


@pytest.mark.anyio
async def test_latency_budget_uses_the_observed_average(clock: FakeClock) -> None:
    slow = FakeProvider("slow", clock, latency_ms=800)
    fast = FakeProvider("fast", clock, latency_ms=50)
    router = router_of(clock, slow, fast)
    route = Route("slow", "m")
    assert router.expected_latency_ms(route) is None

    # Never observed: the budget cannot exclude it yet.
    assert (await router.complete(REQUEST, Constraints(max_latency_ms=1000))).provider == "slow"
    assert router.expected_latency_ms(route) == pytest.approx(800)

    routed = await router.complete(REQUEST, Constraints(max_latency_ms=500))
    assert routed.provider == "fast"
    assert routed.attempts[0].outcome is Outcome.OVER_BUDGET
    assert "expected latency 800ms exceeds the remaining 500ms" in routed.attempts[0].reason

    slow.latency_ms = 100
    await router.complete(REQUEST)
    assert router.expected_latency_ms(route) == pytest.approx(0.3 * 100 + 0.7 * 800)


@pytest.mark.anyio
async def test_latency_prior_from_the_route(clock: FakeClock) -> None:
    a, b = FakeProvider("a", clock), FakeProvider("b", clock)
    routes = [Route("a", "m", expected_latency_ms=2000), Route("b", "m")]
    router = router_of(clock, a, b, routes=routes)

    routed = await router.complete(REQUEST, Constraints(max_latency_ms=1000))

    assert routed.provider == "b"
    assert (await router.complete(REQUEST)).provider == "a"


@pytest.mark.anyio
async def test_time_spent_on_a_failure_counts_against_the_budget(clock: FakeClock) -> None:
    a = FakeProvider("a", clock, latency_ms=800, failures=[timeout("a")])
    b = FakeProvider("b", clock, latency_ms=300)
    c = FakeProvider("c", clock)
    router = router_of(clock, a, b, c)
    await router.complete(REQUEST, Constraints(allowed_models=frozenset({"b/m"})))
    clock.advance(0.01)

    with pytest.raises(ProvidersUnavailableError) as caught:
        await router.complete(
            REQUEST, Constraints(allowed_models=frozenset({"a/*", "b/*"}), max_latency_ms=1000)
        )

    failed, over, not_allowed = caught.value.attempts
    assert failed.outcome is Outcome.FAILED
    assert over.outcome is Outcome.OVER_BUDGET
    assert "remaining 200ms" in over.reason
    assert not_allowed.outcome is Outcome.NOT_ALLOWED


@pytest.mark.anyio
async def test_a_call_that_outlives_the_budget_is_cancelled(clock: FakeClock) -> None:
    hanging = FakeProvider("hanging", clock, hang=True)
    backup = FakeProvider("backup", clock)
    # Real time here: the hanging call must really be cancelled when the budget runs out.
    router = Router(
        [hanging, backup],
        {"classify": [Route("hanging", "m"), Route("backup", "m")]},
        clock=time.monotonic,
    )

    with pytest.raises(ProvidersUnavailableError) as caught:
        await router.complete(REQUEST, Constraints(max_latency_ms=50))

    cancelled, skipped = caught.value.attempts
    assert cancelled.outcome is Outcome.FAILED
    assert cancelled.error == "LatencyBudgetExceeded"
    assert cancelled.retryable
    assert 50 <= cancelled.latency_ms < 1000
    assert skipped.outcome is Outcome.OVER_BUDGET
    assert skipped.reason == "the latency budget is used up"
    assert backup.calls == []
    assert router.breaker_state("hanging") is BreakerState.CLOSED


@pytest.mark.anyio
async def test_circuit_breaker_opens_half_opens_and_closes(clock: FakeClock) -> None:
    a = FakeProvider("a", clock, failures=[timeout("a")] * 3)
    b = FakeProvider("b", clock)
    router = router_of(clock, a, b, breaker=BreakerPolicy(failure_threshold=3, cooldown_s=30))

    for _ in range(3):
        assert router.breaker_state("a") is BreakerState.CLOSED
        assert (await router.complete(REQUEST)).provider == "b"
    assert router.breaker_state("a") is BreakerState.OPEN
    assert len(a.calls) == 3

    routed = await router.complete(REQUEST)
    assert routed.provider == "b"
    skipped = routed.attempts[0]
    assert skipped.outcome is Outcome.CIRCUIT_OPEN
    assert skipped.retryable
    assert "circuit open after 3 consecutive failures" in skipped.reason
    assert len(a.calls) == 3, "an open circuit is not called"

    clock.advance(30)
    assert router.breaker_state("a") is BreakerState.HALF_OPEN
    a.failures = [timeout("a")]
    assert (await router.complete(REQUEST)).provider == "b"
    assert len(a.calls) == 4, "one trial call"
    assert router.breaker_state("a") is BreakerState.OPEN, "a failed trial opens it again"

    clock.advance(29)
    await router.complete(REQUEST)
    assert len(a.calls) == 4
    clock.advance(1)
    routed = await router.complete(REQUEST)
    assert routed.provider == "a", "a successful trial closes it"
    assert router.breaker_state("a") is BreakerState.CLOSED


@pytest.mark.anyio
async def test_an_open_circuit_makes_the_routing_error_retryable(clock: FakeClock) -> None:
    a = FakeProvider("a", clock, failures=[timeout("a")])
    router = router_of(clock, a, breaker=BreakerPolicy(failure_threshold=1, cooldown_s=5))
    with pytest.raises(ProvidersUnavailableError):
        await router.complete(REQUEST)

    with pytest.raises(ProvidersUnavailableError, match="circuit_open") as caught:
        await router.complete(REQUEST)
    assert caught.value.retryable


@pytest.mark.anyio
async def test_rejected_requests_do_not_trip_the_breaker(clock: FakeClock) -> None:
    rejected = [ProviderRejectedError("HTTP 400: bad", provider="a", model="m", status=400)] * 3
    a = FakeProvider("a", clock, failures=rejected)
    router = router_of(clock, a, breaker=BreakerPolicy(failure_threshold=2))

    for _ in range(3):
        with pytest.raises(ProvidersFailedError):
            await router.complete(REQUEST)
    assert router.breaker_state("a") is BreakerState.CLOSED


@pytest.mark.anyio
async def test_embeddings_are_routed_too(clock: FakeClock) -> None:
    a = FakeProvider("a", clock, failures=[server_error("a", "e")])
    b = FakeProvider("b", clock)
    router = Router([a, b], {"embed": [Route("a", "e"), Route("b", "e2")]}, clock=clock)

    routed = await router.embed("embed", ["ab", "c"])

    assert routed.response.vectors == ((2.0,), (1.0,))
    assert (routed.provider, routed.model) == ("b", "e2")
    assert [x.outcome for x in routed.attempts] == [Outcome.FAILED, Outcome.SERVED]


def test_constraints_from_a_task() -> None:
    task = next(e for e in example_events() if isinstance(e, TaskRequested))
    assert Constraints.from_task(task) == Constraints()
    limited = task.model_copy(
        update={"allowed_models": ("local/*",), "max_cost_usd": 0.05, "max_latency_ms": 1500.0}
    )
    assert Constraints.from_task(limited) == Constraints(
        allowed_models=frozenset({"local/*"}), max_cost_usd=0.05, max_latency_ms=1500.0
    )


@pytest.mark.parametrize(("cost", "latency"), [(-0.01, None), (None, -1.0), (math.inf, None)])
def test_bad_budgets_are_config_errors(cost: float | None, latency: float | None) -> None:
    with pytest.raises(ConfigError):
        Constraints(max_cost_usd=cost, max_latency_ms=latency)


def test_constraints_after_a_call() -> None:
    usage = ModelUsage(provider="p", model="m", cost_usd=0.02, latency_ms=300)
    left = Constraints(max_cost_usd=0.05, max_latency_ms=200).after(usage)
    assert left.max_cost_usd == pytest.approx(0.03)
    assert left.max_latency_ms == 0.0
    assert Constraints().after(usage) == Constraints()


def test_route_parse() -> None:
    assert Route.parse("openai/meta-llama/Llama-3") == Route("openai", "meta-llama/Llama-3")
    assert str(Route("local", "tfidf")) == "local/tfidf"
    for bad in ("local", "/m", "p/"):
        with pytest.raises(ConfigError):
            Route.parse(bad)


def test_router_configuration_is_checked(clock: FakeClock) -> None:
    a = FakeProvider("a", clock)
    with pytest.raises(ConfigError, match="two providers"):
        Router([a, FakeProvider("a", clock)], {})
    with pytest.raises(ConfigError, match="unknown provider"):
        Router([a], {"classify": [Route("b", "m")]})
    with pytest.raises(ConfigError, match="latency_smoothing"):
        Router([a], {}, latency_smoothing=0)
    assert Router([a], {"classify": [Route("a", "m")]}).routes("classify") == (Route("a", "m"),)


# -- confidence cascade ---------------------------------------------------------------------

SURE = {"a": 0.4, "b": 0.9, "c": 0.6}
"""How sure each fake provider's answer is (its name starts the answer text)."""


def sureness(completion: Completion) -> float:
    return SURE[completion.text.split("/")[0]]


@pytest.mark.anyio
async def test_a_sure_first_answer_asks_nobody_else(clock: FakeClock) -> None:
    b, a = FakeProvider("b", clock), FakeProvider("a", clock)
    routed = await router_of(clock, b, a).complete(REQUEST, confidence=sureness, min_confidence=0.8)
    assert (routed.provider, routed.sure) == ("b", True)
    [served] = routed.attempts
    assert (served.outcome, served.confidence) == (Outcome.SERVED, 0.9)
    assert a.calls == []


@pytest.mark.anyio
async def test_an_unsure_answer_goes_on_to_the_next_model(clock: FakeClock) -> None:
    a, b = FakeProvider("a", clock, latency_ms=30), FakeProvider("b", clock, latency_ms=70)
    routed = await router_of(clock, a, b).complete(REQUEST, confidence=sureness, min_confidence=0.8)
    assert (routed.provider, routed.sure) == ("b", True)
    unsure, served = routed.attempts
    assert (unsure.outcome, unsure.confidence, unsure.reason) == (
        Outcome.UNSURE,
        0.4,
        "confidence 0.40 is below 0.80",
    )
    assert (served.outcome, served.confidence) == (Outcome.SERVED, 0.9)
    # What the task cost is both calls, named after the model that answered.
    assert routed.spent == ModelUsage(
        provider="b", model="m", input_tokens=20, output_tokens=8, cost_usd=0.002, latency_ms=100
    )


@pytest.mark.anyio
async def test_when_no_model_is_sure_the_surest_answer_serves_unsure(clock: FakeClock) -> None:
    a, c = FakeProvider("a", clock), FakeProvider("c", clock)
    routed = await router_of(clock, a, c).complete(REQUEST, confidence=sureness, min_confidence=0.8)
    assert (routed.provider, routed.sure) == ("c", False)
    assert [x.outcome for x in routed.attempts] == [Outcome.UNSURE, Outcome.UNSURE]


@pytest.mark.anyio
async def test_a_failing_or_open_second_model_leaves_the_first_answer(clock: FakeClock) -> None:
    a = FakeProvider("a", clock)
    b = FakeProvider("b", clock, failures=[server_error("b")] * 3)
    router = router_of(clock, a, b, breaker=BreakerPolicy(failure_threshold=1, cooldown_s=60))
    first = await router.complete(REQUEST, confidence=sureness, min_confidence=0.8)
    assert (first.provider, first.sure) == ("a", False)
    assert [x.outcome for x in first.attempts] == [Outcome.UNSURE, Outcome.FAILED]
    # The failure opened b's circuit: the next call does not even try it.
    second = await router.complete(REQUEST, confidence=sureness, min_confidence=0.8)
    assert [x.outcome for x in second.attempts] == [Outcome.UNSURE, Outcome.CIRCUIT_OPEN]
    assert second.provider == "a"


@pytest.mark.anyio
async def test_what_the_unsure_answer_cost_leaves_less_budget_for_the_next(
    clock: FakeClock,
) -> None:
    a = FakeProvider("a", clock, prices={"m": ModelPrice(0.0, 0.0)})
    b = FakeProvider("b", clock, prices={"m": ModelPrice(1.0, 2.0)})
    # a reports $0.001 spent; b's estimate is ~$0.0005 for this request: over what is left.
    routed = await router_of(clock, a, b).complete(
        REQUEST,
        Constraints(max_cost_usd=0.0012),
        confidence=sureness,
        min_confidence=0.8,
    )
    assert routed.provider == "a" and not routed.sure
    assert routed.attempts[1].outcome is Outcome.OVER_BUDGET


class Calls:
    """A model-call observer that keeps what it was told of each call."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, dict[str, object]]] = []

    @contextmanager
    def __call__(self, operation: str, provider: str, model: str) -> Iterator[Note]:
        notes: dict[str, object] = {}
        self.seen.append((operation, provider, model, notes))
        yield notes.__setitem__


@pytest.mark.anyio
async def test_each_call_is_observed_with_its_usage_or_its_error(clock: FakeClock) -> None:
    """Skipped routes are not calls; a failed call says its error; a served one its
    answering model and tokens; embeddings are `embeddings` calls."""
    calls = Calls()
    a = FakeProvider("a", clock, failures=[server_error("a")])
    b, c = FakeProvider("b", clock), FakeProvider("c", clock)
    router = Router(
        [a, b, c],
        {
            "classify": [Route("c", "m"), Route("a", "m"), Route("b", "m")],
            "embed": [Route("b", "e")],
        },
        clock=clock,
        observe=calls,
    )
    await router.complete(REQUEST, Constraints(allowed_models=frozenset({"a/m", "b/m"})))
    await router.embed("embed", ["x"])
    assert calls.seen == [
        ("chat", "a", "m", {"error.type": "ProviderUnavailableError"}),
        (
            "chat",
            "b",
            "m",
            {
                "gen_ai.response.model": "m",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 4,
                "caseyard.cost_usd": 0.001,
            },
        ),
        (
            "embeddings",
            "b",
            "e",
            {
                "gen_ai.response.model": "e",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 4,
                "caseyard.cost_usd": 0.001,
            },
        ),
    ]
