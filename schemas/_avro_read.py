"""Avro binary decoding compiled from the writer's schema: bytes to the dict fastavro reads.

``fastavro.schemaless_reader`` walks the schema for every record and reads each value
through a file object: 27 us for a ``TaskRequested``, twice what pydantic then takes to
validate the dict it returns. Here each writer schema gets, once, one Python function that
reads its fields from the bytes at an offset, nested records, optional, array and map
fields unrolled inline, and builds the same dict (the same logical-type values too:
aware datetimes, dates, UUIDs). Decoding still validates: the dict goes to the model as
before, and every length, count and index is checked against the bytes, so a corrupt or
truncated body fails with one of the builtin errors fastavro raises (``ValueError``,
``IndexError``, ``OverflowError``) rather than reading past its end.

Only a schema read as it was written is compiled; schema resolution (a reader schema that
differs from the writer's) and the types this does not know (decimals, times, arrays of
zero-width items) stay with fastavro. A test pins the result to fastavro's for every
example event and for corrupt bytes.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas._avro_write import Unsupported

Read = Callable[[bytes, int], tuple[Any, int]]
"""Reads one value starting at an offset; returns it and the offset after it."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_DAY = date(1970, 1, 1)
_PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double", "bytes", "string"))
# timedelta(days, seconds, microseconds, milliseconds), positional: keywords cost more.
_TIMESTAMPS = {
    "timestamp-micros": ("_EPOCH", "0, 0, {}"),
    "timestamp-millis": ("_EPOCH", "0, 0, 0, {}"),
    "local-timestamp-micros": ("_EPOCH_NAIVE", "0, 0, {}"),
    "local-timestamp-millis": ("_EPOCH_NAIVE", "0, 0, 0, {}"),
}
_FASTAVRO_ONLY = frozenset(("decimal", "time-millis", "time-micros"))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The zigzag varint at ``pos``, whose first byte has its continuation bit set."""
    n = data[pos] & 0x7F
    pos += 1
    shift = 7
    while True:
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _sized(data: bytes, pos: int, size: int) -> tuple[bytes, int]:
    """The bytes of a ``bytes`` or ``string`` value at ``pos`` (its length first)."""
    n, pos = _varint(data, pos) if data[pos] > 127 else (_ONE_BYTE[data[pos]], pos + 1)
    end = pos + n
    if n < 0 or end > size:
        raise ValueError(f"value of length {n} past the end of the record")
    return data[pos:end], end


# Most longs read fit in one byte (lengths, counts, union branches, enum positions).
_ONE_BYTE = tuple((n >> 1) ^ -(n & 1) for n in range(128))
# The length a one-byte prefix gives, None where the byte does not say it alone (a longer
# varint, or a negative length the slow path rejects).
_SHORT_LENGTH = tuple(n >> 1 if n < 128 and not n & 1 else None for n in range(256))


def compile_reader(schema: object) -> Read:
    """The reader of bytes written with ``schema`` (the writer schema as JSON).

    Raises:
        Unsupported: If the schema holds a type this compiler leaves to fastavro.
        ValueError: If the schema refers to a named type it does not define.
    """
    return _Compiler({}).compile(schema, "")


class _Compiler:
    """Writes one function per schema: locals per field, a dict per record at the end."""

    def __init__(self, named: dict[str, tuple[dict[str, Any], str]]) -> None:
        self.named = named  # full name -> (schema, namespace it was defined in)
        self.lines: list[str] = []
        self.names: dict[str, object] = {
            "_varint": _varint,
            "_Z": _ONE_BYTE,
            "_L": _SHORT_LENGTH,
            "_sized": _sized,
            "_td": timedelta,
            "_EPOCH": _EPOCH,
            "_EPOCH_NAIVE": _EPOCH_NAIVE,
            "_EPOCH_DAY": _EPOCH_DAY,
            "_UUID": uuid.UUID,
            "_DOUBLE": struct.Struct("<d").unpack_from,
            "_FLOAT": struct.Struct("<f").unpack_from,
        }
        self.count = 0
        self.open: list[str] = []

    def compile(self, schema: object, namespace: str) -> Read:
        self.lines = ["def read(data, pos):", "    size = len(data)"]
        self._value(schema, "value", 1, namespace)
        self.lines.append("    return value, pos")
        # Named per schema, so profiles tell the readers apart.
        label = (schema.get("name") or schema.get("type")) if isinstance(schema, dict) else schema
        code = compile("\n".join(self.lines), f"<avro reader of {label}>", "exec")
        exec(code, self.names)  # the source was generated above, from the schema's types only
        read: Read = self.names["read"]  # type: ignore[assignment]
        return read

    def _var(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def _const(self, value: object) -> str:
        self.count += 1
        name = f"_k{self.count}"
        self.names[name] = value
        return name

    def _line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def _value(self, schema: object, var: str, depth: int, namespace: str) -> None:
        """Lines reading one value of ``schema`` at ``pos`` into local ``var``."""
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                self._primitive(schema, None, var, depth)
                return
            full = self._resolve(schema, namespace)
            if full in self.open:  # a record that contains itself: its own reader
                reader = self._const(_lazy(self.named, full))
                self._line(depth, f"{var}, pos = {reader}(data, pos)")
                return
            schema, namespace = self.named[full]
        if isinstance(schema, list):
            self._union(schema, var, depth, namespace)
            return
        if not isinstance(schema, dict):
            raise ValueError(f"not an Avro schema: {schema!r}")
        kind = schema["type"]
        if kind in _PRIMITIVES:
            self._primitive(kind, schema.get("logicalType"), var, depth)
        elif kind in ("record", "error"):
            self._record(schema, var, depth, namespace)
        elif kind == "enum":
            self._define(schema, namespace)
            symbols = tuple(schema["symbols"])
            self._long("i", depth)
            self._line(depth, f"if not 0 <= i < {len(symbols)}:")
            self._line(depth + 1, "raise ValueError(f'enum position {i} out of range')")
            self._line(depth, f"{var} = {self._const(symbols)}[i]")
        elif kind == "fixed":
            if schema.get("logicalType") in _FASTAVRO_ONLY:
                raise Unsupported(schema["logicalType"])
            self._define(schema, namespace)
            size = int(schema["size"])
            self._line(depth, f"if pos + {size} > size:")
            self._line(depth + 1, "raise ValueError('fixed past the end of the record')")
            self._line(depth, f"{var} = data[pos:pos + {size}]")
            self._line(depth, f"pos += {size}")
        elif kind in ("array", "map"):
            self._container(schema, var, depth, namespace)
        else:  # a named type written in the {"type": name} form
            self._value(kind, var, depth, namespace)

    def _primitive(self, kind: str, logical: object, var: str, depth: int) -> None:
        line = self._line
        if logical in _FASTAVRO_ONLY:
            raise Unsupported(str(logical))
        if kind == "null":
            line(depth, f"{var} = None")
        elif kind == "boolean":
            line(depth, f"{var} = data[pos] != 0")
            line(depth, "pos += 1")
        elif kind in ("int", "long"):
            self._long(var, depth)
            if kind == "long" and isinstance(logical, str) and logical in _TIMESTAMPS:
                epoch, unit = _TIMESTAMPS[logical]
                line(depth, f"{var} = {epoch} + _td({unit.format(var)})")
            elif kind == "int" and logical == "date":
                line(depth, f"{var} = _EPOCH_DAY + _td({var})")
        elif kind in ("float", "double"):
            width, unpack = (4, "_FLOAT") if kind == "float" else (8, "_DOUBLE")
            line(depth, f"if pos + {width} > size:")
            line(depth + 1, f"raise ValueError('{kind} past the end of the record')")
            line(depth, f"{var} = {unpack}(data, pos)[0]")
            line(depth, f"pos += {width}")
        else:  # bytes, string: a short one inline, else by call
            line(depth, "n = _L[data[pos]]")
            line(depth, "if n is None:")
            line(depth + 1, f"{var}, pos = _sized(data, pos, size)")
            line(depth, "else:")
            line(depth + 1, "end = pos + 1 + n")
            line(depth + 1, "if end > size:")
            line(depth + 2, f"raise ValueError('{kind} past the end of the record')")
            line(depth + 1, f"{var} = data[pos + 1:end]")
            line(depth + 1, "pos = end")
            if kind == "string":
                line(depth, f"{var} = {var}.decode()")
                if logical == "uuid":
                    line(depth, f"{var} = _UUID({var})")

    def _long(self, var: str, depth: int) -> None:
        """Lines reading a zigzag varint into ``var`` (one byte inline, the rest by call)."""
        self._line(depth, f"{var} = data[pos]")
        self._line(depth, f"if {var} < 128:")
        self._line(depth + 1, f"{var} = _Z[{var}]")
        self._line(depth + 1, "pos += 1")
        self._line(depth, "else:")
        self._line(depth + 1, f"{var}, pos = _varint(data, pos)")

    def _record(self, schema: dict[str, Any], var: str, depth: int, namespace: str) -> None:
        full, namespace = self._define(schema, namespace)
        self.open.append(full)
        parts = []
        for field in schema["fields"]:
            local = self._var()
            self._value(field["type"], local, depth, namespace)
            parts.append(f"{field['name']!r}: {local}")
        self.open.pop()
        self._line(depth, f"{var} = {{{', '.join(parts)}}}")

    def _union(self, branches: list[Any], var: str, depth: int, namespace: str) -> None:
        index = self._var()
        self._long(index, depth)
        for position, branch in enumerate(branches):
            self._line(depth, f"{'if' if position == 0 else 'elif'} {index} == {position}:")
            self._value(branch, var, depth + 1, namespace)
        self._line(depth, "else:")
        self._line(depth + 1, f"raise ValueError(f'union branch {{{index}}} out of range')")

    def _container(self, schema: dict[str, Any], var: str, depth: int, namespace: str) -> None:
        is_map = schema["type"] == "map"
        items = schema["values" if is_map else "items"]
        if not is_map and self._zero_width(items, namespace):
            # A count of empty items reads no bytes: nothing bounds it but the count.
            raise Unsupported("an array of zero-width items")
        count, item = self._var(), self._var()
        line = self._line
        line(depth, f"{var} = {{}}" if is_map else f"{var} = []")
        line(depth, "while True:")
        self._long(count, depth + 1)
        line(depth + 1, f"if {count} == 0:")
        line(depth + 2, "break")
        line(depth + 1, f"if {count} < 0:  # a block that gives its size in bytes too")
        line(depth + 2, f"{count} = -{count}")
        self._long("skip", depth + 2)
        line(depth + 1, f"if {count} > size - pos:")
        line(depth + 2, f"raise ValueError(f'block of {{{count}}} items past the end')")
        line(depth + 1, f"for _ in range({count}):")
        if is_map:
            key = self._var()
            self._primitive("string", None, key, depth + 2)
            self._value(items, item, depth + 2, namespace)
            line(depth + 2, f"{var}[{key}] = {item}")
        else:
            self._value(items, item, depth + 2, namespace)
            line(depth + 2, f"{var}.append({item})")

    def _zero_width(self, schema: object, namespace: str) -> bool:
        if schema == "null":
            return True
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            full = self._resolve(schema, namespace)
            if full in self.open:
                return False  # reading it reads at least the fields before the recursion
            schema, namespace = self.named[full]
        if isinstance(schema, dict):
            if schema["type"] == "null":
                return True
            if schema["type"] in ("record", "error"):
                full, inner = _full_name(schema, namespace)
                self.named.setdefault(full, (schema, inner))
                return all(self._zero_width(f["type"], inner) for f in schema["fields"])
            if schema["type"] == "fixed":
                return int(schema["size"]) == 0
        return False

    def _define(self, schema: dict[str, Any], namespace: str) -> tuple[str, str]:
        full, inner = _full_name(schema, namespace)
        self.named.setdefault(full, (schema, inner))
        return full, inner

    def _resolve(self, name: str, namespace: str) -> str:
        if "." not in name and namespace and f"{namespace}.{name}" in self.named:
            return f"{namespace}.{name}"
        if name in self.named:
            return name
        raise ValueError(f"the schema refers to {name}, which it does not define before")


def _full_name(schema: dict[str, Any], namespace: str) -> tuple[str, str]:
    """The full name of a named type and the namespace its own fields are read in."""
    name = str(schema["name"])
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    own = schema.get("namespace", namespace) or ""
    return (f"{own}.{name}" if own else name), own


def _lazy(named: dict[str, tuple[dict[str, Any], str]], full: str) -> Read:
    # A recursive record's reader, compiled on first use (it is being compiled now).
    compiled: list[Read] = []

    def read(data: bytes, pos: int) -> tuple[Any, int]:
        if not compiled:
            schema, namespace = named[full]
            compiled.append(_Compiler(named).compile(schema, namespace))
        return compiled[0](data, pos)

    return read
