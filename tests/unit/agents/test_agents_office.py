"""Office documents (DOCX, ODT, XLSX, ODS): their text as a reader sees it, and each kind
of bad package refused with its reason or read within its bounds."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from email.message import EmailMessage

import pytest

from agents import office
from agents.documents import media_type_for, read_text
from agents.errors import CorruptDocument, DocumentTooLarge, EmptyDocument
from agents.office import DOCX, ODS, ODT, docx_text, ods_text, odt_text, xlsx_text
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
    """A ZIP bomb: 256 MB of XML in a 256 KB file. It is refused once the 64 MB budget is
    spent, holding at most that (the parser gathers a text's characters), never the part."""
    bomb = zip_bomb_docx(4 * office.MAX_XML_BYTES)
    assert len(bomb) < office.MAX_XML_BYTES // 200
    tracemalloc.start()
    try:
        with pytest.raises(DocumentTooLarge, match="inflates to over 67,108,864 bytes"):
            docx_text(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * office.MAX_XML_BYTES


S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def _xlsx(
    sheets: dict[str, str], strings: list[str], date1904: bool = False, columns: str = ""
) -> bytes:
    """A workbook whose sheets (name -> sheetData rows; a name starting with "~" is
    hidden) share `strings`; cell style 1 is a date, 2 an amount with two decimals, 3 a
    custom day.month.year date with a time, 4 a percentage, 5 a custom currency format,
    6 the built-in currency format 7, 7 a duration in hours, 8 a format id no number."""
    hidden = ' state="hidden"'
    listed = "".join(
        f'<sheet name="{name.lstrip("~")}" sheetId="{i}" r:id="s{i}"'
        f"{hidden if name.startswith('~') else ''}/>"
        for i, name in enumerate(sheets, 1)
    )
    system = ' date1904="1"' if date1904 else ""
    rels = "".join(
        f'<Relationship Id="s{i}" Type="{RELS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    shared = "".join(f"<si><t>{text}</t></si>" for text in strings)
    return _zip(
        {
            "_rels/.rels": PACKAGE_RELS.format(main="xl/workbook.xml"),
            "xl/workbook.xml": (
                f"<workbook {S} {R}><workbookPr{system}/><sheets>{listed}</sheets></workbook>"
            ),
            "xl/_rels/workbook.xml.rels": (
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                f'relationships">{rels}'
                f'<Relationship Id="st" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
                f'<Relationship Id="sy" Type="{RELS}/styles" Target="styles.xml"/>'
                "</Relationships>"
            ),
            "xl/sharedStrings.xml": f"<sst {S}>{shared}</sst>",
            "xl/styles.xml": (
                f'<styleSheet {S}><numFmts><numFmt numFmtId="164" formatCode="dd/mm/yyyy hh:mm"/>'
                '<numFmt numFmtId="165" formatCode="#,##0.00\\ [$€-407];[Red]-#,##0.00"/>'
                '<numFmt numFmtId="166" formatCode="[h]:mm"/>'
                '</numFmts><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="4"/>'
                '<xf numFmtId="164"/><xf numFmtId="10"/><xf numFmtId="165"/><xf numFmtId="7"/>'
                '<xf numFmtId="166"/><xf numFmtId="²"/></cellXfs></styleSheet>'
            ),
            **{
                f"xl/worksheets/sheet{i}.xml": (
                    f"<worksheet {S}>{columns}<sheetData>{rows}</sheetData></worksheet>"
                )
                for i, rows in enumerate(sheets.values(), 1)
            },
        }
    )


def test_a_bank_statement_workbook_reads_as_its_sheet_shows_it() -> None:
    """Excel counts days from 1899-12-30: 2026-01-01 is day 46023 (2025-01-01 is 45658)."""
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c></row>'
        '<row r="2"><c r="A2" s="1"><v>46096</v></c><c r="B2" t="inlineStr"><is><t>Rent'
        '</t></is></c><c r="C2" s="2"><v>-1250.5</v></c></row>'
        # An empty row, then one whose amount is a float that prints long in binary.
        '<row r="3"/><row r="4"><c r="A4" s="3"><v>46097.75</v></c><c r="B4" t="s">'
        '<v>3</v></c><c r="C4"><v>19.899999999999999</v></c><c r="D4" s="4"><v>0.19</v>'
        '</c><c r="E4" s="5"><f>C4*2</f><v>39.8</v></c><c r="F4" t="b"><v>1</v></c>'
        '<c r="G4" t="e"><v>#N/A</v></c></row>'
    )
    data = _xlsx({"Umsätze": rows}, ["Date", "Text", "Amount", "Salary"])
    assert xlsx_text(data) == (
        "Date\tText\tAmount\n"
        "2026-03-15\tRent\t-1250.50\n"
        "2026-03-16 18:00\tSalary\t19.9\t19.00%\t39.80\tTRUE\t#N/A"
    )


def test_a_workbooks_hidden_sheets_are_left_out_and_its_sheets_named() -> None:
    cell = '<row r="1"><c r="A1" t="s"><v>{}</v></c></row>'
    data = _xlsx(
        {"Invoice": cell.format(0), "~Rates": cell.format(1), "Items": cell.format(2)},
        ["INVOICE 2026-7", "internal rate 0.8", "Widget"],
    )
    assert xlsx_text(data) == "Sheet: Invoice\nINVOICE 2026-7\n\nSheet: Items\nWidget"


def test_a_workbook_of_the_1904_date_system() -> None:
    data = _xlsx({"S": '<row r="1"><c r="A1" s="1"><v>44634</v></c></row>'}, [], date1904=True)
    assert xlsx_text(data) == "2026-03-15"


def _ods(rows: str) -> bytes:
    """An ODS of one table of `rows`, with the page header and footer LibreOffice prints."""
    content = (
        f"<office:document-content {ODF}><office:body><office:spreadsheet><table:table>"
        f"{rows}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    styles = (
        f"<office:document-styles {ODF}><office:master-styles><style:master-page>"
        "<style:header><text:p><text:sheet-name>???</text:sheet-name></text:p></style:header>"
        "<style:footer><text:p>Page <text:page-number>1</text:page-number></text:p>"
        "</style:footer></style:master-page></office:master-styles></office:document-styles>"
    )
    return _zip({"mimetype": ODS, "content.xml": content, "styles.xml": styles})


def test_an_ods_spreadsheet_is_its_cells_as_they_display_not_its_print_pages() -> None:
    data = _ods(
        "<table:table-row>"
        '<table:table-cell office:value-type="date" office:date-value="2026-03-15">'
        "<text:p>15.03.2026</text:p></table:table-cell>"
        '<table:table-cell office:value-type="float" office:value="-1250.5">'
        "<text:p>-1.250,50 €</text:p></table:table-cell>"
        '<table:table-cell table:number-columns-repeated="1000"/></table:table-row>'
        '<table:table-row table:number-rows-repeated="1048570"><table:table-cell/>'
        "</table:table-row>"
    )
    assert ods_text(data) == "15.03.2026\t-1.250,50 €"
    assert read_text(data, media_type_for("statement.ods")) == "15.03.2026 -1.250,50 €"


def _cells(*cells: str, row: str = "") -> str:
    return f'<row r="1"{row}>' + "".join(cells) + "</row>"


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('<c r="A1" s="6"><v>1250.5</v></c>', "1250.50"),  # built-in 7: two decimals
        ('<c r="A1" s="7"><v>1.5</v></c>', "36:00"),  # [h]:mm: 36 hours, not a date
        ('<c r="A1"><f>A2+A3</f><v>30.299999999999997</v></c>', "30.3"),  # as Excel shows
        ('<c r="A1" s="1"><v>1</v></c>', "1900-01-01"),  # day 1, before Lotus's leap day
        ('<c r="A1" s="1"><v>61</v></c>', "1900-03-01"),
        ('<c r="A1" s="8"><v>7.25</v></c>', "7.25"),  # a format id "²": General
        ('<c r="A1" s="²"><v>7.25</v></c>', "7.25"),  # a style "²": the first
        ('<c r="A1" t="s"><v>²</v></c>', ""),  # a string index "²": none
        (f'<c r="A1" t="s"><v>{"9" * 5000}</v></c>', ""),  # nor five thousand digits
        ('<c r="A1" s="1"><v>1e308</v></c>', "1e308"),  # no day of the calendar
        (
            '<c r="A1" t="inlineStr"><is><r><t>東京</t></r><rPh sb="0" eb="2"><t>トウキョウ</t>'
            "</rPh></is></c>",
            "東京",  # a phonetic guide is no part of the string
        ),
    ],
)
def test_a_cell_reads_as_the_sheet_shows_it(cell: str, shown: str) -> None:
    assert xlsx_text(_xlsx({"S": _cells(cell)}, [])) == shown


def test_a_date_past_the_calendar_of_the_1904_system_is_its_number() -> None:
    data = _xlsx({"S": _cells('<c r="A1" s="1"><v>2958000</v></c>')}, [], date1904=True)
    assert xlsx_text(data) == "2958000"


def test_hidden_rows_and_columns_are_left_out() -> None:
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="D1" t="s"><v>2</v></c></row>'
        '<row r="2" hidden="1"><c r="A2" t="s"><v>1</v></c></row>'
        '<row r="3"><c t="s"><v>0</v></c><c t="s"><v>1</v></c></row>'  # no references
    )
    strings = ["Amount", "internal", "Total"]
    assert xlsx_text(_xlsx({"S": rows}, strings)) == "Amount\tinternal\tTotal\nAmount\tinternal"
    hidden = '<cols><col min="2" max="3" hidden="1"/></cols>'
    assert xlsx_text(_xlsx({"S": rows}, strings, columns=hidden)) == "Amount\tTotal\nAmount"


def test_a_workbooks_text_stops_at_its_budget() -> None:
    """One 100 KB string in 2,000 cells of a 10 KB file would be 200 MB of text."""
    row = _cells(*('<c t="s"><v>0</v></c>' for _ in range(2000)))
    data = _xlsx({"S": row}, ["x" * 100_000])
    assert len(data) < 10_000
    text = xlsx_text(data)
    assert office.MAX_CHARS - 100_001 <= len(text) <= office.MAX_CHARS


def test_ods_rows_and_cells_written_once_for_several_are_read_as_many() -> None:
    data = _ods(
        '<table:table-row table:number-rows-repeated="2"><table:table-cell '
        'table:number-columns-repeated="3"><text:p>0.00</text:p></table:table-cell>'
        "</table:table-row>"
        '<table:table-row table:visibility="collapse"><table:table-cell><text:p>folded'
        "</text:p></table:table-cell></table:table-row>"
        '<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
        'table:number-columns-repeated="16000"/></table:table-row>'
    )
    assert ods_text(data) == "0.00\t0.00\t0.00\n0.00\t0.00\t0.00"


def test_odt_text_shown_on_a_condition_or_in_a_hidden_section_is_left_out() -> None:
    body = (
        '<text:p>Doc: <text:title>Invoice 77</text:title><text:hidden-text text:condition="x" '
        'text:string-value="secret">secret</text:hidden-text></text:p>'
        '<text:section text:name="s" text:display="none"><text:p>HIDDEN</text:p></text:section>'
        "<text:p>shown</text:p>"
    )
    assert odt_text(_odt(body)) == "Doc: Invoice 77\nshown"


def test_a_docx_ruby_text_is_left_out() -> None:
    ruby = (
        "<w:r><w:ruby><w:rt><w:r><w:t>とうきょう</w:t></w:r></w:rt>"
        "<w:rubyBase><w:r><w:t>東京</w:t></w:r></w:rubyBase></w:ruby></w:r>"
    )
    assert docx_text(_docx(_p(ruby))) == "東京"


def _lzma_docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_LZMA) as package:
        package.writestr("word/document.xml", f"<w:document {W}>" + "<w:p/>" * 5000)
    data = bytearray(out.getvalue())
    start = data.index(b"word/document.xml") + len("word/document.xml") + 20
    data[start : start + 40] = b"\x00" * 40  # inside the compressed part
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_lzma_docx(), "word/document.xml is damaged"),
        (
            _zip({"word/document.xml": '<?xml version="1.0" encoding="x-bogus"?><w:document/>'}),
            "cannot be decoded",
        ),
        (
            _docx(_p("<w:hyperlink>" * 5000 + _r("deep") + "</w:hyperlink>" * 5000)),
            "nests its elements too deep",
        ),
    ],
)
def test_hostile_packages_are_corrupt_documents(data: bytes, reason: str) -> None:
    with pytest.raises(CorruptDocument, match=reason):
        docx_text(data)


def test_a_docx_sent_as_a_zip_attachment_is_read_by_its_name() -> None:
    message = EmailMessage()
    message["Subject"] = "Contract"
    message.set_content("Attached.")
    contract = _docx(_p(_r("SERVICE AGREEMENT")))
    message.add_attachment(contract, maintype="application", subtype="zip", filename="c.docx")
    text = read_text(message.as_bytes(), "message/rfc822")
    assert "--- attachment: c.docx ---\nSERVICE AGREEMENT" in text
