"""A corrupt saga state record quarantines its case, never its partition (SQLite and Kafka).

What happens to each kind of bad state record: undecodable bytes or a value that is not a
valid state -> the case is quarantined (`Coordinator.quarantined()`, a metric, an error
log line); its inputs go to the dead-letter topic saying so, to be redriven once a good
state record or a tombstone replaces the bad one; every other case of the partition
moves on. (Misplaced and undecodable inputs: see test_coordinator_flows.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bus
from bus import Message, partition_for
from caseyard.wiring import ensure_topology
from schemas import CaseCompleted, Producer, TaskFailed
from schemas.topology import CASE_PARTITIONS, RESULTS, STATE
from tests.helpers import eventually
from tests.integration.coordinator_harness import TWO_STEPS, harness

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", pytest.param("kafka", marks=pytest.mark.kafka)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/bus.db"
    else:
        yield f"kafka://{request.getfixturevalue('kafka_bootstrap')}"


def same_partition(case_id: str, tag: str) -> str:
    """A new case id on the partition of `case_id`."""
    want = partition_for(case_id.encode(), CASE_PARTITIONS, 0)
    n = 0
    while partition_for(f"{tag}-{n}".encode(), CASE_PARTITIONS, 0) != want:
        n += 1
    return f"{tag}-{n}"


async def test_a_corrupt_state_record_quarantines_its_case_not_the_partition(
    url: str, tmp_path: Path
) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "seq.yaml").write_text(TWO_STEPS)
    run = uuid.uuid4().hex[:8]
    bad = f"bad-{run}"
    p = partition_for(bad.encode(), CASE_PARTITIONS, 0)
    async with bus.connect(url) as b:
        await ensure_topology(b)
        await b.publish(STATE.name, b"\xff{not a state", key=bad.encode(), partition=p)
    try:
        async with harness(url, tmp_path / "pipelines") as h:
            assert h.coordinator is not None
            late = TaskFailed(
                case_id=bad,
                correlation_id=bad,
                occurred_at=datetime.now(UTC),
                producer=Producer(service="test", version="1"),
                task_id=f"{bad}/classify/1/1",
                capability="classify",
                attempt=1,
                error_class="E",
                message="m",
                retryable=False,
            )
            await h.bus.publish(
                RESULTS.name, await h.codec.encode(late, RESULTS.name), key=bad.encode()
            )
            good = await h.submit("seq", case_id=same_partition(bad, f"good-{run}"))
            await h.wait_for(good, CaseCompleted)
            assert set(h.coordinator.quarantined()) == {bad}
            assert "is corrupt" in h.coordinator.quarantined()[bad]

            async def dead_lettered() -> None:
                reasons = await h.dead_letters()
                assert any(
                    r.startswith(f"coordinator: case '{bad}' is quarantined: its state record")
                    for r in reasons
                ), reasons

            await eventually(dead_lettered, timeout=30)
    finally:
        # The topics of a Kafka broker outlive the test: leave no bad state behind.
        async with bus.connect(url) as b:
            await b.publish_batch([Message(STATE.name, b"", key=bad.encode(), partition=p)])
