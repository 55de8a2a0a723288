"""Fixtures for the schemas tests."""

from __future__ import annotations

import pytest

from schemas import AvroCodec, Registry


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def codec(registry: Registry) -> AvroCodec:
    return AvroCodec(registry)
