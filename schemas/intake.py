"""Intake: a document enters the system and becomes a case."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from schemas.blobs import DocumentRef
from schemas.envelope import Event


class CaseSubmitted(Event):
    """A document was submitted for processing (CLI, API or an upstream producer)."""

    event_type: ClassVar[str] = "CaseSubmitted"

    source: str = Field(min_length=1, description="Who submitted it, e.g. 'cli' or 'api'.")
    document: DocumentRef
    metadata: Mapping[str, str] = Field(
        default_factory=dict, description="Free-form submitter metadata."
    )
    pipeline: str | None = Field(
        default=None, description="Pipeline to run; None lets the coordinator choose."
    )
