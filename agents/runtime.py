"""The agent runtime: records in -> handler -> events out, at least once, idempotent.

One loop serves every agent. It consumes its topics in its own consumer group, decodes
a poll batch, looks its inputs up in the processed store (one query), and runs the
handler with bounded concurrency while keeping the order of records that share a key (a
case). For each input it then:

1. takes what the processed store recorded for it (by `Handler.key`, the task id for
   tasks): a redelivered input gets its recorded outputs again, never a second model call;
2. otherwise runs the handler and adds its outputs to the batch's outbox.

Then, once per poll batch: the outputs of every input are recorded in the processed store
(one SQLite transaction) and published together (one producer round trip, not one per
record: order per case is the order they were added). The handled batches are committed
at most every COMMIT_INTERVAL_S, when the group takes partitions away and at stop.

Failures are classified, never swallowed: a retryable error sends the input to the
agent's next retry topic (non-blocking: the main topic keeps flowing) with a not-before
time; an exhausted or non-retryable error publishes what `Handler.failed` says (a
`TaskFailed` for tasks) and a dead letter with reason headers; undecodable bytes go
straight to the dead-letter topic.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio

from agents.errors import MisplacedEvent
from bus import Bus, Consumer, Message, Outbox, Record, TopicPartition, TopicSpec
from bus.errors import CaseyardError, CommitFailed, UnknownTopic
from schemas import (
    AvroCodec,
    DecodeError,
    Event,
    ModelHop,
    ModelUsage,
    Producer,
    TaskCompleted,
    TaskFailed,
    TaskOutput,
    TaskRequested,
    cloudevents,
)
from schemas.dead_letters import DLQ_REDRIVEN_FROM, dead_letter, dead_letter_headers
from schemas.topology import CASE_PARTITIONS, DEAD_LETTERS, RESULTS

log = logging.getLogger(__name__)

RETRY_ATTEMPT = "retry.attempt"
RETRY_NOT_BEFORE = "retry.not_before_ms"
RETRY_SOURCE = "retry.source"
RETRY_TOPIC_PREFIX = "caseyard.retry."
"""Retry topics are `caseyard.retry.<agent>.<level>`."""

COMMIT_INTERVAL_S = 1.0
"""An agent commits what it has handled at most this often (and when partitions go, and at
stop). A commit per poll batch was a broker round trip per batch: under light load, a batch
is a record or two, and `bench.peers`' saga at 100 cases/s measured 220-229 ms a case with
it, 201-203 ms without (an eighth of the requests this process sent). What a crash loses
is at most this much redelivery, which the processed store answers without the model."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Emit:
    """An event a handler wants published, and where."""

    topic: str
    event: Event


class Handler(Protocol):
    """What an agent does with one input event."""

    @property
    def takes(self) -> str:
        """What the agent takes, for the reason of a misplaced event's dead letter."""
        ...

    def accepts(self, event: Event) -> bool:
        """Whether the agent takes this event; any other on its topics is misplaced and
        goes to the dead-letter topic (expected `takes`, found the event's type)."""
        ...

    def key(self, event: Event) -> str:
        """The idempotency key: inputs with the same key are done once."""
        ...

    async def handle(self, event: Event) -> Sequence[Emit]: ...

    def failed(self, event: Event, error: BaseException, attempts: int) -> Sequence[Emit]:
        """What to publish when `event` failed for good (besides the dead letter)."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a task's work returns: the typed output and what the model cost."""

    output: TaskOutput
    usage: ModelUsage
    hops: tuple[ModelHop, ...] = ()


TaskWork = Callable[[TaskRequested], Awaitable[Outcome]]


@dataclass
class TaskHandler:
    """Adapts a capability's work to the runtime: `TaskRequested` in, result out.

    Tasks whose deadline has passed are skipped: the coordinator has already timed the
    step out and would ignore the result, so the model call would be wasted.
    """

    capability: str
    work: TaskWork
    producer: Producer
    clock: Clock = utc_now
    expired: int = 0

    @property
    def takes(self) -> str:
        return f"TaskRequested for {self.capability!r}"

    def accepts(self, event: Event) -> bool:
        return isinstance(event, TaskRequested) and event.capability == self.capability

    def key(self, event: Event) -> str:
        assert isinstance(event, TaskRequested)
        return event.task_id

    async def handle(self, event: Event) -> Sequence[Emit]:
        assert isinstance(event, TaskRequested)
        if event.deadline < self.clock():
            self.expired += 1
            return ()
        began = time.perf_counter()
        outcome = await self.work(event)
        return (
            Emit(
                RESULTS.name,
                TaskCompleted(
                    **self._about(event),
                    output=outcome.output,
                    usage=outcome.usage,
                    latency_ms=(time.perf_counter() - began) * 1000,
                    hops=outcome.hops,
                ),
            ),
        )

    def _about(self, task: TaskRequested) -> dict[str, Any]:
        """The envelope and task fields a result of `task` repeats."""
        return {
            "case_id": task.case_id,
            "correlation_id": task.correlation_id,
            "causation_id": task.event_id,
            "occurred_at": self.clock(),
            "producer": self.producer,
            "task_id": task.task_id,
            "capability": task.capability,
            "attempt": task.attempt,
        }

    def failed(self, event: Event, error: BaseException, attempts: int) -> Sequence[Emit]:
        assert isinstance(event, TaskRequested)
        return (
            Emit(
                RESULTS.name,
                TaskFailed(
                    **self._about(event),
                    error_class=type(error).__name__,
                    message=str(error) or type(error).__name__,
                    # Exhausted retries of a retryable error: the coordinator may try a
                    # new attempt later; a non-retryable one it should not.
                    retryable=bool(getattr(error, "retryable", False)),
                ),
            ),
        )


KEEP_OUTPUTS_S = 7 * 24 * 3600.0
"""How long the processed store keeps an input's outputs by default: a week, Kafka's default
`retention.ms` (a record older than its topic's retention cannot be delivered again)."""


class ProcessedStore:
    """Inputs already handled and the records they produced (SQLite; survives restart).

    One row per input: its key and its output records, packed (`_pack`). The runtime
    looks up a poll batch's keys in one query and records the batch's outputs in one
    transaction, before it publishes them. A store written by an earlier version (a
    `done` row per input and a `processed` row per output) is converted when opened.

    WAL with `synchronous=NORMAL`: a transaction is durable once the process has written
    it (a kill -9 loses nothing), and the WAL is synced at checkpoints, not at every
    commit (a power cut can lose the last batches: they come again from Kafka,
    uncommitted, and are handled anew, as a first delivery is). With the default (FULL)
    every batch waited for an fsync.

    What an input produced is kept `keep_s` (a week by default: Kafka's default
    retention, past which its record cannot come again); each batch recorded drops a
    bounded number of the oldest rows past that, so the store stops growing.
    """

    def __init__(
        self,
        path: Path | str,
        keep_s: float = KEEP_OUTPUTS_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keep_ms = int(keep_s * 1000)
        self._clock = clock
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS outputs(key TEXT PRIMARY KEY,"
                " at_ms INTEGER NOT NULL, records BLOB NOT NULL)"
            )
            self._convert()

    def _convert(self) -> None:
        """Move the rows of the earlier layout, if any, into `outputs`."""
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master")}
        if "done" not in tables:
            return
        outputs: dict[str, list[Message]] = {}
        at: dict[str, int] = {}
        for key, at_ms in self._conn.execute("SELECT key, at_ms FROM done"):
            outputs[key], at[key] = [], at_ms
        for key, topic, msg_key, value in self._conn.execute(
            "SELECT key, topic, msg_key, value FROM processed ORDER BY key, idx"
        ):
            if key in outputs:
                outputs[key].append(Message(topic, value, msg_key))
        self._conn.executemany(
            "INSERT OR IGNORE INTO outputs(key, at_ms, records) VALUES(?,?,?)",
            [(key, at[key], _pack(messages)) for key, messages in outputs.items()],
        )
        self._conn.execute("DROP TABLE done")
        self._conn.execute("DROP TABLE IF EXISTS processed")

    def recorded(self, keys: Collection[str]) -> dict[str, list[Message]]:
        """The recorded outputs of those of `keys` that were handled (one query per
        `_LOOKUP_CHUNK` keys)."""
        found: dict[str, list[Message]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, records in self._conn.execute(
                f"SELECT key, records FROM outputs WHERE key IN ({marks})", chunk
            ):
                found[key] = _unpack(records)
        return found

    def get(self, key: str) -> list[Message] | None:
        return self.recorded((key,)).get(key)

    def put_many(self, outputs: Mapping[str, Sequence[Message]]) -> None:
        """Record the outputs of several inputs in one transaction (a key recorded
        before, a redriven input done anew, keeps only its new outputs)."""
        if not outputs:
            return
        at_ms = int(self._clock() * 1000)
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO outputs(key, at_ms, records) VALUES(?,?,?)",
                [(key, at_ms, _pack(messages)) for key, messages in outputs.items()],
            )
            # Rows are added in time order (a replaced row is added anew), so the oldest
            # are the lowest rowids: look at twice as many as were added, drop those past
            # the retention. Bounded work, and it outpaces what comes in.
            self._conn.execute(
                "DELETE FROM outputs WHERE rowid IN"
                " (SELECT rowid FROM outputs ORDER BY rowid LIMIT ?) AND at_ms < ?",
                (2 * len(outputs), at_ms - self._keep_ms),
            )

    def close(self) -> None:
        self._conn.close()


_LOOKUP_CHUNK = 500
"""Keys looked up in one query (SQLite allows 32766 parameters; a poll batch is <= 500)."""

_LENGTH = struct.Struct("<i")
_NONE = -1


def _pack(messages: Sequence[Message]) -> bytes:
    """The records of one input as one value: per record its topic, key, value,
    partition and headers, each a little-endian int32 length (-1: none) then bytes."""
    out = bytearray()

    def add(value: bytes | None) -> None:
        out.extend(_LENGTH.pack(_NONE if value is None else len(value)))
        if value is not None:
            out.extend(value)

    for m in messages:
        add(m.topic.encode())
        add(m.key)
        add(m.value)
        out.extend(_LENGTH.pack(_NONE if m.partition is None else m.partition))
        out.extend(_LENGTH.pack(len(m.headers)))
        for name, value in m.headers:
            add(name.encode())
            add(value)
    return bytes(out)


def _unpack(data: bytes) -> list[Message]:
    """The records `_pack` packed."""
    pos = 0

    def number() -> int:
        nonlocal pos
        (n,) = _LENGTH.unpack_from(data, pos)
        pos += 4
        return int(n)

    def take() -> bytes | None:
        nonlocal pos
        n = number()
        if n == _NONE:
            return None
        pos += n
        return data[pos - n : pos]

    messages = []
    while pos < len(data):
        topic, key, value = take(), take(), take()
        partition = number()
        headers = tuple(((take() or b"").decode(), take() or b"") for _ in range(number()))
        messages.append(
            Message(
                (topic or b"").decode(),
                value or b"",
                key,
                headers,
                None if partition == _NONE else partition,
            )
        )
    return messages


@dataclass
class Stats:
    """Counters a service keeps (exported as metrics by the composition root)."""

    handled: int = 0
    replayed: int = 0
    misplaced: int = 0
    retried: int = 0
    failed: int = 0
    dead_lettered: int = 0
    commits_failed: int = 0
    """Batches whose commit the group refused after a rebalance (they come again)."""
    by_error: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays of the retry topics; len(delays_s) retries after the first attempt."""

    delays_s: tuple[float, ...] = (1.0, 10.0, 60.0)


class _Commits:
    """The offsets one consumer of an agent has handled, until they are committed.

    Only whole handled batches count (a batch cut short by a stop is not); the group
    listener commits a partition's offsets while it is still owned, before it goes.
    """

    def __init__(self, agent: AgentService, group: str) -> None:
        self._agent = agent
        self._group = group
        self._due: dict[TopicPartition, int] = {}
        self.consumer: Consumer | None = None
        self.last = -COMMIT_INTERVAL_S
        """`time.monotonic()` of the last commit."""

    def handled(self, batch: Sequence[Record]) -> None:
        for record in batch:
            self._due[record.tp] = record.offset + 1

    async def commit(self, only: frozenset[TopicPartition] | None = None) -> None:
        self.last = time.monotonic()
        if self.consumer is None:
            return
        owned = self.consumer.assignment() if only is None else only
        due = {tp: o for tp, o in self._due.items() if tp in owned}
        self._due = {tp: o for tp, o in self._due.items() if tp not in due}
        if not due:
            return
        try:
            await self.consumer.commit(due)
        except CommitFailed as exc:
            # The group moved partitions while they were handled (this member missed its
            # session: a stalled loop, a long pause). Their records come again, to us or
            # to the new owner, and the processed store answers them as recorded.
            self._agent.stats.commits_failed += 1
            log.warning(
                "commit failed after a rebalance; the records come again",
                extra={"agent": self._agent.name, "group": self._group, "error": str(exc)},
            )

    async def on_revoked(self, partitions: frozenset[TopicPartition]) -> None:
        await self.commit(partitions)

    async def on_assigned(self, partitions: frozenset[TopicPartition]) -> None:
        # Offsets of partitions this member no longer owns are not its to commit.
        owned = self.consumer.assignment() if self.consumer is not None else frozenset()
        self._due = {tp: o for tp, o in self._due.items() if tp in owned}


class AgentService:
    """Runs one agent: its main topic(s) plus one retry topic per retry level."""

    def __init__(
        self,
        *,
        name: str,
        bus: Bus,
        codec: AvroCodec,
        topics: Sequence[str],
        handler: Handler,
        store: ProcessedStore,
        producer: Producer,
        concurrency: int = 8,
        retry: RetryPolicy = RetryPolicy(),
        clock: Clock = utc_now,
        own_topics: Sequence[str] = (),
        cloudevents_headers: bool = False,
        group_prefix: str = "",
    ) -> None:
        self.name = name
        self._group_prefix = group_prefix
        self._cloudevents = cloudevents_headers
        self._bus = bus
        self._codec = codec
        self._topics = tuple(topics)
        self._handler = handler
        self._store = store
        self._producer = producer
        self._concurrency = concurrency
        self._retry = retry
        self._clock = clock
        self._own_topics = tuple(own_topics)
        self.stats = Stats()
        self.ready = anyio.Event()
        """Set once the main topics' partitions are assigned (an idle surplus member of a
        group with fewer partitions than members is not ready)."""

    @property
    def group(self) -> str:
        """`agent.NAME`, after the deployment's `group_prefix`."""
        return f"{self._group_prefix}agent.{self.name}"

    def retry_topic(self, level: int) -> str:
        return f"{RETRY_TOPIC_PREFIX}{self.name}.{level}"

    async def ensure_topics(self) -> None:
        """The agent's retry topics and own output topics (the topology's exist already),
        with as many partitions as its input (as many members can work them)."""
        retries = [self.retry_topic(level) for level in range(1, len(self._retry.delays_s) + 1)]
        try:
            partitions = await self._bus.partitions(self._topics[0])
        except UnknownTopic:
            partitions = CASE_PARTITIONS
        await self._bus.ensure_topics(
            [TopicSpec(t, partitions=partitions) for t in (*retries, *self._own_topics)]
        )

    async def run(self, stop: anyio.Event) -> None:
        """Consume until `stop` is set; then finish the batch in hand, commit, and return."""
        await self.ensure_topics()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._loop, self._topics, 0, stop)
            for level in range(1, len(self._retry.delays_s) + 1):
                tg.start_soon(self._loop, (self.retry_topic(level),), level, stop)

    async def _loop(self, topics: Sequence[str], level: int, stop: anyio.Event) -> None:
        group = self.group if level == 0 else f"{self.group}.retry.{level}"
        commits = _Commits(self, group)
        async with self._bus.consumer(group, topics, listener=commits) as consumer:
            commits.consumer = consumer
            while not stop.is_set():
                batch = await consumer.poll(timeout=0.2)
                # Ready once the group gave it partitions (on Kafka that takes a join).
                if level == 0 and not self.ready.is_set() and consumer.assignment():
                    self.ready.set()
                    log.info(
                        "agent ready",
                        extra={"agent": self.name, "partitions": len(consumer.assignment())},
                    )
                if batch and await self._process(consumer, batch, level, stop):
                    commits.handled(batch)
                    if time.monotonic() - commits.last >= COMMIT_INTERVAL_S:
                        await commits.commit()
            await commits.commit()

    async def _process(
        self, consumer: Consumer, batch: list[Record], level: int, stop: anyio.Event
    ) -> bool:
        """Handle a batch; False if stopped midway (the batch must not be committed)."""
        # Every input decoded first, so that the processed store is asked about the whole
        # batch in one query (a query per input was a tenth of the runtime's CPU in
        # `bench.peers`' runtime chain); what cannot be decoded is dead-lettered in turn.
        lanes: dict[bytes | None, list[tuple[Record, Event | DecodeError]]] = defaultdict(list)
        keys: list[str] = []
        for record in batch:
            decoded: Event | DecodeError
            try:
                decoded = await cloudevents.decode(self._codec, record)
            except DecodeError as exc:
                decoded = exc
            else:
                if level == 0 and self._handler.accepts(decoded):
                    keys.append(self._handler.key(decoded))
            lanes[record.key].append((record, decoded))
        # A retry level waits for each record's due time before handling it: what the
        # store holds for a key is asked then, not before (a redelivery of the same task
        # on the main topic may have been handled meanwhile).
        earlier: _Recorded = self._store.recorded(keys) if level == 0 else self._store
        done = _Done(self._bus.outbox(), earlier)
        # A few workers take whole lanes (the records of one key, in order) one after
        # another: records of a case never overtake each other, different cases run
        # side by side, and a batch costs `concurrency` tasks, not one per case.
        todo = iter(lanes.values())

        async def worker() -> None:
            for inputs in todo:
                for record, decoded in inputs:
                    if level and not await self._wait_until_due(record, stop):
                        raise _Stopping
                    # The bus middleware's scope (tracing, metrics): what the handler
                    # publishes, retries and dead letters included, is added inside it.
                    with consumer.processing(record):
                        await self._one(record, decoded, level, done)

        stopped = False
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(min(self._concurrency, len(lanes))):
                    tg.start_soon(worker)
        except* _Stopping:
            stopped = True
        # Recorded before they are published: a crash in between republishes the recorded
        # outputs on redelivery instead of calling the model again.
        self._store.put_many(done.recorded)
        await done.outbox.flush()
        return not stopped

    async def _one(
        self, record: Record, decoded: Event | DecodeError, level: int, done: _Done
    ) -> None:
        if isinstance(decoded, DecodeError):
            await self._dead_letter(record, None, decoded, "undecodable", done, attempts=level + 1)
            return
        event = decoded
        if not self._handler.accepts(event):
            found = event.event_type
            if isinstance(event, TaskRequested):
                found += f" for {event.capability!r}"
            misplaced = MisplacedEvent(f"expected {self._handler.takes}, found {found}")
            self.stats.misplaced += 1
            await self._dead_letter(record, event, misplaced, "misplaced", done, attempts=1)
            return
        key = self._handler.key(event)
        # A redriven dead letter is the operator asking for the work again, not a
        # redelivery: it is handled anew and its outcome replaces the recorded one.
        recorded = None if record.header(DLQ_REDRIVEN_FROM) else done.get(key)
        if recorded is not None:
            self.stats.replayed += 1
            done.outbox.add(recorded)
            return
        try:
            emits = await self._handler.handle(event)
            messages = [await self._message(e) for e in emits]
        except CaseyardError as exc:
            await self._failed(record, event, exc, level, done)
            return
        except Exception as exc:  # a bug in the handler: not retryable, dead-letter it
            await self._failed(record, event, exc, level, done, retryable=False)
            return
        done.record(key, messages)
        self.stats.handled += 1
        log.debug("handled", extra={"agent": self.name, "case_id": event.case_id, "key": key})

    async def _message(self, emit: Emit) -> Message:
        value = await self._codec.encode(emit.event, emit.topic)
        headers = (
            cloudevents.headers_for(emit.event, self._producer.service) if self._cloudevents else ()
        )
        return Message(emit.topic, value, key=emit.event.case_id.encode(), headers=headers)

    async def _failed(
        self,
        record: Record,
        event: Event,
        error: BaseException,
        level: int,
        done: _Done,
        *,
        retryable: bool | None = None,
    ) -> None:
        self.stats.by_error[type(error).__name__] += 1
        can_retry = bool(getattr(error, "retryable", False)) if retryable is None else retryable
        about = {"agent": self.name, "case_id": event.case_id, "attempt": level + 1}
        if can_retry and level < len(self._retry.delays_s):
            self.stats.retried += 1
            log.warning("retrying: %s: %s", type(error).__name__, error, extra=about)
            delay_ms = int(self._retry.delays_s[level] * 1000)
            source = record.header(RETRY_SOURCE) or record.topic.encode()
            done.outbox.add(
                [
                    Message(
                        self.retry_topic(level + 1),
                        record.value,
                        key=record.key,
                        headers=(
                            *[(k, v) for k, v in record.headers if not k.startswith("retry.")],
                            (RETRY_ATTEMPT, str(level + 1).encode()),
                            (RETRY_NOT_BEFORE, str(_epoch_ms(self._clock()) + delay_ms).encode()),
                            (RETRY_SOURCE, source),
                        ),
                    )
                ]
            )
            return
        self.stats.failed += 1
        # A handler bug gets its traceback; a classified error is one line.
        log.error(
            "failed: %s: %s",
            type(error).__name__,
            error,
            extra=about,
            exc_info=error if not isinstance(error, CaseyardError) else None,
        )
        messages = [await self._message(e) for e in self._handler.failed(event, error, level + 1)]
        # Recorded so that a redelivery publishes the same failure, not a new attempt.
        done.record(self._handler.key(event), messages)
        reason = "retries exhausted" if can_retry else "not retryable"
        await self._dead_letter(record, event, error, reason, done, attempts=level + 1)

    async def _dead_letter(
        self,
        record: Record,
        event: Event | None,
        error: BaseException,
        reason: str,
        done: _Done,
        *,
        attempts: int,
    ) -> None:
        self.stats.dead_lettered += 1
        log.warning(
            "dead letter: %s",
            reason,
            extra={"agent": self.name, "topic": record.topic, "offset": record.offset}
            | ({"case_id": event.case_id} if event is not None else {}),
        )
        source = record.header(RETRY_SOURCE)
        letter = dead_letter(
            reason=f"{self.name}: {reason}",
            error_class=type(error).__name__,
            message=str(error),
            source=(source.decode() if source else record.topic, record.partition, record.offset),
            key=record.key,
            value=record.value,
            headers=record.headers,
            attempts=attempts,
            producer=self._producer,
            occurred_at=self._clock(),
            event=event,
        )
        trace = record.header("traceparent")
        done.outbox.add(
            [
                Message(
                    DEAD_LETTERS.name,
                    await self._codec.encode(letter, DEAD_LETTERS.name),
                    key=letter.case_id.encode(),
                    headers=dead_letter_headers(letter, trace.decode() if trace else None),
                )
            ]
        )

    async def _wait_until_due(self, record: Record, stop: anyio.Event) -> bool:
        """Wait for the record's not-before time; False if `stop` came first."""
        raw = record.header(RETRY_NOT_BEFORE)
        wait_s = ((int(raw) if raw else 0) - _epoch_ms(self._clock())) / 1000
        if wait_s > 0:
            # Retry topics hold one delay each, so records are in due order: waiting on
            # the head blocks only this retry level, never the main topic.
            with anyio.move_on_after(wait_s):
                await stop.wait()
        return not stop.is_set()


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class _Recorded(Protocol):
    """Outputs recorded by key: a batch's lookup (a dict) or the store, asked when handled."""

    def get(self, key: str) -> Sequence[Message] | None: ...


@dataclass
class _Done:
    """What a poll batch produced: records to publish, and outputs to record by key."""

    outbox: Outbox
    earlier: _Recorded
    """The outputs the store holds for the batch's keys (recorded by earlier batches)."""
    recorded: dict[str, Sequence[Message]] = field(default_factory=dict)

    def record(self, key: str, messages: Sequence[Message]) -> None:
        self.recorded[key] = messages
        self.outbox.add(messages)

    def get(self, key: str) -> Sequence[Message] | None:
        """The recorded outputs of `key`: of this batch (a duplicate in the same poll,
        not yet written) or of an earlier one."""
        mine = self.recorded.get(key)
        return mine if mine is not None else self.earlier.get(key)


class _Stopping(Exception):
    """Stop was asked while a retry waited: leave the batch uncommitted for redelivery."""
