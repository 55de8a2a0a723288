"""Repairing a quarantined case: its saga state rebuilt from the log.

A case is quarantined when its latest changelog record cannot be read (corrupt bytes, a
record that is not a state): the coordinator dead-letters its inputs and moves every other
case on. `caseyard repair CASE` rebuilds the state from what the log proves: the case's
recorded inputs that the coordinator applied, replayed through the same pure transition,
checked against the case events it recorded. Inputs the coordinator dead-lettered (those
that arrived during the quarantine among them) are left out, so the rebuilt state is the
one the coordinator had; redriving those dead letters then applies them normally.

The rebuilt state (a tombstone for a case that ended) is written to the changelog; the
coordinator takes it when it next restores the case's partition (a restart or a
rebalance). A log that does not replay as recorded is not written: the repair says where
it differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bus import partition_for
from caseyard.app import App, quarantined_cases, read_records
from caseyard.errors import ConfigError
from coordinator import Logged, PipelineCatalog, replay
from schemas import DeadLetter, DecodeError
from schemas.topology import DEAD_LETTERS, STATE


@dataclass(frozen=True, slots=True)
class Repair:
    """What a repair found and wrote."""

    case_id: str
    why: str
    """Why the case was quarantined."""
    status: str
    """The rebuilt case's status."""
    applied: int
    """Inputs replayed into the rebuilt state."""
    left_out: int
    """Inputs the coordinator had dead-lettered (redrive them after the restore)."""
    written: bool


async def repair_case(
    app: App,
    catalog: PipelineCatalog,
    inputs: list[Logged],
    outputs: list[Logged],
    case_id: str,
    *,
    dry_run: bool = False,
) -> Repair:
    """Rebuild quarantined case `case_id` from its log (`inputs` of the coordinator's
    input topics, `outputs` of the case-events topic, as `caseyard replay` reads them) and
    write its state to the changelog unless `dry_run`.

    Raises:
        ConfigError: The case is not quarantined, its submission is not in the log, or the
            log does not replay as recorded (nothing is written).
    """
    why = (await quarantined_cases(app, case_id)).get(case_id)
    if why is None:
        raise ConfigError(f"case {case_id!r} is not quarantined: nothing to repair")
    skipped = await _dead_lettered(app, case_id)
    kept = [i for i in inputs if (i.topic, i.partition, i.offset) not in skipped]
    rebuilt = replay(kept, outputs, catalog)
    case = next((c for c in rebuilt.cases if c.case_id == case_id), None)
    if case is None or case.state is None:
        raise ConfigError(
            f"case {case_id!r} cannot be rebuilt: its submission is not in the log "
            "(write a tombstone to drop it: caseyard repair --drop)"
        )
    differs = [m for m in rebuilt.mismatches if m.case_id == case_id]
    if differs:
        raise ConfigError(
            f"case {case_id!r} does not replay as recorded ({len(differs)} difference(s); "
            f"first: {differs[0]}): nothing written"
        )
    if not dry_run:
        value = None if case.finished else case.state.to_bytes()
        await _write(app, case_id, value)
    human = case.state.human
    return Repair(
        case_id=case_id,
        why=why,
        status=case.state.status.value
        + (f", waiting for a person in {human.queue!r}" if human is not None else ""),
        applied=case.applied,
        left_out=len(inputs) - len(kept),
        written=not dry_run,
    )


async def drop_case(app: App, case_id: str) -> str:
    """Write a tombstone for quarantined case `case_id` (its state is given up: the
    coordinator forgets the case). Returns why it was quarantined."""
    why = (await quarantined_cases(app, case_id)).get(case_id)
    if why is None:
        raise ConfigError(f"case {case_id!r} is not quarantined: nothing to drop")
    await _write(app, case_id, None)
    return why


async def _write(app: App, case_id: str, value: bytes | None) -> None:
    """Write the case's changelog value (None: a tombstone, the case dropped)."""
    key = case_id.encode()
    partitions = await app.bus.partitions(STATE.name)
    await app.bus.publish(STATE.name, value, key=key, partition=partition_for(key, partitions, 0))


async def _dead_lettered(app: App, case_id: str) -> set[tuple[str, int, int]]:
    """Where the coordinator's dead-lettered inputs of the case sit in the log."""
    found: set[tuple[str, int, int]] = set()
    for record in await read_records(app, DEAD_LETTERS.name, case_id=case_id):
        try:
            letter = await app.codec.decode(record.value)
        except DecodeError:
            continue  # not a readable dead letter: it names no input
        if isinstance(letter, DeadLetter) and letter.reason.startswith("coordinator"):
            found.add((letter.source_topic, letter.source_partition, letter.source_offset))
    return found
