"""Reading partitions from their first record to their end: restore, replay, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

from bus._protocol import Bus
from bus._types import Record, TopicPartition


async def read_to_end(
    b: Bus,
    partitions: Sequence[TopicPartition],
    *,
    batch: int = 5000,
    start: Mapping[TopicPartition, int] | None = None,
) -> AsyncIterator[list[Record]]:
    """Batches of the committed records of `partitions`, from the first record (or the
    offset `start` gives a partition) up to the end offsets of when the call starts (no
    group, nothing committed).

    The end is judged by the reader's position, not by record offsets: transaction
    markers and compaction leave offsets that no record has. Iterate it to the end.
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
        while any([await reader.position(tp) < ends[tp] for tp in todo]):
            records = await reader.poll(timeout=1.0, max_records=batch)
            if records:
                yield records
