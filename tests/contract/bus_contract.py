"""The bus contract: one suite, subclassed once per backend (memory, sqlite, kafka).

A subclass provides `url` (a fixture) and may override `restart` (what "the broker or
process restarts" means for it). Every test makes its own topics and groups.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, nullcontext

import pytest

import bus
from bus import Bus, Consumer, Message, Record, StartFrom, TopicPartition, TopicSpec
from caseyard.errors import (
    BusClosed,
    BusError,
    CommitFailed,
    InvalidTopic,
    RecordTooLarge,
    TransactionError,
    UnknownTopic,
)
from tests.helpers import drain, eventually, quiet

SESSION_MS = 6000


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Recorder:
    """A rebalance listener that remembers what it was told."""

    def __init__(self) -> None:
        self.assigned: set[TopicPartition] = set()
        self.revoked: set[TopicPartition] = set()
        self.consumer: Consumer | None = None
        self.assignments: list[frozenset[TopicPartition]] = []
        """The consumer's whole assignment at each `on_assigned`."""

    async def on_assigned(self, partitions: frozenset[TopicPartition]) -> None:
        self.assigned |= partitions
        if self.consumer is not None:
            self.assignments.append(self.consumer.assignment())

    async def on_revoked(self, partitions: frozenset[TopicPartition]) -> None:
        self.revoked |= partitions


class Deliveries:
    """A middleware that notes what the bus says became of each message it sent out."""

    def __init__(self) -> None:
        self.told: dict[bytes, str] = {}

    def outgoing(self, message: Message) -> Message:
        return message

    def delivered(self, messages: Sequence[Message], error: BaseException | None) -> None:
        for m in messages:
            assert m.value is not None
            assert m.value not in self.told, f"{m.value!r} told twice"
            self.told[m.value] = "ok" if error is None else type(error).__name__

    def incoming(self, record: Record) -> Record:
        return record

    def processing(self, record: Record, group: str) -> AbstractContextManager[None]:
        return nullcontext()


@pytest.mark.anyio
class BusContract:
    """What every backend must do the same way."""

    supports_restart = True

    def connect(self, url: str) -> Bus:
        return bus.connect(url, session_timeout_ms=SESSION_MS, connect_timeout=20)

    @pytest.fixture
    async def b(self, url: str) -> AsyncIterator[Bus]:
        async with self.connect(url) as b:
            yield b

    async def restart(self, url: str, b: Bus) -> Bus:
        """Close `b`, restart what sits behind it, return a new entered bus."""
        await b.close()
        return await self.connect(url).__aenter__()

    async def topic(self, b: Bus, partitions: int = 1) -> str:
        topic = name("t")
        await b.ensure_topics([TopicSpec(topic, partitions=partitions)])
        return topic

    async def test_record_round_trip_with_headers(self, b: Bus) -> None:
        topic = await self.topic(b)
        headers = (("traceparent", b"00-abc-01"), ("empty", b""), ("bin", bytes(range(256))))
        pos = await b.publish(topic, b"value", key=b"k1", headers=headers, timestamp_ms=1_000)
        assert (pos.topic, pos.partition, pos.offset) == (topic, 0, 0)
        async with b.consumer(name("g"), [topic]) as c:
            (record,) = await drain(c, 1)
        assert (record.topic, record.partition, record.offset) == (topic, 0, 0)
        assert (record.key, record.value, record.timestamp_ms) == (b"k1", b"value", 1_000)
        assert record.headers == headers
        assert record.header("traceparent") == b"00-abc-01"

    async def test_batch_positions_and_keyless_records(self, b: Bus) -> None:
        topic = await self.topic(b, partitions=3)
        positions = await b.publish_batch(
            [Message(topic, f"v{i}".encode(), key=None) for i in range(30)]
        )
        assert len(positions) == 30
        assert all(0 <= p.partition < 3 for p in positions)
        per_partition: dict[int, list[int]] = defaultdict(list)
        for p in positions:
            per_partition[p.partition].append(p.offset)
        for offsets in per_partition.values():
            assert offsets == sorted(offsets) == list(range(offsets[0], offsets[0] + len(offsets)))

    async def test_per_key_order_and_partition(self, b: Bus) -> None:
        topic = await self.topic(b, partitions=4)
        keys = [f"case-{i}".encode() for i in range(8)]
        await b.publish_batch(
            [Message(topic, f"{k.decode()}:{n}".encode(), key=k) for n in range(25) for k in keys]
        )
        async with b.consumer(name("g"), [topic]) as c:
            records = await drain(c, 200)
        seen: dict[bytes, list[int]] = defaultdict(list)
        partition_of: dict[bytes, set[int]] = defaultdict(set)
        for r in records:
            assert r.key is not None
            seen[r.key].append(int(r.value.split(b":")[1]))
            partition_of[r.key].add(r.partition)
        assert all(seq == list(range(25)) for seq in seen.values())
        for key, parts in partition_of.items():
            # The same partition on every backend: Kafka's murmur2 partitioner.
            assert parts == {bus.partition_for(key, 4, 0)}

    async def test_outbox_checks_at_add_and_publishes_in_order_at_flush(self, b: Bus) -> None:
        topic = await self.topic(b, partitions=2)
        outbox = b.outbox()
        keys = [b"a", b"b", b"c"]
        for n in range(10):
            outbox.add([Message(topic, f"{k.decode()}:{n}".encode(), key=k) for k in keys])
        with pytest.raises(InvalidTopic):
            outbox.add([Message("bad topic!", b"x")])  # refused at once, nothing queued
        assert len(outbox) == 30
        assert await b.end_offsets([TopicPartition(topic, p) for p in range(2)]) == {
            TopicPartition(topic, 0): 0,
            TopicPartition(topic, 1): 0,
        }, "nothing is published before flush"
        positions = await outbox.flush()
        assert len(positions) == 30 and len(outbox) == 0
        assert await outbox.flush() == []
        async with b.consumer(name("g"), [topic]) as c:
            records = await drain(c, 30)
        seen: dict[bytes, list[int]] = defaultdict(list)
        for r in records:
            assert r.key is not None
            seen[r.key].append(int(r.value.split(b":")[1]))
        assert seen == {k: list(range(10)) for k in keys}

    async def test_paused_partition_waits_while_others_flow(self, b: Bus) -> None:
        topic = await self.topic(b, partitions=2)
        slow = TopicPartition(topic, 0)
        async with b.consumer(name("g"), [topic]) as c:
            while len(c.assignment()) < 2:  # the topic is empty: nothing is handed out
                assert await c.poll(timeout=0.1) == []
            c.pause(slow)
            assert c.paused() == {slow}
            await b.publish_batch(
                [Message(topic, f"{p}:{n}".encode(), partition=p) for n in range(5) for p in (0, 1)]
            )
            flowing = await drain(c, 5)
            assert [r.value for r in flowing] == [f"1:{n}".encode() for n in range(5)]
            assert await quiet(c) == []
            assert c.assignment() == {slow, TopicPartition(topic, 1)}
            c.resume(slow)
            assert c.paused() == frozenset()
            waited = await drain(c, 5)
            assert [r.value for r in waited] == [f"0:{n}".encode() for n in range(5)]

    async def test_uncommitted_records_come_back_after_restart(self, b: Bus) -> None:
        topic = await self.topic(b)
        group = name("g")
        await b.publish_batch([Message(topic, str(i).encode()) for i in range(10)])
        async with b.consumer(group, [topic]) as c:
            first = await drain(c, 5)
            await c.commit()
            rest = await drain(c, 5)
            assert [r.offset for r in first + rest] == list(range(10))
            assert await c.committed(TopicPartition(topic, 0)) == 5
        async with b.consumer(group, [topic]) as c:
            again = await drain(c, 5)
            assert [r.value for r in again] == [str(i).encode() for i in range(5, 10)]
            await c.commit()
        async with b.consumer(group, [topic]) as c:
            assert await quiet(c) == []

    async def test_commit_only_covers_records_handed_out(self, b: Bus) -> None:
        topic = await self.topic(b)
        group = name("g")
        await b.publish_batch([Message(topic, str(i).encode()) for i in range(6)])
        async with b.consumer(group, [topic]) as c:
            record = await anext(aiter(c))
            assert record.offset == 0
            await c.commit()
            assert c.consumed() == {TopicPartition(topic, 0): 1}
        async with b.consumer(group, [topic]) as c:
            assert [r.offset for r in await drain(c, 5)] == [1, 2, 3, 4, 5]

    async def test_group_members_split_partitions_and_take_over(self, b: Bus) -> None:
        topic = await self.topic(b, partitions=4)
        group = name("g")
        await b.publish_batch([Message(topic, str(i).encode(), partition=i % 4) for i in range(40)])
        first_listener = Recorder()
        async with b.consumer(group, [topic], listener=first_listener) as first:
            first_listener.consumer = first
            async with b.consumer(group, [topic]) as second:

                async def split() -> None:
                    await first.poll(timeout=0.1, max_records=0)
                    await second.poll(timeout=0.1, max_records=0)
                    assert len(first.assignment()) == 2
                    assert len(second.assignment()) == 2
                    assert first.assignment().isdisjoint(second.assignment())
                    # Told after the rebalance that only took partitions away, too.
                    assert first_listener.assignments[-1] == first.assignment()

                await eventually(split, timeout=40)
                taken_by_first = first.assignment()
                got = await drain(first, 20)
                assert {r.tp for r in got} == taken_by_first
                await first.commit()
            # The second member left without committing: its partitions come to the first,
            # from the beginning, since nothing was committed for them.

            async def took_over() -> None:
                await first.poll(timeout=0.1, max_records=0)
                assert len(first.assignment()) == 4

            await eventually(took_over, timeout=40)
            rest = await drain(first, 20)
            assert {r.tp for r in rest}.isdisjoint(taken_by_first)
            assert first_listener.assigned == {TopicPartition(topic, p) for p in range(4)}

    async def test_position_passes_transaction_markers(self, b: Bus) -> None:
        topic = await self.topic(b)
        tp = TopicPartition(topic, 0)
        for n in range(3):
            async with b.begin() as tx:
                await tx.publish(topic, str(n).encode())
        end = (await b.end_offsets([tp]))[tp]
        async with b.reader([tp]) as reader:
            assert await reader.position(tp) == 0
            assert [r.value for r in await drain(reader, 3)] == [b"0", b"1", b"2"]

            async def at_end() -> None:
                await reader.poll(timeout=0.05, max_records=0)
                assert await reader.position(tp) == end

            await eventually(at_end)

    async def test_read_to_end_reads_every_committed_record_once(self, b: Bus) -> None:
        topic = await self.topic(b, partitions=3)
        await b.publish_batch(
            [Message(topic, f"{i}".encode(), key=f"k{i}".encode()) for i in range(30)]
        )
        async with b.begin() as tx:
            await tx.publish(topic, b"tx", key=b"k0")
        tps = [TopicPartition(topic, p) for p in range(3)]
        values = [r.value async for batch in bus.read_to_end(b, tps) for r in batch]
        assert sorted(values) == sorted([f"{i}".encode() for i in range(30)] + [b"tx"])
        empty = await self.topic(b)
        assert [r async for r in bus.read_to_end(b, [TopicPartition(empty, 0)])] == []

    async def test_committed_transaction_is_atomic_with_offsets(self, b: Bus) -> None:
        source, sink = await self.topic(b), await self.topic(b)
        group = name("g")
        await b.publish_batch([Message(source, str(i).encode()) for i in range(4)])
        async with b.consumer(group, [source]) as c:
            inputs = await drain(c, 4)
            async with b.begin() as tx:
                for r in inputs:
                    await tx.publish(sink, r.value + b"!", key=r.value)
                await tx.send_offsets(c)
        async with b.consumer(name("reader"), [sink]) as reader:
            out = await drain(reader, 4)
            assert [r.value for r in out] == [b"0!", b"1!", b"2!", b"3!"]
        async with b.consumer(group, [source]) as c:
            assert await c.committed(TopicPartition(source, 0)) == 4
            assert await quiet(c) == []

    async def test_a_transaction_of_offsets_alone_commits_them(self, b: Bus) -> None:
        topic = await self.topic(b)
        group = name("g")
        await b.publish(topic, b"handled elsewhere")
        async with b.consumer(group, [topic]) as c:
            await drain(c, 1)
            async with b.begin() as tx:
                await tx.send_offsets(c)
        async with b.consumer(group, [topic]) as c:
            assert await c.committed(TopicPartition(topic, 0)) == 1
            assert await quiet(c) == []

    async def test_transactions_of_one_id_may_change_their_groups(self, b: Bus) -> None:
        """A transaction's offsets are its own: the next transaction of the same id may
        commit none, or another group's (the Kafka bus adds the group of the id's last
        transaction as the next one begins; one that does not use it still commits)."""
        source, sink = await self.topic(b), await self.topic(b)
        first, second, tid = name("g"), name("g"), name("t")
        await b.publish(source, b"in")
        tp = TopicPartition(source, 0)
        async with b.consumer(first, [source]) as c1, b.consumer(second, [source]) as c2:
            await drain(c1, 1)
            await drain(c2, 1)
            async with b.begin(transactional_id=tid) as tx:
                await tx.publish(sink, b"with the first group's offsets")
                await tx.send_offsets(c1, {tp: 1})
            async with b.begin(transactional_id=tid) as tx:
                await tx.publish(sink, b"with no offsets")
            async with b.begin(transactional_id=tid) as tx:
                await tx.publish(sink, b"with the second group's offsets")
                await tx.send_offsets(c2, {tp: 1})
        async with b.consumer(name("reader"), [sink]) as reader:
            assert [r.value for r in await drain(reader, 3)] == [
                b"with the first group's offsets",
                b"with no offsets",
                b"with the second group's offsets",
            ]
        for group in (first, second):
            async with b.consumer(group, [source]) as c:
                assert await c.committed(tp) == 1
                assert await quiet(c) == []

    async def test_offsets_of_partitions_the_member_lost_abort_the_transaction(
        self, b: Bus
    ) -> None:
        """Consume-transform-produce across a rebalance: offsets of a partition another
        member took meanwhile are refused and the transaction aborts, its records unseen;
        the partition's records go to its new owner."""
        source, sink = await self.topic(b, partitions=2), await self.topic(b)
        group = name("g")
        await b.publish_batch([Message(source, b"x", partition=p) for p in range(2)])
        async with b.consumer(group, [source]) as first:
            inputs = await drain(first, 2)
            async with b.consumer(group, [source]) as second:

                async def split() -> None:
                    await first.poll(timeout=0.1, max_records=0)
                    await second.poll(timeout=0.1, max_records=0)
                    assert len(first.assignment()) == len(second.assignment()) == 1

                await eventually(split, timeout=40)
                with pytest.raises(TransactionError, match=r"no longer assigned.*\(rebalanced\)"):
                    async with b.begin() as tx:
                        await tx.publish(sink, b"from the partitions' old owner")
                        await tx.send_offsets(first, {r.tp: r.offset + 1 for r in inputs})
        async with b.consumer(name("reader"), [sink]) as reader:
            assert await quiet(reader) == []

    async def test_same_transactional_id_fences_the_older_holder(self, url: str) -> None:
        """A zombie (a transaction begun before another bus began one with its id) cannot
        commit."""
        if not self.supports_restart:
            pytest.skip("two connections of this backend do not share a log")
        async with self.connect(url) as old, self.connect(url) as new:
            topic = await self.topic(new)
            zombie = await old.begin(transactional_id="fence-me").__aenter__()
            await zombie.publish(topic, b"from the zombie")
            async with new.begin(transactional_id="fence-me") as tx:
                await tx.publish(topic, b"from the new owner")
            with pytest.raises(TransactionError):
                await zombie.commit()
            async with new.consumer(name("reader"), [topic]) as c:
                assert [r.value for r in await drain(c, 1)] == [b"from the new owner"]
                assert await quiet(c) == []

    fences_alone = True
    """`fence` alone fences an open transaction of another holder, tested here. Kafka's is
    tested by the coordinator's fault tests instead: aiokafka leaves the fenced producer's
    failure on a future nobody awaits, which anyio's test runner reports as an error."""

    async def test_fencing_an_id_fences_a_transaction_open_elsewhere(self, url: str) -> None:
        if not self.supports_restart or not self.fences_alone:
            pytest.skip("see BusContract.fences_alone / supports_restart")
        async with self.connect(url) as old, self.connect(url) as new:
            topic = await self.topic(new)
            zombie = await old.begin(transactional_id="fence-me-too").__aenter__()
            await zombie.publish(topic, b"from the zombie")
            await new.fence("fence-me-too")
            with pytest.raises(TransactionError):
                await zombie.commit()
            async with new.consumer(name("reader"), [topic]) as c:
                assert await quiet(c) == []

    async def test_aborted_transaction_is_invisible(self, b: Bus) -> None:
        source, sink = await self.topic(b), await self.topic(b)
        group = name("g")
        await b.publish(source, b"in")
        async with b.consumer(group, [source]) as c:
            await drain(c, 1)
            with pytest.raises(RuntimeError, match="handler failed"):
                async with b.begin() as tx:
                    await tx.publish(sink, b"never")
                    await tx.send_offsets(c)
                    raise RuntimeError("handler failed")
            tx = await b.begin().__aenter__()
            await tx.publish(sink, b"never either")
            await tx.abort()
            assert await c.committed(TopicPartition(source, 0)) is None
        await b.publish(sink, b"after")
        async with b.consumer(name("reader"), [sink]) as reader:
            (only,) = await drain(reader, 1)
            assert only.value == b"after"
            assert await quiet(reader) == []

    async def test_seek_by_offset_timestamp_and_beginning(self, b: Bus) -> None:
        topic = await self.topic(b)
        base = int(time.time() * 1000) - 60_000
        await b.publish_batch(
            [Message(topic, str(i).encode(), timestamp_ms=base + i * 1000) for i in range(10)]
        )
        tp = TopicPartition(topic, 0)
        async with b.consumer(name("g"), [topic]) as c:
            await drain(c, 10)
            await c.seek_to_timestamp(base + 6500)
            assert [r.offset for r in await drain(c, 3)] == [7, 8, 9]
            await c.seek(tp, 2)
            assert (await drain(c, 1))[0].offset == 2
            await c.seek_to_beginning()
            assert (await drain(c, 1))[0].offset == 0
            await c.seek_to_timestamp(base + 60_000)
            assert await quiet(c) == []

    async def test_latest_start_skips_existing_records(self, b: Bus) -> None:
        topic = await self.topic(b)
        await b.publish(topic, b"old")
        async with b.consumer(name("g"), [topic], start=StartFrom.LATEST) as c:
            await eventually(self._assigned(c), timeout=40)
            await b.publish(topic, b"new")
            (record,) = await drain(c, 1)
            assert record.value == b"new"

    @staticmethod
    def _assigned(c: bus.Consumer):  # type: ignore[no-untyped-def]
        async def check() -> None:
            await c.poll(timeout=0.1, max_records=0)
            assert c.assignment()

        return check

    async def test_ensure_topics_is_idempotent(self, b: Bus) -> None:
        topic = name("t")
        spec = TopicSpec(topic, partitions=3, cleanup=bus.Cleanup.COMPACT, retention_ms=3_600_000)
        await b.ensure_topics([spec])
        await b.ensure_topics([spec])
        assert await b.partitions(topic) == 3
        ends = await b.end_offsets([TopicPartition(topic, p) for p in range(3)])
        assert ends == {TopicPartition(topic, p): 0 for p in range(3)}

    async def test_align_topics_gives_an_existing_topic_the_configs_of_its_spec(
        self, b: Bus
    ) -> None:
        """As `caseyard topics ensure` brings a topic an earlier version created up to
        date: the configs the spec sets change, the partitions do not, and a topic that
        does not exist is left alone (ensure_topics creates it)."""
        topic, absent = name("t"), name("absent")
        await b.ensure_topics([TopicSpec(topic, partitions=2)])
        spec = TopicSpec(
            topic,
            partitions=2,
            cleanup=bus.Cleanup.COMPACT,
            retention_ms=3_600_000,
            config={"delete.retention.ms": "600000"},
        )
        changes = await b.align_topics([spec, TopicSpec(absent)])
        assert {(c.topic, c.name, c.new) for c in changes} == {
            (topic, "cleanup.policy", "compact"),
            (topic, "retention.ms", "3600000"),
            (topic, "delete.retention.ms", "600000"),
        }
        assert [c.old for c in changes if c.name == "cleanup.policy"] == ["delete"]
        assert await b.align_topics([spec]) == []
        assert await b.partitions(topic) == 2

    async def test_records_and_offsets_survive_restart(self, url: str, b: Bus) -> None:
        if not self.supports_restart:
            pytest.skip("this backend lives and dies with its process")
        topic = await self.topic(b, partitions=2)
        group = name("g")
        await b.publish_batch([Message(topic, str(i).encode(), key=b"k") for i in range(6)])
        async with b.consumer(group, [topic]) as c:
            await drain(c, 3)
            await c.commit()
        b = await self.restart(url, b)
        try:
            await b.publish(topic, b"6", key=b"k")
            async with b.consumer(group, [topic]) as c:
                values = [r.value for r in await drain(c, 4)]
            assert values == [b"3", b"4", b"5", b"6"]
        finally:
            await b.close()

    async def test_a_tombstone_reads_back_as_an_empty_value(self, b: Bus) -> None:
        topic = name("t")
        await b.ensure_topics([TopicSpec(topic, cleanup=bus.Cleanup.COMPACT)])
        await b.publish(topic, b"state", key=b"case")
        await b.publish(topic, None, key=b"case")
        await b.publish_batch([Message(topic, None, key=b"other")])
        async with b.begin(transactional_id=name("tx")) as tx:
            await tx.publish(topic, None, key=b"third")
        tp = TopicPartition(topic, 0)
        async with b.reader([tp]) as reader:
            records = await drain(reader, 4)
        assert [(r.key, r.value) for r in records] == [
            (b"case", b"state"),
            (b"case", b""),
            (b"other", b""),
            (b"third", b""),
        ]

    async def test_reader_reads_given_partitions_without_a_group(self, b: Bus) -> None:
        topic = await self.topic(b, partitions=3)
        await b.publish_batch(
            [Message(topic, f"{p}:{i}".encode(), partition=p) for p in range(3) for i in range(4)]
        )
        tp = TopicPartition(topic, 1)
        async with b.reader([tp]) as reader:
            records = await drain(reader, 4)
            assert [r.value for r in records] == [f"1:{i}".encode() for i in range(4)]
            assert reader.assignment() == {tp}
            assert await quiet(reader) == []
            assert await reader.position(tp) == (await b.end_offsets([tp]))[tp]
            with pytest.raises(BusError, match="no consumer group"):
                await reader.commit()
        async with b.reader([tp], start=StartFrom.LATEST) as reader:
            await b.publish(topic, b"new", partition=1)
            assert [r.value for r in await drain(reader, 1)] == [b"new"]

    # -- bad input: one clear error each ------------------------------------------------

    async def test_invalid_topic_name(self, b: Bus) -> None:
        for bad in ["", "has space", "a/b", ".", "x" * 250]:
            with pytest.raises(InvalidTopic, match="invalid topic name"):
                await b.publish(bad, b"v")
        with pytest.raises(InvalidTopic):
            await b.ensure_topics([TopicSpec("bad topic")])

    async def test_unknown_topic(self, b: Bus) -> None:
        missing = name("missing")
        with pytest.raises(UnknownTopic, match="does not exist"):
            await b.publish(missing, b"v")
        with pytest.raises(UnknownTopic):
            async with b.consumer(name("g"), [missing]):
                pass

    async def test_record_over_size_limit(self, url: str) -> None:
        async with bus.connect(url, max_message_bytes=1000, connect_timeout=20) as small:
            topic = await self.topic(small)
            with pytest.raises(RecordTooLarge, match="over the limit of 1000"):
                await small.publish(topic, b"x" * 1001)
            await small.publish(topic, b"x" * 900)

    async def test_middleware_is_told_when_each_message_is_durable_or_never_will_be(
        self, url: str
    ) -> None:
        """Sent: once acknowledged. Outbox: at its flush. Transaction: at its commit, or
        failed with the block's error, or `TransactionError` for an explicit abort. Refused
        on the way out: what was accepted before it in the same call, with the refusal."""
        d = Deliveries()
        async with bus.connect(
            url, middleware=[d], max_message_bytes=1000, connect_timeout=20
        ) as b:
            topic = await self.topic(b)
            await b.publish(topic, b"one")
            await b.publish_batch([Message(topic, b"two"), Message(topic, b"three")])
            outbox = b.outbox()
            outbox.add([Message(topic, b"four")])
            assert b"four" not in d.told, "an outbox's messages are sent at its flush"
            await outbox.flush()
            async with b.begin(transactional_id=name("tx")) as tx:
                await tx.publish(topic, b"five")
                assert b"five" not in d.told, "a transaction's messages count at its commit"
            with pytest.raises(RuntimeError, match="handler failed"):
                async with b.begin(transactional_id=name("tx")) as tx:
                    await tx.publish(topic, b"six")
                    raise RuntimeError("handler failed")
            tx = await b.begin(transactional_id=name("tx")).__aenter__()
            await tx.publish(topic, b"seven")
            await tx.abort()
            with pytest.raises(RecordTooLarge):
                await b.publish_batch([Message(topic, b"eight"), Message(topic, b"x" * 1001)])
        assert d.told == {
            b"one": "ok",
            b"two": "ok",
            b"three": "ok",
            b"four": "ok",
            b"five": "ok",
            b"six": "RuntimeError",
            b"seven": "TransactionError",
            b"eight": "RecordTooLarge",
        }

    async def test_closed_bus(self, url: str) -> None:
        b = await self.connect(url).__aenter__()
        topic = await self.topic(b)
        consumer = await b.consumer(name("g"), [topic]).__aenter__()
        await consumer.close()
        with pytest.raises(BusClosed):
            await consumer.poll()
        await b.close()
        with pytest.raises(BusClosed, match="closed"):
            await b.publish(topic, b"v")
        await b.close()

    async def test_commit_of_partition_not_owned_fails(self, b: Bus) -> None:
        topic = await self.topic(b, partitions=2)
        async with b.consumer(name("g"), [topic]) as c:
            await eventually(self._assigned(c), timeout=40)
            with pytest.raises(CommitFailed):
                await c.commit({TopicPartition(topic, 7): 1})
