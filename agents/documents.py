"""Turn a case document (bytes + media type) into plain text for the models.

Readers exist for plain text (``text/*``), e-mail (``message/rfc822``, and Outlook's
``.msg``: ``agents.outlook``), PDF (``application/pdf``, via pypdf; a PDF without a text
layer, a scan, goes through OCR, and so does a scan whose text layer garbles its words),
images (PNG, JPEG, TIFF, WebP, GIF, BMP: OCR, ``agents.ocr``), HTML (``text/html``, via
the stdlib parser), office documents (DOCX, ODT, XLSX, ODS: ``agents.office``) and XML
(e-invoices' data as labelled lines, ``agents.einvoice``; a Factur-X or ZUGFeRD PDF's
embedded e-invoice is read before its pages). An e-mail yields its From/To/Subject/Date
headers, its body (text/plain preferred, HTML converted otherwise) and the text of
readable attachments, because invoices usually travel as PDF attachments. Anything
unusable raises a non-retryable `DocumentError`.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import io
import logging
import mimetypes
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from email.message import EmailMessage, Message
from html.parser import HTMLParser

import anyio.to_process
from charset_normalizer import from_bytes as detect_charset
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import DictionaryObject

from agents.einvoice import einvoice_text, not_on_the_page, xml_text
from agents.errors import (
    CorruptDocument,
    DocumentError,
    DocumentTooLarge,
    EmptyDocument,
    UnsupportedMediaType,
)
from agents.ocr import MAX_OCR_PAGES, OcrText, OcrWord, ocr
from agents.office import DOCX, ODS, ODT, XLSX, docx_text, ods_text, odt_text, xlsx_text
from agents.outlook import MSG, OutlookMessage, read_msg

log = logging.getLogger(__name__)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_PDF_PAGES",
    "MAX_PDF_PAGE_COUNT",
    "MAX_TEXT_CHARS",
    "PARSE_BUDGET_S",
    "PARSE_MEMORY_BYTES",
    "TextBox",
    "html_to_text",
    "media_type_for",
    "read_text",
    "read_text_bounded",
    "read_text_boxes",
    "read_text_boxes_bounded",
]

MAX_PDF_PAGES = 100
"""Pages read from a PDF; more would only slow the agent down, not change the decision."""

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
"""Larger documents are refused before parsing (DocumentTooLarge, not retried): a 50 MB
text file took gigabytes and minutes per attempt."""

MAX_PDF_PAGE_COUNT = 2_000
"""A PDF whose page tree declares more pages is refused before any page is read."""

MAX_TEXT_CHARS = 500_000
"""The text budget of one document: what is read stops there (PDF pages included), and
models see at most this much."""

_EXTRA_TYPES = {
    # What Python's own table may not know (it learns the rest from the system's
    # /etc/mime.types, which a slim container image lacks).
    ".eml": "message/rfc822",
    ".msg": MSG,
    ".docx": DOCX,
    ".odt": ODT,
    ".xlsx": XLSX,
    ".ods": ODS,
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".md": "text/markdown",
    ".htm": "text/html",
    ".isdoc": "application/xml",  # the Czech e-invoice, UBL-like
}
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_EMAIL_TYPES = {"message/rfc822"}
_PDF_TYPES = {"application/pdf", "application/x-pdf"}
_IMAGE_TYPES = {"image/png", "image/jpeg", "image/tiff", "image/webp", "image/gif", "image/bmp"}
_XML_TYPES = {"application/xml", "text/xml"}
_HEADERS = ("From", "To", "Cc", "Date", "Subject")


def media_type_for(filename: str) -> str:
    """Guess a file's media type from its name (``.eml`` -> ``message/rfc822``).

    Raises:
        UnsupportedMediaType: If the extension is unknown.
    """
    lowered = filename.lower()
    for suffix, media_type in _EXTRA_TYPES.items():
        if lowered.endswith(suffix):
            return media_type
    guessed, _ = mimetypes.guess_type(lowered, strict=False)
    if guessed is None:
        raise UnsupportedMediaType(f"cannot tell the media type of {filename!r}")
    return guessed


PARSE_BUDGET_S = 120.0
"""How long getting a document's text may take (OCR of a long scan included) before the
document is refused: a parser trap or a decompression bomb costs this once, not a step's
every attempt. Above the time a legitimate 20-page scan takes on a busy machine."""


PARSE_MEMORY_BYTES = 1024**3
"""How much memory reading one document may take on top of what the worker holds (Linux:
its data limit, which OCR's tesseract inherits). Legitimate scans take a few hundred MB."""


async def read_text_bounded(
    data: bytes,
    media_type: str,
    budget_s: float = PARSE_BUDGET_S,
    memory_bytes: int = PARSE_MEMORY_BYTES,
) -> str:
    """`read_text` in a worker process that is killed when it runs past `budget_s` and
    refused memory beyond `memory_bytes` more (on Linux).

    Raises:
        DocumentTooLarge: A budget ran out (not retryable: the same bytes would again).
        DocumentError: As `read_text`.
    """
    text, _ = await read_text_boxes_bounded(data, media_type, budget_s, memory_bytes)
    return text


async def read_text_boxes_bounded(
    data: bytes,
    media_type: str,
    budget_s: float = PARSE_BUDGET_S,
    memory_bytes: int = PARSE_MEMORY_BYTES,
) -> tuple[str, tuple[TextBox, ...]]:
    """`read_text_boxes` within the budgets of `read_text_bounded`.

    Raises:
        As `read_text_bounded`.
    """
    try:
        with anyio.fail_after(budget_s):
            return await anyio.to_process.run_sync(
                _read_text_capped, data, media_type, memory_bytes, cancellable=True
            )
    except TimeoutError:
        base, _ = _parse_media_type(media_type)
        raise DocumentTooLarge(
            f"reading the {base} document took longer than {budget_s:g} s: refused "
            "(a parser trap or a decompression bomb; the parse was stopped)"
        ) from None


def _read_text_capped(
    data: bytes, media_type: str, memory_bytes: int
) -> tuple[str, tuple[TextBox, ...]]:
    """`read_text_boxes` with the process's data limit at `memory_bytes` above its present
    size (restored afterwards: the worker needs its memory back to take the next one)."""
    if sys.platform != "linux":
        return read_text_boxes(data, media_type)
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = _data_bytes() + memory_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        return read_text_boxes(data, media_type)
    except MemoryError:
        base, _ = _parse_media_type(media_type)
        raise DocumentTooLarge(
            f"reading the {base} document needed more than {memory_bytes / 2**20:,.0f} MiB: "
            "refused (a decompression bomb or a parser trap)"
        ) from None
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _data_bytes() -> int:
    """What the kernel counts against this process's data limit now (VmData)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def read_text(data: bytes, media_type: str) -> str:
    """Return the plain text of a document.

    Args:
        data: The document's bytes.
        media_type: Its IANA media type; parameters such as ``charset`` are honoured.

    Raises:
        EmptyDocument: If there are no bytes or no text in them.
        UnsupportedMediaType: If no reader handles ``media_type``.
        CorruptDocument: If the bytes do not parse as ``media_type``.
    """
    return read_text_boxes(data, media_type)[0]


@dataclass(frozen=True, slots=True)
class TextBox:
    """Where characters `start` to `end` (exclusive) of a document's text were read on
    its page `page` (from 0): a box as fractions of the page (0..1)."""

    start: int
    end: int
    page: int
    left: float
    top: float
    width: float
    height: float
    confidence: float = 1.0
    """How sure OCR was of the word, 0..1."""


def read_text_boxes(data: bytes, media_type: str) -> tuple[str, tuple[TextBox, ...]]:
    """`read_text`, and where each word of the text was read on the page of an image
    (OCR's word boxes; no boxes for other documents, nor for a scanned PDF, whose images
    are not its pages as drawn).

    Raises:
        As `read_text`.
    """
    base, charset = _parse_media_type(media_type)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(
            f"the {base} document is {len(data):,} bytes, over the limit of {MAX_DOCUMENT_BYTES:,}"
        )
    if not data.strip():
        raise EmptyDocument(f"the {base} document is empty")
    read = _reader_for(base)(data, charset)
    raw, words = (read.text, read.words) if isinstance(read, OcrText) else (read, ())
    text = _normalize(raw[:MAX_TEXT_CHARS])
    if not text:
        raise EmptyDocument(f"the {base} document contains no text")
    return text, _located(text, words)


def _located(text: str, words: Sequence[OcrWord]) -> tuple[TextBox, ...]:
    """Each word's place in `text`, found in order (normalising may have dropped some)."""
    boxes: list[TextBox] = []
    at = 0
    for word in words:
        start = text.find(word.text, at)
        if start < 0:
            continue
        at = start + len(word.text)
        boxes.append(
            TextBox(
                start,
                at,
                word.page,
                word.left,
                word.top,
                word.width,
                word.height,
                word.confidence,
            )
        )
    return tuple(boxes)


def html_to_text(markup: str) -> str:
    """Return the visible text of an HTML document, one block element per line."""
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    return _normalize(parser.text())


def _parse_media_type(media_type: str) -> tuple[str, str | None]:
    base, _, params = media_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return base.strip().lower(), charset


def _reader_for(base: str) -> Callable[[bytes, str | None], str | OcrText]:
    if base in _PDF_TYPES:
        return _read_pdf
    if base in _IMAGE_TYPES:
        return _read_image
    if base in _EMAIL_TYPES:
        return _read_email
    if base == MSG:
        return _read_outlook
    if base in _HTML_TYPES:
        return lambda data, charset: html_to_text(_decode(data, charset))
    if base == DOCX:
        return docx_text
    if base == ODT:
        return odt_text
    if base == XLSX:
        return xlsx_text
    if base == ODS:
        return ods_text
    if base in _XML_TYPES or (base.endswith("+xml") and not base.startswith("image/")):
        return xml_text  # not an SVG image: its text is a logo's
    if base.startswith("text/"):
        return _decode
    raise UnsupportedMediaType(f"no reader for media type {base!r}")


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LATIN = ("Basic Latin", "Latin", "Currency Symbols", "General Punctuation", "Letterlike")
"""Unicode blocks cp1252 covers well enough: a text in them alone is read as cp1252."""


def _decode(data: bytes, charset: str | None) -> str:
    """The text of `data`: a declared charset wins; then a byte-order mark; then UTF-8.

    Otherwise the bytes are in a legacy encoding. charset-normalizer names the script:
    when it is one cp1252 cannot hold (Cyrillic, Greek, CJK...) or UTF-16/32 without a
    BOM, its guess is used. A Latin-script text is read as cp1252, the way old Windows
    mailers meant it (the detector cannot tell cp1252 from cp1250 or ISO 8859-x on a
    letter's worth of Latin text, and guessed wrong in tests where cp1252 was right).
    """
    if charset:
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = detect_charset(data[:65536]).best()
    if best is not None and best.encoding.startswith(("utf_16", "utf_32")):
        return data.decode(best.encoding, errors="replace")
    if best is not None and not all(a.startswith(_LATIN) for a in best.alphabets):
        return data.decode(best.encoding, errors="replace")
    return _western_or_central(data)


_SAMPLE = 65_536
"""Characters of a legacy text its code page is judged on."""


def _western_or_central(data: bytes) -> str:
    """A Latin-script legacy text: cp1252, unless it reads better as cp1250.

    The two agree on ASCII and most Western letters; where they differ, cp1252 turns the
    Central European letters into symbols (ł, ą, ż, ľ, Ł, Ą become ³, ¹, ¿, ¾, £, ¥) or
    leaves bytes it has no character for (ť, Ź, Ť): a symbol between two letters, or an
    unmapped byte, is not Western text. cp1250 is taken when it has fewer of those; on a
    tie (Czech spelled with č, ř, ě, all letters in cp1252 too) cp1252 stays.
    """
    western = data.decode("cp1252", errors="replace")
    odd = _misread(western[:_SAMPLE])
    if odd:
        central = data.decode("cp1250", errors="replace")
        if _misread(central[:_SAMPLE]) < odd:
            return central
    if "\ufffd" in western:
        return data.decode("latin-1")  # decodes every byte
    return western


def _misread(text: str) -> int:
    """Characters of a decoded text that a wrong 8-bit code page leaves: unmapped bytes,
    and non-letters from the upper half between two letters."""
    count = text.count("\ufffd")
    for i in range(1, len(text) - 1):
        c = text[i]
        if c >= "\x80" and not c.isalpha() and text[i - 1].isalpha() and text[i + 1].isalpha():
            count += 1
    return count


PDF_HEADER_WITHIN = 1024
"""How far into the file the %PDF header may start: PDF readers (Acrobat among them)
accept bytes before it, as a converter's banner ("GPL Ghostscript 9.50 ...")."""


def _read_pdf(data: bytes, _charset: str | None) -> str:
    header = data.find(b"%PDF", 0, PDF_HEADER_WITHIN)
    if header < 0:
        raise CorruptDocument(f"not a PDF: no %PDF header in its first {PDF_HEADER_WITHIN} bytes")
    data = data[header:]
    try:
        reader = PdfReader(io.BytesIO(data))
        # Encrypted with an empty user password (only the owner's permissions are
        # protected, as many shops' e-receipts are) it opens like any PDF.
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorruptDocument(
                "the PDF is encrypted with a password; ask the sender for an unprotected copy"
            )
        # The page tree's own count, read before pypdf walks the whole tree.
        tree = reader.root_object.get("/Pages")
        tree = tree.get_object() if tree is not None else None
        declared = tree.get("/Count", 0) if isinstance(tree, DictionaryObject) else 0
        if isinstance(declared, int) and declared > MAX_PDF_PAGE_COUNT:
            raise DocumentTooLarge(
                f"the PDF has {declared:,} pages, over the limit of {MAX_PDF_PAGE_COUNT:,}"
            )
        pages: list[str] = []
        read = 0
        for page in reader.pages[:MAX_PDF_PAGES]:
            pages.append(page.extract_text() or "")
            read += len(pages[-1])
            if read >= MAX_TEXT_CHARS:
                break
    except DocumentError:
        raise
    except _PDF_ERRORS as exc:
        raise CorruptDocument(f"the PDF cannot be read: {exc}") from exc
    # pypdf can yield lone surrogates for glyphs with a broken ToUnicode map.
    text = _SURROGATE.sub("\ufffd", "\n\n".join(pages))
    einvoice = _embedded_einvoice(reader)
    try:
        if not text.strip():
            text = _ocr_pdf(reader)
        elif len(reader.pages) <= MAX_OCR_PAGES:
            garbled = _garbled(text)
            if garbled > GARBLED_WORDS:
                text = _read_again(reader, text, garbled)
    except DocumentError:
        if einvoice is None:
            raise
        return einvoice  # a scanned Factur-X: its data is the invoice all the same
    if einvoice is None:
        return text
    return f"{einvoice}{not_on_the_page(einvoice, text)}\n\n{text}"


_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError)
"""What pypdf raises on a PDF it cannot read (its own errors and the builtins its parser
lets through)."""

_EINVOICE_SUFFIXES = (".xml", ".isdoc")
MAX_ATTACHMENTS = 10
"""Attachments a PDF's e-invoice is looked for in (those named like XML); past them the
page alone is read."""


def _embedded_einvoice(reader: PdfReader) -> str | None:
    """The data of the e-invoice a PDF/A-3 carries as an attachment (Factur-X's
    ``factur-x.xml``, ZUGFeRD's ``zugferd-invoice.xml``, XRechnung's, a UBL or ISDOC file),
    as `agents.einvoice` renders it: the invoice's own terms, which its page only shows.
    An attachment that cannot be read is no e-invoice; the page is read all the same. At
    most `MAX_ATTACHMENTS` are read, of `MAX_DOCUMENT_BYTES` together."""
    try:
        names = [n for n in reader.attachments if str(n).lower().endswith(_EINVOICE_SUFFIXES)]
    except _PDF_ERRORS:
        return None
    budget = MAX_DOCUMENT_BYTES
    for name in names[:MAX_ATTACHMENTS]:
        try:
            contents = reader.attachments[name]
        except _PDF_ERRORS:
            continue
        for content in contents:
            budget -= len(content)
            if budget < 0:
                return None
            rendered = einvoice_text(content)
            if rendered is not None:
                return rendered
    return None


GARBLED_WORDS = 0.005
"""Share of a text layer's words mixing scripts over which a scanned PDF is read again.

A scanner's OCR may leave a text layer under the page image that garbles what it read:
Arabic-Indic digits and Arabic letters inside Latin words ("0\u0662de\u0662 number" for
"Order number"). Real text keeps each word in one script (Greek, Cyrillic or Arabic text
too): of the PDFs in ``data/real``, the eight scans whose layers garble have 1-15% of their
words mixed, no other PDF's layer 0.1%."""


def _garbled(text: str) -> float:
    """The share of ``text``'s words (of its first characters) whose letters and digits
    (ASCII's aside) are of more than one script."""
    words = 0
    mixed = 0
    for word in text[:_SAMPLE].split():
        if word.isascii():  # Latin letters at most: one script (the common case, made quick)
            words += _ASCII_LETTER.search(word) is not None
            continue
        scripts = {_script(c) for c in word if c.isalpha() or (c.isdecimal() and not c.isascii())}
        scripts.discard(None)
        if scripts:
            words += 1
            mixed += len(scripts) > 1
    return mixed / words if words else 0.0


_ASCII_LETTER = re.compile("[A-Za-z]")


def _script(char: str) -> str | None:
    """The script of a letter or digit as Unicode names it: LATIN, CYRILLIC, ARABIC (the
    Arabic-Indic digits too)...; None for a sign that is a letter to Python but no script's
    (the micro sign of "µg", an ordinal indicator)."""
    name = unicodedata.name(char, "").removeprefix("EXTENDED ")
    if " LETTER " not in name and " DIGIT " not in name:
        return None
    return name.partition(" ")[0].partition("-")[0]


def _read_again(reader: PdfReader, layer: str, garbled: float) -> str:
    """A garbled text layer (see `GARBLED_WORDS`) read again from the page images by
    Tesseract; of the two readings, the one whose words garble less. The layer stays when
    the pages cannot be OCR'd (no images, no Tesseract, a page over the pixel limit)."""
    try:
        read = _ocr_pdf(reader)
    except DocumentError:
        return layer
    return read if _garbled(read) < garbled else layer


_SURROGATE = re.compile("[\ud800-\udfff]")


def _ocr_pdf(reader: PdfReader) -> str:
    """A PDF without a text layer is a scan: OCR the images of its first pages."""
    images: list[bytes] = []
    try:
        for page in reader.pages[:MAX_OCR_PAGES]:
            images.extend(image.data for image in page.images)
    except _PDF_ERRORS as exc:
        raise CorruptDocument(f"the scanned PDF's images cannot be read: {exc}") from exc
    if not images:
        raise EmptyDocument("the PDF has neither a text layer nor images to read")
    text = ocr(images).text
    if not text.strip():
        raise EmptyDocument("the scanned PDF has no text OCR could read")
    return text


def _read_image(data: bytes, _charset: str | None) -> OcrText:
    read = ocr([data])
    if not read.text.strip():
        raise EmptyDocument("the image has no text OCR could read")
    return read


_MAX_FORWARDS = 5
"""Messages read inside messages (forwarded as attachments), in depth; deeper ones are
said and not read."""
_FORWARDS: ContextVar[int] = ContextVar("forwards", default=0)


def _read_email(data: bytes, _charset: str | None) -> str:
    depth = _FORWARDS.get()
    if depth > _MAX_FORWARDS:
        raise CorruptDocument(f"messages forwarded inside messages over {_MAX_FORWARDS} deep")
    token = _FORWARDS.set(depth + 1)
    try:
        return _email_text(data)
    finally:
        _FORWARDS.reset(token)


def _email_text(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default guarantees it
        raise CorruptDocument("the e-mail cannot be parsed")
    header = "\n".join(f"{name}: {message[name]}" for name in _HEADERS if message[name])
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    attachments = [_attachment_text(a) for a in message.iter_attachments()]
    return _message_text(
        header,
        _part_text(plain) if plain is not None else "",
        _part_text(rich) if rich is not None else "",
        attachments,
        str(message["Subject"] or ""),
    )


def _read_outlook(data: bytes, _charset: str | None) -> str:
    return _outlook_text(read_msg(data))


def _outlook_text(message: OutlookMessage) -> str:
    """An Outlook message as an e-mail reads: its headers, its body, its attachments (an
    attached message as a message)."""
    header = "\n".join(f"{name}: {value}" for name, value in message.headers)
    attachments = []
    for attached in message.attachments:
        if attached.message is not None:
            try:
                text = _outlook_text(attached.message)
            except DocumentError as exc:
                text = f"[it could not be read: {exc}]"
            attachments.append(f"--- attachment: {attached.name} ---\n{text}")
        elif attached.data is not None:
            media_type = attached.media_type or "application/octet-stream"
            attachments.append(_attached(attached.name, media_type, attached.data, None))
    attachments.extend(f"[{why}]" for why in message.not_read)
    plain = message.plain
    if message.rtf_only:
        plain = "[the message's body is stored only as rich text (RTF), which is not read]"
    rich = html_to_text(message.html) if message.html.strip() else ""
    return _message_text(header, plain, rich, attachments, message.subject)


def _message_text(
    header: str, plain_text: str, rich_text: str, attachments: list[str], subject: str
) -> str:
    # Plain text is what the sender meant to be read, unless it is a stub such as "view
    # this message in HTML" next to the real content.
    body = rich_text if len(plain_text.strip()) * 3 < len(rich_text.strip()) else plain_text
    content = [part for part in (body, *attachments) if part.strip()]
    if not content and not subject.strip():
        # Headers alone say who wrote, not what: there is nothing to classify.
        raise EmptyDocument("the e-mail has no subject, body or readable attachment")
    return "\n\n".join(part for part in (header, *content) if part.strip())


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else b""
    text = _decode(raw, part.get_content_charset())
    return html_to_text(text) if part.get_content_type() == "text/html" else text


def _attachment_text(part: Message) -> str:
    if part.get_content_type() == "message/rfc822" and isinstance(part, EmailMessage):
        # A message forwarded as an attachment: read as the message it is.
        inner = part.get_content()
        if isinstance(inner, Message):
            name = part.get_filename() or str(inner["Subject"] or "") or "message"
            return _attached(name, "message/rfc822", inner.as_bytes(), None)
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    name = part.get_filename() or "attachment"
    return _attached(name, part.get_content_type(), payload, part.get_content_charset())


def _attached(name: str, content_type: str, payload: bytes, charset: str | None) -> str:
    """An attachment's text under its name; what cannot be read, said so."""
    if not payload.strip():
        return ""
    base, declared = _parse_media_type(content_type)  # Outlook keeps "Application/PDF"
    if (base in _UNNAMED_TYPES or not _has_reader(base)) and name != "attachment":
        # Mail clients send what they cannot name as bytes (a DOCX as a ZIP), or name
        # it in their own words ("image/jpg"): the file's name says what.
        try:
            base = media_type_for(name)
        except UnsupportedMediaType:
            pass
    try:
        read = _reader_for(base)(payload, declared or charset)
        text = read.text if isinstance(read, OcrText) else read
    except MemoryError:
        raise  # the worker's memory limit refuses the document, not one attachment
    except DocumentError as exc:
        # One unreadable attachment must not hide the message itself; say what was lost.
        return f"[attachment {name} could not be read: {exc}]"
    except Exception as exc:
        # A reader's own fault: said in the text, logged with its traceback to be mended.
        log.exception("reading attachment %s failed", name)
        return f"[attachment {name} could not be read: {type(exc).__name__}: {exc}]"
    return f"--- attachment: {name} ---\n{text}"


def _has_reader(base: str) -> bool:
    try:
        _reader_for(base)
    except UnsupportedMediaType:
        return False
    return True


_UNNAMED_TYPES = {
    "application/octet-stream",
    "application/zip",
    "application/x-zip-compressed",
    "application/x-zip",
}


_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt footer form h1 h2 h3 h4 h5 h6 header "
    "hr li main nav ol p pre section table tbody td tfoot th thead title tr ul".split()
)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "select", "datalist"})
"""Elements whose content is not text on the page: code, styles, a form's list of choices."""
_VOID_TAGS = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
)
_CHROME_ROLES = frozenset({"navigation", "search", "banner", "contentinfo"})
"""ARIA landmarks of a page's chrome: menus, the search box, the site's header and footer."""
_SECTIONING = frozenset({"article", "aside", "main", "nav", "section"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _left_out(tag: str, attrs: list[tuple[str, str | None]], sectioned: bool) -> bool:
    """Whether an element's content is not the document's text: not rendered (a skipped
    tag, ``hidden``, ``aria-hidden``, ``display: none``) or the page's chrome (``nav``, a
    navigation/search/banner/contentinfo landmark, and ``header``/``footer`` outside any
    article or section, which are the page's banner and footer by the HTML standard)."""
    if tag in _SKIPPED_TAGS or tag == "nav":
        return True
    if tag in ("header", "footer") and not sectioned:
        return True
    values = dict(attrs)
    return (
        "hidden" in values
        or (values.get("aria-hidden") or "").strip().lower() == "true"
        or (values.get("role") or "").strip().lower() in _CHROME_ROLES
        or _HIDDEN_STYLE.search(values.get("style") or "") is not None
    )


class _TextParser(HTMLParser):
    """The text a reader sees: block elements on lines of their own, table cells apart,
    nothing of what is left out (`_left_out`) nor of what it contains.

    Open elements are kept on a stack (an end tag closes what was left open inside it; a
    stray one is ignored), so a left-out element ends where it ends, whatever it holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._chunks: list[str] = []
        self._open: list[str] = []
        self._left_out_at: int | None = None
        """Depth of the outermost open left-out element (None: none is open)."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID_TAGS:
            self._open.append(tag)
            if self._left_out_at is None and _left_out(
                tag, attrs, any(t in _SECTIONING for t in self._open[:-1])
            ):
                self._left_out_at = len(self._open)
        if self._left_out_at is not None:
            return
        if tag in ("td", "th"):
            self._chunks.append(" | ")
        elif tag in _BLOCK_TAGS:
            self._chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS or tag not in self._open:
            return
        depth = len(self._open) - self._open[::-1].index(tag) - 1
        del self._open[depth:]
        if self._left_out_at is not None:
            if depth < self._left_out_at:  # the left-out element itself closed
                self._left_out_at = None
            return
        if tag in _BLOCK_TAGS and tag not in ("td", "th"):
            self._chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self._left_out_at is None:
            self._chunks.append(data)

    def text(self) -> str:
        return "".join(self._chunks)


_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    lines = [line.strip(" |") if line.startswith("|") else line for line in lines]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
