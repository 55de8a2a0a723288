"""Inputs that must not act twice or at all, version pinning, determinism and the state."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest

from coordinator import (
    CaseState,
    CaseStatus,
    PipelineCatalog,
    StepStatus,
    case_event_hash,
    timer_fired,
    transition,
)
from schemas.envelope import event_id_time
from schemas.human import DecisionAction, FieldPatch
from schemas.lifecycle import CaseEvent, CaseOpened, TimerPurpose
from schemas.payloads import RiskBand
from tests.unit.coordinator.coord_support import (
    CASE,
    PIPELINES_DIR,
    Driver,
    classify,
    extract,
    load,
    respond,
    score,
)

SIMPLE = load(
    """
name: simple
version: 1
defaults: {retry: {max_attempts: 3, backoff: fixed, initial_delay: 1s, max_delay: 1s}}
steps:
  - {id: a, capability: classify}
  - {id: b, capability: extract, after: [a]}
"""
)


def started() -> Driver:
    d = Driver(SIMPLE)
    d.submit()
    return d


def test_a_duplicate_result_is_ignored() -> None:
    d = started()
    task = d.task("a")
    d.complete("a", classify())
    before = d.state
    again = d.complete("a", classify(), task=task)
    assert again.ignored is not None and "completed" in again.ignored
    assert again.state is before and again.outputs == ()


def test_the_same_input_event_twice_is_ignored() -> None:
    d = started()
    d.complete("a", classify())
    replayed = d.feed(d.inputs[-1])
    assert replayed.ignored is not None and replayed.ignored.startswith("duplicate event")


def test_a_late_result_of_an_earlier_attempt_is_ignored() -> None:
    d = started()
    first = d.task("a")
    d.fail("a")
    d.fire(TimerPurpose.RETRY_BACKOFF, "a")
    late = d.complete("a", classify(), task=first)
    assert late.ignored is not None and "late result" in late.ignored
    assert d.state is not None and d.state.steps["a"].status is StepStatus.RUNNING
    assert d.requested(d.complete("a", classify())) == ["b#1"]


def test_a_result_after_the_timeout_is_ignored() -> None:
    d = started()
    first = d.task("a")
    d.fire(TimerPurpose.STEP_TIMEOUT, "a")
    late = d.complete("a", classify(), task=first)
    assert late.ignored is not None


@pytest.mark.parametrize(
    ("task_id", "capability", "attempt", "why"),
    [
        (f"{CASE}/a/1.3", "classify", 3, "never requested"),
        (f"{CASE}/zzz/1.1", "classify", 1, "has no step"),
        ("other-case/a/1.1", "classify", 1, "not a task of case"),
        (f"{CASE}/a/1.1", "extract", 1, "the task is attempt 1 of 'classify'"),
        (f"{CASE}/a/1.1", "classify", 2, "says attempt 2"),
        (f"{CASE}/a", "classify", 1, "not a task of case"),
    ],
)
def test_results_for_tasks_the_case_never_issued_are_dead_lettered(
    task_id: str, capability: str, attempt: int, why: str
) -> None:
    d = started()
    real = d.task("a")
    fake = real.model_copy(
        update={"task_id": task_id, "capability": capability, "attempt": attempt}
    )
    result = d.complete("a", classify(), task=fake)
    assert result.dead_letter is not None and why in result.dead_letter
    assert result.outputs == ()


def test_inputs_for_an_unknown_case_are_dead_lettered() -> None:
    d = started()
    task = d.task("a")
    d.state = None
    result = d.complete("a", classify(), task=task)
    assert result.state is None
    assert result.dead_letter is not None and "unknown case" in result.dead_letter


def test_a_second_submission_of_an_open_case_is_dead_lettered() -> None:
    d = started()
    again = d.submit()
    assert again.dead_letter is not None and "already exists" in again.dead_letter


def test_an_input_the_coordinator_does_not_take_is_dead_lettered() -> None:
    d = started()
    opened = d.log[0].events[0]
    assert isinstance(opened, CaseOpened)
    result = transition(d.state, opened, d.catalog)
    assert result.dead_letter is not None and "CaseOpened" in result.dead_letter


@pytest.mark.parametrize(
    ("requested", "why"),
    [
        ("nope", "unknown pipeline 'nope'"),
        ("simple@9", "unknown pipeline"),
        ("simple@x", "unknown"),
    ],
)
def test_submissions_for_unknown_pipelines_are_dead_lettered(requested: str, why: str) -> None:
    d = Driver(SIMPLE)
    result = d.submit(requested)
    assert result.state is None and result.dead_letter is not None and why in result.dead_letter


def test_without_a_default_pipeline_a_submission_must_name_one() -> None:
    other = load("name: other\nversion: 1\nsteps: [{id: a, capability: classify}]")
    d = Driver(SIMPLE, other)
    result = d.submit()
    assert result.dead_letter is not None and "no default pipeline" in result.dead_letter
    assert d.submit("other").dead_letter is None


def test_stale_timers_are_ignored() -> None:
    d = started()
    d.complete("a", classify())
    stale = d.fire_id("a/1.1/timeout")
    assert stale.ignored is not None and "not pending" in stale.ignored


def test_firing_the_same_timer_twice_is_one_firing() -> None:
    d = started()
    assert d.state is not None
    [timer] = d.state.timers
    d.now = timer.due_at
    first = timer_fired(d.state, timer, d.now)
    assert first == timer_fired(d.state, timer, d.now + timedelta(seconds=5)).model_copy(
        update={"occurred_at": d.now}
    )
    d.feed(first)
    again = d.feed(first)
    assert again.ignored is not None
    # Timer ids are unique within a case only; the event ids are unique across cases.
    other = CaseState.from_bytes(d.state.to_bytes().replace(CASE.encode(), b"case-2"))
    assert timer_fired(other, timer, d.now).event_id != first.event_id


def test_results_for_a_closed_case_are_ignored() -> None:
    d = started()
    task = d.task("a")
    d.fail("a", retryable=False)
    assert d.state is not None and d.state.status is CaseStatus.FAILED
    late = d.complete("a", classify(), task=task)
    assert late.ignored is not None


def test_a_running_case_keeps_its_pipeline_version() -> None:
    steps = "steps: [{id: a, capability: classify}, {id: %s, capability: %s, after: [a]}]"
    v1 = load("name: flow\nversion: 1\n" + steps % ("b", "extract"))
    v2 = load("name: flow\nversion: 2\n" + steps % ("c", "score"))
    d = Driver(v1)
    d.submit()
    d.catalog = PipelineCatalog([v1, v2])
    assert d.requested(d.complete("a", classify())) == ["b#1"]
    assert d.state is not None and (d.state.pipeline, d.state.version) == ("flow", 1)

    new = Driver(catalog=d.catalog)
    new.submit()
    assert new.of(CaseOpened)[0].pipeline_version == 2
    assert new.requested(new.complete("a", classify())) == ["c#1"]

    # Once v1 is no longer loaded, its cases cannot go on: their inputs are dead-lettered.
    d.catalog = PipelineCatalog([v2])
    result = d.complete("b", extract())
    assert result.dead_letter is not None and "version 1 is not loaded" in result.dead_letter


def story(catalog: PipelineCatalog, roundtrip: bool) -> tuple[list[bytes], list[bytes]]:
    """Run a document-intake case with a review, an edit loop and a retry."""
    d = Driver(catalog=catalog)
    states: list[bytes] = []

    def step(result: object) -> None:
        assert d.state is not None
        states.append(d.state.to_bytes())
        if roundtrip:
            d.state = CaseState.from_bytes(d.state.to_bytes())

    step(d.submit())
    step(d.complete("classify", classify()))
    step(d.fail("extract"))
    step(d.fire(TimerPurpose.RETRY_BACKOFF, "extract"))
    step(d.complete("extract", extract()))
    step(d.complete("triage", score()))
    step(d.complete("score", score(0.9, RiskBand.HIGH)))
    step(d.claim("ana"))
    step(d.decide(DecisionAction.EDIT, [FieldPatch(field="total_amount", value="1")]))
    step(d.complete("score", score(0.1)))
    step(d.complete("respond", respond()))
    assert d.state is not None and d.state.status is CaseStatus.COMPLETED
    return [e.model_dump_json().encode() for e in d.events], states


def test_same_inputs_give_byte_identical_outputs_and_states() -> None:
    catalog = PipelineCatalog.load(PIPELINES_DIR)
    first = story(catalog, roundtrip=False)
    assert story(PipelineCatalog.load(PIPELINES_DIR), roundtrip=False) == first
    # Restoring the state from the changelog between inputs changes nothing either.
    assert story(catalog, roundtrip=True) == first


def test_output_envelopes_are_derived_from_the_input() -> None:
    d = Driver(catalog=PipelineCatalog.load(PIPELINES_DIR))
    d.submit()
    d.advance(timedelta(seconds=3))
    result = d.complete("classify", classify())
    trigger = d.task("extract")
    ids = [e.event_id for e in result.events]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    for event in result.events:
        assert uuid.UUID(event.event_id).version == 7
        assert event_id_time(event.event_id) == d.now
        assert event.occurred_at == d.now
        assert event.correlation_id == CASE
        assert event.producer.service == "coordinator"
    assert len({e.causation_id for e in result.events}) == 1
    assert trigger.causation_id not in ids


def test_case_events_form_a_hash_chain() -> None:
    d = Driver(catalog=PipelineCatalog.load(PIPELINES_DIR))
    d.submit()
    d.complete("classify", classify())
    d.complete("extract", extract())
    chain = [e for e in d.events if isinstance(e, CaseEvent)]
    assert chain[0].previous_hash is None
    for before, after in itertools.pairwise(chain):
        assert after.previous_hash == case_event_hash(before)
    assert d.state is not None and d.state.last_hash == case_event_hash(chain[-1])
    edited = chain[1].model_copy(update={"reason": "edited"})
    assert case_event_hash(edited) != chain[2].previous_hash


def test_state_round_trips_through_bytes_in_every_shape() -> None:
    d = Driver(catalog=PipelineCatalog.load(PIPELINES_DIR))
    d.submit()
    d.complete("classify", classify())
    d.fail("extract")
    d.complete("triage", score())
    d.fire(TimerPurpose.RETRY_BACKOFF, "extract")
    d.complete("extract", extract())
    d.complete("score", score(0.9, RiskBand.HIGH))
    d.claim("ana")
    d.decide(DecisionAction.EDIT, [FieldPatch(field="total_amount", value=None)])
    d.complete("score", score(0.9, RiskBand.HIGH))
    seen: set[object] = set()
    for result in d.log:
        assert result.state is not None
        data = result.state.to_bytes()
        assert CaseState.from_bytes(data) == result.state
        for step in result.state.steps.values():
            if step.output is not None:  # each output as its own model writes itself
                assert step.output.model_dump_json().encode() in data
        seen.add(result.state.status)
        seen.add(result.state.human is not None)
    assert seen >= {CaseStatus.RUNNING, True, False}


def test_an_open_case_state_is_small() -> None:
    d = Driver(catalog=PipelineCatalog.load(PIPELINES_DIR))
    d.submit()
    d.complete("classify", classify())
    assert d.state is not None
    # Two tasks out, two timers, one output, the document: the changelog value stays small.
    assert len(d.state.to_bytes()) < 1200
