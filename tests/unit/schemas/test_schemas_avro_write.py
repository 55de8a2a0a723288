"""The compiled Avro writer writes the bytes fastavro writes, from the model itself."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel

from schemas._avro import avro_datum, parsed_schema
from schemas._avro_write import record_writer
from schemas.testing import example_events
from tests.unit.schemas.test_schemas_avro import Color, Everything, Inner, Other

T = datetime(2025, 3, 3, 9, 0, 0, 123456, tzinfo=UTC)


def fastavro_bytes(value: BaseModel) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed_schema(type(value)), avro_datum(value))
    return buffer.getvalue()


def compiled_bytes(value: BaseModel) -> bytes:
    out = bytearray()
    record_writer(type(value))(out, value)
    return bytes(out)


def everything(**changes: Any) -> Everything:
    base: dict[str, Any] = {
        "case_id": "c",
        "correlation_id": "c",
        "occurred_at": T,
        "producer": {"service": "t", "version": "1"},
        "text": "x",
        "ident": uuid.UUID(int=5),
        "day": date(2024, 2, 29),
        "moment": T,
        "utc": T,
        "maybe_required": None,
        "first": Inner(n=1),
        "either": Other(),
        "second_color": Color.RED,
    }
    return Everything(**(base | changes))


@pytest.mark.parametrize("event", example_events(), ids=lambda e: type(e).__name__)
def test_every_example_event_is_written_as_fastavro_writes_it(event: BaseModel) -> None:
    assert compiled_bytes(event) == fastavro_bytes(event)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"count": -1, "ratio": -0.0, "flag": True, "blob": b""},
        {"count": 2**62, "text": "é" * 5000, "blob": bytes(range(256)) * 40},
        {"count": -(2**63), "maybe": "", "maybe_required": 0, "maybe_set": None},
        {"moment": datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=2)))},
        {"day": date(1900, 1, 1), "utc": datetime(2262, 1, 1, tzinfo=UTC)},
        {"items": (Inner(n=1), Inner(n=-2)), "more": [Inner(n=3)], "seq": ["a", "b"]},
        {"tags": {"k": "v", "": "ü"}, "by_name": {"a": Inner(n=9)}},
        {"second": Inner(n=4), "either": Inner(n=5), "mode": "fast", "color": Color.RED},
        {"tags": {f"k{i}": str(i) for i in range(300)}, "seq": [str(i) for i in range(9000)]},
    ],
)
def test_every_type_and_edge_value_is_written_as_fastavro_writes_it(
    changes: dict[str, Any],
) -> None:
    value = everything(**changes)
    data = compiled_bytes(value)
    assert data == fastavro_bytes(value)
    back = fastavro.schemaless_reader(io.BytesIO(data), parsed_schema(Everything), None)
    # A Sequence field reads back as a list where the model held a tuple.
    assert Everything.model_validate(back) == value.model_copy(update={"seq": list(value.seq)})
