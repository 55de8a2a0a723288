"""XML documents, e-invoices first: their data as labelled lines of text.

An e-invoice is the invoice as data: a UBL 2.1 ``Invoice`` or ``CreditNote`` (Peppol,
XRechnung, and ISDOC's UBL-like tree) or a UN/CEFACT ``CrossIndustryInvoice`` (Factur-X,
ZUGFeRD 2 and XRechnung's other syntax; ZUGFeRD 1's ``CrossIndustryDocument`` too), which
a Factur-X or ZUGFeRD PDF carries inside it beside the page a person reads. Its business
terms (EN 16931: the number BT-1, the issue date BT-2, the seller BT-27, the amount due
BT-115, the payee's IBAN BT-84...) become lines such as ``Invoice number: 471102``, the
labels every model reads, so the extractor's rules and any OpenAI-compatible model answer
from the data rather than from the layout. Other XML keeps its element names as labels
(``Numero: 123``), so a FatturaPA or a KSeF invoice is not a soup of values.

The XML is parsed by defusedxml: a document type declaration (where entity expansion and
external entities live) is refused, not resolved.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from agents.errors import CorruptDocument

__all__ = ["einvoice_text", "xml_text"]

_MAX_ELEMENTS = 200_000
"""Elements read of one XML document; more is no invoice (and no budget to spend)."""


def xml_text(data: bytes) -> str:
    """The text of an XML document: an e-invoice's data as labelled lines
    (`einvoice_text`), any other document's leaf elements as ``Name: value`` lines.

    Raises:
        CorruptDocument: If the bytes are not well-formed XML, or declare a DTD.
    """
    root = _parse(data)
    rendered = _render(root)
    if rendered is not None:
        return rendered
    return "\n".join(f"{_label(el.tag)}: {text}" for el, text in _leaves(root))


def einvoice_text(data: bytes) -> str | None:
    """An e-invoice's data as labelled lines; None if `data` is XML of another kind or no
    XML at all (a PDF's attachment need not be one)."""
    try:
        root = _parse(data)
    except CorruptDocument:
        return None
    return _render(root)


def _parse(data: bytes) -> Element:
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise CorruptDocument(f"the XML declares {type(exc).__name__}: not read") from exc
    except (ParseError, ValueError) as exc:
        raise CorruptDocument(f"the XML is not well-formed: {exc}") from exc
    for count, el in enumerate(root.iter()):
        if count >= _MAX_ELEMENTS:
            raise CorruptDocument(f"the XML has over {_MAX_ELEMENTS:,} elements")
        if isinstance(el.tag, str):
            el.tag = el.tag.rpartition("}")[2]  # local names: one path for every version
    return root


def _render(root: Element) -> str | None:
    """By the tree, not the root's name, which the versions change (ZUGFeRD 1's drafts
    call a Cross Industry tree ``Invoice``)."""
    if root.tag in ("Invoice", "CreditNote") and root.find("AccountingSupplierParty") is not None:
        return _lines(_ubl(root), "UBL")
    header = _first(root, "ExchangedDocument", "HeaderExchangedDocument")
    if header is not None and root.find(".//SellerTradeParty") is not None:
        return _lines(_cii(root), "UN/CEFACT Cross Industry Invoice")
    return None


_CREDIT_CODES = {"381", "396", "532"}
"""UNTDID 1001 codes of a credit note."""


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
    return [
        (kind.upper(), ""),
        (f"{kind} number", _text(doc, "ID")),
        (f"{kind} date", _date(_text(doc, "IssueDateTime/DateTimeString"))),
        ("Seller", _text(seller, "Name")),
        ("Seller VAT ID", _vat(seller)),
        ("Buyer", _text(root, ".//BuyerTradeParty/Name")),
        ("Items", _joined(_texts(root, ".//SpecifiedTradeProduct/Name"))),
        ("Net amount", _money(_text(sums, "TaxBasisTotalAmount"), currency)),
        ("VAT", _money(_text(sums, "TaxTotalAmount"), currency)),
        *_totals(
            _text(sums, "GrandTotalAmount"),
            _text(sums, "TotalPrepaidAmount"),
            _text(sums, "DuePayableAmount"),
            currency,
        ),
        ("Due date", _date(_text(settlement, ".//DueDateDateTime/DateTimeString"))),
        *(("IBAN", iban) for iban in _texts(settlement, ".//IBANID")),
        *(("BIC", bic) for bic in _texts(settlement, ".//BICID")),
    ]


def _ubl(root: Element) -> list[tuple[str, str | None]]:
    kind = "Credit note" if root.tag == "CreditNote" else "Invoice"
    currency = _text(root, "DocumentCurrencyCode")
    supplier = root.find("AccountingSupplierParty/Party")
    customer = root.find("AccountingCustomerParty/Party")
    totals = root.find("LegalMonetaryTotal")
    due = _text(root, "DueDate") or _text(root, ".//PaymentDueDate")
    accounts = root.findall(".//PaymentMeans/PayeeFinancialAccount")
    return [
        (kind.upper(), ""),
        (f"{kind} number", _text(root, "ID")),
        (f"{kind} date", _date(_text(root, "IssueDate"))),
        ("Seller", _party_name(supplier)),
        ("Seller VAT ID", _text(supplier, "PartyTaxScheme/CompanyID")),
        ("Buyer", _party_name(customer)),
        ("Items", _joined(_texts(root, ".//Item/Name"))),
        ("Net amount", _money(_text(totals, "TaxExclusiveAmount"), currency)),
        ("VAT", _money(_text(root, "TaxTotal/TaxAmount"), currency)),
        *_totals(
            _text(totals, "TaxInclusiveAmount"),
            _text(totals, "PrepaidAmount"),
            _text(totals, "PayableAmount"),
            currency,
        ),
        ("Due date", _date(due)),
        *(("IBAN", _text(a, "ID")) for a in accounts),
        *(("BIC", _text(a, "FinancialInstitutionBranch/ID")) for a in accounts),
    ]


def _totals(
    total: str | None, paid: str | None, due: str | None, currency: str | None
) -> list[tuple[str, str | None]]:
    """The invoice total (BT-112) and, where an advance payment leaves less to pay, what
    was paid (BT-113) and what is due (BT-115)."""
    lines = [("Total", _money(total, currency))]
    if due and (total is None or _amount(due) != _amount(total)):
        lines += [
            ("Paid in advance", _money(paid, currency)),
            ("Amount due", _money(due, currency)),
        ]
    return lines


def _amount(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


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
    found = el.find(path) if el is not None else None
    text = (found.text or "").strip() if found is not None else ""
    return " ".join(text.split()) or None


def _texts(el: Element | None, path: str) -> list[str]:
    if el is None:
        return []
    return [" ".join(t.split()) for f in el.findall(path) if (t := (f.text or "").strip())]


def _joined(values: list[str], limit: int = 20) -> str | None:
    return "; ".join(dict.fromkeys(values[:limit])) or None


def _party_name(party: Element | None) -> str | None:
    return _text(party, "PartyLegalEntity/RegistrationName") or _text(party, "PartyName/Name")


def _vat(party: Element | None) -> str | None:
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


def _label(tag: object) -> str:
    return tag if isinstance(tag, str) else "?"


def _leaves(root: Element) -> Iterator[tuple[Element, str]]:
    for el in root.iter():
        if isinstance(el.tag, str) and len(el) == 0:
            text = " ".join((el.text or "").split())
            if text:
                yield el, text
