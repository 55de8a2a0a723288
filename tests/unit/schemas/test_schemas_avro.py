"""Avro schemas generated from the models."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Literal

import fastavro
import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas import (
    EVENT_TYPES,
    SNAPSHOT_DIR,
    Event,
    SchemaDefinitionError,
    UtcDatetime,
    avro_schema,
    check_against_snapshot,
    schema_text,
)
from schemas._avro import parsed_schema


class Color(StrEnum):
    RED = "red"
    GREEN = "green"


class Inner(BaseModel):
    """An inner record.

    Only the first paragraph becomes the Avro doc.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int


class Other(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["other"] = "other"


class Everything(Event):
    event_type: ClassVar[str] = "Everything"
    schema_version: ClassVar[int] = 3

    text: str
    count: int = 7
    ratio: float = 0.5
    flag: bool = False
    blob: bytes = b"\x00ab"
    ident: uuid.UUID
    day: date
    moment: AwareDatetime
    utc: UtcDatetime
    color: Color = Color.GREEN
    mode: Literal["fast", "slow"] = "slow"
    maybe: str | None = None
    maybe_required: int | None
    maybe_set: int | None = 3
    items: tuple[Inner, ...] = ()
    more: list[Inner] = Field(default_factory=list)
    seq: Sequence[str] = ()
    tags: Mapping[str, str] = Field(default_factory=dict, description="Free tags.")
    by_name: dict[str, Inner] = Field(default_factory=dict)
    first: Inner
    second: Inner | None = None
    either: Inner | Other
    second_color: Color


def fields_of(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in schema["fields"]}


def test_type_mapping() -> None:
    schema = avro_schema(Everything)
    assert schema["name"] == "Everything"
    assert schema["namespace"] == "caseyard"
    assert schema["schema_version"] == 3
    f = fields_of(schema)
    assert f["text"]["type"] == "string" and "default" not in f["text"]
    assert f["count"] == {"name": "count", "type": "long", "default": 7}
    assert f["ratio"]["type"] == "double"
    assert f["flag"] == {"name": "flag", "type": "boolean", "default": False}
    assert f["blob"] == {"name": "blob", "type": "bytes", "default": "\x00ab"}
    assert f["ident"]["type"] == {"type": "string", "logicalType": "uuid"}
    assert f["day"]["type"] == {"type": "int", "logicalType": "date"}
    timestamp = {"type": "long", "logicalType": "timestamp-micros"}
    assert f["moment"]["type"] == timestamp
    assert f["utc"]["type"] == timestamp
    assert f["color"]["type"] == {
        "type": "enum",
        "name": "Color",
        "namespace": "caseyard",
        "symbols": ["red", "green"],
    }
    assert f["color"]["default"] == "green"
    assert f["mode"]["type"]["name"] == "EverythingMode"
    assert f["mode"]["type"]["symbols"] == ["fast", "slow"]
    assert f["maybe"]["type"] == ["null", "string"] and f["maybe"]["default"] is None
    assert f["maybe_required"]["type"] == ["null", "long"]
    assert "default" not in f["maybe_required"]
    assert f["maybe_set"]["type"] == ["long", "null"] and f["maybe_set"]["default"] == 3
    assert f["tags"] == {
        "name": "tags",
        "type": {"type": "map", "values": "string"},
        "default": {},
        "doc": "Free tags.",
    }
    assert f["seq"]["type"] == {"type": "array", "items": "string"}
    assert f["seq"]["default"] == []
    assert "default" not in f["event_id"], "a factory such as new_event_id is no default"


def test_named_types_are_defined_once_then_referenced() -> None:
    f = fields_of(avro_schema(Everything))
    inner = f["items"]["type"]["items"]
    assert inner["type"] == "record" and inner["name"] == "Inner"
    assert inner["doc"] == "An inner record."
    assert f["more"]["type"] == {"type": "array", "items": "caseyard.Inner"}
    assert f["by_name"]["type"] == {"type": "map", "values": "caseyard.Inner"}
    assert f["first"]["type"] == "caseyard.Inner"
    assert f["second"]["type"] == ["null", "caseyard.Inner"]
    assert f["either"]["type"][0] == "caseyard.Inner"
    assert f["either"]["type"][1]["name"] == "Other"
    assert f["second_color"]["type"] == "caseyard.Color"


def test_generated_schema_is_valid_avro_and_cached() -> None:
    assert parsed_schema(Everything) is parsed_schema(Everything)
    assert json.loads(schema_text(Everything)) == avro_schema(Everything)
    for model in EVENT_TYPES:
        fastavro.parse_schema(json.loads(schema_text(model)))


def test_defaults_are_valid_for_avro_readers() -> None:
    # A reader with every defaulted field reads a record written without them.
    writer = {
        "type": "record",
        "name": "Everything",
        "namespace": "caseyard",
        "fields": [
            {"name": "text", "type": "string"},
        ],
    }
    reader = avro_schema(Everything)
    only_defaults = {
        "type": "record",
        "name": "Everything",
        "namespace": "caseyard",
        "fields": [
            {k: v for k, v in f.items() if k != "doc"}
            for f in reader["fields"]
            if "default" in f or f["name"] == "text"
        ],
    }
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(writer), {"text": "hi"})
    buffer.seek(0)
    record = fastavro.schemaless_reader(
        buffer, fastavro.parse_schema(writer), fastavro.parse_schema(only_defaults)
    )
    assert isinstance(record, dict)
    assert record["count"] == 7
    assert record["color"] == "green"
    assert Everything.model_fields["blob"].default == record["blob"].encode()
    assert record["maybe_set"] == 3
    assert record["tags"] == {}


class Naive(BaseModel):
    when: datetime


class IntKeys(BaseModel):
    m: dict[int, str]


class Pair(BaseModel):
    p: tuple[int, str]


class Money(BaseModel):
    amount: Decimal


class IntLiteral(BaseModel):
    n: Literal[1, 2]


class BinaryDefault(BaseModel):
    b: bytes = b"\xff"


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (Naive, "naive"),
        (IntKeys, "map keys"),
        (Pair, r"tuple\[X, \.\.\.\]"),
        (Money, "Decimal"),
        (IntLiteral, "Literal of strings"),
        (BinaryDefault, "ASCII"),
    ],
)
def test_unsupported_types_are_refused(model: type[BaseModel], match: str) -> None:
    with pytest.raises(SchemaDefinitionError, match=match):
        avro_schema(model)


def test_two_types_with_one_name_are_refused() -> None:
    def make() -> type[BaseModel]:
        class Inner(BaseModel):
            other: str

        return Inner

    class Clash(BaseModel):
        a: Inner
        b: make()  # type: ignore[valid-type]

    with pytest.raises(SchemaDefinitionError, match=r"caseyard\.Inner"):
        avro_schema(Clash)


def test_committed_snapshot_matches_the_models() -> None:
    report = check_against_snapshot(SNAPSHOT_DIR)
    assert report.up_to_date, f"run schemas export: {report}\n{report.diff}"
