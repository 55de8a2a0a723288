"""XML documents, e-invoices first: their data as labelled lines of text.

An e-invoice is the invoice as data: a UBL 2.1 ``Invoice`` or ``CreditNote`` (Peppol,
XRechnung, and ISDOC's UBL-like tree), a UN/CEFACT ``CrossIndustryInvoice`` (Factur-X,
ZUGFeRD 2 and XRechnung's other syntax; ZUGFeRD 1's ``CrossIndustryDocument`` too), which
a Factur-X or ZUGFeRD PDF carries inside it beside the page a person reads, Italy's
FatturaPA or Poland's KSeF structured invoice. Its business
terms (EN 16931: the number BT-1, the issue date BT-2, the seller BT-27, the amount due
BT-115, the payee's IBAN BT-84...) become lines such as ``Invoice number: 471102``, the
labels every model reads, so the extractor's rules and any OpenAI-compatible model answer
from the data rather than from the layout. Other XML keeps its element and attribute
names as labels (``Numero: 123``), so a Spanish Facturae or a cXML invoice is not a soup of
values.

The XML is parsed by defusedxml: an entity declaration (what an XML bomb expands) and an
external reference are refused, not resolved; a document type declaration alone (cXML's
``<!DOCTYPE cXML SYSTEM ...>``) is read past. XML that is not in the encoding it declares
(or, without a declaration, UTF-8) is decoded as the media type's charset says, else as
`charset_normalizer` finds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from xml.etree.ElementTree import Element, ParseError

import stdnum.iban
from charset_normalizer import from_bytes as detect_charset
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from agents.errors import CorruptDocument

__all__ = ["einvoice_text", "not_on_the_page", "xml_text"]

_MAX_ELEMENTS = 200_000
"""Elements read of one XML document; more is no invoice. Bounded before parsing too (each
element takes a ``<``), so a tree of millions of empty elements is never built."""


def xml_text(data: bytes, charset: str | None = None) -> str:
    """The text of an XML document: an e-invoice's data as labelled lines
    (`einvoice_text`), any other document's elements as ``Name: value`` lines and their
    attributes as ``Name attribute: value``. ``charset`` is the media type's.

    Raises:
        CorruptDocument: If the bytes are not well-formed XML, declare an entity or refer
            to an external one, or hold more than `_MAX_ELEMENTS` elements.
    """
    root = _parse(data, charset)
    rendered = _render(root)
    if rendered is not None:
        return rendered
    return "\n".join(_leaves(root))


def einvoice_text(data: bytes) -> str | None:
    """An e-invoice's data as labelled lines; None if `data` is XML of another kind or no
    XML at all (a PDF's attachment need not be one)."""
    try:
        root = _parse(data, None)
    except CorruptDocument:
        return None
    return _render(root)


_IBAN_LINE = re.compile(r"^IBAN: (.+)$", re.MULTILINE)
_SPACE = re.compile(r"\s+")


def not_on_the_page(einvoice: str, page: str) -> str:
    """A line for each IBAN the embedded e-invoice asks to be paid into that its page does
    not print: what a person reading the page is not shown (an altered hybrid invoice's
    usual trick, or a page without bank details). Spaces do not count."""
    printed = _SPACE.sub("", page)
    return "".join(
        f"\nIBAN not on the page: {iban}"
        for iban in _IBAN_LINE.findall(einvoice)
        if _SPACE.sub("", iban) not in printed
    )


def _parse(data: bytes, charset: str | None) -> Element:
    if data.count(b"<") > 2 * _MAX_ELEMENTS:
        raise CorruptDocument(f"the XML has over {_MAX_ELEMENTS:,} elements")
    root: Element | None
    try:
        root = _tree(data.decode(charset) if charset else data)
    except (ParseError, ValueError, LookupError) as exc:
        root = _read_again(data, charset)
        if root is None:
            raise CorruptDocument(f"the XML is not well-formed: {exc}") from exc
    for count, el in enumerate(root.iter()):
        if count >= _MAX_ELEMENTS:
            raise CorruptDocument(f"the XML has over {_MAX_ELEMENTS:,} elements")
        if isinstance(el.tag, str):
            el.tag = el.tag.rpartition("}")[2]  # local names: one path for every version
    return root


_NOT_XML_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


_DECLARED = re.compile(rb"""^[^<]*<\?xml[^>]*?encoding=["']([A-Za-z0-9._-]+)["']""")


def _read_again(data: bytes, charset: str | None) -> Element | None:
    """XML not in the encoding it declares, in one expat does not read (Shift_JIS, Big5),
    or Latin-1 without a declaration: as the bytes' own charset reads them, else as the
    media type's charset or the declared encoding says, else as UTF-8; what none of them
    decodes, and characters XML does not allow, replaced (a PDF writer that wrote a name's
    letters as control characters leaves the rest of its invoice readable)."""
    declared = _DECLARED.match(data[:200])
    encodings = [charset, declared.group(1).decode() if declared else None, "utf-8"]
    # None: the charset charset_normalizer finds; then each encoding named, once.
    for encoding in (None, *dict.fromkeys(e for e in encodings if e)):
        try:
            if encoding is None:
                best = detect_charset(data).best()
                if best is None:
                    continue
                text = str(best)
            else:
                text = data.decode(encoding, errors="replace")
            return _tree(_NOT_XML_CHARACTERS.sub("\ufffd", text))
        except (ParseError, ValueError, LookupError):
            continue
    return None


def _tree(xml: bytes | str) -> Element:
    try:
        return fromstring(xml, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CorruptDocument(f"the XML declares {type(exc).__name__}: not read") from exc


def _render(root: Element) -> str | None:
    """By the tree, not the root's name, which the versions change (ZUGFeRD 1's drafts
    call a Cross Industry tree ``Invoice``)."""
    if root.tag in ("Invoice", "CreditNote") and root.find("AccountingSupplierParty") is not None:
        return _lines(_ubl(root), "UBL")
    header = _first(root, "ExchangedDocument", "HeaderExchangedDocument")
    if header is not None and root.find(".//SellerTradeParty") is not None:
        return _lines(_cii(root), "UN/CEFACT Cross Industry Invoice")
    if root.tag == "FatturaElettronica" and root.find("FatturaElettronicaBody") is not None:
        # One file may carry several invoices of one seller to one buyer: each its block.
        return "\n\n".join(
            _lines(_fattura(root, body), "FatturaPA")
            for body in root.findall("FatturaElettronicaBody")
        )
    if root.tag == "Faktura" and root.find("Fa") is not None:
        return _lines(_ksef(root), "KSeF")
    return None


_CREDIT_CODES = {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}
"""UNTDID 1001 codes of a credit note (EN 16931's code list for BT-3)."""
_ISDOC_CREDIT = "2"
"""ISDOC's ``DocumentType`` of a credit note (1 is an invoice)."""


def _cii(root: Element) -> list[tuple[str, str | None]]:
    doc = _first(root, "ExchangedDocument", "HeaderExchangedDocument")
    settlement = _first(
        root,
        ".//ApplicableHeaderTradeSettlement",
        ".//ApplicableSupplyChainTradeSettlement",
    )
    sums = _first(
        settlement,
        "SpecifiedTradeSettlementHeaderMonetarySummation",
        "SpecifiedTradeSettlementMonetarySummation",
    )
    kind = "Credit note" if _text(doc, "TypeCode") in _CREDIT_CODES else "Invoice"
    currency = _text(settlement, "InvoiceCurrencyCode")
    seller = root.find(".//SellerTradeParty")
    means = ".//SpecifiedTradeSettlementPaymentMeans/"
    return [
        *_heading(kind, _text(doc, "ID"), _date(_text(doc, "IssueDateTime/DateTimeString"))),
        ("Seller", _text(seller, "Name")),
        ("Seller VAT ID", _cii_vat(seller)),
        ("Buyer", _text(root, ".//BuyerTradeParty/Name")),
        ("Items", _joined(_texts(root, ".//SpecifiedTradeProduct/Name"))),
        ("Net amount", _money(_text(sums, "TaxBasisTotalAmount"), currency)),
        ("VAT", _money(_in_currency([sums], "TaxTotalAmount", currency), currency)),
        *_totals(
            _text(sums, "GrandTotalAmount"),
            _text(sums, "TotalPrepaidAmount"),
            _text(sums, "DuePayableAmount"),
            currency,
        ),
        ("Due date", _date(_text(settlement, ".//DueDateDateTime/DateTimeString"))),
        # The payee's account (BT-84), not the buyer's a direct debit draws on (BT-91).
        *_accounts(
            [
                *_texts(settlement, means + "PayeePartyCreditorFinancialAccount/IBANID"),
                *_texts(settlement, means + "PayeePartyCreditorFinancialAccount/ProprietaryID"),
            ]
        ),
        *(
            ("BIC", bic)
            for bic in _texts(
                settlement, means + "PayeeSpecifiedCreditorFinancialInstitution/BICID"
            )
        ),
    ]


def _ubl(root: Element) -> list[tuple[str, str | None]]:
    credit = root.tag == "CreditNote" or _text(root, "DocumentType") == _ISDOC_CREDIT
    kind = "Credit note" if credit else "Invoice"
    currency = _text(root, "DocumentCurrencyCode") or _text(root, "LocalCurrencyCode")
    supplier = root.find("AccountingSupplierParty/Party")
    customer = root.find("AccountingCustomerParty/Party")
    totals = root.find("LegalMonetaryTotal")
    due = _text(root, "DueDate") or _text(root, ".//PaymentDueDate")
    accounts = root.findall(".//PaymentMeans/PayeeFinancialAccount")
    isdoc = root.findall(".//PaymentMeans/Payment/Details")  # ISDOC's payee account
    taxes = root.findall("TaxTotal")
    return [
        *_heading(kind, _text(root, "ID"), _date(_text(root, "IssueDate"))),
        ("Seller", _party_name(supplier)),
        ("Seller VAT ID", _ubl_vat(supplier)),
        ("Buyer", _party_name(customer)),
        ("Items", _joined(_texts(root, ".//Item/Name") or _texts(root, ".//Item/Description"))),
        ("Net amount", _money(_text(totals, "TaxExclusiveAmount"), currency)),
        ("VAT", _money(_in_currency([*taxes], "TaxAmount", currency), currency)),
        *_totals(
            _text(totals, "TaxInclusiveAmount"),
            _text(totals, "PrepaidAmount"),
            _text(totals, "PayableAmount"),
            currency,
        ),
        ("Due date", _date(due)),
        *_accounts([*_texts_of(accounts, "ID"), *_texts_of(isdoc, "IBAN")]),
        *(("BIC", bic) for bic in _texts_of(accounts, "FinancialInstitutionBranch/ID")),
        *(("BIC", bic) for bic in _texts_of(isdoc, "BIC")),
    ]


_FATTURA_CREDIT = {"TD04"}
"""FatturaPA's ``TipoDocumento`` of a credit note (``nota di credito``)."""


def _fattura(root: Element, body: Element) -> list[tuple[str, str | None]]:
    """Italy's FatturaPA: the seller (``CedentePrestatore``) and the buyer
    (``CessionarioCommittente``) in the header, each invoice in a body."""
    doc = body.find("DatiGenerali/DatiGeneraliDocumento")
    kind = "Credit note" if _text(doc, "TipoDocumento") in _FATTURA_CREDIT else "Invoice"
    currency = _text(doc, "Divisa")
    seller = root.find("FatturaElettronicaHeader/CedentePrestatore/DatiAnagrafici")
    buyer = root.find("FatturaElettronicaHeader/CessionarioCommittente/DatiAnagrafici")
    summary = body.findall("DatiBeniServizi/DatiRiepilogo")
    # The accounts to pay into: not those a direct debit or a RiBa draws on (the buyer's).
    payments = [
        p
        for p in body.findall("DatiPagamento/DettaglioPagamento")
        if _text(p, "ModalitaPagamento") not in _FATTURA_DEBITS
    ]
    return [
        *_heading(kind, _text(doc, "Numero"), _date(_text(doc, "Data"))),
        ("Seller", _anagrafica(seller)),
        ("Seller VAT ID", _joined_id(seller, "IdFiscaleIVA/IdPaese", "IdFiscaleIVA/IdCodice")),
        ("Buyer", _anagrafica(buyer)),
        ("Items", _joined(_texts(body, "DatiBeniServizi/DettaglioLinee/Descrizione"))),
        ("Net amount", _money(_sum(_texts_of(summary, "ImponibileImporto")), currency)),
        ("VAT", _money(_sum(_texts_of(summary, "Imposta")), currency)),
        *_totals(_text(doc, "ImportoTotaleDocumento"), None, _fattura_due(body), currency),
        ("Due date", _date(next(iter(_texts_of(payments, "DataScadenzaPagamento")), None))),
        *_accounts(_texts_of(payments, "IBAN")),
        *(("BIC", bic) for bic in dict.fromkeys(_texts_of(payments, "BIC"))),
    ]


_FATTURA_DEBITS = {"MP12", "MP16", "MP17", "MP19", "MP20", "MP21"}
"""FatturaPA's ``ModalitaPagamento`` that draw on the buyer's account: RiBa, bank and
postal domiciliation, SEPA direct debits."""


def _fattura_due(body: Element) -> str | None:
    """What the first payment terms ask: the instalments of a payment in instalments
    (``TP01``) added up, else the first payment's amount (another block of terms, or the
    same payment offered by two methods, is no more to pay)."""
    terms = body.find("DatiPagamento")
    if terms is None:
        return None
    amounts = _texts(terms, "DettaglioPagamento/ImportoPagamento")
    if _text(terms, "CondizioniPagamento") == "TP01":
        return _sum(amounts)
    return amounts[0] if amounts else None


def _anagrafica(party: Element | None) -> str | None:
    """A FatturaPA party's name: its company name, else a person's first and last name."""
    name = _text(party, "Anagrafica/Denominazione")
    if name is None:
        person = [_text(party, "Anagrafica/Nome"), _text(party, "Anagrafica/Cognome")]
        name = " ".join(p for p in person if p) or None
    return name


def _ksef(root: Element) -> list[tuple[str, str | None]]:
    """Poland's KSeF structured invoice (FA(2), FA(3)): its fields are numbered after the
    VAT act's ``P_`` items (P_1 the issue date, P_2 the number, P_15 the amount due, the
    net and VAT amounts per rate in P_13_n and P_14_n)."""
    fa = root.find("Fa")
    kind = (
        "Corrective invoice" if (_text(fa, "RodzajFaktury") or "").startswith("KOR") else "Invoice"
    )
    currency = _text(fa, "KodWaluty")
    fields = list(fa) if fa is not None else []
    # P_13_11 is a margin scheme's gross sale, no net amount; P_14_nW is VAT in zloty.
    net = [_strip(f) for f in fields if f.tag.startswith("P_13_") and f.tag != "P_13_11"]
    vat = [_strip(f) for f in fields if f.tag.startswith("P_14_") and not f.tag.endswith("W")]
    return [
        *_heading(kind, _text(fa, "P_2"), _date(_text(fa, "P_1"))),
        ("Seller", _text(root, "Podmiot1/DaneIdentyfikacyjne/Nazwa")),
        ("Seller tax ID (NIP)", _text(root, "Podmiot1/DaneIdentyfikacyjne/NIP")),
        ("Buyer", _text(root, "Podmiot2/DaneIdentyfikacyjne/Nazwa")),
        ("Items", _joined(_texts(fa, "FaWiersz/P_7"))),
        ("Net amount", _money(_sum([n for n in net if n]), currency)),
        ("VAT", _money(_sum([v for v in vat if v]), currency)),
        ("Total", _money(_text(fa, "P_15"), currency)),
        ("Due date", _date(_text(fa, "Platnosc/TerminPlatnosci/Termin"))),
        *_accounts(_polish_ibans(_texts(fa, "Platnosc/RachunekBankowy/NrRB"))),
        *(("BIC", bic) for bic in _texts(fa, "Platnosc/RachunekBankowy/SWIFT")),
    ]


def _polish_ibans(accounts: list[str]) -> list[str]:
    """A Polish account number (NRB, 26 digits) is the IBAN without its ``PL``: its first
    two digits are the IBAN's check digits (when they check: else it stays as written)."""
    return [
        f"PL{compact}" if stdnum.iban.is_valid(f"PL{compact}") else account
        for account in accounts
        if (compact := account.replace(" ", ""))
    ]


def _strip(el: Element) -> str:
    return (el.text or "").strip()


def _joined_id(party: Element | None, *paths: str) -> str | None:
    parts = [_text(party, path) for path in paths]
    return "".join(p for p in parts if p) or None


def _sum(amounts: list[str]) -> str | None:
    """The sum of decimal amounts as written ("100.00" + "22.00" = "122.00"); None if there
    are none or one is not an amount (`_AMOUNT`: no "1e999999" to expand)."""
    if not amounts or not all(_AMOUNT.fullmatch(a) for a in amounts):
        return None
    return f"{sum((Decimal(a) for a in amounts), Decimal(0)):f}"


def _totals(
    total: str | None, paid: str | None, due: str | None, currency: str | None
) -> list[tuple[str, str | None]]:
    """The invoice total (BT-112) and, where an advance payment leaves less to pay, what
    was paid (BT-113) and what is due (BT-115); a due above the total (a payment listed
    twice) is not shown."""
    lines = [("Total", _money(total, currency))]
    due_amount, total_amount = _amount(due), _amount(total)
    if due and (total_amount is None or (due_amount is not None and due_amount < total_amount)):
        lines += [
            ("Paid in advance", _money(paid, currency)),
            ("Amount due", _money(due, currency)),
        ]
    return lines


def _amount(value: str | None) -> float | None:
    if value is None or not _AMOUNT.fullmatch(value):
        return None
    return float(value)


_AMOUNT = re.compile(r"-?\d{1,18}(?:\.\d{1,8})?")
"""An amount as the formats write one (FatturaPA's Amount2/8DecimalType, KSeF's TKwotowy,
UBL's and CII's amounts in practice): no exponent, no digit separators."""


def _heading(kind: str, number: str | None, date: str | None) -> list[tuple[str, str | None]]:
    """The title (the kind in capitals: "INVOICE", "CREDIT NOTE"), number and date lines."""
    return [(kind.upper(), ""), (f"{kind} number", number), (f"{kind} date", date)]


def _lines(terms: list[tuple[str, str | None]], syntax: str) -> str:
    (title, _), *rest = terms
    lines = [f"{title} (e-invoice, {syntax})"]
    lines += [f"{label}: {value}" for label, value in rest if value]
    return "\n".join(lines)


def _first(el: Element | None, *paths: str) -> Element | None:
    if el is None:
        return None
    for path in paths:
        found = el.find(path)
        if found is not None:
            return found
    return None


def _text(el: Element | None, path: str) -> str | None:
    """The first text at `path`, its whitespace runs made single spaces."""
    return next(iter(_texts(el, path)), None)


def _texts(el: Element | None, path: str) -> list[str]:
    if el is None:
        return []
    return [" ".join(t.split()) for f in el.findall(path) if (t := (f.text or "").strip())]


def _joined(values: list[str], limit: int = 20) -> str | None:
    return "; ".join(dict.fromkeys(values[:limit])) or None


def _party_name(party: Element | None) -> str | None:
    return _text(party, "PartyLegalEntity/RegistrationName") or _text(party, "PartyName/Name")


def _in_currency(els: list[Element | None], path: str, currency: str | None) -> str | None:
    """The amount at `path` in the invoice's currency: a VAT total may be given twice, the
    second in the currency VAT is accounted in (BT-111, ``currencyID`` says which)."""
    found = [f for el in els if el is not None for f in el.findall(path)]
    same = [f for f in found if currency is None or f.get("currencyID") in (None, currency)]
    for f in same or found:
        if f.text and f.text.strip():
            return f.text.strip()
    return None


def _texts_of(els: list[Element], path: str) -> list[str]:
    return [text for el in els for text in _texts(el, path)]


def _accounts(ids: list[str]) -> list[tuple[str, str | None]]:
    """Each payee account once, labelled as an IBAN if it reads as one (two letters, two
    digits), else as an account number (a Swedish bankgiro, a Czech account)."""
    lines: list[tuple[str, str | None]] = []
    for account in dict.fromkeys(ids):
        compact = account.replace(" ", "")
        iban = compact[:2].isalpha() and compact[2:4].isdigit() and len(compact) >= 15
        lines.append(("IBAN" if iban else "Account", account))
    return lines


def _ubl_vat(party: Element | None) -> str | None:
    """The seller's VAT id (BT-31): the tax scheme ``VAT``'s, not a national tax number
    (BT-32, XRechnung's Steuernummer)."""
    if party is None:
        return None
    for scheme in party.findall("PartyTaxScheme"):
        if _text(scheme, "TaxScheme/ID") in ("VAT", None):
            return _text(scheme, "CompanyID")
    return None


def _cii_vat(party: Element | None) -> str | None:
    if party is None:
        return None
    for registration in party.findall("SpecifiedTaxRegistration/ID"):
        if registration.get("schemeID") == "VA" and registration.text:
            return registration.text.strip()
    return None


def _date(value: str | None) -> str | None:
    """``20180305`` (CII's format 102) as ``2018-03-05``; ISO dates as they are."""
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _money(amount: str | None, currency: str | None) -> str | None:
    if not amount:
        return None
    return f"{amount} {currency}" if currency else amount


def _leaves(root: Element) -> Iterator[str]:
    """Each element with text as ``Name: text``, each attribute as ``Name attribute: value``
    (cXML and many ERP exports keep their data in attributes)."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue  # a comment or a processing instruction
        for name, value in el.attrib.items():
            words = " ".join(value.split())
            if words:
                yield f"{el.tag} {name.rpartition('}')[2]}: {words}"
        text = " ".join((el.text or "").split())
        if text and len(el) == 0:
            yield f"{el.tag}: {text}"
