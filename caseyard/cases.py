"""What the case-events log says of a case: its status, its events grouped by case, and
each event as (decision, reason) for a timeline. Used by the CLI, the inbox and the audit
report."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import NamedTuple

from schemas import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CaseHandedOff,
    ClassifyOutput,
    Event,
    ExtractOutput,
    PolicyDecision,
    RespondOutput,
    ScoreOutput,
    TaskOutput,
    ToolOutput,
)


def status_of(events: list[Event]) -> str:
    """A case's status from its events: the last lifecycle event that decides it."""
    status = "open"
    for event in events:
        if isinstance(event, CaseHandedOff):
            return "handed-off"
        if isinstance(event, CaseCompleted):
            status = "completed"
        elif isinstance(event, CaseFailed):
            status = "failed"
        elif isinstance(event, CaseEscalated) and status == "open":
            status = "escalated"
    return status


def handed_to(events: list[Event]) -> CaseHandedOff | None:
    """The hand-off that ended the case, if one did."""
    return next((e for e in events if isinstance(e, CaseHandedOff)), None)


def chain_of(cases: Mapping[str, list[Event]], case_id: str) -> list[str]:
    """The case and the cases hand-offs opened from it, in order (the last one decides)."""
    chain = [case_id]
    while (handoff := handed_to(cases.get(chain[-1], []))) is not None:
        if handoff.to_case_id in chain:
            break
        chain.append(handoff.to_case_id)
    return chain


class Outcome(NamedTuple):
    """Where a submitted case ended: its own status, or, after hand-offs, the status of the
    case it went on as (``case_id`` in ``pipeline``)."""

    status: str
    pipeline: str = ""
    case_id: str = ""

    def __str__(self) -> str:
        return f"{self.status} in {self.pipeline} {self.case_id}" if self.case_id else self.status


def outcome_of(cases: Mapping[str, list[Event]], case_id: str) -> Outcome:
    """The outcome of ``case_id``, following its hand-offs to the case that decides it."""
    chain = chain_of(cases, case_id)
    status = status_of(cases.get(chain[-1], []))
    if len(chain) == 1:
        return Outcome(status)
    handoff = handed_to(cases[chain[-2]])
    assert handoff is not None
    return Outcome(status, handoff.pipeline, chain[-1])


def by_case(events: list[Event]) -> OrderedDict[str, list[Event]]:
    cases: OrderedDict[str, list[Event]] = OrderedDict()
    for event in events:
        cases.setdefault(event.case_id, []).append(event)
    return cases


def describe(event: Event) -> tuple[str, str]:
    """(decision, reason) of an event for the timeline, from the fields it has."""
    fields = event.model_dump(
        mode="json",
        exclude={
            "event_id",
            "case_id",
            "correlation_id",
            "causation_id",
            "occurred_at",
            "producer",
            "previous_hash",
        },
    )
    decision = str(fields.pop("decision", "") or fields.pop("step", "") or "")
    reason = str(fields.pop("reason", "") or "")
    if isinstance(event, PolicyDecision):
        decision = f"{event.rule_id}: {event.decision}"
    return decision, reason


def summarize_output(output: TaskOutput) -> str:
    """One line of what a step's agent returned, as people read it."""
    if isinstance(output, ClassifyOutput):
        return f"{output.doc_type.value} ({output.confidence:.2f}), urgency {output.urgency.value}"
    if isinstance(output, ExtractOutput):
        shown = [f"{f.name}={f.normalized or f.value}" for f in output.fields]
        return ", ".join(shown) or "no fields found"
    if isinstance(output, ScoreOutput):
        reasons = f": {'; '.join(output.reasons)}" if output.reasons else ""
        return f"{output.band.value} risk {output.score:.2f}{reasons}"
    if isinstance(output, RespondOutput):
        return f"{output.channel.value} to {output.recipient}: {output.subject}"
    if isinstance(output, ToolOutput):
        return f"{output.server}/{output.tool} {output.status.value}: {output.result[:120]}"
    return output.model_dump_json()
