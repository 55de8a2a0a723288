"""A coordinator process that stops dead before a commit (for the kill test).

    python -m tests.fault.stalling_coordinator BOOTSTRAP PIPELINES_DIR LOG

It runs the real `Coordinator` on Kafka; the bus under it lets every transaction through,
but the STALL_AT-th transaction that spans several partitions never commits: its
records, states, positions and the group offsets are sent, then it hangs (as a process
does whose next instruction is the commit when it is killed), after writing "stalled" to
LOG. The test then kills this process with SIGKILL.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio

import bus
from caseyard.schema_store import BusSchemaStore
from caseyard.wiring import ensure_topology
from coordinator import Coordinator, PipelineCatalog
from schemas import AvroCodec, Producer, Registry
from schemas.topology import STATE

STALL_AT = 3
PARTITIONS = 2
"""The STALL_AT-th transaction writing the changelogs of at least PARTITIONS partitions
stalls."""


class Watched:
    """A transaction that remembers which changelog partitions it wrote."""

    def __init__(self, tx: bus.Transaction) -> None:
        self._tx = tx
        self.partitions: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def publish(self, topic: str, value: bytes, **kwargs: Any) -> None:
        await self.publish_batch([bus.Message(topic, value, **kwargs)])

    async def publish_batch(self, messages: Sequence[bus.Message]) -> None:
        self.partitions |= {
            m.partition for m in messages if m.topic == STATE.name and m.partition is not None
        }
        await self._tx.publish_batch(messages)


class StallingBus:
    """Delegates to a real bus; its `begin` stalls one transaction before its commit."""

    def __init__(self, real: bus.Bus, log: Path) -> None:
        self._real = real
        self._log = log
        self._spanning = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @asynccontextmanager
    async def _transaction(self, transactional_id: str | None) -> AsyncIterator[Watched]:
        async with self._real.begin(transactional_id=transactional_id) as tx:
            watched = Watched(tx)
            yield watched
            if len(watched.partitions) >= PARTITIONS:
                self._spanning += 1
                if self._spanning == STALL_AT:
                    with self._log.open("a") as out:
                        out.write(f"stalled {sorted(watched.partitions)}\n")
                    await anyio.sleep_forever()

    def begin(self, *, transactional_id: str | None = None) -> Any:
        return self._transaction(transactional_id)


async def main(bootstrap: str, pipelines: str, log: str) -> None:
    async with bus.connect(f"kafka://{bootstrap}", session_timeout_ms=6000) as real:
        await ensure_topology(real)
        async with BusSchemaStore(real) as store:
            stalling = StallingBus(real, Path(log))
            coordinator = Coordinator(
                bus=cast(bus.Bus, stalling),
                codec=AvroCodec(Registry(store)),
                catalog=PipelineCatalog.load(pipelines),
                producer=Producer(service="coordinator", version="test"),
            )
            await coordinator.run(anyio.Event())


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
