"""Errors of the model router and its providers.

httpx errors and exceptions raised by local models never leave a provider: they become a
``ProviderError`` (``raise ... from exc``). The router turns "nothing could serve this"
into a ``RoutingError`` that lists every provider and why it was skipped or failed::

    CaseyardError
    └── AgentError                          (agents.errors)
        └── RouterError
            ├── ProviderError               one provider call failed
            │   ├── ProviderTimeoutError        connect/read timed out         (retryable)
            │   ├── ProviderUnavailableError    unreachable or 5xx             (retryable)
            │   │   └── ProviderRateLimitedError  429 beyond the retry bound   (retryable)
            │   ├── ProviderRejectedError       other 4xx: request refused     (not retryable)
            │   │   └── ProviderAuthError       401/403: key refused           (not retryable)
            │   ├── ProviderResponseError       malformed JSON, missing fields (not retryable)
            │   ├── UnknownModelError           the provider has no such model (not retryable)
            │   └── LocalModelError             a local model raised           (not retryable)
            └── RoutingError                no provider served the request
                ├── NoProviderAllowedError      all skipped: allow-list, budget (not retryable)
                ├── ProvidersFailedError        tried, all failed for good      (not retryable)
                └── ProvidersUnavailableError   a failure or skip was transient (retryable)

``provider_fault`` says whether an error speaks against the provider's health (and so
counts towards its circuit breaker) rather than against the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from agents.errors import AgentError

if TYPE_CHECKING:
    from agents.router._router import Attempt


class RouterError(AgentError):
    """Base of the model router's errors."""


class ProviderError(RouterError):
    """A call to one provider failed.

    Attributes:
        detail: The message without the ``provider/model:`` prefix.
        provider: Name of the provider.
        model: Model the call asked for.
        status: HTTP status of the answer, if there was one.
        retry_after: Seconds the server asked to wait before trying again, if it said.
    """

    provider_fault: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}/{model}: {message}")
        self.detail = message
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after


class ProviderTimeoutError(ProviderError):
    """Connecting to the provider or reading its answer timed out."""

    retryable = True


class ProviderUnavailableError(ProviderError):
    """The provider cannot be reached or answered with a server error (5xx)."""

    retryable = True


class ProviderRateLimitedError(ProviderUnavailableError):
    """The provider kept answering 429 (or asked to wait longer than allowed)."""


class ProviderRejectedError(ProviderError):
    """The provider refused the request (4xx); the message is the server's."""

    # A refused request says nothing about the provider's health.
    provider_fault = False


class ProviderAuthError(ProviderRejectedError):
    """The provider refused the credentials (401/403)."""

    # A bad key fails every call, so it should open the circuit.
    provider_fault = True


class ProviderResponseError(ProviderError):
    """The provider's answer is not the API's shape (malformed JSON, missing fields)."""


class UnknownModelError(ProviderError):
    """The provider has no model of that name."""


class LocalModelError(ProviderError):
    """A local (in-process) model raised an exception."""


class RoutingError(RouterError):
    """No provider served the request.

    Attributes:
        capability: The capability asked for.
        attempts: Every provider considered, in order, with what happened.
    """

    def __init__(self, capability: str, attempts: Sequence[Attempt], detail: str = "") -> None:
        tried = "; ".join(str(attempt) for attempt in attempts) or detail
        super().__init__(f"no provider served {capability!r}: {tried}")
        self.capability = capability
        self.attempts = tuple(attempts)


class NoProviderAllowedError(RoutingError):
    """Every provider was excluded by the allow-list or the budgets (or none is configured)."""


class ProvidersFailedError(RoutingError):
    """Every eligible provider was tried and failed with a non-retryable error."""


class ProvidersUnavailableError(RoutingError):
    """Providers failed or were skipped for reasons that can pass (timeouts, open circuits)."""

    retryable = True
