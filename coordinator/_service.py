"""The coordinator's runtime: inputs -> transition -> one transaction, exactly once.

For each partition number p it owns (every case-keyed topic is co-partitioned, so p of
each input topic holds the same cases) it keeps p's saga states, and one loop runs
transactions for all of them (as Kafka Streams' EOS v2 does, one producer per member):

1. when p is assigned, restores p's states from the compacted changelog: first reading
   it, then fencing the transactional id the changelog names as p's last writer (ending a
   transaction a dead or sleeping owner left open, aborted or committed) and reading what
   that made visible; then the member claims p, writing its own id there;
2. decodes each input record and applies the pure `transition` to the case's state (an
   input on another partition than its case's, from a producer that partitions keys
   otherwise or writes none, is sent on to the case's partition instead);
3. in ONE transaction, for every partition with inputs waiting, publishes the outputs,
   the new states (changelog), the dead letters, a signed checkpoint of the case chains
   it advanced (`schemas.audit`) and the partition's input positions (a changelog
   record, as Flink keeps offsets in its checkpoints); and commits the inputs' offsets
   to the group with the member's generation (KIP-447, `Transaction.send_offsets`): a
   member the group has rebalanced away cannot commit, its transaction aborts. A restore
   seeks p's inputs to the positions the changelog holds. Each input is handled inside
   the bus middleware's scope (`consumer.processing(record)`: tracing, metrics) and its
   outputs join the open transaction there, so they are seen as caused by that input.

What arrives while a transaction is in flight goes into the next one, so batches grow
with the load, and a partition whose next batch is full is paused, not the loop.
In-memory states change only after the commit; a failed transaction rewinds its inputs to
the first uncommitted record (and drops what was fetched after them), so the same inputs
are applied again to the same states.

The timer loop fires due timers by publishing `TimerFired` into the coordinator's own
input topic; the firing is applied like any other input (transactional and replayable).
A timer may fire twice (after a restart); the transition ignores a timer no longer pending.
"""

from __future__ import annotations

import gc
import json
import logging
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio

from bus import (
    Bus,
    Consumer,
    Message,
    Record,
    TopicPartition,
    Transaction,
    partition_for,
    read_to_end,
)
from bus.errors import (
    BusUnavailable,
    CommitFailed,
    ConfigError,
    TransactionError,
    UnknownTopic,
)
from coordinator._engine import timer_fired, transition
from coordinator._pipeline import PipelineCatalog
from coordinator._state import CaseState
from coordinator._store import HOT_STATES, StateStore
from schemas import (
    AvroCodec,
    DecisionAction,
    DecodeError,
    Event,
    HumanDecision,
    Producer,
    TimerFired,
    TimerPurpose,
    cloudevents,
)
from schemas.audit import CaseHead, ChainCheckpoint, Signer
from schemas.dead_letters import dead_letter, dead_letter_headers
from schemas.topology import (
    AUDIT,
    COPARTITIONED,
    DEAD_LETTERS,
    HUMAN,
    INTAKE,
    RESULTS,
    STATE,
    TIMERS,
)

INPUTS = (INTAKE.name, RESULTS.name, HUMAN.name, TIMERS.name)
_EXPECTED = {topic.name: topic.events for topic in (INTAKE, RESULTS, HUMAN, TIMERS)}
"""The events each input topic carries; any other is misplaced (dead-lettered as such)."""
TOMBSTONE = b""
"""Changelog value read for a case that is finished and dropped: a tombstone, which the
coordinator writes (a null value, read as empty) so that compaction deletes the case, or
the empty value earlier versions wrote, which compaction keeps."""
AUDIT_HEAD = b"\x00audit-head"
"""Changelog key (no case id starts with NUL) of the partition's latest checkpoint: the
next one is numbered and chained after it, across restarts and owners."""

POSITIONS = b"\x00positions"
"""Changelog key of the partition's input positions: for each input topic, the offset of
the next record of its partition p, written in the transaction that applied the ones before
it. A restore seeks there; the group's committed offsets are only a lagging copy."""
WRITER = b"\x00writer"
"""Changelog key of the transactional id of the member that claimed the partition last:
its next owner fences that id before restoring, ending a transaction it left open."""
OWN_KEYS = frozenset({AUDIT_HEAD, POSITIONS, WRITER})
"""The changelog keys of the coordinator's own records, not of cases."""

Clock = Callable[[], datetime]


log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection while cases are built in bulk (a restore, a replay): they are
    many objects and no cycles, and the collector would walk them again and again as they
    pile up (measured: ~40% of a restore; 15% of `caseyard replay --verify` over 150,000
    records). Objects freed by their reference count are freed as ever; the collector runs
    again afterwards, as it was before."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _no_gc_cycles() -> Iterator[None]:
    """`gc_paused` while a restore builds the states it keeps, which are then frozen out
    of future collections."""
    try:
        with gc_paused():
            yield
    finally:
        gc.freeze()


@dataclass
class CoordinatorStats:
    """Counters the coordinator keeps (exported as metrics by the composition root)."""

    transitions: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    timers_fired: int = 0
    timers_applied: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Timers that took effect when applied (not ignored), by purpose."""
    sla_breaches: int = 0
    """Human-task SLA timers that took effect: the task moved on or stayed escalated."""
    transactions: int = 0
    aborted: int = 0
    forwarded: int = 0
    """Inputs that came on another partition than their case's and were sent on to it."""
    restored: int = 0
    recent_ignored: deque[str] = field(default_factory=lambda: deque(maxlen=100))
    """Why the latest inputs were ignored, newest last (bounded: each reason names its
    timer or task, so a count per reason grew with every one, for as long as it ran)."""
    reviews: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    """People's verdicts on a step's output by (model that gave it, `confirmed` |
    `corrected` | `rejected`): with the classified count, the share people corrected."""


class _Restorer:
    """Rebalance listener: hold the states of exactly the partitions owned.

    aiokafka runs these callbacks from its own task, concurrently with the loop, so they
    hold the coordinator exclusively: the transaction in flight finishes (and installs its
    states) before partitions move. They do not restore what they gain: a restore reads a
    whole changelog partition (tens of seconds for a million open cases), and no heartbeat
    is sent while an assignment callback runs (aiokafka starts them after it; the embedded
    bus renews a member's lease as it polls), so the group would drop the member after its
    session timeout and assign its partitions again, restore after restore. The inputs of
    the partitions gained wait paused while the member's restore task reads them.
    """

    def __init__(self, service: Coordinator) -> None:
        self._service = service
        self.consumer: Consumer | None = None
        """The consumer it listens to (set once entered)."""

    async def entered(self, consumer: Consumer) -> None:
        """The consumer is entered and has fetched nothing yet: what it was assigned while
        entering (the embedded bus assigns then) is restored, or pointed at its positions."""
        self.consumer = consumer
        async with self._service.exclusive():
            await self._service.resume_or_restore(consumer, consumer.assignment())

    async def on_revoked(self, partitions: frozenset[TopicPartition]) -> None:
        # Eager rebalancing revokes everything and assigns again; states are kept until
        # the new assignment says which partitions went elsewhere. Records of a revoked
        # input partition not yet applied are dropped now: its position restarts from
        # the committed offset, so they come again. Only now: what is fetched after the
        # new assignment (from those positions) must not be dropped, or it is lost.
        async with self._service.exclusive():
            self._service.drop_pending(partitions)

    async def on_assigned(self, partitions: frozenset[TopicPartition]) -> None:
        async with self._service.exclusive():
            # The whole assignment, not `partitions`: a bus may say only what was gained
            # (the embedded bus does), and a partition lost meanwhile must be forgotten, or
            # its stale states would be used if it came back.
            consumer = self.consumer
            owned = {tp.partition for tp in (consumer.assignment() if consumer else partitions)}
            self._service.forget(set(self._service.loaded()) - owned)
            # Only what was (re)assigned: its fetched records were dropped, so nothing
            # fetched is fetched twice. (Before the consumer is entered: `entered` does.)
            if consumer is not None:
                await self._service.resume_or_restore(consumer, partitions)


@dataclass
class _Partition:
    """One partition number's records waiting for the member's next transaction.

    Records fetched while a transaction is in flight wait here and all go into the next
    one, so a busy member commits bigger batches, not more of them.
    """

    partition: int
    pending: list[Record] = field(default_factory=list)
    rewound: dict[TopicPartition, int] = field(default_factory=dict)
    """After an abort: the offset each input partition was rewound to. Records fetched
    before the rewind are dropped until that offset comes again."""

    def add(self, record: Record) -> None:
        tp = TopicPartition(record.topic, record.partition)
        resume = self.rewound.get(tp)
        if resume is not None:
            if record.offset != resume:
                return
            del self.rewound[tp]
        self.pending.append(record)

    def drop(self, inputs: frozenset[TopicPartition]) -> None:
        """Forget what waits from `inputs`, and their rewinds."""
        self.pending = [r for r in self.pending if r.tp not in inputs]
        for tp in inputs:
            self.rewound.pop(tp, None)

    def take(self, consumer: Consumer) -> list[Record]:
        """The records waiting; the partition's inputs fetch again if they were paused."""
        records, self.pending = self.pending, []
        paused = [tp for tp in consumer.paused() if tp.partition == self.partition]
        if paused:
            consumer.resume(*paused)
        return records


TIMER_CASES_PER_ROUND = 1_000
"""Cases whose due timers one round fires (one publish; the event loop runs between)."""

RESTORE_WINDOW = 20_000
"""Changelog values a restore keeps raw before it reads them (~1.3 KB each): a value
replaced within the window is never read."""


async def copartitioned_count(bus: Bus) -> int | None:
    """The partition count of the co-partitioned topics (`schemas.topology.COPARTITIONED`)
    that exist; None if none does yet.

    Raises:
        ConfigError: If they do not all have one count (topics created beforehand, or by a
            broker's auto-creation): partition p of one would hold other cases than p of
            another, and a case whose records fall apart would stall, its results reaching
            a member that does not hold its state.
    """
    counts: dict[str, int] = {}
    for topic in COPARTITIONED:
        with suppress(UnknownTopic):
            counts[topic.name] = await bus.partitions(topic.name)
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in counts.items())
        raise ConfigError(
            f"the case-keyed topics need one partition count, but have: {listed}; give the"
            " smaller ones partitions while they are empty (kafka-topics.sh --alter"
            " --partitions N: partitions added to a topic with records move its keys)"
        )
    return next(iter(counts.values()), None)


def read_state(record: Record) -> CaseState | str:
    """The saga state a changelog record holds, or why it cannot be read (the case is
    quarantined)."""
    return _state_at(record.value, TopicPartition(record.topic, record.partition), record.offset)


def _settle(
    states: StateStore,
    quarantined: dict[str, str],
    tp: TopicPartition,
    case_id: str,
    value: bytes,
    offset: int,
) -> None:
    """Restore the case's state from its changelog value at `offset`: checked, kept
    compressed with its wake-up; or the case quarantined, saying why."""
    state = _state_at(value, tp, offset)
    if isinstance(state, CaseState):
        states.put_value(case_id, value)
        states.wake_at(case_id, state.next_due)
        quarantined.pop(case_id, None)
    else:
        states.pop(case_id)
        quarantined[case_id] = state


def _state_at(value: bytes, tp: TopicPartition, offset: int) -> CaseState | str:
    try:
        return CaseState.from_bytes(value)
    except ValueError as exc:  # pydantic's ValidationError included
        return (
            f"its state record {tp.topic}[{tp.partition}]@{offset} is corrupt "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
        )


_OUTCOMES = {DecisionAction.APPROVE: "confirmed", DecisionAction.REJECT: "rejected"}
"""A review's verdict on the model's output; an edit corrected it."""


def _positions_bytes(positions: dict[str, int]) -> bytes:
    return json.dumps(positions, sort_keys=True, separators=(",", ":")).encode()


def _read_positions(record: Record) -> dict[str, int]:
    """The input positions a changelog record holds; none if it is corrupt (the group's
    committed offsets, which may be behind, are used instead: inputs are applied again)."""
    try:
        positions = json.loads(record.value)
        if isinstance(positions, dict) and all(
            isinstance(t, str) and type(o) is int and o >= 0 for t, o in positions.items()
        ):
            return positions
        why = "not a map of topic to offset"
    except ValueError as exc:
        why = str(exc)
    log.error(
        "the partition's input positions %s[%d]@%d are corrupt (%s): it resumes from the"
        " group's committed offsets",
        record.topic,
        record.partition,
        record.offset,
        why,
    )
    return {}


_Applied = tuple[
    int, dict[str, CaseState | None], dict[str, bytes], dict[str, int], ChainCheckpoint | None
]
"""What a transaction did to one partition, installed once it commits: the partition,
its cases' new states (None: ended), the changelog values it wrote for them (the store
keeps them with the states), its input positions and its checkpoint."""


def _first_offsets(records: Sequence[Record]) -> dict[TopicPartition, int]:
    """Where each input partition of `records` is read again from to get them all back."""
    first: dict[TopicPartition, int] = {}
    for r in records:
        first.setdefault(TopicPartition(r.topic, r.partition), r.offset)
    return first


class Coordinator:
    """Runs cases: one member of the `coordinator` consumer group (`group_prefix` first,
    where the Kafka is shared with other applications)."""

    GROUP = "coordinator"
    """The consumer group's name, before a deployment's prefix (`group` is the member's)."""

    def __init__(
        self,
        *,
        bus: Bus,
        codec: AvroCodec,
        catalog: PipelineCatalog,
        producer: Producer,
        instance: str = "coordinator",
        clock: Clock = utc_now,
        timer_interval_s: float = 0.05,
        max_batch: int = 500,
        signer: Signer | None = None,
        cloudevents_headers: bool = False,
        hot_states: int = HOT_STATES,
        group_prefix: str = "",
    ) -> None:
        self.group = f"{group_prefix}{Coordinator.GROUP}"
        instance = f"{group_prefix}{instance}"  # its transactional ids carry the prefix too
        self._bus = bus
        self._cloudevents = cloudevents_headers
        self._codec = codec
        self._catalog = catalog
        self._producer = producer
        self._instance = instance
        self._clock = clock
        self._timer_interval_s = timer_interval_s
        self._max_batch = max_batch
        self._signer = signer
        self._counts: dict[str, int] = {}
        """Partitions of each input topic (asked of the bus once)."""
        self._checkpoints: dict[int, ChainCheckpoint | None] = {}
        """The latest checkpoint of each partition owned (None: none yet)."""
        self._positions: dict[int, dict[str, int]] = {}
        """Per partition: the next offset of each input topic, as the changelog holds it."""
        self._member_id = f"{instance}-{uuid.uuid4().hex[:12]}"
        """This member's transactional id: one transaction at a time, for all its partitions
        (Kafka Streams' EOS v2); a zombie's is refused by the group generation its offsets
        carry, a dead member's is fenced by whoever restores its partitions."""
        self._wake = anyio.Event()
        self._states: dict[int, StateStore] = {}
        self._hot_states = hot_states
        self._quarantined: dict[int, dict[str, str]] = {}
        # Timers published but not yet applied, per case: not fired twice meanwhile.
        self._fired: dict[str, set[str]] = {}
        self.stats = CoordinatorStats()
        self.ready = anyio.Event()
        self._tasks: dict[int, _Partition] = {}
        self._turn = anyio.Lock()
        """Held by the member's transaction, by a rebalance (`exclusive`) while it moves
        partitions and by the restore of a partition: none runs inside another (the lock
        is fair: none starves)."""
        self._restoring: set[int] = set()
        """Partitions assigned whose states are not read yet: their inputs wait paused."""
        self._restore_wake = anyio.Event()

    # -- state --------------------------------------------------------------------------

    def state(self, case_id: str) -> CaseState | None:
        for states in self._states.values():
            if case_id in states:
                return states.get(case_id)
        return None

    def open_cases(self) -> int:
        return sum(len(s) for s in self._states.values())

    async def restore(self, partitions: set[int]) -> None:
        """Load the latest state of every case of `partitions` from the changelog; then
        claim them: this member's transactional id becomes their writer."""
        gained = sorted(partitions - set(self._states))
        for p in gained:
            await self._restore(p)
        if gained:
            # The next owner of these partitions fences this member's id, ending a
            # transaction it may leave open when it dies, before reading the changelog.
            async with self._bus.begin(transactional_id=self._member_id) as tx:
                for p in gained:
                    await tx.publish(STATE.name, self._member_id.encode(), key=WRITER, partition=p)

    async def _restore(self, p: int) -> None:
        states = StateStore(self._hot_states)
        tp = TopicPartition(STATE.name, p)
        # A changelog not compacted yet holds many values per case. The latest values
        # wait here, raw, oldest first; a value replaced or ended while it waits is
        # never read (as Kafka Streams restores a store's bytes without deserialising
        # them). What leaves the window, and what is left at the end, is checked,
        # kept compressed, and its wake-up taken: memory stays bounded.
        waiting: dict[str, tuple[bytes, int]] = {}
        quarantined: dict[str, str] = {}
        # A checkpoint and the input positions are written with every transaction: only
        # the latest of each is read (parsing each was a twelfth of a restore).
        latest_checkpoint: Record | None = None
        latest_positions: Record | None = None
        writer: str | None = None
        following = 0

        async def read(start: int | None) -> None:
            """Apply the changelog's records, from its beginning or from `start`."""
            nonlocal latest_checkpoint, latest_positions, writer, following
            since = None if start is None else {tp: start}
            async for batch in read_to_end(self._bus, [tp], start=since):
                for record in batch:
                    following = record.offset + 1
                    if record.key == AUDIT_HEAD:
                        latest_checkpoint = record
                        continue
                    if record.key == POSITIONS:
                        latest_positions = record
                        continue
                    if record.key == WRITER:
                        writer = record.value.decode("utf-8", "replace")
                        continue
                    case_id = record.key.decode("utf-8", "replace") if record.key else ""
                    waiting.pop(case_id, None)
                    if record.value == TOMBSTONE:
                        states.pop(case_id)
                        quarantined.pop(case_id, None)
                        continue
                    waiting[case_id] = (record.value, record.offset)
                    if len(waiting) > RESTORE_WINDOW:
                        oldest = next(iter(waiting))
                        _settle(states, quarantined, tp, oldest, *waiting.pop(oldest))

        with _no_gc_cycles():
            end = (await self._bus.end_offsets([tp]))[tp]
            await read(None)
            # The member that wrote p last may have died, or be asleep, with a transaction
            # open; a read_committed reader stops before it. Fencing its id ends it
            # (aborted, or committed if its commit had begun): then what it made visible
            # is read too. (A changelog from before members had ids names no writer: its
            # partition's own id was the writer's; with the instance as it was then: a
            # group prefix is set before the first start.)
            last = writer or f"{self._instance}-p{p}"
            if last != self._member_id:
                await self._bus.fence(last)
                if (await self._bus.end_offsets([tp]))[tp] > end:
                    await read(following)
            for case_id, (value, offset) in waiting.items():
                _settle(states, quarantined, tp, case_id, value, offset)
        checkpoint = None if latest_checkpoint is None else self._read_checkpoint(latest_checkpoint)
        positions = {} if latest_positions is None else _read_positions(latest_positions)
        self._states[p] = states
        self._quarantined[p] = quarantined
        self._checkpoints[p] = checkpoint
        self._positions[p] = positions
        for case_id, why in quarantined.items():
            log.error("case quarantined: %s", why, extra={"case_id": case_id})
        self.stats.restored += len(states)
        log.info(
            "restored partition",
            extra={"partition": p, "open_cases": len(states), "quarantined": len(quarantined)},
        )

    @staticmethod
    def _read_checkpoint(record: Record) -> ChainCheckpoint | None:
        try:
            return ChainCheckpoint.from_bytes(record.value)
        except ValueError as exc:
            # The next checkpoint starts the numbering again: `audit verify` reports the
            # gap, which is what happened to the record.
            log.error(
                "the partition's latest audit checkpoint %s[%d]@%d is corrupt: %s",
                record.topic,
                record.partition,
                record.offset,
                str(exc).splitlines()[0],
            )
            return None

    def quarantined(self) -> dict[str, str]:
        """Cases whose state could not be read, with why: their inputs are dead-lettered
        until a good state record (or a tombstone) replaces the bad one and the partition
        is restored again; then the dead letters can be redriven."""
        return {c: why for cases in self._quarantined.values() for c, why in cases.items()}

    def loaded(self) -> list[int]:
        """Partitions whose states are in memory."""
        return list(self._states)

    def drop_pending(self, inputs: frozenset[TopicPartition]) -> None:
        """Forget the fetched records of `inputs` not yet applied (revoked: they are
        fetched again from the committed offsets, by us or by their new owner)."""
        for task in self._tasks.values():
            task.drop(inputs)

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """No transaction runs inside: the one in flight finishes first, the next waits."""
        async with self._turn:
            yield

    def forget(self, partitions: set[int]) -> None:
        """Drop the states of partitions this member no longer owns."""
        for p in partitions:
            self._states.pop(p, None)
            self._quarantined.pop(p, None)
            self._checkpoints.pop(p, None)
            self._positions.pop(p, None)

    async def resume_or_restore(
        self, consumer: Consumer, inputs: frozenset[TopicPartition]
    ) -> None:
        """`inputs` were assigned: those of partitions whose states are here go on from
        their positions; the others wait paused for the restore task (`_restore_loop`)."""
        waiting = frozenset(tp for tp in inputs if tp.partition not in self._states)
        if waiting:
            consumer.pause(*waiting)
            self._restoring.update(tp.partition for tp in waiting)
            self._restore_wake.set()
        await self.seek_to_positions(consumer, inputs - waiting)

    async def _restore_loop(self, consumer: Consumer) -> None:
        """Restore the partitions assigned, one at a time (a rebalance waits for one
        partition's restore, not for all), then let their inputs go on from the positions
        the changelog holds."""
        while True:
            await self._restore_wake.wait()
            self._restore_wake = anyio.Event()
            while await self._restore_one(consumer):
                pass

    async def _restore_one(self, consumer: Consumer) -> bool:
        """Restore the first partition still waiting and resume its inputs; False if none
        waits (or none that waits is still owned)."""
        async with self._turn:
            owned = {tp.partition for tp in consumer.assignment()}
            self._restoring &= owned
            if not self._restoring:
                return False
            p = min(self._restoring)
            await self.restore({p})  # nothing if a rebalance meanwhile brought it back
            self._restoring.discard(p)
            inputs = frozenset(tp for tp in consumer.assignment() if tp.partition == p)
            await self.seek_to_positions(consumer, inputs)
            consumer.resume(*inputs)
            return True

    async def seek_to_positions(
        self, consumer: Consumer, inputs: frozenset[TopicPartition]
    ) -> None:
        """Point `inputs` at the positions their partitions' changelogs hold. One with
        none yet (never applied from since positions were kept: an upgrade, or a topic
        that had no records) starts where the group's committed offsets say, and that is
        kept: the next positions record carries it."""
        for tp in inputs:
            known = self._positions.setdefault(tp.partition, {})
            position = known.get(tp.topic)
            if position is None:
                position = await consumer.committed(tp)
                if position is None:
                    continue
                known[tp.topic] = position
            await consumer.seek(tp, position)

    def _pending_due(self, state: CaseState) -> datetime | None:
        """When the earliest timer of the case not fired yet is due (None: none is)."""
        fired = self._fired.get(state.case_id, ())
        return min((t.due_at for t in state.timers if t.id not in fired), default=None)

    # -- the loop -----------------------------------------------------------------------

    async def run(self, stop: anyio.Event) -> None:
        """Process inputs and fire timers until `stop` is set.

        The loop only fetches and hands records to their partition's queue; the member
        loop takes all that waits into its next transaction while this loop fetches more,
        so a busy member commits bigger batches, not more of them.
        """
        await copartitioned_count(self._bus)  # refuses topics that are not co-partitioned
        restorer = _Restorer(self)
        async with (
            self._bus.consumer(self.group, INPUTS, listener=restorer) as consumer,
            anyio.create_task_group() as tg,
        ):
            await restorer.entered(consumer)
            tg.start_soon(self._restore_loop, consumer)
            tg.start_soon(self._timer_loop, stop)
            tg.start_soon(self._member_loop, consumer)
            while not stop.is_set():
                batch = await consumer.poll(timeout=0.2, max_records=self._max_batch)
                if not self.ready.is_set() and consumer.assignment():
                    self.ready.set()
                for record in batch:
                    task = self._tasks.get(record.partition)
                    if task is None:
                        task = self._tasks[record.partition] = _Partition(record.partition)
                    task.add(record)
                if batch:
                    self._wake.set()
                # Back-pressure: a partition with a full batch waiting fetches no more
                # until the next transaction takes it; the other partitions flow on.
                for p, task in self._tasks.items():
                    if len(task.pending) >= self._max_batch:
                        consumer.pause(*(tp for tp in consumer.assignment() if tp.partition == p))
            # The transaction in flight finishes; then the member loop stops.
            async with self.exclusive():
                tg.cancel_scope.cancel()

    async def _member_loop(self, consumer: Consumer) -> None:
        """One transaction at a time for all the partitions this member owns: what arrives
        while it is in flight goes into the next, so batches grow with the load."""
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            async with self._turn:
                owned = {tp.partition for tp in consumer.assignment()}
                batch: dict[int, list[Record]] = {}
                rewind: dict[TopicPartition, int] = {}
                for p, task in self._tasks.items():
                    if p in self._restoring:
                        continue  # its inputs stay paused until its states are read
                    # What was fetched from a position the group's copy gave, before the
                    # restore moved it on, was applied already.
                    applied = self._positions.get(p, {})
                    records = [
                        r for r in task.take(consumer) if r.offset >= applied.get(r.topic, 0)
                    ]
                    if not records:
                        continue
                    if p in self._states:
                        batch[p] = records
                    else:
                        # Fetched for a partition whose states are not here (it moved
                        # away): never dropped, they come again, to us or to its owner.
                        log.warning("records of a partition not loaded", extra={"partition": p})
                        rewind |= _first_offsets(records)
                if batch:
                    rewind |= await self._apply(consumer, batch)
                await self._rewind(consumer, rewind, owned)

    async def _rewind(
        self, consumer: Consumer, rewind: dict[TopicPartition, int], owned: set[int]
    ) -> None:
        """Nothing of a batch happened: its inputs come again from `rewind`'s offsets, and
        what was fetched after them is dropped until they do. That includes records of an
        input partition the batch had none of: they are read again from the first one."""
        for p in sorted({tp.partition for tp in rewind} & owned):
            task = self._tasks[p]
            again = _first_offsets(task.take(consumer))
            again |= {tp: offset for tp, offset in rewind.items() if tp.partition == p}
            task.rewound = again
            for tp, offset in again.items():
                await consumer.seek(tp, offset)

    async def _apply(
        self, consumer: Consumer, batch: dict[int, list[Record]]
    ) -> dict[TopicPartition, int]:
        """Apply `batch` (records by partition) in one transaction with the inputs'
        offsets, fenced by the group generation; if it aborts, where to rewind each input."""
        applied: list[_Applied] = []
        offsets = {
            TopicPartition(r.topic, r.partition): r.offset + 1
            for records in batch.values()
            for r in records
        }
        try:
            async with self._bus.begin(transactional_id=self._member_id) as tx:
                for p, records in batch.items():
                    applied.append(await self._apply_partition(tx, consumer, p, records, offsets))
                await tx.send_offsets(consumer, offsets)
        except (TransactionError, CommitFailed, BusUnavailable) as exc:
            # Nothing of this batch happened: rewind so the same inputs come again (to us
            # if we still own them, else to their new owner, who restores from the
            # changelog). Expected when a rebalance fences this member: one line, the
            # traceback only at debug level.
            self.stats.aborted += 1
            log.warning(
                "transaction aborted (%s); the batch comes again",
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                extra={"partitions": sorted(batch), "records": sum(map(len, batch.values()))},
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            return _first_offsets([r for records in batch.values() for r in records])
        self.stats.transactions += 1
        for p, changed, values, positions, checkpoint in applied:
            states = self._states[p]
            self._positions[p] = positions
            if checkpoint is not None:
                self._checkpoints[p] = checkpoint
            for case_id, state in changed.items():
                fired = self._fired.pop(case_id, set())
                if state is None or state.finished:
                    states.pop(case_id)
                    continue
                states.put(case_id, state, values[case_id])
                pending = fired & {t.id for t in state.timers}
                if pending:
                    self._fired[case_id] = pending
                states.wake_at(case_id, self._pending_due(state))
        return {}

    async def _apply_partition(
        self,
        tx: Transaction,
        consumer: Consumer,
        p: int,
        records: list[Record],
        offsets: dict[TopicPartition, int],
    ) -> _Applied:
        """Publish in `tx` what `records` of partition `p` do: their outputs, the cases'
        new states, the chains' checkpoint and p's input positions (`offsets` holds the
        batch's next offsets). The states themselves change only once `tx` commits."""
        states = self._states[p]
        changed: dict[str, CaseState | None] = {}
        for record in records:
            with consumer.processing(record):
                await tx.publish_batch(await self._one(record, states, changed))
        values = {
            case_id: state.to_bytes()
            for case_id, state in changed.items()
            if state is not None and not state.finished
        }
        await tx.publish_batch(
            [
                Message(STATE.name, values.get(case_id), key=case_id.encode(), partition=p)
                for case_id in changed
            ]
        )
        checkpoint = self._checkpoint(p, states, changed)
        if checkpoint is not None:
            value = checkpoint.to_bytes()
            await tx.publish_batch(
                [
                    Message(AUDIT.name, value, key=AUDIT_HEAD, partition=p),
                    Message(STATE.name, value, key=AUDIT_HEAD, partition=p),
                ]
            )
        positions = self._positions.get(p, {}) | {
            tp.topic: o for tp, o in offsets.items() if tp.partition == p
        }
        await tx.publish(STATE.name, _positions_bytes(positions), key=POSITIONS, partition=p)
        return p, changed, values, positions, checkpoint

    def _checkpoint(
        self, p: int, states: StateStore, changed: dict[str, CaseState | None]
    ) -> ChainCheckpoint | None:
        """The checkpoint of the chains `changed` advanced (None if none did), numbered and
        chained after the partition's latest, signed if the coordinator has a key."""
        heads = []
        for case_id, state in changed.items():
            if state is None or state.last_hash is None:
                continue
            before = states.get(case_id)
            if before is not None and before.last_hash == state.last_hash:
                continue
            heads.append(CaseHead(case_id=case_id, events=state.events, hash=state.last_hash))
        if not heads:
            return None
        latest = self._checkpoints.get(p)
        checkpoint = ChainCheckpoint(
            partition=p,
            sequence=latest.sequence + 1 if latest is not None else 1,
            previous=latest.digest() if latest is not None else None,
            written_at=self._clock(),
            heads=tuple(heads),
        )
        return self._signer.sign(checkpoint) if self._signer is not None else checkpoint

    async def _one(
        self, record: Record, states: StateStore, changed: dict[str, CaseState | None]
    ) -> list[Message]:
        try:
            event = await cloudevents.decode(self._codec, record)
        except DecodeError as exc:
            return [await self._dead_letter(record, None, type(exc).__name__, str(exc))]
        expected = _EXPECTED.get(record.topic, ())
        if not isinstance(event, expected):
            names = " or ".join(e.event_type for e in expected)
            reason = f"{event.event_type} on {record.topic}: expected {names}"
            return [await self._dead_letter(record, event, "MisplacedEvent", reason)]
        case_id = event.case_id
        count = self._counts.get(record.topic)
        if count is None:
            count = self._counts[record.topic] = await self._bus.partitions(record.topic)
        home = partition_for(case_id.encode(), count, 0)
        if record.partition != home:
            return [self._forward(record, case_id, home)]
        quarantined = self._quarantined.get(record.partition, {}).get(case_id)
        if quarantined is not None:
            reason = f"case {case_id!r} is quarantined: {quarantined}"
            return [await self._dead_letter(record, event, "CaseQuarantined", reason)]
        current = changed[case_id] if case_id in changed else states.get(case_id)
        result = transition(current, event, self._catalog)
        out: list[Message] = []
        if result.dead_letter is not None:
            # Usually an invalid input (no outputs, state unchanged); a failed compensation
            # also closes the case, and those outputs must go out with the dead letter.
            out.append(await self._dead_letter(record, event, "InvalidInput", result.dead_letter))
        if result.ignored is not None:
            self.stats.ignored += 1
            self.stats.recent_ignored.append(result.ignored)
        elif isinstance(event, TimerFired) and result.dead_letter is None:
            self.stats.timers_applied[event.purpose.value] += 1
            if event.purpose is TimerPurpose.HUMAN_SLA:
                self.stats.sla_breaches += 1
                log.info("human task SLA breached", extra={"case_id": case_id})
        elif isinstance(event, HumanDecision) and result.dead_letter is None:
            self._count_review(current, event)
        self.stats.transitions += 1
        if log.isEnabledFor(logging.DEBUG):
            outputs = ",".join(e.event.event_type for e in result.outputs)
            log.debug(
                "transition %s -> [%s]",
                event.event_type,
                outputs,
                extra={"case_id": case_id, "ignored": result.ignored or ""},
            )
        if result.state is not current:
            changed[case_id] = result.state
        # Trace context is the bus middleware's to set (`processing` around this record).
        key = case_id.encode()
        service = self._producer.service
        for emit in result.outputs:
            value = await self._codec.encode(emit.event, emit.topic)
            # A hand-off's submission is keyed by the case it opens.
            own = emit.event.case_id == case_id
            headers = cloudevents.headers_for(emit.event, service) if self._cloudevents else ()
            out.append(
                Message(
                    emit.topic,
                    value,
                    key=key if own else emit.event.case_id.encode(),
                    headers=headers,
                )
            )
        return out

    def _count_review(self, before: CaseState | None, decision: HumanDecision) -> None:
        """A person's verdict on the output of the step under review, counted against the
        model that gave it (budget and compensation tasks judge no model)."""
        human = before.human if before is not None else None
        if before is None or human is None or human.step is None:
            return
        step = before.steps.get(human.step)
        model = step.model if step is not None and step.model else "unrecorded"
        outcome = _OUTCOMES.get(decision.action, "corrected")
        self.stats.reviews[(model, outcome)] += 1

    def _forward(self, record: Record, case_id: str, home: int) -> Message:
        """An input on another partition than its case's (a producer that partitions by
        another hash than murmur2, as librdkafka's default CRC32, or writes no key) goes,
        unchanged and in this same transaction, to the partition that owns the case."""
        self.stats.forwarded += 1
        log.info(
            "input forwarded to its case's partition",
            extra={"case_id": case_id, "topic": record.topic, "from": record.partition, "to": home},
        )
        return Message(
            record.topic, record.value, key=case_id.encode(), headers=record.headers, partition=home
        )

    async def _dead_letter(
        self, record: Record, event: Event | None, error_class: str, reason: str
    ) -> Message:
        self.stats.dead_lettered += 1
        log.warning(
            "dead letter: %s",
            reason,
            extra={"topic": record.topic, "offset": record.offset}
            | ({"case_id": event.case_id} if event is not None else {}),
        )
        letter = dead_letter(
            reason=f"coordinator: {reason}",
            error_class=error_class,
            message=reason,
            source=(record.topic, record.partition, record.offset),
            key=record.key,
            value=record.value,
            headers=record.headers,
            attempts=1,
            producer=self._producer,
            occurred_at=self._clock(),
            event=event,
        )
        trace = record.header("traceparent")
        return Message(
            DEAD_LETTERS.name,
            await self._codec.encode(letter, DEAD_LETTERS.name),
            key=letter.case_id.encode(),
            headers=dead_letter_headers(letter, trace.decode() if trace else None),
        )

    # -- timers -------------------------------------------------------------------------

    async def _timer_loop(self, stop: anyio.Event) -> None:
        while not stop.is_set():
            _, cases = await self._fire_round(TIMER_CASES_PER_ROUND)
            if cases >= TIMER_CASES_PER_ROUND:
                continue  # more may be due: the next round now (publishing let others run)
            with anyio.move_on_after(self._timer_interval_s):
                await stop.wait()

    async def fire_due_timers(self, limit: int = TIMER_CASES_PER_ROUND) -> int:
        """Publish `TimerFired` for the due timers of at most `limit` owned cases, the
        earliest due first; returns how many timers. A coordinator back after a while may
        have hundreds of thousands due (each case read back from its compressed state,
        each timer encoded: ~80 us a case), and firing them in one go kept the event loop
        from heartbeating for longer than a session timeout: the group dropped the
        member. The timer loop fires round after round while rounds are full."""
        timers, _ = await self._fire_round(limit)
        return timers

    async def _fire_round(self, limit: int) -> tuple[int, int]:
        """`fire_due_timers`: the timers fired and the cases they were of."""
        now = self._clock()
        due: list[Message] = []
        cases = 0
        # A copy: encoding may wait, and a rebalance may meanwhile drop a partition.
        for p, states in list(self._states.items()):
            if cases >= limit:
                break
            ready = states.due(now, limit - cases)
            cases += len(ready)
            for case_id in ready:
                if self._states.get(p) is not states:
                    break  # the partition went elsewhere: its new owner has the timers
                state = states.get(case_id)
                if state is None:
                    continue
                fired = self._fired.get(case_id, set())
                for timer in state.due_timers(now):
                    if timer.id in fired:
                        continue
                    fired.add(timer.id)
                    self._fired[case_id] = fired
                    value = await self._codec.encode(timer_fired(state, timer, now), TIMERS.name)
                    due.append(Message(TIMERS.name, value, key=case_id.encode(), partition=p))
                states.wake_at(case_id, self._pending_due(state))
        if due:
            await self._bus.publish_batch(due)
            self.stats.timers_fired += len(due)
        return len(due), cases
