"""The model router: agents call models through it, never a provider directly.

A `Provider` is the one seam to models: `LocalProvider` runs the offline models in this
process, `OpenAICompatibleProvider` speaks OpenAI's HTTP API (hosted or local servers).
The `Router` picks a provider per call: per capability an ordered list of `Route`s,
filtered by the task's `Constraints` (model allow-list, cost and latency budgets), with
fallback to the next route on failure and a `CircuitBreaker` per provider. Every answer
carries its `ModelUsage` (provider, model, tokens, cost, latency) and every route tried.
What goes to a remote provider has its personal data masked (`redact_pii`) unless the
request allows the kind.
"""

from agents.router._breaker import BreakerPolicy, BreakerState, CircuitBreaker
from agents.router._errors import (
    LocalModelError,
    NoProviderAllowedError,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderResponseError,
    ProvidersFailedError,
    ProvidersUnavailableError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RouterError,
    RoutingError,
    UnknownModelError,
)
from agents.router._local import (
    LocalEmbedder,
    LocalModel,
    LocalOutput,
    LocalProvider,
    count_tokens,
)
from agents.router._openai import OpenAICompatibleProvider, retry_after_seconds
from agents.router._pii import PII_KINDS, redact_pii
from agents.router._router import (
    Attempt,
    Constraints,
    ModelCallObserver,
    ModelTotals,
    Note,
    Outcome,
    Route,
    Routed,
    Router,
    unobserved,
)
from agents.router._types import (
    FREE,
    Clock,
    Completion,
    CompletionRequest,
    Embeddings,
    Message,
    ModelPrice,
    Provider,
    Role,
    estimate_tokens,
)

__all__ = [
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
    "NoProviderAllowedError",
    "Note",
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
]
