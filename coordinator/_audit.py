"""Audit: each case's events are chained by hash; a changed, removed or reordered record
breaks the chain at the record after it, and `verify_chain` says where. The coordinator's
signed checkpoints (`schemas.audit`) say where each chain had got to: `verify_heads` finds
the tails and whole cases missing from the log, and removed, changed or forged checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from coordinator._ids import case_event_hash
from coordinator._values import value
from schemas import CaseEvent
from schemas.audit import CaseHead, ChainCheckpoint, signature_problem


@value
class Link:
    """A case event and where it sits in the log (e.g. 'caseyard.case-events/3/1207')."""

    where: str
    event: CaseEvent


@value
class Signed:
    """A checkpoint and where it sits in the log (e.g. 'caseyard.audit.checkpoints/3/88')."""

    where: str
    checkpoint: ChainCheckpoint


@value
class Break:
    """Where a case's chain (or the checkpoints, case_id None) breaks, and the likely cause."""

    case_id: str | None
    where: str
    problem: str

    def __str__(self) -> str:
        if self.case_id is None:
            return f"{self.where}: {self.problem}"
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


def verify_heads(
    cases: Mapping[str, Sequence[Link]],
    checkpoints: Sequence[Signed],
    keys: Mapping[str, Ed25519PublicKey] | None,
    *,
    only: str | None = None,
) -> list[Break]:
    """Check the checkpoints, then that every case chain reaches its last signed head.

    `checkpoints` are in log order within each partition, read *before* the case events
    (a head signed since would name events not read yet). With `keys` (by key id), a
    checkpoint whose signature does not hold is reported and its heads are not trusted;
    without, signatures are not checked. `only` limits the chains checked to one case.
    """
    breaks: list[Break] = []
    heads: dict[str, tuple[CaseHead, Signed]] = {}
    latest: dict[int, Signed] = {}
    for signed in checkpoints:
        checkpoint = signed.checkpoint
        name = f"checkpoint {checkpoint.sequence} of partition {checkpoint.partition}"
        if keys is not None:
            problem = signature_problem(checkpoint, keys)
            if problem is not None:
                breaks.append(Break(None, signed.where, f"{name} {problem}"))
                continue
        before = latest.get(checkpoint.partition)
        expected = before.checkpoint.sequence + 1 if before is not None else 1
        if checkpoint.sequence > expected:
            breaks.append(
                Break(
                    None,
                    signed.where,
                    f"{name}: checkpoints {expected} to {checkpoint.sequence - 1} of the "
                    "partition are missing (removed)",
                )
            )
        elif checkpoint.sequence < expected:
            breaks.append(
                Break(
                    None,
                    signed.where,
                    f"{name} comes after checkpoint {expected - 1} (reordered or repeated)",
                )
            )
        elif before is not None and checkpoint.previous != before.checkpoint.digest():
            breaks.append(
                Break(
                    None,
                    signed.where,
                    f"{name} does not follow {before.where}: that checkpoint was changed",
                )
            )
        latest[checkpoint.partition] = signed
        for head in checkpoint.heads:
            heads[head.case_id] = (head, signed)
    for case_id, (head, signed) in heads.items():
        if only is not None and case_id != only:
            continue
        links = cases.get(case_id, ())
        signed_as = (
            f"checkpoint {signed.checkpoint.sequence} ({signed.where}) signed its chain at "
            f"{head.events} event(s) ending in {head.hash[:12]}"
        )
        if not links:
            breaks.append(Break(case_id, signed.where, f"the whole case is missing: {signed_as}"))
        elif head.hash not in {case_event_hash(link.event) for link in links}:
            breaks.append(
                Break(
                    case_id,
                    links[-1].where,
                    f"the chain ends here after {len(links)} event(s), but {signed_as}: "
                    "its tail was removed or rewritten",
                )
            )
    return breaks
