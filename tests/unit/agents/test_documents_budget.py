"""A document whose parse runs past its budget is refused, not retried, and the parse is
stopped (its worker process killed); the next document parses as usual."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agents.documents import read_text_bounded
from agents.errors import DocumentTooLarge, EmptyDocument

pytestmark = pytest.mark.anyio

PDF = (
    Path(__file__).resolve().parents[3] / "examples" / "documents" / "invoice_nordwind_2025-118.pdf"
)


async def test_a_parse_past_its_budget_is_refused_and_the_next_one_works() -> None:
    data = PDF.read_bytes()
    with pytest.raises(DocumentTooLarge, match=r"took longer than 0\.001 s: refused") as refused:
        await read_text_bounded(data, "application/pdf", budget_s=0.001)
    assert not refused.value.retryable
    text = await read_text_bounded(data, "application/pdf")
    assert "Nordwind" in text or "nordwind" in text.lower()


async def test_the_parser_s_own_refusals_come_back_as_they_are() -> None:
    with pytest.raises(EmptyDocument, match="the text/plain document is empty"):
        await read_text_bounded(b"   ", "text/plain")


@pytest.mark.skipif(sys.platform != "linux", reason="the memory allowance is Linux's data limit")
async def test_a_parse_that_needs_more_memory_than_allowed_is_refused_and_the_next_works() -> None:
    # 12 MB of text (under the size limit) becomes a str of 12+ MB: more than 4 MiB.
    data = b"invoice total 12.50 EUR\n" * 500_000
    with pytest.raises(DocumentTooLarge, match=r"needed more than 4 MiB: refused") as refused:
        await read_text_bounded(data, "text/plain", memory_bytes=4 * 2**20)
    assert not refused.value.retryable
    # The worker got its memory back: the same document reads with the default allowance.
    text = await read_text_bounded(data, "text/plain")
    assert text.startswith("invoice total 12.50 EUR")
