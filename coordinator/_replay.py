"""Replay: rebuild case states from the recorded inputs and check every recorded decision.

Pure, like the transition: the caller reads the log and hands over decoded records
(``Logged``); nothing here does I/O.

Time is the inputs' own: the transition reads ``occurred_at`` only, and timer firings
are recorded inputs (``TimerFired`` on the timers topic), so the same inputs in the same
order reproduce the same outputs, ids included. No hook into the engine is needed.

The order is the one thing to recover. The coordinator consumes four input topics; each
partition is consumed in offset order, but the log does not say how it interleaved them
(a poll hands out one topic's records before another's, whatever their timestamps). The
case events say most of it: each carries the ``causation_id`` of the input that caused
it, and the case-events log is in commit order. So, per case:

- an input that caused case events (*anchored*) was consumed in the order of its first
  case event (every input that emits anything emits a case event: a task request comes
  with its ``StepStarted``). Only the first record with a given event id takes those
  events; a redelivered copy was a duplicate and decided nothing;
- an input that caused nothing (a duplicate, a late result, a stale timer, a claim, an
  invalid input) goes in the earliest place where the transition agrees that it causes
  nothing and is not dead-lettered (the earliest, because the coordinator reads what is
  there), never before an input of its partition that precedes it, and never before an
  anchored input whose case events were written before it was appended. An input that
  fits nowhere is forced in where its partition requires (before the next anchored input
  there, or at the end), and the replay then reports what it decides.

Every input that causes nothing leaves the outputs alone, so where exactly it goes can
only change the state in ways no recorded decision depends on (a claimant's name, a
stale timer dropped a little earlier).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from coordinator._engine import Transition, transition
from coordinator._pipeline import PipelineCatalog
from coordinator._state import CaseState
from coordinator._values import value
from schemas.envelope import Event
from schemas.intake import CaseSubmitted
from schemas.topology import CASE_EVENTS


@value
class Logged:
    """A decoded record and where it sits in the log."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    event: Event

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def __str__(self) -> str:
        return f"{self.where} {self.event.event_type} {self.event.event_id}"


@value
class Mismatch:
    """A recorded decision that the replay does not reproduce.

    Attributes:
        case_id: The case.
        input: The input that decided (where it is, its type and id), or the missing
            input a recorded event names as its cause.
        expected: What the transition decides now.
        recorded: What the log says was decided.
    """

    case_id: str
    input: str
    expected: str
    recorded: str

    def __str__(self) -> str:
        return (
            f"case {self.case_id}: {self.input}: expected {self.expected}; recorded {self.recorded}"
        )


@value
class CaseReplay:
    """One case rebuilt.

    Attributes:
        case_id: The case.
        state: Its latest state; kept after the case finished (the runtime drops it).
        finished: Whether the runtime would have dropped the state (nothing can happen).
        inputs: Inputs replayed.
        applied: Inputs that changed the case.
        ignored: Inputs without effect (duplicates, late results, stale timers).
        dead_lettered: Inputs the coordinator cannot process.
        rejected: Why the submission was dead-lettered, when the case never opened.
    """

    case_id: str
    state: CaseState | None
    finished: bool
    inputs: int
    applied: int
    ignored: int
    dead_lettered: int
    rejected: str | None = None


@value
class Replay:
    """Every case rebuilt, and every recorded decision the replay does not reproduce."""

    cases: tuple[CaseReplay, ...]
    mismatches: tuple[Mismatch, ...]


@dataclass
class _Case:
    inputs: list[Logged] = field(default_factory=list)
    outputs: list[Logged] = field(default_factory=list)


def _by_case(inputs: Iterable[Logged], outputs: Iterable[Logged]) -> dict[str, _Case]:
    cases: dict[str, _Case] = {}
    for item in inputs:
        cases.setdefault(item.event.case_id, _Case()).inputs.append(item)
    for item in outputs:
        cases.setdefault(item.event.case_id, _Case()).outputs.append(item)
    return cases


def _position(item: Logged) -> tuple[str, int, int]:
    return item.topic, item.partition, item.offset


def _emitted(result: Transition) -> list[Event]:
    return [o.event for o in result.outputs if o.topic == CASE_EVENTS.name]


class _Walk:
    """Applies one case's inputs in the recovered order, keeping every transition."""

    def __init__(
        self, inputs: Sequence[Logged], outputs: Sequence[Logged], pipelines: PipelineCatalog
    ) -> None:
        self.pipelines = pipelines
        self.state: CaseState | None = None
        self.steps: list[tuple[Logged, Transition]] = []
        self.recorded: dict[str, list[Logged]] = {}
        for output in sorted(outputs, key=_position):
            self.recorded.setdefault(output.event.causation_id or "", []).append(output)
        self.lanes: dict[tuple[str, int], deque[Logged]] = {}
        for item in sorted(inputs, key=_position):
            self.lanes.setdefault((item.topic, item.partition), deque()).append(item)
        # Anchored inputs: the first record of each event id that caused case events,
        # by the log position of its first case event.
        rank = {
            cause: (events[0].partition, events[0].offset)
            for cause, events in self.recorded.items()
        }
        self.anchored: dict[tuple[str, int, int], tuple[int, int]] = {}
        for lane in self.lanes.values():
            for item in lane:
                at = rank.pop(item.event.event_id, None)
                if at is not None:
                    self.anchored[_position(item)] = at
        self.written = {cause: events[0].timestamp_ms for cause, events in self.recorded.items()}
        self.applied: set[tuple[str, int, int]] = set()

    def run(self) -> list[tuple[Logged, Transition]]:
        order = sorted(
            (
                item
                for lane in self.lanes.values()
                for item in lane
                if _position(item) in self.anchored
            ),
            key=lambda item: self.anchored[_position(item)],
        )
        for anchor in order:
            lane = self.lanes[(anchor.topic, anchor.partition)]
            if _position(anchor) in self.applied:
                continue  # forced in earlier by an inconsistent log
            written = self.written[anchor.event.event_id]
            self._quiet(written)
            while lane[0] is not anchor:
                self._apply(lane.popleft())
                self._quiet(written)
            self._apply(lane.popleft())
        self._quiet(math.inf)
        while any(self.lanes.values()):
            head = min((lane for lane in self.lanes.values() if lane), key=self._head_key)
            self._apply(head.popleft())
            self._quiet(math.inf)
        return self.steps

    @staticmethod
    def _head_key(lane: deque[Logged]) -> tuple[int, str, int, int]:
        item = lane[0]
        return item.timestamp_ms, item.topic, item.partition, item.offset

    def _quiet(self, before_ms: float) -> None:
        """Apply every lane head that causes nothing now and was appended by `before_ms`."""
        progress = True
        while progress:
            progress = False
            heads = sorted((lane for lane in self.lanes.values() if lane), key=self._head_key)
            for lane in heads:
                item = lane[0]
                if _position(item) in self.anchored or item.timestamp_ms > before_ms:
                    continue
                result = transition(self.state, item.event, self.pipelines)
                if result.dead_letter is None and not _emitted(result):
                    self._apply(lane.popleft(), result)
                    progress = True
                    break

    def _apply(self, item: Logged, result: Transition | None = None) -> None:
        if result is None:
            result = transition(self.state, item.event, self.pipelines)
        self.steps.append((item, result))
        self.applied.add(_position(item))
        # The runtime drops a finished case; what comes after finds no state.
        finished = result.state is None or result.state.finished
        self.state = None if finished else result.state


def consumption_order(
    inputs: Sequence[Logged], outputs: Sequence[Logged], pipelines: PipelineCatalog
) -> list[Logged]:
    """The order the coordinator consumed one case's `inputs`, recovered from the case's
    recorded case events `outputs` (see the module docstring)."""
    return [item for item, _ in _Walk(inputs, outputs, pipelines).run()]


def replay(
    inputs: Iterable[Logged], outputs: Iterable[Logged], pipelines: PipelineCatalog
) -> Replay:
    """Re-run the transition on each case's recorded inputs, in the order they were
    consumed, and compare what it emits on the case-events topic with the recorded case
    events (id, type and content).

    Args:
        inputs: Records of the coordinator's input topics (intake, results, human,
            timers), decoded. A case is rebuilt only if its submission is among them.
        outputs: Records of the case-events topic, decoded.
        pipelines: The pipelines the coordinator runs.
    """
    rebuilt: list[CaseReplay] = []
    mismatches: list[Mismatch] = []
    for case_id, case in _by_case(inputs, outputs).items():
        if not any(isinstance(i.event, CaseSubmitted) for i in case.inputs):
            continue
        result, found = _replay_case(case_id, case, pipelines)
        rebuilt.append(result)
        mismatches.extend(found)
    return Replay(tuple(rebuilt), tuple(mismatches))


def _replay_case(
    case_id: str, case: _Case, pipelines: PipelineCatalog
) -> tuple[CaseReplay, list[Mismatch]]:
    walk = _Walk(case.inputs, case.outputs, pipelines)
    steps = walk.run()
    recorded = walk.recorded
    mismatches: list[Mismatch] = []
    latest: CaseState | None = None
    applied = ignored = dead = 0
    rejected: str | None = None
    for item, result in steps:
        got = [o.event for o in recorded.pop(item.event.event_id, [])]
        mismatches.extend(_compare(case_id, str(item), _emitted(result), got))
        if result.dead_letter is not None:
            dead += 1
            if isinstance(item.event, CaseSubmitted) and latest is None:
                rejected = result.dead_letter
        elif result.ignored is not None:
            ignored += 1
        else:
            applied += 1
        if result.state is not None:
            latest = result.state
    for cause, events in recorded.items():
        mismatches.append(
            Mismatch(
                case_id,
                f"input {cause or '(none)'}",
                "no such input in the input topics (removed or changed?)",
                _describe_all([e.event for e in events]),
            )
        )
    return (
        CaseReplay(
            case_id=case_id,
            state=latest,
            finished=latest is not None and latest.finished,
            inputs=len(steps),
            applied=applied,
            ignored=ignored,
            dead_lettered=dead,
            rejected=rejected,
        ),
        mismatches,
    )


def _compare(
    case_id: str, where: str, expected: Sequence[Event], recorded: Sequence[Event]
) -> list[Mismatch]:
    found: list[Mismatch] = []
    for index in range(max(len(expected), len(recorded))):
        want = expected[index] if index < len(expected) else None
        have = recorded[index] if index < len(recorded) else None
        if want == have:
            continue
        if want is None or have is None or type(want) is not type(have):
            # No case event at all: either the coordinator has not consumed the input
            # yet (the log is live) or its case events are gone.
            got = _describe(have) if recorded else f"nothing ({_NOT_CONSUMED})"
            found.append(Mismatch(case_id, where, _describe(want), got))
            continue
        a, b = _fields(want), _fields(have)
        keys = [k for k in a if a[k] != b.get(k)]
        found.append(
            Mismatch(
                case_id,
                where,
                f"{want.event_type} {want.event_id} with {_show(a, keys)}",
                f"{have.event_type} {have.event_id} with {_show(b, keys)}",
            )
        )
    return found


_NOT_CONSUMED = "not consumed by the coordinator yet, or its case events were removed"


def _fields(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json")


def _show(values: dict[str, Any], keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={_short(values.get(k))}" for k in keys)


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(event: Event | None) -> str:
    return "nothing" if event is None else f"{event.event_type} {event.event_id}"


def _describe_all(events: Sequence[Event]) -> str:
    return ", ".join(_describe(e) for e in events) or "nothing"
