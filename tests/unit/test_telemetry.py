"""The tracing middleware on the memory bus: W3C context in headers, semantic conventions,
spans of publishes with no current span, the bounded key map, links, and the settings."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import bus
from bus import Message, Record, TopicSpec
from caseyard.errors import ConfigError
from caseyard.settings import load_settings
from caseyard.telemetry import (
    BODY_SIZE,
    CLIENT_ID,
    DESTINATION,
    GROUP,
    KAFKA_KEY,
    KAFKA_OFFSET,
    OPERATION_NAME,
    OPERATION_TYPE,
    PARTITION,
    SERVER_ADDRESS,
    SERVER_PORT,
    SYSTEM,
    Telemetry,
    TracingMiddleware,
    messaging_server,
    messaging_system,
    otlp_traces_url,
)
from tests.helpers import drain

pytestmark = pytest.mark.anyio


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    yield InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == name]
    return span


def sent(tracing: TracingMiddleware, message: Message) -> Message:
    """`message` through the middleware, then delivered (its PRODUCER span ends)."""
    out = tracing.outgoing(message)
    tracing.delivered([out], None)
    return out


def traceparent(message: Message | Record) -> str:
    values = [v.decode() for k, v in message.headers if k == "traceparent"]
    assert len(values) == 1, message.headers
    return values[0]


async def test_context_round_trips_through_headers_with_semantic_conventions(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(
        provider, system="kafka", server=("broker-1", 9093), client_id="intake"
    )
    tracer = provider.get_tracer("test")
    async with bus.connect("memory://", middleware=[tracing]) as b:
        await b.ensure_topics([TopicSpec("in", partitions=2), TopicSpec("out")])
        with tracer.start_as_current_span("outer") as outer:
            await b.publish("in", b"hello", key=b"case-1", partition=1)
        async with b.consumer("workers", ["in"]) as c:
            (record,) = await drain(c, 1)
            with c.processing(record):
                current = trace.get_current_span()
                await b.publish("out", b"result", key=b"case-1")
            assert trace.get_current_span() is not current
    spans = exporter.get_finished_spans()
    published, processed = named(spans, "publish in"), named(spans, "process in")
    result = named(spans, "publish out")

    outer_trace = outer.get_span_context().trace_id
    assert {s.context.trace_id for s in spans} == {outer_trace}
    version, trace_id, span_id, flags = traceparent(record).split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{outer_trace:032x}",
        f"{published.context.span_id:016x}",
    )
    assert int(flags, 16) & 1  # sampled
    assert (
        published.parent is not None
        and published.parent.span_id == outer.get_span_context().span_id
    )
    assert processed.parent is not None and processed.parent.span_id == published.context.span_id
    assert result.parent is not None and result.parent.span_id == processed.context.span_id
    assert current.get_span_context() == processed.context

    assert published.kind is SpanKind.PRODUCER
    common = {SYSTEM: "kafka", SERVER_ADDRESS: "broker-1", SERVER_PORT: 9093, CLIENT_ID: "intake"}
    assert dict(published.attributes or {}) == {
        **common,
        OPERATION_TYPE: "send",
        OPERATION_NAME: "publish",
        DESTINATION: "in",
        KAFKA_KEY: "case-1",
        PARTITION: "1",
        BODY_SIZE: 5,
    }
    assert processed.kind is SpanKind.CONSUMER
    assert dict(processed.attributes or {}) == {
        **common,
        OPERATION_TYPE: "process",
        OPERATION_NAME: "process",
        DESTINATION: "in",
        PARTITION: "1",
        KAFKA_OFFSET: 0,
        GROUP: "workers",
        KAFKA_KEY: "case-1",
        BODY_SIZE: 5,
    }


def test_a_publish_in_a_span_replaces_the_trace_header_it_carries(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    stale = ("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")
    with provider.get_tracer("test").start_as_current_span("handler"):
        out = sent(tracing, Message("t", b"v", b"k", headers=(("x", b"1"), stale)))
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "publish t"]
    assert out.headers[0] == ("x", b"1")
    assert traceparent(out).split("-")[2] == f"{span.context.span_id:016x}"


def test_without_a_current_span_the_header_then_the_key_then_a_new_root_is_the_parent(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    carried = sent(tracing, Message("t", b"v", b"other"))
    first = sent(tracing, Message("t", b"v", b"case-1"))
    again = sent(tracing, Message("t", b"v", b"case-1"))
    sent(tracing, Message("t", b"v", b"case-1", headers=carried.headers))
    root_other, root_case, child, via_header = exporter.get_finished_spans()

    assert root_other.parent is None and root_case.parent is None
    assert root_other.context.trace_id != root_case.context.trace_id
    assert child.parent is not None and child.parent.span_id == root_case.context.span_id
    assert via_header.parent is not None and via_header.parent.span_id == root_other.context.span_id
    assert traceparent(first) != traceparent(again)
    assert tracing.last_span(b"case-1") == via_header.context


def test_the_key_map_is_bounded(provider: TracerProvider) -> None:
    tracing = TracingMiddleware(provider, max_keys=2)
    for key in (b"a", b"b", b"c"):
        sent(tracing, Message("t", b"v", key))
    assert tracing.last_span(b"a") is None
    assert tracing.last_span(b"b") is not None and tracing.last_span(b"c") is not None
    sent(tracing, Message("t", b"v", b"b"))  # used again: now the newest
    sent(tracing, Message("t", b"v", b"d"))
    assert tracing.last_span(b"c") is None and tracing.last_span(b"b") is not None


def test_reading_learns_the_trace_of_keys_not_known_yet(provider: TracerProvider) -> None:
    publisher, watcher = TracingMiddleware(provider), TracingMiddleware(provider)
    first = sent(publisher, Message("events", b"v", b"case-1"))
    other = sent(TracingMiddleware(provider), Message("events", b"v", b"case-1"))
    watcher.incoming(Record("events", 0, 0, 0, b"case-1", b"v", first.headers))
    watcher.incoming(Record("events", 0, 1, 0, b"case-1", b"v", other.headers))
    known, ours = watcher.last_span(b"case-1"), publisher.last_span(b"case-1")
    assert known is not None and ours is not None
    assert (known.trace_id, known.span_id) == (ours.trace_id, ours.span_id)
    # A decision published later by the watcher, with no span current, joins that trace.
    decision = sent(watcher, Message("human", b"v", b"case-1"))
    assert traceparent(decision).split("-")[1] == f"{known.trace_id:032x}"


def test_a_record_from_another_trace_than_its_key_had_links_to_it(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    timer = sent(tracing, Message("timers", b"v", b"case-1"))  # e.g. after a restart
    with tracing.processing(Record("timers", 0, 0, 0, b"case-1", b"v", timer.headers), "g"):
        pass
    old = sent(TracingMiddleware(provider), Message("results", b"v", b"case-1"))
    with tracing.processing(Record("results", 0, 0, 0, b"case-1", b"v", old.headers), "g"):
        pass
    spans = exporter.get_finished_spans()
    same, crossing = named(spans, "process timers"), named(spans, "process results")
    assert not same.links
    (link,) = crossing.links
    assert link.context == same.context
    assert crossing.context.trace_id != same.context.trace_id


def test_a_task_after_parallel_branches_links_the_other_branches(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)

    def handle(name: str, publishes: Sequence[str]) -> None:
        record = Record("caseyard.results", 0, 0, 0, b"case-1", name.encode(), ())
        with tracing.processing(record, "coordinator"):
            for topic in publishes:
                sent(tracing, Message(topic, name.encode(), b"case-1"))

    handle("classified", ["caseyard.case-events", "caseyard.tasks.extract", "caseyard.tasks.score"])
    handle("extracted", ["caseyard.case-events"])  # the join waits for score
    handle("scored", ["caseyard.case-events", "caseyard.tasks.respond"])
    handle("responded", ["caseyard.case-events", "caseyard.tasks.archive"])  # sequential
    spans = exporter.get_finished_spans()
    extracted = [s for s in spans if s.name == "process caseyard.results"][1]
    respond = named(spans, "publish caseyard.tasks.respond")
    (link,) = respond.links
    assert link.context == extracted.context
    assert link.attributes == {"caseyard.link": "fan-in"}
    for topic in ("extract", "score", "archive"):
        assert not named(spans, f"publish caseyard.tasks.{topic}").links


def test_a_record_without_trace_context_continues_its_keys_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    sent(tracing, Message("t", b"v", b"case-1"))
    with tracing.processing(Record("t", 0, 0, 0, b"case-1", b"v"), ""):
        pass
    with tracing.processing(Record("t", 0, 1, 0, None, b"v"), ""):
        pass
    published, processed, keyless = exporter.get_finished_spans()
    assert processed.parent is not None and processed.parent.span_id == published.context.span_id
    assert keyless.parent is None
    assert GROUP not in (keyless.attributes or {})


async def test_a_publish_span_ends_when_the_bus_says_delivered_or_failed(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    async with bus.connect("memory://", middleware=[tracing]) as b:
        await b.ensure_topics([TopicSpec("t")])
        outbox = b.outbox()
        outbox.add([Message("t", b"later", b"case-1")])
        assert exporter.get_finished_spans() == (), "open until the outbox is flushed"
        await outbox.flush()
        (delivered,) = exporter.get_finished_spans()
        assert delivered.kind is SpanKind.PRODUCER
        assert delivered.status.status_code is StatusCode.UNSET
        with pytest.raises(RuntimeError, match="handler failed"):
            async with b.begin() as tx:
                await tx.publish("t", b"never", key=b"case-2")
                raise RuntimeError("handler failed")
    failed = exporter.get_finished_spans()[-1]
    assert failed.name == "publish t" and failed.attributes is not None
    assert failed.attributes[KAFKA_KEY] == "case-2"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "RuntimeError: handler failed"
    assert [e.name for e in failed.events] == ["exception"]


def test_publish_spans_waiting_for_delivery_are_bounded(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider, max_sending=2)
    first, *_ = [tracing.outgoing(Message("t", b"v", f"k{i}".encode())) for i in range(3)]
    (ended,) = exporter.get_finished_spans()
    assert traceparent(first).split("-")[2] == f"{ended.context.span_id:016x}"
    tracing.delivered([first], None)  # told after it was let go: nothing more happens
    assert len(exporter.get_finished_spans()) == 1


def test_failures_in_a_scope_mark_its_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    record = Record("tasks", 0, 0, 0, b"case-1", b"v")
    with tracing.processing(record, "g"):
        sent(tracing, Message("caseyard.retry.agent.1", b"v", b"case-1"))
    with tracing.processing(record, "g"):
        sent(
            tracing,
            Message("caseyard.dlq", b"v", b"case-1", headers=(("dlq.error_class", b"Boom"),)),
        )
    with pytest.raises(ValueError, match="bug"), tracing.processing(record, "g"):
        raise ValueError("bug")
    retried, dead, raised = [s for s in exporter.get_finished_spans() if s.name == "process tasks"]
    assert retried.status.status_code is StatusCode.ERROR
    assert retried.status.description == "failed, retry via caseyard.retry.agent.1"
    assert dead.status.description == "dead-lettered: Boom"
    assert raised.status.status_code is StatusCode.ERROR
    assert [e.name for e in raised.events] == ["exception"]


def test_state_topics_get_no_span_and_no_header(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracing = TracingMiddleware(provider)
    message = Message("caseyard.coordinator.state", b"state", b"case-1")
    assert tracing.outgoing(message) is message
    with tracing.processing(Record(*message[:1], 0, 0, 0, b"case-1", b"state"), "g"):
        pass
    assert exporter.get_finished_spans() == ()


def test_submitting_opens_the_root_of_a_case(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    telemetry = Telemetry("test", tracer_provider=provider)
    assert telemetry.tracing is not None
    with telemetry.submitting("case-1", {"caseyard.document": "a.txt"}):
        sent(telemetry.tracing, Message("caseyard.intake", b"v", b"case-1"))
    published, root = exporter.get_finished_spans()
    assert root.name == "submit" and root.parent is None
    assert dict(root.attributes or {}) == {
        "caseyard.case_id": "case-1",
        "caseyard.document": "a.txt",
    }
    assert published.parent is not None and published.parent.span_id == root.context.span_id
    assert telemetry.middleware == (telemetry.tracing, telemetry.metrics.middleware)


def test_settings_choose_the_exporter(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    off = Telemetry.from_settings(load_settings(data_dir=tmp_path), "caseyard-x")
    assert off.tracing is None and off.middleware == (off.metrics.middleware,)
    with off.submitting("case-1"):
        pass
    off.close()

    settings = load_settings(data_dir=tmp_path, otel_exporter="console", bus="kafka://h:9092")
    with Telemetry.from_settings(settings, "caseyard-coordinator") as console:
        assert console.tracing is not None
        with console.submitting("case-1"):
            pass
    # Spans are exported in batches, the last one when the telemetry closes.
    (line,) = capsys.readouterr().err.splitlines()
    span = json.loads(line)
    assert span["name"] == "submit"
    assert span["resource"]["attributes"]["service.name"] == "caseyard-coordinator"

    otlp = load_settings(data_dir=tmp_path, otel_exporter="otlp", otel_endpoint="http://j:4318")
    with Telemetry.from_settings(otlp, "caseyard-scorer") as remote:
        assert remote.tracing is not None


def test_otlp_endpoint_and_messaging_system() -> None:
    assert otlp_traces_url("http://jaeger:4318") == "http://jaeger:4318/v1/traces"
    assert otlp_traces_url("http://jaeger:4318/") == "http://jaeger:4318/v1/traces"
    assert otlp_traces_url("https://c/v1/traces") == "https://c/v1/traces"
    assert messaging_system("kafka://a:9092,b:9092") == "kafka"
    assert messaging_system("sqlite:///x.db") == "caseyard-embedded"
    assert messaging_system("memory://") == "caseyard-embedded"
    assert messaging_server("kafka://a:9093,b:9092") == ("a", 9093)
    assert messaging_server("kafka://broker") == ("broker", 9092)
    assert messaging_server("sqlite:///x.db") is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"otel_exporter": "jaeger"}, "setting 'otel_exporter': Input should be 'none'"),
        ({"otel_endpoint": "localhost:4318"}, "setting 'otel_endpoint': Value error, expected"),
    ],
)
def test_bad_telemetry_settings_are_one_line(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_model_and_tool_calls_are_client_spans_with_gen_ai_attributes(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    telemetry = Telemetry("agent.classifier", tracer_provider=provider)
    with telemetry.model_call("chat", "openai", "gpt-4o-mini") as note:
        note("gen_ai.usage.input_tokens", 420)
    with telemetry.model_call("chat", "local", "classifier-v3") as note:
        note("error.type", "ProviderResponseError")
    with telemetry.tool_call("vendors", "lookup", "case-1/vendor/1.1") as note:
        note("mcp.outcome", "ok")
    served, failed, tool = exporter.get_finished_spans()
    assert tool.name == "execute_tool lookup" and tool.kind is SpanKind.CLIENT
    assert dict(tool.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "lookup",
        "gen_ai.tool.call.id": "case-1/vendor/1.1",
        "gen_ai.tool.type": "extension",
        "mcp.server.name": "vendors",
        "mcp.outcome": "ok",
    }
    assert served.name == "chat gpt-4o-mini" and served.kind is SpanKind.CLIENT
    assert dict(served.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 420,
    }
    assert served.status.status_code is StatusCode.UNSET
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "ProviderResponseError"
