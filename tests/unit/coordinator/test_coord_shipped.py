"""The pipelines shipped in pipelines/, run end to end through the transition."""

from __future__ import annotations

from datetime import timedelta

from coordinator import CaseStatus, PipelineCatalog, transition
from schemas.human import DecisionAction, HumanTaskOpened
from schemas.intake import CaseSubmitted
from schemas.lifecycle import (
    CaseCompleted,
    CaseFailed,
    CaseHandedOff,
    Decision,
    PolicyDecision,
    TimerPurpose,
)
from schemas.payloads import DocType, RiskBand, Urgency
from schemas.tasks import TaskRequested
from schemas.topology import INTAKE
from tests.unit.coordinator.coord_support import (
    CASE,
    DOCUMENT,
    PIPELINES_DIR,
    Driver,
    classify,
    extract,
    respond,
    score,
)

CATALOG = PipelineCatalog.load(PIPELINES_DIR)


def test_document_intake_low_risk_runs_straight_through() -> None:
    d = Driver(catalog=CATALOG)
    d.submit()
    assert d.requested(d.complete("classify", classify())) == ["extract#1", "triage#1"]
    assert d.requested(d.complete("triage", score())) == []
    assert d.requested(d.complete("extract", extract())) == ["score#1"]
    assert set(d.task("score").input.prior) == {"classify", "extract", "triage"}
    assert d.requested(d.complete("score", score(0.3, RiskBand.MEDIUM))) == ["respond#1"]
    assert d.task("respond").input.parameters == {"template": "acknowledgement"}
    d.complete("respond", respond())
    assert d.of(CaseCompleted)[0].outcome == "responded"


def test_document_intake_hands_a_fraud_report_to_the_fraud_alert_pipeline() -> None:
    d = Driver(catalog=CATALOG)
    d.submit()
    result = d.complete("classify", classify(DocType.FRAUD_REPORT))
    assert d.requested(result) == []
    handed = d.of(CaseHandedOff)[0]
    assert (handed.step, handed.rule_id, handed.pipeline) == (
        "classify",
        "fraud-reports",
        "fraud-alert",
    )
    assert handed.to_case_id == f"{CASE}.fraud-alert"
    assert d.of(CaseCompleted)[0].outcome == "handed-off"
    assert d.state is not None and d.state.finished
    (submitted,) = [o for o in result.outputs if isinstance(o.event, CaseSubmitted)]
    assert submitted.topic == INTAKE.name
    child = submitted.event
    assert isinstance(child, CaseSubmitted)
    assert (child.case_id, child.pipeline) == (handed.to_case_id, "fraud-alert")
    assert child.correlation_id == CASE and child.causation_id == d.inputs[-1].event_id
    assert child.document == DOCUMENT
    assert child.metadata == {"customer": "acme", "handed_off_from": CASE}
    # The new case runs the fraud-alert pipeline from its first step.
    opened = transition(None, child, CATALOG)
    assert opened.state is not None and opened.state.pipeline == "fraud-alert"
    assert [e.step for e in opened.events if isinstance(e, TaskRequested)] == ["classify"]


def test_cases_of_document_intake_version_1_still_finish_on_it() -> None:
    d = Driver(catalog=CATALOG)
    d.submit("document-intake@1")
    d.complete("classify", classify(DocType.FRAUD_REPORT))
    d.complete("triage", score())
    d.complete("score", score())
    failed = d.of(CaseFailed)[0]
    assert (failed.error_class, failed.step) == ("PolicyDenied", "respond")
    assert d.of(CaseHandedOff) == []


def test_document_intake_high_score_goes_to_risk_review() -> None:
    d = Driver(catalog=CATALOG)
    d.submit()
    d.complete("classify", classify())
    d.complete("triage", score())
    d.complete("extract", extract())
    d.complete("score", score(0.75, RiskBand.MEDIUM))
    opened = d.of(HumanTaskOpened)[0]
    assert (opened.queue, opened.sla_deadline) == ("risk-review", d.now + timedelta(hours=4))
    assert set(opened.evidence) == {"classify", "extract", "score"}
    d.fire(TimerPurpose.HUMAN_SLA)
    assert d.of(HumanTaskOpened)[-1].queue == "risk-senior"
    assert d.requested(d.decide(DecisionAction.APPROVE)) == ["respond#1"]


def test_fraud_alert_escalates_above_the_threshold_along_its_chain() -> None:
    d = Driver(catalog=CATALOG)
    d.submit("fraud-alert")
    d.complete("classify", classify(DocType.FRAUD_REPORT))
    d.complete("score", score(0.55, RiskBand.MEDIUM))
    queues = [d.of(HumanTaskOpened)[-1].queue]
    for _ in range(2):
        d.fire(TimerPurpose.HUMAN_SLA)
        queues.append(d.of(HumanTaskOpened)[-1].queue)
    assert queues == ["fraud-analysts", "fraud-senior", "fraud-oncall"]
    assert d.of(HumanTaskOpened)[0].sla_deadline - d.of(HumanTaskOpened)[
        0
    ].occurred_at == timedelta(hours=1)
    d.decide(DecisionAction.REJECT, comment="confirmed fraud")
    assert d.of(CaseCompleted)[0].outcome == "rejected"


def test_fraud_alert_critical_urgency_escalates_even_with_a_low_score() -> None:
    d = Driver(catalog=CATALOG)
    d.submit("fraud-alert")
    d.complete("classify", classify().model_copy(update={"urgency": Urgency.CRITICAL}))
    d.complete("score", score(0.1))
    assert d.state is not None and d.state.waiting_for_human


def test_fraud_alert_below_the_threshold_responds_with_redaction() -> None:
    d = Driver(catalog=CATALOG)
    d.submit("fraud-alert")
    d.complete("classify", classify(DocType.FRAUD_REPORT))
    result = d.complete("score", score(0.2))
    assert d.requested(result) == ["respond#1"]
    redact = next(e for e in result.events if isinstance(e, PolicyDecision))
    assert redact.decision is Decision.REDACT
    assert d.task("respond").redact_fields == ("card_number", "iban", "account_number")
    d.complete("respond", respond())
    assert d.state is not None and d.state.status is CaseStatus.COMPLETED
