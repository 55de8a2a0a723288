"""`OpenAICompatibleProvider`: any endpoint that speaks OpenAI's chat and embeddings API.

That covers hosted APIs and local servers (vLLM, llama.cpp, Ollama) alike. httpx errors
never leave this module: they become the `ProviderError` that says what went wrong.
Personal data is masked in everything sent (`agents.router._pii`) unless the request
allows its kind or the provider is made with ``redact_pii=False``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import anyio
import httpx
import tenacity
from pydantic import JsonValue

from agents.router import _pii
from agents.router._errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from agents.router._types import (
    Clock,
    Completion,
    CompletionRequest,
    Embeddings,
    ModelPrice,
    parse_json,
)
from bus.errors import ConfigError
from schemas.results import ModelUsage

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"

# 408 and 429 are the 4xx answers that mean "later", not "never".
_TRY_LATER = frozenset({408, 429})


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delay-seconds or an HTTP date).

    Returns ``None`` when there is no usable header; a date in the past means 0.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _server_message(response: httpx.Response) -> str:
    """The error message in the body (OpenAI's ``{"error": {"message": ...}}`` or similar)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for candidate in (error, body.get("message"), body.get("detail")):
            if isinstance(candidate, str):
                return candidate
    return json.dumps(body)[:300]


class _Payload:
    """A decoded response body; a missing or mistyped field becomes ProviderResponseError."""

    def __init__(self, body: Mapping[str, Any], provider: str, model: str) -> None:
        self._body = body
        self._provider = provider
        self._model = model

    def get(self, *path: str | int) -> Any:
        value: Any = self._body
        for depth, key in enumerate(path):
            missing = (
                not isinstance(value, list) or not 0 <= key < len(value)
                if isinstance(key, int)
                else not isinstance(value, dict) or value.get(key) is None
            )
            if missing:
                raise self.error(f"the response has no {_dotted(path[: depth + 1])}")
            value = value[key]
        return value

    def text(self, *path: str | int) -> str:
        value = self.get(*path)
        if not isinstance(value, str):
            raise self.error(f"{_dotted(path)} is not a string")
        return value

    def count(self, *path: str | int) -> int:
        value = self.get(*path)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(f"{_dotted(path)} is not a token count: {value!r}")
        return value

    def error(self, message: str) -> ProviderResponseError:
        return ProviderResponseError(message, provider=self._provider, model=self._model)


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else f".{key}" if out else key
    return out


class OpenAICompatibleProvider:
    """An OpenAI-compatible HTTP endpoint; an async context manager.

    Rate limits (429) and server errors (5xx, 408) are retried here, at most
    ``max_retries`` times: after ``Retry-After`` when the server sends it, else after
    ``backoff`` seconds doubling per retry. A wait longer than ``max_retry_wait`` is not
    waited: the error is raised at once so the router can try another provider. Timeouts
    and failed connections are not retried here; the time is already spent, and the
    router falls back. The loop is tenacity's; the decisions (`_retries`, `_wait`) ours.

    Args:
        base_url: The endpoint, e.g. ``http://127.0.0.1:8000`` (a trailing ``/v1`` is
            accepted too).
        model: Default chat model (a route names the model it wants).
        api_key: Sent as a bearer token; ``None`` for servers without authentication.
        name: The provider's name in routes and allow-lists.
        embedding_model: Default embedding model (default: ``model``).
        prices: Price per model name; the cost recorded for a call comes from here.
        connect_timeout: Seconds to connect.
        read_timeout: Seconds to wait for the answer.
        max_retries: Retries after a 429 or 5xx answer.
        max_retry_wait: Longest single wait before a retry, in seconds.
        backoff: First wait when the server does not say, in seconds.
        headers: Extra headers for every request.
        transport: An httpx transport (tests).
        clock: Monotonic seconds, for the recorded latency.
        sleep: How to wait between retries (tests record instead of sleeping).
        redact_pii: Mask personal data in what is sent (on by default).
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        name: str = "openai",
        embedding_model: str | None = None,
        prices: Mapping[str, ModelPrice] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_retries: int = 2,
        max_retry_wait: float = 10.0,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        redact_pii: bool = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"provider {name!r}: base URL must be http(s), got {base_url!r}")
        if max_retries < 0 or max_retry_wait < 0 or backoff < 0:
            raise ConfigError(f"provider {name!r}: retry settings must not be negative")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ConfigError(f"provider {name!r}: timeouts must be positive")
        root = base_url.rstrip("/")
        # OpenAI documents its base URL with /v1; accept both spellings without doubling it.
        self._base_url = root.removesuffix("/v1")
        self._model = model
        self._embedding_model = embedding_model or model
        self._name = name
        self._prices = dict(prices or {})
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        )
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._backoff = backoff
        self._headers = {"Accept": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._redact_pii = redact_pii
        self._http: httpx.AsyncClient | None = None

    @property
    def name(self) -> str:
        """The provider's name."""
        return self._name

    def price(self, model: str) -> ModelPrice | None:
        """The configured price of ``model``, ``None`` if the price table lacks it."""
        return self._prices.get(model)

    def __repr__(self) -> str:
        # Never the API key.
        return f"OpenAICompatibleProvider(name={self._name!r}, base_url={self._base_url!r})"

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers=self._headers,
            timeout=self._timeout,
            transport=self._transport,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def complete(self, request: CompletionRequest) -> Completion:
        """POST the request to ``/v1/chat/completions``.

        Raises:
            ProviderError: The subclass says what failed (see `agents.router`).
        """
        model = request.model or self._model
        body: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": m.role, "content": self._outgoing(m.content, request.allow_pii)}
                for m in request.messages
            ],
        }
        if request.max_output_tokens is not None:
            body["max_tokens"] = request.max_output_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.json_output:
            body["response_format"] = {"type": "json_object"}
        started = self._clock()
        payload = await self._post(CHAT_PATH, body, model)
        latency_ms = (self._clock() - started) * 1000
        text = payload.text("choices", 0, "message", "content")
        input_tokens = payload.count("usage", "prompt_tokens")
        output_tokens = payload.count("usage", "completion_tokens")
        parsed: JsonValue = None
        if request.json_output:
            try:
                parsed = parse_json(text)
            except ValueError as exc:
                raise payload.error(f"choices[0].message.content is not JSON: {exc}") from exc
        finish_reason = payload.get("choices", 0).get("finish_reason")
        return Completion(
            text=text,
            parsed=parsed,
            usage=self._usage(model, input_tokens, output_tokens, latency_ms),
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        )

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> Embeddings:
        """POST ``texts`` to ``/v1/embeddings``.

        Raises:
            ProviderError: The subclass says what failed (see `agents.router`).
        """
        name = model or self._embedding_model
        started = self._clock()
        sent = [self._outgoing(text, ()) for text in texts]
        payload = await self._post(EMBEDDINGS_PATH, {"model": name, "input": sent}, name)
        latency_ms = (self._clock() - started) * 1000
        data = payload.get("data")
        if not isinstance(data, list) or len(data) != len(texts):
            count = len(data) if isinstance(data, list) else "no"
            raise payload.error(f"data has {count} embeddings for {len(texts)} texts")
        vectors: list[tuple[float, ...]] = []
        # Servers may answer out of order; `index` says which input each vector belongs to.
        order = sorted(range(len(data)), key=lambda i: _index(data[i], i))
        for i in order:
            vector = payload.get("data", i, "embedding")
            if not isinstance(vector, list) or not all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in vector
            ):
                raise payload.error(f"data[{i}].embedding is not a list of numbers")
            vectors.append(tuple(float(x) for x in vector))
        input_tokens = payload.count("usage", "prompt_tokens")
        return Embeddings(
            vectors=tuple(vectors), usage=self._usage(name, input_tokens, 0, latency_ms)
        )

    def _outgoing(self, text: str, allow: Collection[str]) -> str:
        """What leaves for the endpoint: personal data masked unless allowed."""
        if not self._redact_pii:
            return text
        masked, counts = _pii.redact_pii(text, allow)
        if counts:
            log.info(
                "masked personal data before a remote model",
                extra={"provider": self._name, "masked": dict(counts)},
            )
        return masked

    def _usage(
        self, model: str, input_tokens: int, output_tokens: int, latency_ms: float
    ) -> ModelUsage:
        price = self._prices.get(model)
        return ModelUsage(
            provider=self._name,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=price.cost(input_tokens, output_tokens) if price else 0.0,
            latency_ms=max(0.0, latency_ms),
        )

    async def _post(self, path: str, body: Mapping[str, Any], model: str) -> _Payload:
        http = self._http
        if http is None:
            raise RuntimeError(f"open {self!r} with `async with` before use")
        retrying = tenacity.AsyncRetrying(
            retry=self._retries,
            wait=self._wait,
            stop=tenacity.stop_after_attempt(self._max_retries + 1),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._answer(http, path, body, model)
        raise AssertionError("unreachable: tenacity returns or re-raises")

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Before the next try: what the server asked for, else `backoff` doubling."""
        error = state.outcome.exception() if state.outcome is not None else None
        after = error.retry_after if isinstance(error, ProviderError) else None
        return after if after is not None else self._backoff * 2 ** (state.attempt_number - 1)

    def _retries(self, state: tenacity.RetryCallState) -> bool:
        """A 429, 408 or 5xx answer is tried again, unless the server asks for a longer
        wait than `max_retry_wait`: that is better left to the next provider."""
        error = state.outcome.exception() if state.outcome is not None else None
        return _try_later(error) and self._wait(state) <= self._max_retry_wait

    async def _answer(
        self, http: httpx.AsyncClient, path: str, body: Mapping[str, Any], model: str
    ) -> _Payload:
        """One request and what its answer says (an error is raised as it comes)."""
        response = await self._send(http, path, body, model)
        status = response.status_code
        if _try_later_status(status):
            raise self._try_later_error(response, model)
        if status in (401, 403):
            raise ProviderAuthError(
                f"HTTP {status}: {_server_message(response)}",
                provider=self._name,
                model=model,
                status=status,
            )
        if 400 <= status < 500:
            raise ProviderRejectedError(
                f"HTTP {status}: {_server_message(response)}",
                provider=self._name,
                model=model,
                status=status,
            )
        if not 200 <= status < 300:
            raise ProviderResponseError(
                f"unexpected HTTP {status}", provider=self._name, model=model, status=status
            )
        try:
            decoded = response.json()
        except ValueError as exc:
            raise ProviderResponseError(
                f"the response is not JSON: {response.text[:100]!r}",
                provider=self._name,
                model=model,
                status=status,
            ) from exc
        if not isinstance(decoded, dict):
            raise ProviderResponseError(
                f"the response is not a JSON object: {type(decoded).__name__}",
                provider=self._name,
                model=model,
                status=status,
            )
        return _Payload(decoded, self._name, model)

    async def _send(
        self, http: httpx.AsyncClient, path: str, body: Mapping[str, Any], model: str
    ) -> httpx.Response:
        try:
            return await http.post(path, json=body)
        except httpx.ConnectTimeout as exc:
            raise self._timeout_error(
                f"connect timed out after {self._timeout.connect}s", model
            ) from exc
        except httpx.ReadTimeout as exc:
            raise self._timeout_error(f"no answer within {self._timeout.read}s", model) from exc
        except httpx.TimeoutException as exc:
            raise self._timeout_error(f"timed out ({type(exc).__name__})", model) from exc
        except httpx.RequestError as exc:
            raise ProviderUnavailableError(
                f"{type(exc).__name__}: {exc}", provider=self._name, model=model
            ) from exc

    def _timeout_error(self, message: str, model: str) -> ProviderTimeoutError:
        return ProviderTimeoutError(message, provider=self._name, model=model)

    def _try_later_error(self, response: httpx.Response, model: str) -> ProviderError:
        status = response.status_code
        kind = ProviderRateLimitedError if status == 429 else ProviderUnavailableError
        return kind(
            f"HTTP {status}: {_server_message(response)}",
            provider=self._name,
            model=model,
            status=status,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )


def _try_later_status(status: int) -> bool:
    return status in _TRY_LATER or status >= 500


def _try_later(error: BaseException | None) -> bool:
    """An answer that says "later" (not a connection that failed: that is not retried)."""
    return (
        isinstance(error, ProviderUnavailableError)
        and error.status is not None
        and _try_later_status(error.status)
    )


def _index(item: object, default: int) -> int:
    if isinstance(item, dict):
        index = item.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
    return default
