"""Coordinator benchmark (issue 4): decisions/s, memory per open case, restore, end to end.

1. transitions/s: `coordinator.transition` alone, on one core, over a realistic stream of
   `pipelines/document-intake.yaml` cases (submission, then a result for every task the
   transitions request, as a perfect agent would answer: typed outputs, low risk, so no
   person is involved; 6 inputs per case). Cases run in chunks of CHUNK, interleaved
   within a chunk; the inputs are built before each timed loop, so only the transition
   calls (and the state bookkeeping the runtime does around them) are timed. Inputs are
   built a poll batch (POLL_BATCH) at a time, just before their transitions, and a batch's
   outputs are let go once noted, as a coordinator holds a poll batch, not a wave: built a
   wave (5,000 cases) at a time and kept, they made the cyclic GC 40% of the timed CPU
   (`gc.callbacks`), its collections scanning the benchmark's own inputs and outputs. The
   collections the transitions trigger are timed, whatever they scan. The headline is per
   CPU second of the thread (a shared machine steals wall time); wall is beside it.
2. memory per open case: OPEN cases stopped after their classify step (extract and
   triage out): the RSS delta of building them; tracemalloc of the states as the
   transitions build them (on TRACED of them: slow) and as `CaseState.from_bytes`
   restores them (all of them); the larger, extrapolated to a million cases; and the
   changelog bytes per case (`len(state.to_bytes())`).
   As objects is what a case costs while it moves; the coordinator keeps the others
   compact (`coordinator.StateStore`), so:
2b. a million open cases, measured: MILLION changelog values (the OPEN states again under
   new case ids) written to a SQLite changelog and restored by a coordinator in a process
   of its own; its RSS growth, after as many cases as its stores keep as objects moved.
3. restore: those OPEN states written to the changelog topic, then
   `Coordinator.restore(all partitions)` timed, on the embedded SQLite bus (and on Kafka);
   beside it, the time `CaseState.from_bytes` alone takes for the same states.
4. end to end: a Coordinator and four instant fake agents (the real agent runtime) on a
   bus; after 5 warm-up cases, CASES cases of a 4-step sequential pipeline submitted at
   once (batches of 100), timed until every one has its `CaseCompleted` on
   caseyard.case-events. On SQLite three times side by side, by the bus middleware:
   none, metrics, metrics + tracing (spans batched into memory): the telemetry's cost.

Kafka runs only when CASEYARD_BENCH_KAFKA names a broker. Its topics are the topology's,
shared with every earlier run and anything else on that broker (the coordinator group
too): the restore reads whatever the changelog holds (the JSON says how many records),
and the benchmark tombstones its own states afterwards. Use a broker of its own.

    python -m bench.coordinator [--cases N] [--open-cases OPEN] [--traced-cases TRACED]
                                [--million-cases MILLION] [--e2e-cases CASES] [--only PART]
    CASEYARD_BENCH_KAFKA=127.0.0.1:29092 python -m bench.coordinator

Prints a table and writes bench/results/coordinator.json.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import bus
from agents.runtime import (
    AgentService,
    Outcome,
    ProcessedStore,
    RetryPolicy,
    TaskHandler,
    TaskWork,
)
from bench._report import run_info, save
from bus import Message, Middleware, TopicPartition, partition_for
from caseyard import process
from caseyard.schema_store import REGISTRY_DB, BusSchemaStore
from caseyard.telemetry import Telemetry
from caseyard.wiring import ensure_topology
from coordinator import HOT_STATES, CaseState, Coordinator, PipelineCatalog, Transition, transition
from schemas import (
    AvroCodec,
    CaseCompleted,
    CaseFailed,
    CaseSubmitted,
    ClassifyOutput,
    DocType,
    DocumentRef,
    Event,
    ExtractedField,
    ExtractOutput,
    FieldType,
    MemorySchemaStore,
    ModelUsage,
    Producer,
    Registry,
    RespondOutput,
    RiskBand,
    SchemaStore,
    ScoreOutput,
    SqliteSchemaStore,
    TaskCompleted,
    TaskOutput,
    TaskRequested,
)
from schemas.payloads import Channel, Label, Span, Urgency
from schemas.topology import (
    CAPABILITIES,
    CASE_EVENTS,
    CASE_PARTITIONS,
    HUMAN,
    INTAKE,
    RESULTS,
    STATE,
    TIMERS,
    tasks_topic,
)

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
PRODUCER = Producer(service="bench", version="1")
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PUBLISH_BATCH = 5000

TARGET_TRANSITIONS_S = 20_000
TARGET_MILLION_GIB = 1.0
TARGET_RESTORE_S = 5.0
TARGET_REPLAY_EVENTS_S = 50_000
CASEYARD = str(Path(sys.executable).parent / "caseyard")
PARTS = ("transitions", "memory", "million", "restore", "e2e", "replay")

# Every type that takes document-intake's full path (fraud reports and "other" skip steps).
DOC_TYPES = (
    DocType.INVOICE,
    DocType.COMPLAINT,
    DocType.INSURANCE_CLAIM,
    DocType.PAYMENT_REQUEST,
    DocType.CONTRACT,
)

SEQUENTIAL = """\
name: bench-sequential
version: 1
description: Four steps one after the other, for the end-to-end benchmark.
default: true
outcome: done
defaults:
  timeout: 5m
  retry: {max_attempts: 3, backoff: fixed, initial_delay: 1s, max_delay: 1s}
steps:
  - {id: classify, capability: classify}
  - {id: extract, capability: extract, after: [classify], inputs: [classify]}
  - {id: score, capability: score, after: [extract], inputs: [classify, extract]}
  - {id: respond, capability: respond, after: [score], inputs: [classify, extract, score]}
"""


# -- a perfect agent -----------------------------------------------------------------------


def usage(model: str) -> ModelUsage:
    return ModelUsage(
        provider="local", model=model, input_tokens=420, output_tokens=60, latency_ms=6.5
    )


def output_for(capability: str, case_id: str, n: int) -> TaskOutput:
    """A realistic typed output of `capability` (sizes like the real agents' outputs)."""
    if capability == "classify":
        doc_type = DOC_TYPES[n % len(DOC_TYPES)]
        return ClassifyOutput(
            doc_type=doc_type,
            confidence=0.91,
            labels=(
                Label(label=doc_type.value, score=0.91),
                Label(label="receipt", score=0.05),
                Label(label="other", score=0.02),
            ),
            urgency=Urgency.NORMAL,
        )
    if capability == "extract":

        def f(
            name: str, value: str, kind: FieldType, at: int, norm: str | None = None
        ) -> ExtractedField:
            return ExtractedField(
                name=name,
                value=value,
                type=kind,
                normalized=norm,
                span=Span(start=at, end=at + len(value)),
                confidence=0.88,
            )

        return ExtractOutput(
            fields=(
                f("sender_name", f"Customer {n}", FieldType.NAME, 12),
                f("sender_email", f"customer{n}@example.com", FieldType.EMAIL, 40),
                f("invoice_number", f"INV-{n:08d}", FieldType.IDENTIFIER, 96),
                f("total_amount", "1.234,50 EUR", FieldType.MONEY, 180, "1234.50 EUR"),
                f("due_date", "14.04.2025", FieldType.DATE, 230, "2025-04-14"),
                f("iban", "DE89 3704 0044 0532 0130 00", FieldType.IBAN, 300),
            )
        )
    if capability == "score":
        return ScoreOutput(
            score=0.08 + (n % 7) / 100,
            band=RiskBand.LOW,
            reasons=("known counterparty", "amount within the usual range"),
        )
    return RespondOutput(
        channel=Channel.EMAIL,
        recipient=f"customer{n}@example.com",
        subject=f"Your document {n}: received",
        body="Dear customer,\n\nthank you for your document. We have registered it under "
        f"case {case_id} and will get back to you within five working days.\n\n"
        "Kind regards,\nThe service team",
        redactions=("iban",),
    )


def submission(case_id: str, n: int, now: datetime) -> CaseSubmitted:
    sha = hashlib.sha256(case_id.encode()).hexdigest()
    return CaseSubmitted(
        case_id=case_id,
        correlation_id=case_id,
        occurred_at=now,
        producer=PRODUCER,
        source="bench",
        document=DocumentRef(
            uri=f"file:///var/lib/caseyard/blobs/sha256/{sha[:2]}/{sha}",
            sha256=sha,
            size=20_000 + n % 5000,
            media_type="application/pdf",
        ),
        metadata={"filename": f"document-{n}.pdf"},
    )


def result_for(task: TaskRequested, n: int, now: datetime) -> TaskCompleted:
    return TaskCompleted(
        case_id=task.case_id,
        correlation_id=task.correlation_id,
        causation_id=task.event_id,
        occurred_at=now,
        producer=PRODUCER,
        task_id=task.task_id,
        capability=task.capability,
        attempt=task.attempt,
        output=output_for(task.capability, task.case_id, n),
        usage=usage(f"{task.capability}-v1"),
        latency_ms=8.0,
    )


def requested(result: Transition) -> list[TaskRequested]:
    return [o.event for o in result.outputs if isinstance(o.event, TaskRequested)]


# -- 1. transitions/s ------------------------------------------------------------------------


@dataclass
class Drive:
    """What driving a set of cases through the transition measured."""

    transitions: int = 0
    seconds: float = 0.0
    """Wall time in the timed calls."""
    cpu_seconds: float = 0.0
    """CPU time of this thread over the timed loops (robust to a busy machine)."""
    outputs: int = 0
    completed: int = 0
    ns_by_input: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    count_by_input: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    states: dict[str, CaseState] = field(default_factory=dict)


POLL_BATCH = 500
"""Inputs built and handed to the transition at a time, as a coordinator takes a poll batch."""


def drive(
    catalog: PipelineCatalog,
    ids: Sequence[str],
    drive_: Drive,
    *,
    max_waves: int | None = None,
    timed: bool = True,
) -> None:
    """Run cases `ids` through the transition, wave by wave, as a perfect agent answers.

    Wave 1 submits every case; each later wave answers every task the previous wave
    requested. A wave's inputs are built POLL_BATCH at a time, each batch just before its
    transitions, whose outputs are dropped once the tasks they request are noted (a
    coordinator publishes them and lets go). Only the transition calls and the state
    bookkeeping are timed.
    """
    states = drive_.states
    number = {c: i for i, c in enumerate(ids)}
    now = T0
    # What the next inputs are made of: a case id to submit, or a task to answer.
    todo: list[str | TaskRequested] = list(ids)
    wave = 0
    clock = time.perf_counter_ns
    while todo and (max_waves is None or wave < max_waves):
        wave += 1
        answered: list[str | TaskRequested] = []
        for start in range(0, len(todo), POLL_BATCH):
            inputs: list[tuple[str, Event]] = [
                ("CaseSubmitted", submission(item, number[item], now))
                if isinstance(item, str)
                else (f"TaskCompleted {item.step}", result_for(item, number[item.case_id], now))
                for item in todo[start : start + POLL_BATCH]
            ]
            results: list[Transition] = []
            cpu = time.thread_time_ns()
            for label, event in inputs:
                began = clock()
                result = transition(states.get(event.case_id), event, catalog)
                state = result.state
                if state is None or state.finished:
                    states.pop(event.case_id, None)
                else:
                    states[event.case_id] = state
                took = clock() - began
                if timed:
                    drive_.ns_by_input[label] += took
                    drive_.count_by_input[label] += 1
                    drive_.seconds += took / 1e9
                results.append(result)
            if timed:
                drive_.cpu_seconds += (time.thread_time_ns() - cpu) / 1e9
            drive_.transitions += len(inputs)
            for result in results:
                drive_.outputs += len(result.outputs)
                drive_.completed += sum(isinstance(o.event, CaseCompleted) for o in result.outputs)
                if result.dead_letter or result.ignored:
                    raise RuntimeError(f"unexpected: {result.dead_letter or result.ignored}")
                answered.extend(requested(result))
        now += timedelta(seconds=2)
        todo = answered


def case_ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:07d}" for i in range(n)]


def bench_transitions(catalog: PipelineCatalog, cases: int, chunk: int) -> dict[str, Any]:
    measured = Drive()
    ids = case_ids("tps", cases)
    for start in range(0, cases, chunk):
        drive(catalog, ids[start : start + chunk], measured)
    if measured.states or measured.completed != cases:
        raise RuntimeError(
            f"{measured.completed}/{cases} completed, {len(measured.states)} still open"
        )
    return {
        "cases": cases,
        "chunk": chunk,
        "transitions": measured.transitions,
        "transitions_per_case": measured.transitions / cases,
        "outputs": measured.outputs,
        "seconds": measured.seconds,
        "cpu_seconds": measured.cpu_seconds,
        "transitions_s": measured.transitions / measured.seconds,
        "transitions_cpu_s": measured.transitions / measured.cpu_seconds,
        "cases_s": cases / measured.seconds,
        "us_by_input": {
            label: ns / measured.count_by_input[label] / 1000
            for label, ns in measured.ns_by_input.items()
        },
    }


# -- 2. memory per open case -------------------------------------------------------------------


def open_states(catalog: PipelineCatalog, ids: Sequence[str], chunk: int) -> dict[str, CaseState]:
    """States of `ids` after their classify step (extract and triage requested)."""
    built = Drive()
    for start in range(0, len(ids), chunk):
        drive(catalog, ids[start : start + chunk], built, max_waves=2, timed=False)
    return built.states


def rss_bytes() -> int | None:
    """Resident set size now (Linux), or None."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def short_path(filename: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    return "/".join(parts[-2:])


def traced(
    build: Callable[[], object], n: int, sites: int = 0
) -> tuple[float, list[dict[str, Any]]]:
    """Bytes per case of the Python heap `build()` holds (tracemalloc, after a collection),
    and the `sites` source lines that allocated most of it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot() if sites else None
        base = tracemalloc.get_traced_memory()[0]
        value = build()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        after = tracemalloc.take_snapshot() if sites else None
    finally:
        tracemalloc.stop()
    del value
    top = []
    if before is not None and after is not None:
        for stat in after.compare_to(before, "lineno")[:sites]:
            frame = stat.traceback[0]
            top.append(
                {
                    "where": f"{short_path(frame.filename)}:{frame.lineno}",
                    "bytes_per_case": stat.size_diff / n,
                    "blocks_per_case": stat.count_diff / n,
                }
            )
    gc.collect()
    return held / n, top


def bench_memory(
    catalog: PipelineCatalog,
    n: int,
    traced_n: int,
    chunk: int,
    console: Console,
    *,
    measure: bool = True,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Memory per open case, and the changelog values of `n` open cases."""
    ids = case_ids(f"open-{uuid.uuid4().hex[:6]}", n)
    console.print(f"  building {n:,} open cases")
    gc.collect()
    rss_before = rss_bytes()
    states = open_states(catalog, ids, chunk)
    gc.collect()
    rss_after = rss_bytes()
    changelog = {case_id: state.to_bytes() for case_id, state in states.items()}
    steps = sorted(next(iter(states.values())).steps)
    del states
    gc.collect()
    if not measure:
        return {}, changelog

    sample = ids[: min(n, traced_n)]
    console.print(f"  building {len(sample):,} of them again under tracemalloc")
    live, sites = traced(lambda: open_states(catalog, sample, chunk), len(sample), sites=15)
    console.print(f"  restoring {n:,} states from their changelog values under tracemalloc")
    restored, _ = traced(lambda: {k: CaseState.from_bytes(v) for k, v in changelog.items()}, n)

    sizes = [len(v) for v in changelog.values()]
    rss = None if rss_before is None or rss_after is None else (rss_after - rss_before) / n
    return {
        "cases": n,
        "traced_live_cases": len(sample),
        "steps_in_state": steps,
        "live_bytes_per_case": live,
        "restored_bytes_per_case": restored,
        "rss_bytes_per_case": rss,
        "million_cases_gib": max(live, restored) * 1e6 / 2**30,
        "changelog_bytes_per_case": statistics.mean(sizes),
        "changelog_bytes_max": max(sizes),
        "changelog_million_cases_gib": statistics.mean(sizes) * 1e6 / 2**30,
        "top_sites_live": sites,
    }, changelog


# -- 2b. a million open cases ----------------------------------------------------------------------


def million_values(changelog: dict[str, bytes], n: int) -> Iterator[tuple[str, bytes]]:
    """`n` distinct changelog values: the open states the transitions built, each again
    under new case ids (the id is in `case_id` and `correlation_id`)."""
    bases = list(changelog.items())
    for i in range(n):
        base_id, value = bases[i % len(bases)]
        case_id = f"m-{i:08d}"
        yield case_id, value.replace(f'"{base_id}"'.encode(), f'"{case_id}"'.encode())


async def bench_million(changelog: dict[str, bytes], n: int, console: Console) -> dict[str, Any]:
    """The coordinator's memory holding `n` open cases, measured: their states written to
    a SQLite changelog, restored by a coordinator in a process of its own (its RSS is the
    coordinator's and nothing else's)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bus.db"
        console.print(f"  writing {n:,} open states to a SQLite changelog")
        async with bus.connect(url) as b:
            await ensure_topology(b)
            await publish_all(
                b,
                (
                    Message(STATE.name, value, key=c.encode(), partition=state_partition(c))
                    for c, value in million_values(changelog, n)
                ),
            )
        console.print("  restoring them in a coordinator process of its own")
        done = await anyio.run_process(
            [sys.executable, "-m", "bench.coordinator", "--hold", url, str(n)],
            stderr=subprocess.STDOUT,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"the holding coordinator failed:\n{done.stdout.decode()}")
        result: dict[str, Any] = json.loads(done.stdout.decode().splitlines()[-1])
    return result


async def hold(url: str, n: int) -> dict[str, Any]:
    """Restore every partition of the changelog at `url` (the `--hold` process); the RSS
    before and after, and after as many cases as the stores keep hot have moved."""
    async with bus.connect(url) as b:
        coordinator = Coordinator(
            bus=b,
            codec=AvroCodec(Registry(MemorySchemaStore())),
            catalog=PipelineCatalog.load(PIPELINES),
            producer=PRODUCER,
            instance="bench-hold",
        )
        gc.collect()
        before = rss_bytes() or 0
        began = time.perf_counter()
        await coordinator.restore(set(range(CASE_PARTITIONS)))
        seconds = time.perf_counter() - began
        gc.collect()
        restored = rss_bytes() or 0
        if coordinator.open_cases() != n:
            raise RuntimeError(f"{coordinator.open_cases():,} open cases restored, not {n:,}")
        # The latest cases move (a transition reads each state): each store fills its
        # objects up to its limit, as under load.
        moved = min(n, HOT_STATES * CASE_PARTITIONS)
        for i in range(n - moved, n):
            if coordinator.state(f"m-{i:08d}") is None:
                raise RuntimeError(f"case m-{i:08d} was not restored")
        gc.collect()
        loaded = rss_bytes() or 0
    return {
        "cases": n,
        "restore_s": seconds,
        "rss_before": before,
        "rss_restored": restored,
        "rss_hot": loaded,
        "moved": moved,
        "bytes_per_case": (loaded - before) / n,
        "gib": (loaded - before) / 2**30,
        "gib_per_million": (loaded - before) / n * 1e6 / 2**30,
    }


# -- 3. restore -----------------------------------------------------------------------------------


def state_partition(case_id: str) -> int:
    return partition_for(case_id.encode(), CASE_PARTITIONS, 0)


async def publish_all(b: bus.Bus, messages: Iterable[Message]) -> None:
    batch: list[Message] = []
    for message in messages:
        batch.append(message)
        if len(batch) >= PUBLISH_BATCH:
            await b.publish_batch(batch)
            batch = []
    if batch:
        await b.publish_batch(batch)


async def bench_restore(
    url: str, catalog: PipelineCatalog, changelog: dict[str, bytes]
) -> dict[str, Any]:
    async with bus.connect(url, connect_timeout=30) as b:
        await ensure_topology(b)
        tps = [TopicPartition(STATE.name, p) for p in range(CASE_PARTITIONS)]
        before = sum((await b.end_offsets(tps)).values())
        began = time.perf_counter()
        await publish_all(
            b,
            (
                Message(STATE.name, value, key=case_id.encode(), partition=state_partition(case_id))
                for case_id, value in changelog.items()
            ),
        )
        write_s = time.perf_counter() - began
        records = sum((await b.end_offsets(tps)).values())
        coordinator = Coordinator(
            bus=b,
            codec=AvroCodec(Registry(MemorySchemaStore())),
            catalog=catalog,
            producer=PRODUCER,
            instance=f"bench-restore-{uuid.uuid4().hex[:8]}",
        )
        gc.collect()
        cpu = time.process_time()
        began = time.perf_counter()
        await coordinator.restore(set(range(CASE_PARTITIONS)))
        seconds = time.perf_counter() - began
        cpu_s = time.process_time() - cpu
        ours = sum(coordinator.state(c) is not None for c in list(changelog)[:1000])
        if ours != min(1000, len(changelog)):
            raise RuntimeError(f"restore missed states: {ours} of the first 1000 found")
        restored = coordinator.stats.restored
        del coordinator
        # How much of the restore is decoding the states alone.
        gc.collect()
        began = time.perf_counter()
        for value in changelog.values():
            CaseState.from_bytes(value)
        decode_s = time.perf_counter() - began
        if url.startswith("kafka"):
            # The topic outlives this run: drop our states again (compaction removes them).
            await publish_all(
                b,
                (
                    Message(STATE.name, None, key=c.encode(), partition=state_partition(c))
                    for c in changelog
                ),
            )
    return {
        "bus": url.split(":")[0],
        "cases": len(changelog),
        "records_before": before,
        "records_read": records,
        "states_restored": restored,
        "write_s": write_s,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "decode_only_s": decode_s,
        "states_s": restored / seconds if seconds else float("inf"),
        "records_s": records / seconds if seconds else float("inf"),
    }


# -- 4. end to end with instant agents --------------------------------------------------------


def instant_outputs() -> dict[str, Outcome]:
    return {
        capability: Outcome(output_for(capability, "case-1", 1), usage("instant"))
        for capability in CAPABILITIES
    }


async def schema_id(codec: AvroCodec, event: Event) -> bytes:
    """The 4-byte schema id in the Confluent frame of `event` on case-events."""
    return (await codec.encode(event, CASE_EVENTS.name))[1:5]


@dataclass
class Batch:
    """Cases submitted together and timed until each one closed."""

    seconds: float
    latencies: list[float]
    failed: int


async def run_batch(
    b: bus.Bus,
    codec: AvroCodec,
    ids: Sequence[str],
    closing_ids: tuple[bytes, bytes],
    progress: Progress | None = None,
) -> Batch:
    """Submit `ids` (in batches of 100) and wait for their CaseCompleted (or CaseFailed).

    Closing events are told apart by the schema id in their Confluent frame, without
    decoding every case event.
    """
    completed_id, failed_id = closing_ids
    submissions = [
        Message(
            INTAKE.name,
            await codec.encode(submission(c, i, datetime.now(UTC)), INTAKE.name),
            key=c.encode(),
        )
        for i, c in enumerate(ids)
    ]
    tps = [TopicPartition(CASE_EVENTS.name, p) for p in range(CASE_EVENTS.partitions)]
    ends = await b.end_offsets(tps)
    pending = set(ids)
    failed = 0
    submitted: dict[str, float] = {}
    done: dict[str, float] = {}
    async with b.reader(tps) as reader:
        for tp in tps:
            await reader.seek(tp, ends[tp])
        began = time.perf_counter()
        for start in range(0, len(submissions), 100):
            batch = submissions[start : start + 100]
            await b.publish_batch(batch)
            at = time.perf_counter()
            for message in batch:
                submitted[(message.key or b"").decode()] = at
        bar = progress.add_task("cases closed", total=len(ids)) if progress else None
        with anyio.fail_after(max(120, len(ids) / 10)):
            while pending:
                if progress is not None and bar is not None:
                    progress.update(bar, completed=len(ids) - len(pending))
                for record in await reader.poll(timeout=0.2, max_records=5000):
                    case_id = (record.key or b"").decode()
                    kind = record.value[1:5]
                    if case_id in pending and kind in (completed_id, failed_id):
                        pending.discard(case_id)
                        done[case_id] = time.perf_counter()
                        failed += kind == failed_id
        elapsed = time.perf_counter() - began
    return Batch(elapsed, sorted(done[c] - submitted[c] for c in ids), failed)


def telemetry_variants() -> dict[str, Sequence[Middleware]]:
    """Bus middleware to compare end to end: none, metrics (every process has them), and
    metrics with tracing into a batch span processor (spans kept in memory, not sent)."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
    traced = Telemetry("bench", tracer_provider=provider, system="caseyard-embedded")
    return {
        "none": (),
        "metrics": Telemetry("bench").middleware,
        "metrics+tracing": traced.middleware,
    }


@asynccontextmanager
async def instant_saga(
    b: bus.Bus, codec: AvroCodec, catalog: PipelineCatalog, run: str, *, timeout: float = 300
) -> AsyncIterator[Coordinator]:
    """A coordinator and four instant agents (the real agent runtime) running on `b`,
    ready (groups joined, changelog restored) when entered, stopped on exit."""
    coordinator = Coordinator(
        bus=b, codec=codec, catalog=catalog, producer=PRODUCER, instance=f"bench-{run}"
    )
    async with instant_agents(b, codec, also=(coordinator,), timeout=timeout):
        # The coordinator restores the changelog when it gets its partitions (it
        # signals nothing then: poll).
        with anyio.fail_after(timeout):
            while len(coordinator.loaded()) < CASE_PARTITIONS:  # noqa: ASYNC110
                await anyio.sleep(0.05)
        yield coordinator


@asynccontextmanager
async def instant_agents(
    b: bus.Bus,
    codec: AvroCodec,
    *,
    also: Sequence[Coordinator] = (),
    timeout: float = 300,
) -> AsyncIterator[None]:
    """Four instant agents (the real agent runtime, one per capability) and `also`
    running on `b`, ready (groups joined) when entered, stopped on exit."""
    outcomes = instant_outputs()

    def instant(capability: str) -> TaskWork:
        outcome = outcomes[capability]

        async def work(task: TaskRequested) -> Outcome:
            return outcome

        return work

    stop = anyio.Event()
    # Processed stores on disk, as a deployment keeps them (`caseyard run agent`).
    with tempfile.TemporaryDirectory(prefix="caseyard-bench-") as state:
        stores = {c: ProcessedStore(Path(state) / f"{c}.db") for c in CAPABILITIES}
        agents = [
            AgentService(
                # Stable names: the groups' offsets carry over between runs on Kafka.
                name=f"bench-{capability}",
                bus=b,
                codec=codec,
                topics=[tasks_topic(capability).name],
                handler=TaskHandler(capability, instant(capability), PRODUCER),
                store=store,
                producer=PRODUCER,
                retry=RetryPolicy(delays_s=()),
            )
            for capability, store in stores.items()
        ]
        try:
            async with anyio.create_task_group() as tg:
                runners: list[Coordinator | AgentService] = [*also, *agents]
                for runner in runners:
                    tg.start_soon(runner.run, stop)
                with anyio.fail_after(timeout):
                    for runner in runners:
                        await runner.ready.wait()
                yield
                stop.set()
        finally:
            for store in stores.values():
                store.close()


def sequential_catalog() -> PipelineCatalog:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench-sequential.yaml").write_text(SEQUENTIAL)
        return PipelineCatalog.load(tmp)


async def bench_e2e(
    url: str,
    n: int,
    console: Console,
    *,
    telemetry: str = "none",
    middleware: Sequence[Middleware] = (),
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    kafka = url.startswith("kafka")
    async with (
        bus.connect(url, session_timeout_ms=6000, connect_timeout=30, middleware=middleware) as b,
        AsyncExitStack() as stack,
    ):
        await ensure_topology(b)
        # On Kafka the topics outlive a run: schemas must too, or old records undecodable.
        store: SchemaStore = (
            await stack.enter_async_context(BusSchemaStore(b)) if kafka else MemorySchemaStore()
        )
        codec = AvroCodec(Registry(store))
        base = {"case_id": "x", "correlation_id": "x", "occurred_at": T0, "producer": PRODUCER}
        closing_ids = (
            await schema_id(codec, CaseCompleted(**base, outcome="done")),
            await schema_id(codec, CaseFailed(**base, reason="x")),
        )
        began = time.perf_counter()
        async with instant_saga(b, codec, sequential_catalog(), run) as coordinator:
            # A few cases first, so every consumer group has joined and every schema is
            # registered before the timed run.
            warm = await run_batch(b, codec, case_ids(f"warm-{run}", 5), closing_ids)
            startup = time.perf_counter() - began
            console.print(f"  {n} cases on {url.split(':')[0]}, telemetry: {telemetry}")
            stats_before = (coordinator.stats.transitions, coordinator.stats.transactions)
            cpu = time.process_time()
            with Progress(console=console, transient=True) as progress:
                measured = await run_batch(
                    b, codec, case_ids(f"e2e-{run}", n), closing_ids, progress
                )
            cpu_s = time.process_time() - cpu
    transitions = coordinator.stats.transitions - stats_before[0]
    transactions = coordinator.stats.transactions - stats_before[1]
    latencies = measured.latencies
    return {
        "bus": url.split(":")[0],
        "telemetry": telemetry,
        "cases": n,
        "failed": measured.failed,
        "startup_s": startup,
        "warm_up_s": warm.seconds,
        "restored_at_start": coordinator.stats.restored,
        "seconds": measured.seconds,
        "cases_s": n / measured.seconds,
        "cpu_s": cpu_s,
        "latency_p50_s": latencies[len(latencies) // 2],
        "latency_p99_s": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "coordinator_transitions": transitions,
        "coordinator_transactions": transactions,
        "inputs_per_transaction": transitions / max(1, transactions),
    }


# -- report -------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]missed[/red]"


def at_least(label: str, value: float, target: int) -> tuple[str, str, str, str]:
    """A report row for a rate with a floor: the value, the target and whether it is met."""
    return (label, f"{value:,.0f}", f">= {target:,}", verdict(value >= target))


async def bench_replay(n: int, console: Console) -> dict[str, Any]:
    """`caseyard replay --verify` as a user types it, over the log of `n` finished cases.

    The cases run first (the sequential pipeline, instant agents) on a SQLite bus with the
    registry where the CLI finds it; then the command reads the coordinator's input topics
    and the case events, decodes them, rebuilds every case and checks every decision. Its
    rate is the records it reads over its wall time, process start included, and over the
    time after the start (`caseyard --version` timed alone).
    """
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "pipelines").mkdir()
        (work / "pipelines" / "bench-sequential.yaml").write_text(SEQUENTIAL)
        data = work / "data"
        data.mkdir()
        url = f"sqlite:///{work}/bus.db"
        async with bus.connect(url) as b:
            await ensure_topology(b)
            codec = AvroCodec(Registry(SqliteSchemaStore(data / REGISTRY_DB)))
            base = {"case_id": "x", "correlation_id": "x", "occurred_at": T0, "producer": PRODUCER}
            closing_ids = (
                await schema_id(codec, CaseCompleted(**base, outcome="done")),
                await schema_id(codec, CaseFailed(**base, reason="x")),
            )
            console.print(f"  {n:,} cases to replay")
            async with instant_saga(b, codec, sequential_catalog(), run):
                await run_batch(b, codec, case_ids(f"replay-{run}", n), closing_ids)
            topics = (INTAKE.name, RESULTS.name, HUMAN.name, TIMERS.name, CASE_EVENTS.name)
            tps = [TopicPartition(t, p) for t in topics for p in range(CASE_PARTITIONS)]
            records = sum((await b.end_offsets(tps)).values())
        env = {
            **os.environ,
            "CASEYARD_BUS": url,
            "CASEYARD_DATA_DIR": str(data),
            "CASEYARD_PIPELINES_DIR": str(work / "pipelines"),
        }
        began = time.perf_counter()
        await anyio.run_process([CASEYARD, "--version"], env=env, cwd=work)
        startup_s = time.perf_counter() - began
        began = time.perf_counter()
        with anyio.fail_after(1800):
            done = await anyio.run_process(
                [CASEYARD, "replay", "--verify", "--json"], env=env, cwd=work, check=False
            )
        seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"caseyard replay failed: {done.stderr.decode().strip()}")
    replayed = json.loads(done.stdout)
    if len(replayed["cases"]) != n or replayed["differences"]:
        raise RuntimeError(
            f"replay rebuilt {len(replayed['cases'])} of {n} cases with "
            f"{len(replayed['differences'])} differences"
        )
    return {
        "cases": n,
        "records": records,
        "seconds": seconds,
        "startup_s": startup_s,
        "events_s": records / seconds,
        "events_s_after_start": records / (seconds - startup_s),
    }


def report(console: Console, out: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []
    t = out.get("transitions")
    if t:
        rows.append(
            at_least("transitions/s (CPU time)", t["transitions_cpu_s"], TARGET_TRANSITIONS_S)
        )
        rows.append(("transitions/s (wall)", f"{t['transitions_s']:,.0f}", "", ""))
        for label, us in sorted(t["us_by_input"].items()):
            rows.append((f"  µs {label}", f"{us:,.1f}", "", ""))
    m = out.get("memory")
    if m:
        rows.append(("B/open case, live", f"{m['live_bytes_per_case']:,.0f}", "", ""))
        rows.append(("B/open case, restored", f"{m['restored_bytes_per_case']:,.0f}", "", ""))
        if m["rss_bytes_per_case"] is not None:
            rows.append(("B/open case, RSS delta", f"{m['rss_bytes_per_case']:,.0f}", "", ""))
        rows.append(("1M open cases as objects", f"{m['million_cases_gib']:.2f} GiB", "", ""))
        rows.append(
            (
                "changelog B/case",
                f"{m['changelog_bytes_per_case']:,.0f} (max {m['changelog_bytes_max']:,})",
                "",
                "",
            )
        )
    mm = out.get("million")
    if mm:
        rows.append(
            (
                f"{mm['cases']:,} open cases, coordinator RSS",
                f"{mm['gib']:.2f} GiB ({mm['bytes_per_case']:,.0f} B/case)",
                f"< {TARGET_MILLION_GIB:g} GiB" if mm["cases"] >= 1_000_000 else "",
                verdict(mm["gib_per_million"] < TARGET_MILLION_GIB)
                if mm["cases"] >= 1_000_000
                else "(< 1M)",
            )
        )
        rows.append(("  restored in", f"{mm['restore_s']:.1f} s", "", ""))
    for r in out.get("restore", []):
        seconds_100k = r["seconds"] * 100_000 / r["cases"]
        rows.append(
            (
                f"restore, {r['bus']}",
                f"{r['seconds']:.2f} s",
                f"< {TARGET_RESTORE_S:g} s",
                verdict(seconds_100k < TARGET_RESTORE_S) if r["cases"] >= 100_000 else "(< 100k)",
            )
        )
        rows.append(
            (
                "  states/s (records read)",
                f"{r['states_s']:,.0f} ({r['records_read']:,})",
                "",
                "",
            )
        )
        rows.append(("  CPU time (all threads)", f"{r['cpu_s']:.2f} s", "", ""))
        rows.append(("  from_bytes alone, same states", f"{r['decode_only_s']:.2f} s", "", ""))
    plain = {e["bus"]: e["cases_s"] for e in out.get("e2e", []) if e["telemetry"] == "none"}
    for e in out.get("e2e", []):
        ratio = f" ({e['cases_s'] / plain[e['bus']]:.2f}x)" if e["bus"] in plain else ""
        rows.append(
            (
                f"end to end, {e['bus']}, telemetry {e['telemetry']}",
                f"{e['cases_s']:,.0f} cases/s{ratio}",
                "",
                "",
            )
        )
        rows.append(("  wall / CPU time", f"{e['seconds']:.2f} / {e['cpu_s']:.2f} s", "", ""))
        rows.append(
            (
                "  p50 / p99 latency",
                f"{e['latency_p50_s']:.2f} / {e['latency_p99_s']:.2f} s",
                "",
                "",
            )
        )
    rp = out.get("replay")
    if rp:
        rows.append(
            at_least("caseyard replay --verify, events/s", rp["events_s"], TARGET_REPLAY_EVENTS_S)
        )
        rows.append(
            (
                "  records, cases / wall (start)",
                f"{rp['records']:,}, {rp['cases']:,} / {rp['seconds']:.1f} s "
                f"({rp['startup_s']:.1f} s)",
                "",
                "",
            )
        )
        rows.append(("  events/s after the start", f"{rp['events_s_after_start']:,.0f}", "", ""))
    notes = []
    if t:
        notes.append(f"{t['cases']:,} document-intake cases for transitions/s")
    if m or out.get("restore"):
        notes.append(f"{out['args']['open_cases']:,} open cases (after classify)")
    if out.get("e2e"):
        notes.append(f"{out['args']['e2e_cases']:,} cases of 4 steps, instant agents")
    notes.append(f"load average {out['load_avg'][0]:.1f} on {out['cpus']} CPUs")
    table = Table("measure", "result", "target", "", title="coordinator", caption="; ".join(notes))
    for row in rows:
        table.add_row(*row)
    console.print(table)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000, help="cases for transitions/s")
    parser.add_argument("--chunk", type=int, default=5_000, help="cases open at once")
    parser.add_argument("--open-cases", type=int, default=100_000, help="memory and restore")
    parser.add_argument(
        "--traced-cases",
        type=int,
        default=10_000,
        help="open cases built again under tracemalloc (slow) for the live figure",
    )
    parser.add_argument(
        "--million-cases",
        type=int,
        default=1_000_000,
        help="open cases the memory is measured with",
    )
    parser.add_argument("--hold", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--e2e-cases", type=int, default=500)
    parser.add_argument(
        "--replay-cases",
        type=int,
        default=10_000,
        help="finished cases whose log `caseyard replay` reads (at 2,000 its start was a third)",
    )
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    args = parser.parse_args()
    if args.hold:
        sys.stdout.write(json.dumps(await hold(args.hold[0], int(args.hold[1]))) + "\n")
        return
    parts = set(args.only or PARTS)
    kafka = os.environ.get("CASEYARD_BENCH_KAFKA")
    console = Console()
    if not console.is_terminal:
        console.width = 110  # logs: keep the table's rows on one line
    catalog = PipelineCatalog.load(PIPELINES)
    out = run_info(args=vars(args), kafka=kafka)

    if "transitions" in parts:
        console.print(f"transitions: {args.cases:,} document-intake cases")
        drive(catalog, case_ids("warm", 200), Drive())  # warm caches and imports
        out["transitions"] = bench_transitions(catalog, args.cases, args.chunk)
    changelog: dict[str, bytes] = {}
    if parts & {"memory", "million", "restore"}:
        console.print(f"open cases: {args.open_cases:,}")
        memory, changelog = bench_memory(
            catalog,
            args.open_cases,
            args.traced_cases,
            args.chunk,
            console,
            measure="memory" in parts,
        )
        if memory:
            out["memory"] = memory
    if "million" in parts:
        console.print(f"memory: {args.million_cases:,} open cases")
        out["million"] = await bench_million(changelog, args.million_cases, console)
    if "restore" in parts:
        out["restore"] = []
        with tempfile.TemporaryDirectory() as tmp:
            console.print(f"restore: {len(changelog):,} states on sqlite")
            out["restore"].append(
                await bench_restore(f"sqlite:///{tmp}/bus.db", catalog, changelog)
            )
        if kafka:
            console.print(f"restore: {len(changelog):,} states on kafka")
            out["restore"].append(await bench_restore(f"kafka://{kafka}", catalog, changelog))
    del changelog
    if "e2e" in parts:
        out["e2e"] = []
        console.print("end to end with instant agents")
        # The telemetry variants side by side in one run, each on a fresh SQLite bus.
        for label, middleware in telemetry_variants().items():
            with tempfile.TemporaryDirectory() as tmp:
                out["e2e"].append(
                    await bench_e2e(
                        f"sqlite:///{tmp}/bus.db",
                        args.e2e_cases,
                        console,
                        telemetry=label,
                        middleware=middleware,
                    )
                )
        if kafka:
            out["e2e"].append(await bench_e2e(f"kafka://{kafka}", args.e2e_cases, console))

    if "replay" in parts:
        console.print("replay")
        out["replay"] = await bench_replay(args.replay_cases, console)

    report(console, out)
    save(out, "coordinator", console)


if __name__ == "__main__":
    process.tune()  # what `caseyard run` sets
    anyio.run(main)
