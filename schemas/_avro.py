"""Avro schemas generated from pydantic models: the model is the only source of truth.

Mapping (after unwrapping ``Annotated``):

    str -> string            int -> long              float -> double
    bool -> boolean          bytes -> bytes           UUID -> string/uuid
    aware datetime -> long/timestamp-micros           date -> int/date
    StrEnum -> enum (named after the class)
    Literal["a", "b"] -> enum (named <Model><Field>)
    X | None -> ["null", X], default null when the model's default is None
    list/tuple[X, ...]/Sequence -> array              dict/Mapping[str, X] -> map
    BaseModel -> record (defined once, then referenced by full name)
    A | B (models) -> union of records

Every named type lives in the ``caseyard`` namespace. An event's record is named after its
``event_type`` and carries its ``schema_version`` as a schema attribute.
"""

from __future__ import annotations

import enum
import functools
import json
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Union

import fastavro
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from schemas.envelope import Event
from schemas.errors import SchemaDefinitionError

NAMESPACE = "caseyard"
VERSION_ATTRIBUTE = "schema_version"

AvroSchema = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def avro_name(model: type[BaseModel]) -> str:
    """Return the Avro full name of a model's record, e.g. ``caseyard.CaseSubmitted``.

    Raises:
        SchemaDefinitionError: If an event class does not set its own ``event_type``.
    """
    if issubclass(model, Event):
        event_type = model.__dict__.get("event_type")
        if not isinstance(event_type, str) or not event_type.isidentifier():
            raise SchemaDefinitionError(
                f"{model.__qualname__} must set event_type to an identifier in its own body"
            )
        return f"{NAMESPACE}.{event_type}"
    return f"{NAMESPACE}.{model.__name__}"


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


class _Generator:
    """Builds one self-contained schema; named types are emitted once, then referenced."""

    def __init__(self) -> None:
        self._defined: dict[str, object] = {}

    def _claim(self, fullname: str, owner: object) -> bool:
        """Return True if ``fullname`` must be defined now, False if already defined."""
        existing = self._defined.get(fullname)
        if existing is None:
            self._defined[fullname] = owner
            return True
        if existing != owner:
            raise SchemaDefinitionError(f"two different types are both named {fullname}")
        return False

    def record(self, model: type[BaseModel]) -> AvroSchema | str:
        fullname = avro_name(model)
        if not self._claim(fullname, model):
            return fullname
        schema: AvroSchema = {
            "type": "record",
            "name": fullname.rpartition(".")[2],
            "namespace": NAMESPACE,
        }
        doc = (model.__doc__ or "").strip().split("\n\n")[0]
        if doc:
            schema["doc"] = " ".join(doc.split())
        if issubclass(model, Event):
            schema[VERSION_ATTRIBUTE] = model.schema_version
        schema["fields"] = [
            self._field(model, name, info) for name, info in model.model_fields.items()
        ]
        return schema

    def _field(self, model: type[BaseModel], name: str, info: FieldInfo) -> AvroSchema:
        where = f"{model.__qualname__}.{name}"
        annotation = info.annotation
        has_default, default = _model_default(info)
        members = _union_members(annotation)
        if members is not None and type(None) in members:
            others = [m for m in members if m is not type(None)]
            inner = self._types(others, model, name, where)
            if has_default and default is not None:
                if len(inner) != 1:
                    raise SchemaDefinitionError(
                        f"{where}: an optional union with a non-null default is not supported"
                    )
                avro_type: object = [*inner, "null"]
            else:
                avro_type = ["null", *inner]
        else:
            avro_type = self.type_of(annotation, model, name, where)
            if isinstance(avro_type, list) and has_default:
                raise SchemaDefinitionError(f"{where}: a union without None cannot have a default")
        field: AvroSchema = {"name": name, "type": avro_type}
        if has_default:
            field["default"] = _json_default(default, where)
        if info.description:
            field["doc"] = info.description
        return field

    def _types(
        self, annotations: Sequence[object], model: type[BaseModel], name: str, where: str
    ) -> list[object]:
        result: list[object] = []
        for annotation in annotations:
            avro_type = self.type_of(annotation, model, name, where)
            # Avro forbids a union directly inside a union: flatten.
            result.extend(avro_type if isinstance(avro_type, list) else [avro_type])
        return result

    def type_of(self, annotation: object, model: type[BaseModel], name: str, where: str) -> object:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            return self.type_of(args[0], model, name, where)
        members = _union_members(annotation)
        if members is not None:
            if type(None) in members:
                others = [m for m in members if m is not type(None)]
                return ["null", *self._types(others, model, name, where)]
            return self._types(members, model, name, where)
        if origin is Literal:
            if not all(isinstance(arg, str) for arg in args):
                raise SchemaDefinitionError(f"{where}: only Literal of strings is supported")
            fullname = f"{NAMESPACE}.{model.__name__}{_pascal(name)}"
            if not self._claim(fullname, ("literal", args)):
                return fullname
            return {
                "type": "enum",
                "name": fullname.rpartition(".")[2],
                "namespace": NAMESPACE,
                "symbols": list(args),
            }
        if origin in (list, tuple, Sequence):
            if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
                raise SchemaDefinitionError(f"{where}: only tuple[X, ...] is supported")
            return {"type": "array", "items": self.type_of(args[0], model, name, where)}
        if origin in (dict, Mapping):
            if args[0] is not str:
                raise SchemaDefinitionError(f"{where}: map keys must be str")
            return {"type": "map", "values": self.type_of(args[1], model, name, where)}
        if isinstance(annotation, type):
            return self._class(annotation, where)
        raise SchemaDefinitionError(f"{where}: no Avro mapping for {annotation!r}")

    def _class(self, cls: type, where: str) -> object:
        # bool before int: bool is a subclass of int.
        if cls is bool:
            return "boolean"
        if issubclass(cls, enum.Enum):
            values = [member.value for member in cls]
            if not all(isinstance(v, str) and v.isidentifier() for v in values):
                raise SchemaDefinitionError(
                    f"{where}: enum {cls.__name__} needs identifier-like string values"
                )
            fullname = f"{NAMESPACE}.{cls.__name__}"
            if not self._claim(fullname, cls):
                return fullname
            return {"type": "enum", "name": cls.__name__, "namespace": NAMESPACE, "symbols": values}
        if cls is int:
            return "long"
        if cls is float:
            return "double"
        if cls is str:
            return "string"
        if cls is bytes:
            return "bytes"
        if cls is uuid.UUID:
            return {"type": "string", "logicalType": "uuid"}
        if cls is AwareDatetime:
            return {"type": "long", "logicalType": "timestamp-micros"}
        if cls is datetime:
            raise SchemaDefinitionError(
                f"{where}: use UtcDatetime or AwareDatetime, naive datetimes are ambiguous"
            )
        if cls is date:
            return {"type": "int", "logicalType": "date"}
        if issubclass(cls, BaseModel):
            return self.record(cls)
        raise SchemaDefinitionError(f"{where}: no Avro mapping for {cls.__qualname__}")


def _union_members(annotation: object) -> tuple[object, ...] | None:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(annotation)
    return None


def _model_default(info: FieldInfo) -> tuple[bool, object]:
    if info.default_factory is not None:
        # Only empty containers are safe to freeze into a schema; a factory such as
        # new_event_id must not become one fixed default.
        if info.default_factory in (list, tuple):
            return True, []
        if info.default_factory is dict:
            return True, {}
        return False, None
    if info.is_required():
        return False, None
    return True, info.default


def _json_default(value: object, where: str) -> object:
    """Convert a model default to the JSON form Avro expects for that type."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        # Avro writes bytes defaults as a string of code points 0-255, but fastavro hands
        # such a default back as that str, which pydantic would re-encode as UTF-8: only
        # ASCII means the same either way.
        if not value.isascii():
            raise SchemaDefinitionError(f"{where}: a bytes default must be ASCII")
        return value.decode("ascii")
    if isinstance(value, datetime):
        return (value - _EPOCH) // _MICROSECOND
    if isinstance(value, date):
        return (value - _EPOCH.date()).days
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_default(v, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_default(v, where) for v in value]
    if isinstance(value, BaseModel):
        return {k: _json_default(getattr(value, k), where) for k in type(value).model_fields}
    raise SchemaDefinitionError(f"{where}: cannot express default {value!r} in Avro")


@functools.cache
def avro_schema(model: type[BaseModel]) -> AvroSchema:
    """Return the Avro schema of ``model`` as a JSON-ready dict (cached; do not mutate).

    Raises:
        SchemaDefinitionError: If a field's type has no Avro mapping.
    """
    schema = _Generator().record(model)
    if not isinstance(schema, dict):  # pragma: no cover - a fresh generator defines the root
        raise SchemaDefinitionError(f"{model.__qualname__}: no record was generated")
    return schema


@functools.cache
def schema_text(model: type[BaseModel]) -> str:
    """Return the compact JSON text of ``model``'s Avro schema, as registered."""
    return json.dumps(avro_schema(model), separators=(",", ":"), ensure_ascii=False)


@functools.cache
def parsed_schema(model: type[BaseModel]) -> Any:
    """Return ``model``'s schema parsed by fastavro (parsed once, then cached)."""
    return fastavro.parse_schema(json.loads(schema_text(model)))


# Writing: model_dump() does almost all the work; only union positions need help. fastavro
# picks a union branch for a dict by validating the dict against every candidate, which
# is slow for records and guesses between look-alike records. The union's value is known
# from the model instance, so it is written in fastavro's tuple notation,
# ("caseyard.Name", record), and any array inside a union goes as a list, because a tuple
# there would read as that notation.

_Fix = Callable[[Any, Any], Any]
"""Takes (value on the model, the same value as dumped) and returns what Avro writes."""


def _fix_record(model: type[BaseModel]) -> _Fix | None:
    fixes = {
        name: fix
        for name, info in model.model_fields.items()
        if (fix := _fix_for(info.annotation)) is not None
    }
    if not fixes:
        return None

    def fix_record(value: Any, dumped: Any) -> Any:
        for name, fix in fixes.items():
            dumped[name] = fix(getattr(value, name), dumped[name])
        return dumped

    return fix_record


def _fix_for(annotation: object) -> _Fix | None:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _fix_for(args[0])
    members = _union_members(annotation)
    if members is not None:
        return _fix_union(members)
    if origin in (list, tuple, Sequence):
        item_fix = _fix_for(args[0])
        if item_fix is None:
            return None
        return lambda value, dumped: [item_fix(v, d) for v, d in zip(value, dumped, strict=True)]
    if origin in (dict, Mapping):
        value_fix = _fix_for(args[1])
        if value_fix is None:
            return None
        return lambda value, dumped: {k: value_fix(value[k], d) for k, d in dumped.items()}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _fix_record(annotation)
    return None


def _fix_union(members: Sequence[object]) -> _Fix | None:
    records: dict[type, tuple[str, _Fix | None]] = {}
    has_array = False
    array_fix: _Fix | None = None
    map_fix: _Fix | None = None
    for member in members:
        while typing.get_origin(member) is typing.Annotated:
            member = typing.get_args(member)[0]
        origin = typing.get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            records[member] = (avro_name(member), _fix_record(member))
        elif origin in (list, tuple, Sequence):
            has_array = True
            array_fix = _fix_for(member)
        elif origin in (dict, Mapping):
            map_fix = _fix_for(member)
    if not records and not has_array and map_fix is None:
        return None  # scalars, enums, maps of scalars: fastavro picks these cheaply

    def fix_union(value: Any, dumped: Any) -> Any:
        entry = records.get(type(value))
        if entry is not None:
            name, fix = entry
            return (name, dumped if fix is None else fix(value, dumped))
        # Avro allows one array and one map per union, so the shape says which it is.
        if isinstance(dumped, list | tuple):
            return list(dumped) if array_fix is None else array_fix(value, dumped)
        if isinstance(dumped, dict) and map_fix is not None:
            return map_fix(value, dumped)
        return dumped

    return fix_union


@functools.cache
def _record_fix(model: type[BaseModel]) -> _Fix | None:
    return _fix_record(model)


def avro_datum(value: BaseModel) -> dict[str, Any]:
    """Return ``value`` as the dict fastavro writes (tuple notation on union values)."""
    dumped = value.model_dump()
    fix = _record_fix(type(value))
    return dumped if fix is None else dict(fix(value, dumped))
