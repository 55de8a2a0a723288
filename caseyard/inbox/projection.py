"""The inbox's view of human work, built from `caseyard.case-events` and `caseyard.human`.

`Projection.apply` takes each event as it is read and does no I/O. A human task opens with
`HumanTaskOpened`; the same id announced again (an SLA breach moved it to the next queue of
its chain) moves it and drops its claim. It closes when someone decides it, or when its
case completes or fails first. The two topics are read side by side, so a claim or a
decision may be read before the task it is about: such events wait until the task opens.

The projection keeps the timeline of every case that has a human task or is still
running; of the cases that ended without one it keeps only the most recent ones.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CaseOpened,
    Decision,
    DocumentRef,
    Event,
    HumanDecision,
    HumanTaskClaimed,
    HumanTaskOpened,
    PolicyDecision,
    TaskOutput,
)

KEEP_ENDED_CASES = 1000
"""Cases that ended, with no human task left open, whose timelines and tasks stay (the most
recent ones): the inbox's memory is this window plus the open work, however long it runs."""


class TaskStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    CLOSED = "closed"
    """Its case completed or failed before anyone decided."""


@dataclass
class HumanTask:
    """One human task as the inbox knows it."""

    announced: HumanTaskOpened
    """The latest announcement: where the task is now, its evidence and SLA."""
    opened_at: datetime
    after_case_ended: bool = False
    """Opened after its case failed: a person takes over a failed compensation."""
    step: str | None = None
    rule: str | None = None
    """The escalation rule that sent a step's output for review, when known."""
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    decision: HumanDecision | None = None
    ended_by: CaseCompleted | CaseFailed | None = None

    @property
    def id(self) -> str:
        return self.announced.human_task_id

    @property
    def case_id(self) -> str:
        return self.announced.case_id

    @property
    def queue(self) -> str:
        return self.announced.queue

    @property
    def reason(self) -> str:
        return self.announced.reason

    @property
    def sla_deadline(self) -> datetime:
        return self.announced.sla_deadline

    @property
    def evidence(self) -> Mapping[str, TaskOutput]:
        return self.announced.evidence

    @property
    def status(self) -> TaskStatus:
        if self.decision is not None:
            return TaskStatus.DECIDED
        return TaskStatus.CLOSED if self.ended_by is not None else TaskStatus.OPEN


@dataclass
class CaseView:
    """What the inbox shows of a case: its pipeline, document, status and timeline."""

    case_id: str
    pipeline: tuple[str, int] | None = None
    document: DocumentRef | None = None
    events: list[Event] = field(default_factory=list)
    """Case events and the human events about it, in the order they were read."""
    tasks: list[str] = field(default_factory=list)
    ended: CaseCompleted | CaseFailed | None = None
    escalations: dict[str, str] = field(default_factory=dict)
    """Per step, the escalation rule that last fired on it."""

    @property
    def status(self) -> str:
        if isinstance(self.ended, CaseCompleted):
            return f"completed ({self.ended.outcome})"
        if isinstance(self.ended, CaseFailed):
            return f"failed: {self.ended.reason}"
        return "running"


HumanEvent = HumanTaskClaimed | HumanDecision


class Projection:
    """Human tasks and their cases, from the events read so far."""

    def __init__(self, *, keep_ended_cases: int = KEEP_ENDED_CASES) -> None:
        self._tasks: dict[str, HumanTask] = {}
        self._cases: dict[str, CaseView] = {}
        self._early: OrderedDict[str, list[HumanEvent]] = OrderedDict()
        """Human events read before their task's announcement (the topics are read side
        by side), oldest first; bounded like the ended cases (one for an evicted task
        would otherwise wait forever)."""
        self._ended: OrderedDict[str, None] = OrderedDict()
        self.keep_ended_cases = keep_ended_cases

    def task(self, task_id: str) -> HumanTask | None:
        return self._tasks.get(task_id)

    def tasks(self) -> list[HumanTask]:
        """Every human task, the one due first first."""
        return sorted(self._tasks.values(), key=lambda t: (t.sla_deadline, t.id))

    def case(self, case_id: str) -> CaseView | None:
        return self._cases.get(case_id)

    def evidence(self, case: CaseView) -> dict[str, TaskOutput]:
        """The step outputs the case's human tasks showed, keyed by step (a later task's
        evidence over an earlier one's)."""
        outputs: dict[str, TaskOutput] = {}
        for task_id in case.tasks:
            task = self._tasks.get(task_id)
            if task is not None:
                outputs.update(task.evidence)
        return outputs

    def cases(self) -> list[CaseView]:
        """The cases kept, in the order their first event was read (oldest first)."""
        return list(self._cases.values())

    def apply(self, event: Event) -> None:
        """Take in the next event read from `caseyard.case-events` or `caseyard.human`."""
        if isinstance(event, HumanTaskClaimed | HumanDecision):
            self._human(event)
            return
        case = self._cases.get(event.case_id)
        if case is None:
            case = self._cases[event.case_id] = CaseView(event.case_id)
        case.events.append(event)
        if isinstance(event, CaseOpened):
            case.pipeline = (event.pipeline, event.pipeline_version)
            case.document = event.document
        elif isinstance(event, PolicyDecision):
            if event.decision is Decision.ESCALATE and event.step is not None:
                case.escalations[event.step] = event.rule_id
        elif isinstance(event, HumanTaskOpened):
            self._opened(case, event)
        elif isinstance(event, CaseEscalated):
            task = self._tasks.get(event.human_task_id)
            if task is not None and event.step is not None and task.step is None:
                task.step, task.rule = event.step, case.escalations.get(event.step)
        elif isinstance(event, CaseCompleted | CaseFailed):
            self._case_ended(case, event)

    def _opened(self, case: CaseView, event: HumanTaskOpened) -> None:
        task = self._tasks.get(event.human_task_id)
        if task is not None:
            task.announced = event
            if task.claimed_at is None or task.claimed_at < event.occurred_at:
                task.claimed_by = task.claimed_at = None
            return
        self._tasks[event.human_task_id] = HumanTask(
            announced=event, opened_at=event.occurred_at, after_case_ended=case.ended is not None
        )
        case.tasks.append(event.human_task_id)
        self._ended.pop(case.case_id, None)
        for early in self._early.pop(event.human_task_id, []):
            self._human(early)

    def _human(self, event: HumanEvent) -> None:
        task = self._tasks.get(event.human_task_id)
        if task is None or task.case_id != event.case_id:
            self._early.setdefault(event.human_task_id, []).append(event)
            while len(self._early) > self.keep_ended_cases:
                self._early.popitem(last=False)
            return
        case = self._cases[event.case_id]
        case.events.append(event)
        if task.decision is not None:
            return
        if isinstance(event, HumanDecision):
            task.decision = event
            self._maybe_done(case)
        elif event.occurred_at >= task.announced.occurred_at:
            task.claimed_by, task.claimed_at = event.claimed_by, event.occurred_at

    def _case_ended(self, case: CaseView, event: CaseCompleted | CaseFailed) -> None:
        case.ended = event
        for task_id in case.tasks:
            task = self._tasks[task_id]
            if task.status is TaskStatus.OPEN:
                task.ended_by = event
        self._maybe_done(case)

    def _maybe_done(self, case: CaseView) -> None:
        """An ended case with no task open joins the window of the latest ended cases; the
        oldest beyond it are forgotten with their tasks (the log keeps them)."""
        if case.ended is None or any(self._tasks[t].status is TaskStatus.OPEN for t in case.tasks):
            return
        self._ended[case.case_id] = None
        self._ended.move_to_end(case.case_id)
        while len(self._ended) > self.keep_ended_cases:
            forgotten, _ = self._ended.popitem(last=False)
            for task_id in self._cases.pop(forgotten).tasks:
                del self._tasks[task_id]
