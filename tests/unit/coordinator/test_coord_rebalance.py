"""What a rebalance does to the records a coordinator fetched but has not applied yet.

Found by running `bench.scale` round after round: a coordinator kicked out of its group
(its loop starved past the session) joined again with the same partitions, fetched new
records from the reset positions while its listener waited for a transaction in flight,
and the listener then dropped everything waiting, those records included; their positions
were already past them, so 1,873 cases waited for results the coordinator had read. The
rule now: records of a revoked input partition are dropped when it is revoked (its
position restarts from the committed offset), and nothing fetched afterwards is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import bus
from bus import Record, TopicPartition
from bus.errors import TransactionError
from coordinator import Coordinator, PipelineCatalog
from coordinator._service import _Partition, _Restorer
from schemas import AvroCodec, MemorySchemaStore, Producer, Registry
from schemas.topology import CASE_PARTITIONS, INTAKE, RESULTS, STATE

PIPELINES = Path(__file__).resolve().parents[3] / "pipelines"


class Member:
    """The part of a group member the coordinator's listener reads."""

    def __init__(self, partitions: set[int]) -> None:
        self.partitions = partitions

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(
            TopicPartition(topic, p)
            for topic in (INTAKE.name, RESULTS.name)
            for p in self.partitions
        )

    def paused(self) -> frozenset[TopicPartition]:
        return frozenset()

    async def committed(self, tp: TopicPartition) -> int | None:
        return None  # nothing committed: no position to seek to


def on(b: bus.Bus) -> Coordinator:
    return Coordinator(
        bus=b,
        codec=AvroCodec(Registry(MemorySchemaStore())),
        catalog=PipelineCatalog.load(PIPELINES),
        producer=Producer(service="test", version="1"),
    )


def record(topic: str, partition: int, offset: int) -> Record:
    return Record(topic, partition, offset, 0, b"case", b"value", ())


@pytest.mark.anyio
async def test_revoked_records_are_dropped_and_records_fetched_after_are_kept() -> None:
    async with bus.connect("memory://") as b:
        coordinator = on(b)
        await b.ensure_topics([bus.TopicSpec(STATE.name, partitions=CASE_PARTITIONS)])
        await coordinator.restore({0, 1})
        member = Member({0, 1})
        listener = _Restorer(coordinator)
        listener.consumer = member  # type: ignore[assignment]
        kept, moved = _Partition(0), _Partition(1)
        coordinator._tasks = {0: kept, 1: moved}
        kept.add(record(RESULTS.name, 0, 10))
        moved.add(record(RESULTS.name, 1, 20))
        moved.rewound = {TopicPartition(INTAKE.name, 1): 5}

        # A partial rebalance (the embedded bus's): partition 1 goes, 0 stays, and 0's
        # position is not reset, so what waits of it must stay.
        await listener.on_revoked(
            frozenset({TopicPartition(RESULTS.name, 1), TopicPartition(INTAKE.name, 1)})
        )
        assert [r.offset for r in kept.pending] == [10]
        assert moved.pending == [] and moved.rewound == {}

        # Fetched from the new assignment before the listener is told about it.
        kept.add(record(RESULTS.name, 0, 11))
        member.partitions = {0}
        await listener.on_assigned(frozenset())
        assert [r.offset for r in kept.pending] == [10, 11]
        assert coordinator.loaded() == [0]

        # Kafka's eager rebalance revokes everything, then assigns again.
        await listener.on_revoked(member.assignment())
        assert kept.pending == []
        kept.add(record(RESULTS.name, 0, 10))  # fetched again from the committed offset
        await listener.on_assigned(member.assignment())
        assert [r.offset for r in kept.pending] == [10]


class Seeking(Member):
    """A member that remembers where it was told to read from."""

    def __init__(self, partitions: set[int]) -> None:
        super().__init__(partitions)
        self.seeks: dict[TopicPartition, int] = {}

    async def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


@pytest.mark.anyio
async def test_an_aborted_batch_rewinds_every_input_whose_records_it_drops() -> None:
    """The batch had intake records of partition 0; results of partition 0 were fetched
    while its transaction was in flight. When it aborts, both are read again: the intake
    from the batch's first record, the results from the first one dropped (a rewind of
    the batch's inputs alone lost the results, whose position had moved past them)."""
    async with bus.connect("memory://") as b:
        coordinator = on(b)
        member = Seeking({0, 1})
        waiting, other = _Partition(0), _Partition(1)
        coordinator._tasks = {0: waiting, 1: other}
        waiting.add(record(RESULTS.name, 0, 7))
        waiting.add(record(RESULTS.name, 0, 8))
        other.add(record(RESULTS.name, 1, 3))
        intake = TopicPartition(INTAKE.name, 0)
        await coordinator._rewind(member, {intake: 10}, {0, 1})  # type: ignore[arg-type]
        results = TopicPartition(RESULTS.name, 0)
        assert member.seeks == {intake: 10, results: 7}
        assert waiting.pending == [] and waiting.rewound == {intake: 10, results: 7}
        # Another partition's records are not touched.
        assert [r.offset for r in other.pending] == [3]
        # A partition no longer owned is left to its new owner.
        member.seeks = {}
        await coordinator._rewind(member, {TopicPartition(INTAKE.name, 1): 4}, {0})  # type: ignore[arg-type]
        assert member.seeks == {} and [r.offset for r in other.pending] == [3]


@pytest.mark.anyio
async def test_a_fenced_transaction_is_one_warning_line_and_its_batch_comes_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A rebalance fences a member mid-transaction: the expected path, logged as one line
    saying why (the traceback only at debug level), and the batch's inputs rewound."""
    async with bus.connect("memory://") as b:
        coordinator = on(b)

        @asynccontextmanager
        async def fenced(transactional_id: str) -> AsyncIterator[bus.Transaction]:
            raise TransactionError("producer fenced by a newer instance")
            yield  # pragma: no cover

        monkeypatch.setattr(b, "begin", fenced)
        batch = {0: [record(RESULTS.name, 0, 7), record(RESULTS.name, 0, 8)]}
        with caplog.at_level(logging.INFO, logger="coordinator"):
            rewind = await coordinator._apply(Member({0}), batch)  # type: ignore[arg-type]
        assert rewind == {TopicPartition(RESULTS.name, 0): 7}
        assert coordinator.stats.aborted == 1
        (line,) = [r for r in caplog.records if "transaction aborted" in r.getMessage()]
        assert line.getMessage() == (
            "transaction aborted (TransactionError: producer fenced by a newer instance); "
            "the batch comes again"
        )
        assert line.levelno == logging.WARNING and not line.exc_info
