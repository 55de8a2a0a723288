"""Reading partitions from their first record to their end: restore, replay, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from bus._protocol import Bus
from bus._types import Record, TopicPartition


async def read_to_end(
    b: Bus, partitions: Sequence[TopicPartition], *, batch: int = 5000
) -> AsyncIterator[list[Record]]:
    """Batches of the committed records of `partitions`, from the first record up to the
    end offsets of when the call starts (no group, nothing committed).

    The end is judged by the reader's position, not by record offsets: transaction
    markers and compaction leave offsets that no record has. Iterate it to the end.
    """
    ends = await b.end_offsets(partitions)
    todo = [tp for tp in partitions if ends[tp]]
    if not todo:
        return
    async with b.reader(todo) as reader:
        while any([await reader.position(tp) < ends[tp] for tp in todo]):
            records = await reader.poll(timeout=1.0, max_records=batch)
            if records:
                yield records
