"""Hand-off between pipelines: a step's result ends the case and opens it in another."""

from __future__ import annotations

import pytest

from coordinator import CaseStatus, PipelineCatalog, PipelineError, StepStatus, transition
from schemas.human import DecisionAction
from schemas.intake import CaseSubmitted
from schemas.lifecycle import CaseCompleted, CaseFailed, CaseHandedOff, CaseOpened
from schemas.payloads import DocType
from tests.unit.coordinator.coord_support import CASE, Driver, classify, load, score

SOURCE = """
name: intake
version: 1
steps:
  - id: classify
    capability: classify
    escalate:
      - {id: unsure, when: "steps.classify.confidence < 0.5", queue: review, reason: unsure}
    hand_off:
      - id: fraud
        when: steps.classify.doc_type == 'fraud_report'
        to: fraud
        reason: fraud goes to the fraud pipeline
      - id: complaints
        when: steps.classify.doc_type == 'complaint'
        to: complaints
        reason: complaints have their own pipeline
  - {id: triage, capability: score, after: [classify]}
"""
TARGET = """
name: {name}
version: 1
steps:
  - {{id: score, capability: score}}
"""


def catalog() -> PipelineCatalog:
    return PipelineCatalog(
        [load(SOURCE), load(TARGET.format(name="fraud")), load(TARGET.format(name="complaints"))]
    )


def test_no_rule_holds_the_case_goes_on() -> None:
    d = Driver(catalog=catalog())
    d.submit("intake")
    assert d.requested(d.complete("classify", classify(DocType.INVOICE))) == ["triage#1"]
    assert d.of(CaseHandedOff) == []


@pytest.mark.parametrize(
    ("doc_type", "rule", "pipeline"),
    [(DocType.FRAUD_REPORT, "fraud", "fraud"), (DocType.COMPLAINT, "complaints", "complaints")],
)
def test_the_first_rule_that_holds_hands_the_case_off(
    doc_type: DocType, rule: str, pipeline: str
) -> None:
    d = Driver(catalog=catalog())
    d.submit("intake")
    result = d.complete("classify", classify(doc_type))
    assert d.types(result) == ["StepCompleted", "CaseHandedOff", "CaseSubmitted", "CaseCompleted"]
    handed = d.of(CaseHandedOff)[0]
    assert (handed.rule_id, handed.pipeline, handed.to_case_id) == (
        rule,
        pipeline,
        f"{CASE}.{pipeline}",
    )
    # The hand-off is a link of the case's audit chain like any other case event.
    assert handed.previous_hash is not None
    assert d.of(CaseCompleted)[0].previous_hash != handed.previous_hash
    assert d.status() is CaseStatus.COMPLETED and d.state is not None and d.state.timers == ()
    child = next(e for e in result.events if isinstance(e, CaseSubmitted))
    opened = transition(None, child, catalog())
    assert [type(e) for e in opened.events][:1] == [CaseOpened]
    assert opened.state is not None and (opened.state.pipeline, opened.state.case_id) == (
        pipeline,
        f"{CASE}.{pipeline}",
    )


def test_the_same_input_twice_hands_off_once() -> None:
    d = Driver(catalog=catalog())
    d.submit("intake")
    first = d.complete("classify", classify(DocType.FRAUD_REPORT))
    again = d.feed(d.inputs[-1])
    assert again.ignored is not None and again.outputs == ()
    # Redelivered to a coordinator without the new state, the same input derives the same
    # submission: the new case dedupes it.
    child = next(e for e in first.events if isinstance(e, CaseSubmitted))
    opened = transition(None, child, catalog())
    assert transition(opened.state, child, catalog()).ignored is not None


def test_an_escalated_step_hands_off_once_the_person_approves() -> None:
    d = Driver(catalog=catalog())
    d.submit("intake")
    unsure = classify(DocType.FRAUD_REPORT).model_copy(update={"confidence": 0.3})
    d.complete("classify", unsure)
    assert d.of(CaseHandedOff) == [] and d.state is not None and d.state.waiting_for_human
    d.decide(DecisionAction.APPROVE)
    assert d.of(CaseHandedOff)[0].rule_id == "fraud"
    assert d.status() is CaseStatus.COMPLETED


def test_steps_still_running_are_cancelled_by_a_hand_off() -> None:
    source = """
name: intake
version: 1
steps:
  - {id: classify, capability: classify}
  - {id: triage, capability: score}
  - id: score
    capability: score
    after: [classify]
    hand_off:
      - {id: away, when: "steps.score.score > 0.5", to: other, reason: risky}
"""
    d = Driver(catalog=PipelineCatalog([load(source), load(TARGET.format(name="other"))]))
    d.submit("intake")
    assert d.requested() == ["classify#1", "triage#1"]
    d.complete("classify", classify())
    d.complete("score", score(0.9))
    assert d.state is not None
    assert d.state.steps["triage"].status is StepStatus.CANCELLED
    assert d.of(CaseHandedOff)[0].rule_id == "away"
    # A late result of the cancelled step is drained, not applied.
    late = d.complete("triage", score())
    assert late.ignored is not None and late.outputs == ()


def test_a_broken_condition_fails_the_case() -> None:
    source = """
name: intake
version: 1
steps:
  - id: classify
    capability: classify
    hand_off:
      - {id: bad, when: "steps.classify.nothing > 1", to: other, reason: never}
"""
    d = Driver(catalog=PipelineCatalog([load(source), load(TARGET.format(name="other"))]))
    d.submit("intake")
    d.complete("classify", classify())
    failed = d.of(CaseFailed)[0]
    assert failed.error_class == "ExpressionError" and failed.step == "classify"


def test_a_hand_off_to_a_pipeline_not_loaded_is_refused_at_load() -> None:
    with pytest.raises(PipelineError, match=r"hand_off 'fraud': to: no pipeline 'fraud'"):
        PipelineCatalog([load(SOURCE), load(TARGET.format(name="complaints"))])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "{id: me, when: \"steps.classify.doc_type == 'x'\", to: intake, reason: r}",
            "hand_off 'me': to: a pipeline cannot hand a case to itself",
        ),
        (
            "{id: later, when: \"steps.triage.band == 'high'\", to: other, reason: r}",
            "hand_off 'later': when: step 'triage' has not run before 'classify'",
        ),
        (
            "{id: classify, when: \"steps.classify.doc_type == 'x'\", to: other, reason: r}",
            "id: 'classify' is already used by step 'classify'",
        ),
    ],
)
def test_hand_off_rules_are_checked(rule: str, message: str) -> None:
    text = f"""
name: intake
version: 1
steps:
  - id: classify
    capability: classify
    hand_off: [{rule}]
  - {{id: triage, capability: score, after: [classify]}}
"""
    with pytest.raises(PipelineError) as caught:
        load(text)
    assert message in str(caught.value)
