"""Fault injection on a real 3-broker Kafka cluster: kill one broker with SIGKILL mid-run;
producing (acks=all), transactions and consuming carry on, and nothing is lost."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import bus
from bus import Message, TopicSpec
from tests.helpers import drain

KAFKA = Path(__file__).resolve().parents[2] / "scripts" / "kafka"

pytestmark = [pytest.mark.kafka, pytest.mark.anyio]


@pytest.fixture(scope="module")
def cluster(kafka_bootstrap: str) -> Iterator[str]:
    """A 3-broker cluster beside the single broker (only when that broker is in use)."""
    subprocess.run([str(KAFKA), "up", "--brokers", "3"], check=True, capture_output=True)
    try:
        out = subprocess.run(
            [str(KAFKA), "bootstrap", "--brokers", "3"], check=True, capture_output=True, text=True
        )
        yield out.stdout.strip()
    finally:
        subprocess.run([str(KAFKA), "down", "--brokers", "3"], check=True, capture_output=True)


async def test_cluster_survives_a_killed_broker(cluster: str) -> None:
    async with bus.connect(f"kafka://{cluster}", connect_timeout=60, session_timeout_ms=6000) as b:
        await b.ensure_topics([TopicSpec("orders", partitions=3), TopicSpec("out", partitions=3)])
        keys = [f"case-{i}".encode() for i in range(10)]
        await b.publish_batch(
            [Message("orders", f"{i}".encode(), key=keys[i % 10]) for i in range(100)]
        )

        await anyio.run_process([str(KAFKA), "kill-node", "2"])

        await b.publish_batch(
            [Message("orders", f"{i}".encode(), key=keys[i % 10]) for i in range(100, 200)]
        )
        async with b.consumer("g", ["orders"]) as c:
            records = await drain(c, 200, timeout=90)
            async with b.begin() as tx:
                await tx.publish_batch([Message("out", r.value, key=r.key) for r in records])
                await tx.send_offsets(c)

        await anyio.run_process([str(KAFKA), "start-node", "2"])

        per_key: dict[bytes, list[int]] = {}
        for r in records:
            assert r.key is not None
            per_key.setdefault(r.key, []).append(int(r.value))
        assert per_key == {k: list(range(n, 200, 10)) for n, k in enumerate(keys)}
        async with b.consumer("reader", ["out"]) as reader:
            assert len(await drain(reader, 200, timeout=60)) == 200
