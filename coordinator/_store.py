"""The saga states of one partition, and when their timers are due.

A coordinator holds every open case of the partitions it owns: a million open cases is an
ordinary day for an intake pipeline whose cases wait for people. As objects, a state
costs ~4.6 KB (pydantic models of the step outputs, dataclasses, tuples); as its
changelog value ~1.3 KB of JSON. Kafka Streams keeps a store's values serialised (in
RocksDB) behind a small cache of objects; this store does the same in memory:

- the `hot` most recently used states are objects: the cases moving now cost nothing
  more than a dict lookup; each keeps the changelog value it was written as, if the
  caller gives it, so that leaving the hot set does not serialise it a second time
  (~1.3 KB more a hot state, ~2.7 MB a partition at `HOT_STATES`);
- the others are their changelog value compressed with zstandard against a preset
  dictionary (the first value the store compressed: the keys and most values of every
  state of a deployment repeat from case to case), ~160-200 bytes. Reading one back
  costs ~20 us (decompress, then the same validation as a restore).

The store also keeps each case's timer wake-up: one heap entry per case, at its earliest
timer not yet fired (not one per timer), so a million open cases cost a million entries.
An entry whose time is no longer the case's wake-up is stale and dropped when it comes up,
or sooner: a case that ended or moved on leaves one due hours away (an SLA, a deadline),
so once the stale entries outnumber the live ones the heap is rebuilt from the live ones.
"""

from __future__ import annotations

import heapq
from datetime import datetime

import zstandard

from coordinator._state import CaseState

HOT_STATES = 2048
"""States kept as objects per partition (the rest are compressed)."""
STALE_SLACK = 1024
"""Stale wake-up entries beyond the live ones tolerated before the heap is rebuilt."""


class StateStore:
    """Case id -> saga state of the open cases of one partition, with their wake-ups."""

    def __init__(self, hot: int = HOT_STATES) -> None:
        if hot < 1:
            raise ValueError("a state store keeps at least one state as an object")
        self._limit = hot
        self._hot: dict[str, tuple[CaseState, bytes | None]] = {}
        """Each hot state with its changelog value, if `put` was given it. Insertion order
        is recency: the first is the least recently used."""
        self._cold: dict[str, bytes] = {}
        self._compressor: zstandard.ZstdCompressor | None = None
        self._decompressor: zstandard.ZstdDecompressor | None = None
        self._wakeups: list[tuple[datetime, str]] = []
        self._wakeup: dict[str, datetime] = {}
        """Each case's live heap entry; any other entry of the case is stale."""

    def __len__(self) -> int:
        return len(self._hot) + len(self._cold)

    def __contains__(self, case_id: object) -> bool:
        return case_id in self._hot or case_id in self._cold

    def get(self, case_id: str) -> CaseState | None:
        """The case's state (None if it has none here); it becomes the most recent."""
        entry = self._hot.pop(case_id, None)
        if entry is not None:
            self._hot[case_id] = entry
            return entry[0]
        packed = self._cold.pop(case_id, None)
        if packed is None:
            return None
        assert self._decompressor is not None
        value = self._decompressor.decompress(packed)
        state = CaseState.from_bytes(value)
        self._hot[case_id] = (state, value)
        self._evict()
        return state

    def put(self, case_id: str, state: CaseState, value: bytes | None = None) -> None:
        """Keep `state` as the case's state, as the most recent; `value`, if given, is its
        changelog value (`state.to_bytes()`, which the caller has made already)."""
        self._cold.pop(case_id, None)
        self._hot.pop(case_id, None)
        self._hot[case_id] = (state, value)
        self._evict()

    def put_value(self, case_id: str, value: bytes) -> None:
        """Keep the case's state as its changelog value (`value` must be a valid one: a
        restore has read it already); it is read when the case is next used."""
        self._hot.pop(case_id, None)
        self._cold[case_id] = self._pack(value)

    def pop(self, case_id: str) -> None:
        """Forget the case (its heap entry goes stale)."""
        self._hot.pop(case_id, None)
        self._cold.pop(case_id, None)
        self._wakeup.pop(case_id, None)

    def _evict(self) -> None:
        while len(self._hot) > self._limit:
            case_id = next(iter(self._hot))
            state, value = self._hot.pop(case_id)
            self._cold[case_id] = self._pack(value if value is not None else state.to_bytes())

    def _pack(self, value: bytes) -> bytes:
        if self._compressor is None:
            # The first value is the dictionary the others are compressed against.
            dictionary = zstandard.ZstdCompressionDict(
                value, dict_type=zstandard.DICT_TYPE_RAWCONTENT
            )
            self._compressor = zstandard.ZstdCompressor(level=1, dict_data=dictionary)
            self._decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
        # Copied: zstandard's result keeps the allocation of the worst case (larger
        # than the input), ~1.4 KB held per ~180-byte value.
        return bytes(memoryview(self._compressor.compress(value)))

    # -- wake-ups -------------------------------------------------------------------------

    def wake_at(self, case_id: str, due: datetime | None) -> None:
        """The case's timers are next due at `due` (None: it has none pending)."""
        if due is None:
            self._wakeup.pop(case_id, None)
        elif self._wakeup.get(case_id) != due:
            self._wakeup[case_id] = due
            heapq.heappush(self._wakeups, (due, case_id))
            if len(self._wakeups) > 2 * len(self._wakeup) + STALE_SLACK:
                self._wakeups = [(d, c) for c, d in self._wakeup.items()]
                heapq.heapify(self._wakeups)

    def due(self, now: datetime, limit: int | None = None) -> list[str]:
        """The cases whose wake-up is at `now` or earlier, each once, the earliest first
        and at most `limit` of them; a case returned has no wake-up until `wake_at` gives
        it one again."""
        cases: list[str] = []
        while (
            self._wakeups and self._wakeups[0][0] <= now and (limit is None or len(cases) < limit)
        ):
            due, case_id = heapq.heappop(self._wakeups)
            if self._wakeup.get(case_id) == due:  # else stale: it moved, or the case is gone
                del self._wakeup[case_id]
                cases.append(case_id)
        return cases

    @property
    def hot(self) -> int:
        """States held as objects."""
        return len(self._hot)
