"""The model router of an agent process, from settings.

Per capability the routes are, in order: `model_routes` from settings if given; else the
agent's own offline models (`local/<name>`), then the OpenAI-compatible endpoint if one is
configured, so an outage of the endpoint falls back to nothing and an outage of a local
model to the endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from agents.router import (
    LocalModel,
    LocalProvider,
    ModelCallObserver,
    ModelPrice,
    OpenAICompatibleProvider,
    Provider,
    Route,
    Router,
    unobserved,
)
from caseyard.settings import Settings

REMOTE = "openai"


@asynccontextmanager
async def build_router(
    settings: Settings,
    capabilities: Sequence[str],
    local_models: Mapping[str, LocalModel],
    observe: ModelCallObserver = unobserved,
) -> AsyncIterator[Router]:
    """A router for `capabilities` over `local_models` and the configured endpoint; each
    call it makes is watched by `observe` (the process's telemetry: a span per call)."""
    async with AsyncExitStack() as stack:
        providers: list[Provider] = [LocalProvider(local_models)]
        remote: list[Route] = []
        if settings.openai_base_url:
            key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
            price = ModelPrice(settings.openai_price_in, settings.openai_price_out)
            provider = OpenAICompatibleProvider(
                settings.openai_base_url,
                model=settings.openai_model,
                api_key=key,
                name=REMOTE,
                prices={settings.openai_model: price},
                redact_pii=settings.openai_redact_pii,
            )
            providers.append(await stack.enter_async_context(provider))
            remote.append(Route(REMOTE, settings.openai_model))
        local = [Route("local", name) for name in local_models]
        routes = {
            capability: (
                [Route.parse(r) for r in settings.model_routes[capability]]
                if capability in settings.model_routes
                else [*local, *remote]
            )
            for capability in capabilities
        }
        yield Router(providers, routes, observe=observe)
