"""Live drift metrics of the classifier: counts by model version and type, confidence,
cascaded answers, and the PSI of the recent class mix, with a breach counted and logged
once per crossing of the threshold (on a stream whose class mix shifts and comes back)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from caseyard.drift import MIN_SAMPLE, WINDOW, DriftWatch
from schemas import ClassifyOutput, DocType, ModelUsage, Producer, TaskCompleted
from schemas.payloads import Label, Urgency
from schemas.results import ModelHop

MODEL = "local/classifier+abc123"
TRAINED = {"invoice": 0.5, "receipt": 0.5}


def classified(
    doc_type: DocType, n: int, *, confidence: float = 0.9, cascaded: bool = False
) -> TaskCompleted:
    hop = ModelHop(provider="local", model="classifier+abc123", outcome="served")
    unsure = ModelHop(provider="local", model="small", outcome="unsure")
    return TaskCompleted(
        case_id=f"case-{n}",
        correlation_id=f"case-{n}",
        occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        producer=Producer(service="classifier", version="1"),
        task_id=f"case-{n}/classify/1/1",
        capability="classify",
        attempt=1,
        output=ClassifyOutput(
            doc_type=doc_type,
            confidence=confidence,
            labels=(Label(label=doc_type.value, score=confidence),),
            urgency=Urgency.NORMAL,
        ),
        usage=ModelUsage(provider="local", model="classifier+abc123", latency_ms=3.0),
        latency_ms=3.0,
        hops=(unsure, hop) if cascaded else (hop,),
    )


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_shifting_class_mix_is_a_breach_once_per_crossing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    watch = DriftWatch(registry, threshold=0.25, trained=lambda: TRAINED)
    n = 0

    def feed(types: list[DocType], **kwargs: object) -> None:
        nonlocal n
        for doc_type in types:
            n += 1
            watch.observe(classified(doc_type, n, **kwargs))  # type: ignore[arg-type]

    feed([DocType.INVOICE])
    assert watch.training_mix_read(timeout=10)
    feed([DocType.INVOICE, DocType.RECEIPT] * (MIN_SAMPLE // 2))
    steady = value(registry, "caseyard_classify_psi", model=MODEL)
    assert steady is not None and steady < 0.01
    assert value(registry, "caseyard_drift_breaches_total", model=MODEL) is None

    with caplog.at_level(logging.WARNING, logger="caseyard.drift"):
        feed([DocType.FRAUD_REPORT] * WINDOW, confidence=0.55, cascaded=True)
    drifted = value(registry, "caseyard_classify_psi", model=MODEL)
    assert drifted is not None and drifted > 0.25
    assert value(registry, "caseyard_drift_breaches_total", model=MODEL) == 1, "once"
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert MODEL in warning.getMessage() and "PSI" in warning.getMessage()

    feed([DocType.INVOICE, DocType.RECEIPT] * (WINDOW // 2))  # back to the training mix
    back = value(registry, "caseyard_classify_psi", model=MODEL)
    assert back is not None and back < 0.01
    feed([DocType.COMPLAINT] * WINDOW)
    assert value(registry, "caseyard_drift_breaches_total", model=MODEL) == 2, "a new crossing"

    total = 1 + MIN_SAMPLE + WINDOW + WINDOW + WINDOW
    assert value(registry, "caseyard_classify_confidence_count", model=MODEL) == total
    assert value(registry, "caseyard_classify_cascaded_total", model=MODEL) == WINDOW
    assert (
        value(registry, "caseyard_classified_total", model=MODEL, doc_type="fraud_report") == WINDOW
    )


def test_other_events_are_not_counted_and_no_psi_before_a_sample() -> None:
    registry = CollectorRegistry()
    watch = DriftWatch(registry, threshold=0.25, trained=lambda: TRAINED)
    for n in range(MIN_SAMPLE - 1):
        watch.observe(classified(DocType.FRAUD_REPORT, n))
    assert watch.training_mix_read(timeout=10)
    assert value(registry, "caseyard_classify_psi", model=MODEL) is None
    watch.observe(classified(DocType.FRAUD_REPORT, 0).model_copy(update={"capability": "x"}))
    assert value(registry, "caseyard_classify_confidence_count", model=MODEL) == MIN_SAMPLE
