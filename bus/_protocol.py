"""The `Bus` seam: everything above it moves bytes through these protocols only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from bus._types import (
    ConfigChange,
    Headers,
    Message,
    Position,
    Record,
    StartFrom,
    TopicPartition,
    TopicSpec,
)

if TYPE_CHECKING:
    from bus._base import Outbox


class Middleware(Protocol):
    """Sees every message on its way out and when it got there, every record on its way
    in, and wraps the handling of each record.

    The hook for tracing and metrics: `outgoing` may add headers (e.g. `traceparent`),
    `delivered` says what became of what it returned, `incoming` may read headers, and
    `processing` is the scope in which a consumer handles one record (it may make a
    context current, so that what the handler publishes is seen as caused by that
    record). All must be cheap and must not do I/O.
    """

    def outgoing(self, message: Message) -> Message: ...

    def delivered(self, messages: Sequence[Message], error: BaseException | None) -> None:
        """`messages` (as `outgoing` returned them) are durable (`error` None: the broker
        acknowledged them; for a transaction's, it committed) or never will be (`error`
        says why: a failed send, an aborted transaction, a message refused before it was
        sent). Told once per message that went through `outgoing`."""
        ...

    def incoming(self, record: Record) -> Record: ...

    def processing(self, record: Record, group: str) -> AbstractContextManager[None]:
        """The scope of handling `record` in consumer group `group` ('' for a reader)."""
        ...


class RebalanceListener(Protocol):
    """Told when this consumer gains or loses partitions (Kafka's rebalance callbacks).

    `on_revoked` runs while the partitions are still owned, so it may commit. `on_assigned`
    runs after every rebalance that changed this member's partitions, losses alone
    included, with the partitions it gained (maybe none: Kafka's eager protocol revokes all
    and gives back the whole assignment); `assignment()` is then the whole new assignment.
    """

    async def on_revoked(self, partitions: frozenset[TopicPartition]) -> None: ...

    async def on_assigned(self, partitions: frozenset[TopicPartition]) -> None: ...


class Consumer(Protocol):
    """A member of a consumer group. Never auto-commits: call `commit` after handling.

    Iterate it (`async for record in consumer`) or call `poll`.
    """

    @property
    def group(self) -> str: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> Record: ...

    async def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        """Records from the assigned partitions; an empty list after `timeout` seconds.

        `max_records=0` only takes part in the group (heartbeat, rebalance): records it
        fetches stay buffered for the next call.
        """
        ...

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit `offsets` (next offset to read), by default everything handed out so far."""
        ...

    def consumed(self) -> dict[TopicPartition, int]:
        """The next offset after the last record handed out, per partition."""
        ...

    def assignment(self) -> frozenset[TopicPartition]: ...

    def pause(self, *tps: TopicPartition) -> None:
        """Hand out no records of `tps` until `resume` (fetched ones wait, in order); the
        member keeps the partitions. Back-pressure for one slow partition."""
        ...

    def resume(self, *tps: TopicPartition) -> None: ...

    def paused(self) -> frozenset[TopicPartition]: ...

    def processing(self, record: Record) -> AbstractContextManager[None]:
        """Enter the bus middleware's scope for handling `record` (a no-op without any).

        Wrap the handling of each record in it, publishing its outputs included:
        `with consumer.processing(record): ...`.
        """
        ...

    async def committed(self, tp: TopicPartition) -> int | None: ...

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record this consumer will hand out from `tp`.

        Compare it with `Bus.end_offsets` to know a partition was read to its end
        (record offsets alone cannot tell: transaction markers take offsets too).
        """
        ...

    async def seek(self, tp: TopicPartition, offset: int) -> None: ...

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        """Rewind the given (default: all assigned) partitions to their first record."""
        ...

    async def seek_to_timestamp(self, timestamp_ms: int, *tps: TopicPartition) -> None:
        """Move to the first record at or after `timestamp_ms` (the end if there is none)."""
        ...

    async def close(self) -> None: ...


class Transaction(Protocol):
    """Records and consumer offsets that become visible together, or not at all.

    Use as `async with bus.begin() as tx:`; leaving the block commits, an exception aborts.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def publish(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> None: ...

    async def publish_batch(self, messages: Sequence[Message]) -> None: ...

    async def send_offsets(
        self, consumer: Consumer, offsets: Mapping[TopicPartition, int] | None = None
    ) -> None:
        """Commit `consumer`'s offsets (default: what it handed out) with this transaction.

        Only while the group still counts the consumer as the owner of those partitions: a
        consumer the group has rebalanced away (a zombie woken from a long pause) gets
        `TransactionError` and the transaction aborts, its records unseen (on Kafka the
        group generation travels with the offsets, KIP-447).
        """
        ...

    async def commit(self) -> None: ...

    async def abort(self) -> None: ...


class Bus(Protocol):
    """Moves bytes and headers; the same shape on every backend."""

    @property
    def url(self) -> str: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

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
        """Publish one record and wait until it is durable (`value=None`: a tombstone)."""
        ...

    async def publish_batch(self, messages: Sequence[Message]) -> list[Position]:
        """Publish many records; returns their positions in the same order."""
        ...

    def outbox(self) -> Outbox:
        """Records to publish together: `add` now (middleware runs in the caller's scope),
        `flush` once; one round trip for a whole batch instead of one per record."""
        ...

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        *,
        start: StartFrom = StartFrom.EARLIEST,
        listener: RebalanceListener | None = None,
    ) -> Consumer:
        """A consumer-group member; enter it (`async with`) to join the group."""
        ...

    def reader(
        self, partitions: Sequence[TopicPartition], *, start: StartFrom = StartFrom.EARLIEST
    ) -> Consumer:
        """A consumer of exactly `partitions`, in no group (replay, restore, audit).

        It reads committed records only, like every consumer; `commit` raises `BusError`.
        """
        ...

    def begin(self, *, transactional_id: str | None = None) -> Transaction:
        """A new transaction; enter it (`async with`) to begin.

        Transactions with the same `transactional_id` fence each other: once a bus
        instance begins (or `fence`s) with that id, an older holder (a zombie) can no
        longer commit; its commit raises `TransactionError`. Default: one id per bus
        instance. `send_offsets` also checks the group: offsets of a partition this member
        lost abort the transaction.
        """
        ...

    async def fence(self, transactional_id: str) -> None:
        """Take over `transactional_id` before reading state that its transactions wrote.

        On Kafka this (re)initializes the id's producer: older producers with the id are
        fenced, and a transaction one of them left open is finished (aborted, or its
        commit completed) before this returns, so a read_committed reader then sees the
        final state. The embedded bus bumps the id's epoch (its commits are atomic: none
        is left open).
        """
        ...

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create the topics that do not exist yet (existing ones are left as they are)."""
        ...

    async def align_topics(self, specs: Sequence[TopicSpec]) -> list[ConfigChange]:
        """Give the topics of `specs` that exist the configs their spec sets
        (`TopicSpec.configs`) where they hold other values, and say what changed. Their
        other configs stay as they are; partitions are never changed (more would move
        keys to other partitions). A backend keeps only the configs it has a use for.
        """
        ...

    async def partitions(self, topic: str) -> int: ...

    async def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The offset the next record of each partition will get (the high watermark)."""
        ...

    def consumers(self) -> list[Consumer]:
        """The consumer-group members of this bus that are open (readers excluded).

        For metrics: their assignment and positions against `end_offsets` give the lag.
        """
        ...

    async def close(self) -> None: ...
