"""Human escalation: review, approve / reject / edit with a bounded feedback loop, SLA chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coordinator import CaseStatus, HumanTaskKind, StepStatus
from schemas.human import DecisionAction, FieldPatch, HumanTaskOpened
from schemas.lifecycle import (
    CaseCompleted,
    CaseEscalated,
    CompensationStarted,
    Decision,
    PolicyDecision,
    TimerPurpose,
)
from schemas.payloads import ExtractOutput, RiskBand
from tests.unit.coordinator.coord_support import (
    CASE,
    Driver,
    classify,
    extract,
    load,
    respond,
    score,
)

REVIEW = load(
    """
name: review
version: 1
steps:
  - {id: classify, capability: classify}
  - {id: extract, capability: extract, after: [classify], inputs: [classify]}
  - id: score
    capability: score
    after: [extract]
    inputs: [extract]
    escalate:
      - id: high-risk
        when: steps.score.band == 'high' or steps.score.score >= 0.7
        queue: risk
        reason: high risk
        sla: 4h
        chain: [risk-senior, risk-lead]
        evidence: [extract, score]
        on_edit: {patch: extract, loop_to: score, max_loops: 2}
  - id: respond
    capability: respond
    after: [score]
    inputs: [extract]
    compensation: {id: retract, capability: respond, parameters: {action: retract}}
  - {id: archive, capability: extract, after: [respond]}
"""
)


def escalated() -> Driver:
    d = Driver(REVIEW)
    d.submit()
    d.complete("classify", classify())
    d.complete("extract", extract())
    result = d.complete("score", score(0.9, RiskBand.HIGH))
    assert d.types(result) == [
        "StepCompleted",
        "PolicyDecision",
        "HumanTaskOpened",
        "CaseEscalated",
    ]
    return d


def test_high_risk_opens_a_human_task_and_the_case_waits() -> None:
    d = escalated()
    opened = d.of(HumanTaskOpened)[0]
    assert opened.human_task_id == f"{CASE}/human/1"
    assert (opened.queue, opened.reason) == ("risk", "high risk")
    assert opened.sla_deadline == d.now + timedelta(hours=4)
    assert set(opened.evidence) == {"extract", "score"}
    assert opened.document is not None
    decision = d.of(PolicyDecision)[-1]
    assert (decision.rule_id, decision.decision, decision.step) == (
        "high-risk",
        Decision.ESCALATE,
        "score",
    )
    assert d.state is not None and d.state.waiting_for_human
    assert d.state.steps["score"].status is StepStatus.REVIEW


@pytest.mark.parametrize(("value", "band"), [(0.2, RiskBand.LOW), (0.69, RiskBand.MEDIUM)])
def test_low_risk_goes_straight_on(value: float, band: RiskBand) -> None:
    d = Driver(REVIEW)
    d.submit()
    d.complete("classify", classify())
    d.complete("extract", extract())
    assert d.requested(d.complete("score", score(value, band))) == ["respond#1"]


def test_approve_continues() -> None:
    d = escalated()
    d.claim("ana")
    assert d.state is not None and d.state.human is not None
    assert d.state.human.claimed_by == "ana"
    result = d.decide(DecisionAction.APPROVE, comment="looks fine")
    assert d.requested(result) == ["respond#1"]
    verdict = d.of(PolicyDecision)[0 - 1]
    assert verdict.decision is Decision.ALLOW
    assert verdict.inputs["action"] == "approve"
    assert verdict.inputs["comment"] == "looks fine"
    assert d.state is not None and d.state.human is None
    assert "human/1/sla/0" in result.timers_cancelled


def test_reject_compensates_and_closes_as_rejected() -> None:
    d = escalated()
    result = d.decide(DecisionAction.REJECT, comment="fraud")
    # Nothing completed has a compensation yet ('respond' has not run): close at once.
    assert d.types(result) == ["PolicyDecision", "CaseCompleted"]
    assert d.of(CaseCompleted)[0].outcome == "rejected"
    assert d.state is not None and d.state.status is CaseStatus.COMPLETED


def test_reject_after_a_compensable_step_runs_its_compensation() -> None:
    pipeline = load(
        """
name: late-review
version: 1
steps:
  - id: respond
    capability: respond
    compensation: {id: retract, capability: respond}
  - id: score
    capability: score
    after: [respond]
    escalate: [{id: always, queue: q, reason: check}]
"""
    )
    d = Driver(pipeline)
    d.submit()
    d.complete("respond", respond())
    d.complete("score", score())
    result = d.decide(DecisionAction.REJECT)
    assert d.requested(result) == ["retract#1"]
    assert d.of(CompensationStarted)[0].reason == "rejected by ana"
    d.complete("retract", respond())
    assert d.of(CaseCompleted)[0].outcome == "rejected"


def test_edit_patches_fields_and_loops_back_within_the_bound() -> None:
    d = escalated()
    patch = [
        FieldPatch(field="total_amount", value="99.00 EUR"),
        FieldPatch(field="iban", value=None),
    ]
    result = d.decide(DecisionAction.EDIT, patch)
    # Loop 1 of 2: score runs again (run 2) on the corrected fields.
    assert d.requested(result) == ["score#1"]
    rescore = d.task("score")
    assert rescore.task_id == f"{CASE}/score/2.1"
    corrected = rescore.input.prior["extract"]
    assert isinstance(corrected, ExtractOutput)
    assert {f.name: f.value for f in corrected.fields} == {"total_amount": "99.00 EUR"}
    loop = [e for e in d.of(PolicyDecision) if e.inputs.get("loop_to") == "score"]
    assert loop[-1].decision is Decision.ALLOW and loop[-1].inputs["loops"] == "1"

    # Still high: a second human task; edit again (loop 2 of 2).
    d.complete("score", score(0.95, RiskBand.HIGH))
    assert d.human_task_id() == f"{CASE}/human/2"
    d.decide(DecisionAction.EDIT, [FieldPatch(field="total_amount", value="98.00 EUR")])
    assert d.task("score").task_id == f"{CASE}/score/3.1"

    # Third time: the bound is reached, so the edit is kept and the case goes on.
    d.complete("score", score(0.95, RiskBand.HIGH))
    final = d.decide(DecisionAction.EDIT, [FieldPatch(field="total_amount", value="97.00 EUR")])
    assert d.requested(final) == ["respond#1"]
    bound = [e for e in d.of(PolicyDecision) if e.inputs.get("loop_to") == "score"][-1]
    assert bound.decision is Decision.DENY and "bound 2" in bound.reason
    sent = d.task("respond").input.prior["extract"]
    assert isinstance(sent, ExtractOutput)
    assert {f.name: f.value for f in sent.fields} == {"total_amount": "97.00 EUR"}
    assert d.state is not None and d.state.loops == {"high-risk": 2}


def test_a_late_result_of_the_run_before_a_loop_is_ignored() -> None:
    d = escalated()
    first_run = d.task("score")
    d.decide(DecisionAction.EDIT, [FieldPatch(field="total_amount", value="1")])
    late = d.complete("score", score(), task=first_run)
    assert late.ignored is not None and "late result" in late.ignored


def test_human_corrections_survive_a_rerun_of_the_patched_step() -> None:
    pipeline = load(
        """
name: reextract
version: 1
steps:
  - id: extract
    capability: extract
    escalate:
      - id: check
        queue: q
        reason: check the fields
        when: get(loops, 'check', 0) == 0
        on_edit: {patch: extract, loop_to: extract, max_loops: 1}
"""
    )
    d = Driver(pipeline)
    d.submit()
    d.complete("extract", extract(total_amount="1"))
    d.decide(DecisionAction.EDIT, [FieldPatch(field="total_amount", value="2")])
    assert d.task("extract").task_id == f"{CASE}/extract/2.1"
    d.complete("extract", extract(total_amount="3", iban="X"))
    # Re-extracted, with the person's correction applied again; no more loops: completes.
    assert d.state is not None and d.state.status is CaseStatus.COMPLETED
    assert d.state.patches["extract"][0].value == "2"


def test_sla_breach_moves_the_task_along_the_chain() -> None:
    d = escalated()
    task_id = d.human_task_id()
    queues = []
    for _ in range(2):
        d.claim("ana")
        d.fire(TimerPurpose.HUMAN_SLA)
        queues.append(d.of(HumanTaskOpened)[-1].queue)
        assert d.of(HumanTaskOpened)[-1].human_task_id == task_id
        assert d.of(CaseEscalated)[-1].reason.startswith("SLA breached in ")
        assert d.state is not None and d.state.human is not None
        assert d.state.human.claimed_by is None
    assert queues == ["risk-senior", "risk-lead"]
    last = d.fire(TimerPurpose.HUMAN_SLA)
    assert d.types(last) == ["PolicyDecision"]
    assert d.state is not None and d.state.human is not None
    assert d.state.human.queue == "risk-lead" and not d.state.timers
    # A decision still works from the last queue.
    assert d.requested(d.decide(DecisionAction.APPROVE)) == ["respond#1"]


@pytest.mark.parametrize("action", [DecisionAction.APPROVE, DecisionAction.REJECT])
def test_a_second_decision_on_the_same_task_is_ignored(action: DecisionAction) -> None:
    d = escalated()
    task_id = d.human_task_id()
    d.decide(action)
    again = d.decide(DecisionAction.APPROVE, human_task_id=task_id)
    assert again.ignored is not None and again.outputs == ()


def test_claiming_twice_by_the_same_person_is_ignored() -> None:
    d = escalated()
    d.claim("ana")
    assert d.claim("ana").ignored is not None


@pytest.mark.parametrize("human_task_id", [f"{CASE}/human/7", "other-case/human/1", "garbage"])
def test_decisions_on_unknown_human_tasks_are_dead_lettered(human_task_id: str) -> None:
    d = escalated()
    before = d.state
    result = d.decide(DecisionAction.APPROVE, human_task_id=human_task_id)
    assert result.dead_letter is not None and result.state is before


def test_edit_without_on_edit_is_dead_lettered() -> None:
    pipeline = load(
        """
name: no-edit
version: 1
steps:
  - {id: extract, capability: extract}
  - id: score
    capability: score
    after: [extract]
    escalate: [{id: always, queue: q, reason: look}]
"""
    )
    d = Driver(pipeline)
    d.submit()
    d.complete("extract", extract())
    d.complete("score", score())
    result = d.decide(DecisionAction.EDIT, [FieldPatch(field="a", value="b")])
    assert result.dead_letter is not None and "on_edit" in result.dead_letter
    assert d.state is not None and d.state.human is not None


def test_edit_without_a_loop_patches_and_continues() -> None:
    pipeline = load(
        """
name: patch-only
version: 1
steps:
  - id: extract
    capability: extract
    escalate: [{id: always, queue: q, reason: look, on_edit: {patch: extract}}]
  - {id: respond, capability: respond, after: [extract], inputs: [extract]}
"""
    )
    d = Driver(pipeline)
    d.submit()
    d.complete("extract", extract(total_amount="1"))
    d.decide(DecisionAction.EDIT, [FieldPatch(field="currency", value="EUR")])
    sent = d.task("respond").input.prior["extract"]
    assert isinstance(sent, ExtractOutput)
    assert {f.name: f.value for f in sent.fields} == {"total_amount": "1", "currency": "EUR"}


def test_one_human_task_at_a_time_in_parallel_branches() -> None:
    pipeline = load(
        """
name: two-reviews
version: 1
steps:
  - {id: start, capability: classify}
  - id: left
    capability: score
    after: [start]
    escalate: [{id: left-review, queue: q1, reason: left}]
  - id: right
    capability: score
    after: [start]
    escalate: [{id: right-review, queue: q2, reason: right}]
  - {id: end, capability: respond, after: [left, right]}
"""
    )
    d = Driver(pipeline)
    d.submit()
    d.complete("start", classify())
    d.complete("left", score())
    d.complete("right", score())
    assert [e.queue for e in d.of(HumanTaskOpened)] == ["q1"]
    d.decide(DecisionAction.APPROVE)
    assert [e.queue for e in d.of(HumanTaskOpened)] == ["q1", "q2"]
    assert d.requested(d.decide(DecisionAction.APPROVE)) == ["end#1"]
    assert d.state is not None and d.state.human is None
    assert d.state.humans == 2


def test_human_task_kinds() -> None:
    d = escalated()
    assert d.state is not None and d.state.human is not None
    assert d.state.human.kind is HumanTaskKind.STEP
    assert d.state.human.rule == "high-risk"
