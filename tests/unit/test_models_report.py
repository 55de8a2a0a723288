"""The drift report's figures on a stream whose class mix shifts: PSI, breach, confidence
histogram, cascade, reviews, corrections, and the `since` window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from caseyard.models_report import build_report, psi, render_html, training_mix
from schemas import (
    CaseEscalated,
    ClassifyOutput,
    DecisionAction,
    DocType,
    Event,
    FieldPatch,
    HumanDecision,
    ModelHop,
    ModelUsage,
    Producer,
    TaskCompleted,
)

P = Producer(service="test", version="1")
T0 = datetime(2026, 12, 1, tzinfo=UTC)
TRAINED = training_mix([DocType.INVOICE] * 5 + [DocType.RECEIPT] * 3 + [DocType.COMPLAINT] * 2)


def result(
    n: int,
    doc_type: DocType,
    confidence: float,
    *,
    model: str = "v1",
    hops: int = 0,
    at: datetime = T0,
) -> TaskCompleted:
    case = f"case-{n}"
    return TaskCompleted(
        case_id=case,
        correlation_id=case,
        occurred_at=at,
        producer=P,
        task_id=f"{case}/classify/1.1",
        capability="classify",
        attempt=1,
        output=ClassifyOutput(doc_type=doc_type, confidence=confidence),
        usage=ModelUsage(provider="local", model=model),
        latency_ms=1.0,
        hops=tuple(ModelHop(provider="local", model=model, outcome="unsure") for _ in range(hops)),
    )


def test_psi_is_zero_for_the_trained_mix_and_grows_with_the_shift() -> None:
    assert psi({"invoice": 50, "receipt": 30, "complaint": 20}, TRAINED) == pytest.approx(0)
    mild = psi({"invoice": 45, "receipt": 35, "complaint": 20}, TRAINED)
    shifted = psi({"fraud_report": 80, "invoice": 20}, TRAINED)
    assert 0 < mild < 0.1 < 0.25 < shifted


def test_a_stream_whose_mix_shifts_breaches_after_the_shift() -> None:
    before = [
        result(i, [DocType.INVOICE, DocType.RECEIPT, DocType.COMPLAINT][i % 3], 0.9)
        for i in range(30)
    ]
    later = T0 + timedelta(days=1)
    after = [result(100 + i, DocType.FRAUD_REPORT, 0.55, at=later) for i in range(30)]
    (calm,) = build_report(before, TRAINED, threshold=0.25)
    assert not calm.breach and calm.psi < 0.25
    (mixed,) = build_report([*before, *after], TRAINED, threshold=0.25)
    assert mixed.breach and mixed.documents == 60
    (recent,) = build_report([*before, *after], TRAINED, threshold=0.25, since=later)
    assert recent.documents == 30 and recent.mix == {"fraud_report": 30}
    assert recent.histogram[5] == 30 and recent.mean_confidence == pytest.approx(0.55)
    page = render_html([recent], TRAINED, since=later.isoformat(), threshold=0.25)
    assert 'class="version breach"' in page and "fraud_report" in page


def test_versions_cascade_reviews_and_corrections_are_counted() -> None:
    events: list[Event] = [
        result(1, DocType.INVOICE, 0.4, hops=2),
        result(2, DocType.OTHER, 0.3, hops=2),
        result(3, DocType.RECEIPT, 0.9, model="v2"),
    ]
    for n in (1, 2):
        events.append(
            CaseEscalated(
                case_id=f"case-{n}",
                correlation_id=f"case-{n}",
                occurred_at=T0,
                producer=P,
                human_task_id=f"case-{n}/human/1",
                queue="review",
                reason="unsure",
                step="classify",
            )
        )
    events.append(
        HumanDecision(
            case_id="case-1",
            correlation_id="case-1",
            occurred_at=T0,
            producer=P,
            human_task_id="case-1/human/1",
            decided_by="ana",
            action=DecisionAction.APPROVE,
        )
    )
    events.append(
        HumanDecision(
            case_id="case-2",
            correlation_id="case-2",
            occurred_at=T0,
            producer=P,
            human_task_id="case-2/human/1",
            decided_by="ana",
            action=DecisionAction.EDIT,
            patches=(FieldPatch(field="doc_type", value="invoice"),),
        )
    )
    v1, v2 = build_report(events, TRAINED, threshold=0.25)
    assert (v1.model, v1.documents, v1.cascaded, v1.escalated) == ("local/v1", 2, 2, 2)
    assert (v1.corrected, v1.confirmed) == (1, 1)
    assert (v2.model, v2.documents, v2.escalated) == ("local/v2", 1, 0)
