"""XML documents: e-invoices (UBL, CII, inside a Factur-X/ZUGFeRD PDF) and the rest."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from agents import documents, einvoice
from agents.documents import media_type_for, read_text
from agents.einvoice import einvoice_text, xml_text
from agents.errors import CorruptDocument, EmptyDocument, UnsupportedMediaType
from agents.models import extract, field_value

REAL = Path(__file__).resolve().parents[3] / "data" / "real" / "files"


def _attachment(pdf: Path, name: str) -> bytes:
    (content,) = PdfReader(pdf).attachments[name]
    return content


def test_a_factur_x_pdf_is_read_with_its_e_invoice_before_its_page() -> None:
    data = (REAL / "facturx-fnfe" / "Facture_FR_BASICWL.pdf").read_bytes()
    text = read_text(data, "application/pdf")
    head, _, page = text.partition("\n\n")
    assert head.splitlines() == [
        "INVOICE (e-invoice, UN/CEFACT Cross Industry Invoice)",
        "Invoice number: FA-2017-0010",
        "Invoice date: 2017-11-13",
        "Seller: Au bon moulin",
        "Seller VAT ID: FR11999999998",
        "Buyer: Ma jolie boutique",
        "Net amount: 624.90 EUR",
        "VAT: 46.25 EUR",
        "Total: 671.15 EUR",
        "Paid in advance: 201.00 EUR",
        "Amount due: 470.15 EUR",
        "Due date: 2017-12-13",
        "IBAN: FR2012421242124212421242124",
    ]
    assert "Adresse de livraison" in page  # the page, read as before
    out = extract(text)
    assert field_value(out, "invoice_number") == "FA-2017-0010"
    assert field_value(out, "invoice_date") == "2017-11-13"
    assert field_value(out, "due_date") == "2017-12-13"
    assert field_value(out, "issuer") == "Au bon moulin"
    assert field_value(out, "iban") == "FR2012421242124212421242124"


def test_a_ubl_invoice_alone_is_its_terms() -> None:
    xml = _attachment(REAL / "invoice2data" / "AzureInterior.pdf", "UBL-Invoice-2.1.xml")
    text = read_text(xml, media_type_for("invoice.xml"))
    assert text.splitlines()[:4] == [
        "INVOICE (e-invoice, UBL)",
        "Invoice number: INV/2023/03/0008",
        "Invoice date: 2023-03-20",
        "Seller: Azure Interior",
    ]
    assert "Total: 279.84 USD" in text.splitlines()
    assert "Amount due" not in text  # no more than the total: said once
    assert read_text(xml, "text/xml") == text
    out = extract(text)
    assert field_value(out, "invoice_number") == "INV/2023/03/0008"
    assert field_value(out, "total_amount") == "279.84 USD"
    assert field_value(out, "issuer") == "Azure Interior"


def test_zugferd_1_drafts_cross_industry_tree_under_another_root_name() -> None:
    pdf = REAL / "mustang-gnuaccounting" / "MustangGnuaccountingBeispielRE-20140519_499.pdf"
    text = einvoice_text(_attachment(pdf, "ZUGFeRD-invoice.xml"))
    assert text is not None
    assert text.splitlines()[:2] == [
        "INVOICE (e-invoice, UN/CEFACT Cross Industry Invoice)",
        "Invoice number: RE-20140519/499",
    ]


UBL_CREDIT_NOTE = b"""<?xml version="1.0" encoding="UTF-8"?>
<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>CN-7</cbc:ID>
  <cbc:IssueDate>2026-02-03</cbc:IssueDate>
  <cbc:DocumentCurrencyCode>SEK</cbc:DocumentCurrencyCode>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyName><cbc:Name>Trade name AB</cbc:Name></cac:PartyName>
    <cac:PartyLegalEntity><cbc:RegistrationName>Seller AB</cbc:RegistrationName>
    </cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cac:PartyName><cbc:Name>Buyer Oy</cbc:Name></cac:PartyName>
  </cac:Party></cac:AccountingCustomerParty>
  <cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="SEK">125.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
</CreditNote>"""

CII_CREDIT_NOTE = b"""<rsm:CrossIndustryInvoice
  xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
  xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
  xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocument><ram:ID>GS-1</ram:ID><ram:TypeCode>381</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">20260105</udt:DateTimeString>
    </ram:IssueDateTime></rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:ApplicableHeaderTradeAgreement>
      <ram:SellerTradeParty><ram:Name>Lieferant GmbH</ram:Name></ram:SellerTradeParty>
      <ram:BuyerTradeParty><ram:Name>Kunden AG Mitte</ram:Name></ram:BuyerTradeParty>
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:GrandTotalAmount>-20.00</ram:GrandTotalAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>"""


def test_credit_notes_in_either_syntax() -> None:
    assert xml_text(UBL_CREDIT_NOTE).splitlines() == [
        "CREDIT NOTE (e-invoice, UBL)",
        "Credit note number: CN-7",
        "Credit note date: 2026-02-03",
        "Seller: Seller AB",  # the legal name before the trade name
        "Buyer: Buyer Oy",
        "Amount due: 125.00 SEK",
    ]
    text = xml_text(CII_CREDIT_NOTE)
    assert text.splitlines() == [
        "CREDIT NOTE (e-invoice, UN/CEFACT Cross Industry Invoice)",
        "Credit note number: GS-1",
        "Credit note date: 2026-01-05",
        "Seller: Lieferant GmbH",
        "Buyer: Kunden AG Mitte",
        "Total: -20.00 EUR",
    ]
    # The seller's block ends where the buyer's begins: the buyer issued nothing.
    assert field_value(extract(text), "issuer") == "Lieferant GmbH"


def test_other_xml_keeps_its_element_names_as_labels() -> None:
    fattura = (
        b"<FatturaElettronica><DatiGeneraliDocumento><Data>2026-01-31</Data>"
        b"<Numero>FT 12</Numero><ImportoTotaleDocumento>122.00</ImportoTotaleDocumento>"
        b"</DatiGeneraliDocumento><Empty/></FatturaElettronica>"
    )
    assert xml_text(fattura) == "Data: 2026-01-31\nNumero: FT 12\nImportoTotaleDocumento: 122.00"
    assert einvoice_text(fattura) is None


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Invoice>&lol2;</Invoice>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (BILLION_LAUGHS, CorruptDocument, "EntitiesForbidden"),  # never expanded
        (EXTERNAL, CorruptDocument, "EntitiesForbidden"),  # nor fetched
        (b"<Invoice><ID>1</Invoice>", CorruptDocument, "not well-formed"),
        (b"%PDF-1.7 not xml", CorruptDocument, "not well-formed"),
        (b"  \n", EmptyDocument, "empty"),
        (b"<r><a/></r>", EmptyDocument, "no text"),
    ],
)
def test_bad_xml_is_refused_with_its_reason(
    data: bytes, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        read_text(data, "application/xml")
    assert einvoice_text(data) is None


def test_an_xml_of_too_many_elements_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(einvoice, "_MAX_ELEMENTS", 10)
    with pytest.raises(CorruptDocument, match="over 10 elements"):
        xml_text(b"<r>" + b"<a>x</a>" * 10 + b"</r>")
    assert xml_text(b"<r>" + b"<a>x</a>" * 9 + b"</r>") == "\n".join(["a: x"] * 9)


PAGE = "Rechnung R-1 Gesamt 9,00 EUR"


def _pdf(page: str | None, *attachments: tuple[str, bytes]) -> bytes:
    """A one-page PDF printing `page` (None: a page without a text layer, as a scan has)
    with `attachments` (name, content) embedded, as Factur-X embeds its XML."""
    pdf = FPDF()
    pdf.add_page()
    if page is None:
        pdf.rect(10, 10, 50, 50)
    else:
        pdf.set_font("helvetica", size=11)
        pdf.cell(text=page)
    writer = PdfWriter(clone_from=io.BytesIO(bytes(pdf.output())))
    for name, content in attachments:
        writer.add_attachment(name, content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("factur-x.xml", b"<rsm:CrossIndustryInvoice broken"),  # not well-formed
        ("factur-x.xml", BILLION_LAUGHS),  # refused
        ("notes.xml", b"<notes><a>hello</a></notes>"),  # XML, no e-invoice
        ("photo.png", CII_CREDIT_NOTE),  # not a name an e-invoice goes by
    ],
)
def test_a_pdf_whose_attachment_is_no_e_invoice_is_its_page(name: str, content: bytes) -> None:
    assert read_text(_pdf(PAGE, (name, content)), "application/pdf") == PAGE


def test_a_pdf_with_an_e_invoice_attached_under_any_xml_name() -> None:
    text = read_text(_pdf(PAGE, ("xrechnung.xml", CII_CREDIT_NOTE)), "application/pdf")
    assert text.startswith("CREDIT NOTE (e-invoice, UN/CEFACT Cross Industry Invoice)\n")
    assert text.endswith("\n\nRechnung R-1 Gesamt 9,00 EUR")


@pytest.mark.parametrize(
    ("amounts", "lines"),
    [
        # What is due is the total: said once.
        (
            "<cbc:TaxInclusiveAmount>100.00</cbc:TaxInclusiveAmount>"
            "<cbc:PayableAmount>100.0</cbc:PayableAmount>",
            ["Total: 100.00 SEK"],
        ),
        # An advance payment leaves less to pay: the total, what was paid, what is due.
        (
            "<cbc:TaxInclusiveAmount>100.00</cbc:TaxInclusiveAmount>"
            "<cbc:PrepaidAmount>40.00</cbc:PrepaidAmount><cbc:PayableAmount>60.00</cbc:PayableAmount>",
            ["Total: 100.00 SEK", "Paid in advance: 40.00 SEK", "Amount due: 60.00 SEK"],
        ),
    ],
)
def test_the_total_and_what_is_left_to_pay(amounts: str, lines: list[str]) -> None:
    body = UBL_CREDIT_NOTE.replace(
        b'<cbc:PayableAmount currencyID="SEK">125.00</cbc:PayableAmount>', amounts.encode()
    )
    assert xml_text(body).splitlines()[5:] == lines


CII_WITH_DEBIT = CII_CREDIT_NOTE.replace(
    b"<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>",
    b"<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>"
    b"<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>59</ram:TypeCode>"
    b"<ram:PayerPartyDebtorFinancialAccount><ram:IBANID>DE02120300000000202051</ram:IBANID>"
    b"</ram:PayerPartyDebtorFinancialAccount>"
    b"<ram:PayeePartyCreditorFinancialAccount><ram:IBANID>DE89370400440532013000</ram:IBANID>"
    b"</ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>",
).replace(
    b"<ram:GrandTotalAmount>",
    b'<ram:TaxTotalAmount currencyID="SEK">220.00</ram:TaxTotalAmount>'
    b'<ram:TaxTotalAmount currencyID="EUR">19.00</ram:TaxTotalAmount><ram:GrandTotalAmount>',
)


def test_the_payees_account_and_the_vat_in_the_invoices_currency() -> None:
    lines = xml_text(CII_WITH_DEBIT).splitlines()
    # The buyer's account a direct debit draws on (BT-91) is no account to pay into.
    assert [line for line in lines if "DE" in line and "IBAN" in line] == [
        "IBAN: DE89370400440532013000"
    ]
    # VAT accounted in another currency too (BT-111): the invoice's own (BT-110) is read.
    assert "VAT: 19.00 EUR" in lines


def test_a_ubl_sellers_tax_number_is_no_vat_id_and_a_bank_number_no_iban() -> None:
    body = UBL_CREDIT_NOTE.replace(
        b"<cac:PartyLegalEntity>",
        b"<cac:PartyTaxScheme><cbc:CompanyID>201/113/40209</cbc:CompanyID>"
        b"<cac:TaxScheme><cbc:ID>FC</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        b"<cac:PartyTaxScheme><cbc:CompanyID>SE556677889901</cbc:CompanyID>"
        b"<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        b"<cac:PartyLegalEntity>",
        1,
    ).replace(
        b"<cac:LegalMonetaryTotal>",
        b"<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>"
        b"<cac:PayeeFinancialAccount><cbc:ID>5567-1234</cbc:ID></cac:PayeeFinancialAccount>"
        b"</cac:PaymentMeans><cac:LegalMonetaryTotal>",
    )
    lines = xml_text(body).splitlines()
    assert "Seller VAT ID: SE556677889901" in lines
    assert "Account: 5567-1234" in lines
    assert not [line for line in lines if line.startswith("IBAN")]


def test_an_isdoc_invoice_its_currency_and_account() -> None:
    pdf = next((REAL / "isdoc-pdf").iterdir())
    text = einvoice_text(_attachment(pdf, "invoice.isdoc"))
    assert text is not None
    lines = text.splitlines()
    assert lines[:2] == ["INVOICE (e-invoice, UBL)", "Invoice number: FV-2/2021"]
    assert "Total: 76080 CZK" in lines  # ISDOC's LocalCurrencyCode


@pytest.mark.parametrize(
    ("data", "charset", "line"),
    [
        # Declared in an encoding expat does not read.
        (
            '<?xml version="1.0" encoding="Shift_JIS"?><r><n>請求書</n></r>'.encode("shift_jis"),
            None,
            "n: 請求書",
        ),
        # Latin-1 without a declaration, the media type's charset saying so.
        ("<r><n>Müller</n></r>".encode("latin-1"), "iso-8859-1", "n: Müller"),
        # An encoding no codec knows: read as the bytes' own.
        (b'<?xml version="1.0" encoding="foo"?><r><n>plain</n></r>', None, "n: plain"),
        # cXML declares its DTD: read past, its attributes kept as labels.
        (
            b'<?xml version="1.0"?><!DOCTYPE cXML SYSTEM "http://xml.cxml.org/cXML.dtd">'
            b'<cXML><InvoiceDetailRequestHeader invoiceID="INV-9" invoiceDate="2026-01-02"/>'
            b"</cXML>",
            None,
            "InvoiceDetailRequestHeader invoiceID: INV-9",
        ),
    ],
)
def test_xml_in_any_encoding_and_with_a_document_type(
    data: bytes, charset: str | None, line: str
) -> None:
    media_type = "text/xml" + (f"; charset={charset}" if charset else "")
    assert line in read_text(data, media_type).splitlines()


def test_an_svg_image_is_no_document() -> None:
    with pytest.raises(UnsupportedMediaType):
        read_text(b"<svg><text>Logo</text></svg>", "image/svg+xml")
    assert read_text(b"<feed><title>News</title></feed>", "application/atom+xml") == ("title: News")


def test_a_scanned_factur_x_is_its_e_invoice_when_its_page_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def nothing_read(reader: object) -> str:
        raise EmptyDocument("the scanned PDF has no text OCR could read")

    monkeypatch.setattr(documents, "_ocr_pdf", nothing_read)
    scan = _pdf(None, ("factur-x.xml", CII_CREDIT_NOTE))
    assert read_text(scan, "application/pdf") == xml_text(CII_CREDIT_NOTE)
    with pytest.raises(EmptyDocument):  # without one, as before
        read_text(_pdf(None), "application/pdf")


def test_the_attachments_looked_at_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_ATTACHMENTS", 2)
    notes = [(f"a{n}.xml", b"<notes>no invoice</notes>") for n in range(3)]
    data = _pdf(PAGE, *notes, ("z.xml", CII_CREDIT_NOTE))  # the fourth: not looked at
    assert read_text(data, "application/pdf") == PAGE


FATTURA = b"""<?xml version="1.0" encoding="UTF-8"?>
<p:FatturaElettronica versione="FPR12"
  xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2">
  <FatturaElettronicaHeader>
    <CedentePrestatore><DatiAnagrafici>
      <IdFiscaleIVA><IdPaese>IT</IdPaese><IdCodice>01234567890</IdCodice></IdFiscaleIVA>
      <Anagrafica><Denominazione>Alpha SRL</Denominazione></Anagrafica>
    </DatiAnagrafici></CedentePrestatore>
    <CessionarioCommittente><DatiAnagrafici>
      <Anagrafica><Nome>Mario</Nome><Cognome>Rossi</Cognome></Anagrafica>
    </DatiAnagrafici></CessionarioCommittente>
  </FatturaElettronicaHeader>
  <FatturaElettronicaBody>
    <DatiGenerali><DatiGeneraliDocumento>
      <TipoDocumento>TD01</TipoDocumento><Divisa>EUR</Divisa><Data>2026-01-31</Data>
      <Numero>FT 12/2026</Numero><ImportoTotaleDocumento>122.00</ImportoTotaleDocumento>
    </DatiGeneraliDocumento></DatiGenerali>
    <DatiBeniServizi>
      <DettaglioLinee><Descrizione>Consulenza</Descrizione></DettaglioLinee>
      <DatiRiepilogo><ImponibileImporto>80.00</ImponibileImporto><Imposta>17.60</Imposta>
      </DatiRiepilogo>
      <DatiRiepilogo><ImponibileImporto>20.00</ImponibileImporto><Imposta>4.40</Imposta>
      </DatiRiepilogo>
    </DatiBeniServizi>
    <DatiPagamento><DettaglioPagamento>
      <DataScadenzaPagamento>2026-02-28</DataScadenzaPagamento>
      <ImportoPagamento>122.00</ImportoPagamento>
      <IBAN>IT60X0542811101000000123456</IBAN>
    </DettaglioPagamento></DatiPagamento>
  </FatturaElettronicaBody>
</p:FatturaElettronica>"""

KSEF = """<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2023/06/29/12648/">
  <Podmiot1><DaneIdentyfikacyjne><NIP>5265877635</NIP><Nazwa>Kowalski sp. z o.o.</Nazwa>
  </DaneIdentyfikacyjne></Podmiot1>
  <Podmiot2><DaneIdentyfikacyjne><NIP>6808208874</NIP><Nazwa>Nowak S.A.</Nazwa>
  </DaneIdentyfikacyjne></Podmiot2>
  <Fa>
    <KodWaluty>PLN</KodWaluty><P_1>2026-03-02</P_1><P_2>FV/2026/03/7</P_2>
    <P_13_1>100.00</P_13_1><P_14_1>23.00</P_14_1><P_14_1W>23.00</P_14_1W>
    <P_13_2>50.00</P_13_2><P_14_2>4.00</P_14_2><P_13_11> </P_13_11>
    <P_15>177.00</P_15><RodzajFaktury>KOR</RodzajFaktury>
    <FaWiersz><P_7>Usługa serwisowa</P_7></FaWiersz>
    <Platnosc><TerminPlatnosci><Termin>2026-03-16</Termin></TerminPlatnosci>
      <RachunekBankowy><NrRB>61109010140000071219812874</NrRB></RachunekBankowy>
    </Platnosc>
  </Fa>
</Faktura>""".encode()


def test_italys_fatturapa_and_polands_ksef() -> None:
    assert xml_text(FATTURA).splitlines() == [
        "INVOICE (e-invoice, FatturaPA)",
        "Invoice number: FT 12/2026",
        "Invoice date: 2026-01-31",
        "Seller: Alpha SRL",
        "Seller VAT ID: IT01234567890",
        "Buyer: Mario Rossi",  # a person: first and last name
        "Items: Consulenza",
        "Net amount: 100.00 EUR",  # the rates' summaries added up
        "VAT: 22.00 EUR",
        "Total: 122.00 EUR",
        "Due date: 2026-02-28",
        "IBAN: IT60X0542811101000000123456",
    ]
    # A credit note (TD04), and a file of two invoices: each its block.
    credit = FATTURA.replace(b"TD01", b"TD04")
    body = credit[credit.index(b"<FatturaElettronicaBody>") : credit.index(b"</p:Fattura")]
    body = body.replace(b"FT 12/2026", b"NC 3/2026")
    two = credit.replace(b"</p:FatturaElettronica>", body + b"</p:FatturaElettronica>")
    first, second = xml_text(two).split("\n\n")
    assert first.splitlines()[:2] == [
        "CREDIT NOTE (e-invoice, FatturaPA)",
        "Credit note number: FT 12/2026",
    ]
    assert second.splitlines()[:2] == [
        "CREDIT NOTE (e-invoice, FatturaPA)",
        "Credit note number: NC 3/2026",
    ]
    text = xml_text(KSEF)
    assert text.splitlines() == [
        "CORRECTIVE INVOICE (e-invoice, KSeF)",
        "Corrective invoice number: FV/2026/03/7",
        "Corrective invoice date: 2026-03-02",
        "Seller: Kowalski sp. z o.o.",
        "Seller tax ID (NIP): 5265877635",
        "Buyer: Nowak S.A.",
        "Items: Usługa serwisowa",
        "Net amount: 150.00 PLN",
        "VAT: 27.00 PLN",
        "Total: 177.00 PLN",
        "Due date: 2026-03-16",
        "IBAN: PL61109010140000071219812874",  # the NRB is the IBAN without its "PL"
    ]
    out = extract(text)
    assert field_value(out, "invoice_number") == "FV/2026/03/7"
    assert field_value(out, "total_amount") == "177.00 PLN"
    assert field_value(out, "iban") == "PL61109010140000071219812874"
    assert field_value(out, "issuer") == "Kowalski sp. z o.o."


def test_a_ksef_invoice_whose_writer_mangled_its_letters_is_read_all_the_same() -> None:
    # A PDF writer stored "Dróżdż" and "Kępa" as one byte a letter, control characters
    # among them: not UTF-8, not XML; the rest of the invoice is readable.
    mangled = KSEF.replace(b"Kowalski", b"Dr\xf3|d| \x19pa")
    text = xml_text(mangled)
    # As its detected charset reads it: "ó" kept, the control character replaced.
    assert "Seller: Dró|d| \ufffdpa sp. z o.o." in text.splitlines()
    assert "Total: 177.00 PLN" in text.splitlines()


def _payments(terms: str, *details: tuple[str, str]) -> bytes:
    """FATTURA with one DatiPagamento block of `terms` and these (method, amount) details."""
    rows = "".join(
        f"<DettaglioPagamento><ModalitaPagamento>{method}</ModalitaPagamento>"
        f"<ImportoPagamento>{amount}</ImportoPagamento>"
        f"<IBAN>IT60X054281110100000012345{n}</IBAN></DettaglioPagamento>"
        for n, (method, amount) in enumerate(details)
    )
    start = FATTURA.index(b"<DatiPagamento>")
    end = FATTURA.index(b"</DatiPagamento>") + len(b"</DatiPagamento>")
    block = (
        f"<DatiPagamento><CondizioniPagamento>{terms}</CondizioniPagamento>{rows}</DatiPagamento>"
    )
    return FATTURA[:start] + block.encode() + FATTURA[end:]


@pytest.mark.parametrize(
    ("body", "due", "ibans"),
    [
        # Two instalments: added up, the total; said once.
        (_payments("TP01", ("MP05", "61.00"), ("MP05", "61.00")), None, ["...0", "...1"]),
        # One payment offered by two methods: the first, not twice the total.
        (_payments("TP02", ("MP05", "122.00"), ("MP08", "122.00")), None, ["...0", "...1"]),
        # A withholding tax (ritenuta) leaves less to pay: what is paid.
        (_payments("TP02", ("MP05", "102.00")), "Amount due: 102.00 EUR", ["...0"]),
        # A SEPA direct debit draws on the buyer's account: no account to pay into.
        (_payments("TP02", ("MP19", "122.00")), None, []),
    ],
)
def test_what_a_fatturapa_asks_to_be_paid_and_where(
    body: bytes, due: str | None, ibans: list[str]
) -> None:
    lines = xml_text(body).splitlines()
    assert [line for line in lines if line.startswith("Amount due")] == ([due] if due else [])
    accounts = [line for line in lines if line.startswith("IBAN")]
    assert [f"...{a[-1]}" for a in accounts] == ibans


def test_amounts_that_are_no_amounts_are_not_added() -> None:
    huge = FATTURA.replace(b"<Imposta>17.60</Imposta>", b"<Imposta>1e999999999</Imposta>")
    lines = xml_text(huge).splitlines()
    assert not [line for line in lines if line.startswith("VAT")]
    assert "Net amount: 100.00 EUR" in lines
    assert einvoice_text(huge) is not None  # no decimal overflow escapes


def test_a_polish_account_is_an_iban_only_when_its_check_digits_say_so() -> None:
    wrong = KSEF.replace(b"61109010140000071219812874", b"12345678901234567890123456")
    assert "Account: 12345678901234567890123456" in xml_text(wrong).splitlines()


@pytest.mark.parametrize(
    ("page", "flagged"),
    [
        # The page prints the account the data asks to be paid into (spaces do not count).
        ("Rechnung GS-1 IBAN DE89 3704 0044 0532 0130 00", False),
        # The page shows another account than the data: what a reader is not shown.
        ("Rechnung GS-1 IBAN DE02 1203 0000 0000 2020 51", True),
    ],
)
def test_an_e_invoices_iban_the_page_does_not_print_is_said(page: str, flagged: bool) -> None:
    text = read_text(_pdf(page, ("factur-x.xml", CII_WITH_DEBIT)), "application/pdf")
    lines = text.splitlines()
    said = "IBAN not on the page: DE89370400440532013000"
    assert (said in lines) is flagged
    assert lines[-1] == page
    # The data may write its IBAN in groups: spaces do not count there either.
    spaced = CII_WITH_DEBIT.replace(b"DE89370400440532013000", b"DE89 3704 0044 0532 0130 00")
    text = read_text(_pdf(page, ("factur-x.xml", spaced)), "application/pdf")
    assert ("IBAN not on the page: DE89 3704 0044 0532 0130 00" in text) is flagged
