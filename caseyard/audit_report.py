"""One case's audit report: timeline, policy and human decisions, models used and their
cost, and whether its hash chain verifies; as JSON or one self-contained HTML file
(inline CSS, no external assets, every value escaped). `caseyard audit export` writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from caseyard.cases import describe, status_of
from coordinator import PRODUCER, Break, Link, Signed, case_event_hash, step_of_task
from schemas import (
    CaseCompleted,
    CaseFailed,
    CaseOpened,
    CaseSubmitted,
    Event,
    HumanDecision,
    HumanTaskClaimed,
    HumanTaskOpened,
    PolicyDecision,
    TaskCompleted,
    TaskFailed,
)

TEMPLATE = Path(__file__).parent / "templates" / "audit-report.html"


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimelineEntry(_Row):
    time: datetime
    actor: str
    event: str
    summary: str
    detail: str
    where: str


class PolicyRow(_Row):
    time: datetime
    rule: str
    decision: str
    step: str | None
    reason: str
    inputs: dict[str, str]


class HumanRow(_Row):
    time: datetime
    human_task_id: str
    action: str
    by: str
    comment: str | None
    patches: list[str]


class _AttemptRow(_Row):
    time: datetime
    task_id: str
    step: str
    capability: str
    attempt: int

    @classmethod
    def of(cls, event: TaskCompleted | TaskFailed, **fields: Any) -> Self:
        return cls(
            time=event.occurred_at,
            task_id=event.task_id,
            step=step_of_task(event.case_id, event.task_id),
            capability=event.capability,
            attempt=event.attempt,
            **fields,
        )


class ModelRow(_AttemptRow):
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float


class FailureRow(_AttemptRow):
    error_class: str
    message: str
    retryable: bool


class ChainLink(_Row):
    where: str
    event_type: str
    content: str
    """Exactly what was hashed after ``<event_type>\n``: the event's JSON."""
    hash: str


class Proof(_Row):
    """What an auditor checks the case with, offline (README: "Checking a case offline"):
    the chain as hashed, and the latest signed checkpoint naming the case."""

    events: list[ChainLink]
    checkpoint: str | None
    """The checkpoint record as written (JSON), or None if none names the case."""
    checkpoint_where: str | None
    public_key: str | None
    """PEM of the public key the export trusted, if any."""


class ChainResult(_Row):
    intact: bool
    records: int
    breaks: list[str]
    proof: Proof


class CaseReport(_Row):
    """Everything the audit export says about one case."""

    case_id: str
    generated_at: datetime
    status: str
    pipeline: str | None
    pipeline_version: int | None
    outcome: str | None
    source: str | None
    document: dict[str, str]
    opened_at: datetime | None
    closed_at: datetime | None
    timeline: list[TimelineEntry]
    policy_decisions: list[PolicyRow]
    human_decisions: list[HumanRow]
    models: list[ModelRow]
    failures: list[FailureRow]
    total_cost_usd: float
    chain: ChainResult
    unreadable: list[str]


def _summary(event: Event) -> tuple[str, str]:
    if isinstance(event, CaseSubmitted):
        name = event.metadata.get("filename", event.document.uri)
        return f"submitted by {event.source}: {name}", event.pipeline or ""
    if isinstance(event, TaskCompleted):
        usage = event.usage
        return (
            f"{step_of_task(event.case_id, event.task_id)} attempt {event.attempt} by "
            f"{usage.provider}/{usage.model}",
            f"${usage.cost_usd:.6f}, {event.latency_ms:.0f} ms",
        )
    if isinstance(event, TaskFailed):
        return (
            f"{step_of_task(event.case_id, event.task_id)} attempt {event.attempt} failed",
            f"{event.error_class}: {event.message}",
        )
    if isinstance(event, HumanTaskOpened):
        return (
            f"{event.human_task_id} waits in {event.queue}",
            f"{event.reason} (SLA {_when(event.sla_deadline)})",
        )
    if isinstance(event, HumanTaskClaimed):
        return f"{event.human_task_id} claimed by {event.claimed_by}", ""
    if isinstance(event, HumanDecision):
        return f"{event.action.value} by {event.decided_by}", event.comment or ""
    return describe(event)


def build_report(
    case_id: str,
    case_events: Sequence[Link],
    records: Sequence[tuple[str, Event]],
    breaks: Sequence[Break],
    unreadable: Sequence[str],
    now: datetime,
    *,
    checkpoint: Signed | None = None,
    public_key: str | None = None,
) -> CaseReport:
    """The report of one case.

    Args:
        case_id: The case.
        case_events: Its hash chain, in log order.
        records: Every event of the case with where it is: the case-events topic's in
            log order, then the submission, results and human work.
        breaks: Where the chain breaks (the checkpoints' findings included).
        unreadable: Records of the case that do not decode, with why.
        now: When the report is made.
        checkpoint: The latest signed checkpoint naming the case.
        public_key: PEM of the key its signature was checked with.
    """
    seen: set[str] = set()
    everything: list[tuple[str, Event]] = []
    for where, event in records:
        # A redelivered result (same event id) is one result, not two.
        if event.event_id not in seen:
            seen.add(event.event_id)
            everything.append((where, event))
    # Same time: an input before the events it caused (they share its time), then log order.
    everything.sort(
        key=lambda item: (item[1].occurred_at, item[1].producer.service == PRODUCER.service)
    )
    timeline = [
        TimelineEntry(
            time=event.occurred_at,
            actor=event.producer.service,
            event=event.event_type,
            summary=summary,
            detail=detail,
            where=where,
        )
        for where, event in everything
        for summary, detail in [_summary(event)]
    ]
    events = [event for _, event in everything]
    lifecycle: list[Event] = [link.event for link in case_events]
    opened = next((e for e in lifecycle if isinstance(e, CaseOpened)), None)
    submitted = next((e for e in events if isinstance(e, CaseSubmitted)), None)
    closed = next((e for e in lifecycle if isinstance(e, CaseCompleted | CaseFailed)), None)
    document = opened.document if opened else submitted.document if submitted else None
    models = [
        ModelRow.of(
            e,
            provider=e.usage.provider,
            model=e.usage.model,
            input_tokens=e.usage.input_tokens,
            output_tokens=e.usage.output_tokens,
            cost_usd=e.usage.cost_usd,
            latency_ms=e.latency_ms,
        )
        for e in events
        if isinstance(e, TaskCompleted)
    ]
    return CaseReport(
        case_id=case_id,
        generated_at=now,
        status=status_of(lifecycle),
        pipeline=opened.pipeline if opened else None,
        pipeline_version=opened.pipeline_version if opened else None,
        outcome=closed.outcome if isinstance(closed, CaseCompleted) else None,
        source=submitted.source if submitted else None,
        document={}
        if document is None
        else {
            "filename": submitted.metadata.get("filename", "") if submitted else "",
            "uri": document.uri,
            "sha256": document.sha256,
            "media_type": document.media_type,
            "size": str(document.size),
        },
        opened_at=opened.occurred_at if opened else None,
        closed_at=closed.occurred_at if closed else None,
        timeline=timeline,
        policy_decisions=[
            PolicyRow(
                time=e.occurred_at,
                rule=e.rule_id,
                decision=e.decision.value,
                step=e.step,
                reason=e.reason,
                inputs=dict(e.inputs),
            )
            for e in lifecycle
            if isinstance(e, PolicyDecision)
        ],
        human_decisions=[
            HumanRow(
                time=e.occurred_at,
                human_task_id=e.human_task_id,
                action=e.action.value,
                by=e.decided_by,
                comment=e.comment,
                patches=[f"{p.field} = {p.value!r}" for p in e.patches],
            )
            for e in events
            if isinstance(e, HumanDecision)
        ],
        models=models,
        failures=[
            FailureRow.of(
                e,
                error_class=e.error_class,
                message=e.message,
                retryable=e.retryable,
            )
            for e in events
            if isinstance(e, TaskFailed)
        ],
        total_cost_usd=sum(m.cost_usd for m in models),
        chain=ChainResult(
            intact=not breaks,
            records=len(case_events),
            breaks=[str(b) for b in breaks],
            proof=Proof(
                events=[
                    ChainLink(
                        where=link.where,
                        event_type=link.event.event_type,
                        content=link.event.model_dump_json(),
                        hash=case_event_hash(link.event),
                    )
                    for link in case_events
                ],
                checkpoint=checkpoint.checkpoint.to_bytes().decode() if checkpoint else None,
                checkpoint_where=checkpoint.where if checkpoint else None,
                public_key=public_key,
            ),
        ),
        unreadable=list(unreadable),
    )


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _usd(value: float) -> str:
    return f"{value:.6f}"


class ReportFormat(StrEnum):
    JSON = "json"
    HTML = "html"


def render(report: CaseReport, fmt: ReportFormat) -> str:
    """The report as JSON, or as one HTML file (inline CSS, every value escaped)."""
    if fmt is ReportFormat.JSON:
        return report.model_dump_json(indent=2) + "\n"
    import jinja2

    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(when=_when, usd=_usd)
    return env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(r=report)
