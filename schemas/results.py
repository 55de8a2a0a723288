"""Results: an agent reports how a task attempt went."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import Event
from schemas.payloads import TaskOutput
from schemas.tasks import CAPABILITY_PATTERN


class ModelUsage(BaseModel):
    """Which model produced an output and what it cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(min_length=1, description="e.g. 'local' or an endpoint name.")
    model: str = Field(min_length=1)
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0.0)
    latency_ms: float = Field(default=0.0, ge=0.0, description="Time spent in the model.")


class ModelHop(BaseModel):
    """One model a task's call went to: in a fallback or a confidence cascade, each."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    outcome: str = Field(
        min_length=1,
        description="served, unsure (below the confidence asked for), failed, not_allowed, "
        "over_budget or circuit_open",
    )
    confidence: float | None = Field(default=None, description="How sure its answer was.")
    cost_usd: float = Field(default=0.0, ge=0.0)
    latency_ms: float = Field(default=0.0, ge=0.0)
    reason: str = ""


class TaskCompleted(Event):
    """A task attempt succeeded; the output is recorded so replay never calls a model."""

    event_type: ClassVar[str] = "TaskCompleted"

    task_id: str = Field(min_length=1)
    capability: str = Field(pattern=CAPABILITY_PATTERN)
    attempt: int = Field(ge=1)
    output: TaskOutput
    usage: ModelUsage
    latency_ms: float = Field(ge=0.0, description="Wall time of the whole attempt.")
    hops: tuple[ModelHop, ...] = Field(
        default=(),
        description="Every model asked, in order, when more than one was (fallback or "
        "confidence cascade); `usage` then sums what they all cost.",
    )


class TaskFailed(Event):
    """A task attempt failed."""

    event_type: ClassVar[str] = "TaskFailed"

    task_id: str = Field(min_length=1)
    capability: str = Field(pattern=CAPABILITY_PATTERN)
    attempt: int = Field(ge=1)
    error_class: str = Field(min_length=1, description="e.g. 'ProviderTimeoutError'.")
    message: str
    retryable: bool = Field(description="Whether another attempt can succeed.")
