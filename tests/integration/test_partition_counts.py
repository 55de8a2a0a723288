"""Topics created beforehand, with another partition count than the one caseyard creates
them with (6): operators often provision topics themselves, and more partitions allow
more coordinator members.

- Co-partitioned at any count, cases run and every reader finds them (`case`, `cases`,
  `replay --verify`, `audit verify`): each asks the topic it reads for its count.
- Not co-partitioned (the intake made with 3 partitions, a broker's auto-creation gives
  1), a case's results would reach a member without its state and the case would stall:
  the coordinator refuses to start and says which topic has which count.

On the embedded bus: on the shared test broker the topics of these names are every other
test's, at caseyard's count.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import anyio
import pytest

import bus
from bus import partition_for
from bus.errors import ConfigError
from caseyard.wiring import ensure_topology, topic_spec
from coordinator import PRODUCER, Coordinator, PipelineCatalog, copartitioned_count
from schemas import AvroCodec, CaseCompleted, MemorySchemaStore, Registry
from schemas.topology import CASE_PARTITIONS, INTAKE, RESULTS, all_topics
from tests.helpers import CASEYARD, caseyard_env, run_caseyard
from tests.integration.coordinator_harness import TWO_STEPS, cli_harness

pytestmark = pytest.mark.anyio

PARTITIONS = 9


async def provision(url: str, partitions: dict[str, int], default: int) -> None:
    """Every topic of the topology, as an operator would create it beforehand."""
    async with bus.connect(url) as b:
        await b.ensure_topics(
            [
                dataclasses.replace(topic_spec(t), partitions=partitions.get(t.name, default))
                for t in all_topics()
            ]
        )


def case_beyond(partitions: int) -> str:
    """A case id whose partition among `partitions` is one that caseyard's count lacks."""
    while True:
        case = f"case-{uuid.uuid4().hex[:10]}"
        if partition_for(case.encode(), partitions, 0) >= CASE_PARTITIONS:
            return case


async def test_cases_run_and_are_read_on_topics_of_another_partition_count(
    tmp_path: Path,
) -> None:
    # Made as a user makes them: the count set, `caseyard topics ensure`.
    made = await anyio.run_process(
        [CASEYARD, "topics", "ensure"],
        env=caseyard_env(tmp_path, CASEYARD_CASE_PARTITIONS=str(PARTITIONS), COLUMNS="200"),
        cwd=tmp_path,
        check=False,
    )
    assert made.returncode == 0, made.stderr.decode()
    counts = {
        line.split()[1]: line.split()[3]
        for line in made.stdout.decode().splitlines()
        if "caseyard." in line
    }
    assert counts["caseyard.intake"] == counts["caseyard.coordinator.state"] == str(PARTITIONS)
    assert counts["caseyard.dlq.redriven"] == "1"  # a count of its own
    case = case_beyond(PARTITIONS)
    async with cli_harness(tmp_path, TWO_STEPS) as h:
        assert await copartitioned_count(h.bus) == PARTITIONS
        await h.submit("seq", case)
        await h.wait_for(case, CaseCompleted)
    shown = run_caseyard(tmp_path, "case", case)
    assert shown.returncode == 0 and "CaseCompleted" in shown.stdout, shown.stdout + shown.stderr
    listed = run_caseyard(tmp_path, "cases")
    assert listed.returncode == 0 and case in listed.stdout, listed.stderr
    replayed = run_caseyard(tmp_path, "replay", "--verify", "--json")
    assert replayed.returncode == 0, replayed.stderr
    out = json.loads(replayed.stdout)
    assert [(c["case"], c["status"]) for c in out["cases"]] == [(case, "completed")]
    assert out["differences"] == []
    audited = run_caseyard(tmp_path, "audit", "verify")
    assert audited.returncode == 0, audited.stdout + audited.stderr


async def test_a_coordinator_refuses_topics_that_are_not_copartitioned(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    async with bus.connect(url) as b:
        # No topic yet, or some: what exists decides.
        assert await copartitioned_count(b) is None
        await b.ensure_topics([dataclasses.replace(topic_spec(RESULTS), partitions=4)])
        assert await copartitioned_count(b) == 4
    await provision(url, {INTAKE.name: 3}, CASE_PARTITIONS)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "seq.yaml").write_text(TWO_STEPS)
    async with bus.connect(url) as b:
        coordinator = Coordinator(
            bus=b,
            codec=AvroCodec(Registry(MemorySchemaStore())),
            catalog=PipelineCatalog.load(tmp_path / "pipelines"),
            producer=PRODUCER,
            instance="c",
        )
        with anyio.fail_after(30), pytest.raises(ConfigError) as refused:
            await coordinator.run(anyio.Event())
    assert "caseyard.intake 3, caseyard.results 4" in str(refused.value)
    # As a user runs it: one line, the usage exit code, no traceback; `topics ensure`
    # says it too, before it creates anything.
    for args in (("run", "coordinator"), ("topics", "ensure")):
        done = run_caseyard(tmp_path, *args, timeout=60)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert "need one partition count" in line and "caseyard.intake 3" in line


async def test_missing_case_keyed_topics_get_the_count_of_those_that_exist(
    tmp_path: Path,
) -> None:
    """An operator made the intake with 12 partitions, or a later version adds a topic: what
    caseyard creates then has 12, whatever this process's CASEYARD_CASE_PARTITIONS says."""
    url = f"sqlite:///{tmp_path}/bus.db"
    async with bus.connect(url) as b:
        await b.ensure_topics([dataclasses.replace(topic_spec(INTAKE), partitions=12)])
        await ensure_topology(b, case_partitions=CASE_PARTITIONS)
        counts = {t.name: await b.partitions(t.name) for t in all_topics()}
        assert await copartitioned_count(b) == 12
    assert {n for n, c in counts.items() if c != 12} == {"caseyard.dlq.redriven"}
