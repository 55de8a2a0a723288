"""`LocalProvider`: in-process models (the offline defaults) behind the `Provider` seam."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TypeVar

import anyio.to_thread
from pydantic import BaseModel, JsonValue

from agents.router._errors import LocalModelError, ProviderResponseError, UnknownModelError
from agents.router._types import (
    FREE,
    Clock,
    Completion,
    CompletionRequest,
    Embeddings,
    ModelPrice,
    parse_json,
)
from schemas.results import ModelUsage

LocalOutput = str | BaseModel | JsonValue
"""What a local model returns: text, a pydantic model, or JSON-like data."""

LocalModel = Callable[[CompletionRequest], LocalOutput]
"""A local model: a plain (synchronous) function of the request."""

LocalEmbedder = Callable[[Sequence[str]], Sequence[Sequence[float]]]
"""A local embedding model: one vector per text, in order."""

T = TypeVar("T")


def count_tokens(text: str) -> int:
    """Tokens as local models count them: whitespace-separated words."""
    return len(text.split())


class LocalProvider:
    """Models that run in this process, looked up by name; they cost nothing.

    Models are synchronous and usually CPU-bound (scikit-learn), so by default each call
    runs in a worker thread and does not stall the event loop.

    Args:
        models: Completion models by name.
        embedders: Embedding models by name.
        name: The provider's name in routes and allow-lists.
        clock: Monotonic seconds, for the recorded latency.
        offload: Run models in a worker thread (turn off for trivial models in tests).
    """

    def __init__(
        self,
        models: Mapping[str, LocalModel] | None = None,
        *,
        embedders: Mapping[str, LocalEmbedder] | None = None,
        name: str = "local",
        clock: Clock = time.monotonic,
        offload: bool = True,
    ) -> None:
        self._name = name
        self._models = dict(models or {})
        self._embedders = dict(embedders or {})
        self._clock = clock
        self._offload = offload

    @property
    def name(self) -> str:
        """The provider's name."""
        return self._name

    def price(self, model: str) -> ModelPrice | None:
        """Local models are free; ``None`` for a model this provider does not have."""
        return FREE if model in self._models or model in self._embedders else None

    def __repr__(self) -> str:
        return f"LocalProvider(name={self._name!r}, models={sorted(self._models)!r})"

    async def complete(self, request: CompletionRequest) -> Completion:
        """Run the named model on ``request``.

        Raises:
            UnknownModelError: No model of that name (or no name and several models).
            LocalModelError: The model raised.
            ProviderResponseError: JSON was asked for and the model's text is not JSON.
        """
        model = self._pick(request.model, self._models)
        started = self._clock()
        output = await self._run(model, partial(self._models[model], request))
        latency_ms = (self._clock() - started) * 1000
        parsed: JsonValue = None
        if isinstance(output, BaseModel):
            parsed = output.model_dump(mode="json")
            text = output.model_dump_json()
        elif isinstance(output, str):
            text = output
            if request.json_output:
                try:
                    parsed = parse_json(output)
                except ValueError as exc:
                    raise ProviderResponseError(
                        f"JSON was asked for but the model answered with text: {exc}",
                        provider=self._name,
                        model=model,
                    ) from exc
        else:
            parsed = output
            text = json.dumps(output, ensure_ascii=False)
        usage = ModelUsage(
            provider=self._name,
            model=model,
            input_tokens=sum(count_tokens(message.content) for message in request.messages),
            output_tokens=count_tokens(text),
            latency_ms=latency_ms,
        )
        return Completion(text=text, parsed=parsed, usage=usage, finish_reason="stop")

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> Embeddings:
        """Embed ``texts`` with the named local embedder.

        Raises:
            UnknownModelError: No embedder of that name (or no name and several).
            LocalModelError: The embedder raised or returned the wrong number of vectors.
        """
        name = self._pick(model, self._embedders)
        started = self._clock()
        vectors = await self._run(name, partial(self._embedders[name], list(texts)))
        latency_ms = (self._clock() - started) * 1000
        if len(vectors) != len(texts):
            raise LocalModelError(
                f"returned {len(vectors)} vectors for {len(texts)} texts",
                provider=self._name,
                model=name,
            )
        try:
            frozen = tuple(tuple(float(x) for x in vector) for vector in vectors)
        except (TypeError, ValueError) as exc:
            raise LocalModelError(
                f"returned a vector that is not numbers: {exc}", provider=self._name, model=name
            ) from exc
        usage = ModelUsage(
            provider=self._name,
            model=name,
            input_tokens=sum(count_tokens(text) for text in texts),
            latency_ms=latency_ms,
        )
        return Embeddings(vectors=frozen, usage=usage)

    def _pick(self, model: str | None, known: Mapping[str, object]) -> str:
        if model is None and len(known) == 1:
            return next(iter(known))
        if model is not None and model in known:
            return model
        raise UnknownModelError(
            f"no such local model (have: {', '.join(sorted(known)) or 'none'})",
            provider=self._name,
            model=model or "<default>",
        )

    async def _run(self, model: str, call: Callable[[], T]) -> T:
        try:
            if self._offload:
                return await anyio.to_thread.run_sync(call)
            return call()
        except Exception as exc:
            # Whatever a model raises is its own failure; the router may fall back.
            raise LocalModelError(
                f"{type(exc).__name__}: {exc}", provider=self._name, model=model
            ) from exc
