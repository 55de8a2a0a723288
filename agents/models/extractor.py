# ruff: noqa: RUF001, RUF003 -- Serbian and Russian labels in Cyrillic: letters that look Latin on purpose
"""Field extraction: identifiers, money, dates, contacts, names and addresses, with spans.

Validation is delegated to kept libraries: python-stdnum checks IBANs, BICs, EU and UK VAT
ids and card numbers (Luhn), phonenumbers finds and normalises phone numbers (E.164).
Names and addresses are best effort: labelled lines ("From:", "Name:", "Beneficiary:"),
salutations and sign-offs, company legal suffixes (GmbH, Ltd, Inc, SA, BV...) and street
patterns of the languages the agents see (EN/DE/FR/ES/NL).

Every field carries the span of its source text and a confidence calibrated on real
documents (`Calibration`); a card number's value is masked, so the full number never
leaves the extractor. Where two candidates overlap (a VAT id inside an
IBAN, a phone number inside an account number), the more specific one wins.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

import phonenumbers
import stdnum.bic
import stdnum.eu.vat
import stdnum.gb.vat
import stdnum.iban
import stdnum.luhn

from agents import ibans
from agents.errors import ModelError
from agents.models import _data
from agents.models._money_dates import CURRENCY_PATTERN as _CURRENCY_PATTERN
from agents.models._money_dates import DATE as DATE_PATTERN
from agents.models._money_dates import ISO_CODES, MONEY, currency_code, parse_date, parse_number
from schemas.payloads import ExtractedField, ExtractOutput, FieldType, Span

__all__ = [
    "CALIBRATION_PRIOR",
    "MODEL_NAME",
    "Calibration",
    "Extractor",
    "extract",
    "extract_raw",
    "field_value",
    "fields_named",
]

MODEL_NAME = "extract-rules-v8"
"""Reported in `ModelUsage.model`; a change of the rules' answers is a new version (v2:
confidences calibrated, see `Calibration`; v3: labels in more languages and scripts, tax
totals, receipts' names, wrapped journal lines; then Brazil's, Poland's and the Czech
currencies, Swiss thousands, tax totals in either order, forms' dates under their labels;
v4: sellers' and buyers' labels in eleven more languages, a seller's name under its
"Name:" label, receipt numbers, "BAURECHNUNG (204) Nr.", labels stacked over their values,
a title over the document's number, a CFDI's issuer and pesos, "without VAT" in more
languages, no date inside a longer code, an amount's currency ending its line, an amount
behind check-protection asterisks, no amount with two leading zeros; v5: a name over its
role word, a legal form after a comma or in capitals, a greeted company is the addressee, a
letter's signatory as the last resort, Czech and Spanish simplified invoices' numbers;
receipts' totals and numbers in Slovak, Finnish and Portuguese, Czech, Slovak and Brazilian
legal forms, a total's currency in its label, a discount no net nor tax, a printed domain's
company with its legal form; v6: a boleto's value and date labels, no amount of a code
beside a currency, the kuna and the lira's "TL"; v7: an amount without a currency is in
the only one the document names as a heading, when nothing closer says; v8: an IBAN under
its label whose check digits fail, with a low confidence, when the page has no valid one;
Japanese, Chinese and Korean dates and their labels, the yen's "円", the Saudi riyal,
credit notes' and short invoice numbers, a seller's block that ends at the next party's
label)."""
CALIBRATION_PRIOR = 5.0
"""How many answers a rule's own confidence counts for when it is calibrated (see
`Calibration.fit`): a level the development sources answered few times stays near it.
Picked among 2, 5 and 10 with their held-out calibration error in view (0.035, 0.038,
0.055 before the isotonic pooling), so that figure is not wholly independent of it."""


@dataclass(frozen=True)
class Calibration:
    """What a rule's confidence means, learned from the development sources.

    Each rule gives its fields a fixed confidence (0.9 for a labelled invoice date, 0.7 for
    a letterhead's name...). Measured on real documents, those numbers said less than the
    rules achieve: the answers the rules gave were right 92-98% of the time at a mean
    confidence of 0.83-0.86 (expected calibration error 0.09-0.13). `fit` turns each
    (field, rule confidence) into the share of such answers that were right on the
    development sources (`evaluation.EXTRACTOR_DEVELOPMENT_SOURCES`), smoothed towards the
    rule's own number by `CALIBRATION_PRIOR` answers and kept in the rules' order (a
    higher rule confidence never calibrates lower); `caseyard train extractor` writes it
    to ``data/extractor/calibration.json`` and measures it on the other sources. A field or
    a confidence the development sources never answered keeps its rule's number.

    Args:
        levels: field name -> rule confidence -> calibrated confidence.
    """

    levels: Mapping[str, Mapping[float, float]]

    @classmethod
    def fit(
        cls, answers: Iterable[tuple[str, float, bool]], prior: float = CALIBRATION_PRIOR
    ) -> Calibration:
        """Fit on `(field name, rule confidence, right)` answers."""
        counts: dict[str, dict[float, list[int]]] = {}
        for name, confidence, right in answers:
            cell = counts.setdefault(name, {}).setdefault(confidence, [0, 0])
            cell[0] += int(right)
            cell[1] += 1
        levels: dict[str, dict[float, float]] = {}
        for name, cells in sorted(counts.items()):
            rules = sorted(cells)
            # (smoothed share right, weight) per rule confidence, then pooled where a
            # higher rule confidence came out lower (isotonic: the rules' order is kept).
            blocks: list[tuple[float, float, list[float]]] = []
            for rule in rules:
                hits, n = cells[rule]
                value, weight = (hits + prior * rule) / (n + prior), n + prior
                members = [rule]
                while blocks and blocks[-1][0] > value:
                    before, before_weight, before_members = blocks.pop()
                    value = (before * before_weight + value * weight) / (before_weight + weight)
                    weight += before_weight
                    members = before_members + members
                blocks.append((value, weight, members))
            levels[name] = {
                rule: round(value, 3) for value, _, members in blocks for rule in members
            }
        return cls(levels)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read a calibration written by `to_json`; none (every confidence as its rule
        gives it) if `path` does not exist.

        Raises:
            ModelError: If the file is not a calibration.
        """
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls({})
        except OSError as exc:
            raise ModelError(f"cannot read the extractor calibration {path}: {exc}") from exc
        try:
            body = json.loads(raw)
            levels = {
                str(name): {float(rule): float(value) for rule, value in pairs}
                for name, pairs in body["levels"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{path}: not an extractor calibration: {exc}") from exc
        if not all(0.0 <= v <= 1.0 for pairs in levels.values() for v in pairs.values()):
            raise ModelError(f"{path}: a calibrated confidence is outside [0, 1]")
        return cls(levels)

    def to_json(self) -> str:
        """Stable JSON (`load` reads it)."""
        body = {
            "levels": {
                name: [[rule, value] for rule, value in sorted(pairs.items())]
                for name, pairs in sorted(self.levels.items())
            }
        }
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    def confidence(self, name: str, rule: float) -> float:
        """The calibrated confidence of a `name` field its rule gave `rule`."""
        return self.levels.get(name, {}).get(rule, rule)

    def apply(self, output: ExtractOutput) -> ExtractOutput:
        """`output` with each field's confidence calibrated."""
        if not self.levels:
            return output
        return ExtractOutput(
            fields=tuple(
                f
                if (calibrated := self.confidence(f.name, f.confidence)) == f.confidence
                else f.model_copy(update={"confidence": calibrated})
                for f in output.fields
            )
        )


@functools.cache
def shipped_calibration() -> Calibration:
    """The calibration in ``data/extractor/calibration.json`` (read once)."""
    return Calibration.load(_data.EXTRACTOR_CALIBRATION)


@dataclass(frozen=True)
class _Candidate:
    name: str
    value: str
    type: FieldType
    normalized: str | None
    start: int
    end: int
    confidence: float
    priority: int

    def overlaps(self, other: _Candidate) -> bool:
        return self.start < other.end and other.start < self.end

    def to_field(self) -> ExtractedField:
        return ExtractedField(
            name=self.name,
            value=self.value,
            type=self.type,
            normalized=self.normalized,
            span=Span(start=self.start, end=self.end),
            confidence=self.confidence,
        )


class Extractor:
    """Stateless field extractor; `extract` is the same as `Extractor().extract`."""

    model_name = MODEL_NAME

    def extract(self, text: str) -> ExtractOutput:
        """Extract every field found in ``text``."""
        return extract(text)


def extract(text: str) -> ExtractOutput:
    """Extract every field found in ``text``, ordered by position, with calibrated
    confidences (`Calibration`).

    Args:
        text: Plain text of a document (see `agents.documents.read_text`).

    Raises:
        ModelError: If ``data/extractor/calibration.json`` exists and is not a calibration.
    """
    return shipped_calibration().apply(extract_raw(text))


def extract_raw(text: str) -> ExtractOutput:
    """`extract` with each field's confidence as its rule gives it (what `Calibration`
    is fitted on)."""
    exclusive = _resolve(
        [
            *_ibans(text),
            *_cards(text),
            *_vat_ids(text),
            *_emails(text),
            *_bics(text),
            *_identifiers(text),
        ]
    )
    declared = _declared_currency(text)
    dollar = _local_dollar(text, declared)
    exclusive = _resolve([*exclusive, *_dates(text, _month_first_hint(text, dollar))])
    exclusive = _resolve(
        [*exclusive, *_money(text, dollar, declared, _country_currency(exclusive))]
    )
    exclusive = _resolve([*exclusive, *declared])
    exclusive = _resolve([*exclusive, *_phones(text, _region_hint(text, exclusive))])
    people = _resolve([*_names(text), *_addresses(text)])
    people = [p for p in people if not any(p.overlaps(e) for e in exclusive if e.type in _HARD)]
    found = _promote_singletons(exclusive) + _first_of_each(people)
    found.extend(_issuer(text, people))
    found.sort(key=lambda c: (c.start, c.end, c.name))
    return ExtractOutput(fields=tuple(c.to_field() for c in found))


def _first_of_each(candidates: list[_Candidate]) -> list[_Candidate]:
    """One field per (name, value): a letterhead repeated in the footer is one organisation."""
    seen: set[tuple[str, str | None]] = set()
    out = []
    for candidate in sorted(candidates, key=lambda c: c.start):
        key = (candidate.name, (candidate.normalized or "").lower())
        if key not in seen:
            seen.add(key)
            out.append(candidate)
    return out


def fields_named(output: ExtractOutput, *names: str) -> list[ExtractedField]:
    """The fields with any of ``names``, in the order of ``names`` then position."""
    return [f for name in names for f in output.fields if f.name == name]


def field_value(output: ExtractOutput, *names: str) -> str | None:
    """Normalised (else raw) value of the first field with one of ``names``, if any."""
    for f in fields_named(output, *names):
        return f.normalized or f.value
    return None


_HARD = frozenset({FieldType.IBAN, FieldType.EMAIL, FieldType.IDENTIFIER, FieldType.MONEY})


def _resolve(candidates: Iterable[_Candidate]) -> list[_Candidate]:
    """Keep the best of overlapping candidates: higher priority, then longer, then earlier."""
    ranked = sorted(candidates, key=lambda c: (-c.priority, -(c.end - c.start), c.start))
    kept: list[_Candidate] = []
    for candidate in ranked:
        if not any(candidate.overlaps(k) for k in kept):
            kept.append(candidate)
    return kept


def _line_prefix(text: str, start: int, limit: int = 60) -> str:
    """Text between the start of the line and ``start`` (at most ``limit`` characters)."""
    line_start = text.rfind("\n", 0, start) + 1
    return text[max(line_start, start - limit) : start]


_LABEL_DIGIT = re.compile(r"\d")


def _line_rest(text: str, end: int) -> str:
    """Text between ``end`` and the end of its line."""
    line_end = text.find("\n", end)
    return text[end : line_end if line_end >= 0 else len(text)]


def _label_of(text: str, start: int, end: int, limit: int = 60) -> str:
    """What labels the value at ``start:end``: the text before it on its line, or, when the
    value stands alone on its line, the nearest line above it across at most two blank
    lines, if that line has no digits and at most ``limit`` characters, as the text of HTML
    tables and PDF forms has a label's value ("Grand Total:", a blank line, "$35.90")."""
    prefix = _line_prefix(text, start, limit)
    if prefix.strip() or _line_rest(text, end).strip():
        return prefix
    above_end = text.rfind("\n", 0, start)  # the end of the line above
    for _ in range(3):  # that line, then across up to two blank lines
        if above_end < 0:
            return prefix
        above_start = text.rfind("\n", 0, above_end) + 1
        above = text[above_start:above_end].strip()
        if above:
            return above if len(above) <= limit and not _LABEL_DIGIT.search(above) else prefix
        above_end = above_start - 1
    return prefix


_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){10,32}")


def _ibans(text: str) -> Iterator[_Candidate]:
    """The valid IBANs of `text`; if it has none, those an "IBAN" label names that fail
    their check digits in their country's length and format (`_misprinted_iban`)."""
    misprinted: list[_Candidate] = []
    found_valid = False
    for match in _IBAN.finditer(text):
        raw = match.group()
        wrapped = _WRAPPED_IBAN.match(text, match.end())
        for candidate in (raw, raw + wrapped.group() if wrapped else None):
            found = _valid_iban(candidate, match.start()) if candidate else None
            if found is not None:
                found_valid = True
                yield found
                break
        else:
            if _IBAN_LABEL.search(_label_of(text, match.start(), match.end(), 30)):
                found = _misprinted_iban(raw, match.start())
                if found is not None:
                    misprinted.append(found)
    if not found_valid:
        yield from misprinted


_WRAPPED_IBAN = re.compile(r"[ \t]*\n[ \t]*(?:[A-Z0-9][ ]?){1,20}(?![a-z])")
"""The rest of an IBAN the PDF's text layer wrapped onto the next line ("DE67 1004 8392
7221" then "8882 72"), tried only when what the line holds does not validate: the
checksum decides."""

_IBAN_LABEL = re.compile(r"\bIBAN\b", re.IGNORECASE)

MISPRINTED_IBAN_CONFIDENCE = 0.5
"""The rule confidence of an IBAN whose check digits fail: printed under its label as
the document's account, in its country's length and format, but a bank refuses it (a
typing or OCR error, an altered account, or a sample document's made-up number)."""


def _valid_iban(raw: str, start: int) -> _Candidate | None:
    """The longest prefix of `raw` that is a valid IBAN: the pattern is greedy and may run
    into the next word ("... 00 BIC")."""
    return _iban_prefix(raw, start, stdnum.iban.is_valid, 0.99)


def _misprinted_iban(raw: str, start: int) -> _Candidate | None:
    """The longest prefix of `raw` that would be a valid IBAN with other check digits: its
    country's length and account format (a national check is not asked of it), with
    `MISPRINTED_IBAN_CONFIDENCE`. What a page prints as its IBAN is its answer, even when
    the bank would refuse it; the low confidence says so to the pipeline."""

    def account(compact: str) -> bool:
        # Not a form's placeholder ("DE00 0000 0000 0000 0000 00").
        return len(set(compact[4:])) > 1 and ibans.misprinted(compact)

    return _iban_prefix(raw, start, account, MISPRINTED_IBAN_CONFIDENCE)


def _iban_prefix(
    raw: str, start: int, accept: Callable[[str], bool], confidence: float
) -> _Candidate | None:
    """The longest prefix of `raw` (at least 15 characters besides spaces) whose compact
    form `accept` takes."""
    positions = [i for i, ch in enumerate(raw) if not ch.isspace()]
    for length in range(len(positions), 14, -1):
        end = positions[length - 1] + 1
        compact = re.sub(r"\s", "", raw[:end])
        if accept(compact):
            return _Candidate(
                "iban",
                raw[:end],
                FieldType.IBAN,
                stdnum.iban.compact(compact),
                start,
                start + end,
                confidence,
                100,
            )
    return None


_BIC = re.compile(r"\b[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b")
_BIC_CUE = re.compile(r"\b(?:BIC|SWIFT|Swift[- ]?Code)\b", re.IGNORECASE)


def _bics(text: str) -> Iterator[_Candidate]:
    for match in _BIC.finditer(text):
        # Eight capital letters are also just a shouted word; only a label makes it a BIC.
        if not _BIC_CUE.search(_line_prefix(text, match.start(), 30)):
            continue
        if stdnum.bic.is_valid(match.group()):
            yield _Candidate(
                "bic",
                match.group(),
                FieldType.IDENTIFIER,
                stdnum.bic.compact(match.group()),
                match.start(),
                match.end(),
                0.95,
                70,
            )


_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_CARD_BRANDS = (
    (re.compile(r"^4\d{12}(?:\d{3}){0,2}$"), "visa"),
    (re.compile(r"^(?:5[1-5]\d{14}|2(?:2[2-9][1-9]|[3-6]\d\d|7[01]\d|720)\d{12})$"), "mastercard"),
    (re.compile(r"^3[47]\d{13}$"), "amex"),
    (re.compile(r"^(?:6011\d{12}|65\d{14})$"), "discover"),
)


def _cards(text: str) -> Iterator[_Candidate]:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        brand = next((name for pattern, name in _CARD_BRANDS if pattern.match(digits)), None)
        if brand is None or not stdnum.luhn.is_valid(digits):
            continue
        masked = _mask_digits(match.group(), keep=4)
        yield _Candidate(
            "card_number",
            masked,
            FieldType.IDENTIFIER,
            f"{brand} ****{digits[-4:]}",
            match.start(),
            match.end(),
            0.97,
            95,
        )


def _mask_digits(value: str, keep: int) -> str:
    total = sum(ch.isdigit() for ch in value)
    seen = 0
    out = []
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


_VAT = re.compile(
    r"\b(?:ATU|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GB|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI)"
    r"[ ]?[0-9A-Z](?:[ .]?[0-9A-Z]){6,13}\b"
)
_VAT_CUE = re.compile(
    r"\b(?:VAT|USt|UStId|UID|MwSt|TVA|IVA|NIF|CIF|BTW|Tax ID|Steuer)", re.IGNORECASE
)


def _vat_ids(text: str) -> Iterator[_Candidate]:
    for match in _VAT.finditer(text):
        raw = match.group()
        positions = [i for i, ch in enumerate(raw) if ch not in " ."]
        for length in range(len(positions), 7, -1):
            end = positions[length - 1] + 1
            compact = re.sub(r"[ .]", "", raw[:end])
            valid = (
                stdnum.gb.vat.is_valid(compact)
                if compact.startswith("GB")
                else stdnum.eu.vat.is_valid(compact)
            )
            if valid:
                cue = bool(_VAT_CUE.search(_line_prefix(text, match.start(), 40)))
                yield _Candidate(
                    "vat_id",
                    raw[:end],
                    FieldType.IDENTIFIER,
                    compact,
                    match.start(),
                    match.start() + end,
                    0.95 if cue else 0.7,
                    90 if cue else 60,
                )
                break


_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")


def _emails(text: str) -> Iterator[_Candidate]:
    for match in _EMAIL.finditer(text):
        prefix = _line_prefix(text, match.start(), 200).lstrip().lower()
        name = "email"
        if prefix.startswith(("from:", "von:", "de :", "de:", "sender:", "reply-to:")):
            name = "sender_email"
        elif prefix.startswith(("to:", "an:", "à :", "para:", "cc:")):
            name = "recipient_email"
        yield _Candidate(
            name,
            match.group(),
            FieldType.EMAIL,
            match.group().lower(),
            match.start(),
            match.end(),
            0.98,
            90,
        )


_ID_LABELS: tuple[tuple[str, str], ...] = (
    (
        "invoice_number",
        r"invoice\s*(?:no\.?|number|nr\.?|num\.?|#|id)|inv\.?\s*(?:no\.?|#)|bill\s*(?:no\.?|#)"
        r"|receipt\s*(?:no\.?|number|nr\.?|#)"
        # Receipts' titles and labels whose value must follow on the same line (under a
        # title stands the date): Slovak "č. bloku" (OCR without Slovak reads "é"), Finnish
        # "Kuitti", Spanish "Factura simplificada".
        r"|(?:[čcé]\.\s*bloku|kuitti(?:[ \t]*(?:nro\.?|numero))?|factura\s+simplificada)"
        r"(?=[ \t]*[:#]?[ \t]*[A-Z0-9])"
        r"|rechnungs?\s*-?\s*(?:nr\.?|nummer|no\.?)|re\.?-?nr\.?"
        r"|\w*rechnung\)?(?:\s+de[rs]\s+\w+)?(?:\s*\(\d{3}\))?\s*(?:nr\.?|#)"
        r"|gutschrifts?\s*-?\s*(?:nr\.?|nummer)|avoir\s*(?:n°|no|n\.?º?|num[ée]ro)"
        r"|factuur\s*-?\s*(?:nummer|nr\.?|no\.?)"
        r"|faktura\s*(?:vat\s*)?(?:nr\.?|no\.?|č\.?(?=[ \t]*\d))"
        r"|nr\.?\s*faktury|numer\s*faktury"
        r"|facture\s*(?:n°|no|n\.?º?|num[ée]ro)|n°\s*de\s*facture|factura\s*(?:n[º°o.]*|número)"
        r"|n[º°]\s*de\s*factura|n[úu]mero\s*de\s*factura|credit\s*note\s*(?:no\.?|number|nr\.?|#)"
        r"|fattura\s*(?:n\.?|nr\.?|numero)|numero\s*(?:di\s*|della\s*)?fattura"
        r"|fatura\s*(?:no\.?|n\.?[º°]?)|n[úu]mero\s*da\s*fatura|fakturan(?:ummer|r\.?)"
        r"|laskun\s*(?:numero|nro\.?)|laskunumero|broj\s*ra[čc]una|број\s*рачуна|[čc][íi]slo\s*(?:faktury|dokladu)"
        r"|sz[áa]mlasz[áa]m|sz[áa]mla\s*sz[áa]ma|номер\s*сч[её]та"
        r"|nf-?e\s*n[º°o]\.?|n[úu]mero\s*da\s*nfs?-?e",
    ),
    (
        "policy_number",
        r"policy\s*(?:no\.?|number|#)?|versicherungs(?:schein)?\s*-?\s*(?:nr\.?|nummer)"
        r"|n°\s*de\s*contrat|n[º°]\s*de\s*p[óo]liza|p[óo]liza",
    ),
    ("claim_number", r"claim\s*(?:no\.?|number|ref\.?)|schaden\s*-?\s*(?:nr\.?|nummer)"),
    (
        "order_number",
        r"order\s*(?:no\.?|number|#)?|bestell\s*-?\s*(?:nr\.?|nummer)|commande\s*n°?|pedido\s*n[º°]?",
    ),
    (
        "customer_number",
        r"customer\s*(?:no\.?|number|id)|kunden\s*-?\s*(?:nr\.?|nummer)|member\s*id"
        r"|r[ée]f[ée]rence\s*client|n[º°]\s*de\s*(?:cliente|contrato)",
    ),
    (
        "document_number",
        r"passport\s*(?:no\.?|number)|document\s*(?:no\.?|number)|ausweis\s*-?\s*(?:nr\.?|nummer)"
        r"|\bno\.(?=\s*[A-Z]{1,2}\d{6,9}\b)"
        r"|licen[cs]e\s*(?:no\.?|number)",
    ),
    ("reference", r"reference|ref\.|your\s*ref|verwendungszweck|r[ée]f[ée]rence|referencia"),
)
_ID_VALUE = (
    r"[ \t:#.]*(?:n[°º]\s*)?"
    r"(?P<value>(?:(?-i:[A-Z]{1,3}) (?=\d))?(?=[A-Z0-9/._-]*\d)[A-Z0-9][A-Z0-9/._-]{1,30}[A-Z0-9])"
)
"""An identifier after its label: letters, digits and ``/._-``, with a digit; a short prefix
in capitals may stand apart ("Faktura nr: F 1234K20/1234/12"; not "Nr. vom 12.03.2026")."""
_IDS = [
    (name, re.compile(rf"\b(?:{label})\s*{_ID_VALUE}", re.IGNORECASE)) for name, label in _ID_LABELS
]
_GLUED_IDS = [
    # PDF text of right-aligned tables puts the value before its label: "993548900Factuurnummer:"
    (
        name,
        re.compile(
            rf"^[ \t]*(?P<value>(?=[A-Z0-9/-]*\d)[A-Z0-9][A-Z0-9/._-]{{1,30}}[A-Z0-9])"
            rf"(?:{label})[ \t]*:?[ \t]*$",
            re.IGNORECASE | re.MULTILINE,
        ),
    )
    for name, label in _ID_LABELS
    if name in ("invoice_number", "order_number", "customer_number")
]
_ID_LABEL_SEARCH = [
    (name, re.compile(rf"\b(?:{label})[\W_]*$", re.IGNORECASE)) for name, label in _ID_LABELS
]
"""The labels of `_ID_LABELS` ending a label of `_stacked_pairs` ("Daňový doklad č. (Invoice
No):"; not "Order date:")."""
_STACKED_ID = re.compile(r"(?=[A-Z0-9/._-]*\d)[A-Z0-9][A-Z0-9/._-]{1,30}[A-Z0-9]", re.IGNORECASE)
_AMOUNT_SHAPE = re.compile(r"(?:\d{1,3}(?:[.,' ]\d{3})+|\d+)[.,]\d{1,2}|\d{1,2}[/.-]\d{4}")
"""An amount ("1234.56", "150.00") or a month of a year ("03/2024"): no document number."""
_PHONE_SHAPE = re.compile(r"(?:\+|0)\d{1,4}(?:[ -]\d{2,4}){2,}")


def _not_an_id(value: str) -> bool:
    """Whether a value found under a label or a title is something else: a year, a date,
    an amount, a billing month, a phone number."""
    return bool(
        _YEAR.fullmatch(value)
        or DATE_PATTERN.fullmatch(value)
        or _AMOUNT_SHAPE.fullmatch(value)
        or _PHONE_SHAPE.fullmatch(value)
    )


_BARE_INVOICE = re.compile(
    r"\b(?:invoice|rechnung|facture|factura)\s+(?P<value>(?=[A-Z0-9/-]*\d)[A-Z]{1,4}[-/]?"
    r"\d[A-Z0-9/_-]{2,20})",
    re.IGNORECASE,
)


_SHORT_INVOICE_NUMBER = re.compile(
    r"^[ \t]*(?:invoice|credit note|corrective invoice)[ \t]+(?:number|no\.?|nr\.?|#)[ \t]*:"
    r"[ \t]*(?P<value>\d{1,2})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
"""A number of one or two digits under a whole label of its own line ("Invoice number: 42",
a small business's twelfth invoice, an e-invoice's BT-1): shorter than `_ID_VALUE` takes,
where "Invoice No. 1 of 3" or a page's "No. 2" would be no document number."""

_TITLE_INVOICE = re.compile(
    r"^[ \t]*(?:invoice|rechnung|facture|factura|factuur|fattura|faktura)[ \t]+"
    r"(?P<value>\d{4,12})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
"""A title line naming the invoice by a bare number ("Invoice 103767"); a bare number
after the word elsewhere is too often a year, a page or an amount."""
_YEAR = re.compile(r"(?:19|20)\d\d")


_TITLE_OVER_NUMBER = re.compile(
    r"^[ \t]*(?:(?:tax|commercial|pro-?forma)[ \t]+)?(?:invoice|receipt|credit[ \t]+note"
    r"|rechnung|gutschrift|quittung|facture|avoir|factura(?:[ \t]+rectificativa)?|fattura"
    r"|fatura|faktura|factuur|lasku|ra[čc]un|sz[áa]mla)[ \t]*\n(?:[ \t]*\n)*[ \t]*"
    r"(?P<value>(?:(?-i:[A-Z]{1,3}) )?(?=[A-Z0-9/._-]*\d)[A-Z0-9][A-Z0-9/._-]{2,62}[A-Z0-9])"
    r"[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
"""A title alone on its line and the document's number alone on the next ("Facture" over
"SAMPLE-002", "Faktura" over "20150009"), as HTML and PDF headers lay them out."""
_LABEL_ENDS_LINE = re.compile(r"[^\n:]{1,60}:[ \t]*")
_STACKED_MAX = 6
_VALUE_LINE = re.compile(r"[^\n:]{1,60}")


def _stacked_pairs(text: str) -> Iterator[tuple[str, int, str]]:
    """`(label, value start, value)` of labels stacked over their values: k lines (at most
    _STACKED_MAX) each a short label ending in its only colon, then k lines of values
    without a colon, paired in order, as PDF text of a two-column table of labels and values
    reads ("Receipt Nr:" over "1001"; "Invoice No):", "Variabilní symbol:" over
    "2406000590", "45021295"). The callers check that a value is what its label says."""
    lines: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        lines.append((offset, line.strip()))
        offset += len(line) + 1
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and j - i < _STACKED_MAX and _LABEL_ENDS_LINE.fullmatch(lines[j][1]):
            j += 1
        count = j - i
        values = lines[j : j + count]
        if count and len(values) == count and all(_VALUE_LINE.fullmatch(v) for _, v in values):
            for (_, label), (start, value) in zip(lines[i:j], values, strict=True):
                yield label, text.index(value, start), value
            i = j + count
        else:
            i = max(j, i + 1)


_FRAGMENT = re.compile(r"[A-Z0-9/_-]{1,12}(?= *(?:\n|$))", re.IGNORECASE)
"""What a fixed-width journal carries over to the next line of a value that filled its own."""


def _line_width(text: str) -> int | None:
    """The width of a fixed-width journal (a till's 40 or 48 columns, as Serbia's fiscal
    receipts are printed): its longest lines' length when three or more lines have it
    (rules of "=" or "-" among them) and it is 30 to 64; None for any other text."""
    lengths = Counter(len(line.rstrip()) for line in text.splitlines())
    if not lengths:
        return None
    width = max(lengths)
    return width if 30 <= width <= 64 and lengths[width] >= 3 else None


def _identifier(
    name: str, value: str, start: int, end: int, confidence: float, priority: int
) -> _Candidate:
    """An identifier found at `start:end` (normalised to capitals)."""
    return _Candidate(
        name, value, FieldType.IDENTIFIER, value.upper(), start, end, confidence, priority
    )


def _identifiers(text: str) -> Iterator[_Candidate]:
    labelled = [(n, p, 0.9) for n, p in _IDS] + [(n, p, 0.85) for n, p in _GLUED_IDS]
    width = _line_width(text)
    for name, pattern, confidence in labelled:
        for match in pattern.finditer(text):
            value, end = match["value"], match.end("value")
            # A value that fills its line of a fixed-width journal goes on at the start of
            # the next one ("ПФР број рачуна: TKU4ERFF-TKU4ERFF-23835" over "0").
            line_start = text.rfind("\n", 0, end) + 1
            carried = (
                _FRAGMENT.match(text, end + 1)
                if width is not None and end - line_start == width and text[end : end + 1] == "\n"
                else None
            )
            if carried is not None:
                value, end = (
                    text[match.start("value") : carried.end()].replace("\n", ""),
                    carried.end(),
                )
            yield _identifier(name, value, match.start("value"), end, confidence, 50)
    for label, start, value in _stacked_pairs(text):
        for name, pattern in _ID_LABEL_SEARCH:
            if pattern.search(label) and _STACKED_ID.fullmatch(value) and not _not_an_id(value):
                yield _identifier(name, value, start, start + len(value), 0.85, 50)
                break
    for match in _TITLE_OVER_NUMBER.finditer(text):
        if not _not_an_id(match["value"]):
            yield _identifier("invoice_number", match["value"], *match.span("value"), 0.75, 45)
    for match in _TITLE_INVOICE.finditer(text):
        if not _YEAR.fullmatch(match["value"]):
            yield _identifier("invoice_number", match["value"], *match.span("value"), 0.75, 45)
    for match in _BARE_INVOICE.finditer(text):
        yield _identifier("invoice_number", match["value"], *match.span("value"), 0.75, 45)
    for match in _SHORT_INVOICE_NUMBER.finditer(text):
        if match["value"].strip("0"):  # "0" is a template's placeholder
            yield _identifier("invoice_number", match["value"], *match.span("value"), 0.8, 45)


_DATE_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "due_date",
            r"\bdue\b|payable|pay(?:ment)? by|please pay|f[äa]llig|zahlbar|zahlungsziel"
            r"|[ée]ch[ée]ance|[àa] r[ée]gler|vencimiento|a pagar antes|pagar antes"
            r"|collect|eingezogen|pr[ée]l[èe]vement|avant le|pay before|bis zum|antes del"
            r"|支払期[限日]|振込期[限日]|付款期限|缴款期限|납부기한|지급기일",
        ),
        (
            "invoice_date",
            r"invoice date|date of invoice|rechnungsdatum|date de facture|fecha de factura"
            r"|issued|ausgestellt|factuurdatum|data wystawienia|data faktury|\bemiss[ãa]o"
            r"|\bemisi[óo]n|(?<!be)rechnung[^\n]*\bvom\s*$|data do documento|fatura tarihi"
            r"|請求日|発行日|開票日期|开票日期|發票日期|发票日期|작성일자|발행일",
        ),
        (
            "date_of_birth",
            r"birth|\bdob\b|geburt|n[ée]\(?e?\)? le|naissance|nacimiento",
        ),
        ("expiry_date", r"expir|valid until|g[üu]ltig bis|caducidad|validit[ée]"),
        (
            "incident_date",
            r"date of (?:loss|incident|accident)|schadentag|sinistre|siniestro|incident",
        ),
    )
)


_TIME_ONLY = re.compile(r"[ \t]*(?:\d{1,2}:\d{2}(?::\d{2})?[ \t]*)?")


def _dates(text: str, month_first: bool) -> Iterator[_Candidate]:
    """The dates of `text`; a numeric one that could be either order ("01-08-2023") is
    read in the order the document's unambiguous ones of the same separator show
    ("24-08-2023": day first), else in its locale's (`month_first`)."""
    matches = list(DATE_PATTERN.finditer(text))
    shown: dict[str, bool] = {}
    for match in matches:
        if match.group("num"):
            a, b = int(match["a"]), int(match["b"])
            if a > 12 >= b or b > 12 >= a:
                shown.setdefault(match["sep"], b > 12)
    for match in matches:
        hint = shown.get(match["sep"], month_first) if match.group("num") else month_first
        day = parse_date(match, hint)
        if day is None or not 1900 <= day.year <= 2100:
            continue
        prefix = _line_prefix(text, match.start(), 50)
        line_end = text.find("\n", match.end())
        line_end = len(text) if line_end < 0 else line_end
        if not prefix.strip() and _TIME_ONLY.fullmatch(text, match.end(), line_end):
            # Alone on its line (a time of day may follow): labelled by the line above, as
            # PDF forms print "DATA E HORA DA EMISSÃO" over "11/02/2026 10:00:00".
            prefix = _label_of(text, match.start(), line_end, 50)
        name = next((n for n, cue in _DATE_CUES if cue.search(prefix)), "date")
        if name == "date" and not prefix.strip():
            # PDF text of right-aligned tables glues the label after: "20-10-2015Invoice Date:"
            end = text.find("\n", match.end())
            suffix = text[match.end() : end if end >= 0 else len(text)]
            if len(suffix) <= 30 and suffix.rstrip().endswith(":"):
                name = next((n for n, cue in _DATE_CUES if cue.search(suffix)), "date")
        textual = not match.group("num")
        ambiguous = bool(match.group("num")) and int(match["a"]) <= 12 and int(match["b"]) <= 12
        confidence = 0.95 if textual else (0.8 if ambiguous and match["sep"] == "/" else 0.9)
        yield _Candidate(
            name,
            match.group(),
            FieldType.DATE,
            day.isoformat(),
            match.start(),
            match.end(),
            confidence,
            40,
        )


_US_ZIP = r"\b[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?\b"
"""A US state and ZIP code ("WA 98101", "NY 10001-1234")."""
_US_HINTS = re.compile(rf"US\$|(?<![A-Za-z])\$|\bUSD\b|{_US_ZIP}|\+1[ -]?\(?\d{{3}}")
_EU_HINTS = re.compile(r"€|\bEUR\b|£|\bGBP\b|\bCHF\b|\b[A-Z]{2}\d{2} ?\d{4}")


def _month_first_hint(text: str, dollar: str | None) -> bool:
    """US documents write month first; decide by their money and address conventions (a
    "$" that is the Australian dollar, `_local_dollar`, is no US hint; Canada's shops write
    either order, and its "$" counts as the US's)."""
    if dollar == "AUD":
        return False
    return len(_US_HINTS.findall(text)) > len(_EU_HINTS.findall(text))


_STRONG_TOTAL = (
    r"grand total|total due|amount due|balance due|amount payable|amount to pay|total to pay"
    r"|total payable|zu zahlen|zahlbetrag|brutto\s*-?\s*summe|bruttobetrag|rechnungsbetrag"
    r"|gesamtbetrag brutto|endbetrag|nachzahlung|total ttc|montant ttc"
    r"|(?:net|total|montant|reste|somme) [àa] payer"
    r"|montant d[ûu]|total a pagar|importe total|te betalen|totaal (?:incl|te betalen)"
    r"|do zap[łl]aty|kwota nale[żz]no[śs]ci|erstattungsbetrag|amount claimed|to reimburse"
    r"|valor total|valor a pagar|valor (?:do )?documento|na [úu]hradu"
    r"|totale da pagare|da pagare|za uplatu|za pla[ćc]anje|за плаћање|к оплате"
    r"|k [úu]hrad[ěe]|fizetend[őo]|za pla[čc]ilo|att betala|[åa] betale|at betale"
)
_TOTAL_CUE = re.compile(
    rf"(?<!sub)(?<!sub-)(?<!zwischen)(?:{_STRONG_TOTAL}|\btotal\b(?!\s*(?:ht|net)\b)|\btotaal\b"
    r"|outstanding|gesamt|summe|\bttc\b|a pagar|to pay|razem|^[ \t]*totale\b"
    r"|ukupan iznos|укупан износ|\bukupno\b|\bукупно\b|\bитого\b|\bcelkem\b"
    r"|\b[öo]sszesen\b|\bskupaj\b|\byhteens[äa]\b|\btotalt\b)",
    re.IGNORECASE,
)
_STRONG_TOTAL_CUE = re.compile(_STRONG_TOTAL, re.IGNORECASE)
_SUBTOTAL_CUE = re.compile(
    r"sub-?total|zwischensumme|positionssumme|\bnet(?:to)?\b|total ht|\bht\b"
    r"|base imponible|sous-total|subtotaal|exclusief|ohne ust|excl\.?\b|warenwert"
    r"|excluding|before tax|sin iva|senza iva|imponibile|bez pdv|без пдв|bez (?:dph|vat)"
    r"|hors taxes?|zonder btw|without (?:vat|tax)|ilman alv|utan moms|uten mva",
    re.IGNORECASE,
)
"""A net amount's label in any language ("Celkem bez DPH"), unless the label names the
amount to pay ("Total à payer (TVA non applicable, sans TVA)", "Net à payer")."""
_TAX_WORDS = r"vat|mwst|ust|tva|iva|tax|taxes|sales tax|btw|pdv|пдв|ндс|dph|[áa]fa|moms|alv"
_TAXES_WITHHELD = r"tributos|impostos|impuestos|reten[çc][õo]es|retenciones|withholdings?"
"""Words of a total of taxes ("Total de impuestos", "Total das Retenções") that are no tax
label alone ("Importe sin impuestos" is the net)."""
_TAX_CUE = re.compile(rf"\b(?:{_TAX_WORDS})\b|steuer|\bporez\w*|\bпорез\w*", re.IGNORECASE)
_TAX_TOTAL = re.compile(
    rf"(?:\btotal|summe|gesamt|\btotale|iznos|износ|ukupno|укупно|итого)[ \t]*"
    r"(?:(?:aproximad[oa]s?|approximate)[ \t]+)?(?:(?:of|de|da|do|das|dos|des|du|der|del)[ \t]+)?"
    rf"(?:\b(?:{_TAX_WORDS}|{_TAXES_WITHHELD})\b|poreza|пореза|steuer)"
    r"(?![ \t.(-]*(?:incl|inkl|inclu|compr|ttc))[^\d]*$",
    re.IGNORECASE,
)
"""A total of the tax, not the document's: "Total VAT", "Summe MwSt", "Укупан износ
пореза", "Total aproximado de tributos", "Total das Retenções" (a total label with the
tax, or the taxes withheld, right after it or after an "of"; the last label before the
value; "Total incl. VAT", "Total inc VAT", "Total VAT included", "TOTAL IVA INCLUIDO" are
the total)."""
_TAX_THEN_TOTAL = re.compile(
    rf"^[ \t]*(?:{_TAX_WORDS})[ \t-]*(?:total|summe|sum)\b[^\d]*$", re.IGNORECASE
)
"""The same in the other order, as the label: "VAT total:", "Tax total", "MwSt-Summe" (not
"Amount incl. VAT total")."""
_DIGITS = r"(?:\d{1,3}(?:[.,'\u2019 ]\d{3})+|\d+)"
"""The integer part of an amount: grouped in thousands ("2.000", "123 949") or not
("2000", as many German invoices write it)."""
_BARE_AMOUNT = re.compile(rf"(?P<num>(?<![\d.,]){_DIGITS}[.,]\d{{2}})[ \t]*$", re.MULTILINE)
"""An amount without a currency at the end of a line ("SUMME 4.52", "Bruttosumme 529,87")."""
_LABEL_LINE = re.compile(
    rf"^[ \t]*(?P<label>(?:{_STRONG_TOTAL}|total|totaal|summe|gesamt|amount|betrag|montant"
    r"|import[eo]?)[^\n\d]{0,20}?)[ \t]*:?[ \t]*\n[ \t]*"
    rf"(?P<pre>{_CURRENCY_PATTERN})?[ \t]*(?P<num>{_DIGITS}[.,]\d{{2}})"
    rf"[ \t]*(?P<post>{_CURRENCY_PATTERN})?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
"""A total whose value is on the line under its label, as PDF text of forms has it
(a QR-bill's "Amount" over "123 949.75"; "Betrag", "Montant", "Importo", Romansh "Import"):
labels that say "total" only in such forms. A value under any other label, blank lines
between or not, is named by that label (`_label_of`)."""
_PROTECTED_AMOUNT = re.compile(rf"\*{{2,}}[ \t]*(?P<num>{_DIGITS}[.,]\d{{2}})(?![\d.,]*\d)")
"""An amount behind check-protection asterisks ("***100,00"), as payment slips and cheques
print the amount to pay (Slovenia's UPN, Croatia's HUB-3)."""
_DECLARED_CURRENCY = re.compile(
    r"(?:currency|w[äa]hrung|devise|monnaie|moneda|divisa|valuta)[ \t]*[:.]?[ \t]*\n?[ \t]*"
    r"(?P<code>[A-Za-z]{3})\b",
    re.IGNORECASE,
)


def _document_currency(
    text: str, found: list[_Candidate], declared: list[_Candidate]
) -> str | None:
    """The currency a document states ("Currency: CHF", "Rechnungswährung: EUR":
    `declared`, `_declared_currency`'s), else the one its amounts are written in most, else
    the only one it names as a heading, else None."""
    if declared:
        return declared[0].normalized
    currencies = Counter(c.normalized.split()[1] for c in found if c.normalized)
    return currencies.most_common(1)[0][0] if currencies else _named_currency(text)


def _named_currency(text: str) -> str | None:
    """The only currency a document names as a heading, by none of its amounts: a till's
    "EUR" alone over its price column, a boleto's "Valor R$", "Preise in EUR", "(v CZK s
    DPH)" over a table; None when it names none or several. A heading is the currency alone
    on its line, ending a line of at most three other words, or in parentheses; a code in
    capitals ("Ron", Danish "nok" and the "CAD" of "CAD drafting" name none), not joined to
    a word, an address or a domain ("EUR-Paletten", "ron@", "eur-lex"); "Euro" alone on
    its line only ("Mr. J. Euros" is a name)."""
    named = set()
    for match in _CURRENCY_IN_LABEL.finditer(text):
        written = match.group().strip()
        if written.lower() in _NAMED_ONLY_BY_AN_AMOUNT:
            continue
        before = _line_prefix(text, match.start(), limit=match.start())  # all of it
        after = _line_rest(text, match.end())
        if before.endswith(("-", "@", ".", "/")) or after.startswith(("-", "@", "/", ".")):
            continue
        alone = not before.strip() and not after.strip()
        if written.isascii() and written.isalpha() and not (written.isupper() or alone):
            continue
        if len(written) > 3 and written.isalpha() and not alone:
            continue  # the euro by name
        heading = not after.strip() and len(before.split()) <= 3
        bracketed = before.rfind("(") > before.rfind(")") and ")" in after
        if heading or bracketed:
            named.add(currency_code(written))
    return named.pop() if len(named) == 1 else None


def _declared_currency(text: str) -> list[_Candidate]:
    """The currency a document declares under a label, as a field of its own: a QR-bill
    left for the payer to fill in, or an order form, states it without any amount."""
    for match in _DECLARED_CURRENCY.finditer(text):
        code = match["code"].upper()
        if code in ISO_CODES:
            start, end = match.span("code")
            return [
                _Candidate("currency", match["code"], FieldType.STRING, code, start, end, 0.9, 20)
            ]
    return []


_CURRENCY_OF_COUNTRY = {
    **dict.fromkeys("AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK".split(), "EUR"),
    "GB": "GBP",
    "CH": "CHF",
    "LI": "CHF",
    "CZ": "CZK",
    "PL": "PLN",
    "SE": "SEK",
    "DK": "DKK",
    "NO": "NOK",
    "HU": "HUF",
    "RO": "RON",
}
"""The currency of a country whose only legal tender it is (Bulgaria, in the euro since
2026, is left out: its earlier documents are in leva)."""


def _countries(found: list[_Candidate]) -> list[str]:
    """The countries of the document's IBANs and VAT ids, in order (a VAT id's EL is
    Greece, XI Northern Ireland's)."""
    return [
        {"EL": "GR", "XI": "GB"}.get(c.normalized[:2], c.normalized[:2])
        for c in found
        if c.normalized and (c.type is FieldType.IBAN or c.name == "vat_id")
    ]


def _country_currency(found: list[_Candidate]) -> str | None:
    """The currency of the country of the document's IBANs and VAT ids, when they all
    name one: what a receipt's bare "SUMME 7,16" is in when nothing else says."""
    currencies = {_CURRENCY_OF_COUNTRY.get(country) for country in _countries(found)}
    return currencies.pop() if len(currencies) == 1 else None


_DOLLARS = re.compile(r"\bUSD\b|US\$")
_MEXICAN = re.compile(r"\bM\.N\.|\bCFDI\b|\bMXN\b")
_WEB = r"(?<![\w@.-])(?:[\w-]+\.)+{}\b(?![\w@-]|\.\w)"
_COUNTRY_MARKS = (
    (
        "CAD",
        re.compile(
            r"\b(?:GST/HST|TPS/TVQ)\b"
            r"|\b(?:HST|QST|TPS|TVQ)\b"
            r"(?=[ \t:]*(?:\(?\d{1,2}(?:[.,]\d+)?[ \t]*%|\$?[ \t]*\d+[.,]\d\d))"
            r"|\bCAD[ \t]*\$?[ \t]*\d|\d[ \t]*CAD\b|\bC\$|"
            + _WEB.format("ca")
            + r"|\b(?:AB|BC|MB|NB"
            r"|NL|NS|ON|PE|QC|SK)[ \t]*,?[ \t]+[ABCEGHJ-NPRSTVXY]\d[A-Z][ \t]?\d[A-Z]\d\b"
        ),
    ),
    (
        "AUD",
        re.compile(
            r"\bABN:?[ \t]*\d{2}[ \t]?\d{3}[ \t]?\d{3}[ \t]?\d{3}\b|\bAUD\b|\bA\$|"
            + _WEB.format(r"com\.au")
            + r"|\b(?:NSW[ \t]+2|VIC[ \t]+3|QLD[ \t]+4|SA[ \t]+5|WA[ \t]+6|TAS[ \t]+7)\d{3}\b"
            r"|\b(?:NT[ \t]+08|ACT[ \t]+2[69])\d\d\b"
        ),
    ),
    ("USD", re.compile(_US_ZIP)),
)
"""Where a "$" is not the US dollar: a Mexican document ("M.N.", moneda nacional; a CFDI;
"MXN"), whatever else it names; else a Canadian one (its sales taxes by a rate or an
amount, "HST 13%", "GST/HST", a province and postal code, a ".ca" web address, not a mail address's)
or an Australian one (an ABN, a state and its postcode, ".com.au") that marks no other
of the three countries (a US state and ZIP code: a US seller's invoice to Toronto keeps its
dollars), names no US dollars and declares no other currency: its "$" is the country's."""


_CODED_DOLLAR = re.compile(r"\$[ \t]?\d[\d.,' ]*[ \t]?(?P<code>USD|CAD|AUD|NZD|SGD|HKD|MXN)\b")
"""A "$" amount followed by its dollar's code ("Invoice Amount: $5,270.00 AUD")."""


def _local_dollar(text: str, declared: list[_Candidate]) -> str | None:
    """The currency of a "$" on a document of a country whose dollar it is: the one its
    "$" amounts name ("$5,270.00 AUD"), else the country's it marks (`_COUNTRY_MARKS`),
    if it declares no currency (`declared`: `_declared_currency`'s)."""
    coded = {m["code"] for m in _CODED_DOLLAR.finditer(text)}
    if len(coded) == 1:
        return None if "USD" in coded else coded.pop()
    if coded or _DOLLARS.search(text) or declared:
        return None
    if _MEXICAN.search(text):
        return "MXN"
    marked = [code for code, marks in _COUNTRY_MARKS if marks.search(text)]
    return marked[0] if len(marked) == 1 and marked[0] != "USD" else None


_WORD_CODES = frozenset(("TRY", "TL", "COP", "ARS", "SAR"))
"""Currency codes that are also words ("PLEASE TRY 3 TIMES", German "2 TL Zucker", "COP 28",
"Hong Kong SAR 852 2345 6789"): a currency only by an amount with cents or thousands
("120,00 TL", "COP 50.000", "2256.00 SAR")."""

_NAMED_ONLY_BY_AN_AMOUNT = frozenset(("$", "fr.", *(code.lower() for code in _WORD_CODES)))
"""What names a currency only beside an amount: a "$" (whose dollar the document's country
decides), "Fr." (also German's Friday and Mrs), codes that are also words."""


def _money(
    text: str, dollar: str | None, declared: list[_Candidate], country_currency: str | None
) -> list[_Candidate]:
    """Amounts and totals; a "$" is `dollar` if the document's is not the US's
    (`_local_dollar`); an amount without a currency is in the one the document declares
    (`declared`), writes its other amounts in or names as a heading (`_document_currency`),
    else `country_currency`."""
    found: list[_Candidate] = []
    for match in MONEY.finditer(text):
        number = match["num1"] or match["num2"]
        symbol = match["pre"] or match["post"]
        if match["pre"] and "\n" in text[match.end("pre") : match.start("num1")]:
            line = text.rfind("\n", 0, match.start()) + 1
            if text[line : match.start()].strip():
                # A price's "€" at the end of its line is not the currency of a quantity
                # that starts the next ("0.79 € 316.00 €" over "800.00 Hot air"); a
                # currency alone on its line over its amount is ("$" over "279.84").
                continue
        value = parse_number(number)
        if value is None or (symbol.strip() in _WORD_CODES and not re.search(r"[.,]", number)):
            continue
        if match["sign1"] or match["sign2"]:
            value = -value
        code = dollar if dollar and symbol.strip() == "$" else currency_code(symbol)
        prefix = _label_of(text, match.start(), match.end())
        name = _money_name(prefix)
        strong = name == "total_amount" and _STRONG_TOTAL_CUE.search(prefix) is not None
        found.append(
            _Candidate(
                name,
                match.group().strip(),
                FieldType.MONEY,
                f"{value:.2f} {code}",
                match.start(),
                match.end(),
                0.95 if strong else 0.9,
                30,
            )
        )
    # Receipts print "SUMME 4.52" and leave the currency to the header, a "Currency" line
    # or the card slip; without any, the amount goes without a currency.
    currency = _document_currency(text, found, declared) or country_currency
    unit = f" {currency}" if currency else ""
    for match in _BARE_AMOUNT.finditer(text):
        prefix = _label_of(text, match.start("num"), match.end("num"))
        value = parse_number(match["num"])
        if value is None or _money_name(prefix) != "total_amount":
            continue
        strong = _STRONG_TOTAL_CUE.search(prefix) is not None
        # "Gesamt EUR        11,20": the currency is in the label.
        named = _CURRENCY_IN_LABEL.search(prefix)
        written = f" {currency_code(named.group())}" if named else unit
        found.append(_total(match, f"{value:.2f}{written}", 0.9 if strong else 0.6, 20))
    for match in _PROTECTED_AMOUNT.finditer(text):
        value = parse_number(match["num"])
        if value is not None:
            found.append(_total(match, f"{value:.2f}{unit}", 0.7, 25))
    for match in _LABEL_LINE.finditer(text):
        value = parse_number(match["num"])
        label = match["label"]
        if value is None or _SUBTOTAL_CUE.search(label) or _TAX_CUE.search(label):
            continue
        # The currency by the value, or in the label ("Valor a pagar R$:" over "275,94").
        named = _CURRENCY_IN_LABEL.search(label)
        symbol = match["pre"] or match["post"] or (named.group() if named else None)
        written = f" {currency_code(symbol)}" if symbol else unit
        strong = _STRONG_TOTAL_CUE.search(label) is not None
        found.append(_total(match, f"{value:.2f}{written}", 0.9 if strong else 0.7, 25))
    return _checked_by_arithmetic(text, found, unit)


def _total(match: re.Match[str], normalized: str, confidence: float, priority: int) -> _Candidate:
    """A total read from the ``num`` group of `match`."""
    return _Candidate(
        "total_amount",
        match["num"],
        FieldType.MONEY,
        normalized,
        match.start("num"),
        match.end("num"),
        confidence,
        priority,
    )


_CURRENCY_IN_LABEL = re.compile(_CURRENCY_PATTERN, re.IGNORECASE)
_DISCOUNT = re.compile(
    r"\b(?:discount|rabatt|nachlass|remise(?![ \t]+(?:de[ \t]+)?ch[eè]que)|r[ée]duction"
    r"|descuentos?|descontos?|sconto|korting|zľava|sleva|rabat)\b",
    re.IGNORECASE,
)
"""A discount's label ("Descontos R$:", "Rabatt"; not "Remise chèque", a deposit)."""
_AFTER_DISCOUNT = re.compile(
    r"\b(?:net|netto|after|nach|apr[eè]s|total|summe|sub-?total|zwischensumme|gesamt)\b",
    re.IGNORECASE,
)
"""Words of a label that names what is left after a discount ("Net after discount")."""
_TENDERED = re.compile(
    r"(?<![-.])\b(?:cash|bar|gegeben|given|tendered|change|r[üu]ckgeld|wechselgeld"
    r"|esp[èe]ces|rendu|efectivo|cambio)\b",
    re.IGNORECASE,
)
_DECIMAL = re.compile(r"(?<![\d.,'\u2019])(?:\d{1,3}(?:[.,'\u2019]\d{3})+|\d+)[.,]\d{2}(?![\d])")
"""An amount with cents; Switzerland groups thousands with an apostrophe ("8'390.40")."""


def _checked_by_arithmetic(text: str, found: list[_Candidate], unit: str) -> list[_Candidate]:
    """Net + tax = total: the largest amount of the document that is the sum of two others
    is its total. A labelled total it confirms becomes surer; without a strongly labelled
    total (a receipt whose "zu zahlen" OCR lost), it is the total."""
    spans: dict[Decimal, tuple[int, int, str]] = {}
    seen: Counter[Decimal] = Counter()
    discounts: set[Decimal] = set()
    taxes: set[Decimal] = set()
    for match in _DECIMAL.finditer(text):
        value = parse_number(match.group())
        line_end = text.find("\n", match.end())
        line = _line_prefix(text, match.start()) + text[match.end() : line_end % (len(text) + 1)]
        if value is None or value <= 0:
            continue
        # A discount is neither a net nor a tax: the gross before it is no total to pay
        # (an amount "after discount" is a net; a tax that equals a discount stays).
        label = _label_of(text, match.start(), match.end())
        if _DISCOUNT.search(label) and not _AFTER_DISCOUNT.search(label):
            discounts.add(value)
        elif _TAX_CUE.search(label):
            taxes.add(value)
        # Cash given and change sum to more than the total: they are not amounts owed.
        if not _TENDERED.search(line):
            spans.setdefault(value, (match.start(), match.end(), match.group()))
            seen[value] += 1
    for value in discounts - taxes:
        spans.pop(value, None)
        seen.pop(value, None)
    values = sorted(spans)
    # Two amounts: one written once is not its own half ("400.00" balloons and "800.00"
    # litres of air are quantities, not a net and a tax).
    total = next(
        (
            c
            for c in reversed(values)
            if any(c - a in seen and (c - a != a or seen[a] > 1) for a in values if a < c)
        ),
        None,
    )
    if total is None:
        return found
    confirmed = [
        replace(c, confidence=0.97) if c.name == "total_amount" and _amount_of(c) == total else c
        for c in found
    ]
    labelled = [c for c in confirmed if c.name == "total_amount"]
    if any(c.confidence >= 0.9 for c in labelled) or any(
        (_amount_of(c) or 0) > total for c in labelled
    ):
        return confirmed
    start, end, written = spans[total]
    return [
        *confirmed,
        _Candidate(
            "total_amount", written, FieldType.MONEY, f"{total:.2f}{unit}", start, end, 0.8, 15
        ),
    ]


def _amount_of(candidate: _Candidate) -> Decimal | None:
    number = (candidate.normalized or "").split(" ")[0]
    try:
        return abs(Decimal(number))
    except InvalidOperation:
        return None


def _money_name(prefix: str) -> str:
    if _SUBTOTAL_CUE.search(prefix) and not _STRONG_TOTAL_CUE.search(prefix):
        return "subtotal_amount"
    if (
        _TAX_TOTAL.search(prefix)
        or _TAX_THEN_TOTAL.search(prefix)
        or (_TAX_CUE.search(prefix) and not _TOTAL_CUE.search(prefix))
    ):
        return "tax_amount"
    if _TOTAL_CUE.search(prefix):
        return "total_amount"
    return "amount"


_SINGLETONS = ("total_amount", "due_date", "invoice_date", "invoice_number", "date_of_birth")


def _promote_singletons(candidates: list[_Candidate]) -> list[_Candidate]:
    """Keep one field per singleton name; the others become generic ``amount``/``date``.

    The last total on a document is the grand total (after subtotal and tax), unless it
    is nothing ("Balance Due $0.00" under "Total Charges $710.00": the total was paid);
    the first due date or invoice number is the one in the header.
    """
    out = list(candidates)
    for name in _SINGLETONS:
        same = sorted((c for c in out if c.name == name), key=lambda c: c.start)
        if len(same) <= 1:
            continue
        if name == "total_amount":
            best = max(same, key=lambda c: (_amount_of(c) != 0, c.confidence, c.start))
        else:
            best = max(same, key=lambda c: (c.confidence, -c.start))
        generic = {"total_amount": "amount", "invoice_number": "reference"}.get(name, "date")
        # A repeat of the chosen value (subject line and body) is the same field: drop it.
        out = [
            c
            for c in out
            if c not in same
            or c is best
            or c.normalized != best.normalized
            or name == "total_amount"
        ]
        out = [replace(c, name=generic) if c in same and c is not best else c for c in out]
    if not any(c.name == "total_amount" for c in out):
        amounts = [c for c in out if c.name == "amount" and c.normalized]
        if amounts:
            # Without a "total" label the largest amount is the best guess, with less trust.
            best = max(amounts, key=lambda c: abs(float((c.normalized or "0 X").split()[0])))
            out = [replace(c, name="total_amount", confidence=0.6) if c is best else c for c in out]
    return out


_SELLER_CUE = re.compile(
    r"^[ \t]*(?:seller|sold by|vendor|supplier|(?:service )?provider|issued by|payable to"
    r"|(?:invoice|bill) from"
    r"|(?:account|konto|compte|conto)\s*/\s*(?:payable to|zahlbar an|payable [àa]|pagabile a"
    r"|da pajar a)|verk[äa]ufer|lieferant|rechnungssteller|zahlungsempf[äa]nger"
    r"|leverancier|vendeur|fournisseur|[ée]metteur|proveedor|vendedor|emisor"
    r"|(?:ente )?creditore|cedente(?:\s*/\s*prestatore)?|fornitore|venditore|verkoper"
    r"|sprzedawca|dodavatel|prod[áa]vaj[íi]c[íi]|prodejce|dod[áa]vate[ľl]|myyj[äa]|laskuttaja"
    r"|s[äa]ljare|s[æe]lger|emitente|prodavatelj|izdavatelj|dobavitelj|prodajalec"
    r"|(?:nome do )?benefici[áa]rio|primatelj"
    r"|sz[áa]ll[íi]t[óo]|elad[óo]|furnizor|v[âa]nz[ăa]tor)\b[^\n]{0,3}"
    r"(?:[ \t]+(?=[A-Z]*\d)[A-Z0-9]{8,16})?$"
    r"|\b(?:sold by|vendor|seller)\s*:"
    # A CFDI's header row: "Datos del emisor  Datos adicionales emisor".
    r"|^[ \t]*datos del emisor\b.*$",
    re.IGNORECASE | re.MULTILINE,
)
_BUYER_CUE = re.compile(
    r"^[ \t]*(?:buyer|purchaser|bill(?:ed)? to|billing address|ship(?:ped)? to|shipping address"
    r"|sold to|invoice to|customer|client|kunde|k[äa]ufer|leistungsempf[äa]nger"
    r"|rechnungsempf[äa]nger|payable by|factur[ée] [àa]|facturar a|klant|acheteur|comprador"
    r"|koper|nabywca|odb[ěe]ratel|odberate[ľl]|kupuj[íi]c[íi]|ostaja|k[öo]pare|k[øo]ber"
    r"|kj[øo]per|destinat[áa]rio|kupac|kupec|vev[őo]|cump[ăa]r[ăa]tor|pagador|platitelj)\b",
    re.IGNORECASE | re.MULTILINE,
)
_LABEL_END = re.compile(r"[ \t]*(?::|$)|[^\n]{0,3}$")
"""What ends a party's label: a colon, or the line within three characters ("Buyer:",
"Käufer", "Bill to #"; not "Client Solutions Ltd", a seller's name)."""
_NAME_FIELD = re.compile(
    r"(?:name|nazwa|n[áa]zev|nom|nombre|nome|naam|firma|company)[ \t]*:[ \t]*"
    r"(?P<name>[^\W\d_][^\n]{1,80})",
    re.IGNORECASE,
)
"""A party's name under its own label, in a seller's block ("Nazwa: Bartkowiak ...")."""
_ADDRESS_LABELS = frozenset(
    "address adresse adres adresa anschrift dirección direccion indirizzo endereço sídlo "
    "sidlo siedziba sitz sede osoite adress".split()
)
"""An address's (or a registered office's) label alone on its line, which is no name."""
_SENDER_LINE = re.compile(r"[ \t]*[-\u2013\u2014|\u00b7\u2022][ \t]*\w")
_BRAND_LINE = re.compile(r"(?:[^\W\d_]|[&'., -]){3,50}")
"""A line that can be a name: letters of any script, spaces and ``&'.,-``."""
_TITLE_LINE = re.compile(
    r"[=*#~_ \t-]*(?:(?:tax[ \t]+)?invoice|receipt|rechnung|kassenbon|quittung|facture"
    r"|factura|fattura|faktura|factuur|fatura|rachunek|lasku|sz[áa]mla"
    r"|ticket(?:[ \t]+de[ \t]+caisse)?|(?:fiskalni[ \t]+)?ra[čc]un"
    r"|(?:фискални[ \t]+)?рачун)[=*#~_ \t-]*",
    re.IGNORECASE,
)
"""A receipt's or invoice's title line ("==== ФИСКАЛНИ РАЧУН ====", "FACTURA")."""
_HEADING_LINES = 3
"""A title line and the code lines a receipt's name may stand under."""
_NOT_SHOPS = frozenset(
    "bill billed thank thanks cashier paid herrn herr frau mr mrs ms monsieur madame mme "
    "señor señora sr sra dear instructions instruções instrucciones anleitung".split()
)
"""Words of a receipt's or letter's first lines that are no shop's name."""
_LINE = re.compile(r"[^\n]+")


def _is_code(line: str) -> bool:
    """A number or a code alone on its line: a tax number, "INV/2024/00005" (one token,
    at least half of it digits; not "7-ELEVEN", not "DATE: 12.03.2024")."""
    return (
        bool(line)
        and not any(c.isspace() or c == ":" for c in line)
        and 2 * sum(c.isdigit() for c in line) >= len(line)
    )


def _receipt_name(text: str) -> _Candidate | None:
    """A receipt's first line when it reads like a shop's name; under a title line
    ("==== ФИСКАЛНИ РАЧУН ====", "FACTURA") the name may follow a tax number or a code
    ("106884584", "INV/2024/00005")."""
    lines = []
    for match in _LINE.finditer(text):
        raw = match.group()
        # OCR reads a table's or a logo's edge as a trailing "|" or dash ("Contoso |").
        line = raw.strip().rstrip(" |-")
        if line:
            lines.append((match.start() + len(raw) - len(raw.lstrip()), line))
        if len(lines) > _HEADING_LINES:
            break
    if lines and _TITLE_LINE.fullmatch(lines[0][1]):
        lines = lines[1:]
        while lines and _is_code(lines[0][1]):
            lines = lines[1:]
    if not lines:
        return None
    start, name = lines[0]
    # A name over the buyer's role ("Will Black" / "Purchaser") is the buyer's.
    if not _shop_like(name) or (len(lines) > 1 and _alone(_BUYER_CUE, lines[1][1])):
        return None
    return _Candidate("issuer", name, FieldType.NAME, name, start, start + len(name), 0.5, 10)


def _shop_like(name: str) -> bool:
    """Whether a line reads like a shop's name: letters and ``&'.,-``, no role, no word a
    name is not made of, not OCR's crumbs ("ee t", "LR É P U B L"; "H&M" is one), not a
    sentence."""
    words = name.split()
    return not (
        not _BRAND_LINE.fullmatch(name)
        or (_NOT_NAMES | _NOT_SHOPS) & {w.lower().strip(".,") for w in words}
        or _BUYER_CUE.match(name)
        or _SELLER_CUE.match(name)
        or not (
            any(sum(c.isalpha() for c in w) >= 3 for w in words)
            or (name.isupper() and all(sum(c.isalpha() for c in w) >= 2 for w in words))
        )
        or (len(words) >= 4 and name.endswith("."))
    )


_THANKED = re.compile(
    r"\bthank(?:s|[ \t]+you)[ \t]+for\b(?:[^\n]{0,30}?\b(?:at|with)\b[ \t]*\n?"
    r"|[ \t]+(?:shopping|visiting|dining|choosing|your[ \t]+(?:visit|purchase))[ \t!.]*\n)"
    r"(?:[ \t]*\n)*[ \t]*(?P<name>[^\n]+)",
    re.IGNORECASE,
)
"""The shop a receipt thanks one for shopping at or visiting: the name after "at" or
"with" ("Thank you for shopping at Walmart!", "THANK YOU FOR SHOPPING AT" / "TRADER
JOE'S"), or alone on the line after the thanks ("Thank you for visiting" / "Clachan")."""


def _thanked_shop(text: str) -> _Candidate | None:
    """The shop `_THANKED` names, if a line of at most four words reads like a shop's."""
    for match in _THANKED.finditer(text):
        raw = match["name"]
        name = raw.strip().rstrip(" |-!.,")
        if _shop_like(name) and len(name.split()) <= 4:
            start = match.start("name") + len(raw) - len(raw.lstrip())
            return _Candidate(
                "issuer", name, FieldType.NAME, name, start, start + len(name), 0.5, 10
            )
    return None


def _alone(cue: re.Pattern[str], line: str) -> bool:
    """Whether `line` is `cue`'s words and nothing more ("Purchaser"; not "CUSTOMER COPY",
    "Client receipt")."""
    match = cue.match(line)
    return match is not None and not line[match.end() :].strip(" \t:")


def _issuer(text: str, people: list[_Candidate]) -> list[_Candidate]:
    """Who issued the document: the organisation under a seller label ("Verkäufer:",
    "Sold By", "Payable to"; or the name over a role, "John White" over "Provider"), else
    the first organisation outside a buyer's block ("Bill to", "Käufer") and not greeted
    ("Guten Tag Muster GmbH": the addressee), else a receipt's first line when it reads
    like a shop's name, else the shop it thanks one for visiting ("Thank you for visiting"
    / "Clachan"), else the letter's signatory ("Hartelijk dank, Richel Bilderbeek")."""
    orgs = sorted((c for c in people if c.name == "organization"), key=lambda c: c.start)
    greeted = list(_GREETED.finditer(text))

    def addressee(name: _Candidate) -> bool:
        # The name the greeting starts with, or the greeting itself ("Guten Tag Muster
        # GmbH,"; not "Dear John, thank you for shopping at Acme Ltd", nor "Hello from
        # Acme Inc.!").
        return any(
            g["whom"].strip().startswith(name.value) or g.start() <= name.start <= g.start("whom")
            for g in greeted
        )

    orgs = [o for o in orgs if not addressee(o)]

    def lines_after(start: int, count: int) -> int:
        end = start
        for _ in range(count + 1):
            end = text.find("\n", end + 1)
            if end < 0:
                return len(text)
        return end

    def block_end(cue: re.Match[str]) -> int:
        """Three lines from the seller's label, or less: up to the next party's label."""
        window = lines_after(cue.start(), 3)
        line_end = text.find("\n", cue.end())
        while 0 <= line_end < window:
            line = _line_rest(text, line_end + 1).strip()
            buyer = _BUYER_CUE.match(line)
            if (buyer and _LABEL_END.match(line, buyer.end())) or _SELLER_CUE.match(line):
                return line_end
            line_end = text.find("\n", line_end + 1)
        return window

    for cue in _SELLER_CUE.finditer(text):
        above = _name_over_role(text, cue)
        if above is not None:
            return [above]
        window = block_end(cue)
        org = next((o for o in orgs if cue.start() <= o.start < window), None)
        if org is not None:
            return [replace(org, name="issuer", confidence=0.85)]
        for line in (x.strip() for x in text[cue.end() : window].splitlines()):
            if _BUYER_CUE.match(line) or _SELLER_CUE.match(line):
                break  # the next party's block: nothing of the seller's was named
            labelled = _NAME_FIELD.fullmatch(line)
            if labelled is not None:
                start = text.index(line, cue.end()) + labelled.start("name")
                value = labelled["name"]
                return [
                    _Candidate(
                        "issuer", value, FieldType.NAME, value, start, start + len(value), 0.75, 30
                    )
                ]
            if (
                _BRAND_LINE.fullmatch(line)
                and line[0].isupper()
                and line.lower() not in _ADDRESS_LABELS
            ):
                start = text.index(line, cue.end())
                end = start + len(line)
                return [_Candidate("issuer", line, FieldType.NAME, line, start, end, 0.75, 30)]
    buyers = [(m.start(), lines_after(m.start(), 3)) for m in _BUYER_CUE.finditer(text)]
    named = _named_by_domain(text, buyers, orgs)
    if named is not None:
        return [named]
    for org in orgs:
        # A sender line ("QualityHosting AG - Uferweg 40-42 - D-63571 Gelnhausen", above a
        # window envelope's address, or a letterhead) names the issuer wherever it stands.
        if _SENDER_LINE.match(text, org.end) and not any(a <= org.start < b for a, b in buyers):
            return [replace(org, name="issuer", confidence=0.8)]
    for org in orgs:
        if not any(a <= org.start < b for a, b in buyers):
            return [replace(org, name="issuer", confidence=0.7)]
    for named in (_receipt_name(text), _thanked_shop(text)):
        if named is not None and not addressee(named):
            return [named]
    signing = {m.start("value") for m in _SIGN_OFF.finditer(text)}
    signed = next((p for p in people if p.name == "sender_name" and p.start in signing), None)
    return [replace(signed, name="issuer", confidence=0.5)] if signed is not None else []


_STREET_LINE = re.compile(
    r"\d{1,5}[a-z]{0,2},?[ \t]+[^\W\d_][\w .'-]{1,40}|[^\W\d_][\w .'-]{1,40}[ \t]\d{1,5}[a-z]?"
)
"""A street and its number in either order ("79 Stonybrook St.", "5th Avenue", "Rolnická
1"), not a VAT id, a supplier's number or a table's row."""
_HEADING_CUE = re.compile(r"\b(?:to|an|by|from|durch|[àa]|da|datos)\b|/", re.IGNORECASE)
"""A seller's label that heads what follows ("Payable to", "Konto / Zahlbar an", "Issued by"),
not a role that may stand under its name."""


def _name_over_role(text: str, cue: re.Match[str]) -> _Candidate | None:
    """A party's name over its role word alone on a line, an address under the role ("John
    White" / "Provider" / "79 Stonybrook St."). Where the role heads the block instead
    ("Provider" / "Acme Ltd" / "1 High St"), the line under it is no address, and `_issuer`
    reads the name under the role."""
    if ":" in cue.group() or _HEADING_CUE.search(cue.group()):
        return None
    end = text.rfind("\n", 0, cue.start())
    if end < 0:
        return None
    start = text.rfind("\n", 0, end) + 1
    previous = text[start:end].strip()
    under = text[cue.end() :].lstrip("\n").split("\n", 1)[0]
    if (
        not _BRAND_LINE.fullmatch(previous)
        or not previous[0].isupper()
        or not _STREET_LINE.fullmatch(under.strip())
        or _TITLE_LINE.fullmatch(previous)
        or _SELLER_CUE.match(previous)
        or _BUYER_CUE.match(previous)
    ):
        return None
    at = text.index(previous, start)
    return _Candidate(
        "issuer", previous, FieldType.NAME, previous, at, at + len(previous), 0.75, 30
    )


_WEB_DOMAIN = re.compile(
    r"(?:@|\bwww\s?\.\s?|https?://)(?P<host>[a-z0-9-]+(?:\s?\.\s?[a-z0-9-]+)+)"
    r"|\b(?P<bare>[a-z0-9][a-z0-9-]{2,40}\.(?:com|net|org|de|fr|es|it|nl|be|at|ch|cz|pl"
    r"|co\.uk|io|eu))\b",
    re.IGNORECASE,
)
_MAIL_PROVIDERS = frozenset(
    "gmail googlemail yahoo hotmail outlook live msn aol icloud me mac gmx web t-online "
    "freenet orange free wanadoo laposte protonmail proton mail posteo example test domain "
    "isp localhost".split()
)
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "gv", "or"})


def _domain_names(text: str, buyers: list[tuple[int, int]]) -> list[str]:
    """The names of the organisations whose web or mail domains the document prints
    ("www.marktkauf.de", "info@cronus.com": marktkauf, cronus), outside a buyer's block
    and a recipient's line, without mail providers; in order of appearance."""
    names: list[str] = []
    for match in _WEB_DOMAIN.finditer(text):
        if any(a <= match.start() < b for a, b in buyers):
            continue
        prefix = _line_prefix(text, match.start(), 200).lstrip().lower()
        if prefix.startswith(("to:", "an:", "cc:")):
            continue
        host = re.sub(r"\s", "", (match["host"] or match["bare"]).lower()).split(".")
        if len(host) < 2:
            continue
        labels = host[:-1]
        if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL:
            labels = labels[:-1]
        name = labels[-1]
        if len(name) >= 4 and name not in _MAIL_PROVIDERS and name not in names:
            names.append(name)
    return names


def _named_by_domain(
    text: str, buyers: list[tuple[int, int]], orgs: Sequence[_Candidate] = ()
) -> _Candidate | None:
    """A line, outside a buyer's block, that starts with the name of a domain the
    document prints (the line "Marktkauf Lehr" under "www.marktkauf.de"; the first
    domain's first such line), up to a separator: a shop or a company writes its name
    where it prints its address. A company's name with its legal form that starts so
    ("Vibami Finland Oy" for www.vibami.fi) comes before any line."""
    for name in _domain_names(text, buyers):
        org = next(
            (
                o
                for o in orgs
                if _starts_with_name(o.value, name)
                and not any(a <= o.start < b for a, b in buyers)
                # Not from an older message quoted under a reply.
                and not _line_prefix(text, o.start, 200).lstrip().startswith(">")
            ),
            None,
        )
        if org is not None:
            return replace(org, name="issuer", confidence=0.85)
        offset = 0
        for line in text.splitlines(keepends=True):
            start, offset = offset, offset + len(line)
            lowered = line.lower()
            if any(a <= start < b for a, b in buyers) or any(w in lowered for w in _WEB_SIGNS):
                continue
            lead = len(line) - len(line.lstrip())
            value = _NAME_END.split(line.strip())[0].rstrip(" |,;:.")
            words = value.lower().split()
            if (
                _starts_with_name(value, name)
                and len(words) <= 6
                and not any(c.isdigit() or c in ":#" for c in value)
                and not _SENTENCE_WORDS & set(words)
                and value[0].isalnum()
                and sum(w[0].islower() for w in value.split()) <= 2
                and "." not in words[0].rstrip(".")  # the domain itself
            ):
                at = start + lead
                return _Candidate(
                    "issuer", value, FieldType.NAME, value, at, at + len(value), 0.8, 30
                )
    return None


def _starts_with_name(value: str, name: str) -> bool:
    """Whether `value`'s letters and digits begin with `name`, as whole words ("Marktkauf
    Lehr", "TRADER JOE'S" for traderjoes; not "REWE-Guthaben" for rewe)."""
    seen = 0
    for i, c in enumerate(value):
        if c.isalnum():
            if seen == len(name) or c.lower() != name[seen]:
                return seen == len(name) and value[i - 1].isspace()
            seen += 1
    return seen == len(name)


_WEB_SIGNS = ("@", "www", "://")
_SENTENCE_WORDS = frozenset(
    "and or our the your we und oder ihr ihre unser unsere et ou nos votre y o nuestro".split()
)
"""Words of a sentence, not of a name ("GitHub and our licensors ...")."""

_NAME_END = re.compile(r"\s{2,}|\s[|\u2013-]\s|,\s|\t")
"""Where a name on a letterhead or a receipt's first lines ends: a column gap, a dash
between parts ("Au bon moulin SARL - 1242 chemin ..."), a comma before the address."""


_PHONE_CUE = re.compile(
    r"\b(?:tel|tél|phone|telefon|telephone|téléphone|tfno|tlf|fon|mobile|mobil|mob|"
    r"cell|fax|móvil|movil|call|ruf|handy|portable)\b|☎",
    re.IGNORECASE,
)
_TLD_REGION = {
    "de": "DE",
    "at": "AT",
    "ch": "CH",
    "uk": "GB",
    "fr": "FR",
    "es": "ES",
    "nl": "NL",
    "ie": "IE",
    "it": "IT",
    "be": "BE",
}
_CURRENCY_REGION = {"GBP": "GB", "USD": "US", "CHF": "CH"}


def _region_hint(text: str, found: list[_Candidate]) -> str:
    """Where national-format numbers (``030 1234567``) most likely come from."""
    countries = _countries(found)
    if countries:
        return countries[0]
    for candidate in found:
        if candidate.type is FieldType.EMAIL and candidate.normalized:
            tld = candidate.normalized.rsplit(".", 1)[-1]
            if tld in _TLD_REGION:
                return _TLD_REGION[tld]
    for candidate in found:
        if candidate.type is FieldType.MONEY and candidate.normalized:
            code = candidate.normalized.split()[-1]
            if code in _CURRENCY_REGION:
                return _CURRENCY_REGION[code]
    return "DE" if "€" in text else "US"


_MONEY_LIKE = re.compile(r"\d[.,]\d{2}(?![\d.])")


def _phones(text: str, region: str) -> Iterator[_Candidate]:
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        raw = match.raw_string
        prefix = _line_prefix(text, match.start, 40)
        cue = _PHONE_CUE.search(prefix)
        # Statement columns ("+1,822.97  540.01") are not numbers anyone dials.
        if "," in raw or "  " in raw or (cue is None and _MONEY_LIKE.search(raw)):
            continue
        international = raw.lstrip().startswith(("+", "00"))
        # A national-format number without a label is more often an account or order number.
        if not international and cue is None:
            continue
        name = "fax" if cue and cue.group().lower() == "fax" else "phone"
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        yield _Candidate(
            name,
            match.raw_string,
            FieldType.PHONE,
            e164,
            match.start,
            match.end,
            0.9 if cue else 0.8,
            20,
        )


_WORD = r"[A-ZÄÖÜÉÈÁÍÓÚÑÇ][\w'\u2019.-]*"
_LINK = r"(?:&|und|and|et|y|de|la|del|van|der|den|von|du|le)"
_ORG_SUFFIX = (
    r"GmbH & Co\. KG|GmbH|gGmbH|AG|KGaA|KG|OHG|oHG|UG \(haftungsbeschränkt\)|e\.K\.|e\.V\."
    r"|Ltd\.?|Limited|PLC|plc|LLP|LLC|L\.L\.C\.|Inc\.?|Corp\.?|Corporation|Co\.|SARL|SAS"
    r"|S\.A\.S\.|S\.A\.|SA|S\.L\.|SL|SLU|B\.V\.|BV|N\.V\.|NV|DAC|S\.p\.A\.|SpA|S\.r\.l\.|Srl"
    r"|Oy|AB|ApS|A/S|LTD\.?|GMBH|s\.r\.o\.|a\.s\.|v\.o\.s\.|Ltda\.?|LTDA"
)
_COMMA_FORMS = (
    r"Inc\.?|Ltd\.?|LTD\.?|Limited|LLC|L\.L\.C\.|LLP|PLC|plc|Corp\.?|Corporation|GmbH|S\.A\."
    r"|S\.A\.S\.|S\.L\.|S\.p\.A\.|S\.r\.l\.|B\.V\.|N\.V\.|s\.r\.o\.|a\.s\.|v\.o\.s\.|Ltda\.?|LTDA"
)
_BEFORE_SUFFIX = rf"(?:,(?=[ \t]+(?:{_COMMA_FORMS})(?!\w)))?[ \t]+"
"""Between a name and its legal form: a space, or a comma before a legal form that writes
one so ("Aperture Science, Inc.", "MERCADONA, S.A."; not "5400 Baden, AG", the canton, nor
"Calgary, AB")."""
_ORG = re.compile(
    rf"(?<![\w&])(?P<name>{_WORD}(?:[ \t]+(?:{_WORD}|{_LINK})){{0,5}}?){_BEFORE_SUFFIX}"
    rf"(?P<suffix>{_ORG_SUFFIX})(?![\w])"
)
_LETTERHEAD = re.compile(
    rf"^[ \t]*(?P<name>[^\W\d_][\w'\u2019.&-]*(?:[ \t]+[\w'\u2019.&-]+){{0,5}}?){_BEFORE_SUFFIX}"
    rf"(?P<suffix>{_ORG_SUFFIX})(?=[ \t]*(?:$|[-\u2013\u2014|\u00b7\u2022,]))",
    re.MULTILINE,
)
"""A line that starts with a company's name and legal form, as a letterhead or a receipt's
header does ("Au bon moulin SARL - 1242 chemin ...", "toom Baumarkt GmbH"): there the
name's words may be lower-case, which `_ORG` (capitalised words, anywhere) does not allow."""
_LEADING_NOISE = re.compile(
    r"^(?:(?:Dear|From|To|An|Von|De|Para|For|Bill|Invoice|Customer|Kunde|Client|Cliente"
    r"|Beneficiary|Payee|Attn|Betreff|Subject|Re|Fwd|AW|TR|The|Der|Die|Das|Le|La|El|Los|Hello"
    r"|Hi|Hallo|Bonjour|Hola|Between|Zwischen|Entre|And|Und|Et|Y|With|Mit|Avec|Con|Our|Your"
    r"|Unser|Votre|Nuestro|Sehr|Geehrte|Geehrter|Herr|Frau|Mr|Mrs|Ms|Dr|Signed|Welcome"
    r"|Rechnungsempfänger|Auftraggeber|Auftragnehmer|Lieferant|Supplier|Vendor|Provider"
    r"|Employer|Arbeitgeber|Empresa|Employeur|Account|Name|Press|Release|Salary|Gehalt|Lohn"
    r"|Refund|Virement|Salaire|N[óo]mina|Transfer|Lastschrift|Gutschrift|[ÜU]berweisung"
    r"|Payment|Card|Kartenzahlung|Pr[ée]l[èe]vement|Remboursement|Recibo|Pago|SEPA)\b[:,]?\s*)+",
    re.IGNORECASE,
)

_PERSON_LABELS = re.compile(
    r"^[ \t]*(?P<label>name|full name|customer|client|kunde|employee|mitarbeiter|arbeitnehmer"
    r"|policyholder|policy holder|versicherungsnehmer|insured|assur[ée]|tomador|asegurado"
    r"|account holder|kontoinhaber|titulaire|titular|patient|guest|gast|landlord|tenant"
    r"|vermieter|mieter|bailleur|locataire|arrendador|arrendatario|salari[ée]|trabajador"
    r"|requested by|angefordert von|demandeur|solicitante|approved by|freigabe|valid[ée] par"
    r"|aprobado por|analyst|signed|signature|unterschrift|firma|employee name|collaborateur"
    r"|empleado|contact|ansprechpartner|attn|surname|nachname|given names?|vornamen?|nom"
    r"|pr[ée]noms?|apellidos?|nombre|beneficiary|payee|beneficiario|b[ée]n[ée]ficiaire"
    r"|beg[üu]nstigter|zahlungsempf[äa]nger|account name|empf[äa]nger|from|von|de|to|an|para"
    r"|bill to|invoice to|rechnungsempf[äa]nger|factur[ée] [àa]|facturar a|employer"
    r"|arbeitgeber|empresa|employeur|provider|supplier|vendor)"
    r"(?P<alias>(?:[ \t]*/[ \t]*[\w ]+)?)[ \t]*[:.][ \t]*(?:\n[ \t]*)?"
    r"(?P<value>[^\n<]{2,80}?)[ \t]*(?:<|$)",
    re.IGNORECASE | re.MULTILINE,
)
_PAYEE_LABELS = re.compile(
    r"beneficiary|payee|beneficiario|b[ée]n[ée]ficiaire|beg[üu]nstigter|zahlungsempf"
    r"|account name|empf[äa]nger",
    re.IGNORECASE,
)
_HOLDER_LABELS = re.compile(r"account holder|kontoinhaber|titulaire|titular", re.IGNORECASE)
_SENDER_LABELS = re.compile(r"^(?:from|von|de)$", re.IGNORECASE)
_RECIPIENT_LABELS = re.compile(
    r"^(?:to|an|para|bill to|invoice to|rechnungsempf[äa]nger|factur[ée] [àa]|facturar a"
    r"|customer|client|kunde)$",
    re.IGNORECASE,
)
_GREETING = (
    r"^[ \t]*(?:Dear|Hello|Hi|Hallo|Liebe[rs]?|Guten Tag|Sehr geehrte[rs]?|Bonjour|Cher|Chère"
    r"|Estimad[oa](?:/a)?|Hola|Geachte)[ \t]+"
)
_GREETED = re.compile(_GREETING + r"(?P<whom>[^\n,;:!]+)", re.MULTILINE)
_SALUTATION = re.compile(
    _GREETING + r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof|Herr|Frau|M|Mme|Sr|Sra)\.?"
    r"[ \t]+)*(?P<value>[A-ZÄÖÜÉÁÍÓÚÑ][^\n,:;!]{1,60}?)[ \t]*[,:!]?[ \t]*$",
    re.MULTILINE,
)
_SIGN_OFF = re.compile(
    r"^[ \t]*(?:kind regards|best regards|regards|best wishes|sincerely|yours sincerely"
    r"|yours faithfully|many thanks|thanks|cheers|mit freundlichen gr[üu](?:ß|ss)en|viele gr[üu]"
    r"(?:ß|ss)e|freundliche gr[üu](?:ß|ss)e|beste gr[üu](?:ß|ss)e|cordialement|bien cordialement"
    r"|salutations distingu[ée]es|atentamente|saludos cordiales|un saludo|saludos"
    r"|met vriendelijke groet(?:en)?|vriendelijke groeten|hartelijk dank|groeten)"
    # The name under the sign-off, or after its comma on the same line ("Thanks, Jo Doe").
    r"(?:[ \t]*,[ \t]*(?=[^\s])|[ \t]*,?[ \t]*\n(?:[ \t]*\n)?[ \t]*)(?P<value>[^\n]{2,60})",
    re.IGNORECASE | re.MULTILINE,
)
_PERSON = re.compile(
    r"^(?:[A-ZÄÖÜÉÈÁÍÓÚÑ][a-zäöüßéèêëáíóúñçà'\u2019-]+|(?:van|von|de|der|den|da|del|la|le|du|O')"
    r")(?:[ \t]+(?:[A-ZÄÖÜÉÈÁÍÓÚÑ][a-zäöüßéèêëáíóúñçà'\u2019-]+|van|von|de|der|den|da|del|la|le|du"
    r"|O'[A-Z][a-z]+)){1,3}$"
)
_NOT_NAMES = frozenset(
    "invoice rechnung facture factura total amount date datum fecha due payment customer "
    "account bank "
    "dear hello thanks team service support office department the your our please order "
    "insurance claim policy statement receipt contract agreement page sent from iphone "
    "online banking kundenservice atención client cliente le la el monthly new "
    "avviso pagamento fattura faktura ricevuta mahnung zahlungserinnerung relance "
    "duplikat duplicate duplicata copy kopie copia description regards wishes happy "
    "shopping".split()
)


def _names(text: str) -> Iterator[_Candidate]:
    seen: set[int] = set()
    for match in (*_ORG.finditer(text), *_LETTERHEAD.finditer(text)):
        name = match["name"]
        noise = _LEADING_NOISE.match(name)
        offset = noise.end() if noise else 0
        if offset >= len(name) or not name[offset:].strip():
            continue
        start = match.start("name") + offset
        value = text[start : match.end()]
        if start in seen or not (value[0].isupper() or match.re is _LETTERHEAD):
            continue
        if not any(len(word) >= 3 and word.isalpha() for word in name[offset:].split()):
            continue  # OCR noise before a legal form ("fi PE Ss SA"), not a name
        seen.add(start)
        yield _Candidate("organization", value, FieldType.NAME, value, start, match.end(), 0.85, 30)
    for match in _PERSON_LABELS.finditer(text):
        # "Insured: Eleanor Whitfield, 19 Larch Grove, ..." names the person before the comma.
        value = match["value"].split(",")[0].strip().strip(";")
        label = match["label"].lower()
        start = match.start("value")
        start += match["value"].find(value)
        part = _SINGLE_NAME_LABELS.search(f"{label} {match['alias']}")
        if part is not None:
            candidate = _name_part(value, start, part)
        else:
            candidate = _name_field(value, start, label)
        if candidate is not None:
            yield candidate
    for match in _SALUTATION.finditer(text):
        value = match["value"].strip()
        if _looks_like_person(value):
            yield _Candidate(
                "recipient_name",
                value,
                FieldType.NAME,
                value,
                match.start("value"),
                match.start("value") + len(value),
                0.7,
                25,
            )
    for match in _SIGN_OFF.finditer(text):
        value = match["value"].strip()
        if _looks_like_person(value):
            start = match.start("value") + match["value"].find(value)
            yield _Candidate(
                "sender_name", value, FieldType.NAME, value, start, start + len(value), 0.75, 25
            )


_SINGLE_NAME_LABELS = re.compile(
    r"(?P<surname>surname|nachname|apellidos?|\bnom\b)|(?P<given>given names?|vornamen?"
    r"|pr[ée]noms?|nombre)",
    re.IGNORECASE,
)
_NAME_PART = re.compile(r"^[^\W\d_][^\W\d_'\u2019 -]*(?:[ '\u2019-][^\W\d_]+){0,3}$")


def _name_part(value: str, start: int, part: re.Match[str]) -> _Candidate | None:
    """Identity documents print the surname and the given names on separate labelled lines."""
    if not _NAME_PART.match(value) or value.lower() in _NOT_NAMES:
        return None
    name = "surname" if part["surname"] else "given_names"
    return _Candidate(
        name, value, FieldType.NAME, value.title(), start, start + len(value), 0.85, 40
    )


def _name_field(value: str, start: int, label: str) -> _Candidate | None:
    is_org = _ORG.fullmatch(value) is not None or bool(re.search(rf"\b(?:{_ORG_SUFFIX})$", value))
    if not is_org and not _looks_like_person(value):
        return None
    if _PAYEE_LABELS.search(label):
        name = "payee_name"
    elif _HOLDER_LABELS.search(label):
        name = "account_holder"
    elif _SENDER_LABELS.match(label):
        name = "sender_name"
    elif _RECIPIENT_LABELS.match(label):
        name = "recipient_name"
    elif is_org:
        name = "organization"
    else:
        name = "person"
    return _Candidate(name, value, FieldType.NAME, value, start, start + len(value), 0.85, 40)


def _looks_like_person(value: str) -> bool:
    if not _PERSON.match(value):
        return False
    words = value.lower().replace("\u2019", "'").split()
    return not any(w.strip(".,") in _NOT_NAMES for w in words)


_STREET = re.compile(
    r"(?P<street>"
    r"\b\d{1,5}[a-zA-Z]?,?[ \t]+(?:[A-Z][\w'.-]*[ \t]+){1,3}(?:Street|St\.|Road|Rd\.?|Avenue|"
    r"Ave\.?|Lane|Ln\.?|Drive|Dr\.|Boulevard|Blvd\.?|Way|Place|Court|Square|Terrace|Close"
    r"|Crescent|Parkway|Highway|Grove|Gardens|Row|Hill|Walk|Mews|Quay)\b"
    r"|\b[A-ZÄÖÜ][\wäöüß.-]*(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer)"
    r"[ \t]+\d{1,3}[ \t]?[a-z]?\b"
    r"|\b[A-ZÄÖÜ][\wäöüß-]+[ \t](?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm)"
    r"[ \t]+\d{1,3}[a-z]?\b"
    r"|\b(?:Am|An der|Im|Auf dem|Zum|Zur)[ \t]+[A-ZÄÖÜ][\wäöüß-]+[ \t]+\d{1,3}[a-z]?\b"
    r"|\b\d{1,4}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?i:rue|avenue|av\.|boulevard|bd|place|all[ée]e"
    r"|chemin|impasse|quai|cours)[ \t]+[^\n,·|]{2,40}"
    r"|\b(?i:Calle|C/|Avenida|Avda\.?|Plaza|Pza\.|Paseo|Camino|Carretera|Ronda)[ \t]+"
    r"[^\n,·|]{2,40},?[ \t]*(?:n[º°][ \t]*)?\d{1,4}\b"
    r"|\b[A-Z][a-z]+(?:gracht|straat|weg|plein|laan|kade)[ \t]+\d{1,4}\b"
    r")"
)
_CITY = re.compile(
    r"(?P<city>"
    r"(?:\b[A-Z]{1,2}-)?\b\d{4,5}[ \t]+[A-ZÄÖÜÉ][\wäöüßéè.-]+(?:[ \t]+(?:am|an der|im)[ \t]+"
    r"[A-Z][\w.-]+)?"
    r"|\b[A-Z][a-zA-Z]+[ \t]+[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}\b"
    r"|\b[A-Z][a-zA-Z .]+,[ \t]?[A-Z]{2}[ \t]\d{5}\b"
    r"|\b\d{4}[ \t]?[A-Z]{2}[ \t]+[A-Z][\w-]+"
    r"|\b[A-Z][a-z]+[ \t]+[AC-FHKNPRTV-Y]\d{2}[ \t]?[0-9AC-FHKNPRTV-Y]{4}\b"
    r")"
)
_JOINER = re.compile(r"[ \t]*(?:,|·|\||\n)[ \t]*(?:\n[ \t]*)?")


def _addresses(text: str) -> Iterator[_Candidate]:
    for match in _STREET.finditer(text):
        start, end = match.start(), match.end()
        street = match["street"].rstrip(" ,")
        end = start + len(street)
        joiner = _JOINER.match(text, end)
        city = _CITY.match(text, joiner.end()) if joiner else None
        if city is not None and joiner is not None:
            end = city.end()
            normalized = f"{street}, {city.group().strip()}"
            confidence = 0.8
        else:
            normalized = street
            confidence = 0.55
        yield _Candidate(
            "address", text[start:end], FieldType.ADDRESS, normalized, start, end, confidence, 35
        )
