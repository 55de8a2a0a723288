"""Example events for tests: one fully populated instance of every event type.

Deterministic (fixed ids and times), so tests over any bus backend can compare what they
sent with what they received.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas.blobs import DocumentRef
from schemas.dead_letters import DeadLetter
from schemas.envelope import Event, Producer
from schemas.human import (
    DecisionAction,
    FieldPatch,
    HumanDecision,
    HumanTaskClaimed,
    HumanTaskOpened,
)
from schemas.intake import CaseSubmitted
from schemas.lifecycle import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CaseHandedOff,
    CaseOpened,
    CompensationCompleted,
    CompensationStarted,
    Decision,
    PolicyDecision,
    StepCompleted,
    StepFailed,
    StepStarted,
    StepTimedOut,
    TimerFired,
    TimerPurpose,
)
from schemas.payloads import (
    Channel,
    ClassifyOutput,
    DocType,
    ExtractedField,
    ExtractOutput,
    FieldType,
    Label,
    RespondOutput,
    RiskBand,
    ScoreOutput,
    Span,
    Urgency,
)
from schemas.results import ModelUsage, TaskCompleted, TaskFailed
from schemas.tasks import TaskInput, TaskRequested

EXAMPLE_TIME = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
EXAMPLE_CASE_ID = "case-0001"
_TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def example_id(n: int) -> str:
    """Return a deterministic UUIDv7 for the ``n``-th example event."""
    ms = int(EXAMPLE_TIME.timestamp() * 1000) + n
    return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62) | n))


def example_document() -> DocumentRef:
    """Return a reference to an example invoice."""
    return DocumentRef(
        uri="file:///var/lib/caseyard/blobs/sha256/9f/9f86d0",
        sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        size=48213,
        media_type="application/pdf",
    )


def example_outputs() -> list[ClassifyOutput | ExtractOutput | ScoreOutput | RespondOutput]:
    """Return one example output per built-in capability."""
    return [
        ClassifyOutput(
            doc_type=DocType.INVOICE,
            confidence=0.94,
            labels=(Label(label="invoice", score=0.94), Label(label="receipt", score=0.04)),
            urgency=Urgency.HIGH,
        ),
        ExtractOutput(
            fields=(
                ExtractedField(
                    name="total_amount",
                    value="1.234,50 EUR",
                    type=FieldType.MONEY,
                    normalized="1234.50 EUR",
                    span=Span(start=812, end=824),
                    confidence=0.91,
                ),
                ExtractedField(
                    name="iban",
                    value="DE89 3704 0044 0532 0130 00",
                    type=FieldType.IBAN,
                    confidence=0.88,
                ),
            )
        ),
        ScoreOutput(
            score=0.82,
            band=RiskBand.HIGH,
            reasons=("new payee", "amount above the customer's 95th percentile"),
        ),
        RespondOutput(
            channel=Channel.EMAIL,
            recipient="ap@example.com",
            subject="Invoice INV-2024-0042 received",
            body="We received your invoice and will pay it within 30 days.",
            redactions=("iban",),
        ),
    ]


def example_events() -> list[Event]:
    """Return one fully populated example of every event type in the catalog."""
    producer = Producer(service="example", version="1.0.0")
    counter = iter(range(1, 1000))

    def envelope() -> dict[str, object]:
        n = next(counter)
        return {
            "event_id": example_id(n),
            "case_id": EXAMPLE_CASE_ID,
            "correlation_id": EXAMPLE_CASE_ID,
            "causation_id": example_id(n - 1),
            "occurred_at": EXAMPLE_TIME + timedelta(seconds=n),
            "producer": producer,
        }

    classify, extract, score, _ = example_outputs()
    document = example_document()
    later = EXAMPLE_TIME + timedelta(minutes=5)
    hash_ = "a" * 64
    return [
        CaseSubmitted(
            **envelope(),
            source="cli",
            document=document,
            metadata={"filename": "inv-0042.pdf", "customer": "acme"},
            pipeline="document-intake",
        ),
        TaskRequested(
            **envelope(),
            task_id="case-0001/score/1",
            step="score",
            capability="score",
            attempt=1,
            input=TaskInput(
                document=document,
                parameters={"threshold": "0.7"},
                prior={"classify": classify, "extract": extract},
            ),
            deadline=later,
        ),
        TaskCompleted(
            **envelope(),
            task_id="case-0001/score/1",
            capability="score",
            attempt=1,
            output=score,
            usage=ModelUsage(
                provider="local",
                model="risk-gbm-1",
                input_tokens=512,
                output_tokens=24,
                cost_usd=0.0004,
                latency_ms=12.5,
            ),
            latency_ms=15.25,
        ),
        TaskFailed(
            **envelope(),
            task_id="case-0001/extract/1",
            capability="extract",
            attempt=1,
            error_class="ProviderTimeoutError",
            message="openai-compatible endpoint did not answer within 20s",
            retryable=True,
        ),
        CaseOpened(
            **envelope(),
            pipeline="document-intake",
            pipeline_version=3,
            document=document,
        ),
        StepStarted(
            **envelope(),
            previous_hash=hash_,
            step="classify",
            capability="classify",
            task_id="case-0001/classify/1",
            attempt=1,
        ),
        StepCompleted(
            **envelope(),
            previous_hash=hash_,
            step="classify",
            task_id="case-0001/classify/1",
            attempt=1,
        ),
        StepFailed(
            **envelope(),
            previous_hash=hash_,
            step="extract",
            task_id="case-0001/extract/1",
            attempt=1,
            error_class="ProviderTimeoutError",
            message="timed out",
            will_retry=True,
        ),
        StepTimedOut(
            **envelope(),
            previous_hash=hash_,
            step="extract",
            task_id="case-0001/extract/2",
            attempt=2,
            deadline=later,
        ),
        PolicyDecision(
            **envelope(),
            previous_hash=hash_,
            rule_id="risk-escalation",
            decision=Decision.ESCALATE,
            reason="risk score 0.82 >= 0.7",
            step="score",
            inputs={"risk.score": "0.82", "threshold": "0.7"},
        ),
        CaseEscalated(
            **envelope(),
            previous_hash=hash_,
            human_task_id="ht-0001",
            queue="fraud-review",
            reason="high risk",
            step="score",
        ),
        CompensationStarted(
            **envelope(),
            previous_hash=hash_,
            step="reserve-payment",
            compensation="release-payment",
            reason="case rejected by reviewer",
        ),
        CompensationCompleted(
            **envelope(),
            previous_hash=hash_,
            step="reserve-payment",
            compensation="release-payment",
        ),
        CaseCompleted(
            **envelope(), previous_hash=hash_, outcome="responded", total_cost_usd=0.0123
        ),
        CaseFailed(
            **envelope(),
            previous_hash=hash_,
            reason="extraction failed after 3 attempts",
            error_class="ProviderTimeoutError",
            step="extract",
            compensated=True,
        ),
        CaseHandedOff(
            **envelope(),
            previous_hash=hash_,
            step="classify",
            rule_id="fraud-reports",
            pipeline="fraud-alert",
            to_case_id="case-0001.fraud-alert",
            reason="fraud reports are handled by the fraud-alert pipeline",
        ),
        TimerFired(
            **envelope(),
            timer_id="case-0001/extract/2/timeout",
            purpose=TimerPurpose.STEP_TIMEOUT,
            due_at=later,
        ),
        HumanTaskOpened(
            **envelope(),
            human_task_id="ht-0001",
            queue="fraud-review",
            reason="risk score 0.82 >= 0.7",
            document=document,
            evidence={"classify": classify, "extract": extract, "score": score},
            sla_deadline=EXAMPLE_TIME + timedelta(hours=4),
        ),
        HumanTaskClaimed(**envelope(), human_task_id="ht-0001", claimed_by="reviewer@example.com"),
        HumanDecision(
            **envelope(),
            human_task_id="ht-0001",
            decided_by="reviewer@example.com",
            action=DecisionAction.EDIT,
            patches=(
                FieldPatch(field="total_amount", value="1234.50 EUR"),
                FieldPatch(field="iban", value=None),
            ),
            comment="IBAN belongs to another customer",
        ),
        DeadLetter(
            **envelope(),
            reason="decode failed",
            error_class="MagicByteError",
            message="first byte is 0x7b, not the magic byte 0x00",
            source_topic="results",
            source_partition=3,
            source_offset=1042,
            original_key=b"case-0001",
            original_value=b'{"not": "avro"}',
            original_headers={"traceparent": _TRACEPARENT},
            attempts=1,
        ),
    ]
