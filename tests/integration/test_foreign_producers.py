"""Cases submitted by producers that are not caseyard's run to their end (issue 12).

caseyard owns a case by the murmur2 partition of its id (the Java client's default). A
producer that partitions otherwise (librdkafka's default, CRC32), that writes no key, or
that picks a partition itself puts the submission on another partition: the coordinator
member there sends it on, unchanged and in the same transaction as its offset, to the
case's own partition. On Kafka the other side is the real confluent-kafka (librdkafka)
producer at its defaults; on the embedded bus, records written straight to a partition.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

import bus
from bus import partition_for
from schemas import CaseCompleted, CaseOpened
from schemas.topology import CASE_EVENTS, CASE_PARTITIONS, DEAD_LETTERS, INTAKE, tasks_topic
from tests.helpers import eventually, run_caseyard
from tests.integration.coordinator_harness import (
    DOCUMENT,
    TWO_STEPS,
    Harness,
    cli_harness,
    harness,
    submission,
)

pytestmark = pytest.mark.anyio


def elsewhere(case_id: str) -> int:
    """A partition that is not the case's own."""
    return (partition_for(case_id.encode(), CASE_PARTITIONS, 0) + 1) % CASE_PARTITIONS


@pytest.fixture
def pipelines(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "seq.yaml").write_text(TWO_STEPS)
    return tmp_path / "pipelines"


async def completed(h: Harness, cases: list[str]) -> None:
    with anyio.fail_after(90):
        for case in cases:
            await h.wait_for(case, CaseCompleted, timeout=90)
    assert not [d for d in await h.dead_letters() if any(c in d for c in cases)]


@pytest.mark.kafka
async def test_librdkafka_at_its_defaults_with_and_without_keys(
    kafka_bootstrap: str, pipelines: Path
) -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    run = uuid.uuid4().hex[:8]
    keyed = [f"crc-{run}-{n}" for n in range(8)]
    unkeyed = [f"nokey-{run}-{n}" for n in range(4)]
    async with harness(f"kafka://{kafka_bootstrap}", pipelines) as h:
        assert h.coordinator is not None
        # librdkafka's default partitioner is consistent_random: CRC32 of the key.
        producer = confluent_kafka.Producer({"bootstrap.servers": kafka_bootstrap})
        landed: dict[str, int] = {}
        for case in [*keyed, *unkeyed]:
            value = await h.codec.encode(submission(case, "seq", source="upstream"), INTAKE.name)

            def delivered(error: object, message: Any, case: str = case) -> None:
                assert error is None, error
                landed[case] = message.partition()

            key = case.encode() if case in keyed else None
            producer.produce(INTAKE.name, value, key=key, on_delivery=delivered)
        assert await anyio.to_thread.run_sync(producer.flush, 30) == 0
        # CRC32 and murmur2 disagree for most keys: the run does exercise the forwarding.
        elsewhere = [
            c for c in landed if landed[c] != partition_for(c.encode(), CASE_PARTITIONS, 0)
        ]
        assert len(elsewhere) >= 2, landed
        await completed(h, [*keyed, *unkeyed])


async def test_records_on_another_partition_are_sent_on(tmp_path: Path, pipelines: Path) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    cases = [f"wrong-{n}" for n in range(4)]
    async with harness(url, pipelines) as h:
        assert h.coordinator is not None
        async with bus.connect(url) as upstream:
            for n, case in enumerate(cases):
                await upstream.publish(
                    INTAKE.name,
                    await h.codec.encode(submission(case, "seq", source="upstream"), INTAKE.name),
                    key=case.encode() if n % 2 else None,
                    partition=elsewhere(case),
                )
        await completed(h, cases)
        assert h.coordinator.stats.forwarded == len(cases)


async def test_replay_verifies_cases_whose_submission_was_sent_on(tmp_path: Path) -> None:
    """`caseyard replay` reads one partition at a time: the copy the coordinator sent on to
    the case's partition is the submission replayed there, once; the original on the
    other partition rebuilds nothing of its own (nor a difference)."""
    async with cli_harness(tmp_path, TWO_STEPS) as h:
        assert h.coordinator is not None
        wrong = [f"wrong-{n}" for n in range(3)]
        async with bus.connect(f"sqlite:///{tmp_path}/bus.db") as upstream:
            for case in wrong:
                await upstream.publish(
                    INTAKE.name,
                    await h.codec.encode(submission(case, "seq", source="upstream"), INTAKE.name),
                    key=case.encode(),
                    partition=elsewhere(case),
                )
        right = [await h.submit("seq", case_id=f"right-{n}") for n in range(3)]
        await completed(h, [*wrong, *right])
        assert h.coordinator.stats.forwarded == len(wrong)
    done = run_caseyard(tmp_path, "replay", "--verify", "--json")
    assert done.returncode == 0, done.stderr
    replayed = json.loads(done.stdout)
    assert sorted(c["case"] for c in replayed["cases"]) == sorted([*wrong, *right])
    assert {c["status"] for c in replayed["cases"]} == {"completed"}
    assert replayed["differences"] == [] and replayed["not_rebuilt"] == []
    one = run_caseyard(tmp_path, "replay", "--case", wrong[0], "--verify", "--json")
    assert one.returncode == 0, one.stderr
    assert [c["case"] for c in json.loads(one.stdout)["cases"]] == [wrong[0]]


def cloudevent(case: str | None, n: int, **data: Any) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A CloudEvent in binary mode submitting a case: JSON data naming the document."""
    body = {"document": DOCUMENT.model_dump(), "pipeline": "seq", **data}
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", f"order-{n}".encode()),
        ("ce_source", b"//erp.example.com"),
        ("ce_type", b"com.example.document.received"),
        ("content-type", b"application/json"),
    ]
    if case is not None:
        headers.append(("ce_subject", case.encode()))
    return json.dumps(body).encode(), headers


@pytest.mark.kafka
async def test_cloudevents_from_librdkafka_run_and_caseyard_answers_with_ce_headers(
    kafka_bootstrap: str, pipelines: Path
) -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    run = uuid.uuid4().hex[:8]
    named = [f"ce-{run}-{n}" for n in range(3)]
    url = f"kafka://{kafka_bootstrap}"
    async with harness(url, pipelines, cloudevents_headers=True) as h:
        producer = confluent_kafka.Producer({"bootstrap.servers": kafka_bootstrap})
        for n, case in enumerate(named):
            value, headers = cloudevent(case, n)
            # The case id travels as ce_subject only: no key, librdkafka picks a partition.
            producer.produce(INTAKE.name, value, headers=headers)
        value, headers = cloudevent(None, 7, metadata={"ticket": "T-1"})
        producer.produce(INTAKE.name, value, key=f"keyed-{run}".encode(), headers=headers)
        assert await anyio.to_thread.run_sync(producer.flush, 30) == 0
        await completed(h, [*named, f"keyed-{run}"])
        # What caseyard wrote carries CloudEvents attributes a plain consumer can route by.
        consumer = confluent_kafka.Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"ce-reader-{run}",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )
        consumer.subscribe([CASE_EVENTS.name])
        types: set[bytes] = set()
        with anyio.fail_after(60):
            while b"caseyard.CaseCompleted" not in types:
                # In batches: the topic holds every earlier test's cases on this broker.
                batch = await anyio.to_thread.run_sync(consumer.consume, 1000, 1.0)
                for message in batch:
                    if message.error() or message.key() != named[0].encode():
                        continue
                    attributes = dict(message.headers() or [])
                    assert attributes["ce_specversion"] == b"1.0"
                    assert attributes["ce_subject"] == named[0].encode()
                    assert attributes["content-type"] == b"application/avro"
                    types.add(attributes["ce_type"])
        consumer.close()
        assert {b"caseyard.CaseOpened", b"caseyard.StepStarted"} <= types


async def test_a_cloudevent_submits_a_case_and_a_bad_one_is_dead_lettered(
    tmp_path: Path, pipelines: Path
) -> None:
    url = f"sqlite:///{tmp_path}/bus.db"
    async with harness(url, pipelines) as h:
        value, headers = cloudevent("ce-good", 1)
        await h.bus.publish(INTAKE.name, value, key=b"ce-good", headers=tuple(headers))
        bad, headers = cloudevent("ce-bad", 2)
        await h.bus.publish(
            INTAKE.name,
            bad,
            key=b"ce-bad",
            headers=tuple((k, v) for k, v in headers if k != "ce_source"),
        )
        await completed(h, ["ce-good"])
        opened = next(e for e in await h.events("ce-good") if isinstance(e, CaseOpened))
        assert opened.pipeline == "seq"
        reasons = await eventually(lambda: _reasons_about(h, "ce_source"), timeout=30, interval=0.1)
        assert "CloudEvent without ce_source" in reasons[0]
        assert await h.events("ce-bad") == []


async def _reasons_about(h: Harness, word: str) -> list[str]:
    reasons = [r for r in await h.dead_letters() if word in r]
    assert reasons
    return reasons


async def test_a_null_value_from_librdkafka_is_dead_lettered_and_the_next_case_runs(
    kafka_bootstrap: str, pipelines: Path
) -> None:
    """A tombstone (a record with a null value) on the intake topic and on an agent's
    tasks topic is a bad record like any other: each is dead-lettered with its reason and
    position, and a case submitted after them on the same partitions runs to its end."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    run = uuid.uuid4().hex[:8]
    case = f"after-null-{run}"
    key = case.encode()
    partition = partition_for(key, CASE_PARTITIONS, 0)
    tasks = tasks_topic("classify").name
    async with harness(f"kafka://{kafka_bootstrap}", pipelines) as h:
        producer = confluent_kafka.Producer({"bootstrap.servers": kafka_bootstrap})
        landed: list[str] = []

        def delivered(error: object, message: Any) -> None:
            assert error is None, error
            landed.append(f"{message.topic()}/{message.partition()}/{message.offset()}")

        for topic in (INTAKE.name, tasks):
            producer.produce(topic, None, key=key, partition=partition, on_delivery=delivered)
        value = await h.codec.encode(submission(case, "seq", source="upstream"), INTAKE.name)
        producer.produce(INTAKE.name, value, key=key, partition=partition)
        assert await anyio.to_thread.run_sync(producer.flush, 30) == 0
        await completed(h, [case])

        async def both_dead_lettered() -> dict[str, str]:
            letters = {
                (r.header("dlq.source") or b"").decode(): b": ".join(
                    r.header(name) or b"" for name in ("dlq.reason", "dlq.message")
                ).decode()
                for r in await h.records(DEAD_LETTERS.name)
            }
            assert set(landed) <= set(letters)
            return {source: letters[source] for source in landed}

        reasons = await eventually(both_dead_lettered, timeout=30, interval=0.1)
    assert all("0 bytes" in reason for reason in reasons.values()), reasons
