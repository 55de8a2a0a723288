"""OpenAICompatibleProvider against a real HTTP server on 127.0.0.1 that speaks the API."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route as HttpRoute

from agents._work import ask
from agents.router import (
    CompletionRequest,
    Constraints,
    LocalProvider,
    ModelPrice,
    OpenAICompatibleProvider,
    Outcome,
    ProviderAuthError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    Route,
    Router,
    retry_after_seconds,
)
from agents.spec import AgentContext
from bus.errors import ConfigError
from schemas import ClassifyOutput, DocType, Producer, TaskRequested
from schemas.blobs import BlobStore
from schemas.testing import example_events

PRODUCER = Producer(service="classifier", version="test")

READ_TIMEOUT = 0.2
SLOW = 0.6
"""How long a slow answer takes: well past READ_TIMEOUT, short enough for a quick shutdown."""


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``body=None`` means the normal API answer."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


class FakeApi:
    """An OpenAI-compatible server whose answers each test scripts, served by uvicorn."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._seen: list[Seen] = []
        self.app = Starlette(
            routes=[
                HttpRoute("/v1/chat/completions", self._chat, methods=["POST"]),
                HttpRoute("/v1/embeddings", self._embeddings, methods=["POST"]),
                HttpRoute("/health", self._health, methods=["GET"]),
            ]
        )
        self.url = ""

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._seen.clear()

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        last = body["messages"][-1]["content"]
        return await self._answer(
            request,
            body,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"echo: {last}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
            },
        )

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        # Reversed on purpose: clients must put vectors back in order by `index`.
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 1.0, 0.5]}
            for i, text in reversed(list(enumerate(body["input"])))
        ]
        return await self._answer(
            request,
            body,
            {
                "object": "list",
                "model": body["model"],
                "data": data,
                "usage": {"prompt_tokens": 7, "total_tokens": 7},
            },
        )

    async def _answer(self, request: Request, body: Any, normal: Any) -> Response:
        with self._lock:
            self._seen.append(Seen(request.url.path, dict(request.headers), body))
            reply = self._script.popleft() if self._script else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return Response(reply.raw, reply.status, reply.headers, media_type="application/json")
        return JSONResponse(
            normal if reply.body is None else reply.body, reply.status, reply.headers
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[FakeApi]:
    """The fake API on a free port, in a background thread, for this module's tests."""
    api = FakeApi()
    config = uvicorn.Config(
        api.app,
        lifespan="off",
        log_level="critical",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=5,
    )
    uv = uvicorn.Server(config)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        api.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            wait_until_answering(f"{api.url}/health")
            yield api
        finally:
            uv.should_exit = True
            thread.join(timeout=10)
    assert not thread.is_alive(), "the test server did not stop"


def wait_until_answering(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while True:
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.01)


@pytest.fixture
def api(server: FakeApi) -> FakeApi:
    server.reset()
    return server


class Sleeps:
    """Records the waits between retries instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


PRICES = {"small": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)}


@pytest.fixture
async def provider(api: FakeApi, sleeps: Sleeps) -> AsyncIterator[OpenAICompatibleProvider]:
    async with OpenAICompatibleProvider(
        api.url,
        model="small",
        api_key="sk-test",
        name="endpoint",
        embedding_model="embedder",
        prices=PRICES,
        connect_timeout=1.0,
        read_timeout=READ_TIMEOUT,
        max_retries=2,
        max_retry_wait=10.0,
        sleep=sleeps,
    ) as opened:
        yield opened


REQUEST = CompletionRequest.from_prompt("classify", "hello there", system="be brief")


@pytest.mark.anyio
async def test_chat_answer_with_usage_and_cost(
    provider: OpenAICompatibleProvider, api: FakeApi
) -> None:
    completion = await provider.complete(REQUEST)

    assert completion.text == "echo: hello there"
    assert completion.parsed is None
    assert completion.finish_reason == "stop"
    usage = completion.usage
    assert (usage.provider, usage.model) == ("endpoint", "small")
    assert (usage.input_tokens, usage.output_tokens) == (12, 5)
    assert usage.cost_usd == pytest.approx((12 * 1.0 + 5 * 2.0) / 1e6)
    assert usage.latency_ms > 0
    [seen] = api.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.body == {
        "model": "small",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
    }


@pytest.mark.anyio
async def test_request_options_and_json_answer(
    provider: OpenAICompatibleProvider, api: FakeApi
) -> None:
    answer = {
        "choices": [{"message": {"content": '```json\n{"doc_type": "invoice"}\n```'}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    api.script(Reply(body=answer))
    request = CompletionRequest(
        capability="classify",
        messages=REQUEST.messages,
        model="other",
        max_output_tokens=50,
        temperature=0.0,
        json_output=True,
    )

    completion = await provider.complete(request)

    assert completion.parsed == {"doc_type": "invoice"}
    assert completion.finish_reason is None
    # No price for "other": the call is recorded, at no known cost.
    assert (completion.usage.model, completion.usage.cost_usd) == ("other", 0.0)
    sent = api.seen[0].body
    assert (sent["model"], sent["max_tokens"], sent["temperature"]) == ("other", 50, 0.0)
    assert sent["response_format"] == {"type": "json_object"}


@pytest.mark.anyio
async def test_embeddings_in_input_order(provider: OpenAICompatibleProvider, api: FakeApi) -> None:
    embeddings = await provider.embed(["a", "bbb"])

    assert embeddings.vectors == ((1.0, 1.0, 0.5), (3.0, 1.0, 0.5))
    assert (embeddings.usage.model, embeddings.usage.input_tokens) == ("embedder", 7)
    [seen] = api.seen
    assert seen.path == "/v1/embeddings"
    assert seen.body == {"model": "embedder", "input": ["a", "bbb"]}


@pytest.mark.anyio
async def test_base_url_with_v1_is_not_doubled(api: FakeApi) -> None:
    async with OpenAICompatibleProvider(f"{api.url}/v1/", model="small") as provider:
        assert (await provider.complete(REQUEST)).text == "echo: hello there"
    assert api.seen[0].path == "/v1/chat/completions"
    assert "authorization" not in api.seen[0].headers


@pytest.mark.anyio
async def test_slow_answer_is_a_retryable_timeout(
    provider: OpenAICompatibleProvider, api: FakeApi, sleeps: Sleeps
) -> None:
    api.script(Reply(delay=SLOW))

    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError, match=f"no answer within {READ_TIMEOUT}s") as caught:
        await provider.complete(REQUEST)

    assert time.monotonic() - started < SLOW
    assert caught.value.retryable
    assert (caught.value.provider, caught.value.model) == ("endpoint", "small")
    assert sleeps.waits == [], "timeouts are left to the router, not retried in place"


@pytest.mark.anyio
async def test_unreachable_server_is_retryable() -> None:
    async with OpenAICompatibleProvider(
        f"http://127.0.0.1:{free_port()}", model="small", connect_timeout=1.0
    ) as provider:
        with pytest.raises(ProviderUnavailableError) as caught:
            await provider.complete(REQUEST)
    assert caught.value.retryable


@pytest.mark.anyio
async def test_429_waits_retry_after_seconds_then_succeeds(
    provider: OpenAICompatibleProvider, api: FakeApi, sleeps: Sleeps
) -> None:
    api.script(
        Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "2"}),
        Reply(),
    )

    completion = await provider.complete(REQUEST)

    assert completion.text == "echo: hello there"
    assert sleeps.waits == [2.0]
    assert len(api.seen) == 2


@pytest.mark.anyio
async def test_429_with_an_http_date(
    provider: OpenAICompatibleProvider, api: FakeApi, sleeps: Sleeps
) -> None:
    # Whole seconds, counted from when the reply is read: a margin for a busy machine
    # (a date 3 s ahead gave a wait under 1 s once, when the test stalled).
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=9), usegmt=True)
    api.script(Reply(429, headers={"Retry-After": when}), Reply())

    await provider.complete(REQUEST)

    [wait] = sleeps.waits
    assert 4.0 < wait <= 9.0  # under the provider's max_retry_wait of 10


@pytest.mark.anyio
async def test_500_backs_off_then_succeeds(
    provider: OpenAICompatibleProvider, api: FakeApi, sleeps: Sleeps
) -> None:
    api.script(Reply(500, {"error": {"message": "boom"}}), Reply(503), Reply())

    embeddings = await provider.embed(["x"])

    assert embeddings.vectors == ((1.0, 1.0, 0.5),)
    assert sleeps.waits == [0.5, 1.0], "no Retry-After: exponential backoff"


@pytest.mark.anyio
async def test_retries_are_bounded(
    provider: OpenAICompatibleProvider, api: FakeApi, sleeps: Sleeps
) -> None:
    api.script(*[Reply(500, {"error": {"message": "still broken"}})] * 5)

    with pytest.raises(ProviderUnavailableError, match="HTTP 500: still broken") as caught:
        await provider.complete(REQUEST)

    assert caught.value.retryable
    assert caught.value.status == 500
    assert len(api.seen) == 3, "the first call and max_retries=2 retries"
    assert len(sleeps.waits) == 2


@pytest.mark.anyio
async def test_a_wait_beyond_the_cap_is_not_waited(
    provider: OpenAICompatibleProvider, api: FakeApi, sleeps: Sleeps
) -> None:
    api.script(Reply(429, {"error": {"message": "quota"}}, headers={"Retry-After": "120"}))

    with pytest.raises(ProviderRateLimitedError, match="quota") as caught:
        await provider.complete(REQUEST)

    assert caught.value.retryable
    assert caught.value.retry_after == 120.0
    assert sleeps.waits == []
    assert len(api.seen) == 1


@pytest.mark.anyio
async def test_malformed_json_is_not_retryable(
    provider: OpenAICompatibleProvider, api: FakeApi
) -> None:
    api.script(Reply(raw=b'{"choices": [oops'))

    with pytest.raises(ProviderResponseError, match="not JSON") as caught:
        await provider.complete(REQUEST)

    assert not caught.value.retryable


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"usage": {"prompt_tokens": 1, "completion_tokens": 1}}, "no choices"),
        ({"choices": [], "usage": {}}, r"no choices\[0\]"),
        ({"choices": [{"message": {}}], "usage": {}}, r"no choices\[0\].message.content"),
        ({"choices": [{"message": {"content": "hi"}}]}, "no usage"),
        (
            {"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 1}},
            "no usage.completion_tokens",
        ),
        (
            {"choices": [{"message": {"content": 7}}], "usage": {}},
            r"choices\[0\].message.content is not a string",
        ),
        ([1, 2], "not a JSON object"),
    ],
)
async def test_missing_fields_are_named(
    provider: OpenAICompatibleProvider, api: FakeApi, body: Any, missing: str
) -> None:
    api.script(Reply(body=body))

    with pytest.raises(ProviderResponseError, match=missing) as caught:
        await provider.complete(REQUEST)

    assert not caught.value.retryable


@pytest.mark.anyio
async def test_json_output_that_is_not_json(
    provider: OpenAICompatibleProvider, api: FakeApi
) -> None:
    request = CompletionRequest.from_prompt("classify", "hi", json_output=True)

    with pytest.raises(ProviderResponseError, match=r"content is not JSON"):
        await provider.complete(request)


@pytest.mark.anyio
async def test_embeddings_of_the_wrong_shape(
    provider: OpenAICompatibleProvider, api: FakeApi
) -> None:
    api.script(
        Reply(body={"data": [{"index": 0, "embedding": [1.0]}], "usage": {"prompt_tokens": 1}}),
        Reply(body={"data": [{"index": 0, "embedding": ["x"]}], "usage": {"prompt_tokens": 1}}),
    )

    with pytest.raises(ProviderResponseError, match="1 embeddings for 2 texts"):
        await provider.embed(["a", "b"])
    with pytest.raises(ProviderResponseError, match=r"data\[0\].embedding is not a list"):
        await provider.embed(["a"])


@pytest.mark.anyio
async def test_401_carries_the_servers_message(
    provider: OpenAICompatibleProvider, api: FakeApi, sleeps: Sleeps
) -> None:
    api.script(Reply(401, {"error": {"message": "Incorrect API key provided"}}))

    with pytest.raises(ProviderAuthError, match="HTTP 401: Incorrect API key provided") as caught:
        await provider.complete(REQUEST)

    assert not caught.value.retryable
    assert caught.value.status == 401
    assert sleeps.waits == []
    assert "sk-test" not in str(caught.value)
    assert "sk-test" not in repr(provider)


@pytest.mark.anyio
async def test_other_4xx_is_rejected_with_the_servers_message(
    provider: OpenAICompatibleProvider, api: FakeApi
) -> None:
    api.script(Reply(400, {"error": {"message": "context too long"}}), Reply(404, raw=b"nope"))

    with pytest.raises(ProviderRejectedError, match="HTTP 400: context too long") as caught:
        await provider.complete(REQUEST)
    assert not caught.value.retryable
    assert not caught.value.provider_fault
    with pytest.raises(ProviderRejectedError, match="HTTP 404: nope"):
        await provider.complete(REQUEST)


@pytest.mark.anyio
async def test_must_be_opened_before_use() -> None:
    provider = OpenAICompatibleProvider("http://127.0.0.1:1", model="m")
    with pytest.raises(RuntimeError, match="async with"):
        await provider.complete(REQUEST)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("0.25", 0.25),
        ("-1", 0.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_retry_after_date_in_the_future() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("Tue, 01 Jan 2030 00:00:30 GMT", now=now) == 30.0


@pytest.mark.anyio
async def test_router_falls_back_from_a_timeout_to_the_next_endpoint(
    api: FakeApi, sleeps: Sleeps
) -> None:
    api.script(Reply(delay=SLOW))
    async with (
        OpenAICompatibleProvider(
            api.url, model="big", name="primary", read_timeout=READ_TIMEOUT, sleep=sleeps
        ) as primary,
        OpenAICompatibleProvider(
            api.url, model="small", name="secondary", prices=PRICES, sleep=sleeps
        ) as secondary,
    ):
        router = Router(
            [primary, secondary],
            {"classify": [Route("primary", "big"), Route("secondary", "small")]},
        )
        routed = await router.complete(REQUEST)

    assert routed.provider == "secondary"
    assert routed.usage.cost_usd > 0
    first, second = routed.attempts
    assert (first.outcome, first.error, first.retryable) == (
        Outcome.FAILED,
        "ProviderTimeoutError",
        True,
    )
    assert second.outcome is Outcome.SERVED
    assert [seen.body["model"] for seen in api.seen] == ["big", "small"]


@pytest.mark.anyio
async def test_router_falls_back_from_500s_to_a_local_model(api: FakeApi, sleeps: Sleeps) -> None:
    api.script(*[Reply(500)] * 3)
    local = LocalProvider({"echo": lambda request: f"local: {request.prompt}"}, offload=False)
    async with OpenAICompatibleProvider(
        api.url, model="small", name="remote", prices=PRICES, sleep=sleeps
    ) as remote:
        router = Router(
            [remote, local], {"classify": [Route("remote", "small"), Route("local", "echo")]}
        )
        routed = await router.complete(REQUEST, Constraints(max_cost_usd=1.0))

    assert routed.response.text == "local: hello there"
    assert [a.outcome for a in routed.attempts] == [Outcome.FAILED, Outcome.SERVED]
    assert routed.attempts[0].error == "ProviderUnavailableError"
    assert len(api.seen) == 3


# -- a confidence cascade: the local model, then the endpoint ------------------------------


def chat_answer(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "model": "small",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
    }


def unsure_local() -> LocalProvider:
    unsure = ClassifyOutput(doc_type=DocType.COMPLAINT, confidence=0.41)
    return LocalProvider({"doctype": lambda request: unsure}, offload=False)


def cascade_task(min_confidence: str | None) -> TaskRequested:
    task = next(e for e in example_events() if isinstance(e, TaskRequested))
    parameters = {} if min_confidence is None else {"min_confidence": min_confidence}
    return task.model_copy(
        update={
            "capability": "classify",
            "allowed_models": (),
            "max_cost_usd": None,
            "max_latency_ms": None,
            "input": task.input.model_copy(update={"parameters": parameters}),
        }
    )


def cascade_context(router: Router, tmp_path: Path) -> AgentContext:
    return AgentContext(
        blobs=BlobStore(tmp_path), router=router, state_dir=tmp_path, producer=PRODUCER
    )


@pytest.mark.anyio
async def test_an_unsure_local_answer_goes_to_the_endpoint_and_both_are_recorded(
    provider: OpenAICompatibleProvider, api: FakeApi, tmp_path: Path
) -> None:
    sure = ClassifyOutput(doc_type=DocType.FRAUD_REPORT, confidence=0.93)
    api.script(Reply(body=chat_answer(sure.model_dump_json())))
    router = Router(
        [unsure_local(), provider],
        {"classify": [Route("local", "doctype"), Route("endpoint", "small")]},
    )
    context = cascade_context(router, tmp_path)

    value, outcome = await ask(context, cascade_task("0.8"), "I was scammed", ClassifyOutput, "x")

    assert value == sure and outcome.output == sure
    local, remote = outcome.hops
    assert (local.provider, local.outcome, local.confidence) == ("local", "unsure", 0.41)
    assert (remote.provider, remote.model, remote.outcome, remote.confidence) == (
        "endpoint",
        "small",
        "served",
        0.93,
    )
    # What the task cost is both calls (the local one's tokens too), named after the answer.
    assert outcome.usage.provider == "endpoint" and outcome.usage.input_tokens > 40
    # The endpoint was asked for structured output (the JSON schema of the answer).
    assert api.seen[-1].body["response_format"]["type"] in ("json_object", "json_schema")

    # Without min_confidence the local answer serves and nothing else is asked.
    seen = len(api.seen)
    value, outcome = await ask(context, cascade_task(None), "I was scammed", ClassifyOutput, "x")
    assert value.confidence == 0.41 and outcome.hops == () and len(api.seen) == seen


@pytest.mark.anyio
async def test_a_malformed_endpoint_answer_leaves_the_unsure_local_one(
    provider: OpenAICompatibleProvider, api: FakeApi, tmp_path: Path
) -> None:
    api.script(Reply(body=chat_answer('{"doc_type": "invoice"')))  # cut short
    router = Router(
        [unsure_local(), provider],
        {"classify": [Route("local", "doctype"), Route("endpoint", "small")]},
    )
    value, outcome = await ask(
        cascade_context(router, tmp_path), cascade_task("0.8"), "x", ClassifyOutput, "x"
    )
    assert (value.doc_type, value.confidence) == (DocType.COMPLAINT, 0.41)
    assert [h.outcome for h in outcome.hops] == ["unsure", "failed"]


@pytest.mark.anyio
@pytest.mark.parametrize("bad", ["high", "1.5"])
async def test_a_bad_min_confidence_is_a_config_error(
    provider: OpenAICompatibleProvider, tmp_path: Path, bad: str
) -> None:
    router = Router([unsure_local()], {"classify": [Route("local", "doctype")]})
    with pytest.raises(ConfigError, match="min_confidence"):
        await ask(cascade_context(router, tmp_path), cascade_task(bad), "x", ClassifyOutput, "x")
