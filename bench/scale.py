"""Scale-out (issue 10): does a second coordinator process add throughput, not remove it?

The saga of `bench.peers` (a 4-step sequential pipeline, four instant agents, ~1 KB
records, 6 partitions) with its coordinator in processes of their own: first one, then
two members of the coordinator group sharing the partitions. This process runs the four
agents, submits the cases and watches them end; each coordinator process says which
partitions it holds, and the cases are submitted once the members hold all six between
them. Per round and layout: a warm-up, then CASES cases at once, timed until the last
one completed; the coordinator processes' CPU time over that window comes from
/proc/<pid>/stat. The figure of merit is cases per coordinator CPU-second (target: two
processes within 15% of one); cases/s is beside it. Rounds alternate the layouts; the
table shows medians.

    CASEYARD_BENCH_KAFKA=127.0.0.1:19092 python -m bench.scale [--rounds 3] [--cases N]

Prints a table and writes bench/results/scale.json. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from rich.console import Console
from rich.table import Table

import bus
from bench._report import run_info, save
from bench.coordinator import PRODUCER, instant_agents, sequential_catalog
from bench.peers import Chain, completed_check, observing, saga_submit
from caseyard.schema_store import BusSchemaStore
from caseyard.wiring import ensure_topology
from coordinator import Coordinator
from schemas import AvroCodec, Registry
from schemas.topology import CASE_EVENTS, CASE_PARTITIONS

TARGET_EFFICIENCY = 0.85
"""Two processes' cases per coordinator CPU-second, as a share of one process's."""
LAYOUTS = (1, 2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- a coordinator process ----------------------------------------------------------------


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
                    [sys.executable, "-m", "bench.scale", "--serve", bootstrap, run],
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


# -- the measurement ------------------------------------------------------------------------


async def measure(
    b: bus.Bus, chain: Chain, bootstrap: str, layout: int, cases: int, round_: int
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    async with members(bootstrap, run, layout) as running, observing(b, chain) as observer:
        warm = [f"scale-{run}-w{i}" for i in range(100)]
        await chain.submit(warm)
        await observer.wait(warm, 120)
        keys = [f"scale-{run}-{i}" for i in range(cases)]
        pids = [m.process.pid for m in running]
        cpu = [cpu_seconds(pid) for pid in pids]
        began = time.perf_counter()
        for start in range(0, cases, 500):
            await chain.submit(keys[start : start + 500])
        await observer.wait(keys, 300)
        seconds = time.perf_counter() - began
        spent = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu, strict=True)]
        split = [len(m.partitions) for m in running]
    coordinator_cpu = sum(spent)
    return {
        "layout": layout,
        "round": round_,
        "cases": cases,
        "seconds": seconds,
        "cases_s": cases / seconds,
        "coordinator_cpu_s": coordinator_cpu,
        "cpu_by_process": spent,
        "partitions_by_process": split,
        "cases_per_coordinator_cpu_s": cases / coordinator_cpu,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--serve", nargs=2, metavar=("BOOTSTRAP", "RUN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        await serve_coordinator(*args.serve)
        return
    bootstrap = os.environ.get("CASEYARD_BENCH_KAFKA")
    console = Console()
    if not bootstrap:
        console.print("CASEYARD_BENCH_KAFKA is not set: the scale-out benchmark needs Kafka")
        raise SystemExit(2)
    out = run_info(args=vars(args), kafka=bootstrap)
    rows: list[dict[str, Any]] = []
    async with (
        bus.connect(f"kafka://{bootstrap}", session_timeout_ms=6000) as b,
        BusSchemaStore(b) as store,
    ):
        await ensure_topology(b)
        codec = AvroCodec(Registry(store))
        chain = Chain(await saga_submit(b, codec), CASE_EVENTS.name, await completed_check(codec))
        async with instant_agents(b, codec):
            for round_ in range(1, args.rounds + 1):
                for layout in LAYOUTS:
                    console.print(f"round {round_}: {layout} coordinator process(es)")
                    rows.append(await measure(b, chain, bootstrap, layout, args.cases, round_))
    out["rounds"] = rows
    out["summary"] = summary(rows)
    report(console, out["summary"])
    save(out, "scale", console)


def summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    by_layout: list[dict[str, Any]] = []
    for layout in LAYOUTS:
        mine = [r for r in rows if r["layout"] == layout]
        by_layout.append(
            {
                "layout": layout,
                "cases_s": statistics.median(r["cases_s"] for r in mine),
                "cases_per_coordinator_cpu_s": statistics.median(
                    r["cases_per_coordinator_cpu_s"] for r in mine
                ),
                "each_round": [round(r["cases_per_coordinator_cpu_s"]) for r in mine],
            }
        )
    one = by_layout[0]["cases_per_coordinator_cpu_s"]
    for entry in by_layout:
        entry["efficiency"] = entry["cases_per_coordinator_cpu_s"] / one
    return by_layout


def report(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    table = Table(
        "coordinator processes",
        "cases/s",
        "cases per coordinator CPU-s (rounds)",
        "vs one",
        "target",
        title="scale-out (median of rounds)",
    )
    for r in rows:
        target = "" if r["layout"] == 1 else f">= {TARGET_EFFICIENCY:.2f}x"
        verdict = (
            ""
            if r["layout"] == 1
            else ("met" if r["efficiency"] >= TARGET_EFFICIENCY else "missed")
        )
        table.add_row(
            str(r["layout"]),
            f"{r['cases_s']:,.0f}",
            f"{r['cases_per_coordinator_cpu_s']:,.0f} ({' / '.join(map(str, r['each_round']))})",
            f"{r['efficiency']:.2f}x",
            f"{target} {verdict}".strip(),
        )
    console.print(table)


if __name__ == "__main__":
    anyio.run(main)
