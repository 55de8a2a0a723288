"""A coordinator process that stops dead before one partition's commit (for the kill test).

    python -m tests.fault.stalling_coordinator BOOTSTRAP PIPELINES_DIR LOG

It runs the real `Coordinator` on Kafka; the bus under it lets every transaction through,
but the third transaction of partition 0 never commits: its records, states and offsets
are sent, then it hangs (as a process does whose next instruction is the commit when it
is killed). Every later commit of another partition is written to LOG as it happens, so
the test knows those partitions committed after partition 0 stalled; then it kills this
process with SIGKILL.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio

import bus
from caseyard.schema_store import BusSchemaStore
from caseyard.wiring import ensure_topology
from coordinator import Coordinator, PipelineCatalog
from schemas import AvroCodec, Producer, Registry

VICTIM = "-p0"
STALL_AT = 3


class StallingBus:
    """Delegates to a real bus; its `begin` stalls the victim's STALL_AT-th commit."""

    def __init__(self, real: bus.Bus, log: Path) -> None:
        self._real = real
        self._log = log
        self._victim_commits = 0
        self.stalled = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @asynccontextmanager
    async def _transaction(self, transactional_id: str) -> AsyncIterator[bus.Transaction]:
        async with self._real.begin(transactional_id=transactional_id) as tx:
            yield tx
            if transactional_id.endswith(VICTIM):
                self._victim_commits += 1
                if self._victim_commits == STALL_AT:
                    self.stalled = True
                    self._write("stalled")
                    await anyio.sleep_forever()
            elif self.stalled:
                self._write(f"committing {transactional_id}")

    def begin(self, *, transactional_id: str | None = None) -> Any:
        assert transactional_id is not None
        return self._transaction(transactional_id)

    def _write(self, line: str) -> None:
        with self._log.open("a") as out:
            out.write(line + "\n")


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
