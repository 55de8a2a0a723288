"""Case lifecycle: what the coordinator decided and did, the audit trail of a case.

``TimerFired`` lives here too: the coordinator produces it into its own input when a
timer in saga state is due, so firing is part of the same transaction and replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.blobs import DocumentRef, Sha256Hex
from schemas.envelope import Event, UtcDatetime


class CaseEvent(Event):
    """Base of the events in a case's log, chained by hash so edits are detectable."""

    previous_hash: Sha256Hex | None = Field(
        default=None,
        description="Hex sha256 of the previous event in this case's log; None for the first.",
    )


class CaseOpened(CaseEvent):
    """The coordinator started a saga for a submitted case."""

    event_type: ClassVar[str] = "CaseOpened"

    pipeline: str = Field(min_length=1)
    pipeline_version: int = Field(ge=1)
    document: DocumentRef


class StepStarted(CaseEvent):
    """A step was dispatched as a task."""

    event_type: ClassVar[str] = "StepStarted"

    step: str = Field(min_length=1)
    capability: str = Field(min_length=1)
    task_id: str = Field(min_length=1)
    attempt: int = Field(ge=1)


class StepCompleted(CaseEvent):
    """A step's task completed and its output was accepted."""

    event_type: ClassVar[str] = "StepCompleted"

    step: str = Field(min_length=1)
    task_id: str = Field(min_length=1)
    attempt: int = Field(ge=1)


class StepFailed(CaseEvent):
    """A step attempt failed."""

    event_type: ClassVar[str] = "StepFailed"

    step: str = Field(min_length=1)
    task_id: str = Field(min_length=1)
    attempt: int = Field(ge=1)
    error_class: str = Field(min_length=1)
    message: str
    will_retry: bool = Field(description="Whether the coordinator schedules another attempt.")


class StepTimedOut(CaseEvent):
    """A step attempt passed its deadline without a result."""

    event_type: ClassVar[str] = "StepTimedOut"

    step: str = Field(min_length=1)
    task_id: str = Field(min_length=1)
    attempt: int = Field(ge=1)
    deadline: UtcDatetime


class Decision(StrEnum):
    """Outcome of a policy rule."""

    ALLOW = "allow"
    DENY = "deny"
    REDACT = "redact"
    ESCALATE = "escalate"


class PolicyDecision(CaseEvent):
    """A policy rule was evaluated; every decision is recorded for audit."""

    event_type: ClassVar[str] = "PolicyDecision"

    rule_id: str = Field(min_length=1)
    decision: Decision
    reason: str
    step: str | None = Field(default=None, description="The step the rule guarded, if any.")
    inputs: Mapping[str, str] = Field(
        default_factory=dict, description="The values the rule looked at, as text."
    )


class CaseEscalated(CaseEvent):
    """The case was handed to a human."""

    event_type: ClassVar[str] = "CaseEscalated"

    human_task_id: str = Field(min_length=1)
    queue: str = Field(min_length=1)
    reason: str
    step: str | None = None


class CaseHandedOff(CaseEvent):
    """A step's result handed the case to another pipeline: it ends here (a
    ``CaseCompleted`` with outcome ``handed-off`` follows) and goes on as a new case,
    ``to_case_id``, submitted to ``pipeline`` in the same transaction."""

    event_type: ClassVar[str] = "CaseHandedOff"

    step: str = Field(min_length=1, description="The step whose result decided it.")
    rule_id: str = Field(min_length=1, description="The step's hand-off rule that held.")
    pipeline: str = Field(min_length=1, description="The pipeline the case goes on in.")
    to_case_id: str = Field(min_length=1, description="The case it goes on as.")
    reason: str


class CompensationStarted(CaseEvent):
    """The coordinator began undoing a completed step."""

    event_type: ClassVar[str] = "CompensationStarted"

    step: str = Field(min_length=1, description="The step being compensated.")
    compensation: str = Field(min_length=1, description="The compensating step.")
    reason: str


class CompensationCompleted(CaseEvent):
    """A compensating step finished."""

    event_type: ClassVar[str] = "CompensationCompleted"

    step: str = Field(min_length=1)
    compensation: str = Field(min_length=1)


class CaseCompleted(CaseEvent):
    """The saga reached its end successfully."""

    event_type: ClassVar[str] = "CaseCompleted"

    outcome: str = Field(min_length=1, description="e.g. 'responded' or 'rejected'.")
    total_cost_usd: float = Field(default=0.0, ge=0.0)


class CaseFailed(CaseEvent):
    """The saga ended without success (after compensation, when any)."""

    event_type: ClassVar[str] = "CaseFailed"

    reason: str
    error_class: str | None = None
    step: str | None = Field(default=None, description="The step that failed, if any.")
    compensated: bool = Field(default=False, description="Whether compensation ran.")


class TimerPurpose(StrEnum):
    """Why a timer was set."""

    STEP_TIMEOUT = "step_timeout"
    RETRY_BACKOFF = "retry_backoff"
    HUMAN_SLA = "human_sla"
    CASE_DEADLINE = "case_deadline"


class TimerFired(Event):
    """A durable timer in saga state became due."""

    event_type: ClassVar[str] = "TimerFired"

    timer_id: str = Field(min_length=1)
    purpose: TimerPurpose
    due_at: UtcDatetime
