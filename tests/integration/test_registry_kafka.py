"""The built-in registry on real Kafka: durable in its topic, safe with concurrent writers."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

import bus
from bus import Bus, TopicPartition
from caseyard.commands.registry import serve_registry
from caseyard.commands.schemas import topology_subjects
from caseyard.schema_store import BusSchemaStore
from caseyard.settings import Settings
from schemas import (
    AvroCodec,
    CompatibilityLevel,
    Registry,
    RegistryClient,
    create_registry_app,
    schema_text,
)
from schemas.testing import example_events
from tests.contract.event_contract import topology_topic
from tests.helpers import drain

pytestmark = [pytest.mark.kafka, pytest.mark.anyio]


def record_schema(name: str) -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": "a", "type": "long"}]})


@pytest.fixture
def url(kafka_bootstrap: str) -> str:
    return f"kafka://{kafka_bootstrap}"


@pytest.fixture
def topic() -> str:
    return f"_schemas-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def b(url: str) -> AsyncIterator[Bus]:
    async with bus.connect(url, connect_timeout=20) as b:
        yield b


async def test_schemas_registered_over_rest_survive_in_the_topic(
    url: str, b: Bus, topic: str
) -> None:
    subjects = topology_subjects()
    async with BusSchemaStore(b, topic) as store:
        transport = httpx.ASGITransport(app=create_registry_app(Registry(store)))
        async with RegistryClient("http://registry", transport=transport) as client:
            ids = {s: await client.register(s, schema_text(m)) for s, m in subjects}
            await client.set_compatibility(CompatibilityLevel.FULL)
            await client.set_compatibility("NONE", subjects[0][0])
            codec = AvroCodec(client)
            frames = [await codec.encode(e, topology_topic(e).name) for e in example_events()]

    # A new registry process: another connection, another store on the same topic.
    async with bus.connect(url, connect_timeout=20) as other, BusSchemaStore(other, topic) as again:
        fresh = Registry(again)
        assert await fresh.subjects() == sorted(ids)
        for subject, schema_id in ids.items():
            registered = await fresh.get_version(subject)
            assert (registered.version, registered.schema_id) == (1, schema_id)
        assert await fresh.get_compatibility() is CompatibilityLevel.FULL
        assert await fresh.get_compatibility(subjects[0][0]) is CompatibilityLevel.NONE
        # The same schema under four task topics has one id, as in Confluent's registry.
        task_ids = {i for s, i in ids.items() if s.endswith("caseyard.TaskRequested")}
        assert len(task_ids) == 1
        decoder = AvroCodec(fresh)
        assert [await decoder.decode(f) for f in frames] == example_events()

    # The records are Confluent's: one JSON key and value per subject version.
    async with b.consumer(f"g-{uuid.uuid4().hex[:10]}", [topic]) as consumer:
        end = (await b.end_offsets([TopicPartition(topic, 0)]))[TopicPartition(topic, 0)]
        records = await drain(consumer, end)
    keys = [json.loads(r.key or b"") for r in records]
    schema_keys = [k for k in keys if k["keytype"] == "SCHEMA"]
    assert sorted(k["subject"] for k in schema_keys) == sorted(ids)
    assert all(k["magic"] == 1 and k["version"] == 1 for k in schema_keys)
    assert {"keytype": "CONFIG", "subject": None, "magic": 0} in keys


async def test_concurrent_registries_never_give_one_id_to_two_schemas(
    url: str, b: Bus, topic: str
) -> None:
    names = [f"R{i}" for i in range(12)]
    async with (
        bus.connect(url, connect_timeout=20) as other,
        BusSchemaStore(b, topic) as one,
        BusSchemaStore(other, topic) as two,
    ):
        registries = [Registry(one), Registry(two)]
        ids: dict[str, int] = {}

        async def register(i: int) -> None:
            # Both registries start from the same empty view, so they race for ids.
            ids[names[i]] = await registries[i % 2].register(
                f"s-{names[i]}", record_schema(names[i])
            )

        async with anyio.create_task_group() as tg:
            for i in range(len(names)):
                tg.start_soon(register, i)
        assert len(set(ids.values())) == len(names)
        for registry in registries:
            for name, schema_id in ids.items():
                assert json.loads(await registry.schema_by_id(schema_id))["name"] == name

    async with BusSchemaStore(b, topic) as fresh:
        stored = (await fresh.load()).records
    assert {json.loads(r.schema)["name"]: r.schema_id for r in stored} == ids
    assert len(stored) == len(names)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_registry_over_http_and_stop_on_cancel(url: str, tmp_path: Path) -> None:
    settings = Settings(bus=url, data_dir=tmp_path)
    port = free_port()
    subject = f"it-{uuid.uuid4().hex[:10]}"
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: serve_registry(settings, "127.0.0.1", port, handle_signals=False))
        async with RegistryClient(f"http://127.0.0.1:{port}", timeout=5) as client:
            with anyio.fail_after(30):
                while True:
                    try:
                        schema_id = await client.register(subject, record_schema("Served"))
                        break
                    except Exception:  # not listening yet
                        await anyio.sleep(0.1)
            assert (await client.get_version(subject)).schema_id == schema_id
        tg.cancel_scope.cancel()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
