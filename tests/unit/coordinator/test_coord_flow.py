"""The transition on the pipeline constructs: sequence, fan-out/fan-in, branches, retries,
timeouts and compensation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coordinator import CaseStatus, StepStatus
from schemas.lifecycle import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CompensationCompleted,
    CompensationStarted,
    StepFailed,
    StepTimedOut,
    TimerPurpose,
)
from schemas.payloads import DocType
from schemas.tasks import TaskRequested
from tests.unit.coordinator.coord_support import (
    CASE,
    Driver,
    classify,
    extract,
    load,
    respond,
    score,
)

SEQUENCE = load(
    """
name: seq
version: 1
outcome: done
defaults:
  timeout: 10s
  retry: {max_attempts: 2, backoff: fixed, initial_delay: 1s, max_delay: 1s}
steps:
  - {id: a, capability: classify}
  - {id: b, capability: extract, after: [a], inputs: [a], parameters: {fields: total}}
  - {id: c, capability: score, after: [b], inputs: {cls: a, ext: b}}
"""
)


def test_sequence_runs_each_step_after_the_previous_and_completes() -> None:
    d = Driver(SEQUENCE)
    opened = d.submit()
    assert d.types(opened) == ["CaseOpened", "TaskRequested", "StepStarted"]
    assert d.requested(opened) == ["a#1"]
    task = d.task("a")
    assert task.task_id == f"{CASE}/a/1.1"
    assert task.deadline == d.now + timedelta(seconds=10)
    assert opened.outputs[1].topic == "caseyard.tasks.classify"
    assert opened.outputs[0].topic == "caseyard.case-events"

    assert d.requested(d.complete("a", classify())) == ["b#1"]
    b = d.task("b")
    assert b.input.parameters == {"fields": "total"}
    assert set(b.input.prior) == {"a"}
    assert d.requested(d.complete("b", extract())) == ["c#1"]
    assert set(d.task("c").input.prior) == {"cls", "ext"}
    done = d.complete("c", score())
    assert d.types(done) == ["StepCompleted", "CaseCompleted"]
    completed = d.of(CaseCompleted)[0]
    assert completed.outcome == "done"
    assert completed.total_cost_usd == pytest.approx(0.03)
    assert d.state is not None and d.state.status is CaseStatus.COMPLETED
    assert d.state.finished


FAN_IN = """
name: fan
version: 1
defaults:
  timeout: 10s
  retry: {{max_attempts: 1}}
steps:
  - {{id: start, capability: classify}}
  - {{id: x, capability: extract, after: [start]}}
  - {{id: y, capability: score, after: [start]}}
  - {{id: z, capability: score, after: [start]}}
  - {{id: join, capability: respond, after: [group], inputs: [x, y, z]}}
parallel:
  - {{id: group, steps: [x, y, z], join: {join}}}
"""


def fan_in(join: str) -> Driver:
    d = Driver(load(FAN_IN.format(join=join)))
    d.submit()
    assert d.requested(d.complete("start", classify())) == ["x#1", "y#1", "z#1"]
    return d


@pytest.mark.parametrize(
    ("join", "completions_before_join", "cancelled"),
    [
        ("all", ["x", "y", "z"], set()),
        ("first", ["y"], {"x", "z"}),
        ("quorum, quorum: 2", ["z", "x"], {"y"}),
    ],
)
def test_parallel_group_fans_in_on_its_join(
    join: str, completions_before_join: list[str], cancelled: set[str]
) -> None:
    d = fan_in(join)
    for step in completions_before_join[:-1]:
        assert d.requested(d.complete(step, score())) == []
    assert d.requested(d.complete(completions_before_join[-1], score())) == ["join#1"]
    assert d.state is not None
    assert {s for s, st in d.state.steps.items() if st.status is StepStatus.CANCELLED} == cancelled
    # Only the outputs that arrived go to the step after the group.
    assert set(d.task("join").input.prior) == set(completions_before_join)
    for step in cancelled:
        late = d.complete(step, score())
        assert late.ignored is not None and "cancelled" in late.ignored
    d.complete("join", respond())
    assert d.state.status is CaseStatus.COMPLETED
    # Timeout timers of cancelled tasks stay to drain late results; then the case is finished.
    for step in sorted(cancelled):
        if any(t.node == step for t in d.state.timers):
            assert d.fire(TimerPurpose.STEP_TIMEOUT, step).ignored is not None
    assert d.state.finished


@pytest.mark.parametrize(
    ("join", "failures", "fails_case"),
    [
        ("all", ["x"], True),
        ("first", ["x", "y"], False),
        ("first", ["x", "y", "z"], True),
        ("quorum, quorum: 2", ["x"], False),
        ("quorum, quorum: 2", ["x", "y"], True),
    ],
)
def test_parallel_group_fails_only_when_its_join_can_no_longer_be_met(
    join: str, failures: list[str], fails_case: bool
) -> None:
    d = fan_in(join)
    for step in failures:
        d.fail(step, retryable=False)
    assert d.state is not None
    assert (d.state.status is CaseStatus.FAILED) == fails_case
    if fails_case:
        failed = d.of(CaseFailed)[0]
        assert failed.error_class in {"GroupFailed", "ProviderError"}


BRANCH = load(
    """
name: branch
version: 1
steps:
  - {id: classify, capability: classify}
  - id: extract
    capability: extract
    after: [classify]
    when: steps.classify.doc_type == 'invoice'
  - id: reply
    capability: respond
    after: [extract]
    inputs: [classify, extract]
"""
)


@pytest.mark.parametrize(
    ("doc_type", "next_steps", "skipped"),
    [(DocType.INVOICE, ["extract#1"], False), (DocType.COMPLAINT, ["reply#1"], True)],
)
def test_when_condition_branches(doc_type: DocType, next_steps: list[str], skipped: bool) -> None:
    d = Driver(BRANCH)
    d.submit()
    result = d.complete("classify", classify(doc_type))
    assert d.requested(result) == next_steps
    assert d.state is not None
    assert (d.state.steps["extract"].status is StepStatus.SKIPPED) == skipped
    decision = next(e for e in result.events if e.event_type == "PolicyDecision")
    assert decision.model_dump()["rule_id"] == "extract.when"
    assert decision.model_dump()["decision"] == ("deny" if skipped else "allow")
    if skipped:
        # A skipped step counts as done; its output is simply absent.
        assert set(d.task("reply").input.prior) == {"classify"}


def test_timeout_then_retry_then_success() -> None:
    d = Driver(SEQUENCE)
    d.submit()
    timed_out = d.fire(TimerPurpose.STEP_TIMEOUT, "a")
    assert d.types(timed_out) == ["StepTimedOut"]
    assert d.state is not None and d.state.steps["a"].status is StepStatus.BACKOFF
    assert d.state.next_due == d.now + timedelta(seconds=1)
    retried = d.fire(TimerPurpose.RETRY_BACKOFF, "a")
    assert d.requested(retried) == ["a#2"]
    assert d.task("a").task_id == f"{CASE}/a/1.2"
    assert d.requested(d.complete("a", classify())) == ["b#1"]
    assert d.of(StepTimedOut)[0].attempt == 1


def test_retryable_failure_backs_off_exponentially() -> None:
    pipeline = load(
        """
name: r
version: 1
steps:
  - id: a
    capability: classify
    retry: {max_attempts: 4, backoff: exponential, initial_delay: 2s, max_delay: 5s}
"""
    )
    d = Driver(pipeline)
    d.submit()
    delays = []
    for _ in range(3):
        failed = d.fail("a")
        assert d.of(StepFailed)[-1].will_retry
        assert failed.timers_set and failed.timers_set[0].purpose is TimerPurpose.RETRY_BACKOFF
        delays.append(failed.timers_set[0].due_at - d.now)
        d.fire(TimerPurpose.RETRY_BACKOFF, "a")
    assert delays == [timedelta(seconds=2), timedelta(seconds=4), timedelta(seconds=5)]
    d.fail("a")
    assert not d.of(StepFailed)[-1].will_retry
    assert d.state is not None and d.state.status is CaseStatus.FAILED


def test_non_retryable_failure_fails_at_once() -> None:
    d = Driver(SEQUENCE)
    d.submit()
    result = d.fail("a", retryable=False)
    assert d.types(result) == ["StepFailed", "CaseFailed"]
    failed = d.of(CaseFailed)[0]
    assert (failed.step, failed.error_class, failed.compensated) == ("a", "ProviderError", False)


def test_zero_backoff_retries_in_the_same_transition() -> None:
    pipeline = load(
        """
name: z
version: 1
steps:
  - id: a
    capability: classify
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 0s, max_delay: 0s}
"""
    )
    d = Driver(pipeline)
    d.submit()
    retried = d.fail("a")
    assert d.requested(retried) == ["a#2"]
    # The old attempt's timeout is cancelled, the new one set; nothing set and cancelled.
    assert retried.timers_cancelled == ("a/1.1/timeout",)
    assert [t.id for t in retried.timers_set] == ["a/1.2/timeout"]


SAGA = load(
    """
name: saga
version: 1
defaults:
  timeout: 30s
  retry: {max_attempts: 2, backoff: fixed, initial_delay: 1s, max_delay: 1s}
compensation_escalation: {queue: ops, sla: 1h, chain: [ops-lead]}
steps:
  - id: a
    capability: classify
    compensation: {id: undo-a, capability: respond, parameters: {action: retract}}
  - {id: b, capability: extract, after: [a]}
  - id: c
    capability: score
    after: [b]
    compensation: {capability: respond, parameters: {action: unscore}}
  - {id: d, capability: respond, after: [c]}
"""
)


def run_until_d_times_out() -> Driver:
    d = Driver(SAGA)
    d.submit()
    d.complete("a", classify())
    d.complete("b", extract())
    d.complete("c", score())
    d.fire(TimerPurpose.STEP_TIMEOUT, "d")
    d.fire(TimerPurpose.RETRY_BACKOFF, "d")
    return d


def test_timeout_exhausted_compensates_completed_steps_in_reverse_order() -> None:
    d = run_until_d_times_out()
    exhausted = d.fire(TimerPurpose.STEP_TIMEOUT, "d")
    assert d.types(exhausted) == [
        "StepTimedOut",
        "StepFailed",
        "CompensationStarted",
        "TaskRequested",
        "StepStarted",
    ]
    assert d.of(StepFailed)[-1].error_class == "StepTimeout"
    assert d.status() is CaseStatus.COMPENSATING
    undo_c = d.task("undo-c")
    assert undo_c.input.parameters == {"action": "unscore"}
    assert set(undo_c.input.prior) == {"c"}
    assert d.requested(d.complete("undo-c", respond())) == ["undo-a#1"]
    d.complete("undo-a", respond())
    assert [(e.step, e.compensation) for e in d.of(CompensationStarted)] == [
        ("c", "undo-c"),
        ("a", "undo-a"),
    ]
    assert [(e.step, e.compensation) for e in d.of(CompensationCompleted)] == [
        ("c", "undo-c"),
        ("a", "undo-a"),
    ]
    failed = d.of(CaseFailed)[0]
    assert (failed.step, failed.error_class, failed.compensated) == ("d", "StepTimeout", True)
    assert d.status() is CaseStatus.FAILED
    assert d.state is not None
    assert d.state.steps["c"].status is StepStatus.COMPENSATED
    assert d.state.finished


def test_failed_compensation_fails_escalates_and_marks_dead_letter() -> None:
    d = run_until_d_times_out()
    d.fire(TimerPurpose.STEP_TIMEOUT, "d")
    result = d.fail("undo-c", retryable=False)
    assert result.dead_letter is not None and "compensation 'undo-c'" in result.dead_letter
    assert d.types(result) == ["StepFailed", "CaseFailed", "HumanTaskOpened", "CaseEscalated"]
    failed = d.of(CaseFailed)[0]
    assert (failed.error_class, failed.compensated, failed.step) == (
        "CompensationFailed",
        False,
        "c",
    )
    escalated = d.of(CaseEscalated)[0]
    assert escalated.queue == "ops"
    assert d.state is not None and d.state.status is CaseStatus.FAILED
    # 'a' was never compensated: a person takes over from here.
    assert d.state.steps["a"].status is StepStatus.COMPLETED
    # The escalation follows its chain while nobody acts.
    assert d.of(CaseEscalated)[-1].queue == "ops"
    d.fire(TimerPurpose.HUMAN_SLA)
    assert d.of(CaseEscalated)[-1].queue == "ops-lead"


def test_compensation_timeouts_exhaust_like_steps() -> None:
    d = run_until_d_times_out()
    d.fire(TimerPurpose.STEP_TIMEOUT, "d")
    d.fire(TimerPurpose.STEP_TIMEOUT, "undo-c")
    d.fire(TimerPurpose.RETRY_BACKOFF, "undo-c")
    result = d.fire(TimerPurpose.STEP_TIMEOUT, "undo-c")
    assert result.dead_letter is not None
    assert d.of(CaseFailed)[0].error_class == "CompensationFailed"


def test_case_deadline_fails_the_case() -> None:
    pipeline = load(
        """
name: deadline
version: 1
deadline: 1h
defaults: {timeout: 2h}
steps:
  - {id: a, capability: classify, compensation: {capability: respond}}
  - {id: b, capability: extract, after: [a]}
"""
    )
    d = Driver(pipeline)
    d.submit()
    d.complete("a", classify())
    result = d.fire(TimerPurpose.CASE_DEADLINE)
    assert d.types(result)[:2] == ["CompensationStarted", "TaskRequested"]
    d.complete("undo-a", respond())
    failed = d.of(CaseFailed)[0]
    assert (failed.error_class, failed.compensated) == ("CaseDeadline", True)


def test_deadline_timer_is_cancelled_when_the_case_completes() -> None:
    pipeline = load(
        """
name: deadline
version: 1
deadline: 1h
steps: [{id: a, capability: classify}]
"""
    )
    d = Driver(pipeline)
    assert {t.purpose for t in d.submit().timers_set} == {
        TimerPurpose.CASE_DEADLINE,
        TimerPurpose.STEP_TIMEOUT,
    }
    done = d.complete("a", classify())
    assert set(done.timers_cancelled) == {"a/1.1/timeout", "deadline"}
    assert d.state is not None and d.state.finished


def test_task_requests_carry_the_document_and_topic_of_their_capability() -> None:
    d = Driver(SEQUENCE)
    result = d.submit()
    [(topic, task)] = [
        (o.topic, o.event) for o in result.outputs if o.event.event_type == "TaskRequested"
    ]
    assert isinstance(task, TaskRequested)
    assert topic == "caseyard.tasks.classify"
    assert task.input.document is not None and task.input.document.size == 1234
