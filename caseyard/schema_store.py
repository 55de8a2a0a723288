"""The built-in registry's storage on the bus, and which store a deployment uses.

`BusSchemaStore` keeps schemas the way Confluent's registry does: records in a compacted,
single-partition topic `_schemas`, with Confluent's own key and value JSON, so either
registry can read what the other wrote. `registry_for` picks the store from the bus URL:
the `_schemas` topic on Kafka, a SQLite file beside the embedded bus, memory for tests.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote, urlsplit, urlunsplit

import anyio
from pydantic import SecretStr

from bus import Bus, Cleanup, Consumer, Record, StartFrom, TopicPartition, TopicSpec
from caseyard.errors import BusError, ConfigError
from caseyard.settings import Settings
from schemas import (
    CompatibilityLevel,
    InvalidCompatibilityLevelError,
    MemorySchemaStore,
    Registry,
    RegistryUnavailableError,
    SchemaRecord,
    SchemaRegistry,
    SchemaStoreConflictError,
    SqliteSchemaStore,
    StoreContents,
)

if TYPE_CHECKING:
    import httpx

    from schemas import RegistryClient

SCHEMAS_TOPIC = "_schemas"
"""The topic of the built-in registry on Kafka (Confluent's default name)."""

REGISTRY_DB = "registry.db"
"""The SQLite file of the built-in registry on the embedded bus, under `data_dir`."""

_SchemaKey = tuple[str, int]


def _json(value: dict[str, Any]) -> bytes:
    # Compact, in Confluent's field order: compaction matches keys byte for byte.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def schema_key(subject: str, version: int) -> bytes:
    """The `_schemas` key of one subject version, as Confluent writes it."""
    return _json({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1})


def schema_value(record: SchemaRecord) -> bytes:
    """The `_schemas` value of one subject version, as Confluent writes it."""
    return _json(
        {
            "subject": record.subject,
            "version": record.version,
            "id": record.schema_id,
            "schema": record.schema,
            "deleted": record.deleted,
        }
    )


def config_key(subject: str | None) -> bytes:
    """The `_schemas` key of a subject's compatibility level (None: the global one)."""
    return _json({"keytype": "CONFIG", "subject": subject, "magic": 0})


def config_value(level: CompatibilityLevel) -> bytes:
    """The `_schemas` value of a compatibility level."""
    return _json({"compatibilityLevel": level.value})


def _loads(data: bytes | None) -> dict[str, Any] | None:
    if not data:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class BusSchemaStore:
    """A `SchemaStore` on a compacted single-partition topic, in Confluent's format.

    One reader (in no consumer group, so nothing is committed) tails the topic; `load`
    reads up to the end offset, so several registry processes share the topic and each
    sees what the others wrote before it answers.
    Records are applied in log order and the first record for a subject version or a
    schema id wins; a later one that contradicts it is ignored. `append` publishes, reads
    back up to its own record and raises `SchemaStoreConflictError` if a concurrent
    writer won. A loser whose record has the winner's key republishes the winner's
    value, so that compaction (which keeps the last value per key) keeps the winner.

    Enter it (`async with`) before use; it ensures the topic and starts the reader.

    Args:
        bus: An entered bus.
        topic: The topic, `_schemas` by default.
        read_timeout: Seconds `load` may take to reach the end of the topic.
    """

    def __init__(self, bus: Bus, topic: str = SCHEMAS_TOPIC, *, read_timeout: float = 30.0) -> None:
        self._bus = bus
        self._topic = topic
        self._tp = TopicPartition(topic, 0)
        self._read_timeout = read_timeout
        self._lock = anyio.Lock()
        self._consumer: Consumer | None = None
        self._records: dict[_SchemaKey, SchemaRecord] = {}
        self._ids: dict[int, str] = {}
        self._config: dict[str | None, CompatibilityLevel] = {}

    @property
    def topic(self) -> str:
        return self._topic

    async def __aenter__(self) -> Self:
        with self._translated("open"):
            await self._bus.ensure_topics(
                [TopicSpec(self._topic, partitions=1, cleanup=Cleanup.COMPACT)]
            )
            reader = self._bus.reader([self._tp], start=StartFrom.EARLIEST)
            self._consumer = await reader.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the reader (the bus stays open)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with anyio.CancelScope(shield=True):
                await consumer.close()

    @contextmanager
    def _translated(self, operation: str) -> Iterator[None]:
        try:
            yield
        except BusError as exc:
            raise RegistryUnavailableError(
                f"schema store on topic {self._topic!r} failed to {operation}: {exc}"
            ) from exc

    async def _catch_up(self, target: int | None = None) -> None:
        """Apply every record before `target` (default: the current end of the topic)."""
        reader = self._consumer
        if reader is None:
            raise RuntimeError("BusSchemaStore is not open: use 'async with BusSchemaStore(...)'")
        with self._translated("read"):
            if target is None:
                target = (await self._bus.end_offsets([self._tp]))[self._tp]
            deadline = time.monotonic() + self._read_timeout
            # The reader's position, not record offsets: compaction leaves gaps.
            while (position := await reader.position(self._tp)) < target:
                if time.monotonic() > deadline:
                    raise RegistryUnavailableError(
                        f"schema store on topic {self._topic!r}: read up to offset "
                        f"{position} of {target} within {self._read_timeout:g}s"
                    )
                for record in await reader.poll(timeout=0.2):
                    self._apply(record)

    def _apply(self, record: Record) -> None:
        key = _loads(record.key)
        if key is None:
            return  # not a registry record: nothing of ours to apply
        value = _loads(record.value)
        subject = key.get("subject")
        if key.get("keytype") == "SCHEMA":
            version = key.get("version")
            if not isinstance(subject, str) or not isinstance(version, int):
                return
            if value is None:  # tombstone: a hard delete
                self._records.pop((subject, version), None)
                self._ids = {r.schema_id: r.schema for r in self._records.values()}
                return
            schema_id, schema = value.get("id"), value.get("schema")
            if not isinstance(schema_id, int) or not isinstance(schema, str):
                return
            # Confluent's registry soft-deletes a version by writing it again with
            # "deleted": true (and could write it live again): the latest flag holds.
            candidate = SchemaRecord(
                subject, version, schema_id, schema, value.get("deleted") is True
            )
            # First writer wins; a contradicting later record lost a race and is ignored.
            taken = self._records.get((subject, version))
            if taken is not None and (taken.schema_id, taken.schema) != (schema_id, schema):
                return
            if self._ids.get(schema_id, schema) != schema:
                return
            self._records[(subject, version)] = candidate
            self._ids[schema_id] = schema
        elif key.get("keytype") == "CONFIG":
            if subject is not None and not isinstance(subject, str):
                return
            if value is None:
                self._config.pop(subject, None)
                return
            try:
                self._config[subject] = CompatibilityLevel.parse(value.get("compatibilityLevel"))
            except InvalidCompatibilityLevelError:
                return
        # Other key types (NOOP, MODE, DELETE_SUBJECT...) do not change what we serve.

    async def load(self) -> StoreContents:
        """Read the topic up to its end and return everything stored."""
        async with self._lock:
            await self._catch_up()
            return StoreContents(tuple(self._records.values()), dict(self._config))

    async def append(self, record: SchemaRecord) -> None:
        """Publish `record` unless it conflicts; read back to learn whether it won.

        Raises:
            SchemaStoreConflictError: If the subject version or the schema id was taken
                for something else, before or concurrently.
            RegistryUnavailableError: If the bus fails.
        """
        key = (record.subject, record.version)
        async with self._lock:
            # No read to the end first: the registry has just loaded, and if someone wrote
            # since, reading back after our record settles it all the same.
            existing = self._records.get(key)
            if existing == record:
                return
            if existing is not None:
                raise SchemaStoreConflictError(
                    f"subject {record.subject!r} version {record.version} is already taken"
                )
            if self._ids.get(record.schema_id, record.schema) != record.schema:
                raise SchemaStoreConflictError(
                    f"schema id {record.schema_id} is already bound to another schema"
                )
            with self._translated("append"):
                position = await self._bus.publish(
                    self._topic,
                    schema_value(record),
                    key=schema_key(record.subject, record.version),
                    partition=0,
                )
            await self._catch_up(position.offset + 1)
            if self._records.get(key) == record:
                return
            winner = self._records.get(key)
            if winner is not None:
                # Our record now holds the winner's key last: write the winner again.
                with self._translated("append"):
                    await self._bus.publish(
                        self._topic,
                        schema_value(winner),
                        key=schema_key(winner.subject, winner.version),
                        partition=0,
                    )
            raise SchemaStoreConflictError(
                f"a concurrent registry took subject {record.subject!r} version "
                f"{record.version} or schema id {record.schema_id} first"
            )

    async def set_config(self, subject: str | None, level: CompatibilityLevel) -> None:
        """Set the compatibility level of a subject, or the global one for None."""
        async with self._lock:
            with self._translated("set config"):
                position = await self._bus.publish(
                    self._topic, config_value(level), key=config_key(subject), partition=0
                )
            await self._catch_up(position.offset + 1)


def describe_store(settings: Settings, bus: Bus) -> str:
    """Where `registry_for` keeps the schemas of this deployment, in words."""
    scheme = urlsplit(bus.url).scheme
    if scheme == "kafka":
        return f"topic {SCHEMAS_TOPIC} on {bus.url}"
    if scheme == "sqlite":
        return str(settings.data_dir / REGISTRY_DB)
    return "memory, gone when the process exits"


@asynccontextmanager
async def registry_of(settings: Settings, bus: Bus) -> AsyncIterator[SchemaRegistry]:
    """The registry every service of a deployment uses: `registry_url` when it is set (any
    Confluent-compatible registry; basic auth from the URL's user and password, or
    `registry_token` as a bearer token), else the built-in one of the bus."""
    if settings.registry_url is None:
        async with registry_for(settings, bus) as registry:
            yield registry
        return
    async with registry_client(settings.registry_url, settings.registry_token) as client:
        yield client


def registry_client(
    url: str, token: SecretStr | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> RegistryClient:
    """A client of the registry at `url`: credentials in the URL become basic auth, a
    token a bearer token; neither stays in the URL."""
    parts = urlsplit(url)
    headers: dict[str, str] = {}
    if parts.username is not None:
        user, password = unquote(parts.username), unquote(parts.password or "")
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {credentials}"
    if token is not None:
        headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    from schemas import RegistryClient  # httpx, imported when a registry URL is used

    return RegistryClient(without_credentials(url), headers=headers, transport=transport)


def without_credentials(url: str) -> str:
    """`url` without a user or password in it (to connect to, and to show)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@asynccontextmanager
async def registry_for(settings: Settings, bus: Bus) -> AsyncIterator[Registry]:
    """The built-in registry of a deployment, by the bus it runs on.

    `kafka://`: the `_schemas` topic on that bus; `sqlite://`: `data_dir/registry.db`;
    `memory://`: memory (gone with the process). The registry is usable until the block
    ends: `async with registry_for(settings, bus) as registry: ...`.

    Raises:
        ConfigError: If the bus URL has no built-in registry store.
    """
    scheme = urlsplit(bus.url).scheme
    if scheme == "kafka":
        async with BusSchemaStore(bus) as store:
            yield Registry(store)
    elif scheme == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        yield Registry(SqliteSchemaStore(settings.data_dir / REGISTRY_DB))
    elif scheme == "memory":
        yield Registry(MemorySchemaStore())
    else:
        raise ConfigError(f"no built-in schema registry store for bus {bus.url!r}")
