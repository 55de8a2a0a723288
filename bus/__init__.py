"""The bus moves bytes and headers: Kafka in production, SQLite embedded, memory in tests.

`connect(url)` picks the backend from the URL; every backend has the same shape (`Bus`).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit

from bus._base import DEFAULT_MAX_MESSAGE_BYTES, Outbox
from bus._embedded import EmbeddedBus
from bus._protocol import Bus, Consumer, Middleware, RebalanceListener, Transaction
from bus._read import read_to_end
from bus._types import (
    Cleanup,
    ConfigChange,
    Headers,
    KafkaSecurity,
    Message,
    Position,
    Record,
    StartFrom,
    TopicPartition,
    TopicSpec,
    partition_for,
)
from bus.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "Bus",
    "Cleanup",
    "ConfigChange",
    "Consumer",
    "Headers",
    "KafkaSecurity",
    "Message",
    "Middleware",
    "Outbox",
    "Position",
    "RebalanceListener",
    "Record",
    "StartFrom",
    "TopicPartition",
    "TopicSpec",
    "Transaction",
    "connect",
    "partition_for",
    "read_to_end",
]

_INT_OPTIONS = ("session_timeout_ms", "max_message_bytes")


def connect(
    url: str,
    *,
    middleware: Sequence[Middleware] = (),
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    session_timeout_ms: int = 30_000,
    connect_timeout: float = 15.0,
    client_id: str = "caseyard",
    transactional_id: str | None = None,
    security: KafkaSecurity | None = None,
) -> Bus:
    """A bus for `url`; enter it (`async with connect(url) as bus`) before use.

    URLs: `kafka://host:port[,host:port]`, `sqlite:///relative.db` or `sqlite:////abs.db`,
    `memory://`. Query parameters `session_timeout_ms` and `max_message_bytes` override
    the keyword arguments. `security` is how Kafka's clients connect (TLS, SASL); the
    embedded bus has no use for it.

    Raises:
        ConfigError: the URL has an unknown scheme or no address.
    """
    parts = urlsplit(url)
    try:
        query = {k: int(v) for k, v in parse_qsl(parts.query) if k in _INT_OPTIONS}
    except ValueError as exc:
        raise ConfigError(f"bus URL {url!r}: {exc}") from exc
    unknown = {k for k, _ in parse_qsl(parts.query)} - set(_INT_OPTIONS)
    if unknown:
        raise ConfigError(f"bus URL {url!r}: unknown option(s) {sorted(unknown)}")
    session_timeout_ms = query.get("session_timeout_ms", session_timeout_ms)
    max_message_bytes = query.get("max_message_bytes", max_message_bytes)
    if parts.scheme == "kafka":
        if not parts.netloc:
            raise ConfigError(f"bus URL {url!r}: expected kafka://host:port[,host:port]")
        # Kafka's client is imported by a process that uses it (40 ms or more; the
        # embedded bus's processes have no use for it).
        from bus._kafka import KafkaBus

        return KafkaBus(
            url,
            parts.netloc,
            middleware=middleware,
            max_message_bytes=max_message_bytes,
            session_timeout_ms=session_timeout_ms,
            connect_timeout=connect_timeout,
            client_id=client_id,
            transactional_id=transactional_id,
            security=security,
        )
    if parts.scheme == "sqlite":
        if not parts.path.strip("/"):
            raise ConfigError(f"bus URL {url!r}: expected sqlite:///path/to/file.db")
        return EmbeddedBus.sqlite(
            url,
            parts.path[1:],
            middleware=middleware,
            max_message_bytes=max_message_bytes,
            session_timeout_ms=session_timeout_ms,
        )
    if parts.scheme == "memory":
        return EmbeddedBus.memory(
            url,
            middleware=middleware,
            max_message_bytes=max_message_bytes,
            session_timeout_ms=session_timeout_ms,
        )
    raise ConfigError(
        f"bus URL {url!r}: unknown scheme {parts.scheme!r}; use kafka://, sqlite:/// or memory://"
    )
