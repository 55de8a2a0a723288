"""Tasks: the coordinator asks an agent to perform a capability.

``TaskInput`` is deliberately generic but typed. A task gets the case document (a claim
check, never the content), string parameters taken from the pipeline step (which fields
to extract, which template to respond with) and the typed outputs of the earlier steps it
depends on, keyed by step name. That keeps the coordinator free of per-capability code:
it copies what the pipeline declares, and every value stays typed on the wire (Avro has
no "any JSON" type; a map of strings plus a map of ``TaskOutput`` records covers the
built-in capabilities without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.blobs import DocumentRef
from schemas.envelope import Event, UtcDatetime
from schemas.payloads import TaskOutput

CAPABILITY_PATTERN = r"^[a-z][a-z0-9_.-]*$"


class TaskInput(BaseModel):
    """What an agent gets to work on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    document: DocumentRef | None = Field(default=None, description="The case document.")
    parameters: Mapping[str, str] = Field(
        default_factory=dict, description="Step parameters from the pipeline definition."
    )
    prior: Mapping[str, TaskOutput] = Field(
        default_factory=dict, description="Outputs of earlier steps, keyed by step name."
    )
    arguments: str | None = Field(
        default=None,
        description="A tool step's arguments: a JSON object the coordinator evaluated "
        "from the step's expressions when it dispatched the task.",
    )


class TaskRequested(Event):
    """The coordinator asks for one attempt at one step of a case."""

    event_type: ClassVar[str] = "TaskRequested"

    task_id: str = Field(min_length=1, description="Idempotency key of the task.")
    step: str = Field(min_length=1, description="Pipeline step the task belongs to.")
    capability: str = Field(
        pattern=CAPABILITY_PATTERN, description="e.g. classify, extract, score, respond."
    )
    attempt: int = Field(ge=1, description="1 for the first try, then 2, 3...")
    input: TaskInput
    deadline: UtcDatetime = Field(description="Results after this are ignored.")
    allowed_models: tuple[str, ...] = Field(
        default=(),
        description=(
            "Models the agent may use: glob patterns matched against 'provider/model' "
            "or the bare model name (e.g. 'local/*'); empty allows any."
        ),
    )
    redact_fields: tuple[str, ...] = Field(
        default=(),
        description="Names of fields to redact before any model sees the document or outputs.",
    )
    max_cost_usd: float | None = Field(
        default=None, ge=0.0, description="What this attempt may spend; None is unbounded."
    )
    max_latency_ms: float | None = Field(
        default=None, ge=0.0, description="Wall time this attempt may use; None is unbounded."
    )
