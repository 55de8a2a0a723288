"""The agent runtime on the memory bus: idempotency, retries, dead letters, order, stop.

What happens to each kind of bad input:
- undecodable bytes -> a dead letter ("undecodable"), nothing else, the loop goes on;
- a non-retryable error -> TaskFailed(retryable=False) + a dead letter ("not retryable");
- a retryable error -> the retry topic; exhausted -> TaskFailed(retryable=True) + dead letter;
- an expired task -> skipped, no model call, no result.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

import bus
from agents.runtime import AgentService, Outcome, ProcessedStore, RetryPolicy, TaskHandler
from bus import Bus
from caseyard.errors import CaseyardError
from caseyard.wiring import ensure_topology
from schemas import (
    AvroCodec,
    ClassifyOutput,
    DeadLetter,
    DocType,
    MemorySchemaStore,
    ModelUsage,
    Producer,
    Registry,
    TaskCompleted,
    TaskFailed,
    TaskInput,
    TaskRequested,
)
from schemas.dead_letters import DLQ_REASON
from schemas.topology import DEAD_LETTERS, RESULTS, tasks_topic
from tests.helpers import drain

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PRODUCER = Producer(service="test", version="1")
TASKS = tasks_topic("classify").name


class Flaky(CaseyardError):
    retryable = True


class Broken(CaseyardError):
    retryable = False


@dataclass
class Model:
    """A fake model: records calls, fails as scripted per task id."""

    failures: dict[str, list[BaseException]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def __call__(self, task: TaskRequested) -> Outcome:
        self.calls.append(task.task_id)
        script = self.failures.get(task.task_id)
        if script:
            raise script.pop(0)
        return Outcome(
            ClassifyOutput(doc_type=DocType.INVOICE, confidence=0.9),
            ModelUsage(provider="fake", model="m"),
        )


def task(task_id: str, case: str = "case-1", *, expired: bool = False) -> TaskRequested:
    return TaskRequested(
        case_id=case,
        correlation_id=case,
        occurred_at=NOW,
        producer=PRODUCER,
        task_id=task_id,
        step="classify",
        capability="classify",
        attempt=1,
        input=TaskInput(),
        deadline=NOW + (timedelta(seconds=-1) if expired else timedelta(hours=1)),
    )


@dataclass
class World:
    bus: Bus
    codec: AvroCodec
    model: Model
    store_path: Path

    def service(self) -> AgentService:
        return AgentService(
            name="classifier",
            bus=self.bus,
            codec=self.codec,
            topics=[TASKS],
            handler=TaskHandler("classify", self.model, PRODUCER, clock=lambda: NOW),
            store=ProcessedStore(self.store_path),
            producer=PRODUCER,
            retry=RetryPolicy(delays_s=(0.01, 0.01)),
        )

    async def send(self, *tasks: TaskRequested) -> None:
        for t in tasks:
            await self.bus.publish(TASKS, await self.codec.encode(t, TASKS), key=t.case_id.encode())

    async def run_until(self, results: int, letters: int = 0) -> tuple[list[object], list[object]]:
        """Run a fresh service until `results` results and `letters` dead letters exist."""
        service = self.service()
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(service.run, stop)
            out = await self.read(RESULTS.name, results)
            dead = await self.read(DEAD_LETTERS.name, letters)
            stop.set()
        return out, dead

    async def read(self, topic: str, count: int) -> list[object]:
        if count == 0:
            return []
        async with self.bus.consumer(f"reader-{topic}-{count}", [topic]) as c:
            return [await self.codec.decode(r.value) for r in await drain(c, count)]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with bus.connect("memory://") as b:
        await ensure_topology(b)
        yield World(b, AvroCodec(Registry(MemorySchemaStore())), Model(), tmp_path / "done.db")


async def test_task_becomes_one_result(world: World) -> None:
    await world.send(task("t1"))
    (result,), _ = await world.run_until(1)
    assert isinstance(result, TaskCompleted)
    assert (result.task_id, result.case_id, result.attempt) == ("t1", "case-1", 1)
    assert isinstance(result.output, ClassifyOutput)
    assert world.model.calls == ["t1"]


async def test_redelivered_task_replays_the_recorded_result_without_a_model_call(
    world: World,
) -> None:
    await world.send(task("t1"), task("t1"))
    results, _ = await world.run_until(2)
    assert world.model.calls == ["t1"]
    assert results[0] == results[1]


async def test_retryable_error_goes_through_the_retry_topic(world: World) -> None:
    world.model.failures["t1"] = [Flaky("rate limited")]
    await world.send(task("t1"))
    (result,), _ = await world.run_until(1)
    assert isinstance(result, TaskCompleted)
    assert world.model.calls == ["t1", "t1"]


async def test_exhausted_retries_fail_the_task_and_dead_letter_it(world: World) -> None:
    world.model.failures["t1"] = [Flaky("down"), Flaky("down"), Flaky("down")]
    await world.send(task("t1"))
    (result,), (letter,) = await world.run_until(1, 1)
    assert isinstance(result, TaskFailed)
    assert (result.error_class, result.retryable) == ("Flaky", True)
    assert isinstance(letter, DeadLetter)
    assert letter.attempts == 3
    assert letter.reason == "classifier: retries exhausted"
    assert letter.source_topic == TASKS


async def test_non_retryable_error_fails_at_once(world: World) -> None:
    world.model.failures["t1"] = [Broken("unreadable pdf")]
    await world.send(task("t1"))
    (result,), (letter,) = await world.run_until(1, 1)
    assert isinstance(result, TaskFailed)
    assert (result.message, result.retryable) == ("unreadable pdf", False)
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.attempts) == ("classifier: not retryable", 1)
    assert world.model.calls == ["t1"]


async def test_undecodable_bytes_are_dead_lettered_and_the_loop_goes_on(world: World) -> None:
    await world.bus.publish(TASKS, b"\x00\x00\x00\x00\x63garbage", key=b"case-9")
    await world.send(task("t2"))
    (result,), (letter,) = await world.run_until(1, 1)
    assert isinstance(result, TaskCompleted)
    assert isinstance(letter, DeadLetter)
    assert letter.reason == "classifier: undecodable"
    assert letter.original_value == b"\x00\x00\x00\x00\x63garbage"
    async with world.bus.consumer("headers", [DEAD_LETTERS.name]) as c:
        (record,) = await drain(c, 1)
    assert record.header(DLQ_REASON) == b"classifier: undecodable"


async def test_expired_task_is_skipped(world: World) -> None:
    await world.send(task("late", expired=True), task("t1"))
    (result,), _ = await world.run_until(1)
    assert isinstance(result, TaskCompleted)
    assert result.task_id == "t1"
    assert world.model.calls == ["t1"]


async def test_order_within_a_case_is_kept_under_concurrency(world: World) -> None:
    tasks = [task(f"{case}-{n}", case) for n in range(10) for case in ("a", "b", "c")]
    await world.send(*tasks)
    results, _ = await world.run_until(30)
    for case in ("a", "b", "c"):
        done = [r.task_id for r in results if isinstance(r, TaskCompleted) and r.case_id == case]
        assert done == [f"{case}-{n}" for n in range(10)]


async def test_restart_after_stop_does_nothing_twice(world: World) -> None:
    await world.send(task("t1"), task("t2"))
    await world.run_until(2)
    await world.send(task("t3"))
    results, _ = await world.run_until(3)
    assert world.model.calls == ["t1", "t2", "t3"]
    assert [r.task_id for r in results if isinstance(r, TaskCompleted)] == ["t1", "t2", "t3"]
