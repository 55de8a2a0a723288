"""Events to bytes and back, in the Confluent wire format.

A frame is the magic byte ``0``, the writer schema's registry id as 4 big-endian bytes,
then the Avro binary body. Decoding reads the body with the writer's schema (fetched from
the registry by id) resolved against the model's current schema, so producers and
consumers on different versions of a compatible schema read each other. Bytes written
with an older ``schema_version`` are decoded with the writer schema alone and lifted by
upcasters before validation.

Registry I/O happens once per (subject, event class) when encoding and once per schema
id when decoding; after that both directions run from in-memory caches.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import fastavro
import fastavro.read
import fastavro.schema
from pydantic import ValidationError

from schemas._avro import (
    VERSION_ATTRIBUTE,
    avro_datum,
    avro_name,
    avro_schema,
    parsed_schema,
    schema_text,
)
from schemas._avro_read import Read, compile_reader
from schemas._avro_write import Unsupported, Write, record_writer
from schemas._registry import SchemaRegistry
from schemas._upcasting import UPCASTERS, Upcasters
from schemas.envelope import Event
from schemas.errors import (
    CorruptPayloadError,
    EncodeError,
    EventTooLargeError,
    EventValidationError,
    MagicByteError,
    SchemaNotFoundError,
    SchemaResolutionError,
    UnknownEventTypeError,
    UnknownSchemaIdError,
)

MAGIC_BYTE = 0
HEADER_SIZE = 5
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024

_HEADER = struct.Struct(">bI")

# What fastavro raises on bytes that do not match the writer schema: it reads
# untrusted input with plain Python/Cython operations, so the failures are these
# builtins rather than one exception type of its own.
_CORRUPT = (
    EOFError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    StopIteration,
    MemoryError,
    struct.error,
)

SubjectNameStrategy = Callable[[str, type[Event]], str]
"""Maps (topic, event class) to the registry subject of the event's value schema."""


def topic_name_strategy(topic: str, event_class: type[Event]) -> str:
    """Confluent's default: one subject per topic, ``<topic>-value``.

    Every event type on the topic must then be compatible with the one before it, so it
    only suits topics that carry a single event type.
    """
    return f"{topic}-value"


def record_name_strategy(topic: str, event_class: type[Event]) -> str:
    """One subject per event type, whatever the topic: ``caseyard.<EventType>``."""
    return avro_name(event_class)


def topic_record_name_strategy(topic: str, event_class: type[Event]) -> str:
    """One subject per topic and event type: ``<topic>-caseyard.<EventType>`` (the default).

    caseyard's topics carry several event types each (results, case events, see
    ``schemas.topology``), and each type evolves on its own under its own subject.
    """
    return f"{topic}-{avro_name(event_class)}"


@dataclass(frozen=True, slots=True)
class _Writer:
    """How to decode bytes written with one schema id."""

    model: type[Event]
    schema: Any
    reader: Any
    version: int
    upcast: bool
    read: Read | None
    """The compiled reader when the bytes are read as written (no reader schema)."""


class AvroCodec:
    """Encodes events to Confluent-framed Avro and decodes them back.

    Args:
        registry: Where schema ids come from: an in-process ``Registry`` or a
            ``RegistryClient``.
        events: The event classes this codec decodes; the whole catalog by default.
        subject_name_strategy: Maps (topic, event class) to a subject;
            ``topic_record_name_strategy`` by default, because caseyard topics carry
            several event types. ``topic_name_strategy`` (Confluent's default) and
            ``record_name_strategy`` are the alternatives.
        auto_register: Register a schema the first time it is used; when false, the
            schema must already be registered under the subject.
        max_event_bytes: Largest frame ``encode`` produces; 1 MiB by default.
        upcasters: Upcasters for old versions; the catalog's by default.
    """

    def __init__(
        self,
        registry: SchemaRegistry,
        *,
        events: Iterable[type[Event]] | None = None,
        subject_name_strategy: SubjectNameStrategy = topic_record_name_strategy,
        auto_register: bool = True,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        upcasters: Upcasters | None = None,
    ) -> None:
        if events is None:
            from schemas.catalog import EVENT_TYPES

            events = EVENT_TYPES
        if max_event_bytes <= HEADER_SIZE:
            raise ValueError(f"max_event_bytes must be over {HEADER_SIZE}")
        self._registry = registry
        self._subject = subject_name_strategy
        self._auto_register = auto_register
        self._max_event_bytes = max_event_bytes
        self._upcasters = upcasters if upcasters is not None else UPCASTERS
        self._models: dict[str, type[Event]] = {}
        for model in events:
            name = avro_name(model)
            if self._models.setdefault(name, model) is not model:
                raise ValueError(f"two event classes are named {name}")
        self._ids: dict[tuple[str, type[Event]], int] = {}  # by (topic, event class)
        self._writers: dict[int, _Writer] = {}
        self._record_writers: dict[type[Event], Write] = {}

    @property
    def max_event_bytes(self) -> int:
        """Largest frame ``encode`` produces."""
        return self._max_event_bytes

    async def schema_id(self, event_class: type[Event], topic: str) -> int:
        """Return the registry id of ``event_class``'s schema for ``topic`` (cached).

        Raises:
            EncodeError: If ``event_class`` is not in this codec's catalog.
            RegistryError: If registering or looking up the schema fails.
        """
        cached = self._ids.get((topic, event_class))
        if cached is not None:
            return cached
        subject = self._subject(topic, event_class)
        if self._models.get(avro_name(event_class)) is not event_class:
            raise EncodeError(f"{event_class.__qualname__} is not in this codec's catalog")
        text = schema_text(event_class)
        if self._auto_register:
            schema_id = await self._registry.register(subject, text)
        else:
            schema_id = (await self._registry.lookup(subject, text)).schema_id
        self._ids[(topic, event_class)] = schema_id
        own = _Writer(
            event_class,
            parsed_schema(event_class),
            None,
            event_class.schema_version,
            False,
            _compiled_reader(avro_schema(event_class)),
        )
        self._writers.setdefault(schema_id, own)
        return schema_id

    async def encode(self, event: Event, topic: str) -> bytes:
        """Encode ``event`` for ``topic``.

        Raises:
            EventTooLargeError: If the frame would exceed ``max_event_bytes``.
            EncodeError: If the event class is not in the catalog.
            RegistryError: If the schema cannot be registered (first use only).
        """
        event_class = type(event)
        schema_id = self._ids.get((topic, event_class))
        if schema_id is None:
            schema_id = await self.schema_id(event_class, topic)
        out = bytearray(_HEADER.pack(MAGIC_BYTE, schema_id))
        try:
            write = self._record_writers.get(event_class)
            if write is None:
                write = self._record_writers[event_class] = _writer_for(event_class)
            write(out, event)
        except (ValueError, TypeError, OverflowError, KeyError) as exc:
            raise EncodeError(f"cannot encode {event_class.event_type}: {exc}") from exc
        data = bytes(out)
        if len(data) > self._max_event_bytes:
            raise EventTooLargeError(event_class.event_type, len(data), self._max_event_bytes)
        return data

    async def decode(self, data: bytes) -> Event:
        """Decode a frame into the event it holds.

        Raises:
            DecodeError: A subclass saying why the bytes are not a valid event.
            RegistryUnavailableError: If the writer schema could not be fetched (retryable).
        """
        if len(data) < HEADER_SIZE:
            raise CorruptPayloadError(
                f"frame is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header"
            )
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC_BYTE:
            raise MagicByteError(
                f"first byte is {data[0]:#04x}, not the magic byte 0x00: not Confluent wire format"
            )
        writer = self._writers.get(schema_id)
        if writer is None:
            writer = await self._load_writer(schema_id)
        event_type = writer.model.event_type
        try:
            if writer.read is not None:
                record, end = writer.read(data, HEADER_SIZE)
            else:
                buffer = io.BytesIO(data)
                buffer.seek(HEADER_SIZE)
                record = fastavro.schemaless_reader(buffer, writer.schema, writer.reader)
                end = buffer.tell()
        except fastavro.read.SchemaResolutionError as exc:
            raise SchemaResolutionError(
                f"{event_type} written with schema {schema_id} cannot be read with the "
                f"current schema: {exc}",
                schema_id=schema_id,
            ) from exc
        except _CORRUPT as exc:
            raise CorruptPayloadError(
                f"{event_type} body does not match schema {schema_id} "
                f"(truncated or corrupt): {type(exc).__name__}: {exc}",
                schema_id=schema_id,
            ) from exc
        trailing = len(data) - end
        if trailing:
            raise CorruptPayloadError(
                f"{event_type} body has {trailing} bytes after the record (corrupt)",
                schema_id=schema_id,
            )
        if not isinstance(record, dict):
            raise CorruptPayloadError(f"schema {schema_id} is not a record", schema_id=schema_id)
        if writer.upcast:
            record = self._upcasters.upcast(
                event_type, record, writer.version, writer.model.schema_version
            )
        try:
            event: Event = writer.model.__pydantic_validator__.validate_python(record)
        except ValidationError as exc:
            raise EventValidationError(event_type, str(exc), schema_id=schema_id) from exc
        return event

    async def _load_writer(self, schema_id: int) -> _Writer:
        try:
            text = await self._registry.schema_by_id(schema_id)
        except SchemaNotFoundError as exc:
            raise UnknownSchemaIdError(
                f"schema id {schema_id} is not in the registry", schema_id=schema_id
            ) from exc
        try:
            writer_json = json.loads(text)
            writer_schema = fastavro.parse_schema(writer_json)
        except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
            raise SchemaResolutionError(
                f"writer schema {schema_id} cannot be parsed: {exc}", schema_id=schema_id
            ) from exc
        name = _record_name(writer_json)
        model = self._models.get(name) if name else None
        if model is None:
            raise UnknownEventTypeError(
                f"schema {schema_id} is {name or 'not a record'}, not an event this codec decodes",
                schema_id=schema_id,
            )
        version = writer_json.get(VERSION_ATTRIBUTE, 1)
        if not isinstance(version, int) or version < 1:
            raise SchemaResolutionError(
                f"schema {schema_id} has an invalid {VERSION_ATTRIBUTE}: {version!r}",
                schema_id=schema_id,
            )
        if version < model.schema_version:
            # Read the old shape as written; upcasters lift it to the current version.
            writer = _Writer(
                model, writer_schema, None, version, True, _compiled_reader(writer_json)
            )
        else:
            same = writer_json == avro_schema(model)
            reader = None if same else parsed_schema(model)
            compiled = _compiled_reader(writer_json) if same else None
            writer = _Writer(model, writer_schema, reader, version, False, compiled)
        self._writers[schema_id] = writer
        return writer


def _writer_for(event_class: type[Event]) -> Write:
    """The compiled writer of the class; fastavro for a type the compiler does not know."""
    try:
        return record_writer(event_class)
    except Unsupported:
        schema = parsed_schema(event_class)

        def with_fastavro(out: bytearray, event: Any) -> None:
            buffer = io.BytesIO()
            fastavro.schemaless_writer(buffer, schema, avro_datum(event))
            out += buffer.getvalue()

        return with_fastavro


def _compiled_reader(writer_json: object) -> Read | None:
    """The compiled reader of a writer schema; None leaves it to fastavro."""
    try:
        return compile_reader(writer_json)
    except (Unsupported, ValueError, KeyError, TypeError):
        return None


def _record_name(schema: object) -> str | None:
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return None
    name = schema.get("name")
    if not isinstance(name, str):
        return None
    namespace = schema.get("namespace")
    if "." in name or not isinstance(namespace, str) or not namespace:
        return name
    return f"{namespace}.{name}"
