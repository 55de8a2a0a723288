"""Process settings: what `caseyard.process.tune` leaves in effect."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import closing

import pytest

from caseyard import process


def _soft_heap_limit() -> int:
    with closing(sqlite3.connect(":memory:")) as conn:
        return int(conn.execute("PRAGMA soft_heap_limit").fetchone()[0])


def _set_soft_heap_limit(limit: int) -> None:
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(f"PRAGMA soft_heap_limit={limit}")


@pytest.fixture
def restored() -> Iterator[None]:
    before = _soft_heap_limit()
    _set_soft_heap_limit(0)  # no limit: whatever set one before cannot pass the test
    yield
    _set_soft_heap_limit(before)


def test_sqlite_heap_is_held_to_the_limit_for_every_connection_of_the_process(
    restored: None,
) -> None:
    process.tune_sqlite()
    # Set through one connection, closed since: every other one of the process has it.
    assert _soft_heap_limit() == process.SQLITE_HEAP_LIMIT


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_cycles_are_collected_on_a_clock_when_the_collector_would_not_run() -> None:
    stop = threading.Event()
    thread: threading.Thread | None = None
    gc.disable()  # no automatic collection at all: only the thread collects
    try:
        node = _Node()
        alive = weakref.ref(node)
        del node
        assert alive() is not None  # a cycle: reference counting alone keeps it
        thread = process.collect_periodically(every_s=0.02, stop=stop)
        deadline = time.monotonic() + 10
        while alive() is not None and time.monotonic() < deadline:
            stop.wait(0.01)
        assert alive() is None
    finally:
        stop.set()
        gc.enable()
    assert thread is not None
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_collection_that_takes_long_waits_longer_for_the_next() -> None:
    assert process.next_interval(60.0, 0.02) == 60.0  # a light process: every minute
    # A large heap: collections stay at FULL_COLLECTION_SHARE of the time.
    assert process.next_interval(60.0, 1.5) == 1.5 / process.FULL_COLLECTION_SHARE
