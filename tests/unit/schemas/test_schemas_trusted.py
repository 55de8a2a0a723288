"""``schemas.trusted``: a model built from valid values without validating them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr

from schemas import Event, Producer, StepStarted, trusted
from schemas.testing import example_events

PRODUCER = Producer(service="test", version="1")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("event", example_events(), ids=lambda e: e.event_type)
def test_equals_the_validated_event_and_serialises_the_same(event: Event) -> None:
    built = trusted(type(event), **dict(event))
    assert built == event
    assert type(built) is type(event)
    assert built.model_dump_json() == event.model_dump_json()
    assert list(built.__dict__) == list(event.__dict__)  # declaration order, as validated


def test_fields_not_given_take_their_defaults_and_factories() -> None:
    built = _started()  # no event_id, causation_id or previous_hash given
    assert built.causation_id is None  # a default
    assert built.previous_hash is None
    assert built.event_id  # the default factory: a new UUIDv7
    assert built.event_id != _started().event_id
    assert built.model_fields_set == set(StepStarted.model_fields)


def test_values_are_not_validated() -> None:
    # What the caller promises: a wrong value is kept as given, not refused or coerced.
    built = trusted(StepStarted, **{**dict(_started()), "attempt": 0})
    assert built.attempt == 0
    with pytest.raises(ValueError):
        StepStarted(**{**dict(_started()), "attempt": 0})


def test_a_missing_required_field_or_an_unknown_name_is_a_type_error() -> None:
    values = dict(_started())
    del values["step"]
    with pytest.raises(TypeError, match="step"):
        trusted(StepStarted, **values)
    with pytest.raises(TypeError, match="colour"):
        trusted(StepStarted, **dict(_started()), colour="red")


def test_is_frozen_like_the_validated_model() -> None:
    built = _started()
    with pytest.raises(ValueError):
        built.step = "other"  # type: ignore[misc]
    assert built.model_copy(update={"attempt": 2}).attempt == 2
    assert built.attempt == 1


class _WithPrivate(BaseModel):
    model_config = ConfigDict(frozen=True)
    value: int
    _cache: dict[str, int] = PrivateAttr(default_factory=dict)


def test_a_model_with_private_attributes_is_validated_instead() -> None:
    built = trusted(_WithPrivate, value="3")
    assert built.value == 3  # coerced: validated
    assert built._cache == {}


def _started() -> StepStarted:
    return trusted(
        StepStarted,
        case_id="c",
        correlation_id="c",
        occurred_at=NOW,
        producer=PRODUCER,
        step="classify",
        capability="classify",
        task_id="c/classify/1.1",
        attempt=1,
    )


class _Awkward(BaseModel):
    model_config = ConfigDict(frozen=True)
    obj: int
    tags: list[str] = []


def test_a_field_named_like_a_local_and_a_mutable_default() -> None:
    a, b = trusted(_Awkward, obj=1), trusted(_Awkward, obj=2)
    assert (a.obj, b.obj) == (1, 2)
    assert a == _Awkward(obj=1)
    a.tags.append("x")  # a default list is each instance's own, as pydantic makes it
    assert b.tags == [] and _Awkward(obj=3).tags == []
