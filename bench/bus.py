"""Bus throughput: caseyard's Kafka bus vs raw aiokafka on the same broker, A/B per round.

Produce N records of SIZE bytes (in batches), then consume them in a fresh consumer group,
through caseyard and through aiokafka with the same settings (idempotent, acks=all,
read_committed, manual commit). Rounds alternate the order so neither side always runs on
a warmer broker. Also measures the embedded (SQLite) and memory buses.

    CASEYARD_BENCH_KAFKA=127.0.0.1:19092 python -m bench.bus [--records N] [--rounds R]

Prints a table and writes bench/results/bus.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import anyio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console
from rich.table import Table

import bus
from bus import Bus, Message, TopicSpec
from bus._kafka import KafkaBus
from caseyard import process

RESULTS = Path(__file__).parent / "results"
BATCH = 1000
PARTITIONS = 3


def touch(values: Iterable[bytes]) -> int:
    """What a minimal real consumer does on both sides: look at every record's value."""
    return sum(map(len, values))


def payload(size: int) -> bytes:
    return os.urandom(size)


async def caseyard_produce(b: Bus, topic: str, records: int, value: bytes) -> None:
    for start in range(0, records, BATCH):
        await b.publish_batch(
            [
                Message(topic, value, key=str(i).encode())
                for i in range(start, min(start + BATCH, records))
            ]
        )


async def caseyard_consume(b: Bus, topic: str, records: int) -> None:
    async with b.consumer(f"bench-{uuid.uuid4().hex}", [topic]) as consumer:
        seen = 0
        while seen < records:
            batch = await consumer.poll(timeout=1.0, max_records=500)
            seen += len(batch)
            touch(r.value for r in batch)
        await consumer.commit()


async def raw_produce(options: dict[str, Any], topic: str, records: int, value: bytes) -> None:
    producer = AIOKafkaProducer(**options)
    await producer.start()
    try:
        for start in range(0, records, BATCH):
            futures = [
                await producer.send(topic, value, key=str(i).encode())
                for i in range(start, min(start + BATCH, records))
            ]
            for future in futures:
                await future
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str, records: int) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen = 0
        while seen < records:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for batch in batches.values():
                seen += len(batch)
                touch(r.value for r in batch)
        await consumer.commit()
    finally:
        await consumer.stop()


async def timed(step: Callable[[], Awaitable[None]]) -> float:
    began = time.perf_counter()
    await step()
    return time.perf_counter() - began


async def kafka_round(
    bootstrap: str, records: int, value: bytes, caseyard_first: bool
) -> dict[str, float]:
    out: dict[str, float] = {}
    async with bus.connect(f"kafka://{bootstrap}") as b:
        assert isinstance(b, KafkaBus)
        options = b.producer_options()
        t_caseyard, t_raw = f"bench-c-{uuid.uuid4().hex[:8]}", f"bench-r-{uuid.uuid4().hex[:8]}"
        await b.ensure_topics([TopicSpec(t, partitions=PARTITIONS) for t in (t_caseyard, t_raw)])

        async def run_caseyard() -> None:
            out["caseyard_produce_s"] = await timed(
                lambda: caseyard_produce(b, t_caseyard, records, value)
            )
            out["caseyard_consume_s"] = await timed(
                lambda: caseyard_consume(b, t_caseyard, records)
            )

        async def run_raw() -> None:
            out["raw_produce_s"] = await timed(lambda: raw_produce(options, t_raw, records, value))
            out["raw_consume_s"] = await timed(lambda: raw_consume(bootstrap, t_raw, records))

        for step in (run_caseyard, run_raw) if caseyard_first else (run_raw, run_caseyard):
            await step()
    return out


async def embedded_round(url: str, records: int, value: bytes) -> dict[str, float]:
    async with bus.connect(url) as b:
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        await b.ensure_topics([TopicSpec(topic, partitions=PARTITIONS)])
        produce = await timed(lambda: caseyard_produce(b, topic, records, value))
        consume = await timed(lambda: caseyard_consume(b, topic, records))
    return {"produce_s": produce, "consume_s": consume}


def rate(records: int, seconds: float) -> float:
    return records / seconds if seconds else float("inf")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--embedded-records", type=int, default=50_000)
    args = parser.parse_args()
    bootstrap = os.environ.get("CASEYARD_BENCH_KAFKA", "127.0.0.1:19092")
    value = payload(args.size)
    console = Console()

    rounds = []
    for i in range(args.rounds):
        console.print(f"kafka round {i + 1}/{args.rounds} ({args.records} x {args.size} B)")
        rounds.append(await kafka_round(bootstrap, args.records, value, caseyard_first=i % 2 == 0))

    with tempfile.TemporaryDirectory() as tmp:
        console.print(f"embedded sqlite ({args.embedded_records} records)")
        sqlite = await embedded_round(f"sqlite:///{tmp}/bench.db", args.embedded_records, value)
    console.print(f"memory ({args.embedded_records} records)")
    memory = await embedded_round("memory://", args.embedded_records, value)

    mb = args.size / 1e6

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    rows: list[dict[str, Any]] = []
    for phase in ("produce", "consume"):
        c = rate(args.records, med(f"caseyard_{phase}_s"))
        r = rate(args.records, med(f"raw_{phase}_s"))
        rows.append(
            {
                "bus": "kafka",
                "phase": phase,
                "caseyard_msgs_s": c,
                "raw_msgs_s": r,
                "caseyard_mb_s": c * mb,
                "raw_mb_s": r * mb,
                "ratio": c / r,
            }
        )
    for name, result in (("sqlite", sqlite), ("memory", memory)):
        for phase in ("produce", "consume"):
            c = rate(args.embedded_records, result[f"{phase}_s"])
            rows.append(
                {
                    "bus": name,
                    "phase": phase,
                    "caseyard_msgs_s": c,
                    "raw_msgs_s": None,
                    "caseyard_mb_s": c * mb,
                    "raw_mb_s": None,
                    "ratio": None,
                }
            )

    table = Table(title=f"bus throughput, {args.size} B records (kafka: median of {args.rounds})")
    for column in (
        "bus",
        "phase",
        "caseyard msgs/s",
        "raw aiokafka msgs/s",
        "caseyard MB/s",
        "raw MB/s",
        "ratio",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            row["bus"],
            row["phase"],
            f"{row['caseyard_msgs_s']:,.0f}",
            "-" if row["raw_msgs_s"] is None else f"{row['raw_msgs_s']:,.0f}",
            f"{row['caseyard_mb_s']:.1f}",
            "-" if row["raw_mb_s"] is None else f"{row['raw_mb_s']:.1f}",
            "-" if row["ratio"] is None else f"{row['ratio']:.2f}x",
        )
    console.print(table)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bus.json"
    out.write_text(
        json.dumps(
            {
                "args": vars(args),
                "rounds": rounds,
                "rows": rows,
                "sqlite": sqlite,
                "memory": memory,
            },
            indent=2,
        )
    )
    console.print(f"wrote {out}")


if __name__ == "__main__":
    process.tune()  # what `caseyard run` sets
    anyio.run(main)
