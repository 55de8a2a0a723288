"""Dead letters: messages that could not be processed, kept with why, for redrive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from schemas.envelope import Event, Producer


class DeadLetter(Event):
    """A message that failed for good, with its original bytes and where it came from.

    ``case_id`` is the original message key when it could be read.
    """

    event_type: ClassVar[str] = "DeadLetter"

    reason: str = Field(description="One line saying why, e.g. 'decode failed'.")
    error_class: str = Field(min_length=1)
    message: str
    source_topic: str = Field(min_length=1)
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)
    original_key: bytes | None = None
    original_value: bytes
    original_headers: Mapping[str, bytes] = Field(default_factory=dict)
    attempts: int = Field(ge=1)


DLQ_REASON = "dlq.reason"
DLQ_ERROR_CLASS = "dlq.error_class"
DLQ_MESSAGE = "dlq.message"
DLQ_ATTEMPTS = "dlq.attempts"
DLQ_SOURCE = "dlq.source"
DLQ_CASE_ID = "dlq.case_id"
DLQ_TRACE_ID = "dlq.trace_id"
DLQ_REDRIVEN_FROM = "dlq.redriven_from"
"""Header of a record redriven from the dead-letter topic (`caseyard dlq redrive`): the
dead letter's id. Its consumer handles it anew instead of replaying a recorded outcome."""


def dead_letter_headers(letter: DeadLetter, trace_id: str | None) -> tuple[tuple[str, bytes], ...]:
    """The reason headers every dead-letter record carries, readable without decoding it."""
    source = f"{letter.source_topic}/{letter.source_partition}/{letter.source_offset}"
    return (
        (DLQ_REASON, letter.reason.encode()),
        (DLQ_ERROR_CLASS, letter.error_class.encode()),
        (DLQ_MESSAGE, letter.message[:1000].encode()),
        (DLQ_ATTEMPTS, str(letter.attempts).encode()),
        (DLQ_SOURCE, source.encode()),
        (DLQ_CASE_ID, letter.case_id.encode()),
        (DLQ_TRACE_ID, (trace_id or "").encode()),
    )


def dead_letter(
    *,
    reason: str,
    error_class: str,
    message: str,
    source: tuple[str, int, int],
    key: bytes | None,
    value: bytes,
    headers: Sequence[tuple[str, bytes]],
    attempts: int,
    producer: Producer,
    occurred_at: datetime,
    event: Event | None = None,
) -> DeadLetter:
    """The dead letter of a record (`source` = topic, partition, offset) that failed.

    `event` is the decoded record when decoding worked; else the case comes from the key.
    """
    case_id = event.case_id if event else (key or b"").decode(errors="replace") or "unknown"
    return DeadLetter(
        case_id=case_id,
        correlation_id=event.correlation_id if event else case_id,
        causation_id=event.event_id if event else None,
        occurred_at=occurred_at,
        producer=producer,
        reason=reason,
        error_class=error_class,
        message=message or error_class,
        source_topic=source[0],
        source_partition=source[1],
        source_offset=source[2],
        original_key=key,
        original_value=value,
        original_headers=dict(headers),
        attempts=attempts,
    )
