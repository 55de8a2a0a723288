"""A restore that outlasts the group's session timeout (a coordinator with a million open
cases reads its changelog for tens of seconds) must not cost the member its place in the
group. Kafka's clients send no heartbeat while an assignment callback runs (aiokafka
starts them after it), and the embedded bus renews a member's lease only as it polls, so
the coordinator restores outside the callback, the inputs of the partitions it restores
paused meanwhile."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest

from coordinator import Coordinator
from coordinator._service import _Restorer
from schemas import CaseCompleted
from tests.integration.coordinator_harness import TWO_STEPS, harness

pytestmark = pytest.mark.anyio

SESSION_S = 6.0
"""The harness's session timeout."""


@pytest.fixture(params=["sqlite", "kafka"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "kafka":
        return f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    return f"sqlite:///{tmp_path}/bus.db"


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "seq.yaml").write_text(TWO_STEPS)
    return tmp_path / "pipelines"


async def test_a_restore_longer_than_the_session_timeout_keeps_the_member(
    url: str, pipelines: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_restore = Coordinator._restore
    real_assigned = _Restorer.on_assigned
    slowed: list[int] = []
    assignments: list[frozenset[object]] = []

    async def slow_restore(self: Coordinator, p: int) -> None:
        await real_restore(self, p)
        if not slowed:  # a fault: the first partition's read outlasts the session
            slowed.append(p)
            await anyio.sleep(SESSION_S * 1.5)

    async def counted(self: _Restorer, partitions: frozenset[object]) -> None:
        assignments.append(partitions)
        await real_assigned(self, partitions)  # type: ignore[arg-type]

    monkeypatch.setattr(Coordinator, "_restore", slow_restore)
    monkeypatch.setattr(_Restorer, "on_assigned", counted)
    case = f"case-{uuid.uuid4().hex[:10]}"
    async with harness(url, pipelines) as h:
        await h.submit("seq", case)
        await h.wait_for(case, CaseCompleted, timeout=90)
        coordinator = h.coordinator
        assert coordinator is not None
        stats = coordinator.stats
    assert slowed
    # One assignment: the group never dropped the member and assigned its partitions
    # again; nothing it applied was aborted; each partition restored once.
    assert len(assignments) == 1, assignments
    assert stats.aborted == 0, stats
    assert stats.transactions > 0, stats
