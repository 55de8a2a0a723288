"""`caseyard replay --group G --topic T --from ...` on every bus: the group's committed
offsets move, and an agent-like member of the group then consumes again from there."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

import bus
from bus import Bus, Message, TopicPartition, TopicSpec, read_to_end
from caseyard.app import offsets_for_times
from caseyard.commands.replay import Start, reset_group
from caseyard.errors import ConfigError
from tests.helpers import drain, quiet

PARTITIONS = 3
PER_PARTITION = 10
SESSION_MS = 6000


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.mark.anyio
class GroupReplay:
    """What a group replay does, the same on every backend."""

    @pytest.fixture
    async def b(self, url: str) -> AsyncIterator[Bus]:
        async with bus.connect(url, session_timeout_ms=SESSION_MS, connect_timeout=20) as b:
            yield b

    @pytest.fixture
    def t0(self) -> int:
        return (time.time_ns() // 1_000_000) - 100_000

    @pytest.fixture
    async def topic(self, b: Bus, t0: int) -> str:
        """A topic whose record i of each partition has the time t0 + i seconds."""
        topic = name("replay")
        await b.ensure_topics([TopicSpec(topic, partitions=PARTITIONS)])
        await b.publish_batch(
            [
                Message(topic, f"{p}:{i}".encode(), partition=p, timestamp_ms=t0 + i * 1000)
                for p in range(PARTITIONS)
                for i in range(PER_PARTITION)
            ]
        )
        return topic

    async def consume_all(self, b: Bus, group: str, topic: str) -> list[bytes]:
        """What an agent does: consume what the group has not yet, commit it."""
        async with b.consumer(group, [topic]) as member:
            records = await drain(member, PARTITIONS * PER_PARTITION)
            await member.commit()
        return sorted(r.value for r in records)

    async def test_the_group_consumes_again_from_the_first_record_at_the_time(
        self, b: Bus, topic: str, t0: int
    ) -> None:
        group = name("agent")
        await self.consume_all(b, group, topic)
        at = datetime.fromtimestamp((t0 + 6500) / 1000, tz=UTC)
        moved = await reset_group(b, group, topic, Start(time=at))
        assert [(m.partition, m.before, m.after, m.end) for m in moved] == [
            (p, PER_PARTITION, 7, PER_PARTITION) for p in range(PARTITIONS)
        ]
        async with b.consumer(group, [topic]) as member:
            again = await drain(member, PARTITIONS * 3)
            assert await quiet(member) == []
        assert sorted(r.value for r in again) == sorted(
            f"{p}:{i}".encode() for p in range(PARTITIONS) for i in range(7, PER_PARTITION)
        )
        assert all(r.timestamp_ms >= t0 + 6500 for r in again)

    async def test_earliest_a_new_group_and_an_offset(self, b: Bus, topic: str) -> None:
        # A new agent's group that never committed: backfill from the first record.
        group = name("new-agent")
        moved = await reset_group(b, group, topic, Start())
        assert {(m.before, m.after) for m in moved} == {(None, 0)}
        assert len(await self.consume_all(b, group, topic)) == PARTITIONS * PER_PARTITION
        moved = await reset_group(b, group, topic, Start(offset=8))
        assert {m.after for m in moved} == {8}
        moved = await reset_group(b, group, topic, Start(offset=500))
        assert {m.after for m in moved} == {PER_PARTITION}  # the end, not past it

    async def test_a_time_after_every_record_moves_to_the_end(
        self, b: Bus, topic: str, t0: int
    ) -> None:
        later = datetime.fromtimestamp((t0 + 50_000) / 1000, tz=UTC)
        moved = await reset_group(b, name("agent"), topic, Start(time=later))
        assert {m.after for m in moved} == {PER_PARTITION}

    async def test_a_group_with_a_live_member_is_refused_and_left_as_it_was(
        self, b: Bus, topic: str
    ) -> None:
        group = name("busy")
        async with b.consumer(group, [topic]) as live, anyio.create_task_group() as tg:
            await drain(live, PARTITIONS * PER_PARTITION)
            await live.commit()

            async def keep_polling() -> None:  # a running agent: in the group, heartbeating
                while True:
                    await live.poll(timeout=0.1)

            tg.start_soon(keep_polling)
            with pytest.raises(ConfigError, match=f"group '{group}' has other live members"):
                await reset_group(b, group, topic, Start(), join_timeout=20)
            tg.cancel_scope.cancel()
        async with b.consumer(group, [topic]) as member:
            tp = TopicPartition(topic, 0)
            assert await member.committed(tp) == PER_PARTITION

    async def test_offsets_for_times_finds_the_first_record_at_or_after(
        self, b: Bus, topic: str, t0: int
    ) -> None:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        times = {tps[0]: t0, tps[1]: t0 + 3500, tps[2]: t0 + 60_000}
        assert await offsets_for_times(b, times) == {tps[0]: 0, tps[1]: 4, tps[2]: PER_PARTITION}

    async def test_read_to_end_starts_at_the_offsets_given(self, b: Bus, topic: str) -> None:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        start = {tps[0]: 8, tps[1]: PER_PARTITION}
        values = [r.value async for batch in read_to_end(b, tps, start=start) for r in batch]
        assert sorted(values) == sorted(
            [b"0:8", b"0:9"] + [f"2:{i}".encode() for i in range(PER_PARTITION)]
        )


class TestGroupReplayMemory(GroupReplay):
    @pytest.fixture
    def url(self) -> str:
        return "memory://"


class TestGroupReplaySqlite(GroupReplay):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/bus.db"


@pytest.mark.kafka
class TestGroupReplayKafka(GroupReplay):
    @pytest.fixture
    def url(self, kafka_bootstrap: str) -> str:
        return f"kafka://{kafka_bootstrap}"
