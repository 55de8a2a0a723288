"""Where a registry keeps its schemas: an append-only log of records plus configuration.

The protocol is small on purpose, so the registry can sit on anything that can append and
replay: memory, SQLite, or a compacted Kafka topic. A store checks one thing itself, so
that several registry processes can share it: an append must not take a subject version
or a schema id that someone else already took for something different.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import anyio.to_thread

from schemas._compat import CompatibilityLevel
from schemas.errors import RegistryUnavailableError, SchemaStoreConflictError


@dataclass(frozen=True)
class SchemaRecord:
    """One schema registered under one subject.

    A soft-deleted version (``deleted``, as Confluent's registry marks it in ``_schemas``)
    is no longer a version of its subject, but its id still resolves: records written
    with it can still be read.
    """

    subject: str
    version: int
    schema_id: int
    schema: str
    deleted: bool = False


@dataclass(frozen=True)
class StoreContents:
    """Everything a store holds.

    Attributes:
        records: All records, in the order they were appended.
        config: Compatibility levels by subject; the key ``None`` holds the global level.
    """

    records: Sequence[SchemaRecord] = ()
    config: dict[str | None, CompatibilityLevel] = field(default_factory=dict)


class SchemaStore(Protocol):
    """Durable storage behind a ``Registry``."""

    async def load(self) -> StoreContents:
        """Return everything stored."""
        ...

    async def append(self, record: SchemaRecord) -> None:
        """Append a record.

        Raises:
            SchemaStoreConflictError: If the subject version is taken, or the schema id is
                bound to a different schema.
        """
        ...

    async def set_config(self, subject: str | None, level: CompatibilityLevel) -> None:
        """Set the compatibility level of a subject, or the global one for ``None``."""
        ...


def _conflict(existing: Sequence[SchemaRecord], record: SchemaRecord) -> str | None:
    for other in existing:
        if other.subject == record.subject and other.version == record.version:
            return f"subject {record.subject!r} version {record.version} is already taken"
        if other.schema_id == record.schema_id and other.schema != record.schema:
            return f"schema id {record.schema_id} is already bound to another schema"
    return None


class MemorySchemaStore:
    """A store that lives and dies with the process (tests, single-process embedding)."""

    def __init__(self) -> None:
        self._records: list[SchemaRecord] = []
        self._config: dict[str | None, CompatibilityLevel] = {}

    async def load(self) -> StoreContents:
        """Return everything stored."""
        return StoreContents(tuple(self._records), dict(self._config))

    async def append(self, record: SchemaRecord) -> None:
        """Append a record unless it conflicts with one already stored."""
        reason = _conflict(self._records, record)
        if reason is not None:
            raise SchemaStoreConflictError(reason)
        self._records.append(record)

    async def set_config(self, subject: str | None, level: CompatibilityLevel) -> None:
        """Set the compatibility level of a subject, or the global one for ``None``."""
        self._config[subject] = level


_T = TypeVar("_T")

_GLOBAL = ""  # config key of the global level; subjects are never empty

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    schema_id INTEGER NOT NULL,
    schema TEXT NOT NULL,
    UNIQUE (subject, version)
);
CREATE INDEX IF NOT EXISTS schema_records_id ON schema_records (schema_id);
CREATE TABLE IF NOT EXISTS schema_config (
    subject TEXT PRIMARY KEY,
    level TEXT NOT NULL
);
"""


class SqliteSchemaStore:
    """A durable store in one SQLite file, safe to share between processes.

    Every operation opens its own connection in a worker thread: registry calls are rare
    (the codec caches ids), and short-lived connections make sharing the file between
    processes simple. Writes take SQLite's write lock up front (``BEGIN IMMEDIATE``) so
    the conflict check and the insert are one atomic step.

    Args:
        path: The database file; created with its tables on first use.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
        if not self._ready:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            self._ready = True
        return conn

    async def _run(self, operation: str, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        def run() -> _T:
            with closing(self._connect()) as conn:
                return fn(conn)

        try:
            return await anyio.to_thread.run_sync(run)
        except sqlite3.Error as exc:
            raise RegistryUnavailableError(
                f"schema store {self._path} failed to {operation}: {exc}"
            ) from exc

    async def load(self) -> StoreContents:
        """Return everything stored."""

        def load(conn: sqlite3.Connection) -> StoreContents:
            rows = conn.execute(
                "SELECT subject, version, schema_id, schema FROM schema_records ORDER BY seq"
            ).fetchall()
            config_rows = conn.execute("SELECT subject, level FROM schema_config").fetchall()
            return StoreContents(
                tuple(SchemaRecord(*row) for row in rows),
                {
                    (None if subject == _GLOBAL else subject): CompatibilityLevel(level)
                    for subject, level in config_rows
                },
            )

        return await self._run("load", load)

    async def append(self, record: SchemaRecord) -> None:
        """Append a record unless it conflicts with one already stored."""

        def append(conn: sqlite3.Connection) -> str | None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    "SELECT subject, version, schema_id, schema FROM schema_records "
                    "WHERE (subject = ? AND version = ?) OR schema_id = ?",
                    (record.subject, record.version, record.schema_id),
                ).fetchall()
                reason = _conflict([SchemaRecord(*row) for row in rows], record)
                if reason is None:
                    conn.execute(
                        "INSERT INTO schema_records (subject, version, schema_id, schema) "
                        "VALUES (?, ?, ?, ?)",
                        (record.subject, record.version, record.schema_id, record.schema),
                    )
                    conn.execute("COMMIT")
                else:
                    conn.execute("ROLLBACK")
                return reason
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        reason = await self._run("append", append)
        if reason is not None:
            raise SchemaStoreConflictError(reason)

    async def set_config(self, subject: str | None, level: CompatibilityLevel) -> None:
        """Set the compatibility level of a subject, or the global one for ``None``."""

        def set_config(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO schema_config (subject, level) VALUES (?, ?) "
                "ON CONFLICT (subject) DO UPDATE SET level = excluded.level",
                (_GLOBAL if subject is None else subject, level.value),
            )

        await self._run("set config", set_config)
