"""CloudEvents (binary mode) in on the intake topic, and on everything caseyard publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bus import Record
from schemas import AvroCodec, CaseSubmitted, Registry
from schemas.cloudevents import (
    CloudEventError,
    decode,
    headers_for,
    is_cloudevent,
    submission_from,
)
from schemas.envelope import event_id_time
from schemas.testing import example_events
from schemas.topology import INTAKE

DOCUMENT = {
    "uri": "blob://sha256/" + "ab" * 32,
    "sha256": "ab" * 32,
    "size": 120,
    "media_type": "application/pdf",
}
ATTRIBUTES = {
    "ce_specversion": "1.0",
    "ce_id": "evt-0001",
    "ce_source": "//erp.example.com/inbound",
    "ce_type": "com.example.document.received",
}


def record(
    data: Any = None,
    *,
    key: bytes | None = None,
    drop: tuple[str, ...] = (),
    raw: bytes | None = None,
    content_type: str = "application/json",
    **extra: str,
) -> Record:
    headers = {**ATTRIBUTES, "content-type": content_type, **extra}
    body = raw if raw is not None else json.dumps(data or {"document": DOCUMENT}).encode()
    return Record(
        INTAKE.name,
        0,
        7,
        1_764_000_000_000,
        key,
        body,
        tuple((k, v.encode()) for k, v in headers.items() if k not in drop),
    )


def test_a_cloudevent_becomes_the_submission_it_describes() -> None:
    data = {"document": DOCUMENT, "pipeline": "fraud-alert", "metadata": {"ticket": 42}}
    event = submission_from(record(data, ce_subject="case-77", ce_time="2026-03-01T10:00:00+01:00"))
    assert (event.case_id, event.correlation_id, event.pipeline) == (
        "case-77",
        "case-77",
        "fraud-alert",
    )
    assert event.occurred_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert event.source == "//erp.example.com/inbound"
    assert event.document.sha256 == "ab" * 32
    assert event.metadata == {
        "ticket": "42",
        "ce_type": "com.example.document.received",
        "ce_id": "evt-0001",
    }
    # The id is a UUIDv7 at the event's time, the same for the same (source, id).
    assert event_id_time(event.event_id).replace(microsecond=0) == event.occurred_at
    again = submission_from(record(data, ce_subject="case-77", ce_time="2026-03-01T10:00:00+01:00"))
    assert again.event_id == event.event_id
    other = submission_from(
        record(data, ce_subject="case-77", ce_time="2026-03-01T10:00:00+01:00", ce_id="evt-2")
    )
    assert other.event_id != event.event_id


def test_the_case_id_is_the_subject_else_the_key_else_derived() -> None:
    assert submission_from(record(key=b"from-key")).case_id == "from-key"
    assert submission_from(record(key=b"from-key", ce_subject="subj")).case_id == "subj"
    derived = submission_from(record())
    assert (
        derived.case_id.startswith("ce-") and derived.case_id == submission_from(record()).case_id
    )
    # Without ce_time the record's timestamp says when.
    assert derived.occurred_at == datetime.fromtimestamp(1_764_000_000, tz=UTC)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (record(drop=("ce_id",)), "without ce_id"),
        (record(drop=("ce_source", "ce_type")), "without ce_source, ce_type"),
        (record(ce_specversion="0.3"), "specversion '0.3'"),
        (record(content_type="application/pdf"), "data is application/pdf"),
        (record(raw=b"{not json"), "not JSON"),
        (record(raw=b"[1, 2]"), "not a JSON object"),
        (record({"pipeline": "x"}), "data: document: Input should be a valid dictionary"),
        (record({"document": {**DOCUMENT, "sha256": "nope"}}), "document.sha256"),
        (record({"document": DOCUMENT, "metadata": [1]}), "'metadata' is not an object"),
        (record(ce_time="yesterday"), "not RFC 3339"),
        (record(ce_time="2026-03-01T10:00:00"), "no time zone"),
    ],
)
def test_each_bad_cloudevent_says_what_is_wrong(bad: Record, reason: str) -> None:
    with pytest.raises(CloudEventError, match=reason.replace("(", r"\(")):
        submission_from(bad)


def test_headers_name_type_subject_id_and_time() -> None:
    event = next(e for e in example_events() if isinstance(e, CaseSubmitted))
    headers = dict(headers_for(event, "coordinator"))
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": event.event_id.encode(),
        "ce_source": b"caseyard/coordinator",
        "ce_type": b"caseyard.CaseSubmitted",
        "ce_time": event.occurred_at.isoformat().encode(),
        "ce_subject": event.case_id.encode(),
        "content-type": b"application/avro",
    }


@pytest.mark.anyio
async def test_caseyards_own_events_decode_as_avro_not_as_cloudevents() -> None:
    codec = AvroCodec(Registry())
    event = next(e for e in example_events() if isinstance(e, CaseSubmitted))
    own = Record(
        INTAKE.name,
        0,
        0,
        0,
        None,
        await codec.encode(event, INTAKE.name),
        headers_for(event, "cli"),
    )
    assert not is_cloudevent(own)
    assert await decode(codec, own) == event
    # Neither is a record without a CloudEvents header, whatever its value.
    assert not is_cloudevent(record()._replace(headers=()))
    assert is_cloudevent(record())
    assert isinstance(await decode(codec, record()), CaseSubmitted)


@pytest.mark.anyio
@pytest.mark.parametrize("on", [False, True])
async def test_caseyard_puts_ce_headers_on_what_it_publishes_only_when_asked(
    tmp_path: Path, on: bool
) -> None:
    from caseyard.app import open_app, read_records, submit
    from caseyard.settings import load_settings

    document = tmp_path / "invoice.txt"
    document.write_text("Invoice 1, total 12.00 EUR", encoding="utf-8")
    settings = load_settings(bus="memory://", data_dir=tmp_path / "data", cloudevents_headers=on)
    async with open_app(settings) as app:
        event = await submit(app, document)
        (record,) = await read_records(app, INTAKE.name)
    headers = dict(record.headers)
    if on:
        assert headers["ce_type"] == b"caseyard.CaseSubmitted"
        assert headers["ce_subject"] == event.case_id.encode()
    else:
        assert not any(name.startswith("ce_") for name in headers)
