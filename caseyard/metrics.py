"""Prometheus metrics of a caseyard process, served on `/metrics` beside the health checks.

Two sources, neither of which puts prometheus_client below the composition root:

- `BusMetrics`, bus middleware: messages published, not delivered (failed) and consumed
  per topic, the time to handle each record (the `processing` scope) per topic and
  consumer group, publishes to retry topics and to the dead-letter topic.
- Collectors that read what the services already keep, at scrape time: the agents'
  `Stats`, the coordinator's `CoordinatorStats` (SLA breaches included), the model
  routers' totals (tokens, spend), and consumer lag (end offsets minus the positions of
  the partitions each open consumer-group member is assigned), refreshed by `scrape`.

Counts are of this process since it started; Prometheus turns them into rates.

The handler-duration histogram carries exemplars: each bucket's latest observation made
inside a trace keeps its `trace_id`, so a slow bucket on a dashboard links to a trace.
They are in the OpenMetrics exposition, which `/metrics` serves to scrapers that ask for
it (`Accept: application/openmetrics-text`, as Prometheus does with exemplar storage on).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

import anyio
from opentelemetry import trace
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from agents.runtime import RETRY_TOPIC_PREFIX
from bus import Bus, Consumer, Message, Record, TopicPartition
from caseyard.drift import DriftWatch
from caseyard.errors import CaseyardError
from schemas.dead_letters import DLQ_ERROR_CLASS
from schemas.topology import DEAD_LETTERS

if TYPE_CHECKING:
    from agents.mcp import ToolClient
    from agents.router import Router
    from agents.runtime import AgentService
    from coordinator import Coordinator

HANDLER_BUCKETS = (
    *(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
    *(0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
"""From a coordinator transition (well under a millisecond) to a slow model call."""

POSITION_TIMEOUT_S = 1.0
"""How long a scrape waits for one consumer position (Kafka may be mid-rebalance)."""


class BusMetrics:
    """Bus middleware counting traffic and timing handlers into `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._published = Counter(
            "caseyard_messages_published",
            "Messages handed to the bus (those of a transaction that aborted included).",
            ["topic"],
            registry=registry,
        )
        self._failed = Counter(
            "caseyard_messages_failed",
            "Messages handed to the bus that it did not deliver: a failed send, an aborted "
            "transaction, a message refused before it was sent.",
            ["topic"],
            registry=registry,
        )
        self._consumed = Counter(
            "caseyard_messages_consumed",
            "Records read from the bus (by consumers and readers).",
            ["topic"],
            registry=registry,
        )
        self._duration = Histogram(
            "caseyard_handler_duration_seconds",
            "Time to handle one record, its publishes included.",
            ["topic", "group"],
            buckets=HANDLER_BUCKETS,
            registry=registry,
        )
        self._errors = Counter(
            "caseyard_handler_errors",
            "Records whose handler raised (failures a service classifies are retries and "
            "dead letters instead).",
            ["topic", "group"],
            registry=registry,
        )
        self._retries = Counter(
            "caseyard_retries",
            "Records sent to a retry topic, by retry topic.",
            ["topic"],
            registry=registry,
        )
        self._dead_letters = Counter(
            "caseyard_dead_letters",
            "Records sent to the dead-letter topic, by error class.",
            ["error_class"],
            registry=registry,
        )

        # Children by label values, looked up once: `labels()` checks and locks on every
        # call (0.11 of `caseyard replay`'s 2 s went there, one call per record read).
        self._published_by = _Children(self._published)
        self._consumed_by = _Children(self._consumed)
        self._duration_by = _Children(self._duration)

    def outgoing(self, message: Message) -> Message:
        topic = message.topic
        self._published_by(topic).inc()
        if topic.startswith(RETRY_TOPIC_PREFIX):
            self._retries.labels(topic).inc()
        elif topic == DEAD_LETTERS.name:
            error = next((v for k, v in message.headers if k == DLQ_ERROR_CLASS), b"")
            self._dead_letters.labels(error.decode("utf-8", "replace")).inc()
        return message

    def delivered(self, messages: Sequence[Message], error: BaseException | None) -> None:
        if error is not None:
            for message in messages:
                self._failed.labels(message.topic).inc()

    def incoming(self, record: Record) -> Record:
        self._consumed_by(record.topic).inc()
        return record

    def processing(self, record: Record, group: str) -> AbstractContextManager[None]:
        return _Timed(self, record.topic, group)

    def handled(self, topic: str, group: str, seconds: float, failed: bool) -> None:
        # The tracing middleware's span is current here (it wraps this scope).
        context = trace.get_current_span().get_span_context()
        exemplar = {"trace_id": f"{context.trace_id:032x}"} if context.is_valid else None
        self._duration_by(topic, group).observe(seconds, exemplar)
        if failed:
            self._errors.labels(topic, group).inc()


_M = TypeVar("_M", Counter, Histogram)


class _Children(Generic[_M]):
    """A labelled metric's children by their label values."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: _M) -> None:
        self._metric: _M = metric
        self._children: dict[tuple[str, ...], _M] = {}

    def __call__(self, *values: str) -> _M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class _Timed:
    __slots__ = ("_began", "_group", "_metrics", "_topic")

    def __init__(self, metrics: BusMetrics, topic: str, group: str) -> None:
        self._metrics = metrics
        self._topic = topic
        self._group = group
        self._began = 0.0

    def __enter__(self) -> None:
        self._began = time.perf_counter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Cancellation (a shutdown) is not a failure of the handler.
        failed = isinstance(exc, Exception)
        self._metrics.handled(self._topic, self._group, time.perf_counter() - self._began, failed)


class ServiceCollector:
    """Reads the counters of the services (and their model routers) at scrape time."""

    def __init__(self) -> None:
        self.agents: list[tuple[AgentService, Router | None]] = []
        self.tools: list[tuple[str, ToolClient]] = []
        self.coordinators: list[Coordinator] = []

    def collect(self) -> Iterable[Metric]:
        yield from self._agents()
        yield from self._models()
        yield from self._tools()
        yield from self._coordinators()

    def _tools(self) -> Iterable[Metric]:
        calls = CounterMetricFamily(
            "caseyard_tool_calls",
            "MCP tool calls by outcome: ok, error, interrupted, repeated (sent again with its "
            "idempotency key), unknown (not sent again: a person is asked).",
            labels=["agent", "server", "tool", "outcome"],
        )
        for agent, client in self.tools:
            for (server, tool, outcome), count in sorted(client.outcomes.items()):
                calls.add_metric([agent, server, tool, outcome], count)
        yield calls

    def _agents(self) -> Iterable[Metric]:
        inputs = CounterMetricFamily(
            "caseyard_agent_inputs",
            "Inputs an agent finished, by outcome: handled, replayed (a redelivery answered "
            "from the processed store), misplaced (not an event it takes: dead-lettered), retried, "
            "failed (for good).",
            labels=["agent", "outcome"],
        )
        errors = CounterMetricFamily(
            "caseyard_agent_errors", "Handler errors, by error class.", labels=["agent", "error"]
        )
        refused = CounterMetricFamily(
            "caseyard_agent_commits_failed",
            "Batches whose offsets the group refused after a rebalance (the batch comes again).",
            labels=["agent"],
        )
        for service, _ in self.agents:
            stats = service.stats
            for outcome, count in (
                ("handled", stats.handled),
                ("replayed", stats.replayed),
                ("misplaced", stats.misplaced),
                ("retried", stats.retried),
                ("failed", stats.failed),
            ):
                inputs.add_metric([service.name, outcome], count)
            for error, count in sorted(stats.by_error.items()):
                errors.add_metric([service.name, error], count)
            refused.add_metric([service.name], stats.commits_failed)
        yield inputs
        yield errors
        yield refused

    def _models(self) -> Iterable[Metric]:
        labels = ["agent", "provider", "model"]
        calls = CounterMetricFamily(
            "caseyard_model_calls", "Model calls by outcome.", labels=[*labels, "outcome"]
        )
        tokens = CounterMetricFamily(
            "caseyard_model_tokens", "Model tokens, in and out.", labels=[*labels, "direction"]
        )
        spend = CounterMetricFamily(
            "caseyard_model_spend_usd", "Model spend in USD.", labels=labels
        )
        latency = CounterMetricFamily(
            "caseyard_model_latency_seconds", "Time spent in served model calls.", labels=labels
        )
        for service, router in self.agents:
            if router is None:
                continue
            for (provider, model), totals in sorted(router.totals.items()):
                where = [service.name, provider, model]
                calls.add_metric([*where, "served"], totals.served)
                calls.add_metric([*where, "failed"], totals.failed)
                tokens.add_metric([*where, "input"], totals.input_tokens)
                tokens.add_metric([*where, "output"], totals.output_tokens)
                spend.add_metric(where, totals.cost_usd)
                latency.add_metric(where, totals.latency_ms / 1000)
        yield from (calls, tokens, spend, latency)

    def _coordinators(self) -> Iterable[Metric]:
        if not self.coordinators:
            return
        stats = [c.stats for c in self.coordinators]

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, value=value)

        yield counter(
            "caseyard_coordinator_transitions",
            "Inputs the coordinator applied.",
            sum(s.transitions for s in stats),
        )
        yield counter(
            "caseyard_coordinator_ignored",
            "Inputs that changed nothing (late, duplicate).",
            sum(s.ignored for s in stats),
        )
        yield counter(
            "caseyard_coordinator_timers_fired",
            "Timers the timer loop fired.",
            sum(s.timers_fired for s in stats),
        )
        yield counter(
            "caseyard_sla_breaches",
            "Human tasks whose SLA passed (moved up the escalation chain or stayed).",
            sum(s.sla_breaches for s in stats),
        )
        yield counter(
            "caseyard_coordinator_forwarded",
            "Inputs that came on another partition than their case's, sent on to it.",
            sum(s.forwarded for s in stats),
        )
        yield counter(
            "caseyard_coordinator_restored_cases",
            "Case states restored from the changelog.",
            sum(s.restored for s in stats),
        )
        applied = CounterMetricFamily(
            "caseyard_coordinator_timers_applied",
            "Timers that took effect, by purpose.",
            labels=["purpose"],
        )
        purposes: dict[str, int] = {}
        for s in stats:
            for purpose, count in s.timers_applied.items():
                purposes[purpose] = purposes.get(purpose, 0) + count
        for purpose, count in sorted(purposes.items()):
            applied.add_metric([purpose], count)
        yield applied
        reviews = CounterMetricFamily(
            "caseyard_reviews",
            "People's verdicts on a step's output, by the model that gave it: confirmed "
            "(approved), corrected (edited), rejected.",
            labels=["model", "outcome"],
        )
        verdicts: dict[tuple[str, str], int] = {}
        for s in stats:
            for key, count in s.reviews.items():
                verdicts[key] = verdicts.get(key, 0) + count
        for (model, outcome), count in sorted(verdicts.items()):
            reviews.add_metric([model, outcome], count)
        yield reviews
        transactions = CounterMetricFamily(
            "caseyard_coordinator_transactions",
            "Transactions by outcome (an aborted batch is applied again).",
            labels=["outcome"],
        )
        transactions.add_metric(["committed"], sum(s.transactions for s in stats))
        transactions.add_metric(["aborted"], sum(s.aborted for s in stats))
        yield transactions
        yield GaugeMetricFamily(
            "caseyard_coordinator_open_cases",
            "Cases in memory (open, on the partitions this member owns).",
            value=sum(c.open_cases() for c in self.coordinators),
        )
        yield GaugeMetricFamily(
            "caseyard_coordinator_quarantined_cases",
            "Cases whose state record could not be read: their inputs are dead-lettered.",
            value=sum(len(c.quarantined()) for c in self.coordinators),
        )


class LagCollector:
    """Consumer lag as of the last `refresh`: per group and partition, the records that the
    group's member in this process has not been handed yet."""

    def __init__(self) -> None:
        self._lag: dict[tuple[str, str, int], int] = {}

    async def refresh(self, b: Bus) -> None:
        members = b.consumers()
        assigned = {tp for member in members for tp in member.assignment()}
        lag: dict[tuple[str, str, int], int] = {}
        if assigned:
            try:
                ends = await b.end_offsets(sorted(assigned))
            except CaseyardError:
                ends = {}
            for member in members:
                for tp in sorted(member.assignment()):
                    position = await _position(member, tp)
                    if position is not None and tp in ends:
                        lag[(member.group, tp.topic, tp.partition)] = max(0, ends[tp] - position)
        self._lag = lag

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "caseyard_consumer_lag",
            "Records not yet handed to this process's group member, per partition it owns.",
            labels=["group", "topic", "partition"],
        )
        for (group, topic, partition), lag in sorted(self._lag.items()):
            family.add_metric([group, topic, str(partition)], lag)
        yield family


async def _position(member: Consumer, tp: TopicPartition) -> int | None:
    with anyio.move_on_after(POSITION_TIMEOUT_S):
        try:
            return await member.position(tp)
        except CaseyardError:
            return None
    return None


class Metrics:
    """The Prometheus side of one process: a registry, bus middleware and collectors.

    Args:
        registry: Where metrics go (default: a new one; never the global registry).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.middleware = BusMetrics(self.registry)
        self._services = ServiceCollector()
        self._lag = LagCollector()
        self._drift: DriftWatch | None = None
        self.registry.register(self._services)
        self.registry.register(self._lag)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def watch_agent(
        self, service: AgentService, router: Router | None = None, tools: ToolClient | None = None
    ) -> None:
        """Export `service`'s stats, its router's model usage and its tool calls."""
        self._services.agents.append((service, router))
        if tools is not None:
            self._services.tools.append((service.name, tools))

    def drift(self, threshold: float) -> DriftWatch:
        """The process's classifier drift metrics (made on first use; see caseyard.drift)."""
        if self._drift is None:
            self._drift = DriftWatch(self.registry, threshold)
        return self._drift

    def watch_coordinator(self, coordinator: Coordinator) -> None:
        """Export the coordinator's stats (SLA breaches included) and open cases."""
        self._services.coordinators.append(coordinator)

    def quarantined(self) -> dict[str, str]:
        """The cases the watched coordinators quarantined, with why."""
        return {c: why for co in self._services.coordinators for c, why in co.quarantined().items()}

    async def scrape(self, b: Bus, *, openmetrics: bool = False) -> bytes:
        """The exposition text, consumer lag of `b` refreshed first: Prometheus' text
        format, or OpenMetrics (exemplars included) when `openmetrics`."""
        await self._lag.refresh(b)
        if openmetrics:
            text: bytes = openmetrics_latest(self.registry)  # type: ignore[no-untyped-call]
            return text
        return generate_latest(self.registry)
