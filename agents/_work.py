"""What the built-in task agents share: the document's text and a routed model call."""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import anyio.to_thread
from pydantic import BaseModel

from agents.documents import TextBox, read_text_boxes_bounded
from agents.errors import EmptyDocument
from agents.router import CompletionRequest, Constraints
from agents.runtime import Outcome
from agents.spec import AgentContext
from bus.errors import ConfigError
from schemas import (
    ClassifyOutput,
    ExtractOutput,
    ModelHop,
    RespondOutput,
    ScoreOutput,
    TaskRequested,
)

OutputT = TypeVar("OutputT", ClassifyOutput, ExtractOutput, ScoreOutput, RespondOutput)


_TEXTS: OrderedDict[tuple[str, str], tuple[str, tuple[TextBox, ...]]] = OrderedDict()
_TEXTS_LOCK = threading.Lock()
TEXTS_KEPT = 64
"""Documents whose text this process keeps (the most recent): the agents of one process
(`caseyard up`) read each document once, not once each (an OCR'd scan takes seconds)."""


async def document_text(context: AgentContext, task: TaskRequested) -> str:
    """The text of the task's document (read from the blob store, parsed off the loop)."""
    text, _ = await document_read(context, task)
    return text


async def document_read(
    context: AgentContext, task: TaskRequested
) -> tuple[str, tuple[TextBox, ...]]:
    """The text of the task's document and, where OCR read it, its words' places and
    confidences (none otherwise)."""
    ref = task.input.document
    if ref is None:
        raise EmptyDocument(f"task {task.task_id} carries no document")
    key = (ref.sha256, ref.media_type)  # content-addressed: the same key, the same text
    with _TEXTS_LOCK:
        read = _TEXTS.get(key)
    if read is not None:
        return read
    data = await anyio.to_thread.run_sync(context.blobs.get, ref)
    read = await read_text_boxes_bounded(data, ref.media_type)
    with _TEXTS_LOCK:
        _TEXTS[key] = read
        _TEXTS.move_to_end(key)
        while len(_TEXTS) > TEXTS_KEPT:
            _TEXTS.popitem(last=False)
    return read


@functools.lru_cache(maxsize=128)
def instructions(output: type[BaseModel], what: str) -> str:
    """A system prompt asking a remote model for `output` as JSON.

    Made once per output type and request: pydantic's JSON schema takes ~0.8 ms to build
    and kept a little memory each time (found in a soak's tracemalloc diff), and every
    model call of every task asks for one."""
    schema = json.dumps(output.model_json_schema(), separators=(",", ":"))
    return f"{what} Answer with one JSON object matching this JSON schema, nothing else: {schema}"


async def ask(
    context: AgentContext, task: TaskRequested, prompt: str, output: type[OutputT], what: str
) -> tuple[OutputT, Outcome]:
    """Route one call for the task's capability and read the answer as `output`."""
    request = replace(
        CompletionRequest.from_prompt(
            task.capability, prompt, system=instructions(output, what), json_output=True
        ),
        # Personal data is masked before any remote model unless the step allows its kind.
        allow_pii=frozenset(
            kind.strip()
            for kind in task.input.parameters.get("allow_pii", "").split(",")
            if kind.strip()
        ),
    )
    # An answer that is not a valid `output` is that provider's failure: the router
    # falls back to the next route, as for an error. A step asking for `min_confidence`
    # cascades: an answer less sure than that goes on to the next route.
    threshold = _min_confidence(task)
    routed = await context.router.complete(
        request,
        Constraints.from_task(task),
        check=lambda completion: output.model_validate(completion.parsed),
        confidence=lambda completion: confidence_of(output.model_validate(completion.parsed)),
        min_confidence=threshold,
    )
    value = output.model_validate(routed.response.parsed)
    if len(routed.attempts) == 1:
        return value, Outcome(value, routed.usage)
    hops = tuple(
        ModelHop(
            provider=a.provider,
            model=a.model,
            outcome=a.outcome.value,
            confidence=a.confidence,
            cost_usd=a.usage.cost_usd if a.usage is not None else 0.0,
            latency_ms=a.latency_ms,
            reason=a.reason,
        )
        for a in routed.attempts
    )
    return value, Outcome(value, routed.spent, hops)


def confidence_of(output: BaseModel) -> float:
    """How sure an output is: a classification's confidence; extracted fields' least
    confident one (no field: 0, nothing was found); otherwise sure."""
    if isinstance(output, ClassifyOutput):
        return output.confidence
    if isinstance(output, ExtractOutput):
        return min((f.confidence for f in output.fields), default=0.0)
    return 1.0


def _min_confidence(task: TaskRequested) -> float | None:
    written = task.input.parameters.get("min_confidence")
    if written is None:
        return None
    try:
        value = float(written)
    except ValueError:
        raise ConfigError(f"min_confidence {written!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"min_confidence {value} is not between 0 and 1")
    return value


T = TypeVar("T")


def once(build: Callable[[], T]) -> Callable[[], T]:
    """`build()` on first call only (thread-safe): models load lazily, in a worker thread."""
    lock = threading.Lock()
    built: list[T] = []

    def get() -> T:
        with lock:
            if not built:
                built.append(build())
            return built[0]

    return get


def prior(task: TaskRequested, kind: type[OutputT]) -> OutputT | None:
    """The first earlier step output of type `kind` the task was given."""
    for output in task.input.prior.values():
        if isinstance(output, kind):
            return output
    return None
