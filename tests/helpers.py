"""Test helpers: poll instead of sleeping."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio

from bus import Consumer, Record

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.02
) -> T:
    """Call `check` until it stops raising AssertionError; re-raise the last one at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await anyio.sleep(interval)


async def drain(consumer: Consumer, count: int, *, timeout: float = 30.0) -> list[Record]:
    """Poll `consumer` until it handed out `count` records (fails after `timeout` seconds)."""
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(records) < count:
        assert time.monotonic() < deadline, f"got {len(records)} of {count} records"
        records.extend(await consumer.poll(timeout=0.2, max_records=count - len(records)))
    return records


async def quiet(consumer: Consumer, *, wait: float = 0.5) -> list[Record]:
    """What `consumer` hands out within `wait` seconds (to show that nothing arrives)."""
    records: list[Record] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        records.extend(await consumer.poll(timeout=0.1))
    return records


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def listening(port: int, host: str = "127.0.0.1") -> None:
    """Pass once something accepts connections on `host:port` (for `eventually`)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError as exc:
        raise AssertionError(f"{host}:{port}: {exc}") from None


CASEYARD = str(Path(sys.executable).parent / "caseyard")
"""The CLI as a user types it (the venv's console script)."""


def caseyard_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a `caseyard` process on the embedded bus under `root`: the bus
    `root/bus.db`, data `root/data` (its registry the one a test harness shares through
    `registry_db`), pipelines `root/pipelines`."""
    return {
        **os.environ,
        "CASEYARD_BUS": f"sqlite:///{root}/bus.db",
        "CASEYARD_DATA_DIR": str(root / "data"),
        "CASEYARD_PIPELINES_DIR": str(root / "pipelines"),
        "CASEYARD_LOG_LEVEL": "WARNING",
        **extra,
    }


def run_caseyard(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`caseyard ARGS` in `caseyard_env(root)`, run to its end from `root`."""
    return subprocess.run(
        [CASEYARD, *args],
        env=caseyard_env(root),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
