"""Graceful shutdown of an agent process: readiness, SIGTERM mid-stream, then a restart.

`caseyard run language` (as an operator starts it) consumes 60 submitted cases; it gets
SIGTERM while working, stops fetching, finishes and commits what it holds, exits 0; a new
process finishes the rest. Every case is detected exactly once: nothing lost, nothing
done twice.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest

import bus
from agents.language import TOPIC, LanguageDetected
from bus import TopicPartition
from caseyard.errors import UnknownTopic
from caseyard.schema_store import REGISTRY_DB
from caseyard.wiring import ensure_topology
from schemas import (
    EVENT_TYPES,
    AvroCodec,
    BlobStore,
    CaseSubmitted,
    Producer,
    Registry,
    SqliteSchemaStore,
)
from schemas.topology import CASE_PARTITIONS, INTAKE
from tests.helpers import eventually

pytestmark = pytest.mark.anyio

CASES = 60
TEXT = b"Sehr geehrte Damen und Herren, bitte zahlen Sie die Rechnung, die wir senden."


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(procs: list[subprocess.Popen[str]], env: dict[str, str]) -> subprocess.Popen[str]:
    caseyard = Path(sys.executable).parent / "caseyard"
    proc = subprocess.Popen(
        [str(caseyard), "run", "language"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    procs.append(proc)
    return proc


async def detected(url: str, codec: AvroCodec) -> Counter[str]:
    """How many LanguageDetected events each case has."""
    tps = [TopicPartition(TOPIC, p) for p in range(CASE_PARTITIONS)]
    counts: Counter[str] = Counter()
    async with bus.connect(url) as b:
        try:
            async for batch in bus.read_to_end(b, tps):
                for record in batch:
                    event = await codec.decode(record.value)
                    assert isinstance(event, LanguageDetected)
                    counts[event.case_id] += 1
        except UnknownTopic:  # the agent has not created its topic yet
            pass
    return counts


async def test_sigterm_finishes_the_batch_and_a_restart_does_the_rest(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    data = tmp_path / "data"
    data.mkdir()
    env = {**os.environ, "CASEYARD_BUS": url, "CASEYARD_DATA_DIR": str(data)}
    # The same registry file the processes use, so both sides agree on schema ids.
    codec = AvroCodec(
        Registry(SqliteSchemaStore(data / REGISTRY_DB)), events=[*EVENT_TYPES, LanguageDetected]
    )
    blobs = BlobStore(data / "blobs")
    producer = Producer(service="test", version="1")
    async with bus.connect(url) as b:
        await ensure_topology(b)
        for n in range(CASES):
            case = f"case-{n:03d}"
            event = CaseSubmitted(
                case_id=case,
                correlation_id=case,
                occurred_at=datetime.now(UTC),
                producer=producer,
                source="test",
                document=blobs.put(TEXT + str(n).encode(), "text/plain"),
            )
            await b.publish(INTAKE.name, await codec.encode(event, INTAKE.name), key=case.encode())

    port = free_port()
    first = start(procs, {**env, "CASEYARD_HEALTH_PORT": str(port)})

    async def ready() -> None:
        async with httpx.AsyncClient() as client:
            try:
                answer = await client.get(f"http://127.0.0.1:{port}/readyz")
            except httpx.TransportError as exc:
                raise AssertionError(f"not serving yet: {exc}") from exc
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ready": True, "quarantined_cases": {}}

    await eventually(ready, timeout=60)

    async def some_done() -> None:
        assert sum((await detected(url, codec)).values()) >= 5

    await eventually(some_done, timeout=60)
    first.send_signal(signal.SIGTERM)
    output, _ = await anyio.to_thread.run_sync(first.communicate)
    assert first.returncode == 0, output
    assert "language stopped" in output

    start(procs, env)

    async def all_done() -> Counter[str]:
        counts = await detected(url, codec)
        assert len(counts) == CASES, f"{len(counts)} of {CASES}"
        return counts

    counts = await eventually(all_done, timeout=90)
    assert set(counts.values()) == {1}, counts.most_common(3)
