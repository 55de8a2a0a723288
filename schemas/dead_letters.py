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
