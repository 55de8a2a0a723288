"""Builders for the coordinator tests: inputs as agents, people and the timer loop send them.

A ``Driver`` feeds one case through ``transition`` and keeps the state, so a test reads
as the story of a case. Input ids and times are deterministic.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from coordinator import (
    CaseState,
    CaseStatus,
    Pipeline,
    PipelineCatalog,
    Transition,
    parse_pipeline,
    timer_fired,
    transition,
)
from schemas.blobs import DocumentRef
from schemas.envelope import Event, Producer
from schemas.human import DecisionAction, FieldPatch, HumanDecision, HumanTaskClaimed
from schemas.intake import CaseSubmitted
from schemas.lifecycle import TimerFired, TimerPurpose
from schemas.payloads import (
    ClassifyOutput,
    DocType,
    ExtractedField,
    ExtractOutput,
    FieldType,
    RespondOutput,
    RiskBand,
    ScoreOutput,
    TaskOutput,
)
from schemas.results import ModelUsage, TaskCompleted, TaskFailed
from schemas.tasks import TaskRequested

PIPELINES_DIR = Path(__file__).resolve().parents[3] / "pipelines"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
CASE = "case-1"
DOCUMENT = DocumentRef(
    uri="file:///blobs/sha256/9f/9f86",
    sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    size=1234,
    media_type="application/pdf",
)
AGENT = Producer(service="agent", version="1")
USAGE = ModelUsage(provider="local", model="tiny", cost_usd=0.01, latency_ms=5.0)

E = TypeVar("E", bound=Event)


def classify(doc_type: DocType = DocType.INVOICE) -> ClassifyOutput:
    return ClassifyOutput(doc_type=doc_type, confidence=0.9)


def extract(**values: str) -> ExtractOutput:
    fields = values or {"total_amount": "120.00 EUR", "iban": "DE89370400440532013000"}
    return ExtractOutput(
        fields=tuple(
            ExtractedField(name=name, value=value, type=FieldType.STRING, confidence=0.8)
            for name, value in fields.items()
        )
    )


def score(value: float = 0.2, band: RiskBand = RiskBand.LOW) -> ScoreOutput:
    return ScoreOutput(score=value, band=band)


def respond() -> RespondOutput:
    return RespondOutput(channel="email", recipient="a@example.com", subject="Hi", body="Thanks")


def load(text: str) -> Pipeline:
    return parse_pipeline(text, "test.yaml")


class Driver:
    """Feeds inputs for one case to ``transition`` and keeps its state."""

    def __init__(self, *pipelines: Pipeline, catalog: PipelineCatalog | None = None) -> None:
        self.catalog = catalog or PipelineCatalog(pipelines)
        self.state: CaseState | None = None
        self.now = T0
        self.log: list[Transition] = []
        self.inputs: list[Event] = []
        self._ids = itertools.count(1)

    # Inputs.

    def _envelope(self) -> dict[str, object]:
        n = next(self._ids)
        ms = int(self.now.timestamp() * 1000)
        event_id = str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62) | n))
        return {
            "event_id": event_id,
            "case_id": CASE,
            "correlation_id": CASE,
            "occurred_at": self.now,
            "producer": AGENT,
        }

    def feed(self, event: Event) -> Transition:
        result = transition(self.state, event, self.catalog)
        self.inputs.append(event)
        self.log.append(result)
        self.state = result.state
        return result

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def submit(self, pipeline: str | None = None) -> Transition:
        return self.feed(
            CaseSubmitted(
                **self._envelope(),
                source="test",
                document=DOCUMENT,
                metadata={"customer": "acme"},
                pipeline=pipeline,
            )
        )

    def task(self, step: str) -> TaskRequested:
        """The latest task requested for ``step`` (or a compensation)."""
        for result in reversed(self.log):
            for event in reversed(result.events):
                if isinstance(event, TaskRequested) and event.step == step:
                    return event
        raise AssertionError(f"no task requested for {step!r}")

    def complete(
        self,
        step: str,
        output: TaskOutput,
        usage: ModelUsage = USAGE,
        latency_ms: float = 10.0,
        task: TaskRequested | None = None,
    ) -> Transition:
        task = task or self.task(step)
        return self.feed(
            TaskCompleted(
                **self._envelope(),
                task_id=task.task_id,
                capability=task.capability,
                attempt=task.attempt,
                output=output,
                usage=usage,
                latency_ms=latency_ms,
            )
        )

    def fail(
        self, step: str, retryable: bool = True, task: TaskRequested | None = None
    ) -> Transition:
        task = task or self.task(step)
        return self.feed(
            TaskFailed(
                **self._envelope(),
                task_id=task.task_id,
                capability=task.capability,
                attempt=task.attempt,
                error_class="ProviderError",
                message="model unavailable",
                retryable=retryable,
            )
        )

    def fire(self, purpose: TimerPurpose, node: str | None = None) -> Transition:
        """Move the clock to the pending timer of ``purpose`` (and node) and fire it."""
        assert self.state is not None
        timers = [
            t
            for t in self.state.timers
            if t.purpose is purpose and (node is None or t.node == node)
        ]
        assert timers, f"no pending {purpose} timer for {node!r}"
        timer = min(timers, key=lambda t: t.due_at)
        self.now = max(self.now, timer.due_at)
        assert timer in self.state.due_timers(self.now)
        return self.feed(timer_fired(self.state, timer, self.now))

    def fire_id(self, timer_id: str) -> Transition:
        assert self.state is not None
        return self.feed(
            TimerFired(
                **self._envelope(),
                timer_id=timer_id,
                purpose=TimerPurpose.STEP_TIMEOUT,
                due_at=self.now,
            )
        )

    def human_task_id(self) -> str:
        assert self.state is not None and self.state.human is not None
        return self.state.human.id

    def claim(self, who: str = "ana", human_task_id: str | None = None) -> Transition:
        return self.feed(
            HumanTaskClaimed(
                **self._envelope(),
                human_task_id=human_task_id or self.human_task_id(),
                claimed_by=who,
            )
        )

    def decide(
        self,
        action: DecisionAction,
        patches: Iterable[FieldPatch] = (),
        human_task_id: str | None = None,
        comment: str | None = None,
    ) -> Transition:
        return self.feed(
            HumanDecision(
                **self._envelope(),
                human_task_id=human_task_id or self.human_task_id(),
                decided_by="ana",
                action=action,
                patches=tuple(patches),
                comment=comment,
            )
        )

    # Reading.

    def status(self) -> CaseStatus:
        assert self.state is not None
        return self.state.status

    @property
    def events(self) -> list[Event]:
        return [event for result in self.log for event in result.events]

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    def requested(self, result: Transition | None = None) -> list[str]:
        """Steps requested (as ``step#attempt``) by ``result``, or by the whole story."""
        events = result.events if result is not None else tuple(self.events)
        return [f"{e.step}#{e.attempt}" for e in events if isinstance(e, TaskRequested)]

    def types(self, result: Transition) -> list[str]:
        return [event.event_type for event in result.events]
