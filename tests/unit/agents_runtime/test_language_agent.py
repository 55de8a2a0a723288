"""A new agent added as one module: it backfills the intake topic and emits its own event."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

import bus
from agents.language import AGENT, TOPIC, LanguageDetected, detect
from agents.router import Router
from agents.runtime import AgentService, ProcessedStore
from agents.spec import AgentContext, find_agent
from caseyard.wiring import ensure_topology
from schemas import (
    EVENT_TYPES,
    AvroCodec,
    BlobStore,
    CaseSubmitted,
    MemorySchemaStore,
    Producer,
    Registry,
)
from schemas.topology import INTAKE
from tests.helpers import drain

pytestmark = pytest.mark.anyio

PRODUCER = Producer(service="test", version="1")
TEXTS = {
    "de": "Sehr geehrte Damen und Herren, bitte zahlen Sie die Rechnung, die wir Ihnen senden.",
    "fr": "Madame, Monsieur, nous vous remercions pour votre commande et la facture est jointe.",
    "en": "Dear customer, please find the invoice for your order attached to this email.",
}


def test_detects_common_languages() -> None:
    assert {lang: detect(text)[0] for lang, text in TEXTS.items()} == {
        "de": "de",
        "fr": "fr",
        "en": "en",
    }
    assert detect("12345 ----") == ("und", 0.0)


def test_found_by_name() -> None:
    assert find_agent("language") is AGENT


async def test_backfills_intake_and_publishes_its_own_event(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    codec = AvroCodec(Registry(MemorySchemaStore()), events=[*EVENT_TYPES, LanguageDetected])
    async with bus.connect("memory://") as b:
        await ensure_topology(b)
        for n, (lang, text) in enumerate(TEXTS.items()):
            submitted = CaseSubmitted(
                case_id=f"case-{lang}",
                correlation_id=f"case-{lang}",
                occurred_at=datetime(2026, 1, 1, n, tzinfo=UTC),
                producer=PRODUCER,
                source="test",
                document=blobs.put(text.encode(), "text/plain"),
            )
            await b.publish(
                INTAKE.name,
                await codec.encode(submitted, INTAKE.name),
                key=submitted.case_id.encode(),
            )
        context = AgentContext(
            blobs=blobs, router=Router([], {}), state_dir=tmp_path, producer=PRODUCER
        )
        service = AgentService(
            name=AGENT.name,
            bus=b,
            codec=codec,
            topics=AGENT.topics,
            handler=AGENT.build(context),
            store=ProcessedStore(tmp_path / "done.db"),
            producer=PRODUCER,
            own_topics=AGENT.own_topics,
        )
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(service.run, stop)
            await service.ready.wait()
            async with b.consumer("reader", [TOPIC]) as c:
                records = await drain(c, 3)
            stop.set()
    detected = {}
    for record in records:
        event = await codec.decode(record.value)
        assert isinstance(event, LanguageDetected)
        detected[event.case_id] = event.language
    assert detected == {"case-de": "de", "case-fr": "fr", "case-en": "en"}
