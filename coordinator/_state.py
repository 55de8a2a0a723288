"""Saga state: everything the coordinator remembers about one case.

The state is the value of the changelog topic (keyed by case id), so it is small and
serialises to compact JSON: fields at their defaults are left out. Steps that have not
started have no entry. Task ids, timer ids and human task ids are derived (see
``coordinator._ids``), so the state stores counters, not ids.

The classes are slotted dataclasses (`coordinator._values.value`: frozen for the type
checker, plain at run time) rather than pydantic models: a transition builds several of
them, and an open case should cost little memory. pydantic still validates and
serialises them (``CaseState.from_bytes`` / ``to_bytes``).

States are immutable: a transition returns a new state and never touches the one it got.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Annotated

from pydantic import Field, SerializeAsAny, TypeAdapter

from coordinator._values import value
from schemas.blobs import DocumentRef, Sha256Hex
from schemas.envelope import UtcDatetime
from schemas.human import FieldPatch
from schemas.lifecycle import TimerPurpose
from schemas.payloads import TaskOutput

# The tests of whether a field holds its default, called from pydantic's serializer for
# every such field of every state written: builtins, which it calls without a Python frame
# (6% of `to_bytes`).
_empty = operator.not_
_zero = partial(operator.eq, 0)
_none = partial(operator.is_, None)
_one = partial(operator.eq, 1)


# Fields left out of the JSON when they hold their default.
_NotOne = Annotated[int, Field(exclude_if=_one)]
_NotZero = Annotated[int, Field(exclude_if=_zero)]
_NotZeroFloat = Annotated[float, Field(exclude_if=_zero)]
_Text = Annotated[str | None, Field(exclude_if=_none)]


class CaseStatus(StrEnum):
    """Where a case is in its life."""

    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    FAILED = "failed"


class StepStatus(StrEnum):
    """Where a step (or a compensation) is.

    ``review``: the step completed and an escalation rule matched; steps after it wait for
    the human decision. ``pending`` only appears for steps reset by a feedback loop.
    """

    PENDING = "pending"
    RUNNING = "running"
    BACKOFF = "backoff"
    REVIEW = "review"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"


@value
class StepState:
    """One step or compensation of a case.

    Attributes:
        status: Where the step is.
        run: 1, then +1 each time a feedback loop sends the case back through it.
        attempt: The latest attempt of this run (0 before the first).
        seq: Completion order among the case's steps, so compensation can go in reverse.
        escalation: The escalation rule that put the step in review.
        output: The accepted output (human corrections applied).
        model: The model that gave the output (`provider/model`), so a person's verdict
            on it can be counted against that model.
    """

    status: StepStatus
    run: _NotOne = 1
    attempt: _NotZero = 0
    seq: _NotZero = 0
    escalation: _Text = None
    # Written as the output's own model (pydantic's union serializer first tries each of
    # the union's types: a third of writing a state with an extraction in it).
    output: Annotated[SerializeAsAny[TaskOutput | None], Field(exclude_if=_none)] = None
    model: _Text = None

    def without_output(self) -> StepState:
        """The same step without its output (what a closed case keeps). Built directly:
        ``dataclasses.replace`` looks the fields up on every call."""
        return StepState(
            self.status, self.run, self.attempt, self.seq, self.escalation, None, self.model
        )


@value
class Timer:
    """A durable timer; the runtime's timer loop fires it with ``TimerFired``.

    Attributes:
        id: Unique within the case; ``TimerFired.timer_id``.
        purpose: Why it was set.
        due_at: When to fire.
        node: The step or compensation it is about, if any.
    """

    id: str
    purpose: TimerPurpose
    due_at: UtcDatetime
    node: _Text = None


class HumanTaskKind(StrEnum):
    """Why a human task was opened."""

    STEP = "step"
    BUDGET = "budget"
    COMPENSATION = "compensation"


@value
class HumanTask:
    """The open human task of a case (at most one at a time).

    Attributes:
        id: ``HumanTaskOpened.human_task_id``; it stays the same when the task moves queue.
        kind: Why it was opened.
        rule: The escalation or budget rule that opened it (``compensation`` otherwise).
        queue: The queue it is in now.
        level: 0 in the first queue, then the position in the escalation chain.
        reason: Why a human is needed.
        step: The step under review, if any.
        claimed_by: Who claimed it, if anyone.
    """

    id: str
    kind: HumanTaskKind
    rule: str
    queue: str
    reason: str
    level: _NotZero = 0
    step: _Text = None
    claimed_by: _Text = None


@value
class Closing:
    """Why a case is winding down, kept while its completed steps are compensated.

    Attributes:
        rejected: True when a human rejected the case (it completes as 'rejected');
            False when it failed.
        reason: The reason given in the final event.
        error_class: The error behind a failure, if any.
        step: The step behind it, if any.
        undo: Steps still to compensate, the next one first.
    """

    reason: str
    rejected: Annotated[bool, Field(exclude_if=_empty)] = False
    error_class: _Text = None
    step: _Text = None
    undo: Annotated[tuple[str, ...], Field(exclude_if=_empty)] = ()


RECENT_EVENTS = 4
"""How many input event ids a case remembers to drop exact duplicates."""


@value
class CaseState:
    """The saga state of one case.

    Attributes:
        case_id: The case.
        correlation_id: Copied to every event the case produces.
        pipeline: Name of the pipeline the case runs.
        version: The pipeline version, pinned when the case opened.
        status: Where the case is.
        opened_at: When the case opened.
        document: The case document.
        source: Who submitted it.
        metadata: Submitter metadata.
        steps: Steps and compensations that started, by id.
        timers: Pending timers.
        human: The open human task, if any.
        humans: How many human tasks the case opened (numbers their ids).
        loops: Feedback loops taken, by escalation rule id.
        waived: Budget rules a human approved past.
        patches: Human corrections by step, re-applied when the step runs again.
        cost_usd: Model spend so far.
        latency_ms: Attempt wall time so far.
        seq: Steps completed so far (orders compensation).
        closing: Why the case is winding down, while it compensates.
        recent: Digests of the latest input event ids (exact-duplicate filter).
        last_hash: Hash of the case's latest ``CaseEvent`` (the audit chain).
        events: How many ``CaseEvent``s the chain has (with ``last_hash``: its head).
    """

    case_id: str
    correlation_id: str
    pipeline: str
    version: int
    status: CaseStatus
    opened_at: UtcDatetime
    document: DocumentRef
    source: str
    metadata: Annotated[Mapping[str, str], Field(exclude_if=_empty)] = field(default_factory=dict)
    steps: Annotated[Mapping[str, StepState], Field(exclude_if=_empty)] = field(
        default_factory=dict
    )
    timers: Annotated[tuple[Timer, ...], Field(exclude_if=_empty)] = ()
    human: Annotated[HumanTask | None, Field(exclude_if=_none)] = None
    humans: _NotZero = 0
    loops: Annotated[Mapping[str, int], Field(exclude_if=_empty)] = field(default_factory=dict)
    waived: Annotated[tuple[str, ...], Field(exclude_if=_empty)] = ()
    patches: Annotated[Mapping[str, tuple[FieldPatch, ...]], Field(exclude_if=_empty)] = field(
        default_factory=dict
    )
    cost_usd: _NotZeroFloat = 0.0
    latency_ms: _NotZeroFloat = 0.0
    seq: _NotZero = 0
    closing: Annotated[Closing | None, Field(exclude_if=_none)] = None
    recent: Annotated[tuple[int, ...], Field(exclude_if=_empty)] = ()
    last_hash: Annotated[Sha256Hex | None, Field(exclude_if=_none)] = None
    events: _NotZero = 0

    def to_bytes(self) -> bytes:
        """Serialise for the changelog (compact JSON; defaults left out)."""
        return _ADAPTER.dump_json(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> CaseState:
        """Deserialise a changelog value written by ``to_bytes``.

        Raises:
            pydantic.ValidationError: If ``data`` is not a valid state.
        """
        return _ADAPTER.validate_json(data)

    @property
    def closed(self) -> bool:
        """Whether the case reached its end (completed or failed)."""
        return self.status in (CaseStatus.COMPLETED, CaseStatus.FAILED)

    @property
    def waiting_for_human(self) -> bool:
        """Whether a human task is open."""
        return self.human is not None

    @property
    def finished(self) -> bool:
        """Whether nothing more can happen: closed, no timer pending, no human task open.

        The runtime may drop (tombstone) a finished case. A closed case keeps the timeout
        timers of tasks still out, so it stays until late results can no longer arrive.
        """
        return self.closed and not self.timers and self.human is None

    @property
    def next_due(self) -> datetime | None:
        """When the earliest pending timer is due, or None."""
        return min((timer.due_at for timer in self.timers), default=None)

    def due_timers(self, now: datetime) -> tuple[Timer, ...]:
        """The pending timers due at ``now`` or earlier, earliest first."""
        return tuple(sorted((t for t in self.timers if t.due_at <= now), key=_due_key))


def _due_key(timer: Timer) -> tuple[datetime, str]:
    return timer.due_at, timer.id


_ADAPTER = TypeAdapter(CaseState)
