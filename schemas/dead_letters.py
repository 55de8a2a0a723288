"""Dead letters: messages that could not be processed, kept with why, for redrive."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from schemas.envelope import Event


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
