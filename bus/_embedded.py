"""The embedded bus: `sqlite:///path.db` (durable, several processes) and `memory://`.

Both run the same `LogStore`; `memory://` keeps it in an in-memory SQLite database, so the
unit-test backend is the embedded one minus the disk, not a second implementation.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import anyio

from bus._base import DEFAULT_MAX_MESSAGE_BYTES, ConsumerBase, Outbound, Outbox
from bus._log import LogStore
from bus._protocol import Consumer, Middleware, RebalanceListener
from bus._types import (
    ConfigChange,
    Headers,
    Message,
    Position,
    Record,
    StartFrom,
    TopicPartition,
    TopicSpec,
    check_topic,
)
from bus.errors import BusClosed, BusError, BusUnavailable, TransactionError

log = logging.getLogger(__name__)

T = TypeVar("T")

_IDLE_POLL_MIN = 0.005
_IDLE_POLL_MAX = 0.1
HOUSEKEEPING_EVERY_RECORDS = 10_000
"""A file-backed bus that appended this many records since its last housekeeping runs it
again (compaction, retention) before its next append, much as Kafka's log cleaner works
while the writers write (without its lag: a record written a moment ago is compacted too)."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class EmbeddedBus:
    """A bus over a `LogStore`. Create it with `bus.connect(url)`."""

    def __init__(
        self,
        url: str,
        store: LogStore,
        *,
        inline: bool,
        middleware: Sequence[Middleware] = (),
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        session_timeout_ms: int = 30_000,
    ) -> None:
        self._url = url
        self._store = store
        self._inline = inline
        self._limiter = anyio.CapacityLimiter(1)
        self._out = Outbound(middleware, max_message_bytes)
        self.session_timeout_ms = session_timeout_ms
        self._new_data = anyio.Event()
        self._epochs: dict[str, int] = {}
        """The epoch this bus holds of each transactional id it used (as a Kafka producer
        holds its id's epoch from `InitProducerId`)."""
        self._wrote = False
        """Whether this bus appended records (it then compacts the log as it closes)."""
        self._unkept = 0
        """Records this bus appended since its last housekeeping."""

    @classmethod
    def sqlite(cls, url: str, path: str, **options: object) -> EmbeddedBus:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            store = LogStore.open(path)
            store.housekeeping(_now_ms())
        except (OSError, sqlite3.Error) as exc:
            raise BusUnavailable(f"cannot open embedded bus at {path}: {exc}") from exc
        return cls(url, store, inline=False, **options)  # type: ignore[arg-type]

    @classmethod
    def memory(cls, url: str, **options: object) -> EmbeddedBus:
        name = f"file:caseyard-{uuid.uuid4().hex}?mode=memory&cache=private"
        return cls(url, LogStore.open(name, uri=True), inline=True, **options)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return self._url

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run a store operation: inline for memory, on one worker thread for files."""
        if self._out.closed:
            raise BusClosed("the bus is closed")
        try:
            if self._inline:
                return fn(*args)
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        except sqlite3.OperationalError as exc:
            raise BusUnavailable(f"embedded bus {self._url}: {exc}") from exc

    def notify(self) -> None:
        """Wake this process's consumers waiting for new records."""
        self._new_data.set()
        self._new_data = anyio.Event()

    async def wait_for_data(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._new_data.wait()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._out.closed:
            return
        if self._wrote and not self._inline:
            # What this bus wrote is compacted, and what is past retention removed, as it
            # closes: the next process to open the log, often a read-only command
            # (`caseyard replay` after a run), does not pay for it first (37% of a replay
            # of 5,000 cases, measured before the compaction's query was made 45x faster,
            # the housekeeping 9x). Opening still compacts, for a writer that died first.
            with anyio.CancelScope(shield=True):
                await self._housekeeping("on close (next open does)")
        self._out.closed = True
        self.notify()
        self._store.close()

    async def publish(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> Position:
        (position,) = await self.publish_batch(
            [Message(topic, value, key, headers, partition, timestamp_ms)]
        )
        return position

    async def publish_batch(self, messages: Sequence[Message]) -> list[Position]:
        return await self.append(self._out.prepare_all(messages))

    def outbox(self) -> Outbox:
        return Outbox(self._out, self.append)

    async def append(
        self,
        prepared: Sequence[Message],
        offsets: tuple[str, str, Mapping[TopicPartition, int]] | None = None,
        producer: tuple[str, int] | None = None,
    ) -> list[Position]:
        """Write messages that went through `Outbound.prepare`, with offsets if given; with
        a `(transactional id, epoch)`, only if no newer holder of the id fenced it."""
        try:
            if self._unkept >= HOUSEKEEPING_EVERY_RECORDS and not self._inline:
                # While it runs too, so a long `caseyard up` keeps its log to what is live,
                # and a command that opens the log meanwhile finds little to compact in
                # the write transaction that the running process's appends wait for.
                # Before this append's records, not after: a cancellation meanwhile then
                # costs nothing, where after them it would cost the caller their positions.
                await self._housekeeping("while writing (the next housekeeping does)")
            positions = await self.run(self._store.append, prepared, _now_ms(), offsets, producer)
        except BaseException as exc:
            self._out.delivered(prepared, exc)
            raise
        self._out.delivered(prepared)
        if positions:
            self._wrote = True
            self._unkept += len(positions)
            self.notify()
        return positions

    async def _housekeeping(self, when: str) -> None:
        """Compact the log and apply retention; a failure is logged, not raised (the
        records stand: only the cleaning waits)."""
        self._unkept = 0
        try:
            await self.run(self._store.housekeeping, _now_ms())
        except (BusUnavailable, sqlite3.Error) as exc:
            log.warning("the log was not compacted %s: %s", when, exc)

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        *,
        start: StartFrom = StartFrom.EARLIEST,
        listener: RebalanceListener | None = None,
    ) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, group, topics, start, listener)

    def reader(
        self, partitions: Sequence[TopicPartition], *, start: StartFrom = StartFrom.EARLIEST
    ) -> EmbeddedReader:
        return EmbeddedReader(self, partitions, start)

    def begin(self, *, transactional_id: str | None = None) -> EmbeddedTransaction:
        return EmbeddedTransaction(self, transactional_id)

    async def fence(self, transactional_id: str) -> None:
        """Take the id over: transactions of it begun elsewhere can no longer commit."""
        await self._take_over(transactional_id)

    async def epoch(self, transactional_id: str) -> int:
        """The epoch of the id this bus holds; the first use takes the id over."""
        epoch = self._epochs.get(transactional_id)
        return epoch if epoch is not None else await self._take_over(transactional_id)

    async def _take_over(self, transactional_id: str) -> int:
        epoch = self._epochs[transactional_id] = await self.run(self._store.fence, transactional_id)
        return epoch

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        for spec in specs:
            check_topic(spec.name)
        await self.run(self._store.ensure_topics, specs)

    async def align_topics(self, specs: Sequence[TopicSpec]) -> list[ConfigChange]:
        for spec in specs:
            check_topic(spec.name)
        return await self.run(self._store.align_topics, specs)

    async def partitions(self, topic: str) -> int:
        return await self.run(self._store.partitions, check_topic(topic))

    async def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return await self.run(self._store.end_offsets, tps)

    @property
    def store(self) -> LogStore:
        return self._store

    @property
    def outbound(self) -> Outbound:
        return self._out

    def consumers(self) -> list[Consumer]:
        return list(self._out.group_members())


class EmbeddedConsumer(ConsumerBase):
    """A group member whose partitions come from leases in the store."""

    def __init__(
        self,
        bus: EmbeddedBus,
        group: str,
        topics: Sequence[str],
        start: StartFrom,
        listener: RebalanceListener | None,
    ) -> None:
        super().__init__(group, topics, start, listener, bus.outbound)
        self._bus = bus
        self._member = f"{group}-{uuid.uuid4().hex[:12]}"
        self._owned: frozenset[TopicPartition] = frozenset()
        self._positions: dict[TopicPartition, int] = {}
        self._last_heartbeat = 0.0

    @property
    def member_id(self) -> str:
        return self._member

    def assignment(self) -> frozenset[TopicPartition]:
        return self._owned

    async def _join(self) -> None:
        for topic in self._topics:
            await self._bus.partitions(topic)
        await self._heartbeat()

    async def _leave(self) -> None:
        if not self._bus.outbound.closed:
            await self._bus.run(self._bus.store.leave, self._group, self._member)
            # Other members find the freed partitions on their next heartbeat.
            self._bus.notify()

    async def _heartbeat(self) -> None:
        store = self._bus.store
        self._last_heartbeat = time.monotonic()
        view = await self._bus.run(
            store.heartbeat,
            self._group,
            self._member,
            self._topics,
            _now_ms(),
            self._bus.session_timeout_ms,
        )
        lost = self._owned - view.owned
        revoke = (view.owned & self._owned) - view.target
        if lost or revoke:
            if self._listener is not None:
                await self._listener.on_revoked(lost | revoke)
            self._forget(lost | revoke)
            for tp in lost | revoke:
                self._positions.pop(tp, None)
        owned = await self._bus.run(
            store.rebalance, self._group, self._member, view.owned - view.target, view.target
        )
        gained = owned - (self._owned - lost - revoke)
        self._owned = owned
        for tp in gained:
            committed = await self._bus.run(store.committed, self._group, tp)
            if committed is not None:
                self._positions[tp] = committed
            elif self._start is StartFrom.EARLIEST:
                self._positions[tp] = await self._bus.run(store.start_offset, tp)
            else:
                self._positions[tp] = (await self._bus.run(store.end_offsets, [tp]))[tp]
        if (gained or lost or revoke) and self._listener is not None:
            await self._listener.on_assigned(gained)

    async def _maintain(self) -> None:
        heartbeat_every = self._bus.session_timeout_ms / 3000
        if time.monotonic() - self._last_heartbeat >= heartbeat_every or not self._owned:
            await self._heartbeat()

    async def _fetch(self, timeout: float, max_records: int) -> list[Record]:
        deadline = time.monotonic() + timeout
        idle = _IDLE_POLL_MIN
        while True:
            await self._maintain()
            positions = (
                {tp: o for tp, o in self._positions.items() if tp not in self._paused}
                if self._paused
                else self._positions
            )
            records = await self._bus.run(self._bus.store.fetch, positions, max_records)
            if records:
                for record in records:
                    self._positions[record.tp] = record.offset + 1
                return records
            self._positions.update(await self._bus.run(self._bus.store.past_gaps, positions))
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                return []
            await self._bus.wait_for_data(min(idle, remaining))
            idle = min(idle * 2, _IDLE_POLL_MAX)

    def _pause_fetching(self, tps: Sequence[TopicPartition]) -> None:
        """Nothing to stop: each fetch leaves out the paused partitions."""

    def _resume_fetching(self, tps: Sequence[TopicPartition]) -> None:
        """Nothing to restart: each fetch leaves out the paused partitions."""

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self._bus.run(self._bus.store.commit, self._group, self._member, offsets)

    async def committed(self, tp: TopicPartition) -> int | None:
        return await self._bus.run(self._bus.store.committed, self._group, tp)

    async def _fetch_position(self, tp: TopicPartition) -> int:
        if tp not in self._positions:
            raise BusError(f"{tp} is not assigned to this consumer")
        return self._positions[tp]

    async def seek(self, tp: TopicPartition, offset: int) -> None:
        self._drop_buffered(tp)
        self._positions[tp] = offset

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps or tuple(self._owned):
            await self.seek(tp, await self._bus.run(self._bus.store.start_offset, tp))

    async def seek_to_timestamp(self, timestamp_ms: int, *tps: TopicPartition) -> None:
        for tp in tps or tuple(self._owned):
            offset = await self._bus.run(self._bus.store.offset_for_time, tp, timestamp_ms)
            await self.seek(tp, offset)

    def fence(self) -> tuple[str, str]:
        return self._group, self._member


class EmbeddedReader(EmbeddedConsumer):
    """Reads the given partitions with no group: no membership, no commits."""

    def __init__(
        self, bus: EmbeddedBus, partitions: Sequence[TopicPartition], start: StartFrom
    ) -> None:
        super().__init__(bus, "", sorted({tp.topic for tp in partitions}), start, None)
        self._wanted = frozenset(partitions)

    async def _join(self) -> None:
        store = self._bus.store
        for tp in self._wanted:
            if self._start is StartFrom.EARLIEST:
                self._positions[tp] = await self._bus.run(store.start_offset, tp)
            else:
                self._positions[tp] = (await self._bus.run(store.end_offsets, [tp]))[tp]
        self._owned = self._wanted

    async def _maintain(self) -> None:
        """Nothing to renew: a reader is in no group."""

    async def _leave(self) -> None:
        """Nothing to leave."""

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        raise BusError("a reader is in no consumer group: it has nothing to commit to")

    async def committed(self, tp: TopicPartition) -> int | None:
        return None


class EmbeddedTransaction:
    """Buffers records and offsets; commit writes them in one SQLite transaction."""

    def __init__(self, bus: EmbeddedBus, transactional_id: str | None) -> None:
        self._bus = bus
        self._transactional_id = transactional_id
        self._producer: tuple[str, int] | None = None
        self._messages: list[Message] = []
        self._offsets: tuple[str, str, dict[TopicPartition, int]] | None = None
        self._done = False

    async def __aenter__(self) -> Self:
        if self._transactional_id is not None:
            tid = self._transactional_id
            self._producer = (tid, await self._bus.epoch(tid))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._done:
            return
        if exc_type is None:
            await self.commit()
        else:
            self._aborted(exc or TransactionError("transaction aborted"))

    def _check(self) -> None:
        if self._done:
            raise TransactionError("the transaction is already committed or aborted")

    def _aborted(self, why: BaseException) -> None:
        self._check()
        self._done = True
        self._bus.outbound.delivered(self._messages, why)
        self._messages.clear()

    async def publish(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> None:
        await self.publish_batch([Message(topic, value, key, headers, partition)])

    async def publish_batch(self, messages: Sequence[Message]) -> None:
        self._check()
        self._messages.extend(self._bus.outbound.prepare_all(messages))

    async def send_offsets(
        self, consumer: Consumer, offsets: Mapping[TopicPartition, int] | None = None
    ) -> None:
        self._check()
        if not isinstance(consumer, EmbeddedConsumer):
            raise TransactionError("send_offsets needs a consumer of the same bus")
        group, member = consumer.fence()
        merged = dict(self._offsets[2]) if self._offsets else {}
        merged.update(consumer.consumed() if offsets is None else offsets)
        self._offsets = (group, member, merged)

    async def commit(self) -> None:
        self._check()
        self._done = True
        await self._bus.append(self._messages, self._offsets, self._producer)

    async def abort(self) -> None:
        self._aborted(TransactionError("transaction aborted"))
