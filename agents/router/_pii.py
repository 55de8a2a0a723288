"""Personal data taken out of text before it leaves for a remote model.

What is masked, each found as strictly as a library can check it: IBANs (their checksum,
python-stdnum; under an "IBAN" label also one whose check digits alone fail, a misprinted
or altered account being someone's account all the same), payment card numbers (the Luhn
check) and the security code written next to one, e-mail addresses, phone numbers
(libphonenumber's matcher for the regions whose languages caseyard reads) and national ids
(US SSN, UK National Insurance number). Each value becomes ``[kind]``; a pipeline step
lets kinds through with ``allow_pii`` in its parameters (``allow_pii: "email,phone"``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator

import phonenumbers
from stdnum import iban, luhn

from agents import ibans

PII_KINDS = ("iban", "card", "cvv", "email", "phone", "national-id")
PHONE_REGIONS = ("DE", "US", "GB", "FR", "ES")

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_CVV = re.compile(r"\b(?:CVV2?|CVC2?|CID|security code)\s*[:#]?\s*(\d{3,4})\b", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")

Spans = Iterator[tuple[int, int]]


def _matches(
    pattern: re.Pattern[str], check: Callable[[str], bool] = lambda _: True
) -> Callable[[str], Spans]:
    def find(text: str) -> Spans:
        for m in pattern.finditer(text):
            if check(m.group(0)):
                yield m.span()

    return find


_IBAN_LABEL = re.compile(r"\bIBAN\b", re.IGNORECASE)


def _ibans(text: str) -> Spans:
    for m in _IBAN.finditer(text):
        compact = m.group(0).replace(" ", "")
        if iban.is_valid(compact) or (
            _IBAN_LABEL.search(text, max(0, m.start() - 30), m.start())
            and ibans.misprinted(compact)
        ):
            yield m.span()


def _cvv(text: str) -> Spans:
    for m in _CVV.finditer(text):
        yield m.span(1)


def _phones(text: str) -> Spans:
    seen: set[tuple[int, int]] = set()
    for region in PHONE_REGIONS:
        for m in phonenumbers.PhoneNumberMatcher(text, region):
            if (m.start, m.end) not in seen:
                seen.add((m.start, m.end))
                yield m.start, m.end


_FINDERS: tuple[tuple[str, Callable[[str], Spans]], ...] = (
    ("iban", _ibans),
    ("card", _matches(_CARD, lambda s: luhn.is_valid(re.sub(r"\D", "", s)))),
    ("cvv", _cvv),
    ("email", _matches(_EMAIL)),
    ("national-id", _matches(_SSN)),
    ("national-id", _matches(_NINO)),
    ("phone", _phones),
)


def redact_pii(text: str, allow: Collection[str] = ()) -> tuple[str, Counter[str]]:
    """`text` with each personal value of a kind not in `allow` replaced by ``[kind]``,
    and how many of each kind were."""
    masked: Counter[str] = Counter()
    for kind, find in _FINDERS:
        if kind in allow:
            continue
        # Right to left, so earlier spans keep their offsets; each finder sees what the
        # ones before left (an IBAN is not also found as a phone number).
        for start, end in reversed(_disjoint(find(text))):
            text = f"{text[:start]}[{kind}]{text[end:]}"
            masked[kind] += 1
    return text, masked


def _disjoint(spans: Spans) -> list[tuple[int, int]]:
    """The spans in order, each overlapping one merged into the one before it."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
