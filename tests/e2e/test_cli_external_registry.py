"""Bring your own registry (issue 12): `CASEYARD_REGISTRY_URL` points every service at a
Confluent-compatible registry instead of the built-in one.

The registry here is caseyard's own, run as a separate process (`caseyard run registry`);
the other side is Confluent's `SchemaRegistryClient` and `AvroDeserializer`, which list the
subject caseyard registered there and read the record it wrote. Credentials in the URL go
as basic auth (checked against an httpx transport that records what is sent).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import SecretStr

import bus
from bus import TopicPartition, read_to_end
from caseyard.schema_store import registry_client
from schemas.topology import CASE_PARTITIONS, INTAKE

ROOT = Path(__file__).resolve().parents[2]
CASEYARD = str(Path(sys.executable).parent / "caseyard")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """`caseyard run registry` in a directory of its own; its URL."""
    port = free_port()
    home = tmp_path / "registry"
    home.mkdir()
    env = {**os.environ, "CASEYARD_DATA_DIR": str(home / "data"),
           "CASEYARD_BUS": f"sqlite:///{home}/bus.db"}  # fmt: skip
    with subprocess.Popen(
        [CASEYARD, "run", "registry", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            for line in iter(process.stdout.readline, ""):
                if line.startswith("schema registry on"):
                    break
            else:
                pytest.fail(f"the registry exited: {process.stderr and process.stderr.read()}")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)


def test_services_register_and_read_through_an_external_registry(
    tmp_path: Path, registry: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "invoice.txt").write_text("Invoice 2026-014\nTotal 3,360.00 USD\n")
    env = {
        **os.environ,
        "CASEYARD_DATA_DIR": str(work / "data"),
        "CASEYARD_BUS": f"sqlite:///{work}/bus.db",
        "CASEYARD_REGISTRY_URL": registry.replace("http://", "http://ops:s3cret@"),
    }
    submitted = subprocess.run(
        [CASEYARD, "submit", "invoice.txt", "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    assert not (work / "data" / "registry.db").exists()  # the built-in one was not used

    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    async def intake() -> list[bytes]:
        async with bus.connect(f"sqlite:///{work}/bus.db") as b:
            tps = [TopicPartition(INTAKE.name, p) for p in range(CASE_PARTITIONS)]
            return [r.value async for batch in read_to_end(b, tps) for r in batch]

    (value,) = anyio.run(intake)
    with SchemaRegistryClient({"url": registry}) as confluent:
        assert "caseyard.intake-caseyard.CaseSubmitted" in confluent.get_subjects()
        context = SerializationContext(INTAKE.name, MessageField.VALUE)
        read = AvroDeserializer(confluent)(value, context)
    assert read is not None and read["source"] == "cli"
    assert read["metadata"] == {"filename": "invoice.txt"}


@pytest.mark.anyio
async def test_credentials_in_the_url_or_a_token_are_sent_and_never_in_the_url() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    transport = httpx.MockTransport(answer)
    client = registry_client("https://ops:s%40cret@registry.example:8081", transport=transport)
    async with client:
        await client.subjects()
    assert seen[0].url == "https://registry.example:8081/subjects"
    assert seen[0].headers["authorization"] == "Basic b3BzOnNAY3JldA=="  # ops:s@cret
    client = registry_client("https://registry.example", SecretStr("t0ken"), transport=transport)
    async with client:
        await client.subjects()
    assert seen[1].headers["authorization"] == "Bearer t0ken"
