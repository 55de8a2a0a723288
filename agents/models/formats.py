"""Interchange formats that say what a document is by their grammar, not by their words.

A SWIFT MT940 statement or an OFX download is a bank statement by definition, whatever
words it holds; a statistical model that learned prose statements reads their field tags
as noise and their amounts as an invoice's (held out by source, 2 of 17 real statements
were called statements). Each format here is recognised by the structure its standard
prescribes, written from the standard, never from the documents it is measured on:

- SWIFT MT940 (customer statement) and MT942 (interim transaction report): fields that
  open a line with their tag, ``:20:`` reference and ``:25:`` account, then ``:28C:``
  statement number with ``:60F:``/``:60M:`` opening balance (MT940) or ``:34F:`` floor
  limit with ``:13D:`` date-time (MT942);
- OFX / QFX (Open Financial Exchange 1.x SGML and 2.x XML): the OFX header or root element
  and a statement response aggregate (``STMTRS`` bank, ``CCSTMTRS`` credit card,
  ``INVSTMTRS`` investment);
- ISO 20022 cash management reports: ``camt.052`` account report, ``camt.053`` statement,
  ``camt.054`` debit/credit notification (the namespace or the message's root element).

Only formats that decide the type are here. A Swiss QR-bill's payment part, say, comes
alone (a payment request) or at the foot of an invoice, so it is left to the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.payloads import DocType

__all__ = ["Format", "recognise"]


@dataclass(frozen=True, slots=True)
class Format:
    """A recognised interchange format and the document type it is."""

    name: str
    doc_type: DocType


_MT_TAGS = re.compile(r"^:(20|25|28C?|60[FM]|34F|13D):", re.MULTILINE)
_OFX = re.compile(r"OFXHEADER\s*[:=]|<OFX>", re.IGNORECASE)
_OFX_STATEMENT = re.compile(r"<(?:STMTRS|CCSTMTRS|INVSTMTRS)>", re.IGNORECASE)
_CAMT = re.compile(
    r"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]|<(?:\w+:)?(?:BkToCstmrStmt|"
    r"BkToCstmrAcctRpt|BkToCstmrDbtCdtNtfctn)>"
)

MT940 = Format("SWIFT MT940", DocType.BANK_STATEMENT)
MT942 = Format("SWIFT MT942", DocType.BANK_STATEMENT)
OFX = Format("OFX", DocType.BANK_STATEMENT)
CAMT = Format("ISO 20022 camt.05x", DocType.BANK_STATEMENT)


def recognise(text: str) -> Format | None:
    """The interchange format `text` is written in, if it is one of those above."""
    tags = {m.group(1) for m in _MT_TAGS.finditer(text)}
    if {"20", "25"} <= tags:
        if ("28C" in tags or "28" in tags) and tags & {"60F", "60M"}:
            return MT940
        if {"34F", "13D"} <= tags:
            return MT942
    if _OFX.search(text) and _OFX_STATEMENT.search(text):
        return OFX
    if _CAMT.search(text):
        return CAMT
    return None
