"""Tracing (OpenTelemetry) and metrics (Prometheus) of a caseyard process, as bus middleware.

Nothing below the composition root imports opentelemetry or prometheus_client: the bus
runs the middleware (`outgoing`, `incoming`, and the `processing` scope that the agent
runtime and the coordinator enter around each record), and the services keep plain stats
objects that `caseyard.metrics` reads at scrape time.

How one case stays one trace (W3C trace context in the `traceparent` header):

- `App.submit` opens a root span, `submit`; the `CaseSubmitted` publish is its child.
- Every publish is a PRODUCER span, `publish <topic>`, child of the current span; its
  context goes into the message's `traceparent` header (replacing one copied from input).
  It starts when the message is handed to the bus and ends when the bus says it is
  durable (the broker's acknowledgement; a transaction's commit), or failed: then its
  status is an error with the exception recorded (a failed send, an aborted transaction).
- Every record is handled inside a CONSUMER span, `process <topic>`, child of the
  record's `traceparent` and current while the handler runs: what the handler publishes
  (the coordinator's tasks and case events, an agent's result, a retry, a dead letter)
  is its child. A record that goes to a retry topic or the dead-letter topic marks the
  span as an error.
- Publishes with no current span (the coordinator's timer loop, a reviewer's decision
  after the human wait) take as parent the last span this process saw for the message
  key, the case id: a bounded map filled by processing, by publishing, and by reading
  records of keys it does not know yet (so an inbox that only watches case events
  continues the case's trace). The map lives in memory: after a restart a timer of a case
  this process has not seen since starts a new trace, and the next record of the case
  that still carries the old trace links the two (a span link, also made whenever a
  record's trace differs from the one the process knew for its key).
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from agents.runtime import RETRY_TOPIC_PREFIX
from bus import Message, Middleware, Record
from caseyard import __version__
from caseyard.errors import ConfigError
from caseyard.metrics import Metrics
from caseyard.schema_store import SCHEMAS_TOPIC
from caseyard.settings import Settings
from schemas.dead_letters import DLQ_ERROR_CLASS
from schemas.topology import DEAD_LETTERS, HUMAN, INTAKE, RESULTS, STATE, TIMERS, tasks_topic

# Messaging semantic conventions (OpenTelemetry semconv 1.3x). `send` replaced the
# deprecated operation type `publish`; the operation name is the bus method's.
SYSTEM = "messaging.system"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
DESTINATION = "messaging.destination.name"
PARTITION = "messaging.destination.partition.id"
GROUP = "messaging.consumer.group.name"
KAFKA_KEY = "messaging.kafka.message.key"
KAFKA_OFFSET = "messaging.kafka.offset"
BODY_SIZE = "messaging.message.body.size"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
CLIENT_ID = "messaging.client.id"
CASE_ID = "caseyard.case_id"

UNTRACED_TOPICS = frozenset({STATE.name, SCHEMAS_TOPIC})
"""Topics that hold state rather than messages: their records get no span and no header."""

_TRACE_HEADERS = ("traceparent", "tracestate")

COORDINATOR_INPUTS = frozenset(t.name for t in (INTAKE, RESULTS, HUMAN, TIMERS))
TASKS_PREFIX = tasks_topic("").name
_FAN_IN = {"caseyard.link": "fan-in"}

Note = Callable[[str, str | int | float | bool], None]
"""Adds an attribute to a span a service opened through the composition root."""
_MAX_INPUTS_PER_KEY = 64


class TracingMiddleware:
    """Bus middleware: a span per publish and per record handled, context in headers.

    Args:
        provider: Where spans go (explicit, so tests and processes never share global state).
        system: `messaging.system` (`kafka`, or the embedded bus's name).
        untraced: Topics that get no span and no trace header.
        max_keys: How many message keys (cases) the last-span map remembers.
        max_sending: How many PRODUCER spans may wait for their delivery; beyond it the
            oldest ends unresolved (a bus that never says: a bound, not a leak).
        server: The broker's (first bootstrap) host and port: `server.address`/`.port`.
        client_id: The Kafka client id: `messaging.client.id`.
    """

    def __init__(
        self,
        provider: trace.TracerProvider,
        *,
        system: str = "kafka",
        untraced: Collection[str] = UNTRACED_TOPICS,
        max_keys: int = 10_000,
        max_sending: int = 100_000,
        server: tuple[str, int] | None = None,
        client_id: str | None = None,
    ) -> None:
        self._tracer = provider.get_tracer("caseyard.bus", __version__)
        self._untraced = frozenset(untraced)
        self._max_keys = max_keys
        # Every messaging span's attributes that do not depend on the message.
        self._common: dict[str, AttributeValue] = {SYSTEM: system}
        if server is not None:
            self._common[SERVER_ADDRESS], self._common[SERVER_PORT] = server
        if client_id is not None:
            self._common[CLIENT_ID] = client_id
        self._max_sending = max_sending
        # PRODUCER spans by the traceparent they put on their message, until delivered.
        self._sending: OrderedDict[bytes, trace.Span] = OrderedDict()
        self._propagator = TraceContextTextMapPropagator()
        self._last: OrderedDict[bytes, SpanContext] = OrderedDict()
        # Per case: the spans that handled its coordinator inputs since its last task.
        self._inputs: OrderedDict[bytes, list[SpanContext]] = OrderedDict()

    def last_span(self, key: bytes) -> SpanContext | None:
        """The span context this process last saw for message key `key` (a case id)."""
        return self._last.get(key)

    def _remember(self, key: bytes, context: SpanContext) -> None:
        self._last[key] = context
        self._last.move_to_end(key)
        if len(self._last) > self._max_keys:
            self._last.popitem(last=False)

    def _handled_input(self, key: bytes, context: SpanContext) -> None:
        handled = self._inputs.setdefault(key, [])
        self._inputs.move_to_end(key)
        handled.append(context)
        del handled[:-_MAX_INPUTS_PER_KEY]
        if len(self._inputs) > self._max_keys:
            self._inputs.popitem(last=False)

    def _fan_in(self, message: Message, current: SpanContext) -> list[Link]:
        """Links of a task request to the other inputs of its case since the last one."""
        if message.key is None or not message.topic.startswith(TASKS_PREFIX):
            return []
        handled = self._inputs.pop(message.key, [])
        return [Link(c, _FAN_IN) for c in handled if c.span_id != current.span_id]

    def _extract(self, headers: tuple[tuple[str, bytes], ...]) -> SpanContext | None:
        carrier = {k: v.decode("latin-1") for k, v in headers if k in _TRACE_HEADERS}
        if "traceparent" not in carrier:
            return None
        found = trace.get_current_span(self._propagator.extract(carrier)).get_span_context()
        return found if found.is_valid else None

    def outgoing(self, message: Message) -> Message:
        if message.topic in self._untraced:
            return message
        current = trace.get_current_span()
        in_span = current.get_span_context().is_valid
        parent: Context | None = None
        if not in_span:
            known = self._extract(message.headers)
            if known is None and message.key is not None:
                known = self.last_span(message.key)
            parent = trace.set_span_in_context(NonRecordingSpan(known)) if known else Context()
        attributes: dict[str, AttributeValue] = {
            **self._common,
            OPERATION_TYPE: "send",
            OPERATION_NAME: "publish",
            DESTINATION: message.topic,
            BODY_SIZE: len(message.value or b""),
        }
        if message.key is not None:
            attributes[KAFKA_KEY] = message.key.decode("utf-8", "replace")
        if message.partition is not None:
            attributes[PARTITION] = str(message.partition)
        links = self._fan_in(message, current.get_span_context()) if in_span else []
        span = self._tracer.start_span(
            f"publish {message.topic}", parent, SpanKind.PRODUCER, attributes, links
        )
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, trace.set_span_in_context(span))
        self._sending[carrier["traceparent"].encode("latin-1")] = span
        if len(self._sending) > self._max_sending:
            self._sending.popitem(last=False)[1].end()
        if not in_span and message.key is not None:
            self._remember(message.key, span.get_span_context())
        if in_span and current.is_recording():
            _mark_failure(current, message)
        headers = tuple((k, v) for k, v in message.headers if k not in _TRACE_HEADERS)
        return message._replace(
            headers=headers + tuple((k, v.encode("latin-1")) for k, v in carrier.items())
        )

    def delivered(self, messages: Sequence[Message], error: BaseException | None) -> None:
        for message in messages:
            traceparent = next((v for k, v in message.headers if k == "traceparent"), None)
            span = self._sending.pop(traceparent, None) if traceparent is not None else None
            if span is None:
                continue  # an untraced topic, or a message some other hop stamped
            if error is not None:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.end()

    def incoming(self, record: Record) -> Record:
        key = record.key
        if key is not None and key not in self._last and record.topic not in self._untraced:
            seen = self._extract(record.headers)
            if seen is not None:
                self._remember(key, seen)
        return record

    def processing(self, record: Record, group: str) -> AbstractContextManager[None]:
        if record.topic in self._untraced:
            return nullcontext()
        return self._process(record, group)

    @contextmanager
    def _process(self, record: Record, group: str) -> Iterator[None]:
        parent = self._extract(record.headers)
        known = self.last_span(record.key) if record.key is not None else None
        links: list[Link] = []
        if parent is None:
            parent = known
        elif known is not None and known.trace_id != parent.trace_id:
            links.append(Link(known, {"caseyard.link": "earlier trace of this key"}))
        attributes: dict[str, AttributeValue] = {
            **self._common,
            OPERATION_TYPE: "process",
            OPERATION_NAME: "process",
            DESTINATION: record.topic,
            PARTITION: str(record.partition),
            KAFKA_OFFSET: record.offset,
            BODY_SIZE: len(record.value),
        }
        if group:
            attributes[GROUP] = group
        if record.key is not None:
            attributes[KAFKA_KEY] = record.key.decode("utf-8", "replace")
        span = self._tracer.start_span(
            f"process {record.topic}",
            trace.set_span_in_context(NonRecordingSpan(parent)) if parent else Context(),
            SpanKind.CONSUMER,
            attributes,
            links,
        )
        if record.key is not None:
            self._remember(record.key, span.get_span_context())
            if record.topic in COORDINATOR_INPUTS:
                self._handled_input(record.key, span.get_span_context())
        with trace.use_span(span, end_on_exit=True):
            yield

    @contextmanager
    def root(self, name: str, key: bytes, attributes: Mapping[str, str]) -> Iterator[None]:
        """A span current inside the block, parent of what it publishes for `key`.

        `submit` opens one per case: the root of the case's trace (unless a span is
        current already, e.g. an API request that submits).
        """
        with self._tracer.start_as_current_span(name, attributes=dict(attributes)) as span:
            self._remember(key, span.get_span_context())
            yield


def _mark_failure(span: trace.Span, message: Message) -> None:
    """A record sent to a retry topic or dead-lettered failed in the span handling it."""
    if message.topic.startswith(RETRY_TOPIC_PREFIX):
        span.set_status(Status(StatusCode.ERROR, f"failed, retry via {message.topic}"))
    elif message.topic == DEAD_LETTERS.name:
        error = next((v for k, v in message.headers if k == DLQ_ERROR_CLASS), b"")
        span.set_status(Status(StatusCode.ERROR, f"dead-lettered: {error.decode()}".strip()))


def _one_line(span: ReadableSpan) -> str:
    return f"{span.to_json(indent=None)}{os.linesep}"


def otlp_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (as OTEL_EXPORTER_OTLP_ENDPOINT)."""
    path = urlsplit(endpoint).path.rstrip("/")
    if path.endswith("/v1/traces"):
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"


def tracer_provider(settings: Settings, service: str) -> TracerProvider | None:
    """The tracer provider `settings.otel_exporter` asks for, or None for `none`."""
    if settings.otel_exporter == "none":
        return None
    # OTEL_RESOURCE_ATTRIBUTES are merged in by the SDK; OTEL_SERVICE_NAME comes through
    # the settings, and each caseyard service stays apart under it.
    resource = Resource.create(
        {
            "service.name": settings.otel_service_name or service,
            "service.version": __version__,
            "caseyard.service": service,
        }
    )
    provider = TracerProvider(resource=resource)
    if settings.otel_exporter == "console":
        # stderr: a command's stdout may be data (`--json`).
        exporter = ConsoleSpanExporter(out=sys.stderr, formatter=_one_line)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    elif settings.otel_protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter as GrpcSpanExporter,
            )
        except ImportError:
            provider.shutdown()
            raise ConfigError(
                "OTLP over gRPC needs its exporter: pip install 'caseyard[grpc]' (or use "
                "http/protobuf)"
            ) from None
        grpc = GrpcSpanExporter(endpoint=settings.otel_endpoint, timeout=5)
        provider.add_span_processor(BatchSpanProcessor(grpc))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        otlp = OTLPSpanExporter(endpoint=otlp_traces_url(settings.otel_endpoint), timeout=5)
        provider.add_span_processor(BatchSpanProcessor(otlp))
    return provider


def messaging_system(bus_url: str) -> str:
    """`messaging.system` for a bus URL: `kafka`, else the embedded bus."""
    return "kafka" if urlsplit(bus_url).scheme == "kafka" else "caseyard-embedded"


def messaging_server(bus_url: str) -> tuple[str, int] | None:
    """`server.address` and `server.port` for a bus URL: Kafka's first bootstrap server
    (the embedded bus has no server)."""
    parts = urlsplit(bus_url)
    if parts.scheme != "kafka" or not parts.netloc:
        return None
    first = urlsplit("//" + parts.netloc.split(",")[0])
    return (first.hostname, first.port or 9092) if first.hostname else None


class Telemetry:
    """The tracing and metrics of one process: give `middleware` to the bus.

    Args:
        service: The service name (`service.name` of spans).
        tracer_provider: Where spans go; None traces nothing.
        metrics: The Prometheus side (default: a new registry).
        system: `messaging.system` of the spans.
        server: `server.address` and `server.port` of the spans (Kafka's).
        client_id: `messaging.client.id` of the spans (Kafka's).
        owns_provider: `close()` shuts the provider down (flushing spans).
    """

    def __init__(
        self,
        service: str,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        metrics: Metrics | None = None,
        system: str = "kafka",
        server: tuple[str, int] | None = None,
        client_id: str | None = None,
        owns_provider: bool = False,
    ) -> None:
        self.service = service
        self.provider = tracer_provider
        self.tracing = (
            TracingMiddleware(tracer_provider, system=system, server=server, client_id=client_id)
            if tracer_provider
            else None
        )
        self.metrics = metrics or Metrics()
        self._owns_provider = owns_provider

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> Telemetry:
        """Tracing as `otel_exporter` says, metrics always (served where health_port is)."""
        provider = tracer_provider(settings, service)
        return cls(
            service,
            tracer_provider=provider,
            system=messaging_system(settings.bus),
            server=messaging_server(settings.bus),
            client_id=settings.client_id if messaging_server(settings.bus) else None,
            owns_provider=provider is not None,
        )

    @property
    def middleware(self) -> tuple[Middleware, ...]:
        """Bus middleware: tracing first, so metrics time the handler inside its span."""
        if self.tracing is None:
            return (self.metrics.middleware,)
        return (self.tracing, self.metrics.middleware)

    def submitting(
        self, case_id: str, attributes: Mapping[str, str] | None = None
    ) -> AbstractContextManager[None]:
        """The root span of a new case, `submit` (nothing when tracing is off)."""
        if self.tracing is None:
            return nullcontext()
        about = {CASE_ID: case_id, **(attributes or {})}
        return self.tracing.root("submit", case_id.encode(), about)

    def tool_call(self, server: str, tool: str, key: str) -> AbstractContextManager[Note]:
        """A span per tool call, `execute_tool <tool>`, with the GenAI semantic conventions'
        `gen_ai.tool.*` attributes (an `agents.mcp.CallObserver`)."""
        return self._client_span(
            "caseyard.tools",
            f"execute_tool {tool}",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "gen_ai.tool.call.id": key,
                "gen_ai.tool.type": "extension",
                "mcp.server.name": server,
            },
        )

    def model_call(self, operation: str, provider: str, model: str) -> AbstractContextManager[Note]:
        """A span per model call, `<operation> <model>`, with the GenAI semantic
        conventions' attributes (an `agents.router.ModelCallObserver`): the provider and
        the requested model, then the answering model and the tokens, or `error.type`."""
        return self._client_span(
            "caseyard.models",
            f"{operation} {model}",
            {
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
            },
        )

    @contextmanager
    def _client_span(
        self, scope: str, name: str, attributes: dict[str, AttributeValue]
    ) -> Iterator[Note]:
        """A CLIENT span, current in the block (nothing when tracing is off); yields how to
        add an attribute to it. `error.type` also sets the span's status to an error, as
        an exception leaving the block does."""
        if self.provider is None:
            yield lambda key, value: None
            return
        tracer = self.provider.get_tracer(scope, __version__)
        with tracer.start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:

            def note(key: str, value: str | int | float | bool) -> None:
                span.set_attribute(key, value)
                if key == "error.type":
                    span.set_status(Status(StatusCode.ERROR, str(value)))

            yield note

    def close(self) -> None:
        """Flush and stop the span exporter (if this telemetry created it)."""
        if self._owns_provider and isinstance(self.provider, TracerProvider):
            self._owns_provider = False
            self.provider.shutdown()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
