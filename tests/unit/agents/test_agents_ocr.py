"""OCR with the real Tesseract: images and scanned PDFs made from the sample documents
read back to text the models use; oversized, corrupt and unreadable images are refused
with a typed, non-retryable error. Without Tesseract these skip, unless
CASEYARD_REQUIRE_TOOLS=1 (set by `make test`) makes that a failure."""

from __future__ import annotations

import io
import os
import random
import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pypdfium2  # type: ignore[import-untyped]
import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps

from agents import ocr as agents_ocr
from agents._work import document_text
from agents.documents import read_text, read_text_boxes
from agents.errors import CorruptDocument, DocumentTooLarge, EmptyDocument
from agents.models.extractor import extract
from agents.ocr import MAX_PIXELS, ocr
from agents.router import Router
from agents.spec import AgentContext
from schemas import BlobStore, DocumentRef, Producer, TaskInput, TaskRequested

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "examples" / "documents"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")

if shutil.which("tesseract") is None:
    if os.environ.get("CASEYARD_REQUIRE_TOOLS") == "1":
        pytest.fail("CASEYARD_REQUIRE_TOOLS=1 but tesseract is not installed", pytrace=False)
    pytest.skip(
        "tesseract is not installed (scripts/test-tools installs it)", allow_module_level=True
    )


def scan(text: str, *, fmt: str = "PNG", size: int = 40) -> bytes:
    """The text printed on white paper at about 300 dpi, as a scanner would save it."""
    font = ImageFont.truetype(str(FONT), size)
    lines = text.splitlines()
    width = max(int(font.getlength(line)) for line in lines) + 2 * size
    image = Image.new("L", (width, (len(lines) + 2) * int(size * 1.5)), 255)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines, start=1):
        draw.text((size, n * int(size * 1.5)), line, font=font, fill=0)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def test_a_scanned_receipt_reads_back_with_its_total() -> None:
    original = (SAMPLES / "receipt_cafe_kiosk.txt").read_text(encoding="utf-8")
    text = read_text(scan(original), "image/png")
    assert "KAFFEEKIOSK" in text and "004417" in text

    def found(text: str) -> set[tuple[str, str | None]]:
        return {(f.name, f.normalized) for f in extract(text).fields}

    # What the extractor finds in the text version it finds in the scan (and the total,
    # 11.20 EUR as examples/documents/EXPECTED.json says, which OCR's tidier spacing helps).
    assert found(original) <= found(text)
    assert ("total_amount", "11.20 EUR") in found(text)


def test_a_scanned_invoice_as_jpeg_and_as_an_image_only_pdf() -> None:
    original = (SAMPLES / "invoice_brightwater_0457.txt").read_text(encoding="utf-8")
    image = scan(original, fmt="JPEG")
    pdf = io.BytesIO()
    Image.open(io.BytesIO(image)).save(pdf, "PDF", resolution=300)
    for data, media_type in ((image, "image/jpeg"), (pdf.getvalue(), "application/pdf")):
        text = read_text(data, media_type)
        assert "BW-0457" in text, media_type
        assert "GB29 NWBK 6016 1331 9268 19" in text or "GB29NWBK60161331926819" in text


@pytest.mark.parametrize(
    ("fmt", "media_type"), [("WEBP", "image/webp"), ("GIF", "image/gif"), ("BMP", "image/bmp")]
)
def test_a_scan_saved_as_webp_gif_or_bmp_is_read_as_a_png_is(fmt: str, media_type: str) -> None:
    """Tesseract is handed PNG, JPEG and TIFF as they are, other formats as PNG pages."""
    image = scan("Beleg 004417\nSUMME EUR 11,20", fmt=fmt)
    assert Image.open(io.BytesIO(image)).format == fmt
    text = read_text(image, media_type)
    assert "004417" in text and "11,20" in text


def test_a_scan_attached_to_an_e_mail_is_its_text() -> None:
    """Its text, not the OCR result's record of words and boxes; a type a mail client
    names its own way ("image/jpg") read by the file's name."""
    message = EmailMessage()
    message["Subject"] = "Receipt"
    message.set_content("Attached.")
    message.add_attachment(scan("Beleg 004417"), maintype="image", subtype="png", filename="a.png")
    jpeg = scan("SUMME EUR 11,20", fmt="JPEG")
    message.add_attachment(jpeg, maintype="image", subtype="jpg", filename="b.jpg")
    text = read_text(message.as_bytes(), "message/rfc822")
    assert "--- attachment: a.png ---\nBeleg 004417" in text
    assert "--- attachment: b.jpg ---\nSUMME EUR 11,20" in text
    assert "OcrText(" not in text and "OcrWord(" not in text


def test_each_word_of_a_scan_is_placed_where_it_was_printed() -> None:
    """The boxes say where on the page the characters of the text were read: the total's
    amount is on the third of the four text lines, right of its label."""
    image = scan("Kaffeekiosk am Markt\nBeleg 004417\nSUMME EUR 11,20\nDanke")
    text, boxes = read_text_boxes(image, "image/png")
    start = text.index("11,20")
    (amount,) = [b for b in boxes if b.start <= start < b.end]
    assert text[amount.start : amount.end] == "11,20"
    (label,) = [b for b in boxes if text[b.start : b.end] == "SUMME"]
    assert amount.page == label.page == 0
    assert abs(amount.top - label.top) < 0.02, "one printed line"
    assert amount.left > label.left + label.width
    # Line 3 of 4 with a blank line above and below: its top is at 3/6 of the height.
    assert 0.45 < amount.top < 0.55 and 0 < amount.height < 0.15
    assert all(0 <= b.left < 1 and 0 <= b.top < 1 for b in boxes)
    assert read_text_boxes(b"Total 12.00 EUR", "text/plain")[1] == ()


def test_a_scan_whose_text_layer_garbles_its_words_is_read_again() -> None:
    # A real receipt (data/real, CC0) that a scanner saved with its own OCR under the image:
    # "0٢de٢ number: 427", "RẹstaurạntBijlmerplein". Tesseract reads the page instead.
    data = (ROOT / "data/real/files/jw-my-receipts/2023__nl__kfc_20230426.pdf").read_bytes()
    text = read_text(data, "application/pdf")
    assert "KFC Restaurant Bijlmerplein" in text
    assert "20/04/2023" in text
    assert "\u0662" not in text  # the layer's Arabic-Indic two
    assert {"total_amount": "12.80 EUR"}.items() <= {
        f.name: f.normalized for f in extract(text).fields
    }.items()


def test_ocr_reports_pages_and_a_confidence() -> None:
    result = ocr([scan("Invoice 2026-014\nTotal 3,360.00 USD"), scan("Page two")])
    assert result.pages == 2
    assert 0.5 < result.confidence <= 1.0
    assert "Page two" in result.text


def test_each_word_carries_how_sure_ocr_was_of_it() -> None:
    """The document's confidence is the mean of its words'; each box keeps its word's, so
    the extractor can cap a field by the words it was read from."""
    result = ocr([scan("Kaffeekiosk am Markt\nSUMME EUR 11,20")])
    assert result.words and all(0 < w.confidence <= 1 for w in result.words)
    mean = sum(w.confidence for w in result.words) / len(result.words)
    assert abs(mean - result.confidence) < 0.01
    text, boxes = read_text_boxes(scan("SUMME EUR 11,20"), "image/png")
    assert [b.confidence for b in boxes] == [
        w.confidence for w in ocr([scan("SUMME EUR 11,20")]).words
    ]
    assert text.startswith("SUMME")


def test_a_multi_page_tiff_is_read_page_by_page() -> None:
    pages = [Image.open(io.BytesIO(scan(f"Page {n} of the claim"))) for n in (1, 2, 3)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    result = ocr([out.getvalue()])
    assert result.pages == 3
    assert all(f"Page {n}" in result.text for n in (1, 2, 3))


def test_a_tiff_with_more_frames_than_the_page_limit_is_read_to_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every frame is read as a page of its own, so the limit holds for Tesseract too
    (handed the whole TIFF, it read every frame, however many the limit allowed)."""
    monkeypatch.setattr(agents_ocr, "MAX_OCR_PAGES", 2)
    pages = [Image.open(io.BytesIO(scan(f"Page {n} of the claim"))) for n in (1, 2, 3)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    result = ocr([out.getvalue()])
    assert result.pages == 2
    assert "Page 2" in result.text and "Page 3" not in result.text
    assert {w.page for w in result.words} == {0, 1}


REAL = ROOT / "data" / "real" / "files"


def total_of(text: str) -> str | None:
    return next((f.normalized for f in extract(text).fields if f.name == "total_amount"), None)


@pytest.mark.parametrize(
    ("photo", "total"),
    [
        # A phone photo on a wooden table: one global threshold reads only its header.
        ("azure-docintel/receipt-french.png", "21.00"),
        # A flat scan of thin thermal print: a threshold per neighbourhood breaks it up.
        ("softmatic-receipts/ikea_08102016_12_13439.jpg", "134.39 EUR"),
    ],
)
def test_photos_and_flat_scans_of_real_receipts_read_their_totals(photo: str, total: str) -> None:
    """Each image is read with both of Tesseract's thresholds and the reading with more
    confidently read characters is kept: each of these two real receipts loses its total
    to one of them."""
    assert total_of(read_text((REAL / photo).read_bytes(), "image/png")) == total


def test_a_receipt_scanned_at_200_dpi_is_read_enlarged() -> None:
    """A real receipt PDF rendered at 200 dpi and saved as a scanner saves it (an image-only
    PDF): its words are too small for Tesseract, so they are read again enlarged, and its
    total comes back as from the text layer (at the scan's own size it is lost)."""
    ebon = (REAL / "rewe-ebon" / "webD97-1.pdf").read_bytes()
    assert total_of(read_text(ebon, "application/pdf")) == "13.05 EUR"
    pages = [
        page.render(scale=200 / 72, grayscale=True).to_pil().convert("L")
        for page in pypdfium2.PdfDocument(ebon)
    ]
    scan = io.BytesIO()
    pages[0].save(scan, "PDF", save_all=True, append_images=pages[1:], resolution=200)
    assert total_of(read_text(scan.getvalue(), "application/pdf")) == "13.05 EUR"


def test_a_receipt_scanned_sideways_is_read_turned() -> None:
    """A real receipt scanned lying on its side (a scanned PDF, no EXIF tag to say so):
    Tesseract's orientation detection says turn it, and the turned reading is kept."""
    pdf = (REAL / "receipt-parser-legacy" / "IMG0001.pdf").read_bytes()
    assert total_of(read_text(pdf, "application/pdf")) == "0.99 EUR"


def test_the_words_of_a_page_read_turned_are_placed_on_the_page_as_stored() -> None:
    """The boxes say where the words are on the page as the reviewer sees it (stored
    sideways), not on the page turned for reading."""
    text = (SAMPLES / "invoice_brightwater_0457.txt").read_text(encoding="utf-8")
    upright = scan(text)
    sideways = io.BytesIO()
    Image.open(io.BytesIO(upright)).rotate(90, expand=True).save(sideways, "PNG")

    def box(words: tuple[agents_ocr.OcrWord, ...]) -> tuple[float, float, float, float]:
        word = next(w for w in words if w.text == "BW-0457")
        return word.left, word.top, word.width, word.height

    left, top, width, height = box(ocr([upright]).words)
    # A quarter turn anticlockwise: the upright page's (x, y) is the stored page's (y, 1 - x).
    expected = (top, 1 - left - width, height, width)
    got = box(ocr([sideways.getvalue()]).words)
    assert all(abs(a - b) < 0.01 for a, b in zip(got, expected, strict=True)), (got, expected)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_box_on_a_turned_page_maps_back_to_the_stored_page(degrees: int) -> None:
    page = Image.new("L", (400, 300), 255)
    ImageDraw.Draw(page).rectangle((40, 200, 139, 229), fill=0)  # 100 x 30 px at (40, 200)
    turned = ImageOps.invert(page.rotate(-degrees, expand=True))  # clockwise, as the reader
    left, top, right, bottom = cast(tuple[int, int, int, int], turned.getbbox())
    w, h = turned.size
    word = agents_ocr.OcrWord("x", 0, left / w, top / h, (right - left) / w, (bottom - top) / h)
    back = agents_ocr._unturned(word, degrees)
    assert (back.left, back.top, back.width, back.height) == pytest.approx(
        (40 / 400, 200 / 300, 100 / 400, 30 / 300)
    )


def test_a_phone_photo_is_read_as_its_exif_orientation_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A phone stores the sensor's pixels and a tag saying how to turn them (6: a quarter
    turn clockwise); Tesseract ignores the tag. Orientation detection is switched off here,
    so only the tag can turn the page."""
    monkeypatch.setattr(agents_ocr, "TURN_CONFIDENCE", float("inf"))
    upright = Image.open(io.BytesIO(scan("Invoice 2026-014\nTotal 3,360.00 USD")))
    sideways = upright.rotate(90, expand=True)  # as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = io.BytesIO()
    sideways.save(photo, "JPEG", exif=exif.tobytes())
    assert "3,360.00" in read_text(photo.getvalue(), "image/jpeg")
    untagged = io.BytesIO()
    sideways.save(untagged, "JPEG")
    assert "3,360.00" not in ocr([untagged.getvalue()]).text


def test_a_huge_image_is_refused_before_it_is_decoded() -> None:
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(out, "PNG")  # 100 megapixels, a small file
    with pytest.raises(DocumentTooLarge, match=f"over the limit of {MAX_PIXELS:,}"):
        read_text(out.getvalue(), "image/png")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, CorruptDocument),
        (b"GIF89a not really", CorruptDocument),
    ],
)
def test_corrupt_images_are_refused(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        read_text(data, "image/png")


def test_a_blank_scan_has_no_text() -> None:
    out = io.BytesIO()
    Image.new("L", (800, 600), 255).save(out, "PNG")
    with pytest.raises(EmptyDocument, match="no text OCR could read"):
        read_text(out.getvalue(), "image/png")


class CountingBlobs(BlobStore):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def get(self, ref: DocumentRef) -> bytes:
        self.reads.append(ref.sha256)
        return super().get(ref)


def task_for(step: str, ref: DocumentRef) -> TaskRequested:
    now = datetime.now(UTC)
    return TaskRequested(
        case_id="c",
        correlation_id="c",
        occurred_at=now,
        producer=Producer(service="test", version="1"),
        task_id=f"c/{step}/1.1",
        step=step,
        capability=step,
        attempt=1,
        input=TaskInput(document=ref),
        deadline=now + timedelta(minutes=1),
    )


@pytest.mark.anyio
async def test_the_agents_of_one_process_read_a_scan_once(tmp_path: Path) -> None:
    blobs = CountingBlobs(tmp_path / "blobs")
    ref = blobs.put(scan("Invoice 2026-014\nTotal 3,360.00 USD"), "image/png")
    context = AgentContext(
        blobs=blobs,
        router=cast(Router, None),  # not asked: reading the text calls no model
        state_dir=tmp_path,
        producer=Producer(service="test", version="1"),
    )
    steps = ("classify", "extract", "score", "respond")
    texts = [await document_text(context, task_for(step, ref)) for step in steps]
    assert len(set(texts)) == 1 and "2026-014" in texts[0]
    assert blobs.reads == [ref.sha256]  # read, and OCR'd, once


def speckled(data: bytes, share: float, seed: int = 3) -> bytes:
    """A scan with `share` of its pixels flipped to black or white (dust, a bad copier)."""
    image = Image.open(io.BytesIO(data))
    pixels, rng = image.load(), random.Random(seed)
    assert pixels is not None
    for x in range(image.width):
        for y in range(image.height):
            if rng.random() < share:
                pixels[x, y] = 0 if rng.random() < 0.5 else 255
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.anyio
async def test_the_extractor_caps_a_scanned_field_by_the_ocr_of_its_words(
    tmp_path: Path,
) -> None:
    """The extractor agent on a speckled scan: each field is no surer than OCR was of the
    words under its span, and some are less sure than the rules alone would say."""
    from agents.extractor import local_models, work
    from agents.router import LocalProvider, Route
    from agents.spec import ModelPlace

    blobs = CountingBlobs(tmp_path / "blobs")
    # Speckled enough that OCR is less sure of a word under the total (~0.76) than the
    # calibrated rule is of the total (0.853), and still reads it.
    image = speckled(scan("Kaffeekiosk am Markt\nBeleg 004417\nSUMME EUR 11,20\nDanke"), 0.085)
    ref = blobs.put(image, "image/png")
    models = local_models(ModelPlace(cache_dir=tmp_path, state_dir=tmp_path))
    router = Router(
        [LocalProvider(models, offload=False)], {"extract": [Route("local", next(iter(models)))]}
    )
    context = AgentContext(
        blobs=blobs, router=router, state_dir=tmp_path, producer=Producer(service="t", version="1")
    )
    outcome = await work(context)(task_for("extract", ref))
    text, boxes = read_text_boxes(image, "image/png")
    by_rules = {f.name: f for f in extract(text).fields}
    lowered = 0
    for field in outcome.output.fields:  # type: ignore[union-attr]
        rules = by_rules[field.name]
        assert field.span == rules.span and field.value == rules.value
        span = field.span
        assert span is not None
        under = [b.confidence for b in boxes if b.start < span.end and b.end > span.start]
        assert field.confidence == min(rules.confidence, *under)
        lowered += field.confidence < rules.confidence
    assert lowered >= 1
