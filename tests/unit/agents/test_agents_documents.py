"""Reading documents: every sample, every format, and every kind of bad input."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fpdf import FPDF
from fpdf.enums import EncryptionMethod

from agents import documents
from agents.documents import (
    MAX_DOCUMENT_BYTES,
    MAX_PDF_PAGE_COUNT,
    MAX_PDF_PAGES,
    MAX_TEXT_CHARS,
    html_to_text,
    media_type_for,
    read_text,
)
from agents.errors import (
    AgentError,
    CorruptDocument,
    DocumentError,
    DocumentTooLarge,
    EmptyDocument,
    UnsupportedMediaType,
)
from agents.ocr import OcrUnavailable
from caseyard.errors import CaseyardError
from tests.documents import password_protected_pdf, pdf_of_pages

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "documents"
REAL = Path(__file__).resolve().parents[3] / "data" / "real" / "files"


def _pdf(text: str | None) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    if text is None:
        pdf.rect(10, 10, 50, 50)
    else:
        pdf.multi_cell(0, 5, text)
    return bytes(pdf.output())


def test_every_sample_document_reads_to_text(
    expected: dict[str, Any], example_texts: dict[str, str]
) -> None:
    """`example_texts` is each one's `read_text` (OCR'd once a run: the classifier's tests
    read them too)."""
    files = sorted(p.name for p in EXAMPLES.iterdir() if p.name != "EXPECTED.json")
    assert files == sorted(expected["documents"]) == sorted(example_texts)
    assert len(files) >= 40
    kinds = {name.rsplit(".", 1)[1] for name in files}
    assert {"txt", "eml", "pdf", "html", "xml"} <= kinds
    for name in files:
        assert len(example_texts[name]) > 80, name


def test_media_type_for_known_and_unknown_extensions() -> None:
    assert media_type_for("mail.EML") == "message/rfc822"
    assert media_type_for("a.pdf") == "application/pdf"
    assert media_type_for("page.html") == "text/html"
    assert media_type_for("notes.txt") == "text/plain"
    with pytest.raises(UnsupportedMediaType):
        media_type_for("archive.unknownext")


def test_plain_text_honours_charset_and_falls_back() -> None:
    assert read_text("Grüße".encode("latin-1"), "text/plain; charset=latin-1") == "Grüße"
    assert read_text("Grüße €".encode("cp1252"), "text/plain") == "Grüße €"
    assert read_text("\ufeffhello\r\nworld".encode(), "text/plain") == "hello\nworld"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Счёт № 42 на сумму 12 500 руб. Оплатить до 15 марта. С уважением.", "cp1251"),  # noqa: RUF001
        ("Τιμολόγιο αριθ. 12, ποσό 250 ευρώ, πληρωμή έως 15 Μαρτίου.", "cp1253"),
        ("請求書番号 1234、合計金額 15,000円。お支払い期限は3月末日です。", "shift_jis"),
        ("发票号码 1234，总金额 15,000元。请在三月底前付款。", "gb18030"),  # noqa: RUF001
        ("Invoice 1234: total due 345.00 EUR by March 12, paid by transfer.", "utf-16-le"),
        ("Rechnung 4711 über 1.250,00 € ist fällig. Mit freundlichen Grüßen", "utf-16"),
        ("Rechnung 4711 über 1.250,00 € ist fällig.", "utf-32"),
        ("Sehr geehrte Damen und Herren, die Rechnung über 1.250,00 € ist fällig.", "cp1252"),
        ("Facture n° 12 : montant dû 250,00 €, à régler avant le 15 mars. Cœur ¿Qué?", "cp1252"),
        ("Faktura nr 12, kwota do zapłaty 1 250,00 zł. Proszę o płatność do 15 marca.", "cp1250"),
        ("Zażółć gęślą jaźń. Łódź, ul. Piękna 5. Żółw ŚWIĘTY.", "cp1250"),
        ("Faktúra č. 12, suma 250 €, ľudia z Ťahanoviec platia do 15. marca.", "cp1250"),
    ],
)
def test_plain_text_without_a_declared_charset_is_read_in_its_own(text: str, encoding: str) -> None:
    """Windows exports UTF-16 (with a BOM, or without one); mail and files from Russia,
    Greece, Japan and China come in their legacy encodings. A Latin-script text is read as
    cp1252, unless cp1252 leaves symbols inside its words where cp1250 reads letters
    (Polish, Slovak); Czech spelled only with letters both share stays cp1252 (see below)."""
    assert read_text(text.encode(encoding), "text/plain") == text


def test_czech_in_cp1250_without_a_charset_is_read_as_cp1252_and_stays_readable() -> None:
    """The limit of telling the two apart by bytes alone: every letter of this Czech text
    is a letter in cp1252 too, so it is read as cp1252 (a declared charset fixes it)."""
    czech = "Částka k úhradě 1 250 Kč, splatnost do 15. března."
    assert (
        read_text(czech.encode("cp1250"), "text/plain")
        == "Èástka k úhradì 1 250 Kè, splatnost do 15. bøezna."
    )
    assert read_text(czech.encode("cp1250"), "text/plain; charset=windows-1250") == czech


def test_html_drops_scripts_and_keeps_structure() -> None:
    markup = (
        "<html><head><title>T</title><style>p{}</style></head><body><p>Fish &amp; chips</p>"
        "<table><tr><td>a</td><td>b</td></tr></table><script>steal()</script></body></html>"
    )
    assert html_to_text(markup) == "T\n\nFish & chips\n\na | b"
    assert read_text(markup.encode(), "text/html; charset=utf-8").startswith("T")


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        # Not rendered: the hidden attribute, aria-hidden, an inline display/visibility.
        (
            "<p>Total 12.00</p><div hidden>preview text<p>nested</p></div><p>Paid</p>",
            "Total 12.00\n\nPaid",
        ),
        ('<span aria-hidden="TRUE">x</span><span aria-hidden="false">shown</span>', "shown"),
        ('<td style="display: none">pre</td><div style="visibility:hidden">v</div>ok', "ok"),
        # A form's choices are not text on the page.
        ("<p>Ship to <select><option>Alaska<option>Texas</select></p>", "Ship to"),
        # The page's chrome: nav, navigation/search landmarks, the page's header/footer.
        ('<nav><a>Home</a></nav><div role="Navigation">Menu</div><p>Body</p>', "Body"),
        (
            '<div role="search">Search</div><header>Shop</header><p>Body</p><footer>(c)</footer>',
            "Body",
        ),
        # An article's or section's own header and footer are its text.
        (
            "<article><header>Invoice 7</header><p>Due</p><footer>Thanks</footer></article>",
            "Invoice 7\n\nDue\n\nThanks",
        ),
        # A void element cannot hold anything: its attributes hide nothing after it.
        ("<p>a<input hidden type=text>b<br hidden>c</p>", "ab\nc"),
        # Elements left open inside a left-out one end with it; a stray end tag is ignored.
        ("<nav><ul><li>Home<li>Cart</ul></nav></span><p>Order 42</p></div>", "Order 42"),
        ("<div hidden><p>one<p>two</div><p>three</p>", "three"),
    ],
)
def test_html_text_is_what_a_reader_sees(markup: str, text: str) -> None:
    """What is not rendered and what is the page's chrome is left out with all it holds."""
    assert html_to_text(markup) == text


def _email(plain: str | None, html: str | None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Ana Ruiz <ana@example.com>"
    mail["To"] = "ap@example.com"
    mail["Subject"] = "Invoice 42"
    if plain is not None:
        mail.set_content(plain)
        if html is not None:
            mail.add_alternative(html, subtype="html")
    elif html is not None:
        mail.set_content(html, subtype="html")
    return mail


def test_email_prefers_plain_text_and_keeps_headers() -> None:
    mail = _email("Please pay invoice 42 by Friday.", "<p>Please pay invoice 42 by Friday.</p>")
    text = read_text(bytes(mail), "message/rfc822")
    assert text.splitlines()[:3] == [
        "From: Ana Ruiz <ana@example.com>",
        "To: ap@example.com",
        "Subject: Invoice 42",
    ]
    assert "Please pay invoice 42 by Friday." in text
    assert "<p>" not in text


def test_email_falls_back_to_html_and_replaces_a_stub_plain_part() -> None:
    only_html = read_text(bytes(_email(None, "<p>Total <b>12,00 €</b></p>")), "message/rfc822")
    assert "Total 12,00 €" in only_html
    html = "<p>" + "The real content of the message is here. " * 5 + "</p>"
    stub = read_text(bytes(_email("View this in HTML.", html)), "message/rfc822")
    assert "The real content" in stub
    assert "View this in HTML." not in stub


def test_email_includes_readable_attachments_and_names_unreadable_ones() -> None:
    mail = _email("See attached.", None)
    mail.add_attachment(
        _pdf("Invoice INV-77 total 99,00 EUR"),
        maintype="application",
        subtype="pdf",
        filename="inv.pdf",
    )
    mail.add_attachment(
        b"%PDF-1.4 broken", maintype="application", subtype="pdf", filename="broken.pdf"
    )
    text = read_text(bytes(mail), "message/rfc822")
    assert "--- attachment: inv.pdf ---" in text
    assert "Invoice INV-77 total 99,00 EUR" in text
    assert "[attachment broken.pdf could not be read:" in text


def test_a_message_forwarded_as_an_attachment_is_read_as_a_message() -> None:
    """An abuse desk's report or a colleague's "forward as attachment" carries the original
    as a message/rfc822 part; messages inside messages are read five deep, and said after."""
    original = _email("Please pay EUR 100 to our new account.", None)
    original.replace_header("Subject", "Invoice 77")
    forwarded = original
    for n in range(7):
        outer = _email(f"forward {n}", None)
        outer.add_attachment(forwarded)
        forwarded = outer
    text = read_text(bytes(forwarded), "message/rfc822")
    assert text.count("--- attachment: ") == 5
    assert "forward 1" in text and "forward 0" not in text and "new account" not in text
    assert text.endswith("could not be read: messages forwarded inside messages over 5 deep]")
    once = _email("FYI", None)
    once.add_attachment(original)
    assert "--- attachment: Invoice 77 ---\n" in read_text(bytes(once), "message/rfc822")
    assert "Please pay EUR 100 to our new account." in read_text(bytes(once), "message/rfc822")


def test_pdf_text_is_extracted() -> None:
    assert read_text(_pdf("Rechnung 2026-001\nGesamt 1.234,56 EUR"), "application/pdf") == (
        "Rechnung 2026-001\nGesamt 1.234,56 EUR"
    )


@pytest.mark.parametrize(
    ("text", "garbled"),
    [
        ("Rechnung Nr. 2026-001 Gesamt 1.234,56 EUR Fläche 80 m² µg", 0.0),
        ("Σύνολο πληρωμής 12,80 ευρώ", 0.0),
        ("Итого к оплате 12,80 руб.", 0.0),  # noqa: RUF001
        ("المبلغ ١٢٣ ريال ٢٠٢٣م", 0.0),  # Arabic letters with Arabic-Indic digits
        ("0\u0662de\u0662 number: 427", 0.5),  # a scanner's OCR: Arabic-Indic digits
        ("AP\u0627me\u0627ster Consulting GmbH Berlin", 0.25),  # Arabic letters in a word
        ("12,80 € 20/04/2023", 0.0),  # no letters: nothing to judge
    ],
)
def test_a_word_mixing_scripts_counts_as_garbled(text: str, garbled: float) -> None:
    assert documents._garbled(text) == garbled


def test_a_garbled_text_layer_stays_when_its_pages_cannot_be_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_tesseract(reader: object) -> str:
        raise OcrUnavailable("tesseract is not installed")

    monkeypatch.setattr(documents, "_ocr_pdf", no_tesseract)
    data = (REAL / "jw-my-receipts" / "2023__nl__kfc_20230426.pdf").read_bytes()
    text = read_text(data, "application/pdf")
    assert documents._garbled(text) > documents.GARBLED_WORDS
    assert "0\u0662de\u0662 number" in text  # the scanner's layer, as it is


def test_bytes_before_the_pdf_header_are_skipped_within_the_first_kilobyte() -> None:
    # A converter's banner before "%PDF", as Ghostscript wrote one into a Croatian
    # payment slip of data/real: PDF readers accept a header in the first 1024 bytes.
    banner = b"GPL Ghostscript 9.50 (2019-10-15)\nCopyright (C) 2019 Artifex Software\n"
    assert "Banner kept" in read_text(banner + _pdf("Banner kept"), "application/pdf")
    with pytest.raises(CorruptDocument, match="no %PDF header in its first 1024 bytes"):
        read_text(b" " * 1024 + _pdf("Too far"), "application/pdf")


@pytest.mark.parametrize(
    ("data", "media_type", "error"),
    [
        (b"", "text/plain", EmptyDocument),
        (b"   \n\t ", "text/plain", EmptyDocument),
        (b"<html><body><script>x()</script></body></html>", "text/html", EmptyDocument),
        (b"PK\x03\x04zipdata", "application/zip", UnsupportedMediaType),
        (b"\x89PNG\r\n", "image/png", CorruptDocument),
        (b"\x89PNG\r\n", "image/x-portable-anymap", UnsupportedMediaType),
        (b"hello", "application/pdf", CorruptDocument),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog", "application/pdf", CorruptDocument),
        (_pdf("truncated in the middle")[:300], "application/pdf", CorruptDocument),
        (_pdf(None), "application/pdf", EmptyDocument),
        (b"From: a@b.c\nSubject: \n\n", "message/rfc822", EmptyDocument),
    ],
)
def test_bad_input_raises_a_typed_non_retryable_error(
    data: bytes, media_type: str, error: type[DocumentError]
) -> None:
    with pytest.raises(error) as caught:
        read_text(data, media_type)
    assert isinstance(caught.value, AgentError)
    assert isinstance(caught.value, CaseyardError)
    assert caught.value.retryable is False
    assert str(caught.value)


def test_encrypted_pdf_is_refused_with_a_clear_message() -> None:
    with pytest.raises(CorruptDocument, match="encrypted with a password"):
        read_text(password_protected_pdf("secret"), "application/pdf")


def test_a_pdf_encrypted_without_a_user_password_is_read() -> None:
    # Only the owner's permissions are protected: what shops' e-receipts often do.
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.cell(text="SUMME EUR 39,44")
    pdf.set_encryption(owner_password="owner", encryption_method=EncryptionMethod.AES_128)
    assert "SUMME EUR 39,44" in read_text(bytes(pdf.output()), "application/pdf")


def test_a_document_over_the_size_limit_is_refused_before_parsing() -> None:
    data = b"a" * (MAX_DOCUMENT_BYTES + 1)
    with pytest.raises(DocumentTooLarge, match="over the limit") as caught:
        read_text(data, "text/plain")
    assert caught.value.retryable is False


def test_a_pdf_declaring_too_many_pages_is_refused_before_reading_them() -> None:
    pdf = pdf_of_pages(3)
    # The page tree's /Count says 20,000: refused on the count, no page is walked.
    bloated = pdf.replace(b"/Count 3", f"/Count {MAX_PDF_PAGE_COUNT * 10}".encode())
    assert bloated != pdf
    with pytest.raises(DocumentTooLarge, match="20,000 pages"):
        read_text(bloated, "application/pdf")


def test_the_text_budget_and_page_limit_cap_what_is_read() -> None:
    text = read_text(("word " * (MAX_TEXT_CHARS // 2)).encode(), "text/plain")
    assert len(text) <= MAX_TEXT_CHARS
    pages = read_text(pdf_of_pages(MAX_PDF_PAGES + 20), "application/pdf")
    assert "page 0 " in pages and f"page {MAX_PDF_PAGES - 1} " in pages
    assert f"page {MAX_PDF_PAGES} " not in pages


def test_glyphs_without_a_unicode_mapping_become_replacement_characters() -> None:
    # A real Factur-X invoice (data/real, Apache-2.0) whose fonts map some glyphs to lone
    # surrogates in pypdf: they would make the text unencodable as UTF-8.
    data = (REAL / "facturx-fnfe" / "Facture_FR_BASICWL.pdf").read_bytes()
    text = read_text(data, "application/pdf")
    assert "\ufffd" in text
    text.encode("utf-8")  # raises on a lone surrogate
