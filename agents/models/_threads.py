"""Run native (OpenMP/BLAS) code single-threaded.

Gradient boosting parallelises with OpenMP across all cores. For the small matrices the
scorer trains on and the single rows it predicts, the threads mostly wait on each other;
on a busy 2-core machine that made training 7x slower. One thread is faster and leaves the
cores to the other agents in the process.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from typing import Any

from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]


@cache
def _controller() -> Any:
    return ThreadpoolController()


def single_threaded() -> AbstractContextManager[Any]:
    """A context in which OpenMP and BLAS use one thread."""
    limited: AbstractContextManager[Any] = _controller().limit(limits=1)
    return limited
