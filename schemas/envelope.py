"""The envelope every event carries, and the base class of all events.

An event class names itself with two class-level constants: ``event_type`` (also the Avro
record name, ``caseyard.<event_type>``) and ``schema_version`` (written into the Avro
schema as the ``schema_version`` attribute, so a reader learns the writer's version from
the writer schema). Trace context is not part of the body: it travels in Kafka headers.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _to_utc(value: datetime) -> datetime:
    # Most values are UTC already (the codec reads timestamps as UTC, services stamp UTC).
    return value if value.tzinfo is UTC else value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC.

Naive datetimes are rejected. Normalising on the way in means an event equals itself after
any round trip: Avro ``timestamp-micros`` keeps the instant, not the original offset.
"""

_id_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF
_RANDOM_CHUNK = 4096
"""Bytes read from the OS's CSPRNG at once for ids (a `getrandom` call per id was 1.4% of
the saga's process); a forked child drops what its parent read (`_forget_random`)."""
_random = b""
_random_at = 0


def _take_random(n: int) -> int:
    """`n` bytes of the OS's CSPRNG as an int (call with `_id_lock` held)."""
    global _random, _random_at
    if _random_at + n > len(_random):
        _random, _random_at = os.urandom(_RANDOM_CHUNK), 0
    start = _random_at
    _random_at += n
    return int.from_bytes(_random[start : start + n])


def _forget_random() -> None:
    # In a forked child: what the parent read is the parent's; and a lock some other
    # thread of the parent held at the fork would never be released here.
    global _id_lock, _random, _random_at
    _id_lock = threading.Lock()
    _random, _random_at = b"", 0


os.register_at_fork(after_in_child=_forget_random)


def new_event_id() -> str:
    """Return a new UUIDv7 (RFC 9562) as a string.

    The first 48 bits are the Unix time in milliseconds, so ids sort by creation time;
    the 12 bits after the version are a counter (method 1 of RFC 9562, section 6.2), so
    ids made in the same millisecond by one process still sort in creation order; the
    last 62 bits are random (the OS's CSPRNG), so processes never collide.
    """
    global _last_ms, _counter
    with _id_lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            # Start low in the 12-bit space so a burst has room to count up.
            _counter = _take_random(2) & 0x3FF
        else:
            # Same millisecond, or the clock went back: keep counting from the last id.
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
        rand_b = _take_random(8) & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    # The canonical text of the UUID with this value, without building a `uuid.UUID`
    # (0.6 us against 1.4: an id for every event an agent makes).
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def event_id_time(event_id: str) -> datetime:
    """Return the creation time encoded in a UUIDv7 event id.

    Raises:
        ValueError: If ``event_id`` is not a UUIDv7.
    """
    value = uuid.UUID(event_id)
    if value.version != 7:
        raise ValueError(f"{event_id!r} is not a UUIDv7")
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)


class Producer(BaseModel):
    """The service that produced an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(min_length=1, description="Service name, e.g. 'coordinator'.")
    version: str = Field(min_length=1, description="Version of the producing service.")


class Event(BaseModel):
    """Base of every event: the envelope fields, then the family's own fields.

    Concrete subclasses set ``event_type`` in their own body (unique in the catalog, a
    valid Avro name; the codec refuses classes that only inherit one) and bump
    ``schema_version`` only for changes Avro schema resolution cannot express (a rename, a
    split, a change of meaning); each bump comes with an upcaster from the previous
    version. Additive changes, such as a new field with a default, keep the version.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    event_id: str = Field(
        default_factory=new_event_id,
        min_length=1,
        description="Unique, time-ordered id (UUIDv7).",
    )
    case_id: str = Field(min_length=1, description="The case this event belongs to; the key.")
    correlation_id: str = Field(
        min_length=1, description="Shared by every event of one flow (usually the case id)."
    )
    causation_id: str | None = Field(
        default=None, description="event_id of the event that caused this one."
    )
    occurred_at: UtcDatetime = Field(description="When it happened (UTC).")
    producer: Producer
