"""What the inbox answers and accepts: pydantic models for the API (and its OpenAPI
document), which the pages render too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.documents import TextBox
from caseyard.cases import describe
from caseyard.errors import CaseyardError
from caseyard.inbox.auth import User
from caseyard.inbox.projection import CaseView, HumanTask, TaskStatus
from caseyard.inbox.service import Editable, Inbox
from schemas import (
    CaseCompleted,
    DecisionAction,
    DocumentRef,
    Event,
    ExtractedField,
    FieldPatch,
    HumanDecision,
    HumanTaskClaimed,
    PolicyDecision,
    TaskOutput,
)

_ENVELOPE = {"event_id", "case_id", "correlation_id", "causation_id", "producer", "previous_hash"}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(_Model):
    """Why a request was turned down."""

    detail: str


class DecisionSummary(_Model):
    """How a person decided a task."""

    action: DecisionAction
    decided_by: str
    decided_at: datetime
    patches: list[FieldPatch] = Field(default_factory=list)
    comment: str | None = None


class TaskSummary(_Model):
    """A human task in a queue."""

    id: str = Field(description="The human task id, '<case_id>/human/<n>'.")
    case_id: str
    queue: str
    reason: str
    status: TaskStatus
    claimed_by: str | None
    opened_at: datetime
    sla_deadline: datetime
    decision: DecisionSummary | None = None
    closed_because: str | None = Field(
        default=None, description="Why the task closed undecided (its case ended)."
    )


class TimelineEntry(_Model):
    """One event of a case's timeline."""

    at: datetime
    event_type: str
    summary: str
    data: dict[str, Any] = Field(description="The event's own fields.")


class TaskDetail(TaskSummary):
    """A human task with everything a reviewer needs to decide it."""

    case_status: str
    document: DocumentRef | None
    document_text: str | None
    document_boxes: list[TextBox] = Field(
        default_factory=list,
        description="Where the words of document_text were read on the pages of a scanned "
        "image (OCR): characters start..end, page from 0, the box as fractions of the page.",
    )
    document_error: str | None = Field(description="Why the document text is missing.")
    evidence: dict[str, TaskOutput] = Field(description="Step outputs, keyed by step.")
    editable_step: str | None = Field(
        description="The step whose extracted fields an 'edit' corrects; None: no edits."
    )
    editable_fields: list[ExtractedField]
    policy_decisions: list[TimelineEntry]


class TaskList(_Model):
    """Human tasks, the one due first first."""

    tasks: list[TaskSummary]


class TaskQuery(_Model):
    """Which tasks to list."""

    status: Literal["open", "decided", "closed", "all"] = "open"
    queue: str | None = Field(default=None, description="Only this queue.")


class DecisionRequest(_Model):
    """A decision on a human task. 'edit' corrects fields and approves them."""

    action: DecisionAction
    patches: list[FieldPatch] = Field(
        default_factory=list, description="Field corrections; required for 'edit' only."
    )
    comment: str | None = Field(default=None, max_length=2000)


class Timeline(_Model):
    """A case's status and its events as the inbox read them."""

    case_id: str
    status: str
    tasks: list[str]
    events: list[TimelineEntry]


def task_summary(task: HumanTask) -> TaskSummary:
    return TaskSummary(**_summary_fields(task))


def _summary_fields(task: HumanTask) -> dict[str, Any]:
    decision = task.decision
    return {
        "id": task.id,
        "case_id": task.case_id,
        "queue": task.queue,
        "reason": task.reason,
        "status": task.status,
        "claimed_by": task.claimed_by,
        "opened_at": task.opened_at,
        "sla_deadline": task.sla_deadline,
        "decision": None
        if decision is None
        else DecisionSummary(
            action=decision.action,
            decided_by=decision.decided_by,
            decided_at=decision.occurred_at,
            patches=list(decision.patches),
            comment=decision.comment,
        ),
        "closed_because": _closed_because(task),
    }


def _closed_because(task: HumanTask) -> str | None:
    if task.ended_by is None:
        return None
    return "its case completed" if isinstance(task.ended_by, CaseCompleted) else "its case failed"


def task_detail(
    task: HumanTask,
    case: CaseView,
    editable: Editable | None,
    text: str | None,
    problem: str | None,
    boxes: Sequence[TextBox] = (),
) -> TaskDetail:
    return TaskDetail(
        **_summary_fields(task),
        case_status=case.status,
        document=task.announced.document or case.document,
        document_text=text,
        document_boxes=list(boxes),
        document_error=problem,
        evidence=dict(task.evidence),
        editable_step=editable.step if editable is not None else None,
        editable_fields=list(editable.fields) if editable is not None else [],
        policy_decisions=[entry(e) for e in case.events if isinstance(e, PolicyDecision)],
    )


def timeline(case: CaseView) -> Timeline:
    return Timeline(
        case_id=case.case_id,
        status=case.status,
        tasks=list(case.tasks),
        events=[entry(e) for e in case.events],
    )


def entry(event: Event) -> TimelineEntry:
    return TimelineEntry(
        at=event.occurred_at,
        event_type=event.event_type,
        summary=summarize(event),
        data=event.model_dump(mode="json", exclude=_ENVELOPE | {"occurred_at", "evidence"}),
    )


def summarize(event: Event) -> str:
    """One line that says what an event means."""
    if isinstance(event, HumanTaskClaimed):
        return f"{event.human_task_id} claimed by {event.claimed_by}"
    if isinstance(event, HumanDecision):
        fields = ", ".join(f"{p.field}={p.value!r}" for p in event.patches)
        edited = f" ({fields})" if fields else ""
        return f"{event.human_task_id}: {event.action.value} by {event.decided_by}{edited}"
    if isinstance(event, PolicyDecision):
        return f"{event.rule_id}: {event.decision.value} ({event.reason})"
    decision, reason = describe(event)
    return " - ".join(part for part in (decision, reason) if part)


async def load_detail(inbox: Inbox, user: User, task_id: str) -> tuple[HumanTask, TaskDetail]:
    """The task `user` asked for and everything its page shows (the document's text, or
    why it cannot be read)."""
    task = inbox.task(user, task_id)
    case = inbox.case(user, task.case_id)
    text: str | None = None
    problem: str | None = None
    boxes: tuple[TextBox, ...] = ()
    try:
        text, boxes = await inbox.document_text(task)
    except CaseyardError as exc:
        problem = str(exc)
    return task, task_detail(task, case, inbox.editable(task), text, problem, boxes)
