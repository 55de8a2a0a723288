"""What the built-in task agents share: the document's text and a routed model call."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import anyio.to_thread
from pydantic import BaseModel

from agents.documents import read_text
from agents.errors import EmptyDocument
from agents.router import CompletionRequest, Constraints
from agents.runtime import Outcome
from agents.spec import AgentContext
from schemas import ClassifyOutput, ExtractOutput, RespondOutput, ScoreOutput, TaskRequested

OutputT = TypeVar("OutputT", ClassifyOutput, ExtractOutput, ScoreOutput, RespondOutput)


_TEXTS: OrderedDict[tuple[str, str], str] = OrderedDict()
_TEXTS_LOCK = threading.Lock()
TEXTS_KEPT = 64
"""Documents whose text this process keeps (the most recent): the agents of one process
(`caseyard up`) read each document once, not once each (an OCR'd scan takes seconds)."""


async def document_text(context: AgentContext, task: TaskRequested) -> str:
    """The text of the task's document (read from the blob store, parsed off the loop)."""
    ref = task.input.document
    if ref is None:
        raise EmptyDocument(f"task {task.task_id} carries no document")
    key = (ref.sha256, ref.media_type)  # content-addressed: the same key, the same text
    with _TEXTS_LOCK:
        text = _TEXTS.get(key)
    if text is not None:
        return text
    data = await anyio.to_thread.run_sync(context.blobs.get, ref)
    text = await anyio.to_thread.run_sync(read_text, data, ref.media_type)
    with _TEXTS_LOCK:
        _TEXTS[key] = text
        _TEXTS.move_to_end(key)
        while len(_TEXTS) > TEXTS_KEPT:
            _TEXTS.popitem(last=False)
    return text


def instructions(output: type[BaseModel], what: str) -> str:
    """A system prompt asking a remote model for `output` as JSON."""
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
    # falls back to the next route, as for an error.
    routed = await context.router.complete(
        request,
        Constraints.from_task(task),
        check=lambda completion: output.model_validate(completion.parsed),
    )
    value = output.model_validate(routed.response.parsed)
    return value, Outcome(value, routed.usage)


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
