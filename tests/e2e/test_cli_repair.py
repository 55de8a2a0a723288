"""`caseyard repair` as an operator types it: a case waiting for a person has its state
record corrupted; the restarted coordinator quarantines it and dead-letters the person's
decision; the repair rebuilds the state from the log (a dry run first), the next
coordinator restores it, and the redriven decision completes the case. A case that is not
quarantined is refused in one line."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

import bus
from bus import partition_for
from caseyard.schema_store import REGISTRY_DB
from schemas import CaseCompleted, DecisionAction, HumanTaskOpened
from schemas.topology import CASE_PARTITIONS, STATE
from tests.helpers import eventually, run_caseyard
from tests.integration.coordinator_harness import REVIEWED, Harness, harness

pytestmark = pytest.mark.anyio


async def test_a_quarantined_case_is_repaired_from_its_log(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "reviewed.yaml").write_text(REVIEWED)
    url = f"sqlite:///{tmp_path}/bus.db"

    def world() -> AbstractAsyncContextManager[Harness]:
        return harness(url, tmp_path / "pipelines", registry_db=tmp_path / "data" / REGISTRY_DB)

    async with world() as h:
        case = await h.submit("reviewed")
        await h.wait_for(case, HumanTaskOpened)
    key = case.encode()
    async with bus.connect(url) as b:  # the state record goes bad while no one runs
        await b.publish(
            STATE.name,
            b"\xff not a state",
            key=key,
            partition=partition_for(key, CASE_PARTITIONS, 0),
        )

    async with world() as h:
        assert h.coordinator is not None and set(h.coordinator.quarantined()) == {case}
        await h.decide(case, DecisionAction.APPROVE)

        async def dead_lettered() -> None:
            assert any("is quarantined" in r for r in await h.dead_letters())

        await eventually(dead_lettered, timeout=30)

    refused = run_caseyard(tmp_path, "repair", "case-nope")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: case 'case-nope' is not quarantined: nothing to repair"
    ]
    dry = run_caseyard(tmp_path, "repair", case, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "review" in dry.stdout and "nothing written" in dry.stdout
    repaired = run_caseyard(tmp_path, "repair", case)
    assert repaired.returncode == 0, repaired.stderr
    assert "1 dead-lettered input(s) left out" in repaired.stdout

    async with world() as h:
        assert h.coordinator is not None and h.coordinator.quarantined() == {}
        redriven = run_caseyard(tmp_path, "dlq", "redrive", "--all")
        assert redriven.returncode == 0, redriven.stderr
        events = await h.wait_for(case, CaseCompleted)
        assert [e.event_type for e in events].count("HumanTaskOpened") == 1
    assert run_caseyard(tmp_path, "audit", "verify", "--case", case).returncode == 0
