"""Shared fixtures: the anyio backend and the real Kafka broker started by `make test`."""

from __future__ import annotations

import os
from pathlib import Path

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


SASL_USER = "caseyard"
SASL_PASSWORD = "caseyard-secret"
"""The user `scripts/kafka` gives its SASL_SSL listener (PLAIN)."""
KAFKA_CA = Path(__file__).resolve().parent.parent / ".cache/kafka/cluster-1/tls/ca.pem"
"""The CA `scripts/kafka` made the listener's certificate with."""


@pytest.fixture(scope="session")
def kafka_sasl_bootstrap(kafka_bootstrap: str) -> str:
    """The bootstrap servers of that broker's SASL_SSL listener (`scripts/kafka bootstrap
    --sasl`): TLS with `KAFKA_CA`, SASL PLAIN as `SASL_USER`."""
    bootstrap = os.environ.get("CASEYARD_TEST_KAFKA_SASL", "")
    if not bootstrap:
        if os.environ.get("CASEYARD_REQUIRE_KAFKA") == "1":
            pytest.fail("CASEYARD_REQUIRE_KAFKA=1 but CASEYARD_TEST_KAFKA_SASL is not set")
        pytest.skip("no SASL_SSL listener: run `make test` or set CASEYARD_TEST_KAFKA_SASL")
    return bootstrap
