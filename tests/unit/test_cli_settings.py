"""Settings whose defaults must agree with the parts they configure."""

from __future__ import annotations

from agents.documents import MAX_DOCUMENT_BYTES
from caseyard.settings import Settings


def test_submit_accepts_no_larger_document_than_the_agents_read() -> None:
    assert Settings().max_document_bytes == MAX_DOCUMENT_BYTES
