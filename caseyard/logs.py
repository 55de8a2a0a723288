"""Structured logs: one JSON object per line with `case_id` and the current `trace_id`.

The core packages log with the standard library (`logging.getLogger(__name__)`) and pass
what they know as `extra={"case_id": ...}`; they never import OpenTelemetry or structlog.
Here, in the composition root, structlog renders those records (its `ProcessorFormatter`
on the standard library's handler): level, logger, the record's time, every `extra`
field, the trace and span ids of the span current when the record was made (the bus
middleware's processing span, so a log line and its trace find each other), the
exception, then JSON for machines or structlog's console layout for people.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import structlog
from opentelemetry import trace
from structlog.typing import Processor

LogFormat = Literal["json", "text"]


def _record_time(logger: Any, name: str, event: MutableMapping[str, Any]) -> Any:
    """When the record was made (not when it is rendered), UTC, to the millisecond."""
    record = event.get("_record")
    created = record.created if isinstance(record, logging.LogRecord) else None
    moment = datetime.fromtimestamp(created, UTC) if created is not None else datetime.now(UTC)
    event["time"] = moment.isoformat(timespec="milliseconds")
    return event


def _trace_ids(logger: Any, name: str, event: MutableMapping[str, Any]) -> Any:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


# What every record goes through, whatever the output.
_CHAIN: list[Processor] = [
    _record_time,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    _trace_ids,
]


def formatter(fmt: LogFormat, *, colors: bool = False) -> logging.Formatter:
    """The standard library formatter of `fmt`: JSON lines, or structlog's console layout."""
    last: list[Processor] = (
        [
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
        ]
        if fmt == "json"
        else [
            # Plain tracebacks: rich's would print each frame's locals (API keys included).
            structlog.dev.ConsoleRenderer(
                colors=colors,
                timestamp_key="time",
                exception_formatter=structlog.dev.plain_traceback,
            )
        ]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_CHAIN,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last],
    )


def configure_logging(
    level: str = "INFO", fmt: LogFormat = "json", stream: TextIO | None = None
) -> logging.Handler:
    """Send the caseyard packages' logs to `stream` (stderr) in `fmt`; returns the handler."""
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(fmt, colors=fmt == "text" and out.isatty()))
    for name in ("caseyard", "bus", "schemas", "agents", "coordinator"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    return handler
