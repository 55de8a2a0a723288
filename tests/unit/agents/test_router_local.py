"""LocalProvider: in-process models behind the Provider seam."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from agents.router import (
    FREE,
    CompletionRequest,
    LocalModelError,
    LocalProvider,
    Provider,
    ProviderResponseError,
    UnknownModelError,
    count_tokens,
)
from schemas.payloads import ClassifyOutput, DocType


class Ticks:
    """A clock that moves 5 ms per reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.005
        return self.now


def classify(request: CompletionRequest) -> ClassifyOutput:
    doc_type = DocType.INVOICE if "invoice" in request.prompt else DocType.OTHER
    return ClassifyOutput(doc_type=doc_type, confidence=0.9)


def shout(request: CompletionRequest) -> str:
    return request.prompt.upper()


def fail(request: CompletionRequest) -> str:
    raise ValueError("model file is corrupt")


def vectors(texts: Sequence[str]) -> list[list[float]]:
    return [[float(len(text)), 0.0] for text in texts]


@pytest.fixture
def local() -> LocalProvider:
    return LocalProvider(
        {"tfidf": classify, "shout": shout, "broken": fail},
        embedders={"lengths": vectors},
        clock=Ticks(),
    )


@pytest.mark.anyio
async def test_structured_model_output_is_parsed_json(local: LocalProvider) -> None:
    request = CompletionRequest(
        capability="classify",
        messages=CompletionRequest.from_prompt("classify", "an invoice for you").messages,
        model="tfidf",
    )

    completion = await local.complete(request)

    assert completion.parsed == {
        "kind": "classify",
        "doc_type": "invoice",
        "confidence": 0.9,
        "labels": [],
        "urgency": "normal",
    }
    assert ClassifyOutput.model_validate_json(completion.text).doc_type is DocType.INVOICE
    usage = completion.usage
    assert (usage.provider, usage.model, usage.cost_usd) == ("local", "tfidf", 0.0)
    assert usage.input_tokens == 4
    assert usage.output_tokens == count_tokens(completion.text)
    assert usage.latency_ms == pytest.approx(5.0)


@pytest.mark.anyio
async def test_text_output_counts_whitespace_tokens(local: LocalProvider) -> None:
    request = CompletionRequest.from_prompt("shout", "two words", system="be loud now")

    completion = await local.complete(_with_model(request, "shout"))

    assert completion.text == "TWO WORDS"
    assert completion.parsed is None
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (5, 2)


@pytest.mark.anyio
async def test_json_asked_for(local: LocalProvider) -> None:
    as_json = CompletionRequest.from_prompt("x", '{"a": [1, 2]}', json_output=True)
    local_json = LocalProvider({"echo": lambda request: request.prompt}, offload=False)
    assert (await local_json.complete(as_json)).parsed == {"a": [1, 2]}

    with pytest.raises(ProviderResponseError, match="answered with text") as caught:
        await local.complete(
            _with_model(CompletionRequest.from_prompt("x", "hi", json_output=True), "shout")
        )
    assert not caught.value.retryable


@pytest.mark.anyio
async def test_json_like_output() -> None:
    local = LocalProvider({"d": lambda request: {"score": 0.5, "reasons": ["x"]}}, offload=False)

    completion = await local.complete(CompletionRequest.from_prompt("score", "x"))

    assert completion.parsed == {"score": 0.5, "reasons": ["x"]}
    assert completion.text == '{"score": 0.5, "reasons": ["x"]}'


@pytest.mark.anyio
async def test_unknown_model(local: LocalProvider) -> None:
    with pytest.raises(UnknownModelError, match=r"have: broken, shout, tfidf") as caught:
        await local.complete(_with_model(CompletionRequest.from_prompt("x", "y"), "gpt"))
    assert not caught.value.retryable
    with pytest.raises(UnknownModelError, match="<default>"):
        await local.complete(CompletionRequest.from_prompt("x", "y"))


@pytest.mark.anyio
async def test_a_failing_model_is_translated(local: LocalProvider) -> None:
    with pytest.raises(LocalModelError, match="ValueError: model file is corrupt") as caught:
        await local.complete(_with_model(CompletionRequest.from_prompt("x", "y"), "broken"))
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.provider_fault


@pytest.mark.anyio
async def test_embeddings(local: LocalProvider) -> None:
    embeddings = await local.embed(["abc", "de fg"])

    assert embeddings.vectors == ((3.0, 0.0), (5.0, 0.0))
    assert (embeddings.usage.model, embeddings.usage.input_tokens) == ("lengths", 3)


def words(texts: Sequence[str]) -> Any:
    return [["a"] for _ in texts]


@pytest.mark.anyio
async def test_embedders_that_misbehave() -> None:
    local = LocalProvider(
        embedders={"short": lambda texts: [[1.0]], "words": words},
        offload=False,
    )
    with pytest.raises(LocalModelError, match="1 vectors for 2 texts"):
        await local.embed(["a", "b"], model="short")
    with pytest.raises(LocalModelError, match="not numbers"):
        await local.embed(["a"], model="words")


def test_prices_and_protocol(local: LocalProvider) -> None:
    provider: Provider = local
    assert provider.name == "local"
    assert provider.price("tfidf") == FREE
    assert provider.price("lengths") == FREE
    assert provider.price("gpt") is None
    assert "tfidf" in repr(local)


def test_request_prompt() -> None:
    request = CompletionRequest.from_prompt("x", "last", system="sys")
    assert request.prompt == "last"
    assert [m.role for m in request.messages] == ["system", "user"]
    assert CompletionRequest(capability="x", messages=()).prompt == ""


def _with_model(request: CompletionRequest, model: str) -> CompletionRequest:
    return CompletionRequest(
        capability=request.capability,
        messages=request.messages,
        model=model,
        json_output=request.json_output,
    )
