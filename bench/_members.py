"""Coordinators in processes of their own, for the benchmarks that need a real layout.

`members(bootstrap, run, n)` starts `n` processes of `python -m bench._members BOOTSTRAP
RUN`, each one member of the coordinator group running the benchmarks' sequential
pipeline on Kafka, and is entered once they hold every partition between them (each
prints its partitions when they change). `cpu_seconds(pid)` reads a process's CPU time.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc

import bus
from bench.coordinator import PRODUCER, sequential_catalog
from caseyard.schema_store import BusSchemaStore
from coordinator import Coordinator
from schemas import AvroCodec, Registry
from schemas.topology import CASE_PARTITIONS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def serve_coordinator(bootstrap: str, run: str) -> None:
    """Run one coordinator member until SIGTERM, printing its partitions when they change."""
    async with (
        bus.connect(f"kafka://{bootstrap}", session_timeout_ms=6000) as b,
        BusSchemaStore(b) as store,
    ):
        coordinator = Coordinator(
            bus=b,
            codec=AvroCodec(Registry(store)),
            catalog=sequential_catalog(),
            producer=PRODUCER,
            instance=f"bench-scale-{run}",
        )
        stop = anyio.Event()

        async def report() -> None:
            shown: list[int] | None = None
            while not stop.is_set():
                loaded = sorted(coordinator.loaded())
                if loaded != shown:
                    sys.stdout.write(json.dumps({"partitions": loaded}) + "\n")
                    sys.stdout.flush()
                    shown = loaded
                await anyio.sleep(0.05)

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    stop.set()
                    return

        async with anyio.create_task_group() as tg:
            tg.start_soon(on_signal)
            tg.start_soon(report)
            await coordinator.run(stop)
            tg.cancel_scope.cancel()


class Member:
    """A coordinator process and the partitions it last said it holds."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self.partitions: list[int] = []

    async def follow(self) -> None:
        assert self.process.stdout is not None
        buffered = b""
        async for chunk in self.process.stdout:
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                if line.startswith(b"{"):
                    self.partitions = json.loads(line)["partitions"]


@asynccontextmanager
async def members(bootstrap: str, run: str, n: int) -> AsyncIterator[list[Member]]:
    """`n` coordinator processes, entered once they hold every partition between them."""
    async with AsyncExitStack() as stack:
        tg = await stack.enter_async_context(anyio.create_task_group())
        started: list[Member] = []
        for _ in range(n):
            process = await stack.enter_async_context(
                await anyio.open_process(
                    [sys.executable, "-m", "bench._members", bootstrap, run],
                    stderr=None,
                )
            )
            member = Member(process)
            started.append(member)
            tg.start_soon(member.follow)
        try:
            with anyio.fail_after(120):
                while sorted(p for m in started for p in m.partitions) != list(  # noqa: ASYNC110
                    range(CASE_PARTITIONS)
                ) or any(not m.partitions for m in started):
                    await anyio.sleep(0.05)
            yield started
        finally:
            for member in started:
                if member.process.returncode is None:
                    member.process.terminate()
            with anyio.move_on_after(30):
                for member in started:
                    await member.process.wait()
            for member in started:
                if member.process.returncode is None:
                    member.process.kill()
            tg.cancel_scope.cancel()


if __name__ == "__main__":
    anyio.run(serve_coordinator, sys.argv[1], sys.argv[2])
