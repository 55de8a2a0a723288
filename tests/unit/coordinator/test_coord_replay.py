"""Replay on hand-built logs: the consumption order is recovered from the case events, the
rebuilt state is the one the coordinator had, and every changed decision is named."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from coordinator import (
    CaseStatus,
    Logged,
    PipelineCatalog,
    consumption_order,
    derive_event_id,
    replay,
)
from schemas.envelope import Event
from schemas.human import DecisionAction, HumanDecision, HumanTaskClaimed
from schemas.intake import CaseSubmitted
from schemas.lifecycle import Decision, PolicyDecision, TimerFired, TimerPurpose
from schemas.payloads import RiskBand
from schemas.results import TaskCompleted, TaskFailed
from schemas.topology import CASE_EVENTS, HUMAN, INTAKE, RESULTS, TIMERS
from tests.unit.coordinator.coord_support import CASE, Driver, classify, load, respond, score

PIPELINE = """
name: replay
version: 1
steps:
  - {id: classify, capability: classify, timeout: 1m}
  - id: score
    capability: score
    after: [classify]
    inputs: [classify]
    escalate:
      - {id: high-risk, when: "steps.score.score >= THRESHOLD", queue: risk, reason: high risk,
         sla: 4h, chain: [risk-senior]}
  - {id: respond, capability: respond, after: [score]}
"""
CATALOG = PipelineCatalog([load(PIPELINE.replace("THRESHOLD", "0.7"))])

TOPICS: dict[type[Event], str] = {
    CaseSubmitted: INTAKE.name,
    TaskCompleted: RESULTS.name,
    TaskFailed: RESULTS.name,
    TimerFired: TIMERS.name,
    HumanDecision: HUMAN.name,
    HumanTaskClaimed: HUMAN.name,
}


def record(d: Driver, appended: Sequence[int] | None = None) -> tuple[list[Logged], list[Logged]]:
    """The log `d`'s story leaves: inputs in the order they were appended (`appended[i]`
    is the append time of the i-th input fed; default: fed order), and the case events
    of each input written once it was consumed."""
    times = list(appended) if appended is not None else [10 * i for i in range(len(d.inputs))]
    offsets: dict[str, int] = defaultdict(int)
    inputs: dict[int, Logged] = {}
    for i in sorted(range(len(d.inputs)), key=lambda i: times[i]):
        topic = TOPICS[type(d.inputs[i])]
        inputs[i] = Logged(topic, 0, offsets[topic], times[i], d.inputs[i])
        offsets[topic] += 1
    outputs: list[Logged] = []
    for i, result in enumerate(d.log):
        written = max(times[: i + 1]) + 1
        outputs.extend(
            Logged(CASE_EVENTS.name, 0, len(outputs), written, o.event)
            for o in result.outputs
            if o.topic == CASE_EVENTS.name
        )
    return [inputs[i] for i in range(len(d.inputs))], outputs


def story() -> Driver:
    """A case that escalates, is claimed, approved, and completes."""
    d = Driver(catalog=CATALOG)
    d.submit()
    d.complete("classify", classify())
    d.complete("score", score(0.9, RiskBand.HIGH))
    d.claim("ana")
    d.decide(DecisionAction.APPROVE)
    d.complete("respond", respond())
    assert d.status() is CaseStatus.COMPLETED
    return d


def test_a_faithful_log_replays_to_the_same_state_without_a_difference() -> None:
    d = story()
    inputs, outputs = record(d)
    result = replay(inputs, outputs, CATALOG)
    assert result.mismatches == ()
    (case,) = result.cases
    assert case.case_id == CASE
    assert case.state == d.state
    assert (case.inputs, case.applied, case.ignored, case.dead_lettered) == (6, 6, 0, 0)
    assert [i.event for i in consumption_order(inputs, outputs, CATALOG)] == d.inputs


def test_the_case_events_order_inputs_that_timestamps_would_misorder() -> None:
    d = Driver(catalog=CATALOG)
    d.submit()
    assert d.state is not None
    timeout = next(t for t in d.state.timers if t.purpose is TimerPurpose.STEP_TIMEOUT)
    d.complete("classify", classify())
    stale = d.fire_id(timeout.id)  # fired before the result was applied; consumed after
    assert stale.ignored is not None
    # The timer was appended before the result, yet consumed after it.
    inputs, outputs = record(d, appended=[0, 12, 11])
    by_time = sorted(inputs, key=lambda i: i.timestamp_ms)
    assert [i.event for i in by_time] != d.inputs
    assert [i.event for i in consumption_order(inputs, outputs, CATALOG)] == d.inputs
    assert replay(inputs, outputs, CATALOG).mismatches == ()


def test_a_timeout_consumed_before_the_result_makes_the_result_late() -> None:
    d = Driver(catalog=CATALOG)
    d.submit()
    first = d.task("classify")
    d.fire(TimerPurpose.STEP_TIMEOUT, "classify")
    late = d.complete("classify", classify(), task=first)
    assert late.ignored is not None
    # The result was appended first, but the timer's case events prove it came later.
    inputs, outputs = record(d, appended=[0, 12, 11])
    assert [i.event for i in consumption_order(inputs, outputs, CATALOG)] == d.inputs
    result = replay(inputs, outputs, CATALOG)
    assert result.mismatches == ()
    assert result.cases[0].ignored == 1


def test_a_claim_lands_while_its_human_task_is_open() -> None:
    d = story()
    # The claim (which causes no case event) was appended right after the submission.
    inputs, outputs = record(d, appended=[0, 10, 20, 1, 40, 50])
    order = [i.event for i in consumption_order(inputs, outputs, CATALOG)]
    claim = d.inputs[3]
    assert order.index(claim) == 3
    result = replay(inputs, outputs, CATALOG)
    assert result.mismatches == ()
    assert result.cases[0].dead_lettered == 0


def test_an_input_appended_after_a_decision_was_written_comes_after_it() -> None:
    d = Driver(catalog=CATALOG)
    d.submit()
    d.complete("classify", classify())
    d.complete("score", score(0.9, RiskBand.HIGH))
    d.fire(TimerPurpose.HUMAN_SLA)  # the task moves on to risk-senior, unclaimed
    d.claim("bo")  # claimed there: causes no case event
    assert d.state is not None and d.state.human is not None
    assert (d.state.human.queue, d.state.human.claimed_by) == ("risk-senior", "bo")
    inputs, outputs = record(d)
    (case,) = replay(inputs, outputs, CATALOG).cases
    # Applied before the SLA breach, the claim would have been reset by it.
    assert case.state == d.state


def test_case_events_out_of_partition_order_still_apply_each_input_once() -> None:
    d = story()
    inputs, outputs = record(d)
    # Case events of the score result moved before those of the classify result (the
    # hash chain, `audit verify`, names such a reordering; the contents still agree).
    classify_id, score_id = d.inputs[1].event_id, d.inputs[2].event_id
    moved = [o for o in outputs if o.event.causation_id == score_id]
    rest = [o for o in outputs if o.event.causation_id != score_id]
    at = next(i for i, o in enumerate(rest) if o.event.causation_id == classify_id)
    reordered = [
        Logged(o.topic, o.partition, n, o.timestamp_ms, o.event)
        for n, o in enumerate([*rest[:at], *moved, *rest[at:]])
    ]
    result = replay(inputs, reordered, CATALOG)
    assert result.mismatches == ()
    assert result.cases[0].inputs == len(inputs)
    assert result.cases[0].state == d.state


def test_a_redelivered_result_decides_nothing() -> None:
    d = Driver(catalog=CATALOG)
    d.submit()
    d.complete("classify", classify())
    assert d.feed(d.inputs[-1]).ignored is not None  # the agent delivered it twice
    d.complete("score", score(0.1, RiskBand.LOW))
    inputs, outputs = record(d)
    result = replay(inputs, outputs, CATALOG)
    assert result.mismatches == ()
    assert (result.cases[0].inputs, result.cases[0].ignored) == (4, 1)
    # Once the case finished, the coordinator dropped it: a late copy is dead-lettered.
    d = story()
    inputs, outputs = record(d)
    copy = Logged(RESULTS.name, 0, 99, 999, inputs[1].event)
    result = replay([*inputs, copy], outputs, CATALOG)
    assert result.mismatches == ()
    assert (result.cases[0].inputs, result.cases[0].dead_lettered) == (7, 1)


def test_an_edited_case_event_is_reported_with_the_fields_that_differ() -> None:
    d = story()
    inputs, outputs = record(d)
    index = next(i for i, o in enumerate(outputs) if isinstance(o.event, PolicyDecision))
    edited = outputs[index]
    assert isinstance(edited.event, PolicyDecision)
    outputs[index] = Logged(
        edited.topic,
        edited.partition,
        edited.offset,
        edited.timestamp_ms,
        edited.event.model_copy(update={"decision": Decision.ALLOW}),
    )
    (mismatch,) = replay(inputs, outputs, CATALOG).mismatches
    assert mismatch.case_id == CASE
    assert mismatch.input == str(inputs[2])  # the score result decided it
    assert "decision='escalate'" in mismatch.expected
    assert "decision='allow'" in mismatch.recorded


def test_a_changed_pipeline_is_reported_at_the_decision_it_changes() -> None:
    d = story()
    inputs, outputs = record(d)
    stricter = PipelineCatalog([load(PIPELINE.replace("THRESHOLD", "0.95"))])
    mismatches = replay(inputs, outputs, stricter).mismatches
    assert mismatches
    first = mismatches[0]
    assert first.input == str(inputs[2])
    assert "PolicyDecision" in first.recorded
    # The rest of the story no longer fits: the decision for the human task is invalid now.
    assert any(m.input == str(inputs[4]) for m in mismatches)


def test_case_events_of_a_missing_input_are_reported() -> None:
    d = story()
    inputs, outputs = record(d)
    removed = inputs.pop(1)
    mismatches = replay(inputs, outputs, CATALOG).mismatches
    assert any(
        m.input == f"input {removed.event.event_id}" and "no such input" in m.expected
        for m in mismatches
    )


def test_an_input_without_case_events_that_would_decide_is_reported() -> None:
    d = story()
    inputs, outputs = record(d)
    caused = {o.event.causation_id for o in outputs}
    last = d.inputs[-1].event_id
    kept = [o for o in outputs if o.event.causation_id != last]
    assert last in caused and len(kept) < len(outputs)
    mismatches = replay(inputs, kept, CATALOG).mismatches
    assert mismatches
    assert all(m.recorded.startswith("nothing (not consumed") for m in mismatches)
    assert {m.input for m in mismatches} == {str(inputs[-1])}


def test_a_rejected_submission_and_a_case_without_one() -> None:
    d = Driver(catalog=CATALOG)
    rejected = d.submit(pipeline="nosuch")
    assert rejected.dead_letter is not None
    inputs, outputs = record(d)
    (case,) = replay(inputs, outputs, CATALOG).cases
    assert case.state is None and case.rejected == "unknown pipeline 'nosuch'"
    # Results of a case whose submission was not read (before --from) rebuild nothing.
    d = story()
    inputs, outputs = record(d)
    assert replay(inputs[1:], outputs, CATALOG).cases == ()


def test_derived_event_ids_are_pinned_across_versions() -> None:
    # A replay of a log written by an earlier version compares the ids it derives with the
    # recorded ones: the derivation must never change. These are what it gave when the
    # ids were first derived this way (time, version 7, counter, then the hash part).
    at = datetime(2024, 5, 1, 9, 30, 2, 123000, tzinfo=UTC)
    source = "018f337d-49c1-7000-8000-000000000001"
    assert [derive_event_id(source, i, at) for i in (0, 1, 7, 4095, 4096)] == [
        "018f337d-520b-7000-b293-81e44b5f3342",
        "018f337d-520b-7001-90ca-fb9dcaa9af57",
        "018f337d-520b-7007-8617-d5f6c66897d5",
        "018f337d-520b-7fff-8bf7-a01f73d6072d",
        "018f337d-520b-7000-aa2f-19d8f3208342",
    ]
    # A time before 1970 has no UUIDv7 form: the id is what the first versions made of it.
    early = datetime(1960, 1, 1, tzinfo=UTC)
    assert derive_event_id(source, 2, early) == "-0497c5e-cbff-8ffd-50fd-8aa8b60bd494"
