"""Prometheus metrics: the bus middleware's counters and histogram, consumer lag, and the
collectors that read the services' stats and the routers' model usage at scrape time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.parser import text_string_to_metric_families

import bus
from agents.router import (
    Completion,
    CompletionRequest,
    Embeddings,
    ModelPrice,
    Route,
    Router,
)
from agents.runtime import AgentService, Outcome, ProcessedStore, TaskHandler
from bus import TopicSpec
from caseyard.metrics import Metrics
from coordinator import Coordinator, PipelineCatalog
from schemas import AvroCodec, MemorySchemaStore, ModelUsage, Producer, Registry, TaskRequested
from tests.helpers import drain

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PRODUCER = Producer(service="test", version="1")


class PricedProvider:
    """A provider that answers at once and charges by the token."""

    name = "priced"

    def price(self, model: str) -> ModelPrice | None:
        return ModelPrice(input_per_mtok=2.0, output_per_mtok=4.0)

    async def complete(self, request: CompletionRequest) -> Completion:
        usage = ModelUsage(
            provider=self.name,
            model=request.model or "m",
            input_tokens=1000,
            output_tokens=500,
            cost_usd=0.004,
            latency_ms=250.0,
        )
        return Completion(text="{}", parsed={}, usage=usage)

    async def embed(self, texts: Sequence[str], *, model: str | None = None) -> Embeddings:
        raise NotImplementedError


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_bus_traffic_handler_time_retries_and_dead_letters() -> None:
    metrics = Metrics()
    async with bus.connect("memory://", middleware=[metrics.middleware]) as b:
        await b.ensure_topics([TopicSpec(t) for t in ("t", "caseyard.retry.a.1", "caseyard.dlq")])
        await b.publish_batch([bus.Message("t", b"1"), bus.Message("t", b"2")])
        await b.publish("caseyard.retry.a.1", b"again")
        await b.publish("caseyard.dlq", b"x", headers=(("dlq.error_class", b"Boom"),))
        tx = await b.begin().__aenter__()
        await tx.publish("t", b"never")
        await tx.abort()
        async with b.consumer("g", ["t"]) as c:
            first, second = await drain(c, 2)
            with c.processing(first):
                pass
            with pytest.raises(RuntimeError), c.processing(second):
                raise RuntimeError("handler bug")
    assert sample(metrics, "caseyard_messages_published_total", topic="t") == 3
    assert sample(metrics, "caseyard_messages_failed_total", topic="t") == 1
    assert sample(metrics, "caseyard_messages_consumed_total", topic="t") == 2
    assert sample(metrics, "caseyard_retries_total", topic="caseyard.retry.a.1") == 1
    assert sample(metrics, "caseyard_dead_letters_total", error_class="Boom") == 1
    assert sample(metrics, "caseyard_handler_duration_seconds_count", topic="t", group="g") == 2
    assert sample(metrics, "caseyard_handler_errors_total", topic="t", group="g") == 1


async def test_handler_durations_carry_their_trace_as_an_exemplar_in_openmetrics() -> None:
    """A record handled inside a trace (the tracing middleware's span is current in the
    metrics scope) leaves its trace id on its duration bucket; OpenMetrics shows it, the
    classic text format (which has no exemplars) does not."""
    tracer = TracerProvider().get_tracer("test")
    metrics = Metrics()
    async with bus.connect("memory://", middleware=[metrics.middleware]) as b:
        await b.ensure_topics([TopicSpec("t")])
        await b.publish_batch([bus.Message("t", b"1"), bus.Message("t", b"2")])
        async with b.consumer("g", ["t"]) as c:
            traced, untraced = await drain(c, 2)
            with tracer.start_as_current_span("process t") as span, c.processing(traced):
                pass
            with c.processing(untraced):
                pass
        openmetrics = (await metrics.scrape(b, openmetrics=True)).decode()
        classic = (await metrics.scrape(b)).decode()
    trace_id = f"{span.get_span_context().trace_id:032x}"
    buckets = [
        line
        for line in openmetrics.splitlines()
        if line.startswith("caseyard_handler_duration_seconds_bucket") and " # " in line
    ]
    assert buckets, openmetrics
    assert all(f'trace_id="{trace_id}"' in line for line in buckets)
    assert openmetrics.rstrip().endswith("# EOF")
    assert trace_id not in classic


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "kafka":
        bootstrap: str = request.getfixturevalue("kafka_bootstrap")
        return f"kafka://{bootstrap}"
    return "memory://"


async def test_consumer_lag_is_end_offset_minus_position_of_each_member(url: str) -> None:
    metrics = Metrics()
    topic, group = f"lag-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    async with bus.connect(url) as b:
        await b.ensure_topics([TopicSpec(topic, partitions=2)])
        await b.publish_batch([bus.Message(topic, b"v", partition=0) for _ in range(5)])
        async with b.consumer(group, [topic]) as c:
            await drain(c, 2)
            text = (await metrics.scrape(b)).decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        lag = {
            (s.labels["group"], s.labels["topic"], s.labels["partition"]): s.value
            for s in families["caseyard_consumer_lag"].samples
        }
        assert lag == {(group, topic, "0"): 3, (group, topic, "1"): 0}
        await metrics.scrape(b)
    assert sample(metrics, "caseyard_consumer_lag", group=group, topic=topic, partition="0") is None


async def test_collectors_read_agent_coordinator_and_model_stats() -> None:
    metrics = Metrics()
    router = Router([PricedProvider()], {"classify": [Route("priced", "m1")]})
    await router.complete(CompletionRequest.from_prompt("classify", "hello"))
    await router.complete(CompletionRequest.from_prompt("classify", "again"))

    async def work(task: TaskRequested) -> Outcome:
        raise NotImplementedError

    async with bus.connect("memory://") as b:
        codec = AvroCodec(Registry(MemorySchemaStore()))
        agent = AgentService(
            name="classifier",
            bus=b,
            codec=codec,
            topics=["caseyard.tasks.classify"],
            handler=TaskHandler("classify", work, PRODUCER),
            store=ProcessedStore(":memory:"),
            producer=PRODUCER,
        )
        coordinator = Coordinator(
            bus=b,
            codec=codec,
            catalog=PipelineCatalog.load(ROOT / "pipelines"),
            producer=PRODUCER,
        )
    agent.stats.handled, agent.stats.retried = 3, 1
    agent.stats.commits_failed = 2
    agent.stats.by_error["DeliveryUnavailable"] += 1
    coordinator.stats.transitions, coordinator.stats.sla_breaches = 7, 2
    coordinator.stats.timers_applied["human_sla"] += 2
    coordinator.stats.aborted = 1
    coordinator.stats.reviews["local/classify-nb", "corrected"] += 3
    metrics.watch_agent(agent, router)
    metrics.watch_coordinator(coordinator)

    where = {"agent": "classifier", "provider": "priced", "model": "m1"}
    assert sample(metrics, "caseyard_model_calls_total", **where, outcome="served") == 2
    assert sample(metrics, "caseyard_model_tokens_total", **where, direction="input") == 2000
    assert sample(metrics, "caseyard_model_tokens_total", **where, direction="output") == 1000
    assert sample(metrics, "caseyard_model_spend_usd_total", **where) == pytest.approx(0.008)
    assert sample(metrics, "caseyard_model_latency_seconds_total", **where) == pytest.approx(0.5)
    inputs = "caseyard_agent_inputs_total"
    assert sample(metrics, inputs, agent="classifier", outcome="handled") == 3
    assert sample(metrics, inputs, agent="classifier", outcome="retried") == 1
    assert sample(metrics, inputs, agent="classifier", outcome="failed") == 0
    errors = "caseyard_agent_errors_total"
    assert sample(metrics, errors, agent="classifier", error="DeliveryUnavailable") == 1
    assert sample(metrics, "caseyard_agent_commits_failed_total", agent="classifier") == 2
    assert sample(metrics, "caseyard_coordinator_transitions_total") == 7
    assert sample(metrics, "caseyard_sla_breaches_total") == 2
    applied = "caseyard_coordinator_timers_applied_total"
    assert sample(metrics, applied, purpose="human_sla") == 2
    assert sample(metrics, "caseyard_coordinator_transactions_total", outcome="aborted") == 1
    assert sample(metrics, "caseyard_coordinator_open_cases") == 0
    reviews = "caseyard_reviews_total"
    assert sample(metrics, reviews, model="local/classify-nb", outcome="corrected") == 3


def test_tool_calls_are_counted_by_server_tool_and_outcome(tmp_path: Path) -> None:
    from agents.mcp import ToolClient, ToolJournal

    metrics = Metrics()
    tools = ToolClient({}, ToolJournal(tmp_path / "journal.db"))
    tools.outcomes["vendors", "hold_payment", "ok"] += 2
    tools.outcomes["vendors", "open_ticket", "unknown"] += 1
    agent = AgentService(
        name="tools",
        bus=bus.connect("memory://"),
        codec=AvroCodec(Registry(MemorySchemaStore())),
        topics=["caseyard.tasks.tool"],
        handler=TaskHandler("tool", _never, PRODUCER),
        store=ProcessedStore(":memory:"),
        producer=PRODUCER,
    )
    metrics.watch_agent(agent, None, tools)
    labels = {"agent": "tools", "server": "vendors"}
    assert (
        sample(metrics, "caseyard_tool_calls_total", **labels, tool="hold_payment", outcome="ok")
        == 2
    )
    assert (
        sample(
            metrics, "caseyard_tool_calls_total", **labels, tool="open_ticket", outcome="unknown"
        )
        == 1
    )


async def _never(task: TaskRequested) -> Outcome:
    raise AssertionError("not called")
