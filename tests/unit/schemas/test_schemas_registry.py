"""The in-process registry and its stores."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from schemas import (
    CompatibilityLevel,
    CompatibilityNotConfiguredError,
    IncompatibleSchemaError,
    InvalidCompatibilityLevelError,
    InvalidSchemaError,
    InvalidVersionError,
    MemorySchemaStore,
    Registry,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SchemaRecord,
    SchemaStore,
    SchemaStoreConflictError,
    SqliteSchemaStore,
    StoreContents,
    SubjectNotFoundError,
    VersionNotFoundError,
)
from schemas._registry import parse_version

pytestmark = pytest.mark.anyio


def record(*fields: dict[str, Any], name: str = "Thing") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "t", "fields": list(fields)})


A = {"name": "a", "type": "string"}
B_OPTIONAL = {"name": "b", "type": ["null", "long"], "default": None}
B_REQUIRED = {"name": "b", "type": "long"}
B_DEFAULTED = {"name": "b", "type": "long", "default": 1}
V1 = record(A)
V2 = record(A, B_OPTIONAL)


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], SchemaStore]:
    if request.param == "memory":
        store = MemorySchemaStore()
        return lambda: store
    return lambda: SqliteSchemaStore(tmp_path / "registry.db")


async def test_register_and_read_back(make_store: Callable[[], SchemaStore]) -> None:
    registry = Registry(make_store())
    first = await registry.register("things-value", V1)
    assert await registry.register("things-value", V1) == first
    second = await registry.register("things-value", V2)
    assert second != first
    assert await registry.versions("things-value") == [1, 2]
    assert await registry.subjects() == ["things-value"]
    latest = await registry.get_version("things-value")
    assert (latest.subject, latest.version, latest.schema_id) == ("things-value", 2, second)
    assert json.loads(latest.schema) == json.loads(V2)
    assert (await registry.get_version("things-value", 1)).schema_id == first
    assert json.loads(await registry.schema_by_id(first)) == json.loads(V1)
    found = await registry.lookup("things-value", V1)
    assert (found.version, found.schema_id) == (1, first)


async def test_ids_are_global_and_spelling_does_not_matter(registry: Registry) -> None:
    first = await registry.register("a-value", V1)
    respelt = json.dumps(json.loads(V1), indent=4, sort_keys=True)
    assert await registry.register("b-value", respelt) == first
    assert await registry.versions("b-value") == [1]
    assert await registry.register("a-value", respelt) == first
    assert await registry.versions("a-value") == [1]
    other = await registry.register("c-value", record(A, name="Other"))
    assert other == first + 1


async def test_not_found_errors(registry: Registry) -> None:
    with pytest.raises(SubjectNotFoundError, match=r"Subject 'nope' not found\."):
        await registry.versions("nope")
    with pytest.raises(SubjectNotFoundError):
        await registry.get_version("nope")
    with pytest.raises(SubjectNotFoundError):
        await registry.lookup("nope", V1)
    await registry.register("things-value", V1)
    with pytest.raises(VersionNotFoundError, match=r"Version 7 not found\."):
        await registry.get_version("things-value", 7)
    with pytest.raises(SchemaNotFoundError, match="Schema not found"):
        await registry.lookup("things-value", V2)
    with pytest.raises(SchemaNotFoundError, match="Schema 99 not found"):
        await registry.schema_by_id(99)


async def test_invalid_schemas(registry: Registry) -> None:
    for bad in ("{", '{"type": "record", "name": "X"}', '{"type": "nope"}'):
        with pytest.raises(InvalidSchemaError, match="Invalid schema"):
            await registry.register("things-value", bad)
    # An invalid logical type is read as its base type (Avro warns; Confluent accepts it).
    odd = '{"type": "bytes", "logicalType": "decimal", "precision": -1}'
    assert await registry.register("odd-value", odd) >= 1


def test_versions_parse_like_confluent() -> None:
    assert parse_version("latest") == "latest"
    assert parse_version("-1") == "latest"
    assert parse_version("3") == 3
    for bad in ("0", "x", str(2**31), "-2"):
        with pytest.raises(InvalidVersionError, match="is not a valid version id"):
            parse_version(bad)


async def test_registration_enforces_compatibility(registry: Registry) -> None:
    await registry.register("things-value", V1)
    with pytest.raises(IncompatibleSchemaError) as caught:
        await registry.register("things-value", record(A, B_REQUIRED))
    error = caught.value
    assert "incompatible with an earlier schema" in str(error)
    assert error.messages == (
        "BACKWARD (against version 1): field 'b': added without a default, "
        "so old data cannot fill it",
    )
    assert await registry.versions("things-value") == [1]
    await registry.set_compatibility(CompatibilityLevel.NONE, "things-value")
    await registry.register("things-value", record(A, B_REQUIRED))
    assert await registry.versions("things-value") == [1, 2]


async def test_compatibility_configuration(make_store: Callable[[], SchemaStore]) -> None:
    registry = Registry(make_store())
    assert await registry.get_compatibility() is CompatibilityLevel.BACKWARD
    with pytest.raises(CompatibilityNotConfiguredError, match="subject-level compatibility"):
        await registry.get_compatibility("things-value")
    assert (
        await registry.get_compatibility("things-value", default_to_global=True)
        is CompatibilityLevel.BACKWARD
    )
    assert await registry.set_compatibility("full") is CompatibilityLevel.FULL
    assert await registry.set_compatibility("NONE", "things-value") is CompatibilityLevel.NONE
    assert await registry.get_compatibility() is CompatibilityLevel.FULL
    assert await registry.get_compatibility("things-value") is CompatibilityLevel.NONE
    with pytest.raises(InvalidCompatibilityLevelError):
        await registry.set_compatibility("sometimes")
    restarted = Registry(make_store())
    assert await restarted.get_compatibility() is CompatibilityLevel.FULL
    assert await restarted.get_compatibility("things-value") is CompatibilityLevel.NONE


async def test_compatibility_checks(registry: Registry) -> None:
    # Against "latest" of an unknown subject anything goes, as in Confluent.
    assert (await registry.check_compatibility("new-value", V1)).is_compatible
    with pytest.raises(SubjectNotFoundError):
        await registry.check_compatibility("new-value", V1, 1)
    await registry.register("things-value", V1)
    await registry.register("things-value", record(A, B_DEFAULTED))
    candidate = record(A, B_REQUIRED)
    assert (await registry.check_compatibility("things-value", candidate)).is_compatible
    against_v1 = await registry.check_compatibility("things-value", candidate, 1)
    assert against_v1.messages == (
        "BACKWARD (against version 1): field 'b': added without a default, "
        "so old data cannot fill it",
    )
    every_version = await registry.check_compatibility("things-value", candidate, None)
    assert every_version == against_v1
    # long -> ["null", long] is fine for readers; the reverse is not.
    assert (await registry.check_compatibility("things-value", record(A, B_OPTIONAL))).is_compatible
    await registry.register("things-value", record(A, B_OPTIONAL))
    narrowed = await registry.check_compatibility("things-value", record(A, B_DEFAULTED))
    assert narrowed.messages == (
        "BACKWARD (against version 3): field 'b': type changed: "
        "the new long cannot read the old null",
    )
    with pytest.raises(VersionNotFoundError):
        await registry.check_compatibility("things-value", V1, 9)


async def test_sqlite_store_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    first = Registry(SqliteSchemaStore(path))
    schema_id = await first.register("things-value", V1)
    await first.register("things-value", V2)
    again = Registry(SqliteSchemaStore(path))
    assert await again.versions("things-value") == [1, 2]
    assert json.loads(await again.schema_by_id(schema_id)) == json.loads(V1)
    assert await again.register("things-value", V1) == schema_id


async def test_two_registries_share_one_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    one, two = Registry(SqliteSchemaStore(path)), Registry(SqliteSchemaStore(path))
    await two.subjects()  # two has loaded its (empty) state
    a = await one.register("a-value", V1)
    b = await two.register("b-value", record(A, name="Other"))
    assert b != a
    assert json.loads(await two.schema_by_id(a)) == json.loads(V1)  # refreshed on a miss
    assert await two.register("c-value", V1) == a
    assert await one.subjects() == ["a-value", "b-value", "c-value"]


class RacingStore(MemorySchemaStore):
    """A store where another writer appends just before our first append."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    async def append(self, record: SchemaRecord) -> None:
        if not self.raced:
            self.raced = True
            await super().append(SchemaRecord("other-value", 1, record.schema_id, record_other()))
        await super().append(record)


def record_other() -> str:
    return json.dumps(json.loads(record(A, name="Racer")), separators=(",", ":"))


async def test_registration_retries_after_losing_a_race() -> None:
    store = RacingStore()
    registry = Registry(store)
    schema_id = await registry.register("things-value", V1)
    assert schema_id == 2, "id 1 went to the concurrent writer"
    assert await registry.subjects() == ["other-value", "things-value"]


class LosingStore(MemorySchemaStore):
    """A store where a concurrent writer always wins."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def append(self, record: SchemaRecord) -> None:
        self.attempts += 1
        raise SchemaStoreConflictError("a concurrent writer won")


async def test_registration_gives_up_when_it_always_loses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("schemas._registry._BACKOFF_SECONDS", 0.0)
    store = LosingStore()
    with pytest.raises(RegistryUnavailableError, match="kept changing") as caught:
        await Registry(store).register("things-value", V1)
    assert caught.value.retryable
    assert store.attempts == 10


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_stores_refuse_conflicting_appends(kind: str, tmp_path: Path) -> None:
    store: SchemaStore = (
        MemorySchemaStore() if kind == "memory" else SqliteSchemaStore(tmp_path / "s.db")
    )
    await store.append(SchemaRecord("s", 1, 1, V1))
    await store.append(SchemaRecord("t", 1, 1, V1))  # same id, same schema: fine
    with pytest.raises(SchemaStoreConflictError, match="version 1 is already taken"):
        await store.append(SchemaRecord("s", 1, 2, V2))
    with pytest.raises(SchemaStoreConflictError, match="schema id 1"):
        await store.append(SchemaRecord("s", 2, 1, V2))
    await store.set_config(None, CompatibilityLevel.FULL)
    await store.set_config("s", CompatibilityLevel.NONE)
    await store.set_config("s", CompatibilityLevel.FORWARD)
    contents = await store.load()
    assert contents == StoreContents(
        (SchemaRecord("s", 1, 1, V1), SchemaRecord("t", 1, 1, V1)),
        {None: CompatibilityLevel.FULL, "s": CompatibilityLevel.FORWARD},
    )


async def test_sqlite_failures_are_translated(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RegistryUnavailableError, match="schema store") as caught:
        await Registry(SqliteSchemaStore(path)).subjects()
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert caught.value.retryable
