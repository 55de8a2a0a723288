"""The `Provider` seam and the values that cross it."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import JsonValue

from schemas.results import ModelUsage

Clock = Callable[[], float]
"""Monotonic seconds; injected so tests decide what time it is."""

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionRequest:
    """A chat-like call for one capability.

    Attributes:
        capability: What the call is for (``classify``, ``extract``...); picks the routes.
        messages: The conversation, oldest first.
        model: The model to use; the router sets it per route, ``None`` means the
            provider's default.
        max_output_tokens: Upper bound on the answer's length (also the cost estimate).
        temperature: Sampling temperature, ``None`` for the provider's default.
        json_output: Ask for a JSON answer and parse it into ``Completion.parsed``.
        allow_pii: Kinds of personal data a remote provider may see (``email``,
            ``phone``...: `agents.router.PII_KINDS`); every other kind is masked.
    """

    capability: str
    messages: tuple[Message, ...]
    model: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    json_output: bool = False
    allow_pii: frozenset[str] = frozenset()

    @classmethod
    def from_prompt(
        cls, capability: str, prompt: str, *, system: str | None = None, json_output: bool = False
    ) -> CompletionRequest:
        """A request of one user message, optionally after a system message."""
        messages = (Message("system", system),) if system is not None else ()
        return cls(
            capability=capability,
            messages=(*messages, Message("user", prompt)),
            json_output=json_output,
        )

    @property
    def prompt(self) -> str:
        """The last user message (what local models work on), or ``""``."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """A provider's answer to a `CompletionRequest`.

    Attributes:
        text: The answer as text.
        parsed: The answer as JSON when JSON was asked for (or the model is structured).
        usage: Provider, model, tokens, cost and latency of the call.
        finish_reason: Why generation stopped (``stop``, ``length``...), if known.
    """

    text: str
    parsed: JsonValue = None
    usage: ModelUsage
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Embeddings:
    """Vectors for a list of texts, in the same order."""

    vectors: tuple[tuple[float, ...], ...]
    usage: ModelUsage


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """What a model costs, in USD per million tokens."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0

    def cost(self, input_tokens: int, output_tokens: int = 0) -> float:
        """The price of a call with these token counts, in USD."""
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


FREE = ModelPrice()


class Provider(Protocol):
    """The one seam to models: a named source of completions and embeddings.

    A provider translates its own failures into `ProviderError`; it never retries on
    another provider (that is the router's job).
    """

    @property
    def name(self) -> str:
        """The name routes and allow-lists refer to."""
        ...

    def price(self, model: str) -> ModelPrice | None:
        """The price of ``model`` at this provider, ``None`` if it is not known."""
        ...

    async def complete(self, request: CompletionRequest) -> Completion:
        """Answer a chat-like request."""
        ...

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> Embeddings:
        """Embed ``texts`` with ``model`` (``None``: the provider's default)."""
        ...


def estimate_tokens(text: str) -> int:
    """A rough token count for budgeting (about four characters per token)."""
    return math.ceil(len(text) / 4)


def strip_json_fence(text: str) -> str:
    """``text`` without a surrounding Markdown code fence, which chat models like to add."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and len(stripped) >= 6:
        body = stripped[3:-3]
        first_newline = body.find("\n")
        # The fence may name a language (```json); that word is not part of the JSON.
        if first_newline != -1 and body[:first_newline].strip().isalpha():
            body = body[first_newline + 1 :]
        return body.strip()
    return stripped


def parse_json(text: str) -> JsonValue:
    """Parse a model's JSON answer; raises ValueError if it is not JSON."""
    value: JsonValue = json.loads(strip_json_fence(text))
    return value
