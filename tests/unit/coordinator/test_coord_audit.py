"""The audit chain: a changed, removed or reordered case event is found and named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coordinator import Link, case_event_hash, verify_chain
from schemas import CaseEvent, Producer, StepStarted

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def chain(n: int = 5) -> list[Link]:
    links: list[Link] = []
    previous: str | None = None
    for i in range(n):
        event = StepStarted(
            case_id="c",
            correlation_id="c",
            occurred_at=T0 + timedelta(seconds=i),
            producer=Producer(service="coordinator", version="1"),
            step=f"step-{i}",
            capability="classify",
            task_id=f"c/step-{i}/1.1",
            attempt=1,
            previous_hash=previous,
        )
        previous = case_event_hash(event)
        links.append(Link(f"log/0/{i}", event))
    return links


def problems(links: list[Link]) -> list[str]:
    return [str(b) for b in verify_chain("c", links)]


def changed(event: CaseEvent) -> CaseEvent:
    return event.model_copy(update={"occurred_at": event.occurred_at + timedelta(hours=1)})


def test_an_intact_chain_verifies() -> None:
    assert problems(chain()) == []


def test_a_changed_record_breaks_the_chain_at_the_next_one() -> None:
    links = chain()
    links[2] = Link(links[2].where, changed(links[2].event))
    assert problems(links) == [
        "case c: log/0/3: does not follow log/0/2: that record was changed, or a record "
        "between them was removed"
    ]


def test_a_removed_record_is_found() -> None:
    links = chain()
    del links[2]
    assert problems(links) == [
        "case c: log/0/3: does not follow log/0/1: that record was changed, or a record "
        "between them was removed"
    ]
    assert problems(chain()[1:]) == ["case c: log/0/1: the records before it are missing (removed)"]


def test_reordered_records_are_named() -> None:
    links = chain()
    links[1], links[2] = links[2], links[1]
    assert problems(links) == [
        "case c: log/0/2: follows log/0/1 in the chain, not the record before it (reordered)",
        "case c: log/0/1: follows log/0/0 in the chain, not the record before it (reordered)",
        "case c: log/0/3: follows log/0/2 in the chain, not the record before it (reordered)",
    ]
