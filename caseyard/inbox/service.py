"""What the inbox does, whichever way it is asked (pages or API): keep the projection
current, say who may see and do what, and publish claims and decisions.

Claims and decisions go to `caseyard.human`, keyed by case id; the coordinator takes them
from there. The inbox then waits until it has read its own event back, so the page or
answer that follows already shows it.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import anyio

from agents.documents import TextBox, read_text_boxes_bounded
from bus import Consumer, Record, TopicPartition
from caseyard.app import App, topic_partitions
from caseyard.errors import CaseyardError
from caseyard.inbox.auth import Role, User
from caseyard.inbox.projection import CaseView, HumanTask, Projection, TaskStatus
from coordinator import PipelineCatalog
from schemas import (
    ClassifyOutput,
    DecisionAction,
    DecodeError,
    DocumentRef,
    Event,
    EventTooLargeError,
    ExtractedField,
    ExtractOutput,
    FieldPatch,
    FieldType,
    HumanDecision,
    HumanTaskClaimed,
    Producer,
)
from schemas.topology import CASE_EVENTS, HUMAN

log = logging.getLogger(__name__)

READ_BACK_SECONDS = 5.0
"""How long a claim or decision waits to be read back before the answer goes out anyway."""
SNAPSHOT_EVERY_S = 60.0
"""How often a running inbox writes its projection snapshot (and once more at stop)."""
SNAPSHOT_FORMAT = 2
"""2: ended cases with human tasks are forgotten beyond the window too (1 kept them all)."""


class Refused(CaseyardError):
    """The inbox turns a request down; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Envelope(TypedDict):
    case_id: str
    correlation_id: str
    causation_id: str
    occurred_at: datetime
    producer: Producer


@dataclass(frozen=True)
class Editable:
    """The extracted fields a reviewer may correct, and the step they belong to."""

    step: str
    fields: tuple[ExtractedField, ...]


class Inbox:
    """The projection of human tasks, kept current by `run`, and the actions on it.

    Args:
        app: The connected process parts (bus, codec, blob store).
        catalog: The pipelines, to know which escalations accept edited fields.
    """

    def __init__(self, app: App, catalog: PipelineCatalog, *, snapshot: Path | None = None) -> None:
        self.app = app
        self.catalog = catalog
        self.snapshot = snapshot
        """Where the projection and the offsets it was built to are kept between runs, so a
        restart reads only what came after (None: read the log from the beginning)."""
        self.projection = Projection(keep_ended_cases=app.settings.inbox_keep_ended_cases)
        self.records_read = 0
        """Records taken in since this inbox started (a snapshot spares the older ones)."""
        self.ready = anyio.Event()
        """Set once the log as it was at start has been read."""
        self._read: dict[TopicPartition, int] = {}
        self._moved = anyio.Event()
        self._producer = app.producer("inbox")

    async def run(self, stop: anyio.Event) -> None:
        """Read case events and human events into the projection until `stop` is set.

        A reader, not a consumer group: every inbox instance sees every event.
        """
        bus = self.app.bus
        tps = [tp for t in (CASE_EVENTS, HUMAN) for tp in await topic_partitions(bus, t.name)]
        ends = await self.app.bus.end_offsets(tps)
        starts = await self._restore(ends)
        written = anyio.current_time()
        async with self.app.bus.reader(tps) as reader:
            for tp, offset in starts.items():
                await reader.seek(tp, offset)
            while not stop.is_set():
                if not self.ready.is_set() and await _caught_up(reader, ends):
                    self.ready.set()
                    written = anyio.current_time()
                    await self._save()
                records = await reader.poll(timeout=0.2)
                self.records_read += len(records)
                for record in records:
                    await self._apply(record)
                    self._read[record.tp] = record.offset + 1
                if records:
                    self._moved.set()
                    self._moved = anyio.Event()
                if self.ready.is_set() and anyio.current_time() - written > SNAPSHOT_EVERY_S:
                    written = anyio.current_time()
                    await self._save()
        if self.ready.is_set():
            await self._save()

    async def _restore(self, ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Load the snapshot if there is a usable one; the offsets to read on from."""
        path = self.snapshot
        if path is None or not path.exists():
            return {}
        try:
            loaded = await anyio.to_thread.run_sync(_load_snapshot, path)
        except Exception as exc:  # a cache: whatever keeps it from loading, read the log
            log.warning("inbox snapshot %s unreadable, reading the log: %s", path, exc)
            return {}
        projection, offsets = loaded
        if any(offsets.get(tp, 0) > end for tp, end in ends.items()):
            # The topics are not the ones the snapshot was read from (recreated, or
            # another bus): it cannot be trusted.
            log.warning("inbox snapshot %s is ahead of the log, reading the log", path)
            return {}
        projection.keep_ended_cases = self.projection.keep_ended_cases
        self.projection = projection
        self._read = dict(offsets)
        log.info(
            "inbox snapshot restored", extra={"path": str(path), "tasks": len(projection.tasks())}
        )
        return dict(offsets)

    async def _save(self) -> None:
        """Write the projection and the offsets it was built to (atomically)."""
        if self.snapshot is None:
            return
        try:
            await anyio.to_thread.run_sync(
                _save_snapshot, self.snapshot, self.projection, dict(self._read)
            )
        except OSError as exc:
            log.warning("inbox snapshot %s not written: %s", self.snapshot, exc)

    async def news(self) -> None:
        """Return once the projection has taken in more events."""
        await self._moved.wait()

    async def _apply(self, record: Record) -> None:
        try:
            event = await self.app.codec.decode(record.value)
        except DecodeError as exc:
            # Not ours to dead-letter: the coordinator reads the same record and does.
            log.warning(
                "inbox skips undecodable record %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            return
        self.projection.apply(event)

    def tasks(self, user: User, *, status: TaskStatus | None = TaskStatus.OPEN) -> list[HumanTask]:
        """The tasks `user` may see (with `status`, or all), the one due first first."""
        return [
            t
            for t in self.projection.tasks()
            if user.can_see(t.queue) and (status is None or t.status is status)
        ]

    def task(self, user: User, task_id: str) -> HumanTask:
        """The task, if `user` may see it.

        Raises:
            Refused: 404 if there is no such task, 403 if it is in a queue `user` does
                not see.
        """
        task = self.projection.task(task_id)
        if task is None:
            raise Refused(404, f"no human task {task_id!r}")
        if not user.can_see(task.queue):
            raise Refused(403, f"{user.name} does not work the queue {task.queue!r}")
        return task

    def case(self, user: User, case_id: str) -> CaseView:
        """The case, if `user` may see it: reviewers see the cases of their queues' tasks.

        Raises:
            Refused: 404 if the inbox does not know the case, 403 if `user` may not see it.
        """
        case = self.projection.case(case_id)
        if case is None:
            raise Refused(404, f"no case {case_id!r} in the inbox")
        queues = {t.queue for t in map(self.projection.task, case.tasks) if t is not None}
        if user.role is Role.REVIEWER and not any(map(user.can_see, queues)):
            raise Refused(403, f"{user.name} does not work a queue of case {case_id!r}")
        return case

    def editable(self, task: HumanTask) -> Editable | None:
        """The fields a reviewer may correct on `task`, or None if it takes no edits.

        Only a step's review whose escalation rule has `on_edit` takes edits, and only
        when the task's evidence holds the output of the step the edits patch.
        """
        case = self.projection.case(task.case_id)
        if task.after_case_ended or task.rule is None or case is None or case.pipeline is None:
            return None
        pipeline = self.catalog.get(*case.pipeline)
        found = pipeline.plan.escalations.get(task.rule) if pipeline is not None else None
        on_edit = found[1].on_edit if found is not None else None
        output = task.evidence.get(on_edit.patch) if on_edit is not None else None
        if on_edit is None:
            return None
        if isinstance(output, ClassifyOutput):
            # A classification is corrected as two fields: its type and its urgency.
            return Editable(
                on_edit.patch,
                tuple(
                    ExtractedField(
                        name=name, value=value, type=FieldType.STRING, confidence=output.confidence
                    )
                    for name, value in (
                        ("doc_type", output.doc_type.value),
                        ("urgency", output.urgency.value),
                    )
                ),
            )
        if not isinstance(output, ExtractOutput):
            return None
        # The coordinator applies patches by name, the last field of a name wins: so here.
        by_name = {f.name: f for f in output.fields}
        return Editable(on_edit.patch, tuple(by_name.values()))

    async def document_text(self, task: HumanTask) -> tuple[str, tuple[TextBox, ...]]:
        """The plain text of the task's document, and where its words are on the page of
        a scanned image (see `agents.documents.read_text_boxes`).

        Raises:
            CaseyardError: If the document is missing from the blob store or unreadable.
        """
        data, ref = await self.document(task)
        return await read_text_boxes_bounded(data, ref.media_type)

    async def document(self, task: HumanTask) -> tuple[bytes, DocumentRef]:
        """The task's document as submitted (call `task` first: it checks the user's right).

        Raises:
            Refused: 404 if the task names no document.
            CaseyardError: If the document is missing from the blob store.
        """
        case = self.projection.case(task.case_id)
        ref = task.announced.document or (case.document if case is not None else None)
        if ref is None:
            raise Refused(404, "the task has no document")
        return await anyio.to_thread.run_sync(self.app.blobs.get, ref), ref

    async def claim(self, user: User, task_id: str) -> HumanTask:
        """Claim the task for `user` (again claiming one's own task changes nothing).

        Raises:
            Refused: As `task`; 403 if `user` may not act in its queue; 409 if it is no
                longer open or someone else claimed it (supervisors may take it over).
        """
        task = self._actionable(user, task_id)
        if task.claimed_by != user.name:
            await self._publish(
                HumanTaskClaimed(
                    **self._envelope(task), human_task_id=task.id, claimed_by=user.name
                )
            )
        return task

    async def decide(
        self,
        user: User,
        task_id: str,
        action: DecisionAction,
        patches: tuple[FieldPatch, ...] = (),
        comment: str | None = None,
    ) -> HumanTask:
        """Decide the task: approve, reject, or edit fields (which approves them).

        Raises:
            Refused: As `claim`; 422 for an edit without patches, patches with another
                action, or an edit of a task that takes none.
        """
        task = self._actionable(user, task_id)
        if action is DecisionAction.EDIT:
            if not patches:
                raise Refused(422, "an edit needs at least one changed field")
            if self.editable(task) is None:
                raise Refused(422, f"human task {task.id!r} takes no edits: approve or reject it")
        elif patches:
            raise Refused(422, f"field patches go with the action 'edit', not {action.value!r}")
        await self._publish(
            HumanDecision(
                **self._envelope(task),
                human_task_id=task.id,
                decided_by=user.name,
                action=action,
                patches=patches,
                comment=comment or None,
            )
        )
        return task

    def refusal(self, user: User, task: HumanTask) -> Refused | None:
        """Why `user` may not claim or decide `task` now; None if they may."""
        if not user.can_act(task.queue):
            return Refused(403, f"{user.name} ({user.role}) may not act in {task.queue!r}")
        if task.status is not TaskStatus.OPEN:
            return Refused(409, f"human task {task.id!r} is {task.status.value}")
        if task.claimed_by not in (None, user.name) and user.role is not Role.SUPERVISOR:
            return Refused(409, f"human task {task.id!r} is claimed by {task.claimed_by}")
        return None

    def _actionable(self, user: User, task_id: str) -> HumanTask:
        task = self.task(user, task_id)
        refused = self.refusal(user, task)
        if refused is not None:
            raise refused
        return task

    def _envelope(self, task: HumanTask) -> _Envelope:
        return _Envelope(
            case_id=task.case_id,
            correlation_id=task.announced.correlation_id,
            causation_id=task.announced.event_id,
            occurred_at=datetime.now(UTC),
            producer=self._producer,
        )

    async def _publish(self, event: Event) -> None:
        try:
            data = await self.app.codec.encode(event, HUMAN.name)
        except EventTooLargeError as exc:
            raise Refused(422, f"the {event.event_type} is too large: {exc}") from exc
        where = await self.app.bus.publish(HUMAN.name, data, key=event.case_id.encode())
        log.info(event.event_type, extra={"case_id": event.case_id, "offset": where.offset})
        tp = TopicPartition(where.topic, where.partition)
        with anyio.move_on_after(READ_BACK_SECONDS):
            while self._read.get(tp, 0) <= where.offset:
                await self._moved.wait()


def _load_snapshot(path: Path) -> tuple[Projection, dict[TopicPartition, int]]:
    with path.open("rb") as handle:
        # The inbox's own file in its data directory (trusted as the rest of it is).
        data = pickle.load(handle)
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError("not an inbox snapshot of this version")
    projection, offsets = data["projection"], data["offsets"]
    if not isinstance(projection, Projection):
        raise ValueError("no projection in it")
    return projection, {TopicPartition(t, p): o for (t, p), o in offsets.items()}


def _save_snapshot(path: Path, projection: Projection, read: dict[TopicPartition, int]) -> None:
    data = {
        "format": SNAPSHOT_FORMAT,
        "projection": projection,
        "offsets": {(tp.topic, tp.partition): offset for tp, offset in read.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)


async def _caught_up(reader: Consumer, ends: dict[TopicPartition, int]) -> bool:
    return all([await reader.position(tp) >= end for tp, end in ends.items()])
