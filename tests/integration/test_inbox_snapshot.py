"""The inbox's snapshot: a restarted inbox loads its projection and reads only the log
after it; a snapshot that does not fit the log (ahead of it) or does not load is set
aside with a warning and the log is read from the beginning."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio
import pytest

from caseyard.app import open_app
from caseyard.inbox import Inbox, TaskStatus
from caseyard.schema_store import REGISTRY_DB
from caseyard.settings import load_settings
from coordinator import PipelineCatalog
from schemas import CaseCompleted, DecisionAction, HumanTaskOpened
from tests.integration.coordinator_harness import REVIEWED, Harness, harness

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def running_inbox(tmp_path: Path, snapshot: Path) -> AsyncIterator[Inbox]:
    settings = load_settings(
        bus=f"sqlite:///{tmp_path}/bus.db",
        data_dir=tmp_path / "data",
        pipelines_dir=tmp_path / "pipelines",
    )
    stop = anyio.Event()
    async with open_app(settings) as app, anyio.create_task_group() as tg:
        inbox = Inbox(app, PipelineCatalog.load(settings.pipelines_dir), snapshot=snapshot)
        tg.start_soon(inbox.run, stop)
        with anyio.fail_after(30):
            await inbox.ready.wait()
        yield inbox
        stop.set()


def world(root: Path) -> AbstractAsyncContextManager[Harness]:
    """Coordinator and scripted agents on the SQLite bus under `root` (pipeline REVIEWED),
    sharing their schema registry with the inbox's app."""
    (root / "pipelines").mkdir(parents=True, exist_ok=True)
    (root / "pipelines" / "reviewed.yaml").write_text(REVIEWED)
    return harness(
        f"sqlite:///{root}/bus.db", root / "pipelines", registry_db=root / "data" / REGISTRY_DB
    )


async def test_a_restarted_inbox_reads_only_what_came_after_its_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = tmp_path / "data" / "snapshots" / "inbox.pickle"
    async with world(tmp_path) as h:
        first, second = await h.submit("reviewed"), await h.submit("reviewed")
        await h.wait_for(first, HumanTaskOpened)
        await h.wait_for(second, HumanTaskOpened)
        async with running_inbox(tmp_path, snapshot) as cold:
            assert cold.records_read > 0 and len(cold.projection.tasks()) == 2
        assert snapshot.exists()

        await h.decide(first, DecisionAction.APPROVE)
        await h.wait_for(first, CaseCompleted)
        async with running_inbox(tmp_path, snapshot) as warm:
            # Only the decision and what followed it: not the cases from the beginning.
            assert 0 < warm.records_read < cold.records_read
            statuses = {t.case_id: t.status for t in warm.projection.tasks()}
            assert statuses == {first: TaskStatus.DECIDED, second: TaskStatus.OPEN}
            assert warm.projection.case(second) is not None

    # A snapshot that does not load is set aside: the log is read from the start.
    snapshot.write_bytes(b"not a pickle")
    async with running_inbox(tmp_path, snapshot) as again:
        assert again.records_read >= cold.records_read and len(again.projection.tasks()) == 2
    assert "snapshot" in caplog.text and "unreadable" in caplog.text


async def test_a_snapshot_ahead_of_the_log_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = tmp_path / "data" / "snapshots" / "inbox.pickle"
    async with world(tmp_path) as h:
        case = await h.submit("reviewed")
        await h.wait_for(case, HumanTaskOpened)
        async with running_inbox(tmp_path, snapshot):
            pass
    # The same snapshot against a new, empty log (the topics were recreated).
    other = tmp_path / "other"
    (other / "data" / "snapshots").mkdir(parents=True)
    moved = other / "data" / "snapshots" / "inbox.pickle"
    moved.write_bytes(snapshot.read_bytes())
    async with world(other):
        async with running_inbox(other, moved) as fresh:
            assert fresh.projection.tasks() == []
    assert "ahead of the log" in caplog.text
