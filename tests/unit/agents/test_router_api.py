"""The public names of agents.router, pinned."""

from __future__ import annotations

import agents.router
from agents.errors import AgentError
from agents.router import (
    LocalProvider,
    OpenAICompatibleProvider,
    Provider,
    ProviderError,
    RouterError,
    RoutingError,
)
from caseyard.errors import CaseyardError

EXPECTED = {
    "FREE",
    "PII_KINDS",
    "Attempt",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "Completion",
    "CompletionRequest",
    "Constraints",
    "Embeddings",
    "LocalEmbedder",
    "LocalModel",
    "LocalModelError",
    "LocalOutput",
    "LocalProvider",
    "Message",
    "ModelCallObserver",
    "ModelPrice",
    "ModelTotals",
    "Note",
    "NoProviderAllowedError",
    "OpenAICompatibleProvider",
    "Outcome",
    "Provider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimitedError",
    "ProviderRejectedError",
    "ProviderResponseError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "ProvidersFailedError",
    "ProvidersUnavailableError",
    "Role",
    "Route",
    "Routed",
    "Router",
    "RouterError",
    "RoutingError",
    "UnknownModelError",
    "count_tokens",
    "estimate_tokens",
    "redact_pii",
    "retry_after_seconds",
    "unobserved",
}

RETRYABLE = {
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "ProviderRateLimitedError",
    "ProvidersUnavailableError",
}


def test_public_names() -> None:
    assert set(agents.router.__all__) == EXPECTED
    assert len(agents.router.__all__) == len(EXPECTED), "duplicates in __all__"
    for name in agents.router.__all__:
        assert getattr(agents.router, name) is not None


def test_error_tree() -> None:
    errors = {
        name: getattr(agents.router, name)
        for name in agents.router.__all__
        if name.endswith("Error")
    }
    for name, error in errors.items():
        assert issubclass(error, RouterError)
        assert issubclass(error, AgentError)
        assert issubclass(error, CaseyardError)
        assert issubclass(error, ProviderError | RoutingError) or error is RouterError
        assert error.retryable is (name in RETRYABLE), name
        assert name in (agents.router._errors.__doc__ or ""), f"{name} missing from the tree"


def test_providers_implement_the_protocol() -> None:
    local: Provider = LocalProvider()
    remote: Provider = OpenAICompatibleProvider("http://127.0.0.1:1", model="m")
    assert (local.name, remote.name) == ("local", "openai")
