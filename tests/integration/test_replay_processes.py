"""`caseyard replay` of a large log shares its partitions among processes (issue 10): the
same rows, decisions, differences and left-out cases as replaying it in one process."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.progress import Progress

from caseyard.commands import replay as replay_command
from caseyard.commands.replay import Start, replay_log
from caseyard.settings import Settings
from schemas import CaseCompleted
from tests.integration.coordinator_harness import TWO_STEPS, cli_harness, harness

pytestmark = pytest.mark.anyio

CHANGED = TWO_STEPS.replace(
    "  - {id: extract, capability: extract, after: [classify], inputs: [classify]}\n",
    "  - {id: extract, capability: extract, after: [classify], inputs: [classify]}\n"
    "  - {id: again, capability: extract, after: [extract], inputs: [extract]}\n",
)
"""The pipeline with one step more: replayed with it, every case decides otherwise."""


@pytest.mark.timeout(180)
async def test_processes_replay_what_one_process_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with cli_harness(tmp_path, TWO_STEPS) as h:
        cases = [await h.submit("seq", case_id=f"case-{n:02d}") for n in range(24)]
        for case in cases:
            await h.wait_for(case, CaseCompleted)
    monkeypatch.setattr(replay_command, "PROCESSES_FROM_RECORDS", 0)  # this log is small
    shared: list[list[list[int]]] = []
    in_processes = replay_command._in_processes

    def spy(*args: Any) -> Any:
        shared.append(args[-1])
        return in_processes(*args)

    monkeypatch.setattr(replay_command, "_in_processes", spy)
    settings = Settings(
        bus=f"sqlite:///{tmp_path}/bus.db",
        data_dir=tmp_path / "data",
        pipelines_dir=tmp_path / "pipelines",
    )
    with Progress(disable=True) as progress:
        one = await replay_log(settings, Start(), None, progress, processes=1)
        two = await replay_log(settings, Start(), None, progress, processes=2)
    assert sorted(row["case"] for row in one.rows) == cases
    assert (one.rows, one.decisions, one.not_rebuilt) == (two.rows, two.decisions, set())
    assert one.mismatches == two.mismatches == []
    assert shared == [[[0, 2, 4], [1, 3, 5]]]  # processes=1 replayed in this process

    (tmp_path / "pipelines" / "intake.yaml").write_text(CHANGED)
    with Progress(disable=True) as progress:
        one = await replay_log(settings, Start(), None, progress, processes=1)
        two = await replay_log(settings, Start(), None, progress, processes=3)
    assert len({m.case_id for m in one.mismatches}) == len(cases)
    assert one.mismatches == two.mismatches
    assert one.rows == two.rows


@pytest.mark.kafka
@pytest.mark.timeout(180)
async def test_processes_replay_a_kafka_log_as_one_process_does(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process opens the bus itself: on Kafka, its own clients."""
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "seq.yaml").write_text(TWO_STEPS)
    url = f"kafka://{kafka_bootstrap}"
    began = Start(time=datetime.now(UTC) - timedelta(seconds=1))
    run = uuid.uuid4().hex[:8]
    async with harness(url, tmp_path / "pipelines") as h:
        cases = [await h.submit("seq", case_id=f"{run}-{n:02d}") for n in range(12)]
        for case in cases:
            await h.wait_for(case, CaseCompleted, timeout=60)
    monkeypatch.setattr(replay_command, "PROCESSES_FROM_RECORDS", 0)
    settings = Settings(bus=url, data_dir=tmp_path / "data", pipelines_dir=tmp_path / "pipelines")
    with Progress(disable=True) as progress:
        one = await replay_log(settings, began, None, progress, processes=1)
        two = await replay_log(settings, began, None, progress, processes=2)
    assert set(cases) <= {row["case"] for row in one.rows}
    assert (one.rows, one.decisions, one.mismatches) == (two.rows, two.decisions, two.mismatches)
    assert not [m for m in one.mismatches if m.case_id in cases]
