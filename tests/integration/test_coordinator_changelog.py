"""What a coordinator's changelog keeps of a finished case: a tombstone, which compaction
deletes with the case's earlier states (an empty value, as earlier versions wrote, would
be kept forever and read at every restore). On SQLite and on real Kafka, whose changelog
topic is created so that compaction gets to it."""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTP
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

import bus
from bus import Cleanup, partition_for
from caseyard.wiring import topic_spec
from schemas import CaseCompleted
from schemas.topology import CASE_PARTITIONS, STATE
from tests.integration.coordinator_harness import TWO_STEPS, harness

pytestmark = pytest.mark.anyio


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "seq.yaml").write_text(TWO_STEPS)
    return tmp_path / "pipelines"


async def test_a_finished_case_leaves_a_tombstone_in_the_kafka_changelog(
    kafka_bootstrap: str, pipelines: Path
) -> None:
    case_id = f"case-{uuid.uuid4().hex[:10]}"
    async with harness(f"kafka://{kafka_bootstrap}", pipelines) as h:
        await h.submit("seq", case_id)
        await h.wait_for(case_id, CaseCompleted)
    # Read with aiokafka itself: the bus reads a tombstone as b"", Kafka holds a null.
    tp = KafkaTP(STATE.name, partition_for(case_id.encode(), CASE_PARTITIONS, 0))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        values = []
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                values += [r.value for r in records if r.key == case_id.encode()]
    finally:
        await consumer.stop()
    assert len(values) >= 2
    assert all(v for v in values[:-1])  # the states while it ran
    assert values[-1] is None  # then a tombstone


async def test_the_kafka_changelog_topic_is_created_for_compaction(kafka_bootstrap: str) -> None:
    """Created as the topology says (checked on a topic of its own: the changelog of a
    broker that ran earlier versions keeps the configs it was created with)."""
    spec = topic_spec(STATE)
    assert spec.cleanup is Cleanup.COMPACT
    assert spec.config == dict(STATE.config)
    topic = f"test.state.{uuid.uuid4().hex[:8]}"
    async with bus.connect(f"kafka://{kafka_bootstrap}") as b:
        await b.ensure_topics([dataclasses.replace(spec, name=topic)])
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
    finally:
        await admin.close()
    (resource,) = response.resources
    configs = {entry[0]: entry[1] for entry in resource[4]}
    assert configs["cleanup.policy"] == "compact"
    assert {name: configs[name] for name in spec.config} == {
        "segment.bytes": str(16 * 1024 * 1024),
        "segment.ms": "600000",
        "delete.retention.ms": "600000",
    }


async def test_a_finished_case_leaves_nothing_in_the_sqlite_changelog_once_compacted(
    tmp_path: Path, pipelines: Path
) -> None:
    case_id = f"case-{uuid.uuid4().hex[:10]}"
    async with harness(f"sqlite:///{tmp_path}/bus.db", pipelines) as h:
        await h.submit("seq", case_id)
        await h.wait_for(case_id, CaseCompleted)
    # The bus compacted its log as it closed: the tombstone alone is left of the case
    # (it goes after the topic's delete.retention.ms, ten minutes).
    with closing(sqlite3.connect(tmp_path / "bus.db")) as conn:
        rows = conn.execute(
            "SELECT value, tombstone FROM records WHERE topic=? AND key=?",
            (STATE.name, case_id.encode()),
        ).fetchall()
        (retention,) = conn.execute(
            "SELECT delete_retention_ms FROM topics WHERE name=?", (STATE.name,)
        ).fetchone()
    assert rows == [(b"", 1)]
    assert retention == 10 * 60 * 1000
