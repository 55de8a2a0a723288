"""Running async command bodies from sync typer commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body on asyncio."""
    return anyio.run(main)
