"""On a Kafka shared with other applications, caseyard's consumer groups carry the
deployment's prefix (`CASEYARD_GROUP_PREFIX`): another application's group named
`coordinator` is not joined by caseyard's coordinator, nor its offsets moved.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from schemas import CaseCompleted
from schemas.topology import CAPABILITIES, INTAKE
from tests.integration.coordinator_harness import TWO_STEPS, harness

pytestmark = pytest.mark.anyio


async def test_the_coordinator_and_the_agents_use_prefixed_groups(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}."
    (tmp_path / "seq.yaml").write_text(TWO_STEPS)
    async with harness(f"kafka://{kafka_bootstrap}", tmp_path, group_prefix=prefix) as h:
        case = await h.submit("seq")
        await h.wait_for(case, CaseCompleted)
        assert h.coordinator is not None and h.coordinator.group == f"{prefix}coordinator"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        ours = {g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix)}
        offsets = await admin.list_consumer_group_offsets(f"{prefix}coordinator")
    finally:
        await admin.close()
    assert ours == {f"{prefix}coordinator"} | {f"{prefix}agent.fake-{c}" for c in CAPABILITIES}
    # The coordinator's transactions committed its inputs' offsets to the prefixed group.
    assert any(tp.topic == INTAKE.name for tp in offsets)
