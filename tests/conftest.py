"""Shared fixtures: the anyio backend and the real Kafka broker started by `make test`."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The bootstrap servers of the broker `make test` started (`scripts/kafka up`)."""
    bootstrap = os.environ.get("CASEYARD_TEST_KAFKA", "")
    if not bootstrap:
        if os.environ.get("CASEYARD_REQUIRE_KAFKA") == "1":
            pytest.fail("CASEYARD_REQUIRE_KAFKA=1 but CASEYARD_TEST_KAFKA is not set")
        pytest.skip("no Kafka broker: run `make test` (it starts one) or set CASEYARD_TEST_KAFKA")
    return bootstrap
