"""The event models: envelope rules, validation, ids."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import pytest
from pydantic import ValidationError

from schemas import (
    EVENT_TYPES,
    CaseSubmitted,
    ClassifyOutput,
    DocumentRef,
    Event,
    ExtractOutput,
    Producer,
    SchemaDefinitionError,
    Span,
    TaskCompleted,
    UnknownEventTypeError,
    avro_name,
    envelope,
    event_class,
    event_id_time,
    new_event_id,
)
from schemas.testing import example_document, example_events

PRODUCER = Producer(service="test", version="0")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def submitted(**changes: object) -> CaseSubmitted:
    fields: dict[str, object] = {
        "case_id": "c1",
        "correlation_id": "c1",
        "occurred_at": NOW,
        "producer": PRODUCER,
        "source": "cli",
        "document": example_document(),
    }
    fields.update(changes)
    return CaseSubmitted.model_validate(fields)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        submitted(occurred_at=datetime(2024, 5, 1, 12, 0))


def test_aware_datetimes_are_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=2))
    event = submitted(occurred_at=datetime(2024, 5, 1, 14, 0, tzinfo=cet))
    assert event.occurred_at == NOW
    assert event.occurred_at.tzinfo is UTC


def test_events_are_frozen_and_reject_unknown_fields() -> None:
    event = submitted()
    with pytest.raises(ValidationError, match="frozen"):
        event.case_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        submitted(surprise=1)


def test_defaults_fill_the_envelope() -> None:
    event = submitted()
    assert event.causation_id is None
    assert event.metadata == {}
    assert uuid.UUID(event.event_id).version == 7


def test_event_ids_are_uuid7_unique_and_time_ordered() -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = [new_event_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids), "ids made later must sort later"
    assert all(uuid.UUID(i).version == 7 and str(uuid.UUID(i)) == i for i in ids)
    assert before <= event_id_time(ids[0]) <= datetime.now(UTC) + timedelta(seconds=1)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_makes_ids_of_its_own_random_bits() -> None:
    # Ids take their random bits from a buffer read from the OS at once: a child forked
    # with the buffer half read must not take the bits its parent takes next.
    new_event_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it holds, then its next id, then out without pytest
        try:
            empty = envelope._random == b"" and envelope._random_at == 0
            os.write(write, f"{empty} {new_event_id()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    parent = new_event_id()
    with os.fdopen(read) as pipe:
        dropped, child = pipe.read().split()
    assert os.waitpid(pid, 0)[1] == 0
    assert dropped == "True"  # the child's buffer was empty after the fork
    random_bits = (1 << 62) - 1
    assert uuid.UUID(child).int & random_bits != uuid.UUID(parent).int & random_bits


def test_event_id_time_rejects_other_uuids() -> None:
    with pytest.raises(ValueError, match="UUIDv7"):
        event_id_time(str(uuid.uuid4()))


def test_catalog_event_types_are_unique_and_resolvable() -> None:
    names = [model.event_type for model in EVENT_TYPES]
    assert len(set(names)) == len(names)
    for model in EVENT_TYPES:
        assert event_class(model.event_type) is model
        assert avro_name(model) == f"caseyard.{model.event_type}"
        assert model.model_config.get("frozen") is True
        assert model.model_config.get("extra") == "forbid"
    with pytest.raises(UnknownEventTypeError):
        event_class("NoSuchEvent")


def test_examples_cover_the_catalog_once_each() -> None:
    assert [type(e) for e in example_events()] == list(EVENT_TYPES)


def test_an_event_class_must_name_its_own_type() -> None:
    class Inherits(CaseSubmitted):
        pass

    with pytest.raises(SchemaDefinitionError, match="event_type"):
        avro_name(Inherits)

    class Named(Event):
        event_type: ClassVar[str] = "Named"

    assert avro_name(Named) == "caseyard.Named"


def test_task_output_is_discriminated_by_kind() -> None:
    completed = example_events()[2]
    assert isinstance(completed, TaskCompleted)
    data = completed.model_dump()
    data["output"] = {"kind": "extract", "fields": []}
    assert isinstance(TaskCompleted.model_validate(data).output, ExtractOutput)
    data["output"] = {"kind": "classify", "doc_type": "receipt", "confidence": 0.5}
    assert isinstance(TaskCompleted.model_validate(data).output, ClassifyOutput)
    data["output"] = {"kind": "nope"}
    with pytest.raises(ValidationError, match="kind"):
        TaskCompleted.model_validate(data)


@pytest.mark.parametrize(
    ("model", "data", "match"),
    [
        (Span, {"start": 5, "end": 4}, "before its start"),
        (ClassifyOutput, {"doc_type": "invoice", "confidence": 1.5}, "less than or equal"),
        (ClassifyOutput, {"doc_type": "poem", "confidence": 0.5}, "doc_type"),
        (
            DocumentRef,
            {"uri": "file:///x", "sha256": "xyz", "size": 1, "media_type": "text/plain"},
            "sha256",
        ),
    ],
)
def test_payloads_validate(model: type[Event], data: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        model.model_validate(data)


@pytest.mark.parametrize("event", example_events(), ids=lambda e: type(e).__name__)
def test_json_round_trip(event: Event) -> None:
    assert type(event).model_validate_json(event.model_dump_json()) == event
