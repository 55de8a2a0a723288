"""Restoring a partition from a changelog that is not compacted yet: the last record of each
case is what counts, whatever came before it.

Each kind of record history, and what the restored coordinator holds: several states ->
the last; a bad state then a good one -> the good one; a good state then a bad one -> the
case is quarantined, saying which record; a state then a tombstone -> no case; a tombstone
then a state -> the state.
"""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

import bus
from bus import Message, TopicPartition, partition_for
from coordinator import TOMBSTONE, CaseState, Coordinator, PipelineCatalog, _service, gc_paused
from coordinator._service import AUDIT_HEAD, POSITIONS, RESTORE_WINDOW
from schemas import AvroCodec, MemorySchemaStore, Producer, Registry
from schemas.audit import CaseHead, ChainCheckpoint
from schemas.topology import CASE_PARTITIONS, STATE, TIMERS
from tests.unit.coordinator.test_coord_rebalance import PIPELINES
from tests.unit.coordinator.test_coord_store import states

pytestmark = pytest.mark.anyio


def one_partition(name: str) -> str:
    """A case id like `name` on partition 0."""
    n = 0
    while partition_for(f"{name}-{n}".encode(), CASE_PARTITIONS, 0) != 0:
        n += 1
    return f"{name}-{n}"


@pytest.mark.parametrize("window", [1, 2, RESTORE_WINDOW])
async def test_the_last_record_of_each_case_is_what_a_restore_holds(
    window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether values wait to be read (a window as large as the changelog) or are read as
    they leave a window of one or two, the last record of each case decides."""
    monkeypatch.setattr(_service, "RESTORE_WINDOW", window)
    (base,) = states(1)
    names = ("many", "healed", "broken", "gone", "back")
    cases = {name: one_partition(name) for name in names}  # one restore reads them all
    first = {c: replace(base, case_id=c, correlation_id=c) for c in cases.values()}
    later = {c: replace(s, seq=s.seq + 1) for c, s in first.items()}
    history: dict[str, list[dict[str, CaseState] | bytes]] = {
        cases["many"]: [first, first, later],
        cases["healed"]: [b"\xff not a state", later],
        cases["broken"]: [first, b"{}"],
        cases["gone"]: [first, TOMBSTONE],
        cases["back"]: [TOMBSTONE, later],
    }
    async with bus.connect("memory://") as b:
        await b.ensure_topics([bus.TopicSpec(STATE.name, partitions=CASE_PARTITIONS)])
        # The cases' records interleaved, as the changelog of busy cases has them.
        for n in range(max(len(v) for v in history.values())):
            for case_id, values in history.items():
                if n >= len(values):
                    continue
                value = values[n]
                raw = value[case_id].to_bytes() if isinstance(value, dict) else value
                p = partition_for(case_id.encode(), CASE_PARTITIONS, 0)
                await b.publish_batch([Message(STATE.name, raw, key=case_id.encode(), partition=p)])
        coordinator = Coordinator(
            bus=b,
            codec=AvroCodec(Registry(MemorySchemaStore())),
            catalog=PipelineCatalog.load(PIPELINES),
            producer=Producer(service="test", version="1"),
        )
        await coordinator.restore(set(range(CASE_PARTITIONS)))
    for name in ("many", "healed", "back"):
        assert coordinator.state(cases[name]) == later[cases[name]], name
    assert coordinator.state(cases["gone"]) is None
    assert coordinator.state(cases["broken"]) is None
    assert list(coordinator.quarantined()) == [cases["broken"]]
    why = coordinator.quarantined()[cases["broken"]]
    assert why.startswith(f"its state record {STATE.name}[") and "is corrupt" in why


@pytest.mark.parametrize(
    ("history", "sequence", "positions", "errors"),
    [
        # Every transaction writes a checkpoint and the positions: the latest decides...
        ("good good", 2, {"caseyard.intake": 2}, 0),
        # ... a corrupt one before it is never read (it was replaced) ...
        ("bad good", 2, {"caseyard.intake": 2}, 0),
        # ... and a corrupt latest one is reported: no checkpoint (the next starts the
        # numbering again), no positions (the group's committed offsets are used).
        ("good bad", None, {}, 2),
    ],
)
async def test_the_latest_checkpoint_and_positions_are_what_a_restore_reads(
    history: str,
    sequence: int | None,
    positions: dict[str, int],
    errors: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with bus.connect("memory://") as b:
        await b.ensure_topics([bus.TopicSpec(STATE.name, partitions=CASE_PARTITIONS)])
        for n, kind in enumerate(history.split(), start=1):
            checkpoint = ChainCheckpoint(
                partition=0,
                sequence=n,
                previous=None,
                written_at=datetime(2026, 1, 1, tzinfo=UTC),
                heads=(CaseHead(case_id="c", events=n, hash="ab" * 32),),
            ).to_bytes()
            moved = f'{{"caseyard.intake": {n}}}'.encode()
            good = kind == "good"
            await b.publish_batch(
                [
                    Message(
                        STATE.name, checkpoint if good else b"\xff", key=AUDIT_HEAD, partition=0
                    ),
                    Message(STATE.name, moved if good else b"[", key=POSITIONS, partition=0),
                ]
            )
        coordinator = Coordinator(
            bus=b,
            codec=AvroCodec(Registry(MemorySchemaStore())),
            catalog=PipelineCatalog.load(PIPELINES),
            producer=Producer(service="test", version="1"),
        )
        await coordinator.restore({0})
    restored = coordinator._checkpoints[0]
    assert (restored.sequence if restored is not None else None) == sequence
    assert coordinator._positions[0] == positions
    assert sum(r.levelname == "ERROR" for r in caplog.records) == errors


def test_gc_paused_pauses_the_collector_and_leaves_it_as_it_found_it() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("a failed replay")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()


async def test_a_backlog_of_due_timers_fires_in_rounds_of_a_limited_number_of_cases() -> None:
    """A coordinator back after a while finds many cases' timers due: each round fires
    those of at most `limit` cases, the earliest first. The timer loop goes on at once
    while rounds are full, the event loop running between them (in one go it was seconds
    without a heartbeat: the group dropped the member)."""
    base = states(1)[0]
    assert base.timers
    cases = [one_partition(f"due{n}") for n in range(5)]
    async with bus.connect("memory://") as b:
        await b.ensure_topics([bus.TopicSpec(STATE.name, partitions=CASE_PARTITIONS)])
        await b.ensure_topics([bus.TopicSpec(TIMERS.name, partitions=CASE_PARTITIONS)])
        for case_id in cases:
            state = replace(base, case_id=case_id, correlation_id=case_id)
            await b.publish(STATE.name, state.to_bytes(), key=case_id.encode(), partition=0)
        late = max(t.due_at for t in base.timers) + timedelta(days=1)
        coordinator = Coordinator(
            bus=b,
            codec=AvroCodec(Registry(MemorySchemaStore())),
            catalog=PipelineCatalog.load(PIPELINES),
            producer=Producer(service="test", version="1"),
            clock=lambda: late,
        )
        await coordinator.restore({0})
        rounds = [await coordinator.fire_due_timers(limit=2) for _ in range(4)]
        timers = len(base.timers)
        assert rounds == [2 * timers, 2 * timers, timers, 0]
        fired = [
            r async for batch in bus.read_to_end(b, [TopicPartition(TIMERS.name, 0)]) for r in batch
        ]
        assert {r.key for r in fired} == {c.encode() for c in cases}
        assert len(fired) == len(cases) * timers
