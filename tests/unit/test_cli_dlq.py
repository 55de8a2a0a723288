"""`caseyard dlq`: which dead letter an id names, where a redrive sends it, with which
headers, and that a redrive is recorded so the same letter is not redriven twice
(in process, on the memory bus)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.runtime import RETRY_ATTEMPT, RETRY_NOT_BEFORE, RETRY_SOURCE
from bus import Record
from caseyard.app import App, open_app, read_records
from caseyard.commands.dlq import Letter, load_letters, original_of, pick, redrive
from caseyard.errors import ConfigError
from caseyard.settings import load_settings
from schemas import CaseSubmitted, DeadLetter, DocumentRef, Producer
from schemas.dead_letters import DLQ_REDRIVEN_FROM, dead_letter_headers
from schemas.topology import DEAD_LETTERS, INTAKE

AT = datetime(2024, 5, 1, 9, tzinfo=UTC)
CLI = Producer(service="cli", version="1")
DOCUMENT = DocumentRef(uri="file:///d.txt", sha256="0" * 64, size=1, media_type="text/plain")


def letter(
    event_id: str = "01900000-0000-7000-8000-000000000001",
    *,
    source_topic: str = INTAKE.name,
    value: bytes = b"\x00garbled",
    headers: dict[str, bytes] | None = None,
) -> DeadLetter:
    return DeadLetter(
        event_id=event_id,
        case_id="case-1",
        correlation_id="case-1",
        occurred_at=AT,
        producer=Producer(service="coordinator", version="1"),
        reason="coordinator: unknown pipeline 'nosuch'",
        error_class="InvalidInput",
        message="unknown pipeline 'nosuch'",
        source_topic=source_topic,
        source_partition=2,
        source_offset=7,
        original_key=b"case-1",
        original_value=value,
        original_headers=headers or {},
        attempts=1,
    )


def held(dead: DeadLetter) -> Letter:
    return Letter(Record(DEAD_LETTERS.name, 0, 0, 0, None, b""), dead)


def test_a_coordinator_letter_goes_back_to_its_topic_with_its_headers() -> None:
    one = held(letter(headers={"traceparent": b"00-abc-01"}))
    assert one.target == INTAKE.name
    assert one.source == f"{INTAKE.name}/2/7"
    assert one.headers == (("traceparent", b"00-abc-01"), (DLQ_REDRIVEN_FROM, one.id.encode()))


def test_a_letter_from_a_retry_topic_goes_to_the_agents_main_topic_as_a_fresh_delivery() -> None:
    retried = held(
        letter(
            source_topic="caseyard.tasks.classify",
            headers={
                "traceparent": b"00-abc-01",
                RETRY_ATTEMPT: b"2",
                RETRY_NOT_BEFORE: b"1714554000000",
                RETRY_SOURCE: b"caseyard.tasks.classify",
            },
        )
    )
    assert retried.target == "caseyard.tasks.classify"
    assert [name for name, _ in retried.headers] == ["traceparent", DLQ_REDRIVEN_FROM]


def test_ids_name_letters_by_a_unique_prefix() -> None:
    a = held(letter("01900000-0000-7000-8000-00000000000a"))
    b = held(letter("01900000-0000-7000-8000-00000000000b"))
    assert pick([a, b], ["01900000-0000-7000-8000-00000000000b", a.id[:-1] + "a"]) == [b, a]
    with pytest.raises(ConfigError, match="names 2 dead letters"):
        pick([a, b], ["0190"])
    with pytest.raises(ConfigError, match="no dead letter 'ffff'"):
        pick([a, b], ["ffff"])


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with open_app(load_settings(bus="memory://", data_dir=tmp_path)) as app:
        yield app


@pytest.mark.anyio
async def test_a_redrive_republishes_the_original_once(app: App) -> None:
    submitted = CaseSubmitted(
        case_id="case-1",
        correlation_id="case-1",
        occurred_at=AT,
        producer=CLI,
        source="cli",
        document=DOCUMENT,
        pipeline="nosuch",
    )
    original = await app.codec.encode(submitted, INTAKE.name)
    dead = letter(value=original, headers={"traceparent": b"00-abc-01"})
    await app.bus.publish(
        DEAD_LETTERS.name,
        await app.codec.encode(dead, DEAD_LETTERS.name),
        key=b"case-1",
        headers=dead_letter_headers(dead, None),
    )
    (found,), broken = await load_letters(app)
    assert (found.id, found.redrive, broken) == (dead.event_id, None, [])

    marker = await redrive(app, found)
    assert (marker["dead_letter"], marker["topic"]) == (dead.event_id, INTAKE.name)
    (sent,) = await read_records(app, INTAKE.name)
    assert (sent.key, sent.value) == (b"case-1", original)
    assert sent.headers == (
        ("traceparent", b"00-abc-01"),
        (DLQ_REDRIVEN_FROM, dead.event_id.encode()),
    )

    (again,), _ = await load_letters(app)
    assert again.redrive == marker  # `dlq redrive` refuses it from now on

    decoded = await original_of(app, again.letter)
    assert decoded["decoded"]["type"] == "CaseSubmitted"
    assert decoded["decoded"]["pipeline"] == "nosuch"


@pytest.mark.anyio
async def test_an_original_that_does_not_decode_is_shown_as_bytes(app: App) -> None:
    shown = await original_of(app, letter(value=b"\x00\x00\x00\x00\x07oops"))
    assert shown["decoded"] is None
    assert shown["hex"] == "00 00 00 00 07 6f 6f 70 73"
    assert shown["text"].endswith("oops")
    assert "decode_error" in shown
