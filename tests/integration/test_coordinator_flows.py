"""The coordinator end to end with small fake agents, on the memory bus and on real Kafka:
sequential, parallel fan-in, branch, timeout -> retry -> success, timeout -> compensation,
human approve / reject / edit."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest

from agents.runtime import Outcome
from schemas import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CaseOpened,
    CompensationCompleted,
    DecisionAction,
    FieldPatch,
    HumanTaskOpened,
    PolicyDecision,
    RiskBand,
    ScoreOutput,
    StepCompleted,
    StepTimedOut,
    TaskRequested,
)
from schemas.topology import RESULTS
from tests.helpers import eventually
from tests.integration.coordinator_harness import USAGE, Harness, default_output, harness

pytestmark = pytest.mark.anyio

PIPELINES = {
    "seq": """
name: seq
version: 1
steps:
  - {id: classify, capability: classify}
  - {id: extract, capability: extract, after: [classify], inputs: [classify]}
  - {id: respond, capability: respond, after: [extract], inputs: [classify, extract]}
""",
    "fan": """
name: fan
version: 1
steps:
  - {id: classify, capability: classify}
  - {id: extract, capability: extract, after: [classify]}
  - {id: triage, capability: score, after: [classify]}
  - {id: respond, capability: respond, after: [both]}
parallel:
  - {id: both, steps: [extract, triage], join: all}
""",
    "branch": """
name: branch
version: 1
steps:
  - {id: classify, capability: classify}
  - id: extract
    capability: extract
    after: [classify]
    inputs: [classify]
    when: steps.classify.doc_type == 'receipt'
  - {id: respond, capability: respond, after: [extract]}
""",
    "timeouts": """
name: timeouts
version: 1
steps:
  - id: classify
    capability: classify
    timeout: 3s
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 100ms, max_delay: 100ms}
  - id: respond
    capability: respond
    after: [classify]
    timeout: 1s
    retry: {max_attempts: 1}
    compensation: {capability: respond, parameters: {action: retract}}
  - id: score
    capability: score
    after: [respond]
    timeout: 1s
    retry: {max_attempts: 1}
""",
    "review": """
name: review
version: 1
steps:
  - {id: extract, capability: extract}
  - id: score
    capability: score
    after: [extract]
    inputs: [extract]
    escalate:
      - id: high-risk
        when: steps.score.band == 'high'
        queue: risk-review
        reason: high risk
        sla: 1h
        evidence: [extract, score]
        on_edit: {patch: extract, loop_to: score, max_loops: 1}
  - id: respond
    capability: respond
    after: [score]
    inputs: [extract, score]
    compensation: {capability: respond, parameters: {action: retract}}
""",
}


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    for name, text in PIPELINES.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


class Flows:
    """The flows; subclasses say which bus."""

    url: str

    async def test_sequential(self, pipelines: Path) -> None:
        async with harness(self.url, pipelines) as h:
            case = await h.submit("seq")
            events = await h.wait_for(case, CaseCompleted)
            steps = [e.step for e in events if isinstance(e, StepCompleted)]
            assert steps == ["classify", "extract", "respond"]
            assert isinstance(events[0], CaseOpened)
            assert [t.case_id for t in h.calls("respond", case)] == [case]

    async def test_parallel_fan_in_waits_for_all(self, pipelines: Path) -> None:
        async with harness(self.url, pipelines) as h:
            gate = anyio.Event()

            async def slow_extract(task: TaskRequested) -> Outcome:
                await gate.wait()
                return default_output(task)

            h.scripts["extract"].work = slow_extract
            case = await h.submit("fan")

            async def triage_done_extract_waiting() -> None:
                events = await h.events(case)
                assert any(isinstance(e, StepCompleted) and e.step == "triage" for e in events)
                assert h.calls("extract", case)

            await eventually(triage_done_extract_waiting)
            assert not h.calls("respond", case)
            gate.set()
            events = await h.wait_for(case, CaseCompleted)
            done = [e.step for e in events if isinstance(e, StepCompleted)]
            assert done[-1] == "respond"
            assert set(done[1:3]) == {"extract", "triage"}

    async def test_branch_skips_a_step_whose_condition_is_false(self, pipelines: Path) -> None:
        async with harness(self.url, pipelines) as h:
            case = await h.submit("branch")
            events = await h.wait_for(case, CaseCompleted)
            assert not h.calls("extract", case)
            skipped = [e for e in events if isinstance(e, PolicyDecision) and e.step == "extract"]
            assert skipped and skipped[0].decision == "deny"
            assert [e.step for e in events if isinstance(e, StepCompleted)] == [
                "classify",
                "respond",
            ]

    async def test_an_event_on_the_wrong_input_topic_is_dead_lettered_as_misplaced(
        self, pipelines: Path
    ) -> None:
        async with harness(self.url, pipelines) as h:
            case = await h.submit("seq")
            await h.wait_for(case, CaseCompleted)
            opened = next(e for e in await h.events(case) if isinstance(e, CaseOpened))
            value = await h.codec.encode(opened, RESULTS.name)
            await h.bus.publish(RESULTS.name, value, key=case.encode())
            after = await h.submit("seq")
            await h.wait_for(after, CaseCompleted)

            async def dead_lettered() -> None:
                wanted = (
                    "coordinator: CaseOpened on caseyard.results: "
                    "expected TaskCompleted or TaskFailed"
                )
                assert wanted in await h.dead_letters()

            await eventually(dead_lettered, timeout=30)

    async def test_timeout_then_retry_then_success(self, pipelines: Path) -> None:
        async with harness(self.url, pipelines) as h:
            case = f"case-{uuid.uuid4().hex[:10]}"

            async def slow_first_attempt(task: TaskRequested) -> Outcome:
                if task.case_id == case and task.attempt == 1:
                    # Hangs past the 3s step timeout; the agent keeps a case's tasks in
                    # order, so attempt 2 runs after this one returns (late, ignored).
                    await anyio.sleep(3.5)
                return default_output(task)

            h.scripts["classify"].work = slow_first_attempt
            h.scripts["score"].work = _instant
            await h.submit("timeouts", case_id=case)
            events = await h.wait_for(case, CaseCompleted, timeout=60)
            assert any(isinstance(e, StepTimedOut) and e.step == "classify" for e in events)
            attempts = [t.attempt for t in h.calls("classify", case)]
            assert attempts[:2] == [1, 2]

    async def test_timeout_exhausted_compensates_completed_steps(self, pipelines: Path) -> None:
        async with harness(self.url, pipelines) as h:
            case = f"case-{uuid.uuid4().hex[:10]}"

            async def hang(task: TaskRequested) -> Outcome:
                if task.case_id == case:  # old tasks on a shared broker do not hang
                    await anyio.sleep(2.5)
                return default_output(task)

            h.scripts["score"].work = hang
            await h.submit("timeouts", case_id=case)
            events = await h.wait_for(case, CaseFailed, CompensationCompleted, timeout=60)
            assert any(isinstance(e, StepTimedOut) and e.step == "score" for e in events)
            failed = next(e for e in events if isinstance(e, CaseFailed))
            assert failed.step == "score"
            retracts = [
                t for t in h.calls("respond", case) if t.input.parameters.get("action") == "retract"
            ]
            assert len(retracts) == 1

    async def test_human_approve_continues(self, pipelines: Path) -> None:
        async with harness(self.url, pipelines) as h:
            h.scripts["score"].work = _high_risk
            case = await h.submit("review")
            await h.wait_for(case, HumanTaskOpened)
            assert not h.calls("respond", case)
            await h.decide(case, DecisionAction.APPROVE)
            events = await h.wait_for(case, CaseCompleted)
            assert [e.step for e in events if isinstance(e, StepCompleted)][-1] == "respond"
            assert _reviews(h) == {("fake/scripted", "confirmed"): 1}

    async def test_human_reject_compensates_and_closes(self, pipelines: Path) -> None:
        async with harness(self.url, pipelines) as h:
            h.scripts["score"].work = _high_risk
            case = await h.submit("review")
            await h.wait_for(case, HumanTaskOpened)
            await h.decide(case, DecisionAction.REJECT)
            events = await h.wait_for(case, CaseCompleted)
            completed = next(e for e in events if isinstance(e, CaseCompleted))
            assert completed.outcome == "rejected"
            assert not h.calls("respond", case)
            assert _reviews(h) == {("fake/scripted", "rejected"): 1}

    async def test_human_edit_patches_and_rescores(self, pipelines: Path) -> None:
        async with harness(self.url, pipelines) as h:
            h.scripts["score"].work = _high_risk
            case = await h.submit("review")
            await h.wait_for(case, HumanTaskOpened)
            await h.decide(case, DecisionAction.EDIT, (FieldPatch(field="total", value="12 EUR"),))
            await h.wait_for(case, CaseEscalated)

            async def rescored() -> None:
                assert len(h.calls("score", case)) == 2

            await eventually(rescored)
            assert _reviews(h) == {("fake/scripted", "corrected"): 1}
            rescore = h.calls("score", case)[-1]
            (extract,) = [o for name, o in rescore.input.prior.items() if name == "extract"]
            assert any(f.value == "12 EUR" for f in extract.fields)  # type: ignore[union-attr]


def _reviews(h: Harness) -> dict[tuple[str, str], int]:
    """People's verdicts the coordinator counted, by the model whose output they judged."""
    assert h.coordinator is not None
    return dict(h.coordinator.stats.reviews)


async def _instant(task: TaskRequested) -> Outcome:
    return default_output(task)


async def _high_risk(task: TaskRequested) -> Outcome:
    return Outcome(ScoreOutput(score=0.9, band=RiskBand.HIGH, reasons=("new bank account",)), USAGE)


class TestFlowsOnMemory(Flows):
    url = "memory://"


@pytest.mark.kafka
class TestFlowsOnKafka(Flows):
    @pytest.fixture(autouse=True)
    def _kafka(self, kafka_bootstrap: str) -> None:
        self.url = f"kafka://{kafka_bootstrap}"
