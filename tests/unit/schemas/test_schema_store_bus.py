"""The built-in registry on the bus (`BusSchemaStore`, on memory://) and `registry_for`."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

import bus
from bus import Bus, Message, Position
from caseyard.errors import ConfigError
from caseyard.schema_store import (
    SCHEMAS_TOPIC,
    BusSchemaStore,
    config_key,
    registry_for,
    schema_key,
    schema_value,
)
from caseyard.settings import Settings
from schemas import (
    CompatibilityLevel,
    MemorySchemaStore,
    Registry,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SchemaRecord,
    SchemaStoreConflictError,
    SqliteSchemaStore,
    VersionNotFoundError,
    schema_text,
)
from schemas.catalog import EVENT_TYPES
from tests.helpers import drain

pytestmark = pytest.mark.anyio


def record_schema(name: str, *fields: str) -> str:
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "fields": [{"name": f, "type": "string"} for f in fields],
        }
    )


A = record_schema("Thing", "a")
B = record_schema("Other", "b")


@pytest.fixture
async def b() -> AsyncIterator[Bus]:
    async with bus.connect("memory://") as b:
        yield b


async def test_registry_state_survives_in_the_topic(b: Bus) -> None:
    async with BusSchemaStore(b) as store:
        registry = Registry(store)
        ids = {
            m.event_type: await registry.register(f"x-{m.event_type}", schema_text(m))
            for m in EVENT_TYPES
        }
        await registry.set_compatibility(CompatibilityLevel.FULL)
        await registry.set_compatibility("NONE", "x-CaseSubmitted")
    assert await b.partitions(SCHEMAS_TOPIC) == 1
    async with BusSchemaStore(b) as again:
        fresh = Registry(again)
        assert await fresh.subjects() == sorted(f"x-{t}" for t in ids)
        for event_type, schema_id in ids.items():
            registered = await fresh.get_version(f"x-{event_type}")
            assert (registered.version, registered.schema_id) == (1, schema_id)
        assert await fresh.get_compatibility() is CompatibilityLevel.FULL
        assert await fresh.get_compatibility("x-CaseSubmitted") is CompatibilityLevel.NONE
    assert len(set(ids.values())) == len(EVENT_TYPES)


async def test_records_are_in_confluents_format(b: Bus) -> None:
    async with BusSchemaStore(b) as store:
        registry = Registry(store)
        schema_id = await registry.register("things-value", A)
        await registry.set_compatibility("FORWARD")
    async with b.consumer(f"g-{uuid.uuid4().hex}", [SCHEMAS_TOPIC]) as consumer:
        first, second = await drain(consumer, 2)
    assert first.key == (b'{"keytype":"SCHEMA","subject":"things-value","version":1,"magic":1}')
    assert json.loads(first.value) == {
        "subject": "things-value",
        "version": 1,
        "id": schema_id,
        "schema": json.dumps(json.loads(A), separators=(",", ":")),
        "deleted": False,
    }
    assert second.key == b'{"keytype":"CONFIG","subject":null,"magic":0}'
    assert json.loads(second.value) == {"compatibilityLevel": "FORWARD"}


async def test_foreign_and_malformed_records_are_skipped(b: Bus) -> None:
    async with BusSchemaStore(b) as store:
        await b.publish(SCHEMAS_TOPIC, b"{}", key=b'{"keytype":"NOOP","magic":0}')
        await b.publish(SCHEMAS_TOPIC, b"not json", key=b"not json either")
        await b.publish(SCHEMAS_TOPIC, b'{"id":"x"}', key=schema_key("s", 1))
        await b.publish(SCHEMAS_TOPIC, b'{"compatibilityLevel":"SOMETIMES"}', key=config_key(None))
        await store.append(SchemaRecord("s", 1, 1, A))
        contents = await store.load()
    assert contents.records == (SchemaRecord("s", 1, 1, A),)
    assert contents.config == {}


async def test_tombstones_delete(b: Bus) -> None:
    async with BusSchemaStore(b) as store:
        await store.append(SchemaRecord("s", 1, 1, A))
        await store.set_config("s", CompatibilityLevel.NONE)
        await b.publish(SCHEMAS_TOPIC, b"", key=schema_key("s", 1))
        await b.publish(SCHEMAS_TOPIC, b"", key=config_key("s"))
        contents = await store.load()
    assert contents.records == ()
    assert contents.config == {}


async def test_soft_deletes_as_confluents_registry_writes_them(b: Bus) -> None:
    """A Confluent registry sharing `_schemas` soft-deletes a version by writing it again
    with "deleted": true. The version is gone from its subject (listing, lookup, latest,
    compatibility), its id still resolves (records written with it stay readable), the
    same schema registered again gets its id back under a new version number, and a
    later "deleted": false brings the version back."""
    async with BusSchemaStore(b) as store:
        registry = Registry(store)
        a_id = await registry.register("things-value", A)
        await registry.set_compatibility("NONE", "things-value")
        b_id = await registry.register("things-value", B)
        stored = json.dumps(json.loads(B), separators=(",", ":"))  # as the registry keeps it
        await b.publish(
            SCHEMAS_TOPIC,
            schema_value(SchemaRecord("things-value", 2, b_id, stored, deleted=True)),
            key=schema_key("things-value", 2),
        )
        fresh = Registry(store)
        assert await fresh.versions("things-value") == [1]
        assert (await fresh.get_version("things-value")).schema_id == a_id
        with pytest.raises(VersionNotFoundError):
            await fresh.get_version("things-value", 2)
        with pytest.raises(SchemaNotFoundError):
            await fresh.lookup("things-value", B)
        assert json.loads(await fresh.schema_by_id(b_id)) == json.loads(B)

        assert await fresh.register("things-value", B) == b_id
        assert await fresh.versions("things-value") == [1, 3]
        contents = await store.load()
        assert SchemaRecord("things-value", 2, b_id, stored, deleted=True) in contents.records

        await b.publish(
            SCHEMAS_TOPIC,
            schema_value(SchemaRecord("things-value", 2, b_id, stored)),
            key=schema_key("things-value", 2),
        )
        assert await Registry(store).versions("things-value") == [1, 2, 3]


async def test_append_refuses_what_is_already_taken(b: Bus) -> None:
    async with BusSchemaStore(b) as one, BusSchemaStore(b) as two:
        await one.append(SchemaRecord("s", 1, 1, A))
        await two.load()
        await two.append(SchemaRecord("s", 1, 1, A))  # the same record again: a no-op
        with pytest.raises(SchemaStoreConflictError, match="version 1 is already taken"):
            await two.append(SchemaRecord("s", 1, 2, B))
        with pytest.raises(SchemaStoreConflictError, match="id 1 is already bound"):
            await two.append(SchemaRecord("t", 1, 1, B))
        assert (await one.load()).records == (SchemaRecord("s", 1, 1, A),)
    assert await b.end_offsets([bus.TopicPartition(SCHEMAS_TOPIC, 0)]) == {
        bus.TopicPartition(SCHEMAS_TOPIC, 0): 1
    }


class RacingBus:
    """A bus on which a concurrent registry publishes `competitor` just before our record."""

    def __init__(self, inner: Bus, competitor: SchemaRecord) -> None:
        self.inner = inner
        self.competitor: SchemaRecord | None = competitor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def publish(self, topic: str, value: bytes, **kwargs: Any) -> Position:
        competitor, self.competitor = self.competitor, None
        if competitor is not None:
            await self.inner.publish(
                topic,
                schema_value(competitor),
                key=schema_key(competitor.subject, competitor.version),
                partition=0,
            )
        return await self.inner.publish(topic, value, **kwargs)

    async def publish_batch(self, messages: Sequence[Message]) -> list[Position]:
        return await self.inner.publish_batch(messages)


async def values_by_key(b: Bus) -> list[tuple[bytes | None, SchemaRecord]]:
    async with b.consumer(f"g-{uuid.uuid4().hex}", [SCHEMAS_TOPIC]) as consumer:
        ends = await b.end_offsets([bus.TopicPartition(SCHEMAS_TOPIC, 0)])
        records = await drain(consumer, sum(ends.values()))
    out = []
    for r in records:
        v = json.loads(r.value)
        out.append((r.key, SchemaRecord(v["subject"], v["version"], v["id"], v["schema"])))
    return out


async def test_losing_a_race_for_a_version_raises_and_restores_the_winner(b: Bus) -> None:
    winner = SchemaRecord("s", 1, 1, A)
    mine = SchemaRecord("s", 1, 2, B)
    racing = cast(Bus, RacingBus(b, winner))
    async with BusSchemaStore(racing) as store:
        with pytest.raises(SchemaStoreConflictError, match="concurrent registry"):
            await store.append(mine)
        assert (await store.load()).records == (winner,)
    # Compaction keeps the last value per key: the loser wrote the winner's value again.
    log = await values_by_key(b)
    assert [record for _, record in log] == [winner, mine, winner]
    async with BusSchemaStore(b) as fresh:
        assert (await fresh.load()).records == (winner,)


async def test_losing_a_race_for_an_id_raises(b: Bus) -> None:
    winner = SchemaRecord("t", 1, 1, A)
    mine = SchemaRecord("s", 1, 1, B)
    async with BusSchemaStore(cast(Bus, RacingBus(b, winner))) as store:
        with pytest.raises(SchemaStoreConflictError, match="concurrent registry"):
            await store.append(mine)
        assert (await store.load()).records == (winner,)
    async with BusSchemaStore(b) as fresh:
        assert (await fresh.load()).records == (winner,)
        # The version the loser wanted is still free for a correct record.
        await fresh.append(SchemaRecord("s", 1, 2, B))
        assert (await fresh.load()).records == (winner, SchemaRecord("s", 1, 2, B))


async def test_concurrent_registries_never_share_an_id(b: Bus) -> None:
    schemas = [record_schema(f"R{i}", "a") for i in range(8)]
    async with BusSchemaStore(b) as one, BusSchemaStore(b) as two:
        registries = [Registry(one), Registry(two)]
        ids: dict[str, int] = {}

        async def register(i: int) -> None:
            ids[schemas[i]] = await registries[i % 2].register(f"s{i}", schemas[i])

        async with anyio.create_task_group() as tg:
            for i in range(len(schemas)):
                tg.start_soon(register, i)
    assert len(set(ids.values())) == len(schemas)
    async with BusSchemaStore(b) as fresh:
        stored = {r.schema: r.schema_id for r in (await fresh.load()).records}
    assert {json.loads(s)["name"]: i for s, i in stored.items()} == {
        json.loads(s)["name"]: i for s, i in ids.items()
    }


async def test_bus_failures_are_registry_unavailable() -> None:
    async with bus.connect("memory://") as b, BusSchemaStore(b) as store:
        await b.close()
        with pytest.raises(RegistryUnavailableError, match="failed to read"):
            await store.load()


async def test_a_store_must_be_entered(b: Bus) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await BusSchemaStore(b).load()


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(bus=url, data_dir=data_dir)


async def test_registry_for_memory_and_sqlite(tmp_path: Path) -> None:
    async with bus.connect("memory://") as b, registry_for(settings_for(b.url, tmp_path), b) as r:
        assert isinstance(r._store, MemorySchemaStore)
    data_dir = tmp_path / "data"
    url = f"sqlite:///{tmp_path}/bus.db"
    async with bus.connect(url) as b:
        async with registry_for(settings_for(url, data_dir), b) as registry:
            assert isinstance(registry._store, SqliteSchemaStore)
            schema_id = await registry.register("s", A)
        async with registry_for(settings_for(url, data_dir), b) as again:
            assert (await again.get_version("s")).schema_id == schema_id
    assert (data_dir / "registry.db").exists()


async def test_registry_for_refuses_an_unknown_bus(tmp_path: Path) -> None:
    class Elsewhere:
        url = "zmq://somewhere"

    with pytest.raises(ConfigError, match="no built-in schema registry"):
        async with registry_for(settings_for("memory://", tmp_path), cast(Bus, Elsewhere())):
            pass
