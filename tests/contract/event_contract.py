"""The event contract: every event type travels model -> Avro -> bus -> Avro -> model intact.

A mixin for the per-backend bus contract classes (it uses their `url` and `b` fixtures).
The registry is wired as a deployment on that backend wires it: the `_schemas`-format
topic on the same Kafka bus, a SQLite file beside the embedded bus, memory for memory://.
On durable backends the consumer decodes through a second, independent registry over the
same store, as another service would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bus import Bus, Message, TopicSpec
from caseyard.schema_store import BusSchemaStore
from schemas import (
    AvroCodec,
    Event,
    MagicByteError,
    MemorySchemaStore,
    Registry,
    SchemaStore,
    SqliteSchemaStore,
    TaskRequested,
)
from schemas.catalog import EVENT_TYPES
from schemas.testing import example_events
from schemas.topology import Topic, all_topics, tasks_topic
from tests.helpers import drain

_TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def topology_topic(event: Event) -> Topic:
    """The topic of the topology that carries `event`."""
    if isinstance(event, TaskRequested):
        return tasks_topic(event.capability)
    return next(t for t in all_topics() if type(event) in t.events)


@pytest.mark.anyio
class EventContract:
    """Events round-trip through the codec and the bus on every backend."""

    @asynccontextmanager
    async def schema_store(
        self, url: str, b: Bus, where: Path, topic: str
    ) -> AsyncIterator[SchemaStore]:
        """A store as `registry_for` would pick it, on a topic or file of this test's own."""
        scheme = urlsplit(url).scheme
        if scheme == "kafka":
            async with BusSchemaStore(b, topic) as store:
                yield store
        elif scheme == "sqlite":
            yield SqliteSchemaStore(where / "registry.db")
        else:
            yield MemorySchemaStore()

    async def test_every_event_type_round_trips_through_the_bus(
        self, url: str, b: Bus, tmp_path: Path
    ) -> None:
        suffix = uuid.uuid4().hex[:10]
        events = example_events()
        assert {type(e) for e in events} == set(EVENT_TYPES)
        topics = {e.event_id: f"{topology_topic(e).name}.{suffix}" for e in events}
        await b.ensure_topics([TopicSpec(name) for name in sorted(set(topics.values()))])
        schemas_topic = f"_schemas.{suffix}"
        durable = urlsplit(url).scheme != "memory"

        async with self.schema_store(url, b, tmp_path, schemas_topic) as producer_store:
            producer_registry = Registry(producer_store)
            producer = AvroCodec(producer_registry)
            await b.publish_batch(
                [
                    Message(
                        topics[e.event_id],
                        await producer.encode(e, topics[e.event_id]),
                        key=e.case_id.encode(),
                        headers=(("traceparent", _TRACEPARENT),),
                    )
                    for e in events
                ]
            )
            # Another service: its own codec, and on durable backends its own registry.
            reader: AbstractAsyncContextManager[SchemaStore | None] = (
                self.schema_store(url, b, tmp_path, schemas_topic) if durable else nullcontext()
            )
            async with reader as reader_store:
                registry = producer_registry if reader_store is None else Registry(reader_store)
                consumer_codec = AvroCodec(registry)
                group = f"events-{suffix}"
                async with b.consumer(group, sorted(set(topics.values()))) as consumer:
                    records = await drain(consumer, len(events))
                received: dict[str, list[Event]] = {}
                for record in records:
                    event = await consumer_codec.decode(record.value)
                    assert record.key == event.case_id.encode()
                    assert record.header("traceparent") == _TRACEPARENT
                    assert topics[event.event_id] == record.topic
                    received.setdefault(record.topic, []).append(event)

        for topic, got in received.items():
            sent = [e for e in events if topics[e.event_id] == topic]
            assert got == sent  # same models, same order within the topic
            assert [type(e) for e in got] == [type(e) for e in sent]
        assert sum(map(len, received.values())) == len(events)

    async def test_foreign_bytes_on_the_bus_fail_with_a_typed_error(self, b: Bus) -> None:
        topic = f"caseyard.intake.{uuid.uuid4().hex[:10]}"
        await b.ensure_topics([TopicSpec(topic)])
        await b.publish(topic, b'{"json": "not avro"}', key=b"case-x")
        async with b.consumer(f"g-{uuid.uuid4().hex[:10]}", [topic]) as consumer:
            (record,) = await drain(consumer, 1)
        with pytest.raises(MagicByteError, match="not Confluent wire format"):
            await AvroCodec(Registry()).decode(record.value)
