"""Bad bytes become typed decode errors, never crashes."""

from __future__ import annotations

import io
import json
import random

import fastavro
import pytest

from schemas import (
    AvroCodec,
    CorruptPayloadError,
    DecodeError,
    EventValidationError,
    MagicByteError,
    Registry,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SchemaResolutionError,
    TaskRequested,
    UnknownEventTypeError,
    UnknownSchemaIdError,
    schema_text,
    topic_record_name_strategy,
)
from schemas.testing import example_events

pytestmark = pytest.mark.anyio


async def frame_of(codec: AvroCodec, index: int = 1) -> bytes:
    event = example_events()[index]
    return await codec.encode(event, "topic")


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x00\x01"])
async def test_short_frames(codec: AvroCodec, data: bytes) -> None:
    with pytest.raises(CorruptPayloadError, match="shorter than the 5-byte header"):
        await codec.decode(data)


async def test_wrong_magic_byte(codec: AvroCodec) -> None:
    with pytest.raises(MagicByteError, match="magic byte") as caught:
        await codec.decode(b'{"json": "is not avro"}')
    assert "0x7b" in str(caught.value)
    assert not caught.value.retryable


async def test_unknown_schema_id(codec: AvroCodec) -> None:
    with pytest.raises(UnknownSchemaIdError, match="schema id 4242") as caught:
        await codec.decode(b"\x00" + (4242).to_bytes(4, "big") + b"\x02")
    assert caught.value.schema_id == 4242
    assert isinstance(caught.value.__cause__, SchemaNotFoundError)


async def test_truncated_body(codec: AvroCodec) -> None:
    data = await frame_of(codec)
    for cut in (6, len(data) // 2, len(data) - 1):
        with pytest.raises(CorruptPayloadError, match="truncated or corrupt"):
            await codec.decode(data[:cut])


async def test_trailing_bytes(codec: AvroCodec) -> None:
    data = await frame_of(codec)
    with pytest.raises(CorruptPayloadError, match="3 bytes after the record"):
        await codec.decode(data + b"abc")


async def test_valid_avro_invalid_model(registry: Registry, codec: AvroCodec) -> None:
    event = example_events()[1]
    assert isinstance(event, TaskRequested)
    schema_id = await codec.schema_id(TaskRequested, "tasks")
    record = event.model_dump()
    record["attempt"] = 0
    buffer = io.BytesIO()
    buffer.write(b"\x00" + schema_id.to_bytes(4, "big"))
    schema = fastavro.parse_schema(json.loads(schema_text(TaskRequested)))
    fastavro.schemaless_writer(buffer, schema, record)
    with pytest.raises(EventValidationError) as caught:
        await codec.decode(buffer.getvalue())
    error = caught.value
    assert error.event_type == "TaskRequested"
    assert error.schema_id == schema_id
    assert "attempt" in error.details and "greater than or equal to 1" in error.details


async def test_writer_schema_of_an_unknown_event(registry: Registry, codec: AvroCodec) -> None:
    foreign = {"type": "record", "name": "Foreign", "namespace": "elsewhere", "fields": []}
    schema_id = await registry.register("foreign-value", json.dumps(foreign))
    with pytest.raises(UnknownEventTypeError, match=r"elsewhere\.Foreign"):
        await codec.decode(b"\x00" + schema_id.to_bytes(4, "big"))
    primitive = await registry.register("primitive-value", '"string"')
    with pytest.raises(UnknownEventTypeError, match="not a record"):
        await codec.decode(b"\x00" + primitive.to_bytes(4, "big") + b"\x00")


async def test_writer_schema_that_cannot_be_resolved(registry: Registry, codec: AvroCodec) -> None:
    # Same record name as TaskFailed, but `retryable` became a string: no resolution.
    schema = json.loads(schema_text(example_events()[3].__class__))
    for field in schema["fields"]:
        if field["name"] == "retryable":
            field["type"] = "string"
    schema_id = await registry.register("odd-value", json.dumps(schema))
    record = example_events()[3].model_dump()
    record["retryable"] = "yes"
    buffer = io.BytesIO(b"\x00" + schema_id.to_bytes(4, "big"))
    buffer.seek(5)
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    with pytest.raises(SchemaResolutionError, match="TaskFailed"):
        await codec.decode(buffer.getvalue())


class DownRegistry(Registry):
    async def schema_by_id(self, schema_id: int) -> str:
        raise RegistryUnavailableError("registry is down")


async def test_an_unreachable_registry_is_retryable_not_a_decode_error() -> None:
    codec = AvroCodec(DownRegistry())
    with pytest.raises(RegistryUnavailableError) as caught:
        await codec.decode(b"\x00\x00\x00\x00\x01\x00")
    assert caught.value.retryable
    assert not isinstance(caught.value, DecodeError)


async def test_random_and_mutated_bytes_never_crash(registry: Registry) -> None:
    codec = AvroCodec(registry, subject_name_strategy=topic_record_name_strategy)
    frames = [await codec.encode(event, "fuzz") for event in example_events()]
    rng = random.Random(20240501)
    outcomes: dict[str, int] = {}
    for _ in range(3000):
        data = bytearray(rng.choice(frames))
        mode = rng.randrange(4)
        if mode == 0:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(5, len(data))] = rng.randrange(256)
        elif mode == 1:
            data = data[: rng.randrange(0, len(data))]
        elif mode == 2:
            data = data[:5] + rng.randbytes(rng.randrange(0, 300))
        else:
            data = bytearray(rng.randbytes(rng.randrange(0, 64)))
        try:
            await codec.decode(bytes(data))
            outcome = "decoded"
        except DecodeError as exc:
            outcome = type(exc).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.keys() >= {"CorruptPayloadError", "MagicByteError"}
