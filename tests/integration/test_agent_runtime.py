"""The agent runtime on the memory bus and on real Kafka: idempotency, retry topics, dead
letters, order, stop.

What happens to each kind of bad input:
- undecodable bytes -> a dead letter ("undecodable"), nothing else, the loop goes on;
- a well-formed event the agent does not take (another type, a task of another
  capability) -> a dead letter ("misplaced": expected what, found what), the loop goes on;
- a non-retryable error -> TaskFailed(retryable=False) + a dead letter ("not retryable");
- a retryable error -> the retry topic; exhausted -> TaskFailed(retryable=True) + dead letter;
- an expired task -> skipped, no model call, no result.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

import bus
from agents import runtime
from agents.runtime import AgentService, Outcome, ProcessedStore, RetryPolicy, TaskHandler
from bus import Bus, TopicPartition, TopicSpec
from bus._base import ConsumerBase
from bus.errors import CommitFailed
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
from schemas.dead_letters import DLQ_REASON, DLQ_REDRIVEN_FROM
from schemas.topology import DEAD_LETTERS, RESULTS, tasks_topic
from tests.helpers import drain, eventually

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
    """One test's agent; its own task topic and case ids, so a shared broker is fine."""

    bus: Bus
    codec: AvroCodec
    model: Model
    store_path: Path
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def tasks(self) -> str:
        return f"test.tasks.{self.run}"

    def service(self) -> AgentService:
        return AgentService(
            name=f"classifier-{self.run}",
            bus=self.bus,
            codec=self.codec,
            topics=[self.tasks],
            handler=TaskHandler("classify", self.model, PRODUCER, clock=lambda: NOW),
            store=ProcessedStore(self.store_path),
            producer=PRODUCER,
            retry=RetryPolicy(delays_s=(0.01, 0.01)),
        )

    def task(self, task_id: str, case: str = "case-1", *, expired: bool = False) -> TaskRequested:
        return task(task_id, f"{self.run}-{case}", expired=expired)

    async def send(self, *tasks: TaskRequested) -> None:
        for t in tasks:
            value = await self.codec.encode(t, self.tasks)
            await self.bus.publish(self.tasks, value, key=t.case_id.encode())

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
        """This test's first `count` events on `topic` (others' are skipped)."""
        out: list[object] = []
        if count == 0:
            return out
        async with self.bus.consumer(f"reader-{self.run}-{uuid.uuid4().hex}", [topic]) as c:
            deadline = anyio.current_time() + 60
            while len(out) < count:
                assert anyio.current_time() < deadline, f"{len(out)} of {count} on {topic}"
                for r in await c.poll(timeout=0.2):
                    if (r.key or b"").decode().startswith(self.run):
                        out.append(await self.codec.decode(r.value))
        return out


class RuntimeContract:
    """The same tests on every bus; subclasses give `url`."""

    url: str

    @pytest.fixture
    async def world(self, tmp_path: Path) -> AsyncIterator[World]:
        async with bus.connect(self.url, session_timeout_ms=6000, connect_timeout=30) as b:
            await ensure_topology(b)
            world = World(b, AvroCodec(Registry(MemorySchemaStore())), Model(), tmp_path / "d.db")
            await b.ensure_topics([TopicSpec(world.tasks, partitions=3)])
            yield world

    async def test_task_becomes_one_result(self, world: World) -> None:
        await world.send(world.task("t1"))
        (result,), _ = await world.run_until(1)
        assert isinstance(result, TaskCompleted)
        assert (result.task_id, result.case_id, result.attempt) == ("t1", f"{world.run}-case-1", 1)
        assert isinstance(result.output, ClassifyOutput)
        assert world.model.calls == ["t1"]

    async def test_redelivered_task_replays_the_recorded_result_without_a_model_call(
        self, world: World
    ) -> None:
        await world.send(world.task("t1"), world.task("t1"))
        results, _ = await world.run_until(2)
        assert world.model.calls == ["t1"]
        assert results[0] == results[1]

    async def test_a_commit_refused_after_a_rebalance_is_counted_and_the_agent_goes_on(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # What a member dropped from its group while it held a batch (its loop stalled
        # past the session) is told when it commits: the batch comes again, elsewhere or
        # here, and the agent must not die of it.
        refused: list[str] = []
        commit = ConsumerBase.commit

        async def refused_once(
            consumer: ConsumerBase, offsets: Mapping[TopicPartition, int] | None = None
        ) -> None:
            if not refused and consumer.group == f"agent.classifier-{world.run}":
                refused.append(consumer.group)
                raise CommitFailed(f"group {consumer.group!r}: partitions were rebalanced")
            await commit(consumer, offsets)

        monkeypatch.setattr(ConsumerBase, "commit", refused_once)
        await world.send(world.task("t1"))
        service = world.service()
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(service.run, stop)
            await world.read(RESULTS.name, 1)
            await world.send(world.task("t2"))
            results = await world.read(RESULTS.name, 2)
            stop.set()
        assert refused and service.stats.commits_failed == 1
        assert [r.task_id for r in results if isinstance(r, TaskCompleted)] == ["t1", "t2"]
        assert world.model.calls == ["t1", "t2"]

    async def test_what_was_handled_is_committed_before_the_group_moves_its_partitions(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Commits wait for the interval (the first batch's goes at once); a partition the
        # group takes away is committed first, so its next owner does not take again
        # what was handled.
        monkeypatch.setattr(runtime, "COMMIT_INTERVAL_S", 3600.0)
        service = world.service()
        stop = anyio.Event()
        await world.send(world.task("t0"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(service.run, stop)
            await world.read(RESULTS.name, 1)
            tps = [TopicPartition(world.tasks, p) for p in range(3)]
            for tp in tps:  # one record handled and not committed yet on every partition
                t = world.task(f"t{tp.partition + 1}", f"case-{tp.partition}")
                value = await world.codec.encode(t, world.tasks)
                await world.bus.publish(tp.topic, value, partition=tp.partition)
            await world.read(RESULTS.name, 4)
            ends = await world.bus.end_offsets(tps)
            async with world.bus.consumer(service.group, [world.tasks]) as joining:

                async def handed_over() -> None:
                    await joining.poll(timeout=0.05, max_records=0)
                    assert joining.assignment()
                    for tp in joining.assignment():
                        assert await joining.committed(tp) == ends[tp]

                await eventually(handed_over, timeout=60)
            stop.set()
        assert sorted(world.model.calls) == ["t0", "t1", "t2", "t3"]

    async def test_retryable_error_goes_through_the_retry_topic(self, world: World) -> None:
        world.model.failures["t1"] = [Flaky("rate limited")]
        await world.send(world.task("t1"))
        (result,), _ = await world.run_until(1)
        assert isinstance(result, TaskCompleted)
        assert world.model.calls == ["t1", "t1"]

    async def test_exhausted_retries_fail_the_task_and_dead_letter_it(self, world: World) -> None:
        world.model.failures["t1"] = [Flaky("down"), Flaky("down"), Flaky("down")]
        await world.send(world.task("t1"))
        (result,), (letter,) = await world.run_until(1, 1)
        assert isinstance(result, TaskFailed)
        assert (result.error_class, result.retryable) == ("Flaky", True)
        assert isinstance(letter, DeadLetter)
        assert letter.attempts == 3
        assert letter.reason == f"classifier-{world.run}: retries exhausted"
        assert letter.source_topic == world.tasks

    async def test_non_retryable_error_fails_at_once(self, world: World) -> None:
        world.model.failures["t1"] = [Broken("unreadable pdf")]
        await world.send(world.task("t1"))
        (result,), (letter,) = await world.run_until(1, 1)
        assert isinstance(result, TaskFailed)
        assert (result.message, result.retryable) == ("unreadable pdf", False)
        assert isinstance(letter, DeadLetter)
        assert (letter.reason, letter.attempts) == (f"classifier-{world.run}: not retryable", 1)
        assert world.model.calls == ["t1"]

    async def test_redriven_dead_letter_is_handled_anew(self, world: World) -> None:
        # Redelivery replays the recorded failure; a redrive (`caseyard dlq redrive`
        # republishes with the dlq.redriven_from header) asks for the work again.
        world.model.failures["t1"] = [Broken("model bug")]
        t1 = world.task("t1")
        await world.send(t1, t1)
        (first, replayed), (letter,) = await world.run_until(2, 1)
        assert isinstance(first, TaskFailed) and replayed == first
        assert isinstance(letter, DeadLetter)
        await world.bus.publish(
            world.tasks,
            letter.original_value,
            key=letter.original_key,
            headers=((DLQ_REDRIVEN_FROM, letter.event_id.encode()),),
        )
        results, _ = await world.run_until(3, 1)
        assert isinstance(results[2], TaskCompleted)
        assert world.model.calls == ["t1", "t1"]
        # The new outcome replaced the recorded failure: a redelivery now replays it.
        await world.send(t1)
        results, _ = await world.run_until(4, 1)
        assert results[3] == results[2]
        assert world.model.calls == ["t1", "t1"]

    async def test_undecodable_bytes_are_dead_lettered_and_the_loop_goes_on(
        self, world: World
    ) -> None:
        await world.bus.publish(
            world.tasks, b"\x00\x00\x00\x00\x63garbage", key=f"{world.run}-case-9".encode()
        )
        await world.send(world.task("t2"))
        (result,), (letter,) = await world.run_until(1, 1)
        assert isinstance(result, TaskCompleted)
        assert isinstance(letter, DeadLetter)
        assert letter.reason == f"classifier-{world.run}: undecodable"
        assert letter.original_value == b"\x00\x00\x00\x00\x63garbage"
        async with world.bus.consumer(f"headers-{world.run}", [DEAD_LETTERS.name]) as c:
            records = [r for r in await drain(c, 1) if r.key == f"{world.run}-case-9".encode()]
            while not records:
                records = [r for r in await c.poll() if r.key == f"{world.run}-case-9".encode()]
        assert records[0].header(DLQ_REASON) == f"classifier-{world.run}: undecodable".encode()

    async def test_events_the_agent_does_not_take_are_dead_lettered(self, world: World) -> None:
        wrong_type = TaskFailed(
            case_id=f"{world.run}-case-7",
            correlation_id="c",
            occurred_at=NOW,
            producer=PRODUCER,
            task_id="x",
            capability="classify",
            attempt=1,
            error_class="E",
            message="m",
            retryable=False,
        )
        other = world.task("t9", "case-8").model_copy(update={"capability": "extract"})
        for event in (wrong_type, other):
            value = await world.codec.encode(event, world.tasks)
            await world.bus.publish(world.tasks, value, key=event.case_id.encode())
        await world.send(world.task("t3"))
        (result,), letters = await world.run_until(1, 2)
        assert isinstance(result, TaskCompleted) and result.task_id == "t3"
        reasons = {
            letter.case_id: (letter.reason, letter.error_class, letter.message)
            for letter in letters
            if isinstance(letter, DeadLetter)
        }
        misplaced = f"classifier-{world.run}: misplaced"
        expected = "expected TaskRequested for 'classify', found"
        assert reasons == {
            f"{world.run}-case-7": (misplaced, "MisplacedEvent", f"{expected} TaskFailed"),
            f"{world.run}-case-8": (
                misplaced,
                "MisplacedEvent",
                f"{expected} TaskRequested for 'extract'",
            ),
        }
        assert world.model.calls == ["t3"]

    async def test_expired_task_is_skipped(self, world: World) -> None:
        await world.send(world.task("late", expired=True), world.task("t1"))
        (result,), _ = await world.run_until(1)
        assert isinstance(result, TaskCompleted)
        assert result.task_id == "t1"
        assert world.model.calls == ["t1"]

    async def test_order_within_a_case_is_kept_under_concurrency(self, world: World) -> None:
        tasks = [world.task(f"{case}-{n}", case) for n in range(10) for case in ("a", "b", "c")]
        await world.send(*tasks)
        results, _ = await world.run_until(30)
        for case in ("a", "b", "c"):
            done = [
                r.task_id
                for r in results
                if isinstance(r, TaskCompleted) and r.case_id == f"{world.run}-{case}"
            ]
            assert done == [f"{case}-{n}" for n in range(10)]

    async def test_restart_after_stop_does_nothing_twice(self, world: World) -> None:
        await world.send(world.task("t1"), world.task("t2"))
        await world.run_until(2)
        await world.send(world.task("t3"))
        results, _ = await world.run_until(3)
        assert world.model.calls == ["t1", "t2", "t3"]
        assert [r.task_id for r in results if isinstance(r, TaskCompleted)] == ["t1", "t2", "t3"]


class TestRuntimeOnMemory(RuntimeContract):
    url = "memory://"


@pytest.mark.kafka
class TestRuntimeOnKafka(RuntimeContract):
    @pytest.fixture(autouse=True)
    def _kafka(self, kafka_bootstrap: str) -> None:
        self.url = f"kafka://{kafka_bootstrap}"
