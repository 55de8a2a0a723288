"""The schema registry: the interface shared by the in-process registry and the REST client.

``Registry`` is the registry itself (registration, lookups, compatibility), usable in
process without HTTP; the REST app is a thin layer over it, and ``RegistryClient`` speaks
the same REST API to Confluent's registry or to ours. Codecs take a ``SchemaRegistry``,
so they work against any of them.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Literal, Protocol

import anyio

from schemas._compat import CompatibilityLevel, check_compatibility, parse_avro
from schemas._store import MemorySchemaStore, SchemaRecord, SchemaStore
from schemas.errors import (
    CompatibilityNotConfiguredError,
    IncompatibleSchemaError,
    InvalidSchemaError,
    InvalidVersionError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SchemaStoreConflictError,
    SubjectNotFoundError,
    VersionNotFoundError,
)

Version = int | Literal["latest"]
"""A subject version: a positive int, or ``latest``."""

_MAX_VERSION = 2**31 - 1
_REGISTER_ATTEMPTS = 10
_BACKOFF_SECONDS = 0.01  # first retry waits up to this, doubling, capped at 0.5 s


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema as registered under a subject."""

    subject: str
    version: int
    schema_id: int
    schema: str


@dataclass(frozen=True)
class CompatibilityResult:
    """The answer to a compatibility check.

    Attributes:
        is_compatible: Whether the schema satisfies the subject's level.
        messages: One line per incompatibility, naming the field.
    """

    is_compatible: bool
    messages: tuple[str, ...] = ()


class SchemaRegistry(Protocol):
    """What codecs and tools need from a schema registry, in process or over REST."""

    async def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` and return its global id."""
        ...

    async def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        """Return how ``schema`` is registered under ``subject``, without registering."""
        ...

    async def schema_by_id(self, schema_id: int) -> str:
        """Return the schema text with this global id."""
        ...

    async def subjects(self) -> list[str]:
        """Return all subjects."""
        ...

    async def versions(self, subject: str) -> list[int]:
        """Return the versions registered under ``subject``."""
        ...

    async def get_version(self, subject: str, version: Version = "latest") -> RegisteredSchema:
        """Return one version of ``subject``."""
        ...

    async def check_compatibility(
        self, subject: str, schema: str, version: Version | None = "latest"
    ) -> CompatibilityResult:
        """Check ``schema`` against one version of ``subject`` (all versions for None)."""
        ...

    async def get_compatibility(
        self, subject: str | None = None, *, default_to_global: bool = False
    ) -> CompatibilityLevel:
        """Return the level of ``subject``, or the global level for None."""
        ...

    async def set_compatibility(
        self, level: CompatibilityLevel | str, subject: str | None = None
    ) -> CompatibilityLevel:
        """Set the level of ``subject``, or the global level for None."""
        ...


def parse_version(value: str | int) -> Version:
    """Parse a version as the REST API accepts it: 1..2^31-1, ``latest`` or -1.

    Raises:
        InvalidVersionError: For anything else.
    """
    if isinstance(value, str) and value.strip().lower() == "latest":
        return "latest"
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number == -1:
        return "latest"
    if not 1 <= number <= _MAX_VERSION:
        raise InvalidVersionError(
            f"The specified version '{value}' is not a valid version id. "
            'Allowed values are between [1, 2^31-1] and the string "latest"'
        )
    return number


def normalize_schema(schema: str) -> tuple[str, str]:
    """Return the compact text of ``schema`` and a fingerprint of its content.

    The fingerprint ignores formatting and key order, so the same schema written twice
    gets the same id however it was spelt.

    Raises:
        InvalidSchemaError: If ``schema`` is not valid Avro.
    """
    try:
        value = json.loads(schema)
    except ValueError as exc:
        raise InvalidSchemaError(f"Invalid schema: not JSON: {exc}") from exc
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    parse_avro(text)
    canonical = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text, hashlib.sha256(canonical.encode()).hexdigest()


class Registry:
    """A Confluent-compatible schema registry that runs in process.

    Ids are global: the same schema under two subjects has one id, and registering a
    schema a subject already has returns the existing id without a new version. New
    versions are checked against the subject's compatibility level (the global level
    unless the subject sets one; BACKWARD unless configured).

    State is read from the store on first use and again whenever something is missing,
    so several processes can share one durable store.

    Args:
        store: Where schemas are kept; in memory when omitted.
        default_compatibility: The global level until one is configured.
    """

    def __init__(
        self,
        store: SchemaStore | None = None,
        *,
        default_compatibility: CompatibilityLevel = CompatibilityLevel.BACKWARD,
    ) -> None:
        self._store: SchemaStore = store if store is not None else MemorySchemaStore()
        self._default = default_compatibility
        self._lock = anyio.Lock()
        self._loaded = False
        self._by_id: dict[int, str] = {}
        self._id_by_fingerprint: dict[str, int] = {}
        self._subjects: dict[str, list[tuple[SchemaRecord, str]]] = {}
        """Live versions by subject (soft-deleted ones are left out)."""
        self._last_version: dict[str, int] = {}
        """The highest version each subject ever had, soft-deleted ones included: a new
        version comes after it (Confluent never reuses a version number)."""
        self._config: dict[str | None, CompatibilityLevel] = {}

    async def _refresh(self) -> None:
        contents = await self._store.load()
        by_id: dict[int, str] = {}
        by_fingerprint: dict[str, int] = {}
        subjects: dict[str, list[tuple[SchemaRecord, str]]] = {}
        last: dict[str, int] = {}
        for record in contents.records:
            _, fingerprint = normalize_schema(record.schema)
            # A soft-deleted version's id still resolves, and the same schema registered
            # again gets the same id.
            by_id[record.schema_id] = record.schema
            by_fingerprint.setdefault(fingerprint, record.schema_id)
            last[record.subject] = max(last.get(record.subject, 0), record.version)
            if not record.deleted:
                subjects.setdefault(record.subject, []).append((record, fingerprint))
        for versions in subjects.values():
            versions.sort(key=lambda item: item[0].version)
        self._by_id, self._id_by_fingerprint = by_id, by_fingerprint
        self._subjects, self._config = subjects, dict(contents.config)
        self._last_version = last
        self._loaded = True

    async def _ensure_loaded(self) -> None:
        if not self._loaded:
            await self._refresh()

    def _level(self, subject: str) -> CompatibilityLevel:
        return self._config.get(subject) or self._config.get(None) or self._default

    async def _versions_of(self, subject: str) -> list[tuple[SchemaRecord, str]]:
        versions = self._subjects.get(subject)
        if not versions:
            await self._refresh()
            versions = self._subjects.get(subject)
        if not versions:
            raise SubjectNotFoundError(f"Subject '{subject}' not found.")
        return versions

    async def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` and return its global id.

        Raises:
            InvalidSchemaError: If ``schema`` is not valid Avro.
            IncompatibleSchemaError: If it breaks the subject's compatibility level; the
                messages name the fields.
            RegistryUnavailableError: If the store fails.
        """
        text, fingerprint = normalize_schema(schema)
        async with self._lock:
            if not self._loaded or self._find(subject, fingerprint) is None:
                await self._refresh()  # another process may have registered it
            for attempt in range(_REGISTER_ATTEMPTS):
                existing = self._find(subject, fingerprint)
                if existing is not None:
                    return existing.schema_id
                versions = self._subjects.get(subject, [])
                level = self._level(subject)
                problems = check_compatibility(
                    text, [(r.version, r.schema) for r, _ in versions], level
                )
                if problems:
                    details = [str(p) for p in problems]
                    raise IncompatibleSchemaError(
                        "Schema being registered is incompatible with an earlier schema for "
                        f'subject "{subject}", details: [{"; ".join(details)}]',
                        tuple(details),
                    )
                schema_id = self._id_by_fingerprint.get(fingerprint)
                if schema_id is None:
                    schema_id = max(self._by_id, default=0) + 1
                else:
                    text = self._by_id[schema_id]  # keep one spelling per id
                version = self._last_version.get(subject, 0) + 1
                record = SchemaRecord(subject, version, schema_id, text)
                try:
                    await self._store.append(record)
                except SchemaStoreConflictError:
                    # A concurrent writer won. Registries that keep picking the same next
                    # id would keep colliding: wait a random while, then decide again.
                    await anyio.sleep(random.uniform(0, min(0.5, _BACKOFF_SECONDS * 2**attempt)))
                    await self._refresh()
                    continue
                self._by_id[schema_id] = text
                self._id_by_fingerprint.setdefault(fingerprint, schema_id)
                self._subjects.setdefault(subject, []).append((record, fingerprint))
                self._last_version[subject] = version
                return schema_id
        raise RegistryUnavailableError(
            f"could not register under {subject!r}: the store kept changing underneath"
        )

    def _find(self, subject: str, fingerprint: str) -> SchemaRecord | None:
        for record, known in self._subjects.get(subject, []):
            if known == fingerprint:
                return record
        return None

    async def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        """Return how ``schema`` is registered under ``subject``.

        Raises:
            SubjectNotFoundError: If the subject has no schemas.
            SchemaNotFoundError: If this schema is not registered under the subject.
        """
        _, fingerprint = normalize_schema(schema)
        async with self._lock:
            await self._ensure_loaded()
            await self._versions_of(subject)
            record = self._find(subject, fingerprint)
            if record is None:
                await self._refresh()
                record = self._find(subject, fingerprint)
            if record is None:
                raise SchemaNotFoundError("Schema not found")
            return _registered(record)

    async def schema_by_id(self, schema_id: int) -> str:
        """Return the schema text with this id.

        Raises:
            SchemaNotFoundError: If no schema has this id.
        """
        async with self._lock:
            await self._ensure_loaded()
            if schema_id not in self._by_id:
                await self._refresh()
            try:
                return self._by_id[schema_id]
            except KeyError:
                raise SchemaNotFoundError(f"Schema {schema_id} not found") from None

    async def subjects(self) -> list[str]:
        """Return all subjects, sorted."""
        async with self._lock:
            await self._refresh()
            return sorted(self._subjects)

    async def versions(self, subject: str) -> list[int]:
        """Return the versions of ``subject``.

        Raises:
            SubjectNotFoundError: If the subject has no schemas.
        """
        async with self._lock:
            await self._ensure_loaded()
            return [record.version for record, _ in await self._versions_of(subject)]

    async def get_version(self, subject: str, version: Version = "latest") -> RegisteredSchema:
        """Return one version of ``subject``.

        Raises:
            SubjectNotFoundError: If the subject has no schemas.
            VersionNotFoundError: If it has no such version.
        """
        async with self._lock:
            await self._ensure_loaded()
            return _registered(await self._version(subject, version))

    async def _version(self, subject: str, version: Version) -> SchemaRecord:
        versions = await self._versions_of(subject)
        if version == "latest":
            return versions[-1][0]
        for record, _ in versions:
            if record.version == version:
                return record
        await self._refresh()
        for record, _ in self._subjects.get(subject, []):
            if record.version == version:
                return record
        raise VersionNotFoundError(f"Version {version} not found.")

    async def check_compatibility(
        self, subject: str, schema: str, version: Version | None = "latest"
    ) -> CompatibilityResult:
        """Check ``schema`` against one version of ``subject``, or all for None.

        Against ``latest`` of a subject with no schemas, anything is compatible (as in
        Confluent's registry).

        Raises:
            InvalidSchemaError: If ``schema`` is not valid Avro.
            SubjectNotFoundError: If a specific version is asked of an unknown subject.
            VersionNotFoundError: If the subject has no such version.
        """
        text, _ = normalize_schema(schema)
        async with self._lock:
            await self._ensure_loaded()
            if version == "latest" and not self._subjects.get(subject):
                await self._refresh()
                if not self._subjects.get(subject):
                    return CompatibilityResult(True)
            level = self._level(subject)
            if version is None:
                versions = await self._versions_of(subject)
                problems = check_compatibility(
                    text, [(r.version, r.schema) for r, _ in versions], level, all_versions=True
                )
            else:
                record = await self._version(subject, version)
                problems = check_compatibility(text, [(record.version, record.schema)], level)
            return CompatibilityResult(not problems, tuple(str(p) for p in problems))

    async def get_compatibility(
        self, subject: str | None = None, *, default_to_global: bool = False
    ) -> CompatibilityLevel:
        """Return the level of ``subject``, or the global level for None.

        Raises:
            CompatibilityNotConfiguredError: If ``subject`` has no level of its own and
                ``default_to_global`` is false.
        """
        async with self._lock:
            await self._refresh()
            if subject is None:
                return self._config.get(None) or self._default
            level = self._config.get(subject)
            if level is not None:
                return level
            if default_to_global:
                return self._config.get(None) or self._default
            raise CompatibilityNotConfiguredError(
                f"Subject '{subject}' does not have subject-level compatibility configured"
            )

    async def set_compatibility(
        self, level: CompatibilityLevel | str, subject: str | None = None
    ) -> CompatibilityLevel:
        """Set the level of ``subject``, or the global level for None, and return it.

        Raises:
            InvalidCompatibilityLevelError: If ``level`` names no level.
        """
        parsed = CompatibilityLevel.parse(level)
        async with self._lock:
            await self._store.set_config(subject, parsed)
            self._config[subject] = parsed
            return parsed


def _registered(record: SchemaRecord) -> RegisteredSchema:
    return RegisteredSchema(record.subject, record.version, record.schema_id, record.schema)
