"""caseyard on a Kafka that asks for TLS and SASL, as managed Kafka does (Confluent Cloud,
MSK with SCRAM, Aiven, Redpanda Cloud): the test broker's SASL_SSL listener (a CA made by
`scripts/kafka`, SASL PLAIN or SCRAM-SHA-512).

- Every client of the bus connects through it: topics created and aligned, records
  published, read by a group and a reader, a transaction committed, and a whole saga run
  (the coordinator's transactions and group offsets, the agents' groups).
- A client the broker turns away (wrong password, a CA that did not sign its certificate)
  fails at once with a one-line ConfigError that says why, not a retry until the connect
  timeout ends in "cannot reach Kafka"; the CLI exits 2 with that line.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import subprocess
import uuid
from pathlib import Path

import anyio
import pytest

import bus
from bus import KafkaSecurity, Message, StartFrom, TopicPartition, TopicSpec
from bus.errors import ConfigError
from schemas import CaseCompleted
from tests.conftest import KAFKA_CA, SASL_PASSWORD, SASL_USER
from tests.helpers import CASEYARD, drain
from tests.integration.coordinator_harness import TWO_STEPS, harness

pytestmark = pytest.mark.anyio

SECURE = KafkaSecurity(
    protocol="SASL_SSL",
    sasl_mechanism="PLAIN",
    sasl_username=SASL_USER,
    sasl_password=SASL_PASSWORD,
    ssl_cafile=str(KAFKA_CA),
)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
async def test_every_client_of_the_bus_works_over_sasl_ssl(
    kafka_sasl_bootstrap: str, mechanism: str
) -> None:
    topic = f"test.secure.{uuid.uuid4().hex[:8]}"
    security = dataclasses.replace(SECURE, sasl_mechanism=mechanism)
    async with bus.connect(f"kafka://{kafka_sasl_bootstrap}", security=security) as b:
        await b.ensure_topics([TopicSpec(topic, partitions=2)])
        assert await b.align_topics([TopicSpec(topic, partitions=2)]) == []
        await b.publish_batch([Message(topic, b"one", key=b"a"), Message(topic, b"two", key=b"b")])
        async with b.begin(transactional_id=f"tx-{topic}") as tx:
            await tx.publish(topic, b"three", key=b"a")
        group = f"g-{topic}"
        async with b.consumer(group, [topic], start=StartFrom.EARLIEST) as consumer:
            records = await drain(consumer, 3)
            await consumer.commit()
        async with b.reader([TopicPartition(topic, p) for p in range(2)]) as reader:
            again = await drain(reader, 3)
        ends = await b.end_offsets([TopicPartition(topic, p) for p in range(2)])
    assert sorted(r.value for r in records) == sorted(r.value for r in again)
    assert sorted(r.value for r in records) == [b"one", b"three", b"two"]
    assert sum(ends.values()) == 4  # three records and the transaction's commit marker


async def test_a_saga_runs_over_sasl_ssl(kafka_sasl_bootstrap: str, tmp_path: Path) -> None:
    (tmp_path / "seq.yaml").write_text(TWO_STEPS)
    security = dataclasses.replace(SECURE, sasl_mechanism="SCRAM-SHA-512")
    async with harness(f"kafka://{kafka_sasl_bootstrap}", tmp_path, security=security) as h:
        case = await h.submit("seq")
        events = await h.wait_for(case, CaseCompleted)
        assert h.coordinator is not None and h.coordinator.stats.transactions > 0
    assert [e.event_type for e in events][-1] == "CaseCompleted"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"sasl_password": "wrong"}, "SaslAuthenticationFailed"),
        ({"sasl_mechanism": "SCRAM-SHA-256"}, "SCRAM-SHA-256"),  # not enabled there
        ({"ssl_cafile": None}, "CERTIFICATE_VERIFY_FAILED"),  # the system's CAs
    ],
)
# A TLS handshake that fails leaves asyncio's socket transport unclosed (CPython 3.11,
# under aiokafka's connection): collected here, not in whichever test runs the GC next.
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
async def test_a_client_the_broker_turns_away_fails_at_once_saying_why(
    kafka_sasl_bootstrap: str, change: dict[str, str | None], why: str
) -> None:
    security = dataclasses.replace(SECURE, **change)  # type: ignore[arg-type]
    # A connect timeout the test would outlast: the refusal is not retried until then.
    with anyio.fail_after(20), pytest.raises(ConfigError) as refused:
        async with bus.connect(
            f"kafka://{kafka_sasl_bootstrap}", security=security, connect_timeout=60
        ) as b:
            await b.ensure_topics([TopicSpec("test.secure.never")])
    message = str(refused.value)
    assert why in message and "refused this client (SASL_SSL" in message and "\n" not in message
    assert security.sasl_password is not None and security.sasl_password not in message
    del refused
    gc.collect()


def test_the_cli_connects_with_the_security_settings(kafka_sasl_bootstrap: str) -> None:
    env = {
        **os.environ,
        "CASEYARD_BUS": f"kafka://{kafka_sasl_bootstrap}",
        "CASEYARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CASEYARD_KAFKA_SASL_MECHANISM": "PLAIN",
        "CASEYARD_KAFKA_SASL_USERNAME": SASL_USER,
        "CASEYARD_KAFKA_SASL_PASSWORD": SASL_PASSWORD,
        "CASEYARD_KAFKA_SSL_CAFILE": str(KAFKA_CA),
    }

    def topics_ensure(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CASEYARD, "topics", "ensure"],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = topics_ensure()
    assert done.returncode == 0, done.stderr
    assert "caseyard.coordinator.state" in done.stdout
    refused = topics_ensure(CASEYARD_KAFKA_SASL_PASSWORD="wrong")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "SaslAuthenticationFailed" in line and "wrong" not in line
    unknown = topics_ensure(CASEYARD_KAFKA_SECURITY_PROTOCOL="TLS")
    assert unknown.returncode == 2
    (line,) = unknown.stderr.strip().splitlines()
    assert "security protocol 'TLS'" in line
