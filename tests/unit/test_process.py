"""Process settings: what `caseyard.process.tune` leaves in effect."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import pytest

from caseyard import process


def _soft_heap_limit() -> int:
    with closing(sqlite3.connect(":memory:")) as conn:
        return int(conn.execute("PRAGMA soft_heap_limit").fetchone()[0])


@pytest.fixture
def restored() -> Iterator[None]:
    before = _soft_heap_limit()
    yield
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(f"PRAGMA soft_heap_limit={before}")


def test_sqlite_heap_is_held_to_the_limit_for_every_connection_of_the_process(
    restored: None,
) -> None:
    process.tune_sqlite()
    # Set through one connection, closed since: every other one of the process has it.
    assert _soft_heap_limit() == process.SQLITE_HEAP_LIMIT
