"""One case, one trace: the real coordinator and agent runtime on the memory bus, traced by
the bus middleware into an in-memory exporter (an explicit provider, no global state).

The case goes through intake, an agent that fails (agent retry topic, then dead letter and
a retryable TaskFailed), the coordinator's backoff timer, a second attempt, a human review
whose decision is published with no span current, and the last steps.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agents.errors import DeliveryUnavailable
from agents.runtime import Outcome, RetryPolicy
from caseyard.telemetry import (
    DESTINATION,
    GROUP,
    KAFKA_KEY,
    KAFKA_OFFSET,
    OPERATION_TYPE,
    PARTITION,
    SYSTEM,
    Telemetry,
)
from schemas import CaseCompleted, DecisionAction, HumanTaskOpened, TaskRequested
from tests.integration.coordinator_harness import default_output, harness

pytestmark = pytest.mark.anyio

PIPELINE = """
name: traced
version: 1
steps:
  - id: classify
    capability: classify
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 100ms, max_delay: 100ms}
  - id: score
    capability: score
    after: [classify]
    escalate:
      - {id: look, queue: reviewers, reason: a person looks at every case, sla: 1h}
  - id: respond
    capability: respond
    after: [score]
"""


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    (tmp_path / "traced.yaml").write_text(PIPELINE)
    return tmp_path


def ancestry(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[str]:
    """The names of `span` and its parents up to the root, root first."""
    by_id = {s.context.span_id: s for s in spans}
    names = [span.name]
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names[::-1]


def attribute(span: ReadableSpan, name: str) -> str:
    value = (span.attributes or {}).get(name)
    assert isinstance(value, str), (span.name, name, value)
    return value


class Tracing:
    """The test; subclasses say which bus."""

    url: str

    async def test_one_case_is_one_trace_across_every_hop(self, pipelines: Path) -> None:
        await one_case_one_trace(self.url, pipelines)


class TestTracingOnMemory(Tracing):
    url = "memory://"


@pytest.mark.kafka
class TestTracingOnKafka(Tracing):
    @pytest.fixture(autouse=True)
    def _kafka(self, kafka_bootstrap: str) -> None:
        self.url = f"kafka://{kafka_bootstrap}"


async def one_case_one_trace(url: str, pipelines: Path) -> None:
    case = f"case-{uuid.uuid4().hex[:10]}"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry("test", tracer_provider=provider, system="caseyard-embedded")

    async def fails_first_attempt(task: TaskRequested) -> Outcome:
        if task.case_id == case and task.attempt == 1:
            raise DeliveryUnavailable("the model server is down")
        return default_output(task)

    retry = RetryPolicy(delays_s=(0.05,))
    async with harness(url, pipelines, middleware=telemetry.middleware, retry=retry) as h:
        h.scripts["classify"].work = fails_first_attempt
        with telemetry.submitting(case):
            await h.submit("traced", case_id=case)
        await h.wait_for(case, HumanTaskOpened)
        # The reviewer's decision is published outside any span, like the inbox does.
        await h.decide(case, DecisionAction.APPROVE)
        await h.wait_for(case, CaseCompleted)
    provider.shutdown()
    (root,) = [s for s in exporter.get_finished_spans() if s.name == "submit"]
    assert root.parent is None
    # On a shared broker the agents may also handle other tests' leftovers: not this trace.
    trace_id = root.context.trace_id
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
    of_case = [
        s
        for s in exporter.get_finished_spans()
        if s.attributes and s.attributes.get(KAFKA_KEY) == case
    ]
    assert {s.context.trace_id for s in of_case} == {trace_id}
    assert len(of_case) == len(spans) - 1  # all but the root carry the case id as key

    # The last result the coordinator handled (respond's) descends from every hop.
    last = max(
        (s for s in spans if s.name == "process caseyard.results"),
        key=lambda s: s.start_time or 0,
    )
    assert ancestry(last, spans) == [
        "submit",
        "publish caseyard.intake",
        "process caseyard.intake",
        "publish caseyard.tasks.classify",
        "process caseyard.tasks.classify",
        "publish caseyard.retry.fake-classify.1",
        "process caseyard.retry.fake-classify.1",
        "publish caseyard.results",  # TaskFailed: retries exhausted
        "process caseyard.results",
        "publish caseyard.timers",  # the coordinator's backoff timer
        "process caseyard.timers",
        "publish caseyard.tasks.classify",  # attempt 2
        "process caseyard.tasks.classify",
        "publish caseyard.results",
        "process caseyard.results",
        "publish caseyard.tasks.score",
        "process caseyard.tasks.score",
        "publish caseyard.results",
        "process caseyard.results",  # opens the human task
        "publish caseyard.human",  # the decision, after the human wait
        "process caseyard.human",
        "publish caseyard.tasks.respond",
        "process caseyard.tasks.respond",
        "publish caseyard.results",
        "process caseyard.results",
    ]

    processed = [s for s in spans if s.kind is SpanKind.CONSUMER]
    assert {s.attributes[GROUP] for s in processed if s.attributes} == {
        "coordinator",
        "agent.fake-classify",
        "agent.fake-classify.retry.1",
        "agent.fake-score",
        "agent.fake-respond",
    }
    for span in processed:
        assert attribute(span, SYSTEM) == "caseyard-embedded"
        assert attribute(span, OPERATION_TYPE) == "process"
        assert span.name == f"process {attribute(span, DESTINATION)}"
        assert attribute(span, PARTITION).isdigit()
        assert span.attributes is not None and isinstance(span.attributes[KAFKA_OFFSET], int)
    for span in spans:
        if span.kind is SpanKind.PRODUCER:
            assert attribute(span, OPERATION_TYPE) == "send"
            assert span.name == f"publish {attribute(span, DESTINATION)}"

    # Both failed attempts of classify say so; the dead letter is a child of the last one.
    failed = [s for s in processed if s.status.status_code is StatusCode.ERROR]
    assert [s.name for s in failed] == [
        "process caseyard.tasks.classify",
        "process caseyard.retry.fake-classify.1",
    ]
    assert failed[1].status.description == "dead-lettered: DeliveryUnavailable"
    (letter,) = [s for s in spans if s.name == "publish caseyard.dlq"]
    assert letter.parent is not None and letter.parent.span_id == failed[1].context.span_id
    # The changelog holds state, not messages: no spans.
    assert not [s for s in spans if "coordinator.state" in s.name]
