"""The Avro codec: round trips, wire format, schema evolution, upcasting, size limit."""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import fastavro
import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field

from schemas import (
    EVENT_TYPES,
    AvroCodec,
    CaseSubmitted,
    ClassifyOutput,
    CompatibilityLevel,
    CompatibilityResult,
    EncodeError,
    Event,
    EventTooLargeError,
    IncompatibleSchemaError,
    Producer,
    RegisteredSchema,
    Registry,
    RegistryClient,
    SchemaResolutionError,
    ScoreOutput,
    SubjectNotFoundError,
    TaskCompleted,
    TaskOutput,
    TaskRequested,
    UpcastError,
    Upcasters,
    Version,
    create_registry_app,
    record_name_strategy,
    schema_text,
    topic_name_strategy,
    topic_record_name_strategy,
)
from schemas.testing import example_document, example_events, example_outputs

pytestmark = pytest.mark.anyio

PRODUCER = Producer(service="test", version="0")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class CountingRegistry:
    """A SchemaRegistry that counts the calls reaching the real one."""

    def __init__(self, inner: Registry) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    async def register(self, subject: str, schema: str) -> int:
        self.calls["register"] += 1
        return await self.inner.register(subject, schema)

    async def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        self.calls["lookup"] += 1
        return await self.inner.lookup(subject, schema)

    async def schema_by_id(self, schema_id: int) -> str:
        self.calls["schema_by_id"] += 1
        return await self.inner.schema_by_id(schema_id)

    async def subjects(self) -> list[str]:
        return await self.inner.subjects()

    async def versions(self, subject: str) -> list[int]:
        return await self.inner.versions(subject)

    async def get_version(self, subject: str, version: Version = "latest") -> RegisteredSchema:
        return await self.inner.get_version(subject, version)

    async def check_compatibility(
        self, subject: str, schema: str, version: Version | None = "latest"
    ) -> CompatibilityResult:
        return await self.inner.check_compatibility(subject, schema, version)

    async def get_compatibility(
        self, subject: str | None = None, *, default_to_global: bool = False
    ) -> CompatibilityLevel:
        return await self.inner.get_compatibility(subject, default_to_global=default_to_global)

    async def set_compatibility(
        self, level: CompatibilityLevel | str, subject: str | None = None
    ) -> CompatibilityLevel:
        return await self.inner.set_compatibility(level, subject)


def envelope(**extra: Any) -> dict[str, Any]:
    return {
        "case_id": "c1",
        "correlation_id": "c1",
        "occurred_at": NOW,
        "producer": PRODUCER,
        **extra,
    }


@pytest.mark.parametrize("event", example_events(), ids=lambda e: type(e).__name__)
async def test_every_event_type_round_trips(codec: AvroCodec, event: Event) -> None:
    data = await codec.encode(event, topic=f"topic-{event.event_type}")
    decoded = await codec.decode(data)
    assert type(decoded) is type(event)
    assert decoded == event


async def test_every_task_output_round_trips(codec: AvroCodec) -> None:
    completed, requested = example_events()[2], example_events()[1]
    assert isinstance(completed, TaskCompleted) and isinstance(requested, TaskRequested)
    for output in example_outputs():
        event = completed.model_copy(update={"output": output})
        assert await codec.decode(await codec.encode(event, "results")) == event
    prior = {f"step{i}": output for i, output in enumerate(example_outputs())}
    request = requested.model_copy(
        update={"input": requested.input.model_copy(update={"prior": prior})}
    )
    assert await codec.decode(await codec.encode(request, "tasks")) == request


async def test_minimal_events_round_trip(codec: AvroCodec) -> None:
    event = CaseSubmitted(**envelope(source="api", document=example_document()))
    assert await codec.decode(await codec.encode(event, "intake")) == event


async def test_frame_is_confluent_wire_format(registry: Registry, codec: AvroCodec) -> None:
    event = example_events()[0]
    data = await codec.encode(event, "intake")
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    registered = await registry.get_version("intake-caseyard.CaseSubmitted")
    assert registered.schema_id == schema_id
    assert json.loads(registered.schema) == json.loads(schema_text(type(event)))


@pytest.mark.parametrize(
    ("strategy", "subject"),
    [
        (topic_name_strategy, "intake-value"),
        (record_name_strategy, "caseyard.CaseSubmitted"),
        (topic_record_name_strategy, "intake-caseyard.CaseSubmitted"),
    ],
)
async def test_subject_name_strategies(registry: Registry, strategy: Any, subject: str) -> None:
    codec = AvroCodec(registry, subject_name_strategy=strategy)
    await codec.encode(example_events()[0], "intake")
    assert await registry.subjects() == [subject]


async def test_hot_path_does_no_registry_io(registry: Registry) -> None:
    counting = CountingRegistry(registry)
    # One topic carries every event type, so one subject per (topic, type).
    producer = AvroCodec(counting, subject_name_strategy=topic_record_name_strategy)
    consumer = AvroCodec(counting, subject_name_strategy=topic_record_name_strategy)
    events = example_events()
    for _ in range(3):
        for event in events:
            await consumer.decode(await producer.encode(event, "all"))
    assert counting.calls["register"] == len(events)
    # Each schema id is fetched once; the producer's own ids need no fetch at all.
    assert counting.calls["schema_by_id"] == len(events)
    counting.calls.clear()
    for event in events:
        await producer.decode(await producer.encode(event, "all"))
    assert counting.calls == Counter()


async def test_without_auto_register_the_schema_must_exist(registry: Registry) -> None:
    codec = AvroCodec(registry, auto_register=False)
    event = example_events()[0]
    with pytest.raises(SubjectNotFoundError):
        await codec.encode(event, "intake")
    schema_id = await registry.register("intake-caseyard.CaseSubmitted", schema_text(type(event)))
    data = await codec.encode(event, "intake")
    assert int.from_bytes(data[1:5], "big") == schema_id


async def test_events_outside_the_catalog_are_refused(registry: Registry) -> None:
    codec = AvroCodec(registry, events=[CaseSubmitted])
    with pytest.raises(EncodeError, match="not in this codec's catalog"):
        await codec.encode(example_events()[1], "tasks")


async def test_event_size_limit(registry: Registry) -> None:
    event = example_events()[0]
    small = AvroCodec(registry, max_event_bytes=64)
    with pytest.raises(EventTooLargeError) as caught:
        await small.encode(event, "intake")
    error = caught.value
    assert error.event_type == "CaseSubmitted"
    assert error.limit == 64 and error.size > 64
    assert "CaseSubmitted" in str(error) and str(error.size) in str(error) and "64" in str(error)
    default = AvroCodec(registry)
    assert default.max_event_bytes == 1024 * 1024
    big = event.model_copy(update={"metadata": {"notes": "x" * (1024 * 1024)}})
    with pytest.raises(EventTooLargeError):
        await default.encode(big, "intake")
    roomy = AvroCodec(registry, max_event_bytes=2 * 1024 * 1024)
    assert await roomy.decode(await roomy.encode(big, "intake")) == big


# Two revisions of one event type, as two services would have them: the second adds
# fields with defaults, a change Avro schema resolution handles in both directions.


class ReviewV1(Event):
    event_type: ClassVar[str] = "ReviewRequested"

    reviewer: str


class ReviewV2(Event):
    event_type: ClassVar[str] = "ReviewRequested"

    reviewer: str
    priority: int = 0
    note: str | None = None


async def test_old_writer_new_reader_and_back(registry: Registry) -> None:
    old = AvroCodec(registry, events=[ReviewV1])
    new = AvroCodec(registry, events=[ReviewV2])
    v1 = ReviewV1(**envelope(reviewer="ann"))
    from_old = await new.decode(await old.encode(v1, "reviews"))
    assert isinstance(from_old, ReviewV2)
    assert from_old.reviewer == "ann" and from_old.priority == 0 and from_old.note is None
    assert from_old.event_id == v1.event_id

    v2 = ReviewV2(**envelope(reviewer="bob", priority=2, note="urgent"))
    from_new = await old.decode(await new.encode(v2, "reviews"))
    assert isinstance(from_new, ReviewV1)
    assert from_new.reviewer == "bob"
    # Both versions live under one subject: the registry accepted v2 as BACKWARD.
    assert await registry.versions("reviews-caseyard.ReviewRequested") == [1, 2]


# A breaking change: v2 renamed reviewer -> decided_by. It bumps schema_version and
# ships an upcaster, so v2 readers still read v1 bytes.


class DecidedV1(Event):
    event_type: ClassVar[str] = "ReviewDecided"

    reviewer: str
    approved: bool


class DecidedV2(Event):
    event_type: ClassVar[str] = "ReviewDecided"
    schema_version: ClassVar[int] = 2

    decided_by: str
    approved: bool


def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    data["decided_by"] = data.pop("reviewer")
    return data


async def test_upcaster_lifts_old_versions(registry: Registry) -> None:
    upcasters = Upcasters()
    upcasters.add("ReviewDecided", 1, upcast_v1_v2)
    old = AvroCodec(registry, events=[DecidedV1], subject_name_strategy=record_name_strategy)
    new = AvroCodec(
        registry,
        events=[DecidedV2],
        subject_name_strategy=record_name_strategy,
        upcasters=upcasters,
    )
    v1 = DecidedV1(**envelope(reviewer="ann", approved=True))
    data = await old.encode(v1, "decisions")
    decoded = await new.decode(data)
    assert isinstance(decoded, DecidedV2)
    assert decoded.decided_by == "ann" and decoded.approved
    assert decoded.event_id == v1.event_id and decoded.occurred_at == v1.occurred_at

    # The rename is not Avro-compatible: the registry refuses v2 under BACKWARD...
    with pytest.raises(IncompatibleSchemaError, match="decided_by"):
        await new.encode(DecidedV2(**envelope(decided_by="bob", approved=False)), "decisions")
    # ...so such a bump is registered deliberately, here by relaxing the subject.
    await registry.set_compatibility(CompatibilityLevel.NONE, "caseyard.ReviewDecided")
    v2_bytes = await new.encode(DecidedV2(**envelope(decided_by="bob", approved=False)), "d")
    # An old reader cannot understand the new version; it says so with a typed error.
    with pytest.raises(SchemaResolutionError):
        await old.decode(v2_bytes)


async def test_upcaster_registry_decorator_and_chain() -> None:
    upcasters = Upcasters()

    @upcasters.register("Thing", from_version=1)
    def upcast_thing_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "b": data["a"] * 2}

    @upcasters.register("Thing", from_version=2)
    def upcast_thing_v2_v3(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "c": data["b"] + 1}

    assert upcasters.upcast("Thing", {"a": 1}, 1, 3) == {"a": 1, "b": 2, "c": 3}
    assert upcasters.upcast("Thing", {"a": 1, "b": 5}, 2, 3) == {"a": 1, "b": 5, "c": 6}
    assert upcasters.upcast("Thing", {"a": 1}, 3, 3) == {"a": 1}
    with pytest.raises(UpcastError, match="no upcaster from v3 to v4"):
        upcasters.upcast("Thing", {"a": 1}, 1, 4)
    with pytest.raises(UpcastError, match="KeyError"):
        upcasters.upcast("Thing", {}, 1, 2)
    with pytest.raises(ValueError, match="already exists"):
        upcasters.add("Thing", 1, upcast_thing_v1_v2)


async def test_missing_upcaster_is_a_typed_decode_error(registry: Registry) -> None:
    old = AvroCodec(registry, events=[DecidedV1], subject_name_strategy=record_name_strategy)
    new = AvroCodec(
        registry,
        events=[DecidedV2],
        subject_name_strategy=record_name_strategy,
        upcasters=Upcasters(),
    )
    data = await old.encode(DecidedV1(**envelope(reviewer="ann", approved=True)), "d")
    with pytest.raises(UpcastError, match="ReviewDecided v1"):
        await new.decode(data)


async def test_plain_fastavro_reads_our_bytes_with_the_registry_schema(
    registry: Registry,
) -> None:
    app = create_registry_app(registry)
    transport = httpx.ASGITransport(app=app)
    async with RegistryClient("http://registry", transport=transport) as client:
        codec = AvroCodec(client, subject_name_strategy=topic_record_name_strategy)
        frames = [(event, await codec.encode(event, "audit")) for event in example_events()]
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as http:
        for event, data in frames:
            schema_id = int.from_bytes(data[1:5], "big")
            response = await http.get(f"/schemas/ids/{schema_id}")
            schema = fastavro.parse_schema(json.loads(response.json()["schema"]))
            record = fastavro.schemaless_reader(io.BytesIO(data[5:]), schema)
            assert isinstance(record, dict)
            assert record["event_id"] == event.event_id
            assert record["case_id"] == event.case_id
            assert record["occurred_at"] == event.occurred_at
            assert record["producer"] == {"service": "example", "version": "1.0.0"}
            assert type(event).model_validate(record) == event


async def test_codec_needs_a_catalog_without_duplicates(registry: Registry) -> None:
    with pytest.raises(ValueError, match="two event classes"):
        AvroCodec(registry, events=[ReviewV1, ReviewV2])
    with pytest.raises(ValueError, match="max_event_bytes"):
        AvroCodec(registry, max_event_bytes=5)
    assert len(EVENT_TYPES) == 21


async def test_default_subjects_are_per_topic_and_event_type(registry: Registry) -> None:
    # caseyard topics carry several event types: each gets its own subject by default.
    codec = AvroCodec(registry)
    completed, failed = example_events()[2:4]
    assert isinstance(completed, TaskCompleted) and failed.event_type == "TaskFailed"
    for event in (completed, failed):
        assert await codec.decode(await codec.encode(event, "results")) == event
    assert await registry.subjects() == [
        "results-caseyard.TaskCompleted",
        "results-caseyard.TaskFailed",
    ]


async def test_one_subject_per_topic_holds_one_event_type(registry: Registry) -> None:
    # TopicNameStrategy puts every type on a topic under one subject, where each new type
    # must be compatible with the last: it only suits single-type topics.
    codec = AvroCodec(registry, subject_name_strategy=topic_name_strategy)
    await codec.encode(example_events()[2], "results")
    with pytest.raises(IncompatibleSchemaError, match=r"caseyard\.TaskFailed"):
        await codec.encode(example_events()[3], "results")


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    tags: tuple[str, ...] = ()


class Tricky(Event):
    """Every shape of union the writer must steer, plus the less common scalars."""

    event_type: ClassVar[str] = "Tricky"

    ident: uuid.UUID
    day: date
    raw: bytes
    words: tuple[str, ...] | None = None
    parts: tuple[Part, ...] | None = None
    by_name: Mapping[str, Part] | None = None
    outputs: tuple[TaskOutput, ...] = ()
    keyed: Mapping[str, ClassifyOutput | ScoreOutput] = Field(default_factory=dict)
    maybe_output: TaskOutput | None = None
    grid: tuple[tuple[Part, ...], ...] = ()


async def test_unions_of_arrays_maps_and_records_round_trip(registry: Registry) -> None:
    codec = AvroCodec(registry, events=[Tricky])
    classify, extract, score, respond = example_outputs()
    full = Tricky(
        **envelope(
            ident=uuid.UUID(int=7),
            day=date(2024, 2, 29),
            raw=b"\x00\xff",
            words=("a", "b"),
            parts=(Part(n=1, tags=("x",)), Part(n=2)),
            by_name={"p": Part(n=3)},
            outputs=(classify, extract, score, respond),
            keyed={"c": classify, "s": score},
            maybe_output=respond,
            grid=((Part(n=4),), ()),
        )
    )
    empty = Tricky(**envelope(ident=uuid.UUID(int=8), day=date(1970, 1, 1), raw=b""))
    for event in (full, empty):
        assert await codec.decode(await codec.encode(event, "tricky")) == event
