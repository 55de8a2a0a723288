"""caseyard beside its peers on one broker, in one run (issue 10).

Eight ways to run the same 4-hop chain (stage 1 -> 2 -> 3 -> 4, instant handlers, ~1 KB
records keyed by case, 6 partitions), each at-least-once or better:

- raw: raw aiokafka, one consumer group per stage, the producer with caseyard's settings
  (idempotent, acks=all, no linger); a poll batch is sent without awaiting each ack,
  then awaited once, then committed once. What a Kafka engineer writes by hand.
- raw-librdkafka: the same chain on confluent-kafka (librdkafka, the C client; a test
  dependency already): a thread per stage takes up to 500 records, produces them,
  flushes (waits for every ack), commits synchronously. Not a caseyard option: it shows
  what the Kafka client itself costs in Python (aiokafka) against C.
- faststream-batch: FastStream batch subscribers (`batch=True`, `AckPolicy.ACK`: one
  commit per batch), each record sent with its key without awaiting its ack
  (`no_confirm=True`), the batch's acks awaited together.
- faststream-typed: faststream-batch with the runtime's events: each record a
  `TaskRequested` as JSON, which FastStream validates into the pydantic model; the handler
  forwards a copy as the runtime variant's does (no schema registry, no processed store).
  The typed chain to set the runtime beside: both decode, validate and encode each event.
- faststream-default: FastStream as its docs show it: one subscriber per stage with its
  defaults (auto-commit, `AckPolicy.ACK_FIRST`) and a `@publisher` returning the record.
- runtime: caseyard's agent runtime (`AgentService`), four agents chained: each gets a
  `TaskRequested`, records it in its processed store (a SQLite file, as deployed) and
  forwards it to the next stage's topic (Avro, schema registry, middleware hooks,
  idempotency, dead letters: all of it).
- saga: the caseyard coordinator running a 4-step sequential pipeline with four instant
  agents: each step is coordinator -> task -> agent -> result -> coordinator, so a case
  takes 9 records and 5 coordinator transactions where the chains take 5 records.
- saga-2-processes: the same saga laid out as a deployment runs it (`caseyard run
  coordinator` twice): two coordinator processes share the partitions, the agents run in
  this process; its CPU is this process's and the two coordinators'.

Each variant, per round: a warm-up, then CASES cases submitted at once, timed until the
last one reaches the end (cases/s, CPU seconds of the variant per case; if that took
less than MAX_RATE_MIN_S, again with as many cases as take that long), then cases at
half that rate for LATENCY_S seconds (latency from submit to end, p50/p99, and per step:
the case latency / 4; and the CPU per case and the cores the variant kept busy meanwhile:
small batches cost more per case, and a variant that fills its core at half its max rate
queues). Rounds alternate the variants; the table shows the median of the
rounds and the ratios to raw and to faststream-batch. The broker's own CPU is not counted.
The variants share this process and the settings `caseyard run` gives its own
(`caseyard.process`: glibc's malloc, Python's GC thresholds).

    CASEYARD_BENCH_KAFKA=127.0.0.1:19092 python -m bench.peers [--rounds 3] [--cases N]
        [--latency-s S] [--only VARIANT ...]

Prints a table and writes bench/results/peers.json. FastStream is a bench-only extra
(`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import anyio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console
from rich.table import Table

import bus
from agents.runtime import (
    AgentService,
    Emit,
    ProcessedStore,
    RetryPolicy,
)
from bench._members import cpu_seconds, members
from bench._report import run_info, save
from bench.coordinator import instant_agents, instant_saga, schema_id, sequential_catalog
from bus._kafka import KafkaBus
from caseyard import process
from caseyard.schema_store import BusSchemaStore
from caseyard.wiring import ensure_topology
from schemas import (
    AvroCodec,
    CaseCompleted,
    CaseSubmitted,
    DocumentRef,
    Event,
    Producer,
    Registry,
    TaskInput,
    TaskRequested,
)
from schemas.topology import CASE_EVENTS, CASE_PARTITIONS, INTAKE

PRODUCER = Producer(service="bench", version="1")
HOPS = 4
PAYLOAD = 1024
PARTITIONS = CASE_PARTITIONS
VARIANTS = (
    "raw",
    "raw-librdkafka",
    "faststream-batch",
    "faststream-typed",
    "faststream-default",
    "runtime",
    "saga",
    "saga-2-processes",
)
FastStreamStyle = Literal["batch", "typed", "default"]
FASTSTREAM_STYLES: dict[str, FastStreamStyle] = {
    "faststream-batch": "batch",
    "faststream-typed": "typed",
    "faststream-default": "default",
}
SUBMIT_BATCH = 500
MAX_RATE_MIN_S = 5.0
"""A max-rate run shorter than this is run again with more cases (a fast variant is done
with 10,000 in a second, where one pause of the broker moves the figure by a tenth)."""
DOCUMENT = DocumentRef(
    uri=f"blob://sha256/{'0' * 64}", sha256="0" * 64, size=1234, media_type="application/pdf"
)

TARGET_SAGA_VS_RAW = 0.4
TARGET_RUNTIME_VS_RAW = 0.8
TARGET_RUNTIME_VS_FASTSTREAM = 1.0
TARGET_STEP_P99_S = 0.050


Submit = Callable[[Sequence[str]], Awaitable[None]]
"""Publishes the first record of each case (by case id)."""


@dataclass
class Chain:
    """A running variant: how to start cases and where to see them end.

    `ended(key, value)` says whether a record read from `end_topic` ends a case.
    """

    submit: Submit
    end_topic: str
    ended: Callable[[bytes], bool] = lambda value: True
    cpu: Callable[[], float] = time.process_time
    """CPU seconds the variant has used: this process's, and its own processes' if any."""


@dataclass
class Observer:
    """Reads the end topic from its current end and notes when each case got there."""

    chain: Chain
    reader: bus.Consumer
    done: dict[str, float] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    all_done: anyio.Event = field(default_factory=anyio.Event)

    async def run(self) -> None:
        while True:
            records = await self.reader.poll(timeout=0.05, max_records=5000)
            now = time.perf_counter()
            for record in records:
                if self.chain.ended(record.value):
                    key = (record.key or b"").decode()
                    self.done.setdefault(key, now)
                    self.pending.discard(key)
            if not self.pending:
                self.all_done.set()

    async def wait(self, keys: Sequence[str], timeout: float) -> None:
        self.pending = {k for k in keys if k not in self.done}
        self.all_done = anyio.Event()
        with anyio.fail_after(timeout):
            if self.pending:
                await self.all_done.wait()


@asynccontextmanager
async def observing(b: bus.Bus, chain: Chain) -> AsyncIterator[Observer]:
    tps = [bus.TopicPartition(chain.end_topic, p) for p in range(PARTITIONS)]
    ends = await b.end_offsets(tps)
    async with b.reader(tps) as reader, anyio.create_task_group() as tg:
        for tp in tps:
            await reader.seek(tp, ends[tp])
        observer = Observer(chain, reader)
        tg.start_soon(observer.run)
        yield observer
        tg.cancel_scope.cancel()


def pad(n: int) -> bytes:
    return (b"0123456789abcdef" * (n // 16 + 1))[:n]


async def create_topics(bootstrap: str, names: Sequence[str]) -> None:
    async with bus.connect(f"kafka://{bootstrap}") as b:  # created, leaders elected
        await b.ensure_topics([bus.TopicSpec(n, partitions=PARTITIONS) for n in names])


def producer_options(bootstrap: str) -> dict[str, Any]:
    """caseyard's producer settings, so the peers get the same."""
    return KafkaBus(f"kafka://{bootstrap}", bootstrap).producer_options()


# -- raw aiokafka ---------------------------------------------------------------------------


@asynccontextmanager
async def raw_chain(bootstrap: str, run: str) -> AsyncIterator[Chain]:
    topics = [f"bench.raw.{run}.{i}" for i in range(HOPS + 1)]
    await create_topics(bootstrap, topics)
    producer = AIOKafkaProducer(**producer_options(bootstrap))
    await producer.start()
    value = pad(PAYLOAD)

    async def stage(source: str, target: str, ready: anyio.Event) -> None:
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=bootstrap,
            group_id=f"{source}.group",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                if consumer.assignment():
                    ready.set()
                futures = [
                    await producer.send(target, r.value, key=r.key)
                    for records in batches.values()
                    for r in records
                ]
                for future in futures:
                    await future
                if futures:
                    await consumer.commit()
        finally:
            await consumer.stop()

    async def submit(keys: Sequence[str]) -> None:
        futures = [await producer.send(topics[0], value, key=k.encode()) for k in keys]
        for future in futures:
            await future

    try:
        async with anyio.create_task_group() as tg:
            ready = [anyio.Event() for _ in range(HOPS)]
            for i in range(HOPS):
                tg.start_soon(stage, topics[i], topics[i + 1], ready[i])
            for event in ready:
                await event.wait()
            yield Chain(submit, topics[-1])
            tg.cancel_scope.cancel()
    finally:
        await producer.stop()


# -- raw librdkafka ------------------------------------------------------------------------


@asynccontextmanager
async def librdkafka_chain(bootstrap: str, run: str) -> AsyncIterator[Chain]:
    import threading

    from confluent_kafka import Consumer as RdConsumer
    from confluent_kafka import Producer as RdProducer

    topics = [f"bench.rdk.{run}.{i}" for i in range(HOPS + 1)]
    await create_topics(bootstrap, topics)
    options = producer_options(bootstrap)
    producing = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": options["linger_ms"],
    }
    stop = threading.Event()
    ready = [threading.Event() for _ in range(HOPS)]

    def produce(producer: Any, topic: str, value: bytes | None, key: bytes | None) -> None:
        while True:
            try:
                producer.produce(topic, value, key=key)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.01)

    def stage(i: int) -> None:
        consumer = RdConsumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"{topics[i]}.group",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        producer = RdProducer(producing)
        consumer.subscribe([topics[i]], on_assign=lambda *_: ready[i].set())
        try:
            while not stop.is_set():
                # Whatever is there as soon as one record is: consume(500, t) would wait
                # for 500 records or the whole timeout.
                records = consumer.consume(1, 0.2)
                if records:
                    records += consumer.consume(499, 0)
                records = [r for r in records if r.error() is None]
                for r in records:
                    produce(producer, topics[i + 1], r.value(), r.key())
                if records:
                    producer.flush()
                    consumer.commit(asynchronous=False)
        finally:
            consumer.close()

    threads = [threading.Thread(target=stage, args=(i,), daemon=True) for i in range(HOPS)]
    for thread in threads:
        thread.start()
    submitter = RdProducer(producing)
    value = pad(PAYLOAD)

    def send(keys: Sequence[str]) -> None:
        for k in keys:
            produce(submitter, topics[0], value, k.encode())
        submitter.flush()

    async def submit(keys: Sequence[str]) -> None:
        await anyio.to_thread.run_sync(send, keys)

    try:
        for event in ready:
            if not await anyio.to_thread.run_sync(event.wait, 60):
                raise TimeoutError("a librdkafka stage got no partitions within 60 s")
        yield Chain(submit, topics[-1])
    finally:
        stop.set()
        for thread in threads:
            await anyio.to_thread.run_sync(thread.join)


# -- FastStream -----------------------------------------------------------------------------


@asynccontextmanager
async def faststream_chain(
    bootstrap: str, run: str, style: FastStreamStyle
) -> AsyncIterator[Chain]:
    """FastStream's chain: batch subscribers forwarding bytes or typed events, or one
    subscriber per stage with its defaults (see the module's docstring)."""
    from faststream import AckPolicy
    from faststream.kafka import KafkaBroker, KafkaMessage, KafkaResponse

    batch, typed = style != "default", style == "typed"
    topics = [f"bench.fs-{style}.{run}.{i}" for i in range(HOPS + 1)]
    await create_topics(bootstrap, topics)
    options = producer_options(bootstrap)
    broker = KafkaBroker(
        bootstrap,
        logger=None,
        enable_idempotence=True,
        acks="all",
        linger_ms=options["linger_ms"],
        max_batch_size=options["max_batch_size"],
    )
    value = pad(PAYLOAD)

    for i in range(HOPS):
        source, target = topics[i], topics[i + 1]
        if batch:

            def forward_batch(target: str) -> Callable[..., Awaitable[None]]:
                async def handle(body: list[bytes], msg: KafkaMessage) -> None:
                    futures = [
                        await broker.publish(r.value, target, key=r.key, no_confirm=True)
                        for r in msg.raw_message
                    ]
                    await asyncio.gather(*futures)

                return handle

            def forward_typed(target: str) -> Callable[..., Awaitable[None]]:
                async def handle(body: list[TaskRequested], msg: KafkaMessage) -> None:
                    futures = [
                        await broker.publish(
                            task.model_copy(update={"task_id": f"{task.task_id}+"}),
                            target,
                            key=r.key,
                            no_confirm=True,
                        )
                        for task, r in zip(body, msg.raw_message, strict=True)
                    ]
                    await asyncio.gather(*futures)

                return handle

            broker.subscriber(
                source,
                group_id=f"{source}.group",
                batch=True,
                max_records=500,
                auto_offset_reset="earliest",
                ack_policy=AckPolicy.ACK,
            )((forward_typed if typed else forward_batch)(target))
        else:

            def forward_one() -> Callable[..., Awaitable[KafkaResponse]]:
                async def handle(body: bytes, msg: KafkaMessage) -> KafkaResponse:
                    record: Any = msg.raw_message
                    return KafkaResponse(body, key=record.key)

                return handle

            broker.publisher(target)(
                broker.subscriber(source, group_id=f"{source}.group", auto_offset_reset="earliest")(
                    forward_one()
                )
            )

    async def submit(keys: Sequence[str]) -> None:
        futures = [
            await broker.publish(
                task(k) if typed else value, topics[0], key=k.encode(), no_confirm=True
            )
            for k in keys
        ]
        await asyncio.gather(*futures)

    await broker.start()
    try:
        # FastStream has no readiness signal: wait until every group has its partitions.
        subscribers: list[Any] = list(broker.subscribers)  # their aiokafka consumers
        with anyio.fail_after(60):
            while not all(s.consumer and s.consumer.assignment() for s in subscribers):  # noqa: ASYNC110
                await anyio.sleep(0.05)
        yield Chain(submit, topics[-1])
    finally:
        await broker.stop()


# -- caseyard agent runtime -------------------------------------------------------------------


@dataclass
class Forward:
    """A handler that hands each task on to the next stage (the runtime's whole path)."""

    target: str

    takes = "TaskRequested"

    def accepts(self, event: Event) -> bool:
        return isinstance(event, TaskRequested)

    def key(self, event: Event) -> str:
        assert isinstance(event, TaskRequested)
        return event.task_id

    async def handle(self, event: Event) -> Sequence[Emit]:
        assert isinstance(event, TaskRequested)
        return (Emit(self.target, event.model_copy(update={"task_id": f"{event.task_id}+"})),)

    def failed(self, event: Event, error: BaseException, attempts: int) -> Sequence[Emit]:
        return ()


def task(case_id: str) -> TaskRequested:
    now = datetime.now(UTC)
    return TaskRequested(
        case_id=case_id,
        correlation_id=case_id,
        occurred_at=now,
        producer=PRODUCER,
        task_id=f"{case_id}/1",
        step="classify",
        capability="classify",
        attempt=1,
        input=TaskInput(
            document=DOCUMENT,
            parameters={"pad": pad(PAYLOAD - 400).decode()},
        ),
        deadline=now + timedelta(hours=1),
    )


@asynccontextmanager
async def runtime_chain(bootstrap: str, run: str) -> AsyncIterator[Chain]:
    topics = [f"bench.rt.{run}.{i}" for i in range(HOPS + 1)]
    await create_topics(bootstrap, topics)
    async with (
        bus.connect(f"kafka://{bootstrap}", session_timeout_ms=6000) as b,
        BusSchemaStore(b) as store,
    ):
        codec = AvroCodec(Registry(store))
        # Processed stores on disk, as a deployment keeps them (`caseyard run agent`).
        state = tempfile.TemporaryDirectory(prefix="caseyard-bench-")
        stores = [ProcessedStore(Path(state.name) / f"stage-{i}.db") for i in range(HOPS)]
        agents = [
            AgentService(
                name=f"bench-rt-{run}-{i}",
                bus=b,
                codec=codec,
                topics=[topics[i]],
                handler=Forward(topics[i + 1]),
                store=stores[i],
                producer=PRODUCER,
                retry=RetryPolicy(delays_s=()),
            )
            for i in range(HOPS)
        ]

        async def submit(keys: Sequence[str]) -> None:
            await b.publish_batch(
                [
                    bus.Message(topics[0], await codec.encode(task(k), topics[0]), key=k.encode())
                    for k in keys
                ]
            )

        stop = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                for agent in agents:
                    tg.start_soon(agent.run, stop)
                with anyio.fail_after(60):
                    for agent in agents:
                        await agent.ready.wait()
                yield Chain(submit, topics[-1])
                stop.set()
        finally:
            for processed in stores:
                processed.close()
            state.cleanup()


# -- caseyard saga --------------------------------------------------------------------------


@asynccontextmanager
async def saga_world(bootstrap: str) -> AsyncIterator[tuple[bus.Bus, AvroCodec]]:
    """A bus on `bootstrap` with caseyard's topics, and a codec on its schema store."""
    async with bus.connect(f"kafka://{bootstrap}", session_timeout_ms=6000) as b:
        await ensure_topology(b)
        async with BusSchemaStore(b) as store:
            yield b, AvroCodec(Registry(store))


@asynccontextmanager
async def saga_chain(bootstrap: str, run: str) -> AsyncIterator[Chain]:
    async with saga_world(bootstrap) as (b, codec):
        chain = await saga_on(b, codec)
        async with instant_saga(b, codec, sequential_catalog(), run, timeout=120):
            yield chain


@asynccontextmanager
async def saga_processes_chain(bootstrap: str, run: str) -> AsyncIterator[Chain]:
    """The saga as `caseyard run coordinator` twice and the agents elsewhere would run it:
    two coordinator processes share the partitions; the agents run in this process."""
    async with (
        saga_world(bootstrap) as (b, codec),
        instant_agents(b, codec),
        members(bootstrap, run, 2) as running,
    ):
        pids = [m.process.pid for m in running]

        def cpu() -> float:
            return time.process_time() + sum(cpu_seconds(pid) for pid in pids)

        yield await saga_on(b, codec, cpu)


async def saga_on(
    b: bus.Bus, codec: AvroCodec, cpu: Callable[[], float] = time.process_time
) -> Chain:
    """The saga's ends on `b`: a `CaseSubmitted` on intake starts a case, its
    `CaseCompleted` on case-events (known by its schema id alone) ends it."""
    metadata = {"pad": pad(PAYLOAD - 300).decode()}

    async def submit(keys: Sequence[str]) -> None:
        now = datetime.now(UTC)
        await b.publish_batch(
            [
                bus.Message(
                    INTAKE.name,
                    await codec.encode(submission(k, now, metadata), INTAKE.name),
                    key=k.encode(),
                )
                for k in keys
            ]
        )

    base = {"case_id": "x", "correlation_id": "x", "occurred_at": datetime.now(UTC)}
    completed = await schema_id(codec, CaseCompleted(**base, producer=PRODUCER, outcome="x"))
    return Chain(submit, CASE_EVENTS.name, lambda value: value[1:5] == completed, cpu)


def submission(case_id: str, now: datetime, metadata: dict[str, str]) -> CaseSubmitted:
    return CaseSubmitted(
        case_id=case_id,
        correlation_id=case_id,
        occurred_at=now,
        producer=PRODUCER,
        document=DOCUMENT,
        source="bench",
        metadata=metadata,
    )


# -- the harness ----------------------------------------------------------------------------


def chain_for(variant: str, bootstrap: str, run: str) -> Any:
    if variant == "raw":
        return raw_chain(bootstrap, run)
    if variant == "raw-librdkafka":
        return librdkafka_chain(bootstrap, run)
    style = FASTSTREAM_STYLES.get(variant)
    if style is not None:
        return faststream_chain(bootstrap, run, style)
    if variant == "runtime":
        return runtime_chain(bootstrap, run)
    if variant == "saga-2-processes":
        return saga_processes_chain(bootstrap, run)
    return saga_chain(bootstrap, run)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def measure(
    variant: str, bootstrap: str, cases: int, latency_s: float, console: Console
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    async with (
        bus.connect(f"kafka://{bootstrap}") as b,
        chain_for(variant, bootstrap, run) as chain,
        observing(b, chain) as observer,
    ):
        warm = [f"{run}-warm-{i}" for i in range(20)]
        await chain.submit(warm)
        await observer.wait(warm, 120)

        cases, seconds, cpu_s = await max_rate(chain, observer, f"{run}-max", cases)
        if seconds < MAX_RATE_MIN_S:
            # Over too soon to say much: again, with as many cases as take MAX_RATE_MIN_S.
            more = math.ceil(cases / seconds * MAX_RATE_MIN_S)
            cases, seconds, cpu_s = await max_rate(chain, observer, f"{run}-more", more)
        rate = cases / seconds

        # Half the max rate, in ticks of 20 ms, for latency_s.
        paced = max(10, int(rate / 2 * latency_s))
        tick = 0.02
        per_tick = max(1, round(rate / 2 * tick))
        paced_keys = [f"{run}-lat-{i}" for i in range(paced)]
        sent: dict[str, float] = {}
        paced_cpu = chain.cpu()
        start_at = time.perf_counter()
        for n, start in enumerate(range(0, paced, per_tick)):
            due = start_at + n * tick
            await anyio.sleep(max(0.0, due - time.perf_counter()))
            chunk = paced_keys[start : start + per_tick]
            at = time.perf_counter()
            await chain.submit(chunk)
            sent.update(dict.fromkeys(chunk, at))
        await observer.wait(paced_keys, 120)
        paced_cpu_s = chain.cpu() - paced_cpu
        paced_wall_s = time.perf_counter() - start_at
        latencies = [observer.done[k] - sent[k] for k in paced_keys]
    result = {
        "variant": variant,
        "cases": cases,
        "seconds": seconds,
        "cases_s": rate,
        "cpu_ms_per_case": cpu_s / cases * 1000,
        "paced_cases_s": paced / latency_s,
        "paced_cpu_ms_per_case": paced_cpu_s / paced * 1000,
        "paced_cpu_share": paced_cpu_s / paced_wall_s,
        "latency_p50_ms": percentile(latencies, 0.5) * 1000,
        "latency_p99_ms": percentile(latencies, 0.99) * 1000,
        "step_p50_ms": percentile(latencies, 0.5) * 1000 / HOPS,
        "step_p99_ms": percentile(latencies, 0.99) * 1000 / HOPS,
    }
    console.print(
        f"  {variant:<19} {rate:8.0f} cases/s  cpu {result['cpu_ms_per_case']:.2f} ms/case"
        f"  latency p50 {result['latency_p50_ms']:.0f} ms p99 {result['latency_p99_ms']:.0f} ms"
    )
    return result


async def max_rate(
    chain: Chain, observer: Observer, prefix: str, cases: int
) -> tuple[int, float, float]:
    """Submit `cases` at once; the cases, the seconds until the last reached the end, and
    the CPU seconds the variant took meanwhile."""
    keys = [f"{prefix}-{i}" for i in range(cases)]
    cpu = chain.cpu()
    began = time.perf_counter()
    for start in range(0, cases, SUBMIT_BATCH):
        await chain.submit(keys[start : start + SUBMIT_BATCH])
    await observer.wait(keys, max(120, cases / 20))
    return cases, time.perf_counter() - began, chain.cpu() - cpu


def median_of(rounds: list[list[dict[str, Any]]], variant: str, key: str) -> float:
    return float(statistics.median(r[key] for rs in rounds for r in rs if r["variant"] == variant))


def report(console: Console, out: dict[str, Any]) -> None:
    rounds = out["rounds"]
    variants = [v for v in VARIANTS if any(r["variant"] == v for rs in rounds for r in rs)]
    medians = {
        v: {
            k: median_of(rounds, v, k)
            for k in (
                "cases_s",
                "cpu_ms_per_case",
                "paced_cpu_ms_per_case",
                "paced_cpu_share",
                "latency_p50_ms",
                "latency_p99_ms",
                "step_p50_ms",
                "step_p99_ms",
            )
        }
        for v in variants
    }
    out["median"] = medians
    table = Table(title=f"4-hop chain on one broker, median of {len(rounds)} rounds")
    for column in (
        "variant",
        "cases/s",
        "each round",
        "vs raw",
        "vs fs-batch",
        "CPU ms/case",
        "@50%: CPU ms/case, cores",
        "case p50/p99 ms @50%",
        "step p50/p99 ms",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    raw = medians.get("raw", {}).get("cases_s")
    fsb = medians.get("faststream-batch", {}).get("cases_s")
    for v in variants:
        m = medians[v]
        each = " / ".join(f"{r['cases_s']:.0f}" for rs in rounds for r in rs if r["variant"] == v)
        table.add_row(
            v,
            f"{m['cases_s']:.0f}",
            each,
            f"{m['cases_s'] / raw:.2f}x" if raw else "-",
            f"{m['cases_s'] / fsb:.2f}x" if fsb else "-",
            f"{m['cpu_ms_per_case']:.2f}",
            f"{m['paced_cpu_ms_per_case']:.2f}, {m['paced_cpu_share']:.2f}",
            f"{m['latency_p50_ms']:.0f} / {m['latency_p99_ms']:.0f}",
            f"{m['step_p50_ms']:.1f} / {m['step_p99_ms']:.1f}",
        )
    console.print(table)
    targets = []
    if raw and "saga" in medians:
        ratio = medians["saga"]["cases_s"] / raw
        targets.append(f"saga {ratio:.2f}x raw (target >= {TARGET_SAGA_VS_RAW}x)")
        p99 = medians["saga"]["step_p99_ms"]
        targets.append(f"saga step p99 {p99:.0f} ms (target <= {TARGET_STEP_P99_S * 1000:.0f})")
    if raw and "saga-2-processes" in medians:
        ratio = medians["saga-2-processes"]["cases_s"] / raw
        targets.append(f"saga, two coordinator processes {ratio:.2f}x raw")
    if raw and "runtime" in medians:
        ratio = medians["runtime"]["cases_s"] / raw
        targets.append(f"runtime {ratio:.2f}x raw (target >= {TARGET_RUNTIME_VS_RAW}x)")
    if fsb and "runtime" in medians:
        ratio = medians["runtime"]["cases_s"] / fsb
        targets.append(
            f"runtime {ratio:.2f}x faststream-batch (target >= {TARGET_RUNTIME_VS_FASTSTREAM}x)"
        )
    fst = medians.get("faststream-typed", {}).get("cases_s")
    if fst and "runtime" in medians:
        ratio = medians["runtime"]["cases_s"] / fst
        targets.append(f"runtime {ratio:.2f}x faststream-typed (both typed; no target)")
    for line in targets:
        console.print(f"  {line}")
    out["targets"] = targets


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", type=int, default=10_000, help="cases at max rate")
    parser.add_argument(
        "--slow-cases", type=int, default=400, help="cases at max rate for faststream-default"
    )
    parser.add_argument("--latency-s", type=float, default=4.0, help="seconds at half rate")
    parser.add_argument("--only", choices=VARIANTS, action="append", help="run only these")
    args = parser.parse_args()
    bootstrap = os.environ.get("CASEYARD_BENCH_KAFKA")
    if not bootstrap:
        raise SystemExit("bench.peers needs a broker: CASEYARD_BENCH_KAFKA=host:port")
    console = Console()
    if not console.is_terminal:
        console.width = 130
    variants = [v for v in VARIANTS if v in (args.only or VARIANTS)]
    out = run_info(args=vars(args), kafka=bootstrap, rounds=[])
    for n in range(args.rounds):
        console.print(f"round {n + 1} of {args.rounds}")
        results = []
        for variant in variants:
            cases = args.slow_cases if variant == "faststream-default" else args.cases
            results.append(await measure(variant, bootstrap, cases, args.latency_s, console))
        out["rounds"].append(results)
    report(console, out)
    save(out, "peers", console)


if __name__ == "__main__":
    process.tune()  # what `caseyard run` sets
    anyio.run(main)
