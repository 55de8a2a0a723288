"""Compatibility checks with Apache Avro's checker, explained field by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from schemas import (
    CaseSubmitted,
    CompatibilityLevel,
    Event,
    InvalidCompatibilityLevelError,
    InvalidSchemaError,
    TaskCompleted,
    TaskRequested,
    check_against_snapshot,
    check_compatibility,
    export_avsc,
    schema_text,
)
from schemas.blobs import DocumentRef


def record(*fields: dict[str, Any], name: str = "Thing") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "t", "fields": list(fields)})


A = {"name": "a", "type": "string"}
B_OPTIONAL = {"name": "b", "type": ["null", "long"], "default": None}
B_REQUIRED = {"name": "b", "type": "long"}
B_DEFAULTED = {"name": "b", "type": "long", "default": 1}


def fields(found: list[Any]) -> set[str]:
    return {item.field for item in found}


def test_adding_an_optional_field_is_backward_compatible() -> None:
    assert (
        check_compatibility(record(A, B_OPTIONAL), [(1, record(A))], CompatibilityLevel.BACKWARD)
        == []
    )
    assert (
        check_compatibility(record(A, B_OPTIONAL), [(1, record(A))], CompatibilityLevel.FULL) == []
    )


def test_adding_a_required_field_breaks_backward_naming_it() -> None:
    found = check_compatibility(
        record(A, B_REQUIRED), [(1, record(A))], CompatibilityLevel.BACKWARD
    )
    assert fields(found) == {"b"}
    (problem,) = found
    assert problem.kind == "reader_field_missing_default_value"
    assert problem.direction == "backward" and problem.version == 1
    assert str(problem) == (
        "BACKWARD (against version 1): field 'b': added without a default, "
        "so old data cannot fill it"
    )


def test_removing_a_required_field_breaks_forward_and_full_naming_it() -> None:
    new, old = record(A), [(3, record(A, B_REQUIRED))]
    # Avro readers ignore fields they do not know, so BACKWARD allows removal...
    assert check_compatibility(new, old, CompatibilityLevel.BACKWARD) == []
    # ...but consumers still on the old schema need the field: FORWARD and FULL refuse.
    for level in (CompatibilityLevel.FORWARD, CompatibilityLevel.FULL):
        (problem,) = check_compatibility(new, old, level)
        assert problem.field == "b" and problem.direction == "forward"
        assert "removed" in str(problem) and "'b'" in str(problem)


def test_removing_a_field_with_a_default_is_fully_compatible() -> None:
    assert (
        check_compatibility(record(A), [(1, record(A, B_DEFAULTED))], CompatibilityLevel.FULL) == []
    )


def test_changing_a_type_breaks_naming_the_field() -> None:
    new = record(A, {"name": "b", "type": "string"})
    (problem,) = check_compatibility(new, [(1, record(A, B_REQUIRED))], CompatibilityLevel.BACKWARD)
    assert problem.field == "b" and problem.kind == "type_mismatch"
    assert "new string cannot read the old long" in str(problem)
    # Promotions Avro allows are not breaks: long -> double.
    widened = record(A, {"name": "b", "type": "double"})
    assert (
        check_compatibility(widened, [(1, record(A, B_REQUIRED))], CompatibilityLevel.BACKWARD)
        == []
    )


def field_named(fields: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(f for f in fields if f["name"] == name)


def test_nested_field_paths_are_reported() -> None:
    old = schema_text(CaseSubmitted)
    new = json.loads(old)
    document = field_named(new["fields"], "document")["type"]
    field_named(document["fields"], "size")["type"] = "string"
    (problem,) = check_compatibility(json.dumps(new), [(1, old)], CompatibilityLevel.BACKWARD)
    assert problem.field == "document.size"
    assert str(problem).startswith("BACKWARD (against version 1): field 'document.size': type")


def test_paths_through_unions_arrays_and_enums() -> None:
    old = json.loads(schema_text(TaskCompleted))
    new = json.loads(schema_text(TaskCompleted))
    classify = field_named(new["fields"], "output")["type"][0]
    labels = field_named(classify["fields"], "labels")
    field_named(labels["type"]["items"]["fields"], "score")["type"] = "string"
    field_named(classify["fields"], "doc_type")["type"]["symbols"].remove("fraud_report")
    found = check_compatibility(
        json.dumps(new), [(1, json.dumps(old))], CompatibilityLevel.BACKWARD
    )
    assert fields(found) == {"output.labels[].score", "output.doc_type"}
    enum_problem = next(p for p in found if p.field == "output.doc_type")
    assert enum_problem.kind == "missing_enum_symbols" and "fraud_report" in enum_problem.detail

    old_req = json.loads(schema_text(TaskRequested))
    new_req = json.loads(schema_text(TaskRequested))
    task_input = field_named(new_req["fields"], "input")["type"]
    field_named(task_input["fields"], "parameters")["type"]["values"] = "long"
    (problem,) = check_compatibility(
        json.dumps(new_req), [(1, json.dumps(old_req))], CompatibilityLevel.BACKWARD
    )
    assert problem.field == "input.parameters{}"


def test_union_branches() -> None:
    old = record(A, {"name": "v", "type": ["null", "string", "long"]})
    narrowed = record(A, {"name": "v", "type": ["null", "string"]})
    (problem,) = check_compatibility(narrowed, [(1, old)], CompatibilityLevel.BACKWARD)
    assert problem.field == "v" and problem.kind == "missing_union_branch"
    assert "long" in problem.detail
    not_union = record(A, {"name": "v", "type": "string"})
    assert fields(check_compatibility(not_union, [(1, old)], CompatibilityLevel.BACKWARD)) == {"v"}
    wider = record(A, {"name": "v", "type": ["null", "string", "long", "boolean"]})
    assert check_compatibility(wider, [(1, old)], CompatibilityLevel.BACKWARD) == []


def test_renaming_the_record_breaks() -> None:
    (problem,) = check_compatibility(
        record(A, name="Other"), [(1, record(A))], CompatibilityLevel.BACKWARD
    )
    assert problem.field == "" and problem.kind == "name_mismatch"
    assert str(problem).startswith("BACKWARD (against version 1): record:")


def test_transitive_levels_check_every_version() -> None:
    v1 = record(A)
    v2 = record(A, B_DEFAULTED)
    v3 = record(A, B_REQUIRED)
    history = [(1, v1), (2, v2)]
    assert check_compatibility(v3, history, CompatibilityLevel.BACKWARD) == []
    (problem,) = check_compatibility(v3, history, CompatibilityLevel.BACKWARD_TRANSITIVE)
    assert problem.version == 1 and problem.field == "b"
    assert check_compatibility(v3, history, CompatibilityLevel.NONE) == []
    assert check_compatibility(v3, [], CompatibilityLevel.FULL_TRANSITIVE) == []


def test_levels_parse_and_describe_themselves() -> None:
    assert CompatibilityLevel.parse("full_transitive") is CompatibilityLevel.FULL_TRANSITIVE
    assert CompatibilityLevel.FULL_TRANSITIVE.transitive
    assert CompatibilityLevel.FULL.directions == ("backward", "forward")
    assert CompatibilityLevel.NONE.directions == ()
    with pytest.raises(InvalidCompatibilityLevelError, match="Valid values are none"):
        CompatibilityLevel.parse("sideways")
    with pytest.raises(InvalidCompatibilityLevelError):
        CompatibilityLevel.parse(3)


def test_invalid_schemas_are_refused() -> None:
    with pytest.raises(InvalidSchemaError):
        check_compatibility("{not json", [(1, record(A))], CompatibilityLevel.BACKWARD)
    with pytest.raises(InvalidSchemaError):
        check_compatibility('{"type": "recordz"}', [(1, record(A))], CompatibilityLevel.BACKWARD)


# The snapshot check, with model revisions standing in for edits to the catalog.


class Submitted(Event):
    event_type: ClassVar[str] = "CaseSubmitted"

    source: str
    document: DocumentRef


class SubmittedPlusOptional(Event):
    event_type: ClassVar[str] = "CaseSubmitted"

    source: str
    document: DocumentRef
    channel: str | None = None


class SubmittedPlusRequired(Event):
    event_type: ClassVar[str] = "CaseSubmitted"

    source: str
    document: DocumentRef
    channel: str


class SubmittedWithoutSource(Event):
    event_type: ClassVar[str] = "CaseSubmitted"

    document: DocumentRef


class Brand(Event):
    event_type: ClassVar[str] = "BrandNew"


def test_snapshot_check(tmp_path: Path) -> None:
    export_avsc(tmp_path, [Submitted])
    assert (tmp_path / "CaseSubmitted.avsc").read_text().endswith("}\n")
    assert check_against_snapshot(tmp_path, events=[Submitted]).up_to_date

    report = check_against_snapshot(tmp_path, events=[SubmittedPlusOptional, Brand])
    assert report.ok and not report.up_to_date
    assert report.changed == ("CaseSubmitted",) and report.added == ("BrandNew",)
    assert '+      "name": "channel",' in report.diff

    report = check_against_snapshot(tmp_path, events=[SubmittedPlusRequired])
    assert not report.ok
    (problem,) = report.incompatibilities["CaseSubmitted"]
    assert problem.field == "channel"
    assert "CaseSubmitted: BACKWARD: field 'channel': added without a default" in str(report)
    assert "--- snapshot/CaseSubmitted.avsc" in report.diff

    # Removing a required field passes BACKWARD, fails FULL, naming the field.
    assert check_against_snapshot(tmp_path, events=[SubmittedWithoutSource]).ok
    report = check_against_snapshot(
        tmp_path, CompatibilityLevel.FULL, events=[SubmittedWithoutSource]
    )
    assert [p.field for p in report.incompatibilities["CaseSubmitted"]] == ["source"]

    report = check_against_snapshot(tmp_path, events=[Brand])
    assert report.removed == ("CaseSubmitted",) and not report.ok
    assert "CaseSubmitted: in the snapshot, gone from the catalog" in report.messages()


def test_export_is_stable_and_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    (path,) = export_avsc(tmp_path, [Submitted])
    first = path.read_text()
    mtime = path.stat().st_mtime_ns
    export_avsc(tmp_path, [Submitted])
    assert path.read_text() == first and path.stat().st_mtime_ns == mtime
    assert json.loads(first)["fields"][0]["name"] == "event_id"
