"""Every event the engine builds in these tests is also validated.

The engine builds its outputs without validation (``schemas.trusted``): the values come
from validated inputs, the pipeline and the state. Here each one is checked: validated
from its own fields, it must equal what the engine built and serialise the same, so a
value of the wrong type or out of its constraints fails the test that produced it.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import coordinator._engine as engine
from schemas import trusted


def _checked(model: type[BaseModel], /, **values: Any) -> BaseModel:
    built = trusted(model, **values)
    validated = model(**values)
    assert built == validated, f"{model.__name__} built unvalidated differs: {built!r}"
    assert built.model_dump_json() == validated.model_dump_json()
    assert list(built.__dict__) == list(validated.__dict__)
    return built


@pytest.fixture(autouse=True)
def _validate_engine_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "trusted", _checked)
