"""Word-processing documents (DOCX, ODT): their text as a reader sees it, and each kind of
bad package refused with its reason."""

from __future__ import annotations

import io
import re
import zipfile
from email.message import EmailMessage

import pytest

from agents import office
from agents.documents import media_type_for, read_text
from agents.errors import CorruptDocument, DocumentTooLarge, EmptyDocument
from agents.office import DOCX, ODT, docx_text, odt_text
from tests.documents import encrypted_office_file, zip_bomb_docx

W = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
)
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{RELS}/officeDocument" Target="{{main}}"/>'
    "</Relationships>"
)


def _zip(parts: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, content in parts.items():
            package.writestr(name, content)
    return out.getvalue()


def _docx(body: str, main: str = "word/document.xml", **parts: str) -> bytes:
    """A DOCX whose main part (named by the package's relationships) holds `body`;
    `parts`: header and footer parts, by name, related to it in the order given."""
    folder, name = main.rsplit("/", 1)
    related = "".join(
        f'<Relationship Id="r{i}" Type="{RELS}/{part.rstrip("0123456789")}" Target="{part}.xml"/>'
        for i, part in enumerate(parts)
    )
    return _zip(
        {
            "_rels/.rels": PACKAGE_RELS.format(main=main),
            main: f'<?xml version="1.0"?><w:document {W}><w:body>{body}</w:body></w:document>',
            f"{folder}/_rels/{name}.rels": (
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                f'relationships">{related}</Relationships>'
            ),
            **{
                f"{folder}/{part}.xml": f"<w:hdr {W}>{content}</w:hdr>"
                for part, content in parts.items()
            },
        }
    )


def _p(*runs: str) -> str:
    return "<w:p>" + "".join(runs) + "</w:p>"


def _r(text: str, props: str = "") -> str:
    return f'<w:r><w:rPr>{props}</w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>'


def test_a_docx_is_its_header_body_and_footer_in_reading_order() -> None:
    letterhead = _p(_r("Kestrel Logistics GmbH"))
    data = _docx(
        _p(_r("INVOICE")) + _p(_r("Invoice number: "), _r("2026-114")),
        header1=letterhead,
        header2=letterhead,  # the first page's and the other pages' header alike
        footer1=_p(_r("IBAN DE89 3704 0044 0532 0130 00")),
    )
    assert docx_text(data) == (
        "Kestrel Logistics GmbH\n\nINVOICE\nInvoice number: 2026-114\n\n"
        "IBAN DE89 3704 0044 0532 0130 00"
    )


def test_a_docx_main_part_is_where_its_relationships_say() -> None:
    data = _docx(_p(_r("Rental agreement")), main="word/document2.xml")
    assert docx_text(data) == "Rental agreement"


def test_what_a_docx_page_does_not_show_is_left_out() -> None:
    body = (
        # A tab stop of the paragraph's properties is no tab in its text.
        '<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>'
        + _r("Total")
        + "<w:r><w:tab/></w:r>"
        + _r("EUR 1,250.00")
        + "</w:p>"
        + _p(
            _r("secret ", "<w:vanish/>"),
            _r("shown ", '<w:vanish w:val="false"/>'),
            "<w:del><w:r><w:delText>deleted </w:delText></w:r></w:del>",
            "<w:moveFrom>" + _r("moved away ") + "</w:moveFrom>",
            "<w:ins>" + _r("inserted") + "</w:ins>",
            "<w:r><w:instrText> PAGE </w:instrText></w:r>",
        )
        + _p("<w:r><w:t>No. INV</w:t><w:noBreakHyphen/><w:t>7</w:t><w:br/><w:t>x</w:t></w:r>")
    )
    assert docx_text(_docx(body)) == "Total\tEUR 1,250.00\nshown inserted\nNo. INV-7\nx"


def test_a_docx_text_box_is_read_once_and_a_table_row_is_a_line() -> None:
    box = _p(_r("Due date: 2026-12-31"))
    body = (
        _p(
            "<w:r><mc:AlternateContent>"
            f"<mc:Choice><w:drawing><w:txbxContent>{box}</w:txbxContent></w:drawing></mc:Choice>"
            f"<mc:Fallback><w:pict><w:txbxContent>{box}</w:txbxContent></w:pict></mc:Fallback>"
            "</mc:AlternateContent></w:r>",
            _r("Payment terms"),
        )
        + "<w:tbl><w:tblPr/><w:tr>"
        + f"<w:tc>{_p(_r('Amount due'))}</w:tc>"
        + f"<w:tc>{_p(_r('EUR'))}{_p(_r('980.00'))}</w:tc>"
        + "<w:tc><w:p/></w:tc></w:tr></w:tbl>"
    )
    assert docx_text(_docx(body)) == "Due date: 2026-12-31\nPayment terms\nAmount due\tEUR 980.00"


ODF = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"'
)


def _odt(body: str, header: str = "", footer: str = "", manifest: str = "") -> bytes:
    parts: dict[str, str | bytes] = {
        "mimetype": ODT,
        "content.xml": (
            f"<office:document-content {ODF}><office:automatic-styles/>"
            f"<office:body><office:text>{body}</office:text></office:body>"
            "</office:document-content>"
        ),
        "styles.xml": (
            f"<office:document-styles {ODF}><office:master-styles><style:master-page>"
            f"<style:header>{header}</style:header><style:footer>{footer}</style:footer>"
            "</style:master-page></office:master-styles></office:document-styles>"
        ),
    }
    if manifest:
        parts["META-INF/manifest.xml"] = manifest
    return _zip(parts)


def test_an_odt_is_its_header_body_and_footer_as_a_reader_sees_them() -> None:
    body = (
        "<text:tracked-changes><text:changed-region><text:deletion>"
        "<text:p>Total 10.00</text:p></text:deletion></text:changed-region></text:tracked-changes>"
        '<text:h>Invoice <text:span>no.</text:span><text:s text:c="2"/>77</text:h>'
        "<text:p>Total<text:tab/>EUR 12.50<text:note><text:note-body><text:p>1 incl. VAT"
        "</text:p></text:note-body></text:note> now due<text:line-break/>by transfer</text:p>"
        "<text:p>See <draw:frame><svg:title>Logo</svg:title><draw:text-box>"
        "<text:p>Bank: Sparkasse</text:p>"
        "</draw:text-box></draw:frame>below</text:p>"
        "<table:table><table:table-row><table:table-cell><text:p>Net</text:p></table:table-cell>"
        "<table:covered-table-cell/><table:table-cell><text:p>10.50</text:p></table:table-cell>"
        "</table:table-row></table:table>"
    )
    data = _odt(body, header="<text:p>Atelier Brun SARL</text:p>", footer="<text:p>Page 1</text:p>")
    assert odt_text(data) == (
        "Atelier Brun SARL\n\nInvoice no.  77\nTotal\tEUR 12.50 now due\nby transfer\n"
        "Bank: Sparkasse\nSee below\nNet\t10.50\n\nPage 1"
    )


def test_word_processing_documents_by_name_and_media_type() -> None:
    assert media_type_for("Contract.DOCX") == DOCX
    assert media_type_for("letter.odt") == ODT
    text = read_text(_docx(_p(_r("Dear  Sir,"))), DOCX)
    assert text == "Dear Sir,"
    with pytest.raises(EmptyDocument):
        read_text(_docx("<w:p/>"), DOCX)


def test_a_docx_attached_to_an_e_mail_as_bytes_is_read_by_its_name() -> None:
    message = EmailMessage()
    message["Subject"] = "Complaint"
    message.set_content("See the attached letter.")
    letter = _docx(_p(_r("I was charged twice for one order.")))
    message.add_attachment(
        letter, maintype="application", subtype="octet-stream", filename="letter.docx"
    )
    text = read_text(message.as_bytes(), "message/rfc822")
    assert "--- attachment: letter.docx ---\nI was charged twice for one order." in text


_ENTITIES = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><w:document {W}>&a;</w:document>'
_EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    f"<w:document {W}><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>"
)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04 not really a zip", "not a ZIP package"),
        (b"just some text", "not a ZIP package"),
        (encrypted_office_file(), "password-protected (encrypted)"),
        (encrypted_office_file().replace(b"E\x00n\x00c", b"W\x00o\x00r"), "(a Word 97-2003 .doc?)"),
        (_zip({"docProps/app.xml": "<Properties/>"}), "no main document part"),
        (_zip({"word/document.xml": "<w:document"}), "is not well-formed XML"),
        (_zip({"word/document.xml": _ENTITIES.format(W=W)}), "declares EntitiesForbidden"),
        (_zip({"word/document.xml": _EXTERNAL}), "declares EntitiesForbidden"),
        (_zip({"_rels/.rels": "<Relationships"}), "is not well-formed XML"),
    ],
)
def test_a_bad_docx_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(CorruptDocument, match=re.escape(reason)):
        docx_text(data)


def test_a_damaged_part_is_a_corrupt_document() -> None:
    data = bytearray(_docx(_p(_r("Termination notice " * 200))))
    start = data.index(b"word/document.xml") + len("word/document.xml")
    data[start + 40 : start + 80] = b"\xff" * 40  # inside its deflated bytes
    with pytest.raises(CorruptDocument, match=re.escape("word/document.xml")):
        docx_text(bytes(data))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_odt("<text:p>x</text:p>", manifest="<manifest:encryption-data/>"), "password-protected"),
        (_zip({"mimetype": ODT}), "no content.xml"),
    ],
)
def test_a_bad_odt_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(CorruptDocument, match=reason):
        odt_text(data)


def test_a_package_that_inflates_past_the_budget_is_refused_as_it_inflates() -> None:
    """A ZIP bomb: 65 MB of XML in a 64 KB file. It is refused once the budget is spent,
    having held a 64 KB chunk at a time, never the part."""
    bomb = zip_bomb_docx(office.MAX_XML_BYTES)
    assert len(bomb) < office.MAX_XML_BYTES // 500
    with pytest.raises(DocumentTooLarge, match="inflates to over 67,108,864 bytes"):
        docx_text(bomb)
