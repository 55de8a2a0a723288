"""Human work: escalations waiting in the inbox, and the decisions people make."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.blobs import DocumentRef
from schemas.envelope import Event, UtcDatetime
from schemas.lifecycle import CaseEvent
from schemas.payloads import TaskOutput


class HumanTaskOpened(CaseEvent):
    """A case needs a person; the task appears in an inbox queue (in the case's chain, so
    its queue and evidence cannot be edited unnoticed)."""

    event_type: ClassVar[str] = "HumanTaskOpened"

    human_task_id: str = Field(min_length=1)
    queue: str = Field(min_length=1)
    reason: str
    document: DocumentRef | None = None
    evidence: Mapping[str, TaskOutput] = Field(
        default_factory=dict, description="Step outputs the reviewer needs, keyed by step."
    )
    sla_deadline: UtcDatetime


class HumanTaskClaimed(Event):
    """A person took a human task."""

    event_type: ClassVar[str] = "HumanTaskClaimed"

    human_task_id: str = Field(min_length=1)
    claimed_by: str = Field(min_length=1)


class DecisionAction(StrEnum):
    """What the person decided."""

    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"


class FieldPatch(BaseModel):
    """A correction to an extracted field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(min_length=1, description="Name of the extracted field.")
    value: str | None = Field(description="New value; None removes the field.")


class HumanDecision(Event):
    """A person decided a human task."""

    event_type: ClassVar[str] = "HumanDecision"

    human_task_id: str = Field(min_length=1)
    decided_by: str = Field(min_length=1)
    action: DecisionAction
    patches: tuple[FieldPatch, ...] = Field(default=(), description="Edits, for 'edit'.")
    comment: str | None = None
