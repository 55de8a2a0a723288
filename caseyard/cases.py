"""What the case-events log says of a case: its status, its events grouped by case, and
each event as (decision, reason) for a timeline. Used by the CLI, the inbox and the audit
report."""

from __future__ import annotations

from collections import OrderedDict

from schemas import CaseCompleted, CaseEscalated, CaseFailed, Event, PolicyDecision


def status_of(events: list[Event]) -> str:
    """A case's status from its events: the last lifecycle event that decides it."""
    status = "open"
    for event in events:
        if isinstance(event, CaseCompleted):
            status = "completed"
        elif isinstance(event, CaseFailed):
            status = "failed"
        elif isinstance(event, CaseEscalated) and status == "open":
            status = "escalated"
    return status


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
