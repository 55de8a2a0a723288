"""Fuzz: hostile records written straight to every topic the coordinator and the agents
read, on the memory bus and on Kafka. For each kind of bad record the outcome is the same:
a dead letter naming it (its key, its source topic), the processes stay up, and a good case
submitted after them completes.

Kinds: random bytes (mostly not Confluent framing), a frame whose schema id no registry
knows (a foreign producer's), an empty value, and a well-formed caseyard event of a type
that topic does not carry.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import AvroCodec, CaseCompleted, CaseOpened, DeadLetter, DocumentRef, Producer
from schemas.topology import CASE_EVENTS, DEAD_LETTERS, HUMAN, INTAKE, RESULTS, TIMERS, tasks_topic
from tests.helpers import eventually
from tests.integration.coordinator_harness import TWO_STEPS, harness

pytestmark = pytest.mark.anyio

TOPICS = (INTAKE.name, RESULTS.name, HUMAN.name, TIMERS.name, tasks_topic("classify").name)
ROUNDS = 3


def random_bytes(rng: random.Random) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 80)))


def foreign_frame(rng: random.Random) -> bytes:
    return b"\x00" + rng.randint(10**8, 2**31 - 1).to_bytes(4, "big") + random_bytes(rng)


def empty(rng: random.Random) -> bytes:
    return b""


KINDS: dict[str, Callable[[random.Random], bytes]] = {
    "random": random_bytes,
    "foreign": foreign_frame,
    "empty": empty,
}


async def wrong_type(codec: AvroCodec, topic: str, case_id: str) -> bytes:
    """A CaseOpened: valid, but carried by none of the topics read here."""
    event = CaseOpened(
        case_id=case_id,
        correlation_id=case_id,
        occurred_at=datetime.now(UTC),
        producer=Producer(service="fuzz", version="1"),
        pipeline="seq",
        pipeline_version=1,
        document=DocumentRef(uri="blob://x", sha256="0" * 64, size=1, media_type="text/plain"),
    )
    return await codec.encode(event, topic)


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return f"kafka://{request.getfixturevalue('kafka_bootstrap')}"


async def test_hostile_records_on_every_input_topic_are_dead_lettered(
    url: str, tmp_path: Path
) -> None:
    (tmp_path / "seq.yaml").write_text(TWO_STEPS)
    run = uuid.uuid4().hex[:8]
    rng = random.Random(run)
    async with harness(url, tmp_path) as h:
        assert h.coordinator is not None
        sent: dict[str, str] = {}  # key -> topic
        for n in range(ROUNDS):
            for topic in TOPICS:
                for kind, make in KINDS.items():
                    key = f"fuzz-{run}-{n}-{kind}-{topic}"
                    await h.bus.publish(topic, make(rng), key=key.encode())
                    sent[key] = topic
                key = f"fuzz-{run}-{n}-wrong-type-{topic}"
                await h.bus.publish(topic, await wrong_type(h.codec, topic, key), key=key.encode())
                sent[key] = topic
        good = await h.submit("seq", case_id=f"good-{run}")
        await h.wait_for(good, CaseCompleted)

        async def every_one_dead_lettered() -> None:
            letters: dict[str, DeadLetter] = {}
            for record in await h.records(DEAD_LETTERS.name):
                key = (record.key or b"").decode(errors="replace")
                if key in sent:
                    letter = await h.codec.decode(record.value)
                    assert isinstance(letter, DeadLetter)
                    letters[key] = letter
            missing = sorted(set(sent) - set(letters))
            assert not missing, f"{len(missing)} without a dead letter, e.g. {missing[:3]}"
            for key, letter in letters.items():
                assert letter.source_topic == sent[key], (key, letter.source_topic)
                assert letter.reason and letter.error_class, key

        await eventually(every_one_dead_lettered, timeout=60, interval=0.5)
        # Nothing of the fuzz reached the audit log.
        assert not [
            r
            for r in await h.records(CASE_EVENTS.name)
            if b"fuzz-" + run.encode() in (r.key or b"")
        ]
