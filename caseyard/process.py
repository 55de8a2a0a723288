"""Process settings for a long-running caseyard process: glibc's malloc, Python's GC (and
its full collections) and SQLite's heap.

The CLI applies them at start (`caseyard.cli.main`); the benchmarks apply them too, so what
they measure is what `caseyard run` runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sqlite3
import sys
import threading
import time

MALLOC_ARENAS = 2
MALLOC_MMAP_THRESHOLD = 128 * 1024
# glibc's mallopt parameters, and the variables that set them at start (which win).
_MALLOPT = (
    (-8, MALLOC_ARENAS, "MALLOC_ARENA_MAX"),  # M_ARENA_MAX
    (-3, MALLOC_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),  # M_MMAP_THRESHOLD
    (-1, MALLOC_MMAP_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"),  # M_TRIM_THRESHOLD
)


def tune_malloc() -> None:
    """glibc's malloc set for a long-running process that handles documents.

    At most MALLOC_ARENAS arenas: glibc gives threads that allocate arenas of their own (up
    to 8 per core) and does not reuse what one frees in another. A fixed mmap threshold of
    128 KiB: glibc raises it as large blocks are freed (up to 32 MiB), after which the
    documents' buffers (a few MiB each, read by three agents per case) come from the
    arenas and fragment them, so RSS climbs in steps; fixed, such blocks are mapped and
    given back when freed. Trimming at the same size. Measured with `bench.soak`
    (`caseyard up`, a document per second, two runs side by side each time): RSS +15.0%
    from minute 3 to 10 with glibc's defaults, +7.2% with two arenas; then, both with two
    arenas, 14 minutes: 271 MiB at the end with the fixed threshold against 318 (+29 MiB
    from minute 5 against +36). Called before any thread starts; a MALLOC_* variable set
    by the user wins; not glibc, nothing to do.
    """
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None)
        for parameter, value, variable in _MALLOPT:
            if variable not in os.environ:
                libc.mallopt(parameter, value)
    except (OSError, AttributeError):
        return


GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Python's cyclic GC set for a process that holds many objects and makes many more.

    CPython collects its youngest generation every 700 container allocations; what
    survives is scanned again in the older generations. A process that decodes thousands
    of events a second and keeps cases in memory spent a third of `caseyard replay`'s time
    there (profile of `replay --verify` over 30,000 records: 2.36 s, 1.55 s with the GC
    off). Here the objects made at start (modules, classes, validators) are frozen out of
    every collection, and the young generation is collected every GC_YOUNG_THRESHOLD
    allocations (2.36 -> 1.70 s; the saga of `bench.peers` 1.75 -> 1.57 CPU ms per case).
    Cycles are still collected, later. Called once the commands are imported; a process
    that sets its own thresholds afterwards wins.
    """
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


FULL_COLLECTION_EVERY_S = 60.0
FULL_COLLECTION_SHARE = 0.001
"""At most this share of the time goes to the collections `collect_periodically` adds."""


def collect_periodically(
    every_s: float = FULL_COLLECTION_EVERY_S, stop: threading.Event | None = None
) -> threading.Thread:
    """A full collection at least every `every_s` seconds, from a daemon thread.

    With the young generation collected every GC_YOUNG_THRESHOLD allocations, CPython
    scans the oldest generation only after a hundred young collections (and then only if
    it grew by a quarter): several million allocations, minutes apart at a light load. What
    dies in a reference cycle after surviving a young collection waits until then: in
    `bench.soak` (`caseyard up`, 0.5 documents a second) scikit-learn's joblib `Parallel`
    objects, phonenumbers' exceptions with their tracebacks and frames, closed transports:
    ~2,600 objects a minute, no full collection from minute 7 to 20, and RSS rising
    ~0.35 MiB a minute all that while. A full collection skips what `tune_gc` froze, so
    in a process like that it takes 10-30 ms; one that ran by itself in the interval (a
    busy process) is not repeated, and a heap so large that a collection takes longer
    than FULL_COLLECTION_SHARE of the interval (a coordinator holding a million cases it
    did not restore) waits proportionally longer for the next. `stop` ends the thread
    (tests); otherwise it lives as long as the process.
    """
    done = stop if stop is not None else threading.Event()

    def run() -> None:
        interval = every_s
        seen = gc.get_stats()[2]["collections"]
        while not done.wait(interval):
            if gc.get_stats()[2]["collections"] == seen:
                began = time.perf_counter()
                gc.collect()
                interval = next_interval(every_s, time.perf_counter() - began)
            seen = gc.get_stats()[2]["collections"]

    thread = threading.Thread(target=run, name="caseyard-full-gc", daemon=True)
    thread.start()
    return thread


def next_interval(every_s: float, took_s: float) -> float:
    """How long to wait after a full collection that took `took_s` seconds."""
    return max(every_s, took_s / FULL_COLLECTION_SHARE)


SQLITE_HEAP_LIMIT = 2 * 1024 * 1024


def tune_sqlite() -> None:
    """SQLite's heap held to SQLITE_HEAP_LIMIT bytes for the whole process.

    Each SQLite connection keeps a page cache of up to 2 MiB (SQLite's default cache_size),
    and one process opens a dozen: the embedded bus, each agent's processed store, the
    scorer's history, the schema registry, the inbox's users. The caches fill as the files
    grow, slowly: in `bench.soak` SQLite's heap (`sqlite3_memory_used`) went from 1.81 to
    2.98 MiB between minutes 10 and 21 and still rose ~0.1 MiB a minute, most of what the
    process grew after warm-up (from minute 14 to 21: SQLite +0.74 MiB, RSS +0.9). A soft
    limit (`PRAGMA soft_heap_limit`, process-wide): SQLite evicts unused cache pages to stay
    under it; the operating system's page cache still holds the files.
    """
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(f"PRAGMA soft_heap_limit={SQLITE_HEAP_LIMIT}")


def tune() -> None:
    """All of them, for a process whose imports are done and whose threads have not
    started (the full collections' thread starts after malloc is set)."""
    tune_malloc()
    tune_gc()
    tune_sqlite()
    collect_periodically()
