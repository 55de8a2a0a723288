"""How a coordinator restores the partitions it gains, on SQLite and on real Kafka.

- Where it resumes its inputs: the positions its changelog holds, written in the
  transaction that applied the records before them; the group's committed offsets are
  only a lagging copy for lag tools.
- What its changelog keeps of a finished case: a tombstone, which compaction deletes with
  the case's earlier states (an empty value, as earlier versions wrote, would be kept
  forever and read at every restore); on Kafka the topic is created so that compaction
  gets to it.
- A restore that outlasts the group's session timeout (a coordinator with a million open
  cases reads its changelog for tens of seconds) does not cost the member its place in
  the group. Kafka's clients send no heartbeat while an assignment callback runs (aiokafka
  starts them after it), and the embedded bus renews a member's lease only as it polls,
  so the coordinator restores outside the callback, the inputs of the partitions it
  restores paused meanwhile.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import anyio
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTP
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

import bus
from bus import Cleanup, Message, TopicPartition, partition_for
from caseyard.wiring import topic_spec
from coordinator import Coordinator
from coordinator._service import INPUTS, POSITIONS, _Restorer
from schemas import CaseCompleted
from schemas.topology import CASE_PARTITIONS, DEAD_LETTERS, INTAKE, RESULTS, STATE
from tests.helpers import eventually
from tests.integration.coordinator_harness import TWO_STEPS, harness

pytestmark = pytest.mark.anyio

SESSION_S = 6.0
"""The harness's session timeout."""


@pytest.fixture(params=["sqlite", "kafka"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    return f"sqlite:///{tmp_path}/bus.db"


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "seq.yaml").write_text(TWO_STEPS)
    return tmp_path / "pipelines"


def case_on(partition: int) -> str:
    """A new case id whose records land on `partition`."""
    while True:
        case = f"case-{uuid.uuid4().hex[:10]}"
        if partition_for(case.encode(), CASE_PARTITIONS, 0) == partition:
            return case


async def rewind_group(url: str, offsets: dict[TopicPartition, int]) -> None:
    """Set the coordinator group's committed offsets back to `offsets`, as a lagging copy
    would say."""
    async with bus.connect(url, session_timeout_ms=6000) as b:
        async with b.consumer(Coordinator.GROUP, list(INPUTS)) as c:

            async def assigned() -> None:
                await c.poll(timeout=0.2)
                assert c.assignment()

            await eventually(assigned, timeout=30)
            await c.commit(offsets)


async def test_a_restore_resumes_at_the_changelog_positions_not_the_group_offsets(
    url: str, pipelines: Path, tmp_path: Path
) -> None:
    registry = tmp_path / "registry.db"
    first = case_on(2)
    async with harness(url, pipelines, registry_db=registry) as h:
        before = await h.bus.end_offsets([TopicPartition(t, 2) for t in INPUTS])
        await h.submit("seq", first)
        await h.wait_for(first, CaseCompleted)
        coordinator = h.coordinator
        assert coordinator is not None
        applied = coordinator.stats.transitions
        ends = await h.bus.end_offsets([TopicPartition(t, 2) for t in (INTAKE.name, RESULTS.name)])
        positions = [
            r
            async for batch in bus.read_to_end(h.bus, [TopicPartition(STATE.name, 2)])
            for r in batch
            if r.key == POSITIONS
        ]
    # The latest positions record says where each input of partition 2 resumes.
    latest = json.loads(positions[-1].value)
    assert {tp.topic: latest[tp.topic] for tp in ends} == {tp.topic: e for tp, e in ends.items()}
    assert applied > 0

    # Whatever the group's copy says, nothing applied is applied again: a second case on
    # the same partition comes after the first's inputs, which would be read again (the
    # closed case opened again, its results dead-lettered) if the restore resumed from
    # the group's offsets.
    await rewind_group(url, before)
    second = case_on(2)
    async with harness(url, pipelines, registry_db=registry) as h:
        await h.submit("seq", second)
        await h.wait_for(second, CaseCompleted)
        # The first case's records only: on a shared broker the inputs may hold other
        # tests' leftovers, which this coordinator ignores or dead-letters.
        events = await h.events(first)
        letters = [r for r in await h.records(DEAD_LETTERS.name) if r.key == first.encode()]
    types = [e.event_type for e in events]
    assert types.count("CaseOpened") == 1 and types.count("CaseCompleted") == 1, types
    assert letters == []


async def test_a_corrupt_positions_record_falls_back_to_the_group_offsets(
    url: str, pipelines: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = tmp_path / "registry.db"
    first = case_on(3)
    async with harness(url, pipelines, registry_db=registry) as h:
        await h.submit("seq", first)
        await h.wait_for(first, CaseCompleted)
    async with bus.connect(url) as b:
        await b.publish_batch([Message(STATE.name, b"\xff not json", key=POSITIONS, partition=3)])
    second = case_on(3)
    async with harness(url, pipelines, registry_db=registry) as h:
        await h.submit("seq", second)
        await h.wait_for(second, CaseCompleted)
    assert "input positions" in caplog.text and "are corrupt" in caplog.text


# -- the changelog of finished cases ---------------------------------------------


async def a_finished_case(url: str, pipelines: Path) -> str:
    """The id of a case run to its end on `url`, the bus closed after."""
    case_id = f"case-{uuid.uuid4().hex[:10]}"
    async with harness(url, pipelines) as h:
        await h.submit("seq", case_id)
        await h.wait_for(case_id, CaseCompleted)
    return case_id


async def test_a_finished_case_leaves_a_tombstone_in_the_kafka_changelog(
    kafka_bootstrap: str, pipelines: Path
) -> None:
    case_id = await a_finished_case(f"kafka://{kafka_bootstrap}", pipelines)
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


async def topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    """The configs of `topic`, as Kafka's own admin API reports them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
    finally:
        await admin.close()
    (resource,) = response.resources
    return {entry[0]: entry[1] for entry in resource[4]}


async def test_the_kafka_changelog_topic_is_created_for_compaction(kafka_bootstrap: str) -> None:
    """Created as the topology says (checked on a topic of its own: the changelog of a
    broker that ran earlier versions keeps the configs it was created with)."""
    spec = topic_spec(STATE)
    assert spec.cleanup is Cleanup.COMPACT
    assert spec.config == dict(STATE.config)
    topic = f"test.state.{uuid.uuid4().hex[:8]}"
    async with bus.connect(f"kafka://{kafka_bootstrap}") as b:
        await b.ensure_topics([dataclasses.replace(spec, name=topic)])
    configs = await topic_configs(kafka_bootstrap, topic)
    assert configs["cleanup.policy"] == "compact"
    assert {name: configs[name] for name in spec.config} == {
        "segment.bytes": str(16 * 1024 * 1024),
        "segment.ms": "600000",
        "delete.retention.ms": "600000",
    }


async def test_an_earlier_kafka_changelog_is_aligned_and_keeps_its_operators_configs(
    kafka_bootstrap: str,
) -> None:
    """A changelog created before it had configs of its own (compacted, Kafka's 1 GiB /
    7-day segments) gets them from `align_topics` (`caseyard topics ensure`); a config an
    operator set on it stays (Kafka's AlterConfigs replaces a topic's whole set)."""
    topic = f"test.state.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        configs = {"cleanup.policy": "compact", "max.message.bytes": "2000000"}
        await admin.create_topics([NewTopic(topic, CASE_PARTITIONS, 1, topic_configs=configs)])
    finally:
        await admin.close()
    spec = dataclasses.replace(topic_spec(STATE), name=topic)
    async with bus.connect(f"kafka://{kafka_bootstrap}") as b:
        changes = await b.align_topics([spec])
        again = await b.align_topics([spec])
    assert {(c.name, c.old, c.new) for c in changes} == {
        ("segment.bytes", str(1024**3), str(16 * 1024 * 1024)),
        ("segment.ms", str(7 * 24 * 3600 * 1000), "600000"),
        ("delete.retention.ms", str(24 * 3600 * 1000), "600000"),
    }
    assert again == []
    configs = await topic_configs(kafka_bootstrap, topic)
    assert {name: configs[name] for name in spec.config} == spec.config
    assert configs["cleanup.policy"] == "compact"
    assert configs["max.message.bytes"] == "2000000"


async def test_a_finished_case_leaves_nothing_in_the_sqlite_changelog_once_compacted(
    tmp_path: Path, pipelines: Path
) -> None:
    case_id = await a_finished_case(f"sqlite:///{tmp_path}/bus.db", pipelines)
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


# -- a long restore --------------------------------------------------------------


async def test_a_restore_longer_than_the_session_timeout_keeps_the_member(
    url: str, pipelines: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_restore = Coordinator._restore
    real_assigned = _Restorer.on_assigned
    slowed: list[int] = []
    assignments: list[frozenset[TopicPartition]] = []

    async def slow_restore(self: Coordinator, p: int) -> None:
        await real_restore(self, p)
        if not slowed:  # a fault: the first partition's read outlasts the session
            slowed.append(p)
            await anyio.sleep(SESSION_S * 1.5)

    async def counted(self: _Restorer, partitions: frozenset[TopicPartition]) -> None:
        assignments.append(partitions)
        await real_assigned(self, partitions)

    monkeypatch.setattr(Coordinator, "_restore", slow_restore)
    monkeypatch.setattr(_Restorer, "on_assigned", counted)
    case = f"case-{uuid.uuid4().hex[:10]}"
    async with harness(url, pipelines) as h:
        await h.submit("seq", case)
        await h.wait_for(case, CaseCompleted, timeout=90)
        coordinator = h.coordinator
        assert coordinator is not None
        stats = coordinator.stats
    assert slowed
    # One assignment: the group never dropped the member and assigned its partitions
    # again; nothing it applied was aborted; each partition restored once.
    assert len(assignments) == 1, assignments
    assert stats.aborted == 0, stats
    assert stats.transactions > 0, stats
