"""Crash test on real Kafka: 200 cases in flight, the coordinator process (`caseyard run
coordinator`, as an operator starts it) is killed with SIGKILL at random points, three
times, and restarted. Every case must complete exactly once: no case lost, no duplicate
lifecycle event, no step applied twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import pytest

from agents.runtime import Outcome
from schemas import CaseCompleted, CaseOpened, Event, StepCompleted, StepStarted, TaskRequested
from tests.helpers import eventually
from tests.integration.coordinator_harness import Harness, agents_only, default_output

pytestmark = [pytest.mark.kafka, pytest.mark.anyio]

CASES = 200
REPO = Path(__file__).resolve().parents[2]
KILLS = 3
PIPELINE = """
name: crash
version: 1
steps:
  - {id: classify, capability: classify, timeout: 5m}
  - {id: extract, capability: extract, after: [classify], inputs: [classify], timeout: 5m}
  - {id: score, capability: score, after: [extract], inputs: [classify, extract], timeout: 5m}
  - {id: respond, capability: respond, after: [score], inputs: [score], timeout: 5m}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "crash.yaml").write_text(PIPELINE)
    return tmp_path


@pytest.fixture
def coordinator(workdir: Path, kafka_bootstrap: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def start(procs: list[subprocess.Popen[bytes]], workdir: Path, bootstrap: str) -> None:
    env = {
        **os.environ,
        "CASEYARD_BUS": f"kafka://{bootstrap}",
        "CASEYARD_DATA_DIR": str(workdir / "data"),
        "CASEYARD_PIPELINES_DIR": str(workdir / "pipelines"),
        "CASEYARD_SESSION_TIMEOUT_MS": "6000",
    }
    caseyard = Path(sys.executable).parent / "caseyard"
    with (workdir / f"coordinator-{len(procs)}.log").open("wb") as log:
        procs.append(
            subprocess.Popen([str(caseyard), "run", "coordinator"], env=env, stdout=log, stderr=log)
        )


def start_stalling(
    procs: list[subprocess.Popen[bytes]], workdir: Path, bootstrap: str, log: Path
) -> None:
    """`tests.fault.stalling_coordinator`: a transaction over several partitions stops
    before its commit."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    module = "tests.fault.stalling_coordinator"
    pipelines = str(workdir / "pipelines")
    with (workdir / "stalling.log").open("wb") as out:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", module, bootstrap, pipelines, str(log)],
                env=env,
                stdout=out,
                stderr=out,
            )
        )


async def run_and_check(
    url: str, scenario: Callable[[Harness], Awaitable[None]], cases: int = CASES
) -> None:
    """Submit `cases` cases, play `scenario` on the coordinators, then check every case
    completed exactly once and every task was requested exactly once."""
    run_id = uuid.uuid4().hex[:6]
    async with agents_only(url) as h:
        wanted = {await h.submit("crash", case_id=f"crash-{run_id}-{n:03d}") for n in range(cases)}
        await scenario(h)
        began = time.monotonic()

        async def all_completed() -> dict[str, list[Event]]:
            by_case = await h.events_of(wanted)
            done = {c for c, es in by_case.items() if any(isinstance(e, CaseCompleted) for e in es)}
            waited = time.monotonic() - began
            stuck = sorted(wanted - done)[:3]
            assert done == wanted, (
                f"{len(done)}/{cases} completed after {waited:.0f}s; stuck e.g. "
                f"{[(c, [e.event_type for e in by_case[c]]) for c in stuck]};"
                f" dead letters: {[d for d in await h.dead_letters() if run_id in d][:5]}"
            )
            return by_case

        by_case = await eventually(all_completed, timeout=240, interval=1.0)
        # Each task was requested once: no second TaskRequested of a task id on the topics.
        requested = Counter(t.task_id for t in await h.task_requests(wanted))

    for case_id, events in by_case.items():
        kinds = Counter(type(e).__name__ for e in events)
        assert kinds["CaseOpened"] == 1, (case_id, kinds)
        assert kinds["CaseCompleted"] == 1, (case_id, kinds)
        for cls in (StepStarted, StepCompleted):
            steps = Counter(getattr(e, "step", None) for e in events if isinstance(e, cls))
            assert set(steps.values()) == {1}, (case_id, cls.__name__, steps)
        assert len({e.event_id for e in events}) == len(events)
        assert isinstance(events[0], CaseOpened)
    assert all(n == 1 for n in requested.values()), requested.most_common(3)
    assert len(requested) == cases * 4


async def test_cases_complete_exactly_once_across_sigkills(
    workdir: Path, kafka_bootstrap: str, coordinator: list[subprocess.Popen[bytes]]
) -> None:
    rng = random.Random(7)
    start(coordinator, workdir, kafka_bootstrap)

    async def kill_three_times(h: Harness) -> None:
        for _ in range(KILLS):
            # Let it work a little, then kill it wherever it is.
            await anyio.sleep(rng.uniform(1.0, 4.0))
            coordinator[-1].send_signal(signal.SIGKILL)
            await anyio.to_thread.run_sync(coordinator[-1].wait)
            start(coordinator, workdir, kafka_bootstrap)

    await run_and_check(f"kafka://{kafka_bootstrap}", kill_three_times)
    assert len(coordinator) == KILLS + 1


async def test_second_instance_joins_then_the_first_is_killed(
    workdir: Path, kafka_bootstrap: str, coordinator: list[subprocess.Popen[bytes]]
) -> None:
    """Two coordinators split the partitions mid-run; then one dies and the other takes
    everything over: no case lost or duplicated across both hand-overs."""
    start(coordinator, workdir, kafka_bootstrap)

    async def slow(task: TaskRequested) -> Outcome:
        await anyio.sleep(0.05)  # so that cases are still in flight at both hand-overs
        return default_output(task)

    async def join_then_kill(h: Harness) -> None:
        for script in h.scripts.values():
            script.work = slow
        await anyio.sleep(2.0)
        start(coordinator, workdir, kafka_bootstrap)
        await anyio.sleep(6.0)
        coordinator[0].send_signal(signal.SIGKILL)
        await anyio.to_thread.run_sync(coordinator[0].wait)

    await run_and_check(f"kafka://{kafka_bootstrap}", join_then_kill)
    assert coordinator[1].poll() is None, "the second coordinator must still be running"


async def test_a_kill_between_the_commits_of_one_batch_loses_and_repeats_nothing(
    workdir: Path, kafka_bootstrap: str, coordinator: list[subprocess.Popen[bytes]]
) -> None:
    """One transaction spans the member's partitions: one of them is sent (records,
    states, positions, the group's offsets) but not committed, then the process dies.
    The next coordinator fences the dead member's transactional id, which the changelogs
    name as their writer (the transaction is aborted), restores, and runs the inputs
    again: nothing of any of those partitions is lost or done twice."""
    log = workdir / "stall.log"
    log.touch()

    async def stall_then_kill(h: Harness) -> None:
        start_stalling(coordinator, workdir, kafka_bootstrap, log)

        async def stalled() -> None:
            assert coordinator[-1].poll() is None, (workdir / "stalling.log").read_text()
            assert log.read_text().startswith("stalled"), log.read_text()

        await eventually(stalled, timeout=120, interval=0.2)
        coordinator[-1].send_signal(signal.SIGKILL)
        await anyio.to_thread.run_sync(coordinator[-1].wait)
        start(coordinator, workdir, kafka_bootstrap)

    await run_and_check(f"kafka://{kafka_bootstrap}", stall_then_kill)
