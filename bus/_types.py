"""Value types shared by every bus backend.

The per-record types are named tuples, not dataclasses: they are built for every record
on the hot path, and a tuple is several times cheaper to construct than a frozen dataclass.
"""

from __future__ import annotations

import enum
import functools
import re
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from bus.errors import InvalidTopic

Headers = tuple[tuple[str, bytes], ...]

_TOPIC_RE = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


@functools.lru_cache(maxsize=4096)  # every record's topic is checked; a process uses few
def check_topic(name: str) -> str:
    """Return `name` if it is a valid Kafka topic name, else raise `InvalidTopic`."""
    if not _TOPIC_RE.match(name) or name in (".", ".."):
        raise InvalidTopic(
            f"invalid topic name {name!r}: use 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'"
        )
    return name


class TopicPartition(NamedTuple):
    """One partition of one topic."""

    topic: str
    partition: int


class Message(NamedTuple):
    """A record to publish. `partition=None` lets the backend hash the key.

    `value=None` publishes a tombstone (Kafka's null value): on a compacted topic it
    deletes the key, compaction removing the key's earlier records and then, once the
    topic's `delete.retention.ms` has passed, the tombstone itself. Read back, a tombstone's
    value is `b""`.
    """

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: Headers = ()
    partition: int | None = None
    timestamp_ms: int | None = None


class Record(NamedTuple):
    """A record read from the log (a tombstone's value is `b""`)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: Headers = ()

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        """The last value of header `name`, or None."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return None


class Position(NamedTuple):
    """Where a published record landed."""

    topic: str
    partition: int
    offset: int


class Cleanup(enum.StrEnum):
    """Kafka's `cleanup.policy`."""

    DELETE = "delete"
    COMPACT = "compact"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What `ensure_topics` creates. `retention_ms=None` keeps the backend's default."""

    name: str
    partitions: int = 1
    cleanup: Cleanup = Cleanup.DELETE
    retention_ms: int | None = None
    replication: int | None = None
    config: dict[str, str] = field(default_factory=dict)

    def configs(self) -> dict[str, str]:
        """The topic configs the spec sets, by Kafka's names: `cleanup.policy`,
        `retention.ms` when given, and `config`."""
        out = {"cleanup.policy": self.cleanup.value, **self.config}
        if self.retention_ms is not None:
            out["retention.ms"] = str(self.retention_ms)
        return out


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How the Kafka clients connect, by the names of Kafka's client configs:
    `security.protocol` and what it needs.

    PLAINTEXT (a local broker); SSL (TLS, and a client certificate where the broker asks
    for one); SASL_SSL or SASL_PLAINTEXT with PLAIN or SCRAM-SHA-256/512 (what managed
    services ask for: Confluent Cloud, Amazon MSK with SCRAM, Aiven, Redpanda Cloud).
    TLS checks the broker's certificate and host name against `ssl_cafile` (the
    system's CAs when it is None).
    """

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A config of an existing topic that `align_topics` set: from `old` (None: the
    backend's default) to `new`."""

    topic: str
    name: str
    old: str | None
    new: str


class StartFrom(enum.StrEnum):
    """Where a group with no committed offset starts (Kafka's `auto.offset.reset`)."""

    EARLIEST = "earliest"
    LATEST = "latest"


def partition_for(key: bytes | None, partitions: int, counter: int) -> int:
    """Kafka's default partitioner (murmur2 of the key, as the Java client), round-robin
    without a key, so a key lands on the same partition number on every backend."""
    if key is None:
        return counter % partitions
    return _keyed(key, partitions)


@functools.lru_cache(maxsize=65_536)
def _keyed(key: bytes, partitions: int) -> int:
    # Remembered: a case's key is hashed once (~3 us), not for each of the ~20 records a
    # case produces and the inputs its coordinator checks.
    return (murmur2(key) & 0x7FFFFFFF) % partitions


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_WORDS = struct.Struct("<I")


def murmur2(data: bytes) -> int:
    """MurmurHash2 of `data` as Kafka's Java client computes it for a record's key (seed
    0x9747b28c), as an unsigned 32-bit number. Written here rather than taken from
    aiokafka, whose whole package a process on the embedded bus would import for it (40 ms
    or more of every `caseyard` start)."""
    length = len(data)
    h = 0x9747B28C ^ length
    whole = length & ~3
    for (k,) in _WORDS.iter_unpack(data[:whole]):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail == 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h = ((h ^ data[whole]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)
