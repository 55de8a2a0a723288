"""What every backend does the same way: checks on the way out, buffering on the way in."""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from operator import itemgetter
from types import TracebackType
from typing import Self

from bus._protocol import Middleware, RebalanceListener
from bus._types import Message, Position, Record, StartFrom, TopicPartition, check_topic
from bus.errors import BusClosed, RecordTooLarge

DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024

_TP_KEY = itemgetter(0, 1)
_OFFSET = itemgetter(2)
_NO_SCOPE: AbstractContextManager[None] = nullcontext()


class Outbound:
    """What a bus's clients share: the middleware chain, limits, the closed flag, and the
    open consumers. Validates messages and runs the middleware before a backend sends them.
    """

    def __init__(self, middleware: Sequence[Middleware], max_message_bytes: int) -> None:
        self.middleware = tuple(middleware)
        self.max_message_bytes = max_message_bytes
        self.closed = False
        self.consumers: dict[int, ConsumerBase] = {}
        """Open consumers by id(), in the order they joined."""

    def group_members(self) -> list[ConsumerBase]:
        return [c for c in self.consumers.values() if c.group]

    def prepare(self, message: Message) -> Message:
        if self.closed:
            raise BusClosed("the bus is closed")
        check_topic(message.topic)
        for mw in self.middleware:
            message = mw.outgoing(message)
        size = (
            len(message.value or b"")
            + len(message.key or b"")
            + sum(len(k) + len(v) for k, v in message.headers)
        )
        if size > self.max_message_bytes:
            raise RecordTooLarge(
                f"record for topic {message.topic!r} is {size} bytes, over the limit of "
                f"{self.max_message_bytes} (max_message_bytes); store large payloads in the "
                "blob store and publish a reference"
            )
        return message

    def prepare_all(self, messages: Sequence[Message]) -> list[Message]:
        """`prepare` each; if one is refused, those before it are told undelivered."""
        prepared: list[Message] = []
        try:
            for message in messages:
                prepared.append(self.prepare(message))
        except BaseException as exc:
            self.delivered(prepared, exc)
            raise
        return prepared

    def delivered(self, messages: Sequence[Message], error: BaseException | None = None) -> None:
        """Tell the middleware what became of prepared messages (see `Middleware`)."""
        if messages:
            for mw in self.middleware:
                mw.delivered(messages, error)

    def incoming(self, record: Record) -> Record:
        for mw in self.middleware:
            record = mw.incoming(record)
        return record

    def processing(self, record: Record, group: str) -> AbstractContextManager[None]:
        if not self.middleware:
            return _NO_SCOPE
        if len(self.middleware) == 1:
            return self.middleware[0].processing(record, group)
        return _nested(self.middleware, record, group)


class Outbox:
    """Records published together: `add` checks each one and runs the middleware at once
    (in the caller's scope, so a trace links it to the record being handled), `flush`
    publishes everything added and returns when all of it is durable.

    One producer round trip per flush instead of one per record: the agent runtime adds
    a poll batch's results as it handles them, records them, then flushes once. Records
    of one partition keep the order they were added in.
    """

    def __init__(
        self,
        outbound: Outbound,
        send: Callable[[Sequence[Message]], Awaitable[list[Position]]],
    ) -> None:
        self._outbound = outbound
        self._send = send
        self._prepared: list[Message] = []

    def add(self, messages: Sequence[Message]) -> None:
        """Check and stamp `messages` now; they are published by the next `flush`."""
        self._prepared.extend(self._outbound.prepare_all(messages))

    def __len__(self) -> int:
        return len(self._prepared)

    async def flush(self) -> list[Position]:
        """Publish what was added, in order; returns their positions once all are durable."""
        prepared, self._prepared = self._prepared, []
        return await self._send(prepared) if prepared else []


@contextmanager
def _nested(chain: Sequence[Middleware], record: Record, group: str) -> Iterator[None]:
    """Every middleware's scope, entered in chain order and left in reverse."""
    with ExitStack() as stack:
        for mw in chain:
            stack.enter_context(mw.processing(record, group))
        yield


class ConsumerBase(abc.ABC):
    """Buffers fetched records, hands them out one at a time, and tracks what was handed out.

    `commit()` with no arguments commits only records already handed out, never records
    that were fetched but not yet seen by the caller (at-least-once).
    """

    def __init__(
        self,
        group: str,
        topics: Sequence[str],
        start: StartFrom,
        listener: RebalanceListener | None,
        outbound: Outbound,
    ) -> None:
        self._group = group
        self._topics = tuple(check_topic(t) for t in topics)
        self._start = start
        self._listener = listener
        self._outbound = outbound
        self._buffer: deque[Record] = deque()
        # The offset of the last record handed out, per (topic, partition).
        self._last: dict[tuple[str, int], int] = {}
        self._paused: set[TopicPartition] = set()
        self._closed = False
        self._entered = False

    @property
    def group(self) -> str:
        return self._group

    async def __aenter__(self) -> Self:
        if self._outbound.closed:
            raise BusClosed("the bus is closed")
        await self._join()
        self._entered = True
        self._outbound.consumers[id(self)] = self
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Record:
        await self._maintain()
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._check_open()
            fetched = await self._fetch(1.0, 500)
            self._buffer.extend(fetched)
        return self._hand_out(self._buffer.popleft())

    async def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        self._check_open()
        await self._maintain()
        if self._paused:
            return await self._poll_unpaused(timeout, max_records)
        if not self._buffer:
            # Not `self._buffer.extend(await ...)`: a rebalance during the fetch may
            # drop buffered records, and the fetched ones must land in the live buffer.
            fetched = await self._fetch(timeout, max(1, max_records))
            self._buffer.extend(fetched)
        if len(self._buffer) <= max_records:
            out = list(self._buffer)
            self._buffer.clear()
        else:
            out = [self._buffer.popleft() for _ in range(max_records)]
        return self._handing_out(out)

    async def _poll_unpaused(self, timeout: float, max_records: int) -> list[Record]:
        """`poll` while partitions are paused: their buffered records wait in order."""
        if all(r.tp in self._paused for r in self._buffer):
            self._buffer.extend(await self._fetch(timeout, max(1, max_records)))
        out: list[Record] = []
        kept: list[Record] = []
        for record in self._buffer:
            if record.tp in self._paused or len(out) >= max_records:
                kept.append(record)
            else:
                out.append(record)
        self._buffer.clear()
        self._buffer.extend(kept)
        return self._handing_out(out)

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)
        self._pause_fetching(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)
        self._resume_fetching(tps)

    def paused(self) -> frozenset[TopicPartition]:
        return frozenset(self._paused)

    @abc.abstractmethod
    def _pause_fetching(self, tps: Sequence[TopicPartition]) -> None:
        """Stop fetching `tps` (the backend's part of `pause`)."""

    @abc.abstractmethod
    def _resume_fetching(self, tps: Sequence[TopicPartition]) -> None:
        """Fetch `tps` again (the backend's part of `resume`)."""

    def _handing_out(self, out: list[Record]) -> list[Record]:
        if out:
            # C-level bookkeeping: this runs for every record on the hot path.
            self._last.update(zip(map(_TP_KEY, out), map(_OFFSET, out), strict=True))
            if self._outbound.middleware:
                out = [self._outbound.incoming(r) for r in out]
        return out

    def processing(self, record: Record) -> AbstractContextManager[None]:
        return self._outbound.processing(record, self._group)

    def _hand_out(self, record: Record) -> Record:
        self._last[(record.topic, record.partition)] = record.offset
        return self._outbound.incoming(record)

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        self._check_open()
        offsets = self.consumed() if offsets is None else dict(offsets)
        if offsets:
            await self._commit(offsets)

    async def position(self, tp: TopicPartition) -> int:
        for record in self._buffer:
            if record.topic == tp.topic and record.partition == tp.partition:
                return record.offset
        return await self._fetch_position(tp)

    def consumed(self) -> dict[TopicPartition, int]:
        return {TopicPartition(t, p): offset + 1 for (t, p), offset in self._last.items()}

    def _forget(self, tps: frozenset[TopicPartition]) -> None:
        """Drop buffered records and progress of partitions this member no longer reads."""
        kept = [r for r in self._buffer if r.tp not in tps]
        self._buffer.clear()
        self._buffer.extend(kept)
        self._paused.difference_update(tps)
        for tp in tps:
            self._last.pop((tp.topic, tp.partition), None)

    def _drop_buffered(self, tp: TopicPartition) -> None:
        kept = [r for r in self._buffer if r.tp != tp]
        self._buffer.clear()
        self._buffer.extend(kept)

    def _check_open(self) -> None:
        if self._closed or self._outbound.closed:
            raise BusClosed(f"consumer of group {self._group!r} is closed")
        if not self._entered:
            raise BusClosed(f"consumer of group {self._group!r} was not entered (async with)")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._outbound.consumers.pop(id(self), None)
        if self._entered:
            await self._leave()

    @abc.abstractmethod
    async def _maintain(self) -> None:
        """Group upkeep due on every poll, even when records are buffered (heartbeats)."""

    @abc.abstractmethod
    async def _join(self) -> None: ...

    @abc.abstractmethod
    async def _leave(self) -> None: ...

    @abc.abstractmethod
    async def _fetch(self, timeout: float, max_records: int) -> list[Record]: ...

    @abc.abstractmethod
    async def _commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    @abc.abstractmethod
    async def _fetch_position(self, tp: TopicPartition) -> int:
        """Where the next fetch from `tp` starts."""

    @abc.abstractmethod
    def assignment(self) -> frozenset[TopicPartition]: ...

    @abc.abstractmethod
    async def committed(self, tp: TopicPartition) -> int | None: ...

    @abc.abstractmethod
    async def seek(self, tp: TopicPartition, offset: int) -> None: ...

    @abc.abstractmethod
    async def seek_to_beginning(self, *tps: TopicPartition) -> None: ...

    @abc.abstractmethod
    async def seek_to_timestamp(self, timestamp_ms: int, *tps: TopicPartition) -> None: ...
