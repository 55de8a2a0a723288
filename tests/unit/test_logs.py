"""Structured logs: JSON lines with case_id from `extra` and the current trace ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from caseyard.logs import configure_logging


def reset(handler: logging.Handler) -> None:
    for name in ("caseyard", "bus", "schemas", "agents", "coordinator"):
        logger = logging.getLogger(name)
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = configure_logging("INFO", "json", out)
    yield out
    reset(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_carries_case_id_and_trace_ids(stream: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("process") as span:
        logging.getLogger("agents.runtime").info("task done", extra={"case_id": "case-1"})
    (line,) = lines(stream)
    context = span.get_span_context()
    assert line["message"] == "task done"
    assert line["case_id"] == "case-1"
    assert line["level"] == "info" and line["logger"] == "agents.runtime"
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")


def test_no_span_no_trace_id_and_levels_filter(stream: io.StringIO) -> None:
    log = logging.getLogger("coordinator._service")
    log.debug("hidden")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"case_id": "case-2", "attempt": 3})
    (line,) = lines(stream)
    assert "trace_id" not in line
    assert line["attempt"] == 3
    assert "ValueError: boom" in str(line["exception"])


def test_text_format_for_terminals() -> None:
    out = io.StringIO()
    handler = configure_logging("DEBUG", "text", out)
    try:
        logging.getLogger("bus").debug("fetched", extra={"case_id": "case-3"})
    finally:
        reset(handler)
    (line,) = out.getvalue().splitlines()
    time, rest = line.split(" ", 1)
    assert time.endswith("+00:00")
    assert rest.split() == ["[debug", "]", "fetched", "[bus]", "case_id=case-3"]
