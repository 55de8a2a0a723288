"""The transition function: ``(state, input event) -> (new state, outputs)``. Pure.

``transition`` reads no clock, no randomness and does no I/O: time is the input's
``occurred_at``, ids are derived from the input's id (``coordinator._ids``), so replaying
the same inputs against the same pipelines reproduces byte-identical outputs and states.

The runtime handles every ``Transition`` the same way: publish ``outputs``, write
``state`` to the changelog if it is not the state it passed in, and also copy the input
to the dead-letter topic when ``dead_letter`` is set, all in one transaction.

- applied: a new state and the events to publish (possibly none);
- ``ignored`` (late or duplicate result, stale timer, repeated claim): no outputs; the
  state is unchanged, or changed only by dropping the timer that fired;
- ``dead_letter`` for an input that cannot be processed (unknown case, a task or human
  task the case never issued, an input invalid for the case's status, an unknown
  pipeline): no outputs and the state unchanged. One exception: a failed compensation is
  applied (the case fails and is escalated to a human: outputs and a new state) *and*
  marked ``dead_letter``, so the result that reported it is kept for redrive as well.

Invalid input is never raised as an exception: one bad record must not stop a partition.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from coordinator._expressions import ExpressionError, StepViews, expression_view
from coordinator._ids import (
    DEADLINE_TIMER,
    EventIds,
    case_event_hash,
    derive_event_id,
    event_key,
    handoff_case_id,
    human_task_id,
    parse_human_task_id,
    parse_task_id,
    parse_timeout_timer,
    retry_timer,
    sla_timer,
    task_id,
    timeout_timer,
)
from coordinator._pipeline import (
    EscalationTarget,
    Join,
    ParallelGroup,
    Pipeline,
    PipelineCatalog,
    Plan,
    TaskSpec,
)
from coordinator._policies import (
    Verdict,
    apply_patches,
    check_access,
    check_budget,
    check_condition,
    check_model_used,
    model_allowlist,
    redact_output,
    redaction,
    remaining,
)
from coordinator._state import (
    RECENT_EVENTS,
    CaseState,
    CaseStatus,
    Closing,
    HumanTask,
    HumanTaskKind,
    StepState,
    StepStatus,
    Timer,
)
from coordinator._values import value
from schemas import trusted, trusted_constructor
from schemas.envelope import Event, Producer
from schemas.human import DecisionAction, HumanDecision, HumanTaskClaimed, HumanTaskOpened
from schemas.intake import CaseSubmitted
from schemas.lifecycle import (
    CaseCompleted,
    CaseEscalated,
    CaseEvent,
    CaseFailed,
    CaseHandedOff,
    CaseOpened,
    CompensationCompleted,
    CompensationStarted,
    Decision,
    PolicyDecision,
    StepCompleted,
    StepFailed,
    StepStarted,
    StepTimedOut,
    TimerFired,
    TimerPurpose,
)
from schemas.payloads import ClassifyOutput, ExtractOutput, TaskOutput, ToolOutput, ToolStatus
from schemas.results import TaskCompleted, TaskFailed
from schemas.tasks import TaskInput, TaskRequested
from schemas.topology import CASE_EVENTS, INTAKE, tasks_topic

ENGINE_VERSION = "1"
"""Version of the decision logic; replaying with another version may decide differently."""

PRODUCER = Producer(service="coordinator", version=ENGINE_VERSION)
"""The producer of every event the coordinator makes."""

_CASE_TOPIC = CASE_EVENTS.name
HANDED_OFF = "handed-off"
"""``CaseCompleted.outcome`` of a case that a hand-off rule sent on to another pipeline."""
_DONE = frozenset({StepStatus.COMPLETED, StepStatus.SKIPPED, StepStatus.CANCELLED})
_TERMINAL = _DONE | {StepStatus.FAILED}
_ACTIVE = frozenset({StepStatus.PENDING, StepStatus.RUNNING, StepStatus.BACKOFF, StepStatus.REVIEW})
_HAS_OUTPUT = frozenset({StepStatus.COMPLETED, StepStatus.REVIEW})
_HUMAN_VERDICT = {
    DecisionAction.APPROVE: Decision.ALLOW,
    DecisionAction.EDIT: Decision.ALLOW,
    DecisionAction.REJECT: Decision.DENY,
}


@functools.cache
def _task_topic(capability: str) -> str:
    return tasks_topic(capability).name


@value
class Output:
    """An event to publish and the topic it goes to."""

    topic: str
    event: Event


@value
class Transition:
    """What one input did to a case.

    Attributes:
        state: The new state (the same object as the input state when nothing changed;
            None only when a submission was dead-lettered before a case existed).
        outputs: Events to publish, in order, with their topics.
        timers_set: Timers added to the state.
        timers_cancelled: Ids of timers removed from the state (cancelled, or fired).
        ignored: Why the input had no effect (late or duplicate), if so.
        dead_letter: Why the input must also go to the dead-letter topic, if so. The
            outputs and state still apply: they are empty and unchanged for an invalid
            input, and carry the failure and escalation for a failed compensation.
    """

    state: CaseState | None
    outputs: tuple[Output, ...] = ()
    timers_set: tuple[Timer, ...] = ()
    timers_cancelled: tuple[str, ...] = ()
    ignored: str | None = None
    dead_letter: str | None = None

    @property
    def events(self) -> tuple[Event, ...]:
        """The output events without their topics."""
        return tuple(output.event for output in self.outputs)


def transition(state: CaseState | None, event: Event, pipelines: PipelineCatalog) -> Transition:
    """Apply one input event to a case.

    Args:
        state: The case's state, or None if the coordinator has none for ``event.case_id``.
        event: The input: ``CaseSubmitted``, ``TaskCompleted``, ``TaskFailed``,
            ``TimerFired``, ``HumanTaskClaimed`` or ``HumanDecision``.
        pipelines: The loaded pipelines; a running case uses the version it started with.

    Returns:
        The new state and outputs, or the reason the input was ignored or must be
        dead-lettered. Never raises for bad input.
    """
    if isinstance(event, CaseSubmitted):
        return _submit(state, event, pipelines)
    if state is None:
        return Transition(
            None, dead_letter=f"unknown case {event.case_id!r}: no state for {event.event_type}"
        )
    if event.case_id != state.case_id:
        return Transition(
            state,
            dead_letter=f"{event.event_type} of case {event.case_id!r} "
            f"was applied to the state of case {state.case_id!r}",
        )
    if event_key(event.event_id) in state.recent:
        return Transition(state, ignored=f"duplicate event {event.event_id}")
    pipeline = pipelines.get(state.pipeline, state.version)
    if pipeline is None:
        return Transition(
            state,
            dead_letter=f"pipeline {state.pipeline!r} version {state.version} is not loaded",
        )
    run = _Run(state, pipeline, event)
    if isinstance(event, TaskCompleted):
        run.on_completed(event)
    elif isinstance(event, TaskFailed):
        run.on_failed(event)
    elif isinstance(event, TimerFired):
        run.on_timer(event)
    elif isinstance(event, HumanDecision):
        run.on_decision(event)
    elif isinstance(event, HumanTaskClaimed):
        run.on_claimed(event)
    else:
        return Transition(
            state, dead_letter=f"the coordinator does not take {event.event_type} as input"
        )
    return run.result()


def timer_fired(state: CaseState, timer: Timer, now: datetime) -> TimerFired:
    """Return the ``TimerFired`` the runtime's timer loop produces for a due timer.

    Its event id is derived from the case and timer ids, so firing the same timer twice
    (say, after a crash) yields the same event, which the case then drops as a duplicate.
    """
    return TimerFired(
        event_id=derive_event_id(f"{state.case_id}/{timer.id}", 0, timer.due_at),
        case_id=state.case_id,
        correlation_id=state.correlation_id,
        occurred_at=max(now, timer.due_at),
        producer=PRODUCER,
        timer_id=timer.id,
        purpose=timer.purpose,
        due_at=timer.due_at,
    )


def _submit(state: CaseState | None, event: CaseSubmitted, catalog: PipelineCatalog) -> Transition:
    if state is not None:
        if event_key(event.event_id) in state.recent:
            return Transition(state, ignored=f"duplicate submission {event.event_id}")
        return Transition(state, dead_letter=f"case {event.case_id!r} already exists")
    pipeline = catalog.select(event.pipeline)
    if pipeline is None:
        reason = (
            f"unknown pipeline {event.pipeline!r}"
            if event.pipeline is not None
            else "no pipeline requested and no default pipeline loaded"
        )
        return Transition(None, dead_letter=reason)
    opened = CaseState(
        case_id=event.case_id,
        correlation_id=event.correlation_id,
        pipeline=pipeline.name,
        version=pipeline.version,
        status=CaseStatus.RUNNING,
        opened_at=event.occurred_at,
        document=event.document,
        source=event.source,
        metadata=event.metadata,
    )
    run = _Run(opened, pipeline, event)
    run.open(event)
    return run.result()


def _format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    return f"{seconds:g}s"


@functools.cache
def _builder(model: type[Event]) -> tuple[Callable[..., Any], bool]:
    """The trusted constructor of ``model`` and whether it is a case event."""
    return trusted_constructor(model), issubclass(model, CaseEvent)


class _Run:
    """One transition in progress: a mutable working copy of the state, then a new state."""

    def __init__(self, state: CaseState, pipeline: Pipeline, event: Event) -> None:
        self.state = state
        self.pipeline = pipeline
        self.plan: Plan = pipeline.plan
        self.event = event
        self.now = event.occurred_at
        self.case_id = state.case_id
        self.steps: dict[str, StepState] = dict(state.steps)
        self.timers: dict[str, Timer] = {timer.id: timer for timer in state.timers}
        self.status = state.status
        self.human = state.human
        self.humans = state.humans
        self.loops: dict[str, int] = dict(state.loops)
        self.waived: tuple[str, ...] = state.waived
        self.patches = dict(state.patches)
        self.cost_usd = state.cost_usd
        self.latency_ms = state.latency_ms
        self.seq = state.seq
        self.closing = state.closing
        self.last_hash = state.last_hash
        self.events = state.events
        self.outputs: list[Output] = []
        self.timers_set: list[Timer] = []
        self.timers_cancelled: list[str] = []
        self.ignored: str | None = None
        self.dead_letter: str | None = None
        self.dirty = False
        self._views: dict[str, tuple[BaseModel, dict[str, Any]]] = {}
        self._case_names: dict[str, object] | None = None
        self._ids: EventIds | None = None
        self._base: dict[str, Any] = {}

    def result(self) -> Transition:
        if not self.dirty:
            return Transition(self.state, ignored=self.ignored, dead_letter=self.dead_letter)
        recent = (*self.state.recent[-(RECENT_EVENTS - 1) :], event_key(self.event.event_id))
        before = self.state
        state = CaseState(
            case_id=before.case_id,
            correlation_id=before.correlation_id,
            pipeline=before.pipeline,
            version=before.version,
            status=self.status,
            opened_at=before.opened_at,
            document=before.document,
            source=before.source,
            metadata=before.metadata,
            steps=self.steps,
            timers=tuple(self.timers.values()),
            human=self.human,
            humans=self.humans,
            loops=self.loops,
            waived=self.waived,
            patches=self.patches,
            cost_usd=self.cost_usd,
            latency_ms=self.latency_ms,
            seq=self.seq,
            closing=self.closing,
            recent=recent,
            last_hash=self.last_hash,
            events=self.events,
        )
        return Transition(
            state,
            tuple(self.outputs),
            tuple(self.timers_set),
            tuple(self.timers_cancelled),
            self.ignored,
            self.dead_letter,
        )

    # Emitting.

    def _emit(self, topic: str, model: type[Event], **fields: Any) -> None:
        """Output an event of ``model``: the envelope (a case event's with the previous
        hash) and ``fields`` (only a hand-off's submission overrides the envelope's case
        id, with the case it opens). Built without validating (``schemas.trusted``):
        every value comes from a validated input, the loaded pipeline or the state."""
        if self._ids is None:
            self._ids = EventIds(self.event.event_id, self.now)
            self._base = {
                "case_id": self.case_id,
                "correlation_id": self.state.correlation_id,
                "causation_id": self.event.event_id,
                "occurred_at": self.now,
                "producer": PRODUCER,
            }
        build, case_event = _builder(model)
        event_id = self._ids(len(self.outputs))
        if case_event:
            event = build(**self._base, event_id=event_id, previous_hash=self.last_hash, **fields)
            self.last_hash = case_event_hash(event)
            self.events += 1
        elif "case_id" in fields:  # a hand-off's submission opens another case
            event = build(**{**self._base, "event_id": event_id, **fields})
        else:
            event = build(**self._base, event_id=event_id, **fields)
        self.outputs.append(Output(topic, event))
        self.dirty = True

    def _decide(self, verdict: Verdict, step: str | None) -> None:
        self._emit(
            _CASE_TOPIC,
            PolicyDecision,
            rule_id=verdict.rule_id,
            decision=verdict.decision,
            reason=verdict.reason,
            step=step,
            inputs=verdict.inputs,
        )

    # State helpers.

    def _set_timer(
        self, timer_id: str, purpose: TimerPurpose, due_at: datetime, node: str | None = None
    ) -> None:
        timer = Timer(id=timer_id, purpose=purpose, due_at=due_at, node=node)
        self.timers[timer_id] = timer
        self.timers_set.append(timer)
        self.dirty = True

    def _cancel_timer(self, timer_id: str) -> None:
        timer = self.timers.pop(timer_id, None)
        if timer is None:
            return
        self.dirty = True
        if timer in self.timers_set:
            # Set and cancelled within this transition: the runtime never needs to know.
            self.timers_set.remove(timer)
        else:
            self.timers_cancelled.append(timer_id)

    def _update(self, node: str, **changes: Any) -> None:
        self.steps[node] = replace(self.steps[node], **changes)
        self.dirty = True

    def _names(self, step: str) -> dict[str, object]:
        outputs: dict[str, TaskOutput] = {}
        for sid in self.plan.order:
            state = self.steps.get(sid)
            if state is not None and state.output is not None and state.status in _HAS_OUTPUT:
                outputs[sid] = state.output
        if self._case_names is None:
            document = self.state.document
            self._case_names = {
                "id": self.case_id,
                "pipeline": self.pipeline.name,
                "version": self.pipeline.version,
                "source": self.state.source,
                "metadata": dict(self.state.metadata),
                "media_type": document.media_type,
                "size": document.size,
            }
        return {
            "steps": StepViews(outputs, self._views),
            "case": self._case_names,
            "usage": {"cost_usd": self.cost_usd, "latency_ms": self.latency_ms},
            "loops": dict(self.loops),
            "step": {"id": step, "capability": self.plan.nodes[step].capability},
        }

    # Inputs.

    def open(self, event: CaseSubmitted) -> None:
        self._emit(
            _CASE_TOPIC,
            CaseOpened,
            pipeline=self.pipeline.name,
            pipeline_version=self.pipeline.version,
            document=event.document,
        )
        if self.pipeline.deadline is not None:
            self._set_timer(
                DEADLINE_TIMER,
                TimerPurpose.CASE_DEADLINE,
                self.now + self.pipeline.deadline,
            )
        self._advance()

    def _match(
        self, tid: str, attempt: int, capability: str
    ) -> tuple[str, StepState, TaskSpec] | None:
        """Find the running attempt a result is for; otherwise mark the input and say None."""
        parsed = parse_task_id(self.case_id, tid)
        if parsed is None:
            self.dead_letter = f"task {tid!r} is not a task of case {self.case_id!r}"
            return None
        node, run, task_attempt = parsed
        spec = self.plan.nodes.get(node)
        if spec is None:
            self.dead_letter = (
                f"task {tid!r}: pipeline {self.pipeline.name!r} version "
                f"{self.pipeline.version} has no step {node!r}"
            )
            return None
        if task_attempt != attempt or capability != spec.capability:
            self.dead_letter = (
                f"result for task {tid!r} says attempt {attempt} of {capability!r}; "
                f"the task is attempt {task_attempt} of {spec.capability!r}"
            )
            return None
        state = self.steps.get(node)
        if state is None or (run, task_attempt) > (state.run, state.attempt):
            self.dead_letter = f"task {tid!r} was never requested"
            return None
        if (run, task_attempt) != (state.run, state.attempt):
            self.ignored = (
                f"late result of {tid!r}: step {node!r} is at run {state.run}, "
                f"attempt {state.attempt}"
            )
            return None
        if state.status is not StepStatus.RUNNING:
            self.ignored = f"result of {tid!r} arrived when step {node!r} is {state.status}"
            return None
        return node, state, spec

    def on_completed(self, event: TaskCompleted) -> None:
        found = self._match(event.task_id, event.attempt, event.capability)
        if found is None:
            return
        node, state, spec = found
        self._cancel_timer(timeout_timer(node, state.run, state.attempt))
        self.cost_usd += event.usage.cost_usd
        self.latency_ms += event.latency_ms
        if spec.compensates is not None:
            self._compensated(node, spec.compensates)
            return
        self._step_completed(node, state, spec, event)
        self._advance()

    def on_failed(self, event: TaskFailed) -> None:
        found = self._match(event.task_id, event.attempt, event.capability)
        if found is None:
            return
        node, state, spec = found
        self._cancel_timer(timeout_timer(node, state.run, state.attempt))
        will_retry = event.retryable and state.attempt < spec.retry.max_attempts
        self._emit(
            _CASE_TOPIC,
            StepFailed,
            step=node,
            task_id=event.task_id,
            attempt=event.attempt,
            error_class=event.error_class,
            message=event.message,
            will_retry=will_retry,
        )
        if will_retry:
            self._retry(node, state, spec)
        else:
            self._exhausted(node, state, spec, event.error_class, event.message)
        self._advance()

    def on_timer(self, event: TimerFired) -> None:
        timer = self.timers.get(event.timer_id)
        if timer is None:
            self.ignored = f"timer {event.timer_id!r} is not pending"
            return
        self._cancel_timer(timer.id)
        if timer.purpose is TimerPurpose.STEP_TIMEOUT:
            self._timed_out(timer)
        elif timer.purpose is TimerPurpose.RETRY_BACKOFF:
            self._backoff_over(timer)
        elif timer.purpose is TimerPurpose.HUMAN_SLA:
            self._sla_breached(timer)
        elif self.status is CaseStatus.RUNNING:
            self._close("the case deadline passed", "CaseDeadline", None)
        self._advance()

    def on_claimed(self, event: HumanTaskClaimed) -> None:
        human = self._human(event.human_task_id)
        if human is None:
            return
        if human.claimed_by == event.claimed_by:
            self.ignored = f"human task {human.id!r} is already claimed by {event.claimed_by!r}"
            return
        self.human = replace(human, claimed_by=event.claimed_by)
        self.dirty = True

    def on_decision(self, event: HumanDecision) -> None:
        human = self._human(event.human_task_id)
        if human is None:
            return
        if event.action is DecisionAction.EDIT:
            problem = self._edit_problem(human, event)
            if problem is not None:
                self.dead_letter = problem
                return
        self.human = None
        self._cancel_timer(sla_timer(human.id, human.level))
        self._decide(self._human_verdict(human, event), human.step)
        if human.kind is HumanTaskKind.COMPENSATION:
            # The case has already failed; the person has taken the undo over.
            return
        if event.action is DecisionAction.REJECT:
            comment = f": {event.comment}" if event.comment else ""
            self._close(f"rejected by {event.decided_by}{comment}", None, human.step, True)
            return
        if human.kind is HumanTaskKind.BUDGET:
            self.waived = (*self.waived, human.rule)
        elif event.action is DecisionAction.EDIT:
            self._edit(human, event)
            if human.step is not None and self.steps[human.step].status is StepStatus.COMPLETED:
                self._hand_off(human.step)
        elif human.step is not None:
            self._update(human.step, status=StepStatus.COMPLETED, escalation=None)
            self._hand_off(human.step)
        self._advance()

    # Steps.

    def _advance(self) -> None:
        """Move the case on as far as it can go without new input."""
        if self.status is not CaseStatus.RUNNING or self.human is not None:
            return
        for rule in self.plan.budgets:
            if rule.id in self.waived:
                continue
            verdict = check_budget(rule, self.cost_usd, self.latency_ms)
            if verdict is None:
                continue
            self._decide(verdict, None)
            if verdict.decision is Decision.ESCALATE and rule.queue is not None:
                self._open_human(
                    HumanTaskKind.BUDGET, rule.id, rule.queue, verdict.reason, rule.sla, None
                )
            else:
                self._close(f"policy {rule.id!r}: {verdict.reason}", "BudgetExceeded", None)
            return
        for group in self.plan.groups.values():
            outcome = self._group(group)
            if outcome is False:
                self._close(
                    f"parallel group {group.id!r} can no longer meet its join ({group.join})",
                    "GroupFailed",
                    None,
                )
                return
            if outcome is True:
                self._cancel_rest(group)
        for sid in self.plan.order:
            state = self.steps.get(sid)
            if state is not None and state.status is StepStatus.REVIEW:
                self._open_review(sid, state)
                return
        # Only a skipped step can make another step ready within one pass.
        skipped = True
        while skipped:
            skipped = False
            for sid in self.plan.order:
                state = self.steps.get(sid)
                if state is not None and state.status is not StepStatus.PENDING:
                    continue
                if not self._ready(sid):
                    continue
                started = self._start(sid, state.run if state is not None else 1)
                if started is None:
                    return
                skipped = skipped or not started
        if all(
            (state := self.steps.get(sid)) is not None and state.status in _TERMINAL
            for sid in self.plan.order
        ):
            self._complete()

    def _group(self, group: ParallelGroup) -> bool | None:
        """True when the group's join is met, False when it can no longer be, else None."""
        completed = skipped = active = 0
        for member in group.steps:
            state = self.steps.get(member)
            if state is None or state.status in _ACTIVE:
                active += 1
            elif state.status is StepStatus.COMPLETED:
                completed += 1
            elif state.status is StepStatus.SKIPPED:
                skipped += 1
        counted = len(group.steps) - skipped
        needed = group.needed(counted)
        if completed >= needed:
            return True
        if completed + active < needed:
            return False
        return None

    def _cancel_rest(self, group: ParallelGroup) -> None:
        """Cancel the members a met ``first``/``quorum`` join no longer needs."""
        if group.join is Join.ALL:
            return
        for member in group.steps:
            state = self.steps.get(member)
            if state is None:
                self.steps[member] = StepState(status=StepStatus.CANCELLED)
                self.dirty = True
            elif state.status in _ACTIVE:
                self._cancel_step(member, state)

    def _cancel_step(self, node: str, state: StepState) -> None:
        # The timeout timer of a task still out stays: it drains late results, and keeps
        # a closed case from being dropped before they can no longer arrive.
        if state.status is StepStatus.BACKOFF:
            self._cancel_timer(retry_timer(node, state.run, state.attempt))
        self._update(node, status=StepStatus.CANCELLED)

    def _ready(self, sid: str) -> bool:
        for dep in self.plan.deps[sid]:
            group = self.plan.groups.get(dep)
            if group is not None:
                if self._group(group) is not True:
                    return False
            else:
                state = self.steps.get(dep)
                if state is None or state.status not in _DONE:
                    return False
        return True

    def _start(self, sid: str, run: int) -> bool | None:
        """Run a ready step's guards, then dispatch it.

        Returns:
            True if dispatched, False if skipped, None if the case closed.
        """
        step = self.plan.steps[sid]
        try:
            if step.when is not None:
                holds = step.when.test(self._names(sid))
                self._decide(check_condition(f"{sid}.when", step.when, holds), sid)
                if not holds:
                    self.steps[sid] = StepState(status=StepStatus.SKIPPED, run=run)
                    self.dirty = True
                    return False
            rules = self.plan.before[sid]
            verdicts = check_access(rules, self._names(sid)) if rules else []
        except ExpressionError as exc:
            self._close(f"step {sid!r}: {exc}", "ExpressionError", sid)
            return None
        for verdict in verdicts:
            self._decide(verdict, sid)
            if verdict.denied:
                self._close(
                    f"policy {verdict.rule_id!r} denied step {sid!r}: {verdict.reason}",
                    "PolicyDenied",
                    sid,
                )
                return None
        self._dispatch(sid, run, 1)
        return True if self.status is CaseStatus.RUNNING else None

    def _dispatch(self, node: str, run: int, attempt: int) -> None:
        spec = self.plan.nodes[node]
        tid = task_id(self.case_id, node, run, attempt)
        if attempt == 1:
            for verdict in (redaction(spec), model_allowlist(spec)):
                if verdict is not None:
                    self._decide(verdict, node)
        prior: dict[str, TaskOutput] = {}
        if spec.compensates is not None:
            undone = self.steps[spec.compensates].output
            if undone is not None:
                prior[spec.compensates] = undone
        else:
            for alias, source in spec.inputs.items():
                state = self.steps.get(source)
                if state is not None and state.output is not None:
                    prior[alias] = state.output
        if spec.redact:
            prior = {alias: redact_output(out, spec.redact) for alias, out in prior.items()}
        arguments = None
        if spec.tool is not None:
            try:
                arguments = self._arguments(node, spec)
            except ExpressionError as exc:
                detail = f"tool arguments: {exc}"
                if spec.compensates is not None:
                    self._compensation_failed(node, spec.compensates, detail)
                else:
                    self._close(f"step {node!r}: {detail}", "ExpressionError", node)
                return
        max_cost, max_latency = (
            remaining(self.plan.budgets, self.waived, self.cost_usd, self.latency_ms)
            if self.plan.budgets
            else (None, None)
        )
        deadline = self.now + spec.timeout
        self._emit(
            _task_topic(spec.capability),
            TaskRequested,
            task_id=tid,
            step=node,
            capability=spec.capability,
            attempt=attempt,
            input=trusted(
                TaskInput,
                document=self.state.document,
                # A copy: the pipeline's own mapping must not be shared with every task
                # (validation copied it; `trusted` does not).
                parameters=dict(spec.parameters),
                prior=prior,
                arguments=arguments,
            ),
            deadline=deadline,
            allowed_models=spec.models,
            redact_fields=spec.redact,
            max_cost_usd=max_cost,
            max_latency_ms=max_latency,
        )
        self._emit(
            _CASE_TOPIC,
            StepStarted,
            step=node,
            capability=spec.capability,
            task_id=tid,
            attempt=attempt,
        )
        self.steps[node] = StepState(status=StepStatus.RUNNING, run=run, attempt=attempt)
        self._set_timer(
            timeout_timer(node, run, attempt), TimerPurpose.STEP_TIMEOUT, deadline, node
        )

    def _arguments(self, node: str, spec: TaskSpec) -> str:
        """A tool call's arguments as a JSON object, evaluated over the case now (the
        recorded task carries the values, so a replay never evaluates them again)."""
        assert spec.tool is not None
        names = self._names(spec.compensates or node)
        steps: dict[str, object] = dict(names["steps"])  # type: ignore[call-overload]
        undone = self.steps[spec.compensates].output if spec.compensates is not None else None
        if spec.compensates is not None and undone is not None:
            # A compensation reads the output it undoes (the step is compensating now).
            steps[spec.compensates] = expression_view(undone)
        if spec.redact:
            # A redact rule on a tool step: the tool never gets those fields' values.
            for sid in steps:
                output = self.steps[sid].output if sid in self.steps else None
                if output is not None:
                    steps[sid] = expression_view(redact_output(output, spec.redact))
        names = {**names, "steps": steps}
        values = {name: argument.evaluate(names) for name, argument in spec.tool.arguments.items()}
        try:
            return json.dumps(values, separators=(",", ":"), allow_nan=False)
        except ValueError as exc:
            raise ExpressionError(f"a value is not JSON: {exc}") from None

    def _step_completed(
        self, node: str, state: StepState, spec: TaskSpec, event: TaskCompleted
    ) -> None:
        output = event.output
        patches = self.patches.get(node)
        if patches and isinstance(output, ExtractOutput | ClassifyOutput):
            output = apply_patches(output, patches)
        self.seq += 1
        self.steps[node] = StepState(
            status=StepStatus.COMPLETED,
            run=state.run,
            attempt=state.attempt,
            seq=self.seq,
            output=output,
            model=f"{event.usage.provider}/{event.usage.model}",
        )
        self._emit(
            _CASE_TOPIC, StepCompleted, step=node, task_id=event.task_id, attempt=event.attempt
        )
        # An allowed model and an escalation rule that does not fire are not recorded:
        # the task's allow-list decision and the output itself already say so.
        verdicts: list[Verdict] = []
        used = check_model_used(spec, event.usage)
        if used is not None:
            verdicts.append(used)
        step = self.plan.steps[node]
        escalation = None
        try:
            if not verdicts:
                rules = self.plan.after[node]
                if rules:
                    verdicts.extend(check_access(rules, self._names(node)))
            if not verdicts or not verdicts[-1].denied:
                for rule in step.escalate:
                    if rule.when is None or rule.when.test(self._names(node)):
                        inputs = {
                            "when": rule.when.text if rule.when is not None else "always",
                            "queue": rule.queue,
                        }
                        verdicts.append(Verdict(rule.id, Decision.ESCALATE, rule.reason, inputs))
                        escalation = rule.id
                        break
        except ExpressionError as exc:
            self._close(f"step {node!r}: {exc}", "ExpressionError", node)
            return
        for verdict in verdicts:
            self._decide(verdict, node)
            if verdict.denied:
                self._close(
                    f"policy {verdict.rule_id!r} denied the output of step {node!r}: "
                    f"{verdict.reason}",
                    "PolicyDenied",
                    node,
                )
                return
        if escalation is not None:
            self._update(node, status=StepStatus.REVIEW, escalation=escalation)
        else:
            self._hand_off(node)

    def _hand_off(self, node: str) -> None:
        """After step ``node`` completed: the first of its hand-off rules that holds ends
        the case (outcome ``handed-off``) and submits it, in the same transaction, as a
        new case of the rule's pipeline: same document, same correlation id."""
        rules = self.plan.steps[node].hand_off
        if not rules:
            return
        try:
            rule = next((r for r in rules if r.when.test(self._names(node))), None)
        except ExpressionError as exc:
            self._close(f"step {node!r}: {exc}", "ExpressionError", node)
            return
        if rule is None:
            return
        for sid, state in list(self.steps.items()):
            if state.status in _ACTIVE and sid != node:
                self._cancel_step(sid, state)
        child = handoff_case_id(self.case_id, rule.to)
        self._emit(
            _CASE_TOPIC,
            CaseHandedOff,
            step=node,
            rule_id=rule.id,
            pipeline=rule.to,
            to_case_id=child,
            reason=rule.reason,
        )
        self._emit(
            INTAKE.name,
            CaseSubmitted,
            case_id=child,
            source=f"hand-off from {self.case_id}",
            document=self.state.document,
            metadata={**self.state.metadata, "handed_off_from": self.case_id},
            pipeline=rule.to,
        )
        self.status = CaseStatus.COMPLETED
        self._cancel_timer(DEADLINE_TIMER)
        self._drop_outputs()
        self._emit(_CASE_TOPIC, CaseCompleted, outcome=HANDED_OFF, total_cost_usd=self.cost_usd)

    def _retry(self, node: str, state: StepState, spec: TaskSpec) -> None:
        delay = spec.retry.delay(state.attempt)
        if delay <= timedelta(0):
            self._dispatch(node, state.run, state.attempt + 1)
            return
        self._update(node, status=StepStatus.BACKOFF)
        self._set_timer(
            retry_timer(node, state.run, state.attempt),
            TimerPurpose.RETRY_BACKOFF,
            self.now + delay,
            node,
        )

    def _exhausted(
        self, node: str, state: StepState, spec: TaskSpec, error_class: str, message: str
    ) -> None:
        self._update(node, status=StepStatus.FAILED)
        if spec.compensates is not None:
            self._compensation_failed(node, spec.compensates, f"{error_class}: {message}")
            return
        group = self.plan.group_of.get(node)
        if group is not None and group.join is not Join.ALL:
            return  # the group may still meet its join; _advance decides
        self._close(
            f"step {node!r} failed after {state.attempt} attempt(s): {error_class}: {message}",
            error_class,
            node,
        )

    def _timed_out(self, timer: Timer) -> None:
        parsed = parse_timeout_timer(timer.id)
        node = parsed[0] if parsed is not None else ""
        state = self.steps.get(node)
        if (
            parsed is None
            or state is None
            or state.status is not StepStatus.RUNNING
            or (state.run, state.attempt) != parsed[1:]
        ):
            self.ignored = f"timeout {timer.id!r} of an attempt that is no longer running"
            return
        tid = task_id(self.case_id, node, state.run, state.attempt)
        spec = self.plan.nodes[node]
        self._emit(
            _CASE_TOPIC,
            StepTimedOut,
            step=node,
            task_id=tid,
            attempt=state.attempt,
            deadline=timer.due_at,
        )
        if state.attempt < spec.retry.max_attempts:
            self._retry(node, state, spec)
            return
        message = f"no result within {_format_duration(spec.timeout)}"
        self._emit(
            _CASE_TOPIC,
            StepFailed,
            step=node,
            task_id=tid,
            attempt=state.attempt,
            error_class="StepTimeout",
            message=message,
            will_retry=False,
        )
        self._exhausted(node, state, spec, "StepTimeout", message)

    def _backoff_over(self, timer: Timer) -> None:
        node = timer.node or ""
        state = self.steps.get(node)
        if state is None or state.status is not StepStatus.BACKOFF:
            self.ignored = f"retry timer {timer.id!r} of a step that is no longer waiting"
            return
        self._dispatch(node, state.run, state.attempt + 1)

    def _complete(self) -> None:
        self.status = CaseStatus.COMPLETED
        self._cancel_timer(DEADLINE_TIMER)
        self._drop_outputs()
        self._emit(
            _CASE_TOPIC, CaseCompleted, outcome=self.pipeline.outcome, total_cost_usd=self.cost_usd
        )

    def _drop_outputs(self) -> None:
        # A closed case needs no outputs any more; it may linger while late results drain.
        for sid, state in self.steps.items():
            if state.output is not None:
                self.steps[sid] = state.without_output()

    # Human tasks.

    def _human(self, human_id: str) -> HumanTask | None:
        """The open human task ``human_id``; otherwise mark the input and say None."""
        if self.human is not None and self.human.id == human_id:
            return self.human
        number = parse_human_task_id(self.case_id, human_id)
        if number is not None and 1 <= number <= self.humans:
            self.ignored = f"human task {human_id!r} is already closed"
        else:
            self.dead_letter = f"human task {human_id!r} is not a task of case {self.case_id!r}"
        return None

    def _target(self, human: HumanTask) -> EscalationTarget:
        if human.kind is HumanTaskKind.STEP:
            return self.plan.escalations[human.rule][1]
        if human.kind is HumanTaskKind.BUDGET:
            rule = next(r for r in self.plan.budgets if r.id == human.rule)
            return EscalationTarget(queue=rule.queue or human.queue, sla=rule.sla, chain=rule.chain)
        return self.pipeline.compensation_escalation

    def _evidence(self, human: HumanTask) -> dict[str, TaskOutput]:
        wanted = None
        if human.kind is HumanTaskKind.STEP:
            wanted = self.plan.escalations[human.rule][1].evidence
        evidence: dict[str, TaskOutput] = {}
        for sid in self.plan.order:
            state = self.steps.get(sid)
            if state is not None and state.output is not None:
                if wanted is None or sid in wanted:
                    evidence[sid] = state.output
        return evidence

    def _open_human(
        self,
        kind: HumanTaskKind,
        rule: str,
        queue: str,
        reason: str,
        sla: timedelta,
        step: str | None,
    ) -> None:
        self.humans += 1
        human = HumanTask(
            id=human_task_id(self.case_id, self.humans),
            kind=kind,
            rule=rule,
            queue=queue,
            reason=reason,
            step=step,
        )
        self.human = human
        self._announce(human, reason, sla)

    def _announce(self, human: HumanTask, reason: str, sla: timedelta) -> None:
        """Publish where a human task is now and set its SLA timer."""
        self._emit(
            _CASE_TOPIC,
            HumanTaskOpened,
            human_task_id=human.id,
            queue=human.queue,
            reason=reason,
            document=self.state.document,
            evidence=self._evidence(human),
            sla_deadline=self.now + sla,
        )
        self._emit(
            _CASE_TOPIC,
            CaseEscalated,
            human_task_id=human.id,
            queue=human.queue,
            reason=reason,
            step=human.step,
        )
        self._set_timer(sla_timer(human.id, human.level), TimerPurpose.HUMAN_SLA, self.now + sla)

    def _open_review(self, sid: str, state: StepState) -> None:
        rule = self.plan.escalations[state.escalation or ""][1]
        self._open_human(HumanTaskKind.STEP, rule.id, rule.queue, rule.reason, rule.sla, sid)

    def _sla_breached(self, timer: Timer) -> None:
        human = self.human
        if human is None or timer.id != sla_timer(human.id, human.level):
            self.ignored = f"SLA timer {timer.id!r} of a human task that is no longer open"
            return
        target = self._target(human)
        if human.level >= len(target.chain):
            self._decide(
                Verdict(
                    human.rule,
                    Decision.ESCALATE,
                    f"SLA breached in {human.queue!r}, the last queue of the escalation "
                    "chain: the task stays there",
                    {"human_task_id": human.id, "queue": human.queue},
                ),
                human.step,
            )
            return
        moved = replace(
            human, queue=target.chain[human.level], level=human.level + 1, claimed_by=None
        )
        self.human = moved
        self._announce(moved, f"SLA breached in {human.queue!r}: {human.reason}", target.sla)

    def _human_verdict(self, human: HumanTask, event: HumanDecision) -> Verdict:
        inputs = {
            "human_task_id": human.id,
            "action": event.action.value,
            "decided_by": event.decided_by,
        }
        if event.patches:
            inputs["patched_fields"] = ",".join(patch.field for patch in event.patches)
        if event.comment:
            inputs["comment"] = event.comment
        reason = f"{event.action.value} by {event.decided_by} in {human.queue!r}"
        return Verdict(human.rule, _HUMAN_VERDICT[event.action], reason, inputs)

    def _edit_problem(self, human: HumanTask, event: HumanDecision) -> str | None:
        if human.kind is not HumanTaskKind.STEP:
            return f"human task {human.id!r} ({human.kind} review) cannot be edited"
        rule = self.plan.escalations[human.rule][1]
        if rule.on_edit is None:
            return (
                f"escalation {rule.id!r} has no on_edit: human task {human.id!r} cannot be edited"
            )
        target = self.steps.get(rule.on_edit.patch)
        if target is None or not isinstance(target.output, ExtractOutput | ClassifyOutput):
            return f"step {rule.on_edit.patch!r} has no extract or classify output to patch"
        try:
            apply_patches(target.output, event.patches)
        except ValueError as exc:
            return f"human task {human.id!r}: {exc}"
        return None

    def _edit(self, human: HumanTask, event: HumanDecision) -> None:
        step, rule = self.plan.escalations[human.rule]
        on_edit = rule.on_edit
        assert on_edit is not None  # checked by _edit_problem
        target = self.steps[on_edit.patch]
        assert isinstance(target.output, ExtractOutput | ClassifyOutput)
        self.patches[on_edit.patch] = (*self.patches.get(on_edit.patch, ()), *event.patches)
        self._update(on_edit.patch, output=apply_patches(target.output, event.patches))
        if on_edit.loop_to is None:
            self._update(step, status=StepStatus.COMPLETED, escalation=None)
            return
        taken = self.loops.get(rule.id, 0)
        inputs = {
            "loop_to": on_edit.loop_to,
            "loops": str(taken),
            "max_loops": str(on_edit.max_loops),
        }
        if taken >= on_edit.max_loops:
            reason = f"loop bound {on_edit.max_loops} reached: continuing with the edited fields"
            self._decide(Verdict(rule.id, Decision.DENY, reason, inputs), step)
            self._update(step, status=StepStatus.COMPLETED, escalation=None)
            return
        self.loops[rule.id] = taken + 1
        inputs["loops"] = str(taken + 1)
        reason = f"loop {taken + 1} of {on_edit.max_loops}: back to step {on_edit.loop_to!r}"
        self._decide(Verdict(rule.id, Decision.ALLOW, reason, inputs), step)
        self._reset(on_edit.loop_to)

    def _reset(self, start: str) -> None:
        """Send ``start`` and every step after it back to pending, for a new run."""
        again = self.plan.descendants[start] | {start}
        for sid in self.plan.order:
            state = self.steps.get(sid)
            if sid not in again or state is None:
                continue
            if state.status is StepStatus.BACKOFF:
                self._cancel_timer(retry_timer(sid, state.run, state.attempt))
            self.steps[sid] = StepState(status=StepStatus.PENDING, run=state.run + 1)
        self.dirty = True

    # Closing and compensation.

    def _close(
        self, reason: str, error_class: str | None, step: str | None, rejected: bool = False
    ) -> None:
        """Stop the case: cancel its work, then compensate and end (failed or rejected)."""
        for sid in self.plan.order:
            state = self.steps.get(sid)
            if state is None:
                continue
            if state.status in (StepStatus.PENDING, StepStatus.RUNNING, StepStatus.BACKOFF):
                self._cancel_step(sid, state)
            elif state.status is StepStatus.REVIEW:
                # A tool call whose outcome nobody confirmed did not (knowingly) happen:
                # there is nothing to undo. Any other reviewed step did its work.
                unknown = (
                    isinstance(state.output, ToolOutput)
                    and state.output.status is ToolStatus.UNKNOWN
                )
                status = StepStatus.CANCELLED if unknown else StepStatus.COMPLETED
                self._update(sid, status=status, escalation=None)
        if self.human is not None:
            self._cancel_timer(sla_timer(self.human.id, self.human.level))
            self.human = None
        self._cancel_timer(DEADLINE_TIMER)
        done = [
            (state.seq, sid)
            for sid, state in self.steps.items()
            if state.status is StepStatus.COMPLETED
            and sid in self.plan.steps
            and self.plan.steps[sid].compensation is not None
        ]
        undo = tuple(sid for _, sid in sorted(done, reverse=True))
        self.closing = Closing(
            rejected=rejected, reason=reason, error_class=error_class, step=step, undo=undo
        )
        self.dirty = True
        if undo:
            self.status = CaseStatus.COMPENSATING
            self._compensate_next()
        else:
            self._finish(compensated=False)

    def _compensate_next(self) -> None:
        assert self.closing is not None
        step = self.closing.undo[0]
        compensation = self.plan.steps[step].compensation
        assert compensation is not None
        self._emit(
            _CASE_TOPIC,
            CompensationStarted,
            step=step,
            compensation=compensation.id,
            reason=self.closing.reason,
        )
        self._update(step, status=StepStatus.COMPENSATING)
        self._dispatch(compensation.id, 1, 1)

    def _compensated(self, node: str, step: str) -> None:
        assert self.closing is not None
        self._update(node, status=StepStatus.COMPLETED)
        self._update(step, status=StepStatus.COMPENSATED)
        self._emit(_CASE_TOPIC, CompensationCompleted, step=step, compensation=node)
        rest = self.closing.undo[1:]
        self.closing = replace(self.closing, undo=rest)
        if rest:
            self._compensate_next()
        else:
            self._finish(compensated=True)

    def _compensation_failed(self, node: str, step: str, detail: str) -> None:
        closing = self.closing
        assert closing is not None
        reason = f"compensation {node!r} of step {step!r} failed ({detail}) after: {closing.reason}"
        self.status = CaseStatus.FAILED
        self.closing = None
        self._emit(
            _CASE_TOPIC,
            CaseFailed,
            reason=reason,
            error_class="CompensationFailed",
            step=step,
            compensated=False,
        )
        target = self.pipeline.compensation_escalation
        self._open_human(
            HumanTaskKind.COMPENSATION, "compensation", target.queue, reason, target.sla, step
        )
        self.dead_letter = reason

    def _finish(self, compensated: bool) -> None:
        closing = self.closing
        assert closing is not None
        self.closing = None
        self._drop_outputs()
        if closing.rejected:
            self.status = CaseStatus.COMPLETED
            self._emit(_CASE_TOPIC, CaseCompleted, outcome="rejected", total_cost_usd=self.cost_usd)
            return
        self.status = CaseStatus.FAILED
        self._emit(
            _CASE_TOPIC,
            CaseFailed,
            reason=closing.reason,
            error_class=closing.error_class,
            step=closing.step,
            compensated=compensated,
        )
