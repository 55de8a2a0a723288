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
import os
import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table

import bus
from bench._members import cpu_seconds, members
from bench._report import run_info, save
from bench.coordinator import instant_agents
from bench.peers import SUBMIT_BATCH, Chain, observing, saga_on, saga_world

TARGET_EFFICIENCY = 0.85
"""Two processes' cases per coordinator CPU-second, as a share of one process's."""
LAYOUTS = (1, 2)


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
        for start in range(0, cases, SUBMIT_BATCH):
            await chain.submit(keys[start : start + SUBMIT_BATCH])
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
    args = parser.parse_args()
    bootstrap = os.environ.get("CASEYARD_BENCH_KAFKA")
    console = Console()
    if not bootstrap:
        console.print("CASEYARD_BENCH_KAFKA is not set: the scale-out benchmark needs Kafka")
        raise SystemExit(2)
    out = run_info(args=vars(args), kafka=bootstrap)
    rows: list[dict[str, Any]] = []
    async with saga_world(bootstrap) as (b, codec):
        chain = await saga_on(b, codec)
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
