"""The inbox's projection of human tasks, from sequences of events."""

from __future__ import annotations

from datetime import timedelta

from caseyard.inbox import Projection, TaskStatus
from schemas import Event
from tests.unit.inbox.inbox_support import (
    T0,
    claimed,
    completed,
    decided,
    escalation,
    failed,
    opened,
    task_id,
)

CASE = "case-1"
TASK = task_id(CASE)


def project(*events: Event | list[Event]) -> Projection:
    projection = Projection()
    for item in events:
        for event in item if isinstance(item, list) else [item]:
            projection.apply(event)
    return projection


def test_an_escalation_opens_a_task_with_its_step_and_rule() -> None:
    projection = project(escalation(CASE))
    task = projection.task(TASK)
    assert task is not None
    assert (task.status, task.queue, task.step, task.rule) == (
        TaskStatus.OPEN,
        "risk-review",
        "score",
        "high-risk",
    )
    assert [t.id for t in projection.tasks()] == [TASK]
    case = projection.case(CASE)
    assert case is not None and case.pipeline == ("document-intake", 1)
    assert case.status == "running"


def test_claim_then_decision_closes_the_task() -> None:
    projection = project(escalation(CASE), claimed(CASE, "alice"))
    task = projection.task(TASK)
    assert task is not None and task.claimed_by == "alice"
    projection.apply(decided(CASE, "alice"))
    assert [t.status for t in projection.tasks()] == [TaskStatus.DECIDED]
    assert task.decision is not None and task.decision.decided_by == "alice"


def test_the_first_decision_counts_and_later_claims_change_nothing() -> None:
    projection = project(
        escalation(CASE), decided(CASE, "alice"), decided(CASE, "sam"), claimed(CASE, "bob")
    )
    task = projection.task(TASK)
    assert task is not None and task.decision is not None
    assert (task.decision.decided_by, task.claimed_by) == ("alice", None)


def test_an_sla_re_announcement_moves_the_task_and_drops_the_claim() -> None:
    later = T0 + timedelta(hours=4)
    projection = project(
        escalation(CASE),
        claimed(CASE, "alice", at=T0 + timedelta(minutes=5)),
        opened(CASE, queue="risk-senior", at=later),
    )
    task = projection.task(TASK)
    assert task is not None
    assert (task.queue, task.claimed_by, task.status) == ("risk-senior", None, TaskStatus.OPEN)
    assert task.sla_deadline == later + timedelta(hours=4)
    assert task.opened_at == T0
    assert [t.id for t in projection.tasks()] == [TASK]


def test_a_claim_made_after_the_move_survives_reading_the_move_later() -> None:
    # The human topic may be read ahead of the case events: the order of reading is not
    # the order things happened in.
    moved_at = T0 + timedelta(hours=4)
    projection = project(
        claimed(CASE, "carol", at=moved_at + timedelta(minutes=1)),
        escalation(CASE),
        opened(CASE, queue="risk-senior", at=moved_at),
    )
    task = projection.task(TASK)
    assert task is not None and (task.queue, task.claimed_by) == ("risk-senior", "carol")


def test_human_events_read_before_their_task_apply_when_it_opens() -> None:
    projection = project(claimed(CASE, "alice"), decided(CASE, "alice"))
    assert projection.task(TASK) is None
    projection.apply(escalation(CASE)[0])
    for event in escalation(CASE)[1:]:
        projection.apply(event)
    task = projection.task(TASK)
    assert task is not None and task.status is TaskStatus.DECIDED


def test_a_case_that_ends_closes_its_open_tasks() -> None:
    projection = project(escalation(CASE), completed(CASE))
    task = projection.task(TASK)
    assert task is not None and task.status is TaskStatus.CLOSED
    case = projection.case(CASE)
    assert case is not None and case.status == "completed (responded)"
    # Read after the end, but the two topics are read side by side: it may have come first.
    projection.apply(decided(CASE, "alice"))
    assert [t.status for t in projection.tasks()] == [TaskStatus.DECIDED]


def test_a_task_opened_after_its_case_failed_stays_open() -> None:
    # A compensation that failed: the coordinator fails the case, then asks a person.
    projection = project(escalation(CASE)[0], failed(CASE), opened(CASE, queue="ops"))
    task = projection.task(TASK)
    assert task is not None
    assert (task.status, task.after_case_ended) == (TaskStatus.OPEN, True)


def test_the_open_work_stays_and_ended_cases_are_forgotten_beyond_the_limit() -> None:
    """The inbox's memory is the open work plus a window of the latest ended cases: a case
    that ended with no task open (none, decided, or closed by its end) joins the window,
    and the oldest beyond it are forgotten with their tasks (the log keeps them)."""
    projection = Projection(keep_ended_cases=2)
    for event in escalation("waiting"):  # its task stays open, however long
        projection.apply(event)
    for event in [*escalation(CASE), decided(CASE, "alice"), completed(CASE)]:
        projection.apply(event)
    view = projection.case(CASE)
    assert view is not None
    (decided_task,) = view.tasks
    for n in range(4):
        projection.apply(escalation(f"plain-{n}")[0])
        projection.apply(completed(f"plain-{n}"))
    kept = [projection.case(f"plain-{n}") is not None for n in range(4)]
    assert kept == [False, False, True, True]
    assert projection.case(CASE) is None and projection.task(decided_task) is None
    waiting = projection.case("waiting")
    assert waiting is not None
    assert [projection.task(t).status for t in waiting.tasks] == [TaskStatus.OPEN]  # type: ignore[union-attr]


def test_a_case_whose_task_was_closed_by_its_end_joins_the_window() -> None:
    projection = Projection(keep_ended_cases=1)
    for event in [*escalation(CASE), completed(CASE)]:
        projection.apply(event)
    view = projection.case(CASE)
    assert view is not None
    assert [projection.task(t).status for t in view.tasks] == [TaskStatus.CLOSED]  # type: ignore[union-attr]
    projection.apply(escalation("next")[0])
    projection.apply(completed("next"))
    assert projection.case(CASE) is None and projection.case("next") is not None


def test_the_timeline_holds_case_and_human_events_in_reading_order() -> None:
    projection = project(escalation(CASE), claimed(CASE, "alice"), decided(CASE, "alice"))
    case = projection.case(CASE)
    assert case is not None
    assert [e.event_type for e in case.events] == [
        "CaseOpened",
        "PolicyDecision",
        "HumanTaskOpened",
        "CaseEscalated",
        "HumanTaskClaimed",
        "HumanDecision",
    ]
