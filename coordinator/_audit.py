"""Audit: each case's events are chained by hash; a changed, removed or reordered record
breaks the chain at the record after it, and `verify_chain` says where."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coordinator._ids import case_event_hash
from schemas import CaseEvent


@dataclass(frozen=True, slots=True)
class Link:
    """A case event and where it sits in the log (e.g. 'caseyard.case-events/3/1207')."""

    where: str
    event: CaseEvent


@dataclass(frozen=True, slots=True)
class Break:
    """Where a case's chain breaks, and the likely cause."""

    case_id: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"case {self.case_id}: {self.where}: {self.problem}"


def verify_chain(case_id: str, links: Sequence[Link]) -> list[Break]:
    """Check that every event's `previous_hash` is the hash of the event before it."""
    hashes = [case_event_hash(link.event) for link in links]
    position = {h: i for i, h in enumerate(hashes)}
    breaks: list[Break] = []
    for i, link in enumerate(links):
        expected = hashes[i - 1] if i else None
        actual = link.event.previous_hash
        if actual == expected:
            continue
        if actual is None:
            problem = "claims to be the first record, but records come before it (reordered)"
        elif actual in position:
            other = links[position[actual]].where
            problem = f"follows {other} in the chain, not the record before it (reordered)"
        elif i == 0:
            problem = "the records before it are missing (removed)"
        else:
            problem = (
                f"does not follow {links[i - 1].where}: that record was changed, or a record "
                "between them was removed"
            )
        breaks.append(Break(case_id, link.where, problem))
    return breaks
