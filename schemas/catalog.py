"""The catalog of every event type, and the committed snapshot of their Avro schemas.

``export_avsc`` writes one ``<EventType>.avsc`` per event (pretty JSON, stable order);
``check_against_snapshot`` compares the models with a directory of such files and says,
field by field, what a change would break.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from schemas._avro import avro_schema
from schemas._compat import CompatibilityLevel, Incompatibility, check_compatibility
from schemas.dead_letters import DeadLetter
from schemas.envelope import Event
from schemas.errors import InvalidSchemaError, UnknownEventTypeError
from schemas.human import HumanDecision, HumanTaskClaimed, HumanTaskOpened
from schemas.intake import CaseSubmitted
from schemas.lifecycle import (
    CaseCompleted,
    CaseEscalated,
    CaseFailed,
    CaseHandedOff,
    CaseOpened,
    CompensationCompleted,
    CompensationStarted,
    PolicyDecision,
    StepCompleted,
    StepFailed,
    StepStarted,
    StepTimedOut,
    TimerFired,
)
from schemas.results import TaskCompleted, TaskFailed
from schemas.tasks import TaskRequested

EVENT_TYPES: tuple[type[Event], ...] = (
    CaseSubmitted,
    TaskRequested,
    TaskCompleted,
    TaskFailed,
    CaseOpened,
    StepStarted,
    StepCompleted,
    StepFailed,
    StepTimedOut,
    PolicyDecision,
    CaseEscalated,
    CompensationStarted,
    CompensationCompleted,
    CaseCompleted,
    CaseFailed,
    CaseHandedOff,
    TimerFired,
    HumanTaskOpened,
    HumanTaskClaimed,
    HumanDecision,
    DeadLetter,
)
"""Every event type, in one place."""

SNAPSHOT_DIR = Path(__file__).parent / "avro"
"""The committed snapshot of the catalog's Avro schemas."""

_BY_TYPE = {model.event_type: model for model in EVENT_TYPES}


def event_class(event_type: str) -> type[Event]:
    """Return the event class of ``event_type``.

    Raises:
        UnknownEventTypeError: If the catalog has no such event type.
    """
    try:
        return _BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventTypeError(f"no event type {event_type!r} in the catalog") from None


def avsc_text(model: type[Event]) -> str:
    """Return the Avro schema of ``model`` as pretty, stable JSON."""
    return json.dumps(avro_schema(model), indent=2, ensure_ascii=False) + "\n"


def export_avsc(directory: str | Path, events: Iterable[type[Event]] = EVENT_TYPES) -> list[Path]:
    """Write ``<EventType>.avsc`` for each event into ``directory``.

    Files whose content is unchanged are left alone; files of event types that are no
    longer in the catalog are kept, so removing a type stays a visible, deliberate step.

    Returns:
        The paths of all the event types' files.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for model in events:
        path = target / f"{model.event_type}.avsc"
        text = avsc_text(model)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@dataclass(frozen=True)
class SnapshotReport:
    """How the models differ from a snapshot directory.

    Attributes:
        level: The compatibility level the changes were checked against.
        incompatibilities: Why each breaking event type breaks, by event type.
        changed: Event types whose schema changed compatibly.
        added: Event types with no snapshot file yet.
        removed: Snapshot files with no event type in the catalog.
        diff: Unified diff of every changed or breaking schema, snapshot to model.
    """

    level: CompatibilityLevel
    incompatibilities: Mapping[str, tuple[Incompatibility, ...]] = field(default_factory=dict)
    changed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    diff: str = ""

    @property
    def ok(self) -> bool:
        """No change breaks the level and no event type disappeared."""
        return not self.incompatibilities and not self.removed

    @property
    def up_to_date(self) -> bool:
        """The snapshot matches the models exactly."""
        return self.ok and not self.changed and not self.added

    def messages(self) -> list[str]:
        """Return one readable line per finding; empty when up to date."""
        lines = [
            f"{event_type}: {problem}"
            for event_type, problems in self.incompatibilities.items()
            for problem in problems
        ]
        lines += [f"{name}: in the snapshot, gone from the catalog" for name in self.removed]
        lines += [f"{name}: changed compatibly ({self.level})" for name in self.changed]
        lines += [f"{name}: new event type, not in the snapshot" for name in self.added]
        return lines

    def __str__(self) -> str:
        if self.up_to_date:
            return "schemas match the snapshot"
        return "\n".join(self.messages())


def check_against_snapshot(
    directory: str | Path,
    level: CompatibilityLevel = CompatibilityLevel.BACKWARD,
    events: Iterable[type[Event]] = EVENT_TYPES,
) -> SnapshotReport:
    """Compare the models with the ``.avsc`` snapshot in ``directory``.

    Args:
        directory: Where ``export_avsc`` wrote the snapshot.
        level: What each changed schema must satisfy against its snapshot; the snapshot
            is the previous version.
        events: The event types to check; the catalog by default.

    Raises:
        InvalidSchemaError: If a snapshot file is not a valid Avro schema (names the file).
    """
    source = Path(directory)
    models = list(events)
    incompatibilities: dict[str, tuple[Incompatibility, ...]] = {}
    changed: list[str] = []
    added: list[str] = []
    diff: list[str] = []
    for model in models:
        name = model.event_type
        path = source / f"{name}.avsc"
        if not path.exists():
            added.append(name)
            continue
        old_text = path.read_text(encoding="utf-8")
        new_schema = avro_schema(model)
        if _loads(old_text) == new_schema:
            continue
        try:
            problems = check_compatibility(
                json.dumps(new_schema), [(None, old_text)], level, all_versions=True
            )
        except InvalidSchemaError as exc:
            raise InvalidSchemaError(f"{path}: {exc.message}") from exc
        if problems:
            incompatibilities[name] = tuple(problems)
        else:
            changed.append(name)
        diff.extend(
            difflib.unified_diff(
                old_text.splitlines(keepends=True),
                avsc_text(model).splitlines(keepends=True),
                fromfile=f"snapshot/{name}.avsc",
                tofile=f"model/{name}.avsc",
            )
        )
    known = {model.event_type for model in models}
    removed = sorted(path.stem for path in source.glob("*.avsc") if path.stem not in known)
    return SnapshotReport(
        level=level,
        incompatibilities=incompatibilities,
        changed=tuple(changed),
        added=tuple(added),
        removed=tuple(removed),
        diff="".join(diff),
    )


def _loads(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None  # not JSON: the compatibility check reports it as an invalid schema
