"""CloudEvents on Kafka, binary content mode (CloudEvents 1.0, Kafka protocol binding).

**In.** A record on the intake topic whose headers carry ``ce_specversion`` is a CloudEvent
submitting a case, from any producer that speaks CloudEvents rather than caseyard's Avro:

    ce_specversion: 1.0            required
    ce_id, ce_source, ce_type      required (ce_type is recorded, any value is accepted)
    ce_subject                     the case id; else the record key; else derived from
                                   ce_source and ce_id, so a redelivered event is the same case
    ce_time                        RFC 3339; else the record's timestamp
    content-type                   application/json (or absent)
    value                          {"document": {"uri", "sha256", "size", "media_type"},
                                    "pipeline": optional, "metadata": optional {str: str}}

The document is referenced, as in ``CaseSubmitted``: put it where the agents read
documents first (the blob store ``caseyard submit`` writes to). The event becomes a
``CaseSubmitted`` whose id derives from ``ce_source`` and ``ce_id`` (a resent event is
dropped as a duplicate); anything else is a `CloudEventError`, which the coordinator
dead-letters with its reason.

**Out.** With ``cloudevents_headers`` on, every event caseyard publishes carries the same
attributes as headers (`headers_for`), so consumers that know CloudEvents route and filter
on them without caseyard's code or schemas: ``ce_type`` is ``caseyard.<EventType>``,
``ce_subject`` the case id, ``content-type`` ``application/avro`` (Confluent-framed Avro).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from schemas._codec import AvroCodec
from schemas.envelope import Event, Producer
from schemas.errors import DecodeError
from schemas.intake import CaseSubmitted

__all__ = [
    "SPEC_VERSION",
    "CloudEventError",
    "decode",
    "headers_for",
    "is_cloudevent",
    "submission_from",
]

SPEC_VERSION = "1.0"
AVRO_CONTENT_TYPE = b"application/avro"
_JSON_TYPES = ("application/json", "application/cloudevents+json", "text/json")


class CloudEventError(DecodeError):
    """A CloudEvent on the intake topic that cannot become a submission."""


class Record(Protocol):
    """What this module reads of a record (``bus.Record`` has it)."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]: ...


def _header(record: Record, name: str) -> bytes | None:
    for key, value in reversed(record.headers):
        if key == name:
            return value
    return None


def is_cloudevent(record: Record) -> bool:
    """Whether a record is a CloudEvent in binary mode whose data is not caseyard's Avro
    (events caseyard publishes may carry CloudEvents headers too, with Avro data). A
    Confluent frame starts with a zero byte, JSON never does: that is checked first, so
    caseyard's own records cost no header scan."""
    if record.value[:1] in (b"\x00", b""):
        return False
    return _header(record, "ce_specversion") is not None and (
        _header(record, "content-type") != AVRO_CONTENT_TYPE
    )


async def decode(codec: AvroCodec, record: Record) -> Event:
    """The event a record holds: a CloudEvent's submission, else the codec's event.

    Raises:
        DecodeError: `CloudEventError` or the codec's, saying why.
    """
    if is_cloudevent(record):
        return submission_from(record)
    return await codec.decode(record.value)


def submission_from(record: Record) -> CaseSubmitted:
    """The ``CaseSubmitted`` a CloudEvent on the intake topic asks for.

    Raises:
        CloudEventError: Saying which attribute or field is missing or wrong.
    """
    attributes = {
        name[3:]: value.decode("utf-8", errors="replace")
        for name, value in record.headers
        if name.startswith("ce_")
    }
    if attributes.get("specversion") != SPEC_VERSION:
        raise CloudEventError(
            f"CloudEvent specversion {attributes.get('specversion')!r}: only {SPEC_VERSION} is read"
        )
    missing = [name for name in ("id", "source", "type") if not attributes.get(name)]
    if missing:
        raise CloudEventError(f"CloudEvent without ce_{', ce_'.join(missing)}")
    content_type = (_header(record, "content-type") or b"application/json").decode(errors="replace")
    if content_type.split(";")[0].strip().lower() not in _JSON_TYPES:
        raise CloudEventError(
            f"CloudEvent data is {content_type}: caseyard reads application/json data naming the "
            "document ({'document': {'uri', 'sha256', 'size', 'media_type'}, 'pipeline', "
            "'metadata'})"
        )
    try:
        data: Any = json.loads(record.value)
    except ValueError as exc:
        raise CloudEventError(f"CloudEvent data is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CloudEventError("CloudEvent data is not a JSON object")
    source, event_id = attributes["source"], attributes["id"]
    key = record.key.decode("utf-8", errors="replace") if record.key else None
    case_id = attributes.get("subject") or key or f"ce-{_digest(source, event_id)[:16]}"
    occurred_at = _time(attributes.get("time"), record.timestamp_ms)
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise CloudEventError("CloudEvent data: 'metadata' is not an object")
    try:
        return CaseSubmitted(
            event_id=_event_id(source, event_id, occurred_at),
            case_id=case_id,
            correlation_id=case_id,
            occurred_at=occurred_at,
            producer=Producer(service=source[:200], version="cloudevents"),
            source=source,
            document=data.get("document"),
            pipeline=data.get("pipeline"),
            metadata={
                **{str(k): str(v) for k, v in metadata.items()},
                "ce_type": attributes["type"],
                "ce_id": event_id,
            },
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CloudEventError(f"CloudEvent data: {where}: {first['msg']}") from exc


def headers_for(event: Event, service: str) -> tuple[tuple[str, bytes], ...]:
    """The CloudEvents attributes of an event caseyard publishes, as Kafka headers."""
    return (
        ("ce_specversion", b"1.0"),
        ("ce_id", event.event_id.encode()),
        ("ce_source", f"caseyard/{service}".encode()),
        ("ce_type", _type(type(event))),
        ("ce_time", event.occurred_at.isoformat().encode()),
        ("ce_subject", event.case_id.encode()),
        ("content-type", AVRO_CONTENT_TYPE),
    )


@functools.cache
def _type(event_class: type[Event]) -> bytes:
    return f"caseyard.{event_class.event_type}".encode()


def _time(written: str | None, timestamp_ms: int) -> datetime:
    if not written:
        return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(written.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CloudEventError(f"CloudEvent ce_time {written!r} is not RFC 3339") from exc
    if parsed.tzinfo is None:
        raise CloudEventError(f"CloudEvent ce_time {written!r} has no time zone")
    return parsed.astimezone(UTC)


def _digest(source: str, event_id: str) -> str:
    return hashlib.sha256(f"{source}\x00{event_id}".encode()).hexdigest()


def _event_id(source: str, event_id: str, at: datetime) -> str:
    """A UUIDv7 at the event's time whose other bits come from (source, id): the same
    CloudEvent always maps to the same caseyard event id."""
    bits = int(_digest(source, event_id)[:20], 16)
    ms = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | (0x7 << 76) | ((bits >> 62) & 0xFFF) << 64 | (0b10 << 62)
    value |= bits & ((1 << 62) - 1)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
