"""The original document as a reviewer sees it: PDF pages rendered to PNG (pdfium, the
engine Chrome uses), and the extracted fields marked where they were found: in the text,
and on the page of a scanned image (the boxes of the words OCR read there)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pypdfium2  # type: ignore[import-untyped]
from PIL import Image

from agents.documents import TextBox
from agents.errors import CorruptDocument
from schemas import ExtractedField

MAX_PAGES = 20
"""Pages a task page shows (the reader OCRs and reads as many)."""
SCALE = 1.5
"""108 dpi: a page fills a wide screen and stays sharp enough to read figures."""
MAX_PIXELS = 20_000_000
"""A page larger than this at `SCALE` (a poster, a hostile MediaBox) is not rendered."""

INLINE = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain"})
"""Media types shown in the browser; any other original is offered as a download."""


def page_count(data: bytes) -> int:
    """How many pages of a PDF the task page shows (0 if it cannot be opened)."""
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return 0
    try:
        return min(len(pdf), MAX_PAGES)
    finally:
        pdf.close()


def page_png(data: bytes, number: int) -> bytes:
    """Page `number` (from 1) of a PDF as PNG.

    Raises:
        IndexError: No such page among the first `MAX_PAGES`.
        CorruptDocument: The PDF cannot be opened or the page is too large to render.
    """
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise CorruptDocument(f"the PDF cannot be opened: {exc}") from exc
    try:
        if not 1 <= number <= min(len(pdf), MAX_PAGES):
            raise IndexError(number)
        page = pdf[number - 1]
        width, height = page.get_size()
        if width * height * SCALE * SCALE > MAX_PIXELS:
            raise CorruptDocument(f"page {number} is {width:.0f}x{height:.0f} points: too large")
        image: Image.Image = page.render(scale=SCALE).to_pil()
        out = io.BytesIO()
        image.save(out, "PNG", optimize=False)
        return out.getvalue()
    finally:
        pdf.close()


def marked(text: str, fields: Sequence[ExtractedField]) -> list[tuple[str, str | None]]:
    """`text` cut into parts, each with the name of the field found there (None between
    fields): what the page marks. Overlapping spans keep the first."""
    spans = sorted(
        (f.span.start, f.span.end, f.name)
        for f in fields
        if f.span is not None and f.span.end <= len(text) and f.span.start < f.span.end
    )
    parts: list[tuple[str, str | None]] = []
    at = 0
    for start, end, name in spans:
        if start < at:
            continue
        if start > at:
            parts.append((text[at:start], None))
        parts.append((text[start:end], name))
        at = end
    if at < len(text):
        parts.append((text[at:], None))
    return parts


def boxed(boxes: Sequence[TextBox], fields: Sequence[ExtractedField]) -> list[tuple[str, TextBox]]:
    """Each word box a field's span covers, with the field's name: what the page image of
    a scan highlights."""
    found: list[tuple[str, TextBox]] = []
    for field in fields:
        if field.span is None:
            continue
        start, end = field.span.start, field.span.end
        found.extend((field.name, b) for b in boxes if b.start < end and start < b.end)
    return found
