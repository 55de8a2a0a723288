"""Reading partitions from their first record to their end: restore, replay, audit."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence

from bus._protocol import Bus
from bus._types import Record, TopicPartition
from bus.errors import BusError

STALL_S = 60.0
"""How long reading may make no progress before it gives up (the records it waits for
were removed, or the bus stopped answering): an error, never a hang."""


async def read_to_end(
    b: Bus,
    partitions: Sequence[TopicPartition],
    *,
    batch: int = 5000,
    start: Mapping[TopicPartition, int] | None = None,
    stall_s: float = STALL_S,
) -> AsyncIterator[list[Record]]:
    """Batches of the committed records of `partitions`, from the first record (or the
    offset `start` gives a partition) up to the end offsets of when the call starts (no
    group, nothing committed).

    The end is judged by the reader's position, not by record offsets: transaction
    markers and compaction leave offsets that no record has. Iterate it to the end.

    Raises:
        BusError: If no partition moved closer to its end for `stall_s` seconds.
    """
    ends = await b.end_offsets(partitions)
    starts = start or {}
    todo = [tp for tp in partitions if ends[tp] > starts.get(tp, 0)]
    if not todo:
        return
    async with b.reader(todo) as reader:
        for tp in todo:
            if tp in starts:
                await reader.seek(tp, starts[tp])
        last: dict[TopicPartition, int] = {}
        moved_at = time.monotonic()
        while True:
            positions = {tp: await reader.position(tp) for tp in todo}
            behind = {tp: p for tp, p in positions.items() if p < ends[tp]}
            if not behind:
                return
            if positions != last:
                last, moved_at = positions, time.monotonic()
            elif time.monotonic() - moved_at > stall_s:
                where = ", ".join(
                    f"{tp.topic}[{tp.partition}] at {p} of {ends[tp]}" for tp, p in behind.items()
                )
                raise BusError(
                    f"reading stopped short of the end for {stall_s:g} s: {where} (records "
                    "below the end are missing, or the bus does not answer)"
                )
            records = await reader.poll(timeout=1.0, max_records=batch)
            if records:
                yield records
