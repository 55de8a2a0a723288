"""Cases submitted by producers that are not caseyard's run to their end (issue 12).

caseyard owns a case by the murmur2 partition of its id (the Java client's default). A
producer that partitions otherwise (librdkafka's default, CRC32), that writes no key, or
that picks a partition itself puts the submission on another partition: the coordinator
member there sends it on, unchanged and in the same transaction as its offset, to the
case's own partition. On Kafka the other side is the real confluent-kafka (librdkafka)
producer at its defaults; on the embedded bus, records written straight to a partition.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

import bus
from bus import partition_for
from schemas import CaseCompleted
from schemas.topology import CASE_PARTITIONS, INTAKE
from tests.integration.coordinator_harness import TWO_STEPS, Harness, harness, submission

pytestmark = pytest.mark.anyio


def elsewhere(case_id: str) -> int:
    """A partition that is not the case's own."""
    return (partition_for(case_id.encode(), CASE_PARTITIONS, 0) + 1) % CASE_PARTITIONS


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "seq.yaml").write_text(TWO_STEPS)
    return tmp_path / "pipelines"


async def completed(h: Harness, cases: list[str]) -> None:
    with anyio.fail_after(90):
        for case in cases:
            await h.wait_for(case, CaseCompleted, timeout=90)
    assert not [d for d in await h.dead_letters() if any(c in d for c in cases)]


@pytest.mark.kafka
async def test_librdkafka_at_its_defaults_with_and_without_keys(
    kafka_bootstrap: str, pipelines: Path
) -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    run = uuid.uuid4().hex[:8]
    keyed = [f"crc-{run}-{n}" for n in range(8)]
    unkeyed = [f"nokey-{run}-{n}" for n in range(4)]
    async with harness(f"kafka://{kafka_bootstrap}", pipelines) as h:
        assert h.coordinator is not None
        # librdkafka's default partitioner is consistent_random: CRC32 of the key.
        producer = confluent_kafka.Producer({"bootstrap.servers": kafka_bootstrap})
        landed: dict[str, int] = {}
        for case in [*keyed, *unkeyed]:
            value = await h.codec.encode(submission(case, "seq", source="upstream"), INTAKE.name)

            def delivered(error: object, message: Any, case: str = case) -> None:
                assert error is None, error
                landed[case] = message.partition()

            key = case.encode() if case in keyed else None
            producer.produce(INTAKE.name, value, key=key, on_delivery=delivered)
        assert await anyio.to_thread.run_sync(producer.flush, 30) == 0
        # CRC32 and murmur2 disagree for most keys: the run does exercise the forwarding.
        elsewhere = [
            c for c in landed if landed[c] != partition_for(c.encode(), CASE_PARTITIONS, 0)
        ]
        assert len(elsewhere) >= 2, landed
        await completed(h, [*keyed, *unkeyed])


async def test_records_on_another_partition_are_sent_on(tmp_path: Path, pipelines: Path) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    cases = [f"wrong-{n}" for n in range(4)]
    async with harness(url, pipelines) as h:
        assert h.coordinator is not None
        async with bus.connect(url) as upstream:
            for n, case in enumerate(cases):
                await upstream.publish(
                    INTAKE.name,
                    await h.codec.encode(submission(case, "seq", source="upstream"), INTAKE.name),
                    key=case.encode() if n % 2 else None,
                    partition=elsewhere(case),
                )
        await completed(h, cases)
        assert h.coordinator.stats.forwarded == len(cases)
