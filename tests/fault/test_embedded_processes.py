"""The embedded bus across processes: concurrent writers, a group split between processes,
and a member killed with SIGKILL whose partitions move once its lease runs out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import bus
from bus import TopicSpec
from tests.helpers import drain, eventually

pytestmark = pytest.mark.anyio

SESSION_MS = 1500

MEMBER = f"""
import sys, anyio, bus
url, group, topic = sys.argv[1:4]
async def main():
    async with bus.connect(url, session_timeout_ms={SESSION_MS}) as b:
        async with b.consumer(group, [topic]) as c:
            last = None
            while True:
                await c.poll(timeout=0.05, max_records=0)
                now = sorted(p for _, p in c.assignment())
                if now != last:
                    print("assigned", *now, flush=True)
                    last = now
anyio.run(main)
"""

WRITER = """
import sys, anyio, bus
url, topic, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
async def main():
    async with bus.connect(url) as b:
        for i in range(count):
            await b.publish(topic, f"{name}:{i}".encode(), key=name.encode())
anyio.run(main)
"""


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/bus.db"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def spawn(procs: list[subprocess.Popen[str]], code: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    procs.append(proc)
    return proc


async def test_concurrent_writer_processes_lose_nothing(
    url: str, processes: list[subprocess.Popen[str]]
) -> None:
    async with bus.connect(url) as b:
        await b.ensure_topics([TopicSpec("t", partitions=2)])
    writers = [spawn(processes, WRITER, url, "t", f"w{n}", "200") for n in range(3)]
    for proc in writers:
        assert await anyio.to_thread.run_sync(proc.wait) == 0
    async with bus.connect(url) as b, b.consumer("check", ["t"]) as c:
        records = await drain(c, 600)
    by_writer: dict[str, list[int]] = {}
    for r in records:
        name, i = r.value.decode().split(":")
        by_writer.setdefault(name, []).append(int(i))
    assert by_writer == {f"w{n}": list(range(200)) for n in range(3)}


async def test_group_split_across_processes_and_takeover_after_kill(
    url: str, processes: list[subprocess.Popen[str]]
) -> None:
    async with bus.connect(url, session_timeout_ms=SESSION_MS) as b:
        await b.ensure_topics([TopicSpec("t", partitions=4)])
        for p in range(4):
            await b.publish_batch(
                [bus.Message("t", f"{p}:{i}".encode(), partition=p) for i in range(5)]
            )
        member = spawn(processes, MEMBER, url, "g", "t")
        assert member.stdout is not None
        lines = member.stdout

        def wait_for(expected: str) -> None:
            for line in lines:
                if line.strip() == expected:
                    return
            raise AssertionError(f"member exited before {expected!r}")

        await anyio.to_thread.run_sync(wait_for, "assigned 0 1 2 3")
        async with b.consumer("g", ["t"]) as c:

            async def split() -> None:
                await c.poll(timeout=0.05, max_records=0)
                assert len(c.assignment()) == 2

            await eventually(split)
            await anyio.to_thread.run_sync(
                wait_for,
                "assigned " + " ".join(str(p) for p in range(4) if ("t", p) not in c.assignment()),
            )
            member.send_signal(signal.SIGKILL)
            await anyio.to_thread.run_sync(member.wait)

            async def took_over() -> None:
                await c.poll(timeout=0.05, max_records=0)
                assert len(c.assignment()) == 4

            await eventually(took_over)
            records = await drain(c, 20)
        # The killed member never committed: every record of its partitions comes again.
        assert sorted(r.value.decode() for r in records) == sorted(
            f"{p}:{i}" for p in range(4) for i in range(5)
        )
