"""Generate the sample documents in ``examples/documents`` (text, e-mail, HTML, PDF, DOCX,
XML and images).

    .venv/bin/python scripts/make_examples.py

Every document is written out by hand here, with wording, layouts and names that the
training-corpus generator (``scripts/make_corpus.py``) never uses, so the examples measure
how the models generalise. ``EXPECTED.json`` lists each file's document type, for some the
key fields the extractor must find, and for the payment documents whether the scorer
should rate them high risk, together with the order in which the scorer test feeds them
through one counterparty history. Output is deterministic (fixed PDF dates, no clock).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import zipfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import stdnum.iban
from fpdf import FPDF

if TYPE_CHECKING:
    from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "examples" / "documents"
PDF_DATE = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def iban(country: str, bban: str) -> str:
    """A valid IBAN for ``bban``, formatted in groups of four."""
    number = country + stdnum.iban.calc_check_digits(country + "00" + bban) + bban
    assert stdnum.iban.is_valid(number), number
    return stdnum.iban.format(number)


NORDWIND_IBAN = iban("DE", "500105175407324931")
NORDWIND_FAKE_IBAN = iban("LT", "7300010012345678")
BRIGHTWATER_IBAN = iban("GB", "NWBK60161331926819")
LUMIERE_IBAN = iban("FR", "20041010050500013M02606")
HALVORSEN_IBAN = iban("NL", "INGB0001234567")
MIRADOR_IBAN = iban("ES", "21000418450200051332")
STRANGER_IBAN = iban("GB", "MONZ04000412345678")
EMPLOYEE_IBAN = iban("DE", "120300000012345678")
FRAUD_DEST_IBAN = iban("DE", "370400440532013000")
KESTREL_IBAN = iban("NL", "RABO0123456789")
CARD = "4539 1488 0343 6467"


@dataclass
class Doc:
    """One sample document and what the tests expect of it."""

    name: str
    doc_type: str
    content: str
    kind: str = "txt"
    subject: str = ""
    letterhead: str = ""
    """A word-processing document's page header."""
    sender: str = ""
    to: str = "ap@caseyard-demo.example"
    date: str = "Mon, 02 Mar 2026 09:15:00 +0100"
    html_body: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    risk: str | None = None


DOCS: list[Doc] = []


def add(doc: Doc) -> None:
    DOCS.append(doc)


add(
    Doc(
        "invoice_nordwind_2025-118.pdf",
        "invoice",
        kind="pdf",
        fields={
            "iban": NORDWIND_IBAN.replace(" ", ""),
            "invoice_number": "NWL-2025-118",
            "total_amount": "4189.05 EUR",
            "due_date": "2026-01-30",
            "vat_id": "DE812415868",
            "bic": "MARKDEF1500",
        },
        content=f"""Nordwind Logistik GmbH
Speicherstadt Kehrwieder 8, 20457 Hamburg
Telefon +49 40 3861 2270 · buchhaltung@nordwind-logistik.de

Caseyard Demo AG
Einkauf / Kreditoren
Rosenthaler Straße 40
10178 Berlin

Rechnung NWL-2025-118
Leistungsdatum: Dezember 2025
Rechnungsdatum: 16.12.2025
Zahlbar bis: 30.01.2026

Pos.  Leistung                                   Menge   Preis      Summe
1     Seefracht Hamburg-Rotterdam, 40ft Container   2    1.240,00   2.480,00
2     Zollabfertigung                              1      365,00     365,00
3     Lagerung Palettenplätze (Woche)              12      27,50     330,00

Nettobetrag: 3.175,00 EUR
zzgl. 19 % USt: 603,25 EUR
Treibstoffzuschlag netto 345,00 EUR + USt 65,55 EUR
Rechnungsbetrag: 4.189,05 EUR

Bitte überweisen Sie unter Angabe der Rechnungsnummer auf:
Deutsche Bundesbank Testfiliale · IBAN {NORDWIND_IBAN} · BIC MARKDEF1500
USt-IdNr. DE812415868 · Amtsgericht Hamburg HRB 99120 · GF: Henrike Albers""",
    )
)

add(
    Doc(
        "invoice_nordwind_2026-007.eml",
        "invoice",
        kind="eml",
        subject="Rechnung NWL-2026-007 \u2013 Januar",
        sender="Nordwind Buchhaltung <buchhaltung@nordwind-logistik.de>",
        date="Tue, 03 Feb 2026 08:02:11 +0100",
        fields={
            "invoice_number": "NWL-2026-007",
            "total_amount": "3866.21 EUR",
            "sender_email": "buchhaltung@nordwind-logistik.de",
            "due_date": "2026-03-05",
        },
        content=f"""Guten Morgen,

in der Anlage bzw. nachstehend unsere Rechnung NWL-2026-007 für die Transporte im Januar.

Rechnungsbetrag: 3.866,21 EUR (inkl. 19 % USt)
Fällig am 05.03.2026 ohne Abzug.

Kontoverbindung wie gewohnt: IBAN {NORDWIND_IBAN}

Freundliche Grüße aus Hamburg
Henrike Albers
Nordwind Logistik GmbH""",
    )
)

add(
    Doc(
        "invoice_nordwind_2026-019.txt",
        "invoice",
        fields={"invoice_number": "NWL-2026-019", "total_amount": "4402.80 EUR"},
        content=f"""NORDWIND LOGISTIK GMBH — RECHNUNG

Rechnung Nr. NWL-2026-019          Datum 02.03.2026
Kunde: Caseyard Demo AG, Berlin     Kundennr. 44871

Seefracht Februar (3 Container)            3.120,00
Zollabfertigung                             580,00
---------------------------------------------------
Netto                                     3.700,00 EUR
USt 19 %                                    702,80 EUR
Gesamtbetrag                              4.402,80 EUR

Zahlungsziel 30 Tage. IBAN {NORDWIND_IBAN}
Nordwind Logistik GmbH, Hamburg · buchhaltung@nordwind-logistik.de""",
    )
)

add(
    Doc(
        "invoice_brightwater_0457.txt",
        "invoice",
        fields={
            "invoice_number": "BW-0457",
            "total_amount": "1311.60 GBP",
            "vat_id": "GB898054238",
            "due_date": "2026-04-14",
            "iban": BRIGHTWATER_IBAN.replace(" ", ""),
        },
        content=f"""Brightwater Office Supplies Ltd
Unit 4, 27 Canal Road, Leeds LS12 2PL
VAT Reg. No. GB 898 0542 38
Tel: +44 113 496 0712

TAX INVOICE BW-0457
Issued 15 March 2026 · Terms: 30 days · Pay by 14 April 2026

Deliver to: Caseyard Demo Ltd, 2 Finsbury Avenue, London EC2M 2PP
Attention: Priya Raman

 Item                                   Qty    Each      Line
 A4 copier paper, 80gsm (box of 5)       40    £14.50    £580.00
 Toner cartridge, black, HP 59A           6    £79.00    £474.00
 Desk organisers, bamboo                  8     £5.50     £44.00

 Net                                                    £1,098.00
 VAT @ 20%                                                £219.60
 Less loyalty discount                                     -£6.00
 Amount payable                                         £1,311.60

BACS to Brightwater Office Supplies Ltd
Sort code 60-16-13 · Account 31926819
IBAN {BRIGHTWATER_IBAN} · BIC NWBKGB2L""",
    )
)

add(
    Doc(
        "invoice_atelier_lumiere.pdf",
        "invoice",
        kind="pdf",
        fields={
            "invoice_number": "AL-26-0042",
            "total_amount": "2460.00 EUR",
            "vat_id": "FR96684482565",
            "due_date": "2026-04-10",
        },
        content=f"""Atelier Lumière SARL
14, quai des Chartrons
33000 Bordeaux
contact@atelier-lumiere.fr — 05 56 44 21 90

FACTURE N° AL-26-0042
Bordeaux, le 11 mars 2026

Destinataire : Caseyard Démo SAS, 8 rue du Mail, 75002 Paris

Objet : conception graphique du rapport annuel 2025

Maquette et mise en page (24 pages) ....... 1 650,00 €
Retouches photographiques ................... 400,00 €
Total HT ................................... 2 050,00 €
TVA 20 % ...................................... 410,00 €
Net à payer ................................ 2 460,00 €

Règlement par virement avant le 10 avril 2026.
IBAN : {LUMIERE_IBAN} — BIC : BNPAFRPPXXX
SIRET 684 482 565 00017 — TVA intracommunautaire FR96684482565""",
    )
)

add(
    Doc(
        # An e-invoice as Peppol sends one (BIS Billing 3.0's shape, not run through its
        # validator): UBL 2.1 data, no page (agents/einvoice.py).
        "invoice_kestrel_peppol.xml",
        "invoice",
        fields={
            "invoice_number": "KOS-2026-0311",
            "invoice_date": "2026-03-09",
            "due_date": "2026-04-08",
            "total_amount": "871.20 EUR",
            "iban": stdnum.iban.compact(KESTREL_IBAN),
        },
        content=f"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
         xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
  <cbc:ID>KOS-2026-0311</cbc:ID>
  <cbc:IssueDate>2026-03-09</cbc:IssueDate>
  <cbc:DueDate>2026-04-08</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cbc:BuyerReference>PO-4471</cbc:BuyerReference>
  <cac:AccountingSupplierParty>
    <cac:Party>
      <cbc:EndpointID schemeID="0106">58213907</cbc:EndpointID>
      <cac:PartyName><cbc:Name>Kestrel Office Supplies</cbc:Name></cac:PartyName>
      <cac:PostalAddress>
        <cbc:StreetName>Keizersgracht 221</cbc:StreetName>
        <cbc:CityName>Amsterdam</cbc:CityName>
        <cbc:PostalZone>1016 DV</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>NL</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyTaxScheme>
        <cbc:CompanyID>NL859364127B01</cbc:CompanyID>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:PartyTaxScheme>
      <cac:PartyLegalEntity>
        <cbc:RegistrationName>Kestrel Office Supplies B.V.</cbc:RegistrationName>
      </cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty>
    <cac:Party>
      <cbc:EndpointID schemeID="9930">DE811907980</cbc:EndpointID>
      <cac:PartyName><cbc:Name>Caseyard Demo GmbH</cbc:Name></cac:PartyName>
      <cac:PostalAddress>
        <cbc:StreetName>Torstraße 14</cbc:StreetName>
        <cbc:CityName>Berlin</cbc:CityName>
        <cbc:PostalZone>10119</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyLegalEntity>
        <cbc:RegistrationName>Caseyard Demo GmbH</cbc:RegistrationName>
      </cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingCustomerParty>
  <cac:PaymentMeans>
    <cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>
    <cbc:PaymentID>KOS-2026-0311</cbc:PaymentID>
    <cac:PayeeFinancialAccount>
      <cbc:ID>{stdnum.iban.compact(KESTREL_IBAN)}</cbc:ID>
      <cac:FinancialInstitutionBranch><cbc:ID>RABONL2U</cbc:ID></cac:FinancialInstitutionBranch>
    </cac:PayeeFinancialAccount>
  </cac:PaymentMeans>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">151.20</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">720.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">151.20</cbc:TaxAmount>
      <cac:TaxCategory>
        <cbc:ID>S</cbc:ID>
        <cbc:Percent>21</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">720.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">720.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">871.20</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">871.20</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="C62">12</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">540.00</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>Ergonomic desk chair mat</cbc:Name>
      <cac:ClassifiedTaxCategory>
        <cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">45.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
  <cac:InvoiceLine>
    <cbc:ID>2</cbc:ID>
    <cbc:InvoicedQuantity unitCode="C62">30</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">180.00</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>A4 copy paper, 500 sheets</cbc:Name>
      <cac:ClassifiedTaxCategory>
        <cbc:ID>S</cbc:ID><cbc:Percent>21</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">6.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
</Invoice>""",
    )
)

add(
    Doc(
        "invoice_freelance_webdesign.txt",
        "invoice",
        fields={
            "invoice_number": "2026-014",
            "total_amount": "3360.00 USD",
            "due_date": "2026-04-01",
        },
        content="""INVOICE #2026-014

From: Marisol Ortega — Web & Brand Design
1840 Alder Street, Portland, OR 97205
marisol@ortega-studio.com | (503) 555-0188

Bill To:
Caseyard Demo Inc.
500 Howard Street, San Francisco, CA 94105

Date: 03/02/2026
Due Date: 04/01/2026

Landing page redesign ............ 28 hrs @ $95.00 ..... $2,660.00
Illustration set (6 icons) ........................... $700.00

TOTAL DUE: $3,360.00

Payment via ACH (routing 121000248, account 4419023377) or check payable to Marisol Ortega.
Thanks for the great collaboration!""",
    )
)

add(
    Doc(
        "invoice_cloudbase_subscription.eml",
        "invoice",
        kind="eml",
        html_body=True,
        subject="Your Cloudbase invoice CB-88213-2026-03 is ready",
        sender="Cloudbase Billing <billing@cloudbase.io>",
        fields={"invoice_number": "CB-88213-2026-03", "total_amount": "1428.00 EUR"},
        content="""<html><body>
<h2>Cloudbase</h2>
<p>Hi Caseyard team,</p>
<p>Your invoice <b>CB-88213-2026-03</b> for the billing period
1 March 2026 \u2013 31 March 2026 is now available.</p>
<table>
<tr><th>Plan</th><td>Scale (annual commitment, billed monthly)</td></tr>
<tr><th>Workspaces</th><td>12 \u00d7 99,00 €</td></tr>
<tr><th>Support add-on</th><td>240,00 €</td></tr>
<tr><th>Invoice total</th><td>1.428,00 €</td></tr>
</table>
<p>We'll charge the card on file (Mastercard •••• 5678) on 5 March 2026. No action is needed.</p>
<p>Cloudbase Technologies B.V., Herengracht 182, 1016 BR Amsterdam · BTW NL546168188B01</p>
<p style="font-size:small">You're receiving this because you are a billing contact.
<a href="https://cloudbase.io/billing">Manage billing</a></p>
</body></html>""",
    )
)

add(
    Doc(
        "invoice_reminder_stadtwerke.txt",
        "invoice",
        fields={"invoice_number": "SW-2026-33810", "total_amount": "312.48 EUR"},
        content="""Stadtwerke Südheide GmbH · Postfach 1120 · 29221 Celle

Caseyard Demo AG
Rosenthaler Straße 40
10178 Berlin

Celle, 9. März 2026

1. Zahlungserinnerung
Vertragskonto 2048 7719 03 · Rechnung Nr. SW-2026-33810 vom 12. Februar 2026

Sehr geehrte Damen und Herren,

auf Ihrem Vertragskonto ist der folgende Betrag noch nicht ausgeglichen:

Abschlag Strom Februar 2026          312,48 EUR
offener Betrag                       312,48 EUR

Bitte gleichen Sie den offenen Betrag bis zum 23.03.2026 aus. Haben Sie die Zahlung
bereits veranlasst, betrachten Sie dieses Schreiben bitte als gegenstandslos.

Ihr Kundenservice
Telefon 05141 9870-0""",
    )
)


add(
    Doc(
        "receipt_cafe_kiosk.txt",
        "receipt",
        fields={"total_amount": "11.20 EUR"},
        content="""   KAFFEEKIOSK AM NORDBAHNHOF
   Invalidenstr. 10, 10115 Berlin
   St.-Nr. 37/211/20450

  Beleg-Nr. 004417     06.03.2026 08:41
  --------------------------------
  1 x Flat White              3,90
  1 x Hafer-Cappuccino        4,20
  1 x Franzbrötchen           3,10
  --------------------------------
  Gesamt EUR                 11,20
  Gegeben Karte              11,20
  girocard **** 8812
  MwSt 7% enthalten           0,73
  --------------------------------
  Danke & bis morgen!""",
    )
)

add(
    Doc(
        "receipt_hardware_store.pdf",
        "receipt",
        kind="pdf",
        fields={"total_amount": "86.45 GBP"},
        content="""TOOLBOX & TIMBER
High Street Branch, 112 Northgate, Chester CH1 2HT
VAT No. GB 123 4567 89

SALES RECEIPT     Till 03   Op 117
Date 14/03/2026   Time 11:27

Cordless drill 18V            £59.99
Wood screws 4x40 (200)         £7.49
Sandpaper assorted x10         £4.99
Masking tape 2 rolls           £6.00
Dust masks FFP2 (5)            £7.98

BALANCE DUE                   £86.45
VISA CONTACTLESS              £86.45
CARD ************2291
AUTH CODE 084412

Items sold: 5
Keep your receipt - returns accepted within 28 days.""",
    )
)

add(
    Doc(
        "receipt_online_order.eml",
        "receipt",
        kind="eml",
        subject="Payment confirmation for order 5512-AX-0391",
        sender="Paperleaf Books <orders@paperleaf-books.com>",
        fields={"total_amount": "47.85 USD"},
        content="""Hello Jordan,

We've received your payment — thank you! Here is your receipt.

Order 5512-AX-0391 · placed March 4, 2026
  The Pragmatic Programmer (20th Anniv.)      $38.90
  Bookmark set                                 $3.95
  Shipping (standard)                          $5.00
  Total charged                               $47.85

Charged to: American Express ending 1009
Your books ship within 2 business days. Keep this email as your proof of purchase.

Paperleaf Books Inc. · 77 Water Street, New York, NY 10005""",
    )
)

add(
    Doc(
        "receipt_parking_madrid.txt",
        "receipt",
        fields={"total_amount": "18.40 EUR"},
        content="""APARCAMIENTO PLAZA DE ORIENTE
Calle de Bailén, 2 - 28013 Madrid
CIF B-84512377

JUSTIFICANTE DE PAGO
Entrada: 10/03/2026 09:12
Salida:  10/03/2026 15:47
Tiempo:  6 h 35 min
Importe: 18,40 €
(IVA 21% incluido: 3,19 €)
Forma de pago: tarjeta ****4410
Gracias por su visita""",
    )
)


add(
    Doc(
        "statement_march_2026.pdf",
        "bank_statement",
        kind="pdf",
        fields={"iban": HALVORSEN_IBAN.replace(" ", "")},
        content=f"""HALVORSEN & CO BANKING N.V.
Business Current Account — Statement 03/2026

Account holder: Caseyard Demo B.V.
IBAN: {HALVORSEN_IBAN}      BIC: INGBNL2A
Period: 01-03-2026 to 31-03-2026

Balance brought forward                                   € 48.210,55

Booking    Value      Counterparty / details                    Debit        Credit
02-03      02-03      SEPA credit Dijkstra Retail BV INV 2211                 12.400,00
04-03      04-03      SEPA debit Eneco Zakelijk                 1.180,20
09-03      09-03      Salaries March batch 14 items           31.902,44
17-03      17-03      Card 5512 KLM ROYAL DUTCH AIRLINES        1.044,80
23-03      23-03      SEPA credit Van Loon Horeca                              6.890,00
31-03      31-03      Account fee package Business              24,95

Balance carried forward                                   € 33.348,16
Overdraft limit € 25.000,00 · Interest on credit balances 0,00%""",
    )
)

add(
    Doc(
        "statement_kontoauszug_februar.txt",
        "bank_statement",
        content="""Sparda-Testbank eG                        Kontoauszug 2/2026   Blatt 1/1
Konto 0004 8821 97   Kontoinhaberin: Dr. Ilse Brandauer

Bu.-Tag  Wert   Vorgang                                          Betrag EUR
03.02.   03.02. Lastschrift Techniker Krankenkasse              -  412,90
05.02.   05.02. Gutschrift Lohn/Gehalt Physiopraxis Lenz        + 3.184,00
11.02.   11.02. Kartenzahlung EDEKA Brandes                     -    86,13
18.02.   18.02. Dauerauftrag Miete Wohnung Fichtestr.           - 1.050,00
24.02.   24.02. Überweisung Zahnarztpraxis Dr. Kaiser            -   240,00

Kontostand am 01.02.2026                                         2.514,33 H
Kontostand am 28.02.2026                                         3.909,30 H""",
    )
)

add(
    Doc(
        "statement_credit_card.pdf",
        "bank_statement",
        kind="pdf",
        content="""NORTHGATE REWARDS MASTERCARD
Monthly statement for Samuel Okafor
Card number ending 3317        Statement closing date: March 18, 2026

Previous balance                                  $1,204.77
Payments and credits                             -$1,204.77
Purchases                                           $862.10
Interest charged                                      $0.00
New balance                                         $862.10
Minimum payment due                                  $25.00
Payment due date                             April 12, 2026

Trans. date   Description                               Amount
02/21         WHOLE FOODS MKT #10233 OAKLAND CA          $143.62
02/27         UNITED AIRLINES 0162 HOUSTON TX            $514.30
03/04         SHELL OIL 57442 BERKELEY CA                 $61.18
03/11         SPOTIFY USA                                 $11.99
03/15         TRADER JOE'S #127 OAKLAND CA               $131.01

Rewards points earned this period: 862""",
    )
)

add(
    Doc(
        "statement_available_notice.eml",
        "bank_statement",
        kind="eml",
        subject="Your e-statement for February is ready",
        sender="Kestrel Bank <no-reply@kestrelbank.co.uk>",
        content="""Dear Mr Achterberg,

Your February 2026 statement for the Kestrel Everyday Account ending 0417 is now ready to
view in the app.

Summary
Opening balance (1 Feb): £3,118.40
Paid in: £4,205.00
Paid out: £3,677.85
Closing balance (28 Feb): £3,645.55

For your security we will never ask for your passcode by email or phone.

Kestrel Bank plc is authorised by the Prudential Regulation Authority.""",
    )
)


add(
    Doc(
        "payment_nordwind_new_bank_details.eml",
        "payment_request",
        kind="eml",
        subject="WICHTIG: geänderte Bankverbindung / offene Rechnung NWL-2026-019",
        sender="Henrike Albers <h.albers@nordwind-logistlk.de>",
        date="Wed, 11 Mar 2026 16:48:03 +0100",
        fields={
            "iban": NORDWIND_FAKE_IBAN.replace(" ", ""),
            "sender_email": "h.albers@nordwind-logistlk.de",
        },
        risk="high",
        content=f"""Sehr geehrte Damen und Herren,

aufgrund einer laufenden Prüfung durch unsere Bank wurde unsere bisherige Bankverbindung
gesperrt. Bitte überweisen Sie die offene Rechnung NWL-2026-019 über 4.402,80 EUR heute noch
auf unser neues Konto:

Kontoinhaber: Nordwind Logistik GmbH
Neue IBAN: {NORDWIND_FAKE_IBAN}
BIC: REVOLT21

Die Zahlung ist dringend, da sonst die Container im Hafen zurückgehalten werden. Bitte
rufen Sie nicht in der Zentrale an, die Telefonanlage ist derzeit gestört \u2013 antworten Sie
einfach auf diese E-Mail.

Mit freundlichen Grüßen
Henrike Albers
Nordwind Logistik GmbH""",
    )
)

add(
    Doc(
        "payment_ceo_wire_request.eml",
        "payment_request",
        kind="eml",
        subject="quick favour - confidential",
        sender="Thomas Reinholt <t.reinholt.office@gmail.com>",
        date="Fri, 13 Mar 2026 07:52:40 +0100",
        fields={
            "iban": STRANGER_IBAN.replace(" ", ""),
            "sender_email": "t.reinholt.office@gmail.com",
        },
        risk="high",
        content=f"""Hi Ana,

are you available? I need you to handle a transfer for me this morning. We are closing a
confidential acquisition and the seller's lawyer needs the escrow deposit today.

Amount: 48,500.00 EUR
Beneficiary: Harcourt Escrow Services Ltd
IBAN: {STRANGER_IBAN}
Reference: project Falcon

Please keep this strictly between us until the announcement - I'm in back-to-back meetings and
can't take calls. Just email me the confirmation once it's done.

Thomas
CEO

Sent from my iPhone""",
    )
)

add(
    Doc(
        "payment_urgent_unknown_supplier.txt",
        "payment_request",
        fields={"iban": STRANGER_IBAN.replace(" ", "")},
        risk="high",
        content=f"""From: Accounts Dept <accounts.globalfreightpartners@outlook.com>
Subject: OVERDUE - settle today to avoid suspension

Hello,

Our records show an outstanding balance of USD 27,000.00 for freight forwarding services.
Payment must be made TODAY to avoid suspension of your shipments and legal action.

Bank: Monzo Bank
Account name: Global Freight Partners
IBAN: {STRANGER_IBAN}

Do not contact our office line, reply to this email only.

Regards,
Accounts Department""",
    )
)

add(
    Doc(
        "payment_brightwater_statement_request.eml",
        "payment_request",
        kind="eml",
        subject="Payment request - invoice BW-0457",
        sender="Credit Control <accounts@brightwater-supplies.co.uk>",
        date="Mon, 16 Mar 2026 10:05:00 +0000",
        fields={"iban": BRIGHTWATER_IBAN.replace(" ", "")},
        risk="low",
        content=f"""Good morning Priya,

Please could you arrange payment of £1,311.60 for invoice BW-0457 when it falls due on
14 April 2026? Our bank details are unchanged:

Brightwater Office Supplies Ltd
IBAN {BRIGHTWATER_IBAN}
BIC NWBKGB2L

If you need a copy of the invoice or a remittance template, just let me know.

Kind regards,
Gareth Pryce
Credit Control, Brightwater Office Supplies Ltd
Tel. +44 113 496 0715""",
    )
)

add(
    Doc(
        "payment_advance_mirador.txt",
        "payment_request",
        fields={"iban": MIRADOR_IBAN.replace(" ", "")},
        risk="low",
        content=f"""Eventos Mirador S.L.
Paseo de la Castellana 95, 28046 Madrid · NIF ESD17365495

Solicitud de anticipo — Congreso de clientes 2026

Estimados señores:

Conforme a la propuesta aceptada el 2 de marzo de 2026, les rogamos el pago de un anticipo del
30 % para reservar el recinto y el catering:

Importe del anticipo: 6.750,00 €
Fecha límite: 27/03/2026
Beneficiario: Eventos Mirador S.L.
IBAN: {MIRADOR_IBAN}
Concepto: ANTICIPO CONGRESO 2026

El resto se facturará tras el evento. Un cordial saludo,
Nuria Ballester — Dirección de cuentas""",
    )
)

add(
    Doc(
        "payment_expense_reimbursement.pdf",
        "payment_request",
        kind="pdf",
        fields={"iban": EMPLOYEE_IBAN.replace(" ", "")},
        risk="low",
        content=f"""REISEKOSTEN- UND AUSLAGENERSTATTUNG

Name: Jonas Feldmann           Personalnr.: 20417
Abteilung: Vertrieb Süd        Kostenstelle: 4410
Reise: Kundenbesuch Leipzig, 24.\u201325.02.2026

Bahnticket 2. Klasse Berlin\u2013Leipzig      79,80 EUR
Hotel (1 Nacht)                          118,00 EUR
Verpflegungspauschale                     28,00 EUR
Summe Erstattung                         225,80 EUR

Bitte überweisen an: Jonas Feldmann, IBAN {EMPLOYEE_IBAN}
Belege liegen bei. Genehmigt: M. Vogt (Teamleitung), 03.03.2026""",
    )
)

add(
    Doc(
        "payment_deposit_traiteur.txt",
        "payment_request",
        risk="low",
        content="""Traiteur Les Deux Rives
7, place du Marché — 69004 Lyon

Madame, Monsieur,

Pour confirmer le buffet du 18 avril 2026 (120 convives), nous vous remercions de bien vouloir
nous régler un acompte de 1 500,00 € par virement ou par carte via le lien de paiement sécurisé
joint à ce courrier, au plus tard le 31 mars 2026.

Référence de réservation : LDR-0418-120

Avec nos remerciements,
Claire Vasseur""",
    )
)


add(
    Doc(
        "claim_water_damage.pdf",
        "insurance_claim",
        kind="pdf",
        fields={"policy_number": "HH-4471-2209-8"},
        content="""HOUSEHOLD CLAIM NOTIFICATION

Policy no.: HH-4471-2209-8
Insured: Eleanor Whitfield, 19 Larch Grove, Harrogate HG1 4JT
Phone: 07700 900418 · Email: e.whitfield@example.co.uk

Date of incident: 27 February 2026
Type of loss: escape of water

What happened:
The cold-water feed under the upstairs bathroom sink split overnight. Water came through the
kitchen ceiling; the plasterboard, two base units and the laminate floor are ruined. A plumber
(invoice attached) isolated and repaired the pipe the same morning.

Items and estimated cost:
- Ceiling repair and redecoration    £1,450.00
- Kitchen base units (2)              £  980.00
- Laminate flooring 14 m²             £  610.00
Estimated total                       £3,040.00

I declare that the information above is true to the best of my knowledge.
Signed: E. Whitfield   Date: 01/03/2026""",
    )
)

add(
    Doc(
        "claim_car_collision.eml",
        "insurance_claim",
        kind="eml",
        subject="Claim for collision on 8 March - policy MTR-5530194",
        sender="Rafael Quintero <rafa.quintero@example.com>",
        fields={"policy_number": "MTR-5530194"},
        content="""Hello,

I'm reporting an accident for my motor policy MTR-5530194. On 8 March 2026 at about 17:30 a
delivery van reversed out of a loading bay on Calle de Toledo and hit the passenger side of my
car (Seat Leon, plate 4821 KZM). Nobody was hurt. The other driver admitted fault and we filled
in the European accident statement together — photos and the signed form are attached.

The garage estimates the repair at 2.380 EUR. Could you confirm whether I can go ahead and
whether you will cover a hire car in the meantime?

Thank you,
Rafael Quintero
+34 612 345 678""",
    )
)

add(
    Doc(
        "claim_travel_cancellation.txt",
        "insurance_claim",
        content="""An die Reiseversicherung Hanseatica
Versicherungsnummer RV-88 120 554

Betreff: Erstattung Stornokosten \u2013 Reise nach Lissabon

Sehr geehrte Damen und Herren,

meine Tochter ist am 4. März 2026 an einer Lungenentzündung erkrankt (ärztliches Attest anbei),
weshalb wir die gebuchte Pauschalreise vom 7. bis 14. März 2026 nicht antreten konnten.
Der Reiseveranstalter hat Stornogebühren von 1.642,00 EUR einbehalten.

Ich bitte um Erstattung gemäß den Versicherungsbedingungen.

Mit freundlichen Grüßen
Katharina Wendt
Ulmenweg 7, 30159 Hannover""",
    )
)

add(
    Doc(
        "claim_dental_reimbursement.txt",
        "insurance_claim",
        content="""Supplementary Health Cover — Reimbursement Request

Member: Oskar Lindqvist
Membership no.: SHC-0093318
Provider: Bright Smile Dental Clinic, Dublin 2

Treatment date   Treatment                  Charged     Claimed
19/02/2026       Root canal, molar 36       €680.00     €408.00
19/02/2026       X-ray (2)                   €60.00      €36.00

Total claimed: €444.00
Receipts enclosed. Please pay to the account on file.""",
    )
)


add(
    Doc(
        "complaint_late_delivery.eml",
        "complaint",
        kind="eml",
        subject="Still waiting - order 7781-QP, this is getting ridiculous",
        sender="Helen Marsh <helen.marsh@example.org>",
        content="""To whom it may concern,

I ordered a standing desk (order 7781-QP) on 2 February and paid for express delivery. Your
website promised delivery within five working days. It is now five weeks later, the tracking
page has said "in transit" since 12 February and I have been promised a call back three times.
Nobody has called.

I want either the desk delivered by Friday or a full refund, including the express fee. If I
don't hear back I'll raise a chargeback with my bank and leave an honest review.

Helen Marsh""",
    )
)

add(
    Doc(
        "complaint_heating_repair_letter.docx",
        "complaint",
        kind="docx",
        # The sender's letterhead is the page header, as a word processor's template has it.
        letterhead="Margarethe Lindqvist · Kirchweg 14 · 24103 Kiel · m.lindqvist@example.de",
        content="""Wärmetechnik Brandt GmbH
Kundendienst
Holtenauer Straße 201
24105 Kiel

Kiel, 11. März 2026

Beschwerde: Reparatur der Heizungsanlage, Auftrag KD-55210

Sehr geehrte Damen und Herren,

am 19. Februar hat Ihr Techniker die Umwälzpumpe meiner Gasheizung ausgetauscht. Seitdem fällt
die Heizung jede Nacht aus, und das Display zeigt den Fehler F28. Ein zweiter Termin am
2. März wurde ohne Nachricht abgesagt; telefonisch erreiche ich seitdem niemanden.

Berechnet wurden mir:
Position	Betrag
Umwälzpumpe	412,00 EUR
Arbeitszeit 2,5 h	187,50 EUR
Anfahrt	45,00 EUR

Ich bitte Sie, die Anlage bis zum 20. März kostenlos instand zu setzen oder mir die Kosten der
Reparatur von 644,50 EUR zu erstatten. Geschieht beides nicht, wende ich mich an die
Verbraucherzentrale Schleswig-Holstein.

Mit freundlichen Grüßen

Margarethe Lindqvist""",
    )
)

add(
    Doc(
        "complaint_account_fees.txt",
        "complaint",
        content="""Mr. Pieter Vos
Lindengracht 112
1015 KM Amsterdam

To: Customer Relations, Kestrel Bank plc

Re: unexpected charges on my account

Dear Customer Relations team,

I was charged €15 a month in "package fees" since January without any notice, although my
account was advertised as free of charge when I opened it. When I phoned on 3 March the agent
could not explain the fee and ended the call.

I ask you to reverse the charges (€45 so far) and to put the account back on the free tariff.
If this is not resolved within eight weeks I will take the matter to the ombudsman.

Yours faithfully,
Pieter Vos""",
    )
)

add(
    Doc(
        "complaint_internet_outage_es.txt",
        "complaint",
        content="""Asunto: Queja formal - sin conexión desde hace 9 días

Buenas tardes:

Soy cliente de fibra con el contrato FX-2219034. Desde el 3 de marzo no tengo conexión a
internet. He llamado cuatro veces al servicio técnico y cada vez me dicen que un técnico vendrá
"en 48 horas", pero nadie ha venido. Trabajo desde casa y esto me está causando un perjuicio
grave.

Exijo que se resuelva la avería de inmediato y que me descuenten los días sin servicio de la
próxima factura. De lo contrario presentaré una reclamación ante la oficina de consumo.

Laura Benítez Ríos""",
    )
)

add(
    Doc(
        "complaint_webform.html",
        "complaint",
        kind="html",
        content="""<!DOCTYPE html><html><head><title>Contact form submission</title></head><body>
<h1>New contact form submission</h1>
<table>
<tr><td>Topic</td><td>Complaint about staff</td></tr>
<tr><td>Name</td><td>Gregor Stanek</td></tr>
<tr><td>Email</td><td>g.stanek@example.net</td></tr>
<tr><td>Store</td><td>Graz Annenstraße</td></tr>
</table>
<h2>Message</h2>
<p>I was treated very rudely at your Graz branch on Saturday. I asked to exchange a faulty kettle
(receipt in hand) and the assistant refused, raised his voice and told me to "go complain
online". I have been a loyal customer for years and I expect an apology and the exchange.</p>
<script>trackSubmission();</script>
</body></html>""",
    )
)


add(
    Doc(
        "contract_saas_subscription.pdf",
        "contract",
        kind="pdf",
        content="""SOFTWARE SUBSCRIPTION AGREEMENT

between Ledgerline Software Ltd, 40 Queen Street, Edinburgh EH2 3NH ("Supplier")
and Caseyard Demo Ltd, 2 Finsbury Avenue, London EC2M 2PP ("Customer")

Effective date: 1 April 2026

1. Subscription. The Supplier grants the Customer a non-exclusive, non-transferable right to
   use the Ledgerline platform for up to 40 named users during the Subscription Term.
2. Subscription Term. Thirty-six (36) months from the Effective Date. Thereafter the agreement
   renews for successive twelve-month periods unless either party gives 60 days' written notice.
3. Charges. £1,850.00 per month, excluding VAT, invoiced quarterly in advance and payable within
   30 days of the invoice date.
4. Service levels. Availability of 99.9% per calendar month, measured as set out in Schedule 2.
5. Data protection. Each party shall comply with the UK GDPR; the data processing terms in
   Schedule 3 apply.
6. Limitation of liability. Save for fraud, each party's aggregate liability is capped at the
   charges paid in the twelve months preceding the claim.
7. Law and jurisdiction. English law; the courts of England have exclusive jurisdiction.

Signed for the Supplier: Fiona MacLeod, Director        Date: 20 March 2026
Signed for the Customer: Daniel Osei, COO               Date: 20 March 2026""",
    )
)

add(
    Doc(
        "contract_mutual_nda.txt",
        "contract",
        content="""CONFIDENTIALITY AND NON-USE AGREEMENT

This agreement dated 9 March 2026 is made between:
(1) Polaris Robotics Inc., a Delaware corporation, 1 Kendall Square, Cambridge, MA 02139; and
(2) Caseyard Demo Inc., 500 Howard Street, San Francisco, CA 94105.

Purpose: discussions about a possible integration of the parties' products.

Each party may disclose technical and commercial information to the other. The recipient will
(a) use it only for the Purpose, (b) protect it with at least reasonable care, and (c) not
disclose it except to employees and advisers who need to know it and are bound by similar duties.

These obligations last three (3) years from the date of disclosure. Either party may end the
discussions at any time by written notice. This agreement is governed by the laws of the State of
California.

Agreed and accepted:
Polaris Robotics Inc. — by: Amelia Grant, General Counsel
Caseyard Demo Inc. — by: Daniel Osei, COO""",
    )
)

add(
    Doc(
        "contract_gewerbemietvertrag.pdf",
        "contract",
        kind="pdf",
        content="""GEWERBEMIETVERTRAG

Vermieterin: Immobilienverwaltung Spreebogen GmbH, Alt-Moabit 96, 10559 Berlin
Mieterin:    Caseyard Demo AG, Rosenthaler Straße 40, 10178 Berlin

§ 1 Mietobjekt
Vermietet werden Büroflächen im 3. OG des Gebäudes Alt-Moabit 96 mit ca. 410 m² nebst
zwei Tiefgaragenstellplätzen.

§ 2 Mietzeit
Das Mietverhältnis beginnt am 01.05.2026 und ist fest auf fünf Jahre abgeschlossen. Die Mieterin
erhält eine einmalige Verlängerungsoption um weitere fünf Jahre.

§ 3 Miete und Nebenkosten
Die monatliche Nettokaltmiete beträgt 9.225,00 EUR zzgl. Betriebskostenvorauszahlung von
1.640,00 EUR sowie der gesetzlichen Umsatzsteuer.

§ 4 Mietsicherheit
Die Mieterin leistet eine Kaution in Höhe von drei Nettokaltmieten.

§ 5 Schlussbestimmungen
Änderungen bedürfen der Schriftform. Gerichtsstand ist Berlin.

Berlin, den 12.03.2026
_____________________          _____________________
Vermieterin                    Mieterin""",
    )
)

add(
    Doc(
        "contract_prestation_freelance.txt",
        "contract",
        content="""CONVENTION DE PRESTATION

Entre les soussignés :
Mme Sarah Benali, consultante indépendante, 22 rue Sainte-Catherine, 33000 Bordeaux,
ci-après dénommée « la Consultante »,
et la société Caseyard Démo SAS, 8 rue du Mail, 75002 Paris, ci-après dénommée « le Client ».

Il a été convenu ce qui suit :

Article 1 — Mission : audit des processus comptables fournisseurs et recommandations.
Article 2 — Durée : du 1er avril 2026 au 30 juin 2026.
Article 3 — Honoraires : 650 € HT par jour, sur la base de 25 jours, facturés mensuellement.
Article 4 — Confidentialité : la Consultante s'interdit de divulguer toute information
communiquée par le Client.
Article 5 — Résiliation : chaque partie peut mettre fin à la convention avec un préavis de
quinze jours.

Fait à Paris, le 16 mars 2026, en deux exemplaires originaux.""",
    )
)


add(
    Doc(
        "id_passport_scan.txt",
        "identity_document",
        fields={"date_of_birth": "1984-07-19", "expiry_date": "2031-05-02"},
        content="""[OCR scan - page 1/1]
UNITED KINGDOM OF GREAT BRITAIN AND NORTHERN IRELAND
PASSPORT
Type P    Code GBR    Passport No. 533401927
Surname: OKONKWO-HALE
Given names: ADAEZE GRACE
Nationality: BRITISH CITIZEN
Date of birth: 19 JUL 1984
Sex: F    Place of birth: MANCHESTER
Date of issue: 02 MAY 2021     Authority: HMPO
Date of expiry: 02 MAY 2031
P<GBROKONKWO<HALE<<ADAEZE<GRACE<<<<<<<<<<<<<
5334019278GBR8407196F3105025<<<<<<<<<<<<<<06""",
    )
)

add(
    Doc(
        "id_card_germany.txt",
        "identity_document",
        fields={"date_of_birth": "1991-11-03"},
        content="""BUNDESREPUBLIK DEUTSCHLAND
PERSONALAUSWEIS / IDENTITY CARD / CARTE D'IDENTITÉ
L01X00T47
Name/Surname: KOWALSKI
Vornamen/Given names: MARTIN PAUL
Geburtsdatum/Date of birth: 03.11.1991
Staatsangehörigkeit/Nationality: DEUTSCH
Geburtsort/Place of birth: DRESDEN
Gültig bis/Date of expiry: 14.08.2033
IDD<<L01X00T475<<<<<<<<<<<<<<<
9111031<3308144D<<<<<<<<<<<<<8
KOWALSKI<<MARTIN<PAUL<<<<<<<<<""",
    )
)

add(
    Doc(
        "id_driving_licence.pdf",
        "identity_document",
        kind="pdf",
        content="""DRIVING LICENCE — UNITED KINGDOM
1. FERREIRA
2. MR JOAO MIGUEL
3. 22.04.1979 PORTUGAL
4a. 10.09.2019   4b. 09.09.2029   4c. DVLA
5. FERRE704229JM9XY 31
7. [signature]
8. 41 ASHDOWN ROAD, READING RG1 5AU
9. AM/B/BE/f/k/l/n/p/q""",
    )
)

add(
    Doc(
        "id_kyc_submission.eml",
        "identity_document",
        kind="eml",
        subject="Identity verification for account opening",
        sender="Yuki Tanabe <yuki.tanabe@example.jp>",
        content="""Hello onboarding team,

as requested for opening the business account, here are my identification details (a scan of
the passport data page is attached):

Full name: Yuki Tanabe
Document: passport of Japan, no. TZ1184470
Date of birth: 5 January 1988
Issued: 14 June 2022, valid until 14 June 2032
Residential address: 8 Rue de Berne, 1201 Genève

Please let me know if you also need a proof of address.

Best,
Yuki Tanabe""",
    )
)


add(
    Doc(
        "fraud_card_skimming.eml",
        "fraud_report",
        kind="eml",
        subject="Unauthorised payments on my card - please block it now",
        sender="Miriam Cohen <miriam.cohen@example.com>",
        fields={"card_number": "visa ****6467"},
        content=f"""Hello,

this morning my banking app showed three payments I never made, all within ten minutes:

  11/03/2026  ELECTRO-WORLD ONLINE  €899.00
  11/03/2026  GIFTCARDS24.COM       €250.00
  11/03/2026  GIFTCARDS24.COM       €250.00

My card number is {CARD} and the card is still in my wallet — I think it was skimmed at the
petrol station ATM on Sunday. Please block the card immediately, refund these transactions and
send me a replacement.

Miriam Cohen
Mobile +49 151 23456789""",
    )
)

add(
    Doc(
        "fraud_phishing_sms.txt",
        "fraud_report",
        content="""Report submitted via security@ mailbox

Reporter: Anton Berger (customer no. 88120457)

I received a text message yesterday saying "Your parcel fee of 1,99 EUR is unpaid, pay here:
hxxp://parcel-redelivery-eu[.]top/pay". I clicked it and entered my card details before I
realised it was fake. An hour later there was an attempted payment of 640 EUR which the bank
declined. I'm reporting it so you can look into it and protect my account.

Screenshot of the SMS attached.""",
    )
)

add(
    Doc(
        "fraud_invoice_redirection.pdf",
        "fraud_report",
        kind="pdf",
        fields={"iban": FRAUD_DEST_IBAN.replace(" ", "")},
        content=f"""INCIDENT REPORT — SUSPECTED PAYMENT REDIRECTION FRAUD

Reported by: Finance operations, Caseyard Demo AG
Date of report: 12.03.2026

Summary
On 11 March we received an email that appeared to come from our logistics supplier
Nordwind Logistik GmbH, from the address h.albers@nordwind-logistlk.de (note "logistlk"
instead of "logistik"). It claimed the supplier's bank account had been frozen and asked us to
pay the open invoice to a new account. The message imitated the style of genuine emails.

A payment of 4.402,80 EUR was nearly released. The beneficiary account named was
{FRAUD_DEST_IBAN}. The supplier confirmed by phone that they did not send the email.

Actions
- payment stopped before release; the bank was informed
- sender domain blocked at the mail gateway
- police report filed (reference pending)""",
    )
)

add(
    Doc(
        "fraud_romance_scam.txt",
        "fraud_report",
        content="""I need help, I think I've been scammed.

For four months I've been chatting with a man I met on a dating app. He said he was an engineer
working on an oil platform. In February he asked me to help pay a customs fee so he could get his
equipment released, and I sent him 3,500 euros, then another 6,000 euros for a "medical bill".
Now he wants 12,000 more and his profile has disappeared. My daughter says this is a romance scam.

Can you stop the last transfer and tell me what I should do? I don't want anyone else to lose
money to this person.

Ingrid Halvorsen""",
    )
)


add(
    Doc(
        "other_newsletter.html",
        "other",
        kind="html",
        content="""<html><head><title>The Ledger — March edition</title>
<style>p{margin:0}</style></head>
<body>
<h1>The Ledger — March edition</h1>
<p>Hello reader! This month: five spreadsheet tricks for quarter-end, an interview with our head
of product, and early-bird tickets for FinOps Summit in Lisbon.</p>
<h2>Tip of the month</h2>
<p>Use named ranges to make your reconciliation formulas readable.</p>
<p><a href="https://example.com/unsubscribe">Unsubscribe</a> · You are receiving this
newsletter because you signed up on our website.</p>
</body></html>""",
    )
)

add(
    Doc(
        "other_meeting_minutes.txt",
        "other",
        content="""Minutes — Finance Ops weekly sync, Tuesday 10 March 2026
Present: Ana, Daniel, Priya, Jonas (notes)

1. Quarter-end close: timeline agreed; soft close on 27 March.
2. New AP tool: pilot with the Berlin team from April; Priya to collect feedback.
3. Office move: boxes for the 3rd floor arrive next week.
4. AOB: team lunch on Friday.

Actions: Daniel to circulate the close checklist; Jonas to book the meeting room for the retro.""",
    )
)

add(
    Doc(
        "other_job_application.eml",
        "other",
        kind="eml",
        subject="Application: Accounts Payable Specialist (ref. AP-2026-04)",
        sender="Tomasz Nowak <tomasz.nowak@example.pl>",
        content="""Dear hiring team,

I would like to apply for the Accounts Payable Specialist position advertised on your careers
page. For the past four years I have worked in a shared service centre in Kraków, processing
supplier invoices for clients in Germany and the UK, and I speak Polish, English and German.

My CV and references are attached. I would be glad to tell you more in an interview.

Kind regards,
Tomasz Nowak""",
    )
)

add(
    Doc(
        "other_delivery_notice.txt",
        "other",
        content="""Your delivery is scheduled

Parcel 00340434161094421987 from Paperleaf Books will be delivered tomorrow between 10:00 and
14:00. No signature is needed; if you are out, the driver will leave it with a neighbour.

Want to change the day? Visit our delivery page with your parcel number.""",
    )
)

add(
    Doc(
        "other_it_maintenance.eml",
        "other",
        kind="eml",
        subject="Planned maintenance: email and VPN, Saturday night",
        sender="IT Service Desk <servicedesk@caseyard-demo.example>",
        content="""Hi all,

on Saturday 21 March between 22:00 and 02:00 (CET) we will upgrade the mail servers and the VPN
gateway. During this window you may be unable to send email or connect remotely. No action is
needed on your side; laptops will pick up the new VPN profile automatically on Monday.

Thanks for your patience,
IT Service Desk""",
    )
)

add(
    Doc(
        "other_event_invitation.pdf",
        "other",
        kind="pdf",
        content="""You are invited!

Spring get-together of the Berlin office
Thursday, 2 April 2026, from 17:30
Roof terrace, Rosenthaler Straße 40

Food trucks, music and a short look back at the first quarter. Partners welcome.
Please let Lea know by 26 March whether you can come and about any dietary needs.""",
    )
)


SCORER_SEQUENCE = [
    "invoice_nordwind_2025-118.pdf",
    "invoice_nordwind_2026-007.eml",
    "invoice_nordwind_2026-019.txt",
    "invoice_brightwater_0457.txt",
    "payment_brightwater_statement_request.eml",
    "payment_advance_mirador.txt",
    "payment_expense_reimbursement.pdf",
    "payment_deposit_traiteur.txt",
    "payment_nordwind_new_bank_details.eml",
    "payment_ceo_wire_request.eml",
    "payment_urgent_unknown_supplier.txt",
]
"""Order in which the scorer test feeds documents through one history: the supplier's
genuine invoices first, so the redirection attempt meets a payee with a known account."""


def write_pdf(path: Path, text: str) -> None:
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_creation_date(PDF_DATE)
    pdf.set_producer("caseyard make_examples")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", size=9.5)
    for line in text.split("\n"):
        pdf.multi_cell(0, 4.6, line if line else " ", new_x="LMARGIN", new_y="NEXT")
    path.write_bytes(bytes(pdf.output()))


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DOCX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        '<Override PartName="/word/header1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.wordprocessingml.header+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="word/document.xml"/>'
        "</Relationships>"
    ),
    "word/_rels/document.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_R}/header" Target="header1.xml"/>'
        "</Relationships>"
    ),
}


def _docx_paragraph(line: str) -> str:
    return f'<w:p><w:r><w:t xml:space="preserve">{escape(line)}</w:t></w:r></w:p>'


def write_docx(path: Path, header: str, text: str) -> None:
    """A DOCX as a word processor saves a letter: `header` the page header, each line of
    `text` a paragraph (a line of over 80 characters goes on in the next: it is wrapped
    here, not in Word), and a run of lines with tabs a table (a row per line)."""
    body: list[str] = []
    rows: list[str] = []
    lines: list[str] = []
    for line in text.split("\n"):
        if lines and len(lines[-1]) > 80 and line:
            lines[-1] += " " + line
        else:
            lines.append(line)
    for line in [*lines, ""]:
        if "\t" in line:
            cells = "".join(f"<w:tc>{_docx_paragraph(c)}</w:tc>" for c in line.split("\t"))
            rows.append(f"<w:tr>{cells}</w:tr>")
            continue
        if rows:
            body.append(f"<w:tbl><w:tblPr/>{''.join(rows)}</w:tbl>")
            rows = []
        body.append(_docx_paragraph(line))
    section = '<w:sectPr><w:headerReference w:type="default" r:id="rId1"/></w:sectPr>'
    namespaces = f'xmlns:w="{_W}" xmlns:r="{_R}"'
    parts = {
        **_DOCX_PARTS,
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f"<w:document {namespaces}><w:body>{''.join(body[:-1])}{section}</w:body>"
            "</w:document>"
        ),
        "word/header1.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f"<w:hdr {namespaces}>{_docx_paragraph(header)}</w:hdr>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 3, 1, 9, 0, 0))  # deterministic
            info.compress_type = zipfile.ZIP_DEFLATED
            package.writestr(info, content)


def write_eml(path: Path, doc: Doc) -> None:
    mail = EmailMessage()
    mail["From"] = doc.sender
    mail["To"] = doc.to
    mail["Subject"] = doc.subject
    mail["Date"] = doc.date
    mail["Message-ID"] = f"<{path.stem}@examples.caseyard>"
    if doc.html_body:
        mail.set_content("This message is best viewed as HTML.")
        mail.add_alternative(doc.content, subtype="html")
        # A fixed boundary keeps the generated file byte-for-byte reproducible.
        mail.set_boundary(f"caseyard-example-{path.stem}")
    else:
        mail.set_content(doc.content)
    path.write_bytes(bytes(mail))


SCANS = {
    "receipt_cafe_kiosk_scan.png": "receipt_cafe_kiosk.txt",
    "invoice_brightwater_0457_scan.pdf": "invoice_brightwater_0457.txt",
}
"""Scans of text examples (a PNG, and a PDF with no text layer): what OCR has to read."""

PHOTOS = {
    "receipt_hardware_store_photo.jpg": "receipt_hardware_store.pdf",
}
"""Phone photos of text examples: askew on a darker table, lit unevenly, stored sideways
with the EXIF orientation a phone writes."""

SIDEWAYS = {
    "invoice_nordwind_2026-019_sideways.png": "invoice_nordwind_2026-019.txt",
}
"""Scans fed into the scanner sideways: the page is on its side and nothing says so."""


def write_scan(path: Path, text: str) -> None:
    """The text printed on white paper at about 300 dpi, saved as a scanner would."""
    image = _printed(text, 40, paper=255, ink=0)
    if path.suffix == ".pdf":
        # Fixed dates, so that the file is the same byte for byte on every run.
        stamp = PDF_DATE.utctimetuple()
        image.save(path, "PDF", resolution=300, creationDate=stamp, modDate=stamp)
    else:
        image.save(path, "PNG", optimize=True)


def _printed(text: str, size: int, *, paper: int, ink: int) -> Image.Image:
    """The text in a `size`-pixel monospaced font, grey level `ink` on `paper`."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", size)
    lines = text.split("\n")
    width = max(int(font.getlength(line)) for line in lines) + 2 * size
    image = Image.new("L", (width, (len(lines) + 2) * size * 3 // 2), paper)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines, start=1):
        draw.text((size, n * size * 3 // 2), line, font=font, fill=ink)
    return image


def write_photo(path: Path, text: str) -> None:
    """A phone photo of the printed text: the page turned 3 degrees on a darker table,
    light falling off towards one side, slightly out of focus, a JPEG stored sideways
    with EXIF orientation 6 (a viewer turns it 90 degrees clockwise to show it)."""
    from PIL import Image, ImageFilter

    page = _printed(text, 34, paper=242, ink=20)
    margin = 120
    table = Image.new("L", (page.width + 2 * margin, page.height + 2 * margin), 70)
    table.paste(page, (margin, margin))
    table = table.rotate(3, resample=Image.Resampling.BICUBIC, fillcolor=70)
    # Light from the left: the right edge gets 70% of it.
    light = Image.linear_gradient("L").rotate(90).resize(table.size)
    shade = Image.eval(light, lambda v: 255 - int(v * 0.3))
    lit = Image.composite(table, Image.new("L", table.size, 0), shade)
    lit = lit.filter(ImageFilter.GaussianBlur(1.2)).convert("RGB")
    stored = lit.transpose(Image.Transpose.ROTATE_90)  # as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    stored.save(path, "JPEG", quality=82, exif=exif)


def write_sideways(path: Path, text: str) -> None:
    """The text printed and scanned with the page on its side (no EXIF in a scan)."""
    from PIL import Image

    _printed(text, 40, paper=255, ink=0).transpose(Image.Transpose.ROTATE_270).save(
        path, "PNG", optimize=True
    )


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        if old.is_file():
            old.unlink()
    expected: dict[str, dict[str, object]] = {}
    for doc in DOCS:
        path = OUT / doc.name
        if doc.kind == "pdf":
            write_pdf(path, doc.content)
        elif doc.kind == "eml":
            write_eml(path, doc)
        elif doc.kind == "docx":
            write_docx(path, doc.letterhead, doc.content)
        else:
            path.write_text(doc.content + "\n", encoding="utf-8")
        entry: dict[str, object] = {"doc_type": doc.doc_type}
        if doc.fields:
            entry["fields"] = doc.fields
        if doc.risk:
            entry["risk"] = doc.risk
        expected[doc.name] = entry
    images = [
        *((name, source, write_scan) for name, source in SCANS.items()),
        *((name, source, write_photo) for name, source in PHOTOS.items()),
        *((name, source, write_sideways) for name, source in SIDEWAYS.items()),
    ]
    for name, source, write in images:
        (doc,) = [d for d in DOCS if d.name == source]
        write(OUT / name, doc.content)
        expected[name] = expected[source]
    names = [d.name for d in DOCS]
    assert len(set(names)) == len(names), "duplicate example names"
    assert all(n in expected for n in SCORER_SEQUENCE)
    manifest = {
        "about": "Expected outputs for the sample documents; see scripts/make_examples.py.",
        "documents": dict(sorted(expected.items())),
        "scorer_sequence": SCORER_SEQUENCE,
    }
    (OUT / "EXPECTED.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    sys.stdout.write(f"wrote {len(DOCS) + len(images)} documents to {OUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
