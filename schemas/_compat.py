"""Schema compatibility, judged by Apache Avro's own checker, explained field by field.

Avro's ``ReaderWriterCompatibilityChecker`` gives the verdict. Its messages and locations
come back as unordered sets (and lose their path inside unions), so to say *which field*
broke, the explanation walks reader and writer side by side and asks the same checker
about each pair of field types, reporting the deepest field that fails.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, cast

import avro.errors
import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
    lookup_writer_field,
    schema_name_equals,
)

from schemas.errors import InvalidCompatibilityLevelError, InvalidSchemaError

Direction = Literal["backward", "forward"]


class CompatibilityLevel(StrEnum):
    """Confluent's compatibility levels.

    BACKWARD: the new schema reads data written with the previous one (default).
    FORWARD: the previous schema reads data written with the new one.
    FULL: both. ``*_TRANSITIVE``: against every earlier version, not only the latest.
    NONE: no check.
    """

    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"
    NONE = "NONE"

    @classmethod
    def parse(cls, value: object) -> CompatibilityLevel:
        """Return the level named by ``value`` (any case).

        Raises:
            InvalidCompatibilityLevelError: If ``value`` names no level.
        """
        if isinstance(value, str):
            try:
                return cls(value.upper())
            except ValueError:
                pass
        raise InvalidCompatibilityLevelError(
            "Invalid compatibility level. Valid values are none, backward, forward, full, "
            "backward_transitive, forward_transitive, and full_transitive"
        )

    @property
    def transitive(self) -> bool:
        """Whether every earlier version is checked, not only the latest."""
        return self.name.endswith("_TRANSITIVE")

    @property
    def directions(self) -> tuple[Direction, ...]:
        """The directions this level checks."""
        base = self.name.removesuffix("_TRANSITIVE")
        if base == "BACKWARD":
            return ("backward",)
        if base == "FORWARD":
            return ("forward",)
        if base == "FULL":
            return ("backward", "forward")
        return ()


@dataclass(frozen=True)
class Incompatibility:
    """One reason a schema cannot read another.

    Attributes:
        field: Dotted path of the field, ``[]`` for array items and ``{}`` for map values;
            empty for the record itself.
        kind: Avro's incompatibility type, e.g. ``type_mismatch``.
        detail: What is wrong, in words.
        direction: ``backward`` (the new schema reads old data) or ``forward``.
        version: The registered version compared against, when there is one.
    """

    field: str
    kind: str
    detail: str
    direction: Direction
    version: int | None = None

    def __str__(self) -> str:
        where = f"field '{self.field}'" if self.field else "record"
        against = f" (against version {self.version})" if self.version is not None else ""
        return f"{self.direction.upper()}{against}: {where}: {self.detail}"


@functools.lru_cache(maxsize=512)
def parse_avro(text: str) -> avro.schema.Schema:
    """Parse schema text with Apache Avro (cached by text).

    Raises:
        InvalidSchemaError: If the text is not a valid Avro schema.
    """
    try:
        json.loads(text)
        with warnings.catch_warnings():
            # Like Confluent's registry, read an invalid logical type as its base type.
            warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
            return avro.schema.parse(text)
    except (ValueError, avro.errors.AvroException) as exc:
        raise InvalidSchemaError(f"Invalid schema: {exc}") from exc


def check_compatibility(
    new: str,
    existing: Sequence[tuple[int | None, str]],
    level: CompatibilityLevel,
    *,
    all_versions: bool = False,
) -> list[Incompatibility]:
    """Return why ``new`` breaks ``level`` against ``existing`` schemas (empty if it holds).

    Args:
        new: Text of the candidate schema.
        existing: ``(version, text)`` of the earlier schemas, oldest first.
        level: The compatibility level to enforce.
        all_versions: Check every earlier schema even if the level is not transitive.

    Raises:
        InvalidSchemaError: If a schema text is not valid Avro.
    """
    if not existing or level is CompatibilityLevel.NONE:
        return []
    candidate = parse_avro(new)
    targets = existing if level.transitive or all_versions else existing[-1:]
    found: list[Incompatibility] = []
    for version, text in targets:
        old = parse_avro(text)
        for direction in level.directions:
            reader, writer = (candidate, old) if direction == "backward" else (old, candidate)
            found.extend(explain(reader, writer, direction, version))
    return found


def explain(
    reader: avro.schema.Schema,
    writer: avro.schema.Schema,
    direction: Direction,
    version: int | None = None,
) -> list[Incompatibility]:
    """Return why ``reader`` cannot read data written with ``writer`` (empty if it can)."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    if _compatible(checker, reader, writer):
        return []
    found = _walk(checker, reader, writer, "", direction)
    if not found:  # pragma: no cover - the walk mirrors the checker; keep its verdict anyway
        result = checker.get_compatibility(reader, writer)
        found = [("", "incompatible", "; ".join(sorted(result.messages)))]
    return [Incompatibility(path, kind, detail, direction, version) for path, kind, detail in found]


_Finding = tuple[str, str, str]


def _compatible(
    checker: ReaderWriterCompatibilityChecker,
    reader: avro.schema.Schema,
    writer: avro.schema.Schema,
) -> bool:
    result = checker.get_compatibility(reader, writer)
    return bool(result.compatibility is SchemaCompatibilityType.compatible)


def _roles(direction: Direction) -> tuple[str, str]:
    """Return (reader, writer) described as new/old schema for this direction."""
    return ("new", "old") if direction == "backward" else ("old", "new")


def _describe(schema: avro.schema.Schema) -> str:
    if isinstance(schema, avro.schema.NamedSchema):
        return f"{schema.type} {schema.fullname}"
    logical = schema.get_prop("logicalType")
    return f"{schema.type}/{logical}" if logical else str(schema.type)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _same_kind(a: avro.schema.Schema, b: avro.schema.Schema) -> bool:
    if a.type != b.type:
        return False
    if isinstance(a, avro.schema.NamedSchema) and isinstance(b, avro.schema.NamedSchema):
        return bool(schema_name_equals(a, b))
    return True


def _walk(
    checker: ReaderWriterCompatibilityChecker,
    reader: avro.schema.Schema,
    writer: avro.schema.Schema,
    path: str,
    direction: Direction,
) -> list[_Finding]:
    if _compatible(checker, reader, writer):
        return []
    reader_role, writer_role = _roles(direction)
    if isinstance(writer, avro.schema.UnionSchema):
        found: list[_Finding] = []
        for branch in writer.schemas:
            if _compatible(checker, reader, branch):
                continue
            target: avro.schema.Schema | None = reader
            if isinstance(reader, avro.schema.UnionSchema):
                target = next((r for r in reader.schemas if _same_kind(r, branch)), None)
            if target is None:
                found.append(
                    (
                        path,
                        SchemaIncompatibilityType.missing_union_branch.value,
                        f"the {reader_role} schema has no union branch for the "
                        f"{writer_role} {_describe(branch)}",
                    )
                )
            else:
                found.extend(_walk(checker, target, branch, path, direction))
        return found
    if isinstance(reader, avro.schema.UnionSchema):
        target = next((r for r in reader.schemas if _same_kind(r, writer)), None)
        if target is not None:
            return _walk(checker, target, writer, path, direction)
        return [
            (
                path,
                SchemaIncompatibilityType.missing_union_branch.value,
                f"the {reader_role} union has no branch for the {writer_role} {_describe(writer)}",
            )
        ]
    if isinstance(reader, avro.schema.RecordSchema) and isinstance(
        writer, avro.schema.RecordSchema
    ):
        return _walk_record(checker, reader, writer, path, direction)
    if isinstance(reader, avro.schema.ArraySchema) and isinstance(writer, avro.schema.ArraySchema):
        return _walk(checker, reader.items, writer.items, f"{path}[]", direction)
    if isinstance(reader, avro.schema.MapSchema) and isinstance(writer, avro.schema.MapSchema):
        return _walk(checker, reader.values, writer.values, f"{path}{{}}", direction)
    if isinstance(reader, avro.schema.EnumSchema) and isinstance(writer, avro.schema.EnumSchema):
        missing = sorted(set(writer.symbols) - set(reader.symbols))
        if missing and schema_name_equals(reader, writer):
            return [
                (
                    path,
                    SchemaIncompatibilityType.missing_enum_symbols.value,
                    f"the {reader_role} enum {reader.fullname} lacks symbols "
                    f"{', '.join(missing)} of the {writer_role} schema",
                )
            ]
    if isinstance(reader, avro.schema.NamedSchema) and isinstance(writer, avro.schema.NamedSchema):
        if not schema_name_equals(reader, writer):
            return [
                (
                    path,
                    SchemaIncompatibilityType.name_mismatch.value,
                    f"the {reader_role} {_describe(reader)} cannot read the "
                    f"{writer_role} {_describe(writer)}",
                )
            ]
    return [
        (
            path,
            SchemaIncompatibilityType.type_mismatch.value,
            f"type changed: the {reader_role} {_describe(reader)} cannot read the "
            f"{writer_role} {_describe(writer)}",
        )
    ]


def _walk_record(
    checker: ReaderWriterCompatibilityChecker,
    reader: avro.schema.RecordSchema,
    writer: avro.schema.RecordSchema,
    path: str,
    direction: Direction,
) -> list[_Finding]:
    reader_role, writer_role = _roles(direction)
    if not schema_name_equals(reader, writer):
        return [
            (
                path,
                SchemaIncompatibilityType.name_mismatch.value,
                f"the {reader_role} record {reader.fullname} cannot read the "
                f"{writer_role} record {writer.fullname}",
            )
        ]
    found: list[_Finding] = []
    for field in reader.fields:
        field = cast(avro.schema.Field, field)
        child = _child(path, field.name)
        writer_field = lookup_writer_field(writer_schema=writer, reader_field=field)
        if writer_field is None:
            if not field.has_default:
                if direction == "backward":
                    detail = "added without a default, so old data cannot fill it"
                else:
                    detail = "removed, but the old schema requires it (it has no default there)"
                found.append(
                    (
                        child,
                        SchemaIncompatibilityType.reader_field_missing_default_value.value,
                        detail,
                    )
                )
            continue
        found.extend(_walk(checker, field.type, writer_field.type, child, direction))
    return found
