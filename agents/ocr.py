"""OCR: the text of images (PNG, JPEG, TIFF) and of scanned PDF pages, by Tesseract.

Tesseract (Debian's ``tesseract-ocr`` with English, German, French and Spanish) runs as a
subprocess, the image on its stdin and TSV on its stdout: the same CLI pytesseract drives,
without the wrapper's temporary files, and with what a service needs around it: a timeout,
and limits checked *before* Tesseract decodes anything (the image header gives the pixel
count and the frame count; Pillow reads only that). The TSV gives each word's confidence;
their mean travels with the text (`OcrText`).

A page is read several ways and the reading with the most confidently read characters is
kept: with a global and a local threshold (photos and flat scans each fail one of them),
turned when its EXIF tag or Tesseract's orientation detection says it lies on its side, and
enlarged when its text is small (a 200-dpi scan). `bench.ocr` measures the result against
the text versions of real receipts.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

from PIL import Image, ImageOps, UnidentifiedImageError

from agents.errors import CorruptDocument, DocumentError, DocumentTooLarge

LANGUAGES = "eng+deu+fra+spa"
PAGE_SEGMENTATION = "4"
"""Tesseract's --psm: 4 reads the page as one column of lines of varying size, so a label
and its amount at the far end of a receipt or invoice line stay on one line (the default,
3, splits them into blocks: measured on real receipt scans, most totals were lost)."""
THRESHOLDS = ("0", "2")
"""Tesseract's thresholding_methods, both tried on every image; the reading with more
confidently read characters is kept (`_confident_chars`). 0, Tesseract's default, is one
global (Otsu) threshold: it turns a phone photo of a receipt on a wooden table, or one with
a shadow across it, into its header alone or nothing ("no text OCR could read"). 2 is
Sauvola's, a threshold per neighbourhood: it reads those photos whole, but breaks some flat
scans (a logo's shading, thin thermal print). On `data/real`'s OCR'd documents with field
ground truth (26), before small text was enlarged (below), fields the extractor got right
with the global threshold / Sauvola's / the more confident of the two: totals 16 / 17 /
18, dates 13 / 17 / 17, issuers 12 / 9 / 11; the price is twice Tesseract's time."""
CONFIDENT = 0.6
"""A word Tesseract is at least this sure of counts towards its reading's score."""
SMALL_TEXT_PX = 24
"""Words whose boxes are lower than this (median, in pixels) are read again enlarged to
TEXT_PX: Tesseract reads best when capitals are some 30 px high, and a receipt scanned at
200 dpi gives word boxes ~16-22 px high (at 300 dpi, 24-32). Measured with `bench.ocr` on real
receipts scanned at 200 dpi: totals 5 of 7 read as at 300 dpi, 7 of 7 once enlarged."""
TEXT_PX = 32
TURN_CONFIDENCE = 2.0
"""Tesseract's orientation confidence (``--psm 0``) from which a page it says lies on its
side or upside down is also read turned; the more confident reading is kept, because the
detection errs: a receipt scanned sideways scored 7.9, but upright ID-card specimens were
called upside down at 3.6-6.2."""
MAX_PIXELS = 40_000_000
"""Pixels per page (a 300-dpi A4 page is 8.7 million); a larger image is refused unread."""
MAX_OCR_PAGES = 20
"""Pages (TIFF frames, scanned PDF pages) read by OCR; the rest is left out."""
OMP_THREADS = "1"
"""Tesseract's OpenMP threads (``OMP_THREAD_LIMIT``) unless the environment sets another
limit. Left to itself Tesseract starts a thread per core, and they wait on each other in
the kernel: one 300-dpi receipt page took 14.2 s (7.9 s of it system time) on a 2-core
machine, 1.8 s with one thread. Pages are many and cores few: one thread each."""
PAGE_TIMEOUT_S = 60.0
"""Tesseract's time per page before the document is refused (a runaway image)."""
_EXIF_ORIENTATION = 0x0112


class OcrUnavailable(DocumentError):
    """Tesseract is not installed where the agent runs."""


@dataclass(frozen=True, slots=True)
class OcrWord:
    """A word Tesseract read, and where: its box as fractions of its page (0..1)."""

    text: str
    page: int
    """From 0, over all the images read."""
    left: float
    top: float
    width: float
    height: float
    confidence: float = 1.0
    """Tesseract's confidence in the word, 0..1."""


@dataclass(frozen=True, slots=True)
class OcrText:
    text: str
    confidence: float
    """Mean word confidence, 0..1 (Tesseract's own, per recognised word)."""
    pages: int
    words: tuple[OcrWord, ...] = ()
    """The words of `text`, in its order."""


def check_image(data: bytes) -> int:
    """The number of pages (frames) of an image, once its size is known to be safe.

    Raises:
        CorruptDocument: If the bytes are not an image Pillow knows.
        DocumentTooLarge: If a page has more than MAX_PIXELS pixels.
    """
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb warning: the limit below says it as a refusal instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header, decodes nothing
        with image:
            frames = getattr(image, "n_frames", 1)
            for frame in range(min(frames, MAX_OCR_PAGES)):
                image.seek(frame)
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise DocumentTooLarge(
                        f"the image is {width} x {height} pixels, over the limit of "
                        f"{MAX_PIXELS:,} per page"
                    )
            return int(frames)
    except DocumentError:
        raise
    except Image.DecompressionBombError as exc:
        raise DocumentTooLarge(f"the image is too large to read: {exc}") from exc
    except UnidentifiedImageError as exc:
        # Pillow's message names the in-memory file object ("<_io.BytesIO object at 0x..>").
        raise CorruptDocument(
            "the image cannot be read: its bytes are not a PNG, JPEG, TIFF, WebP, GIF or BMP "
            "image, or it is damaged"
        ) from exc
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptDocument(f"the image cannot be read: {exc}") from exc


def ocr(images: Sequence[bytes]) -> OcrText:
    """The text of `images` (pages, in order; a multi-page TIFF counts its frames).

    Raises:
        OcrUnavailable: If the tesseract command is missing.
        DocumentTooLarge: If a page is too large, or Tesseract runs out of time.
        CorruptDocument: If an image cannot be read.
    """
    texts: list[str] = []
    confidences: list[float] = []
    words: list[OcrWord] = []
    pages = 0
    for data in images:
        if pages >= MAX_OCR_PAGES:
            break
        frames = min(check_image(data), MAX_OCR_PAGES - pages)
        for page in _frames(data, frames):
            read = _read_page(page, pages)
            texts.append(read.text)
            confidences.extend(read.confidences)
            words.extend(read.words)
            pages += 1
    confidence = sum(confidences) / len(confidences) / 100 if confidences else 0.0
    text = "\n\n".join(t for t in texts if t.strip())
    return OcrText(text, round(confidence, 3), pages, tuple(words))


_TESSERACT_READS = {"PNG", "JPEG", "TIFF"}
"""Image formats handed to Tesseract as they are; others (WebP, GIF, BMP) as PNGs."""


def _frames(data: bytes, frames: int) -> list[bytes]:
    """The first `frames` pages of an image, each an image of its own (a multi-page TIFF's
    or an animated GIF's frames as PNGs), so that each is read as any page is and the page
    limit holds: handed the whole TIFF, Tesseract would read every frame, however many."""
    with Image.open(io.BytesIO(data)) as image:
        if frames == 1 and image.format in _TESSERACT_READS:
            return [data]
        pages = []
        for frame in range(frames):
            image.seek(frame)
            pages.append(_png(image))
    return pages


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _read_page(data: bytes, page: int) -> _Read:
    """One page's best reading: upright as its EXIF orientation says, also turned if
    Tesseract finds it on its side or upside down, and again enlarged if its text is small
    (each time the more confident reading is kept). Word boxes are on the page as EXIF
    shows it, not as it was turned for reading."""
    data = _upright(data)
    read = _best_read(data, page)
    turn, kept = _orientation(data), 0
    if turn:
        turned = _turned(data, turn)
        read_turned = _best_read(turned, page)
        if _confident_chars(read_turned) > _confident_chars(read):
            data, read, kept = turned, read_turned, turn
    larger = _enlarged(data, read)
    if larger is not None:
        read = max(read, _best_read(larger, page), key=_confident_chars)
    return replace(read, words=[_unturned(w, kept) for w in read.words]) if kept else read


def _upright(data: bytes) -> bytes:
    """`data` turned as its EXIF orientation says (a phone stores the sensor's pixels and a
    tag saying how to turn them; Tesseract ignores the tag), as a PNG; else unchanged."""
    with Image.open(io.BytesIO(data)) as image:
        if image.getexif().get(_EXIF_ORIENTATION, 1) == 1:
            return data
        return _png(ImageOps.exif_transpose(image))


def _orientation(data: bytes) -> int:
    """Degrees (clockwise) Tesseract's orientation detection says the page must be turned
    by; 0 if upright, unsure (below TURN_CONFIDENCE), or if detection is not installed."""
    osd = _run_tesseract(["tesseract", "stdin", "stdout", "--psm", "0"], data, check=False)
    rotate = re.search(r"^Rotate: (\d+)", osd, re.MULTILINE)
    confidence = re.search(r"^Orientation confidence: ([\d.]+)", osd, re.MULTILINE)
    if rotate is None or confidence is None or float(confidence[1]) < TURN_CONFIDENCE:
        return 0
    return int(rotate[1]) % 360


def _turned(data: bytes, degrees: int) -> bytes:
    """`data` turned `degrees` clockwise, as a PNG."""
    with Image.open(io.BytesIO(data)) as image:
        return _png(image.rotate(-degrees, expand=True))


def _unturned(word: OcrWord, degrees: int) -> OcrWord:
    """`word`'s box on the page before it was turned `degrees` clockwise (boxes are
    fractions of their page, so a quarter turn swaps width and height)."""
    left, top, width, height = word.left, word.top, word.width, word.height
    if degrees == 90:
        return replace(word, left=top, top=1 - left - width, width=height, height=width)
    if degrees == 180:
        return replace(word, left=1 - left - width, top=1 - top - height)
    if degrees == 270:
        return replace(word, left=1 - top - height, top=left, width=height, height=width)
    return word


def _best_read(data: bytes, page: int) -> _Read:
    """The reading of page `data` with the more confident of Tesseract's thresholds."""
    return max(
        (_from_tsv(_tesseract(data, m), page) for m in THRESHOLDS),
        key=_confident_chars,
    )


def _enlarged(data: bytes, read: _Read) -> bytes | None:
    """`data` enlarged so its words are TEXT_PX high, as a PNG, if `read` found them small
    (None if not, or if the enlarged page would be over MAX_PIXELS)."""
    if not read.heights_px:
        return None
    height = sorted(read.heights_px)[len(read.heights_px) // 2]
    if height >= SMALL_TEXT_PX:
        return None
    scale = TEXT_PX / max(height, 1.0)
    with Image.open(io.BytesIO(data)) as image:
        size = (round(image.width * scale), round(image.height * scale))
        if size[0] * size[1] > MAX_PIXELS:
            return None
        return _png(image.convert("L").resize(size, Image.Resampling.LANCZOS))


def _tesseract(data: bytes, thresholding: str) -> str:
    """Tesseract's TSV of page `data`, binarised with `thresholding` (see THRESHOLDS)."""
    command = ["tesseract", "stdin", "stdout", "-l", LANGUAGES, "--psm", PAGE_SEGMENTATION]
    command += ["-c", f"thresholding_method={thresholding}", "tsv"]
    return _run_tesseract(command, data)


def _run_tesseract(command: list[str], data: bytes, *, check: bool = True) -> str:
    """Tesseract's output for page `data`; a failure raises if `check`, else gives ""."""
    try:
        done = subprocess.run(
            command,
            input=data,
            capture_output=True,
            timeout=PAGE_TIMEOUT_S,
            env={"OMP_THREAD_LIMIT": OMP_THREADS, **os.environ},
        )
    except FileNotFoundError as exc:
        raise OcrUnavailable(
            "OCR needs Tesseract, which is not installed here (Debian: apt install "
            "tesseract-ocr tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise DocumentTooLarge(f"OCR took longer than {PAGE_TIMEOUT_S:g} s; refused") from exc
    if done.returncode != 0:
        if not check:
            return ""
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise CorruptDocument(
            f"OCR failed: {why[-1] if why else 'tesseract exit ' + str(done.returncode)}"
        )
    return done.stdout.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class _Read:
    text: str
    confidences: list[float]
    """Each recognised word's, 0..100."""
    words: list[OcrWord]
    heights_px: list[float]
    """Each recognised word's box height, in pixels."""


def _confident_chars(read: _Read) -> int:
    """How much of the page a reading got: the characters of its confident words."""
    return sum(len(w.text) for w in read.words if w.confidence >= CONFIDENT)


def _from_tsv(tsv: str, first_page: int = 0) -> _Read:
    """Lines of words as Tesseract laid them out (a blank line between blocks), each
    recognised word's confidence, and each word's box on its page (pages numbered from
    `first_page`)."""
    lines: dict[tuple[str, str, str, str], list[OcrWord]] = {}
    confidences: list[float] = []
    heights: list[float] = []
    sizes: dict[str, tuple[int, int]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        try:
            left, top, width, height = (int(row[k]) for k in ("left", "top", "width", "height"))
        except (KeyError, TypeError, ValueError):
            continue
        if row.get("level") == "1":  # the page: the size the boxes are in
            sizes[row["page_num"]] = (max(width, 1), max(height, 1))
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        page_width, page_height = sizes.get(row["page_num"], (1, 1))
        key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
        try:
            confidence = float(row.get("conf") or -1)
        except ValueError:
            confidence = -1
        if confidence >= 0:
            confidences.append(confidence)
            heights.append(float(height))
        lines.setdefault(key, []).append(
            OcrWord(
                word,
                first_page + int(row["page_num"]) - 1,
                left / page_width,
                top / page_height,
                width / page_width,
                height / page_height,
                round(min(confidence, 100.0) / 100, 3) if confidence >= 0 else 0.0,
            )
        )
    out: list[str] = []
    words: list[OcrWord] = []
    block: tuple[str, str, str] | None = None
    for (page, number, paragraph, _), line in lines.items():
        if block is not None and (page, number, paragraph) != block:
            out.append("")
        block = (page, number, paragraph)
        out.append(" ".join(w.text for w in line))
        words.extend(line)
    return _Read("\n".join(out), confidences, words, heights)
