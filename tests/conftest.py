"""Shared fixtures: the anyio backend and the real Kafka broker started by `make test`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One `CASEYARD_MODEL_CACHE` for the whole run, as projects sharing one use it: each
    local model is trained once, by the first test or `caseyard` process that needs it,
    not again in each test's fresh data directory (a classifier fit took ~15 s here).
    `make test` makes one for the run (CASEYARD_TEST_MODEL_CACHE), which its unit test
    workers and its second pytest share; never one that outlives the run, whose models
    could predate a change of the code that trains them."""
    given = os.environ.get("CASEYARD_TEST_MODEL_CACHE")
    path = Path(given) if given else tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CASEYARD_MODEL_CACHE", str(path))
        yield path


def _from_env(variable: str, missing: str) -> str:
    """`variable`'s value, which `make test` sets; without it the test is skipped, or
    fails under CASEYARD_REQUIRE_KAFKA=1 (CI must not skip what it is there to run)."""
    value = os.environ.get(variable, "")
    if not value:
        if os.environ.get("CASEYARD_REQUIRE_KAFKA") == "1":
            pytest.fail(f"CASEYARD_REQUIRE_KAFKA=1 but {variable} is not set")
        pytest.skip(f"{missing}: run `make test` (it starts one) or set {variable}")
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The bootstrap servers of the broker `make test` started (`scripts/kafka up`)."""
    return _from_env("CASEYARD_TEST_KAFKA", "no Kafka broker")


SASL_USER = "caseyard"
SASL_PASSWORD = "caseyard-secret"
"""The user `scripts/kafka` gives its SASL_SSL listener (PLAIN and SCRAM-SHA-512)."""
KAFKA_CA = Path(__file__).resolve().parent.parent / ".cache/kafka/cluster-1/tls/ca.pem"
"""The CA `scripts/kafka` made the listener's certificate with."""


@pytest.fixture(scope="session")
def kafka_sasl_bootstrap(kafka_bootstrap: str) -> str:
    """The bootstrap servers of that broker's SASL_SSL listener (`scripts/kafka bootstrap
    --sasl`): TLS with `KAFKA_CA`, SASL as `SASL_USER`."""
    return _from_env("CASEYARD_TEST_KAFKA_SASL", "no SASL_SSL listener")
