"""The compiled Avro reader reads what fastavro reads, and fails where fastavro fails."""

from __future__ import annotations

import io
import random
import struct
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel

from schemas._avro import avro_schema
from schemas._avro_read import compile_reader
from schemas._avro_write import Unsupported, record_writer
from schemas.testing import example_events
from tests.unit.schemas.test_schemas_avro_write import everything

# What a corrupt body may raise: the builtins the codec turns into CorruptPayloadError.
CORRUPT = (ValueError, IndexError, OverflowError, EOFError, KeyError, TypeError, struct.error)


def body(value: BaseModel) -> bytes:
    out = bytearray()
    record_writer(type(value))(out, value)
    return bytes(out)


def fastavro_read(schema: Any, data: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(schema), None)


def compiled_read(schema: Any, data: bytes) -> Any:
    value, end = compile_reader(schema)(data, 0)
    assert end == len(data), "the reader stops at the end of the record"
    return value


EVENTS = [*example_events(), everything(), everything(items=(), maybe="x", second=None)]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_example_event_reads_as_fastavro_reads_it(event: BaseModel) -> None:
    schema = avro_schema(type(event))
    data = body(event)
    assert compiled_read(schema, data) == fastavro_read(schema, data)
    read_back = type(event).model_validate(compiled_read(schema, data))
    assert read_back.model_dump(mode="json") == event.model_dump(mode="json")


@pytest.mark.parametrize("event", EVENTS[:6], ids=lambda e: type(e).__name__)
def test_a_truncated_body_fails_at_every_cut(event: BaseModel) -> None:
    schema = avro_schema(type(event))
    read = compile_reader(schema)
    data = body(event)
    for cut in range(len(data)):
        with pytest.raises(CORRUPT):
            value, end = read(data[:cut], 0)
            # A cut inside a trailing container can still read as a shorter record; the
            # codec then finds the record did not end where the bytes do.
            if end != cut:
                raise ValueError("did not end at the cut")
            raise ValueError(f"read {value!r} from a cut body")


def test_flipped_bytes_fail_or_read_as_fastavro_does() -> None:
    """Random corruption: where fastavro reads a value, the compiled reader reads the same;
    where it fails, the compiled reader fails with a builtin error too."""
    rng = random.Random(7)
    event = next(e for e in example_events() if type(e).__name__ == "TaskRequested")
    schema = avro_schema(type(event))
    read = compile_reader(schema)
    data = body(event)
    for _ in range(400):
        bad = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        try:
            expected: Any = fastavro_read(schema, bytes(bad))
        except Exception as exc:  # fastavro's own errors are these builtins too
            expected = type(exc)
        try:
            got: Any = read(bytes(bad), 0)[0]
        except CORRUPT as exc:
            got = type(exc)
        if isinstance(expected, type) or isinstance(got, type):
            assert isinstance(expected, type) and isinstance(got, type), (expected, got)
        else:
            assert got == expected


def zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def test_blocks_that_give_their_byte_size_are_read() -> None:
    """Another writer may write an array block as (-count, byte size, items)."""
    schema = {"type": "array", "items": "long"}
    data = zigzag(-2) + zigzag(2) + zigzag(5) + zigzag(-300) + zigzag(1) + zigzag(7) + b"\x00"
    assert compiled_read(schema, data) == fastavro_read(schema, data) == [5, -300, 7]


def test_a_count_larger_than_the_bytes_fails_at_once() -> None:
    schema = {"type": "map", "values": "string"}
    with pytest.raises(ValueError, match="past the end"):
        compile_reader(schema)(zigzag(2**40) + b"\x00", 0)


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        ({"type": "enum", "name": "E", "symbols": ["a", "b"]}, zigzag(2)),
        ({"type": "enum", "name": "E", "symbols": ["a", "b"]}, zigzag(-1)),
        (["null", "string"], zigzag(2)),
        (["null", "string"], zigzag(-1)),
        ("string", zigzag(-1)),
        ("string", zigzag(5) + b"ab"),
        ("string", b"\x04\xff\xfe"),  # not UTF-8
        ("long", b"\xff" * 11),  # a varint longer than a long
        ("double", b"\x00" * 7),
        ({"type": "fixed", "name": "F", "size": 4}, b"abc"),
    ],
    ids=[
        "enum-past-end",
        "enum-negative",
        "union-past-end",
        "union-negative",
        "negative-length",
        "length-past-end",
        "bad-utf8",
        "long-varint",
        "short-double",
        "short-fixed",
    ],
)
def test_each_kind_of_bad_value_is_a_builtin_error(schema: Any, data: bytes) -> None:
    with pytest.raises(ValueError):
        compile_reader(schema)(data, 0)


def test_named_types_recursion_and_logical_types() -> None:
    schema = {
        "type": "record",
        "name": "Node",
        "namespace": "t",
        "fields": [
            {"name": "when", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "ratio", "type": "float"},
            {"name": "raw", "type": {"type": "fixed", "name": "Four", "size": 4}},
            {"name": "again", "type": ["null", "Four"]},
            {"name": "child", "type": ["null", "t.Node"]},
            {"name": "odd", "type": {"type": "long", "logicalType": "made-up"}},
        ],
    }
    value = {
        "when": 1_700_000_000_123,
        "at": 1_700_000_000_123,
        "id": "0b7e3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "ratio": 0.5,
        "raw": b"abcd",
        "again": b"wxyz",
        "child": {
            "when": 0,
            "at": -5,
            "id": "0b7e3f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5c",
            "ratio": -1.0,
            "raw": b"0000",
            "again": None,
            "child": None,
            "odd": 3,
        },
        "odd": 2,
    }
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), value)
    data = buffer.getvalue()
    assert compiled_read(schema, data) == fastavro_read(schema, data)


def test_types_it_does_not_read_are_left_to_fastavro() -> None:
    decimal = {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}
    with pytest.raises(Unsupported):
        compile_reader({"type": "record", "name": "R", "fields": [{"name": "d", "type": decimal}]})
    with pytest.raises(Unsupported):
        compile_reader({"type": "array", "items": "null"})
