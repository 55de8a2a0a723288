"""The parts every caseyard process shares, built once from settings.

`open_app(settings)` connects the bus (with the telemetry's middleware: tracing as the
settings say, metrics), makes sure the topology's topics exist, opens the built-in schema
registry of that bus and a codec on it, and the blob store. Commands and services take what
they need from the `App`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from agents.office import DOCX, ODS, ODT, XLSX
from agents.outlook import MSG
from bus import Bus, Record, TopicPartition, partition_for, read_to_end
from caseyard import __version__
from caseyard.errors import ConfigError
from caseyard.schema_store import registry_of
from caseyard.settings import Settings
from caseyard.wiring import ensure_topology, open_bus
from schemas import (
    EVENT_TYPES,
    AvroCodec,
    BlobError,
    BlobStore,
    BlobTooLargeError,
    CaseSubmitted,
    DecodeError,
    DocumentRef,
    Event,
    Producer,
    SchemaRegistry,
    TaskCompleted,
    TaskOutput,
    cloudevents,
    new_event_id,
)
from schemas.topology import CASE_EVENTS, INTAKE, RESULTS, STATE

if TYPE_CHECKING:
    from caseyard.telemetry import Telemetry

MEDIA_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".eml": "message/rfc822",
    ".msg": MSG,  # Outlook
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".docx": DOCX,
    ".odt": ODT,
    ".xlsx": XLSX,
    ".ods": ODS,
    ".xml": "application/xml",  # e-invoices (UBL, CII) and other XML: agents/einvoice.py
    ".isdoc": "application/xml",
}

log = logging.getLogger(__name__)


@dataclass
class App:
    """Connected parts of one process."""

    settings: Settings
    bus: Bus
    registry: SchemaRegistry
    codec: AvroCodec
    blobs: BlobStore
    telemetry: Telemetry

    def producer(self, service: str) -> Producer:
        return Producer(service=service, version=__version__)

    def codec_with(self, events: Sequence[type[Event]]) -> AvroCodec:
        """A codec that also knows `events` (an agent's own event types)."""
        if not events:
            return self.codec
        return AvroCodec(
            self.registry,
            events=[*EVENT_TYPES, *events],
            max_event_bytes=self.settings.max_message_bytes,
        )


@asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    transactional_id: str | None = None,
    telemetry: Telemetry | None = None,
) -> AsyncIterator[App]:
    """Connect everything a process needs; close it all on exit.

    `telemetry` (the caller's to close) names the service in traces; by default the app
    makes one from the settings as service `caseyard` and closes it on exit.
    """
    # Imported here: OpenTelemetry and the services' types are not needed to start the CLI.
    from caseyard.telemetry import Telemetry

    async with AsyncExitStack() as stack:
        if telemetry is None:
            telemetry = stack.enter_context(Telemetry.from_settings(settings, "caseyard"))
        b = await stack.enter_async_context(
            open_bus(settings, transactional_id=transactional_id, middleware=telemetry.middleware)
        )
        await ensure_topology(b, case_partitions=settings.case_partitions)
        registry = await stack.enter_async_context(registry_of(settings, b))
        yield App(
            settings=settings,
            bus=b,
            registry=registry,
            codec=AvroCodec(registry, max_event_bytes=settings.max_message_bytes),
            blobs=BlobStore(settings.blob_dir),
            telemetry=telemetry,
        )


def media_type_of(path: Path) -> str:
    """The media type caseyard reads `path` as, by its extension."""
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None:
        known = ", ".join(sorted(MEDIA_TYPES))
        raise ConfigError(f"{path}: unsupported document type {path.suffix!r} (use {known})")
    return media_type


def new_case_id() -> str:
    return f"case-{new_event_id()[-12:]}"


async def submit(
    app: App,
    path: Path,
    *,
    source: str = "cli",
    pipeline: str | None = None,
    case_id: str | None = None,
) -> CaseSubmitted:
    """Put the document in the blob store and publish `CaseSubmitted` for a new case (the
    root span of the case's trace when tracing is on)."""
    media_type = media_type_of(path)
    try:
        # Streamed into the store: a huge file is refused at the limit, never read whole.
        ref = await anyio.to_thread.run_sync(
            functools.partial(
                app.blobs.put_file, path, media_type, max_bytes=app.settings.max_document_bytes
            )
        )
    except BlobTooLargeError as exc:
        raise ConfigError(f"{exc} (CASEYARD_MAX_DOCUMENT_BYTES)") from exc
    except BlobError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return await _submitted(app, ref, path.name, source, pipeline, case_id)


async def submit_bytes(
    app: App,
    data: bytes,
    filename: str,
    *,
    source: str,
    pipeline: str | None = None,
    case_id: str | None = None,
) -> CaseSubmitted:
    """`submit` for a document that arrived as bytes (an MCP tool call, an A2A message):
    its type is its filename's; the name is kept without any path."""
    name = Path(filename).name or "document.txt"
    if len(data) > app.settings.max_document_bytes:
        raise ConfigError(
            f"{name} is {len(data):,} bytes, over the limit of "
            f"{app.settings.max_document_bytes:,} (CASEYARD_MAX_DOCUMENT_BYTES)"
        )
    media_type = media_type_of(Path(name))
    try:
        ref = await anyio.to_thread.run_sync(app.blobs.put, data, media_type)
    except BlobError as exc:
        raise ConfigError(f"cannot store {name}: {exc}") from exc
    return await _submitted(app, ref, name, source, pipeline, case_id)


async def _submitted(
    app: App,
    ref: DocumentRef,
    name: str,
    source: str,
    pipeline: str | None,
    case_id: str | None,
) -> CaseSubmitted:
    """Publish `CaseSubmitted` for the stored document `ref` (the root span of the case's
    trace when tracing is on)."""
    case = case_id or new_case_id()
    event = CaseSubmitted(
        case_id=case,
        correlation_id=case,
        occurred_at=datetime.now(UTC),
        producer=app.producer("cli"),
        source=source,
        document=ref,
        metadata={"filename": name},
        pipeline=pipeline,
    )
    value = await app.codec.encode(event, INTAKE.name)
    with app.telemetry.submitting(case, {"caseyard.document": name}):
        headers = (
            cloudevents.headers_for(event, event.producer.service)
            if app.settings.cloudevents_headers
            else ()
        )
        await app.bus.publish(INTAKE.name, value, key=case.encode(), headers=headers)
    return event


async def topic_partitions(
    b: Bus, topic: str, *, case_id: str | None = None, partition: int | None = None
) -> list[TopicPartition]:
    """The partitions of a case-keyed `topic`: all, or the one that holds `case_id`, of
    those only `partition` if it is given (the topic's own count says which: topics
    created beforehand may have another than caseyard's)."""
    partitions = await b.partitions(topic)
    if case_id is not None:
        tps = [TopicPartition(topic, partition_for(case_id.encode(), partitions, 0))]
    else:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
    return [tp for tp in tps if partition is None or tp.partition == partition]


async def read_records(
    app: App,
    topic: str,
    *,
    case_id: str | None = None,
    start: Mapping[TopicPartition, int] | None = None,
    on_batch: Callable[[list[Record]], None] | None = None,
    partition: int | None = None,
) -> list[Record]:
    """Every record of `topic` (only the case's partition and key if `case_id` is given,
    only `partition` if that is), from the offsets in `start` where it names a partition;
    `on_batch` sees each batch read (a progress bar)."""
    wanted = case_id.encode() if case_id is not None else None
    tps = await topic_partitions(app.bus, topic, case_id=case_id, partition=partition)
    records: list[Record] = []
    async for batch in read_to_end(app.bus, tps, start=start):
        if on_batch is not None:
            on_batch(batch)
        records.extend(r for r in batch if wanted is None or r.key == wanted)
    return records


async def offsets_for_times(
    b: Bus, times: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """The first offset at or after each partition's time (ms; its end if there is none)."""
    if not times:
        return {}
    async with b.reader(list(times)) as reader:
        for tp, timestamp_ms in times.items():
            await reader.seek_to_timestamp(timestamp_ms, tp)
        return {tp: await reader.position(tp) for tp in times}


async def read_topic(
    app: App, topic: str, *, case_id: str | None = None
) -> list[tuple[Record, Event]]:
    """Every event of `topic` (only the case's if `case_id` is given), decoded. A record
    that does not decode is skipped with a warning saying where it is and why: one bad
    record must not hide every good one."""
    records = await read_records(app, topic, case_id=case_id)
    decoded, broken = await decode_records(app, records)
    for record, error in broken:
        log.warning(
            "skipped a record that does not decode: %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            type(error).__name__,
            error,
        )
    return decoded


async def decode_records(
    app: App, records: Sequence[Record]
) -> tuple[list[tuple[Record, Event]], list[tuple[Record, DecodeError]]]:
    """Decode `records`; those that do not decode come back apart, with the reason."""
    decoded: list[tuple[Record, Event]] = []
    broken: list[tuple[Record, DecodeError]] = []
    for record in records:
        try:
            decoded.append((record, await cloudevents.decode(app.codec, record)))
        except DecodeError as exc:
            broken.append((record, exc))
    return decoded, broken


async def quarantined_cases(app: App, case_id: str | None = None) -> dict[str, str]:
    """The cases (or the case) whose latest changelog record the coordinator cannot read,
    with why: it quarantines them (their inputs are dead-lettered) until a good record
    or a tombstone replaces the bad one."""
    from coordinator import OWN_KEYS, TOMBSTONE, read_state  # only this reader needs it

    latest: dict[bytes, Record] = {}
    for record in await read_records(app, STATE.name, case_id=case_id):
        latest[record.key or b""] = record
    found: dict[str, str] = {}
    for key, record in latest.items():
        if key in OWN_KEYS or record.value == TOMBSTONE:
            continue
        state = read_state(record)
        if isinstance(state, str):
            found[key.decode(errors="replace")] = state
    return found


async def step_outputs(app: App, case_id: str) -> dict[str, TaskOutput]:
    """What the agents returned for the case's steps (the last completed attempt of each,
    in the order they completed), from the results topic."""
    from coordinator import step_of_task  # as for quarantined_cases: only this reader

    outputs: dict[str, TaskOutput] = {}
    for _, event in await read_topic(app, RESULTS.name, case_id=case_id):
        if isinstance(event, TaskCompleted) and event.case_id == case_id:
            step = step_of_task(case_id, event.task_id)
            outputs.pop(step, None)
            outputs[step] = event.output
    return outputs


async def case_events(app: App, case_id: str | None = None) -> list[Event]:
    """The case events (the audit log) of one case or of all, in log order per case."""
    return [event for _, event in await read_topic(app, CASE_EVENTS.name, case_id=case_id)]
