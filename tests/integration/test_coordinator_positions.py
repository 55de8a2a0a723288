"""Where a coordinator resumes its inputs: the positions its changelog holds, written in
the transaction that applied the records before them; the group's committed offsets are
only a lagging copy for lag tools. On SQLite and on real Kafka."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import bus
from bus import Message, TopicPartition, partition_for
from coordinator import Coordinator
from coordinator._service import INPUTS, POSITIONS
from schemas import CaseCompleted
from schemas.topology import CASE_PARTITIONS, INTAKE, RESULTS, STATE
from tests.helpers import eventually
from tests.integration.coordinator_harness import TWO_STEPS, harness

pytestmark = pytest.mark.anyio


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
        async with b.consumer(Coordinator.group, list(INPUTS)) as c:

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
        coordinator = h.coordinator
        assert coordinator is not None
        assert coordinator.stats.ignored == 0, coordinator.stats
        assert coordinator.stats.dead_lettered == 0, coordinator.stats


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
