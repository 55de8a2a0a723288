"""Parsing of written amounts and dates in the formats European and US documents use.

Kept apart from the extractor because both are pure functions with many edge cases
(``1.234,56``, ``1 234,56``, ``1'234.50``, ``1,234``; ``12/03/2026`` in Europe versus the
US, ``3. März 2026``, ``3 de marzo de 2026``) that deserve their own tests.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

CURRENCY_CODES = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "$": "USD",
    "us$": "USD",
    "r$": "BRL",
    "cad$": "CAD",
    "ca$": "CAD",
    "c$": "CAD",
    "aud$": "AUD",
    "au$": "AUD",
    "a$": "AUD",
    "nzd$": "NZD",
    "nz$": "NZD",
    "sgd$": "SGD",
    "s$": "SGD",
    "hkd$": "HKD",
    "hk$": "HKD",
    "zł": "PLN",
    "kč": "CZK",
    "usd": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "chf": "CHF",
    "fr.": "CHF",
    "sek": "SEK",
    "dkk": "DKK",
    "nok": "NOK",
    "pln": "PLN",
    "jpy": "JPY",
    "¥": "JPY",
    "円": "JPY",
    "cad": "CAD",
    "aud": "AUD",
    "₹": "INR",
    "inr": "INR",
    # "Rs" is also Pakistan's, Sri Lanka's and Nepal's rupee; India's is the one most
    # documents that write it are in.
    "rs": "INR",
    "rs.": "INR",
    "czk": "CZK",
    "huf": "HUF",
    "ron": "RON",
    "nzd": "NZD",
    "hkd": "HKD",
    "sgd": "SGD",
    "zar": "ZAR",
    "brl": "BRL",
    "mxn": "MXN",
    "cny": "CNY",
    "rsd": "RSD",
    "try": "TRY",
    "tl": "TRY",
    "₺": "TRY",
    "hrk": "HRK",
    "bgn": "BGN",
    "uah": "UAH",
    "isk": "ISK",
    "krw": "KRW",
    "₩": "KRW",
    "thb": "THB",
    "idr": "IDR",
    "myr": "MYR",
    "ars": "ARS",
    "clp": "CLP",
    "cop": "COP",
    "aed": "AED",
    "sar": "SAR",
}
ISO_CODES = frozenset(CURRENCY_CODES.values())
"""The currencies the extractor knows by code."""

_CURRENCY = (
    r"(?:US\$|(?<![A-Za-z])(?:R|CAD|CA?|AUD|AU|A|NZD?|SGD|S|HKD?)\$|[€$£¥₹円]|(?<![A-Za-z])(?:EUR|USD|GBP|CHF|SEK|DKK|NOK|PLN|JPY|CAD"
    r"|AUD|INR|CZK|HUF|RON|NZD|HKD|SGD|ZAR|BRL|MXN|CNY|RSD)\b|\bEuros?\b|\bFr\.|(?<!\w)(?-i:zł|ZŁ|Kč|KČ)(?!\w)"
    r"|[₺₩]|(?<![A-Za-z])(?-i:TRY|TL|HRK|BGN|UAH|ISK|KRW|THB|IDR|MYR|ARS|CLP|COP|AED|SAR)\b"
    r"|\b(?-i:Rs)(?:\.[ \t]?|[ \t])(?=\d))"
)
CURRENCY_PATTERN = _CURRENCY
"""A currency as written: a symbol (Brazil's "R$" and the other dollars' "CAD$", "C$", "A$",
"NZ$", "S$", "HK$" before the dollar's), an ISO code, also
glued to its amount ("17 115,45PLN"), the euro by name ("1.500,00 Euro"), the złoty's and
the koruna's abbreviations as written ("zł", "Kč"; not "KC", Kansas City's); the codes
of currencies that are also words ("TRY", "ARS", "COP") and the lira's "TL" in capitals
only ("100,00 TL"; not "try 3").
"Rs" is a rupee only written so and before an amount on its own line: a shop's name ending
in "RS" above a line that starts with a number is not ("LC WAIKIKI RETAIL RS" over
"1007575-..."), nor Serbia's country code ("PIB: RS 106884584")."""
_DATE_DIGITS = (
    r"(?:(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])(?:19|20)\d\d"
    r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?![\d.,])"
)
_NUMBER = (
    rf"(?!0\d+(?:[^\d.,]|[.,](?!\d)|$))(?!{_DATE_DIGITS})"
    r"(?:\d{1,3}(?:[.,'\u2019\u00a0 ]\d{3})+(?:[.,]\d{1,2})?"
    r"|\d{1,9}(?:[.,]\d{1,2})?|\d{10,12}[.,]\d{1,2})"
)
"""An amount's number; a whole number with a leading zero is a code's ("R$ 0000002002-8",
a boleto's "nosso número", "R$" over "02441403000000071", "€" over "000 ks"; "012,50 EUR"
and "R$ 03,00" are amounts), and so are a date written as eight digits ("10022016"
over "HRK") and ten digits or more without cents (an account number before "SEK"); a
JPY or KRW amount of eight or nine digits is one."""
MONEY = re.compile(
    rf"(?P<pre>{_CURRENCY})\s?(?P<sign1>-)?\s?(?P<num1>{_NUMBER})(?![\d.,]*\d)"
    rf"|(?P<sign2>-)?(?P<num2>(?<![\d.,]){_NUMBER})(?:[^\S\n]?|\n(?!{_CURRENCY}\s?-?\d))"
    rf"(?P<post>{_CURRENCY})(?![^\S\n]?-?\d)",
    re.IGNORECASE,
)
"""An amount with its currency before or after it, on its line or the next ("zu zahlen
19,58" over "EUR" on a till's receipt, "$" over "279.84" in a PDF's column). A currency
followed by a number is that number's ("EUR 12" in "5 EUR 12"; "$" between "0.00" and
"150.00" on three lines), except that one ending the amount's own line is the amount's,
whatever the next line starts with ("210,00 Kč" over "1 210,00 Kč")."""


def currency_code(symbol: str) -> str:
    """ISO code for a currency symbol or code as written (``€`` -> ``EUR``)."""
    return CURRENCY_CODES.get(symbol.strip().lower(), symbol.strip().upper())


def parse_number(text: str) -> Decimal | None:
    """Parse a written amount whatever its thousands and decimal separators.

    The last separator is the decimal one when it is followed by one or two digits;
    a single separator followed by exactly three digits groups thousands.
    """
    cleaned = re.sub(r"[\s'\u2019\u00a0]", "", text)
    if not cleaned or not re.fullmatch(r"[\d.,]+", cleaned):
        return None
    last = max(cleaned.rfind("."), cleaned.rfind(","))
    if last >= 0:
        tail = cleaned[last + 1 :]
        separators = sum(cleaned.count(s) for s in ".,")
        if len(tail) in (1, 2) or (len(tail) != 3 and separators == 1):
            whole = re.sub(r"[.,]", "", cleaned[:last])
            cleaned = f"{whole}.{tail}"
        else:
            cleaned = re.sub(r"[.,]", "", cleaned)
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


_MONTHS_RAW = {
    # English, German, French, Spanish, Dutch, Italian, Portuguese.
    1: "january jan januar jänner janvier janv enero ene januari gennaio janeiro",
    2: "february feb februar fevrier févr fev février febrero februari febbraio fevereiro",
    3: "march mar märz maerz marz mrz mars marzo maart março",
    4: "april apr avril abril abr aprile",
    5: "may mai mayo mei maggio maio",
    6: "june jun juni juin junio giugno junho",
    7: "july jul juli juillet juil julio luglio julho",
    8: "august aug august aout août agosto ago augustus",
    9: "september sep sept septembre septiembre setiembre settembre setembro",
    10: "october oct oktober okt octobre octubre ottobre outubro",
    11: "november nov novembre noviembre novembro",
    12: "december dec dezember dez decembre décembre diciembre dic dicembre dezembro",
}


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


MONTHS = {
    _strip_accents(name): number for number, names in _MONTHS_RAW.items() for name in names.split()
}
_MONTH_ALT = "|".join(
    sorted({n for names in _MONTHS_RAW.values() for n in names.split()}, key=len, reverse=True)
)

DATE = re.compile(
    # A date may be glued to the word after it ("20-10-2015Invoice Date:" in PDF text).
    # Year first is year, month, day whatever the separator ("2024/07/05" in Japan, Korea,
    # China and many invoicing systems; "2024.07.05" in Hungary).
    r"(?P<iso>\b(?P<iy>\d{4})(?P<isep>[-/.])(?P<im>\d{1,2})(?P=isep)(?P<id>\d{1,2})(?!\d))"
    # Not inside a longer code: a slashed one ("č. ZS/30/3/98" is a file number; a dotted
    # date after a slash is a date: "INV-77/12.03.2024"), a dotted one ("625/12.08.09.60",
    # "version 10.12.24.3", an IP address).
    r"|(?P<num>(?:(?<!/)|(?=\d{1,2}[.-]))(?<!\d\.)\b(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})"
    r"(?P=sep)(?P<y>\d{4}|\d{2})(?!\d)(?!\.\d))"
    rf"|(?P<dmy>\b(?P<d1>\d{{1,2}})(?:st|nd|rd|th|er|\.|º)?[\s-]+(?:de\s+)?"
    rf"(?P<m1>{_MONTH_ALT})\.?,?[\s-]+(?:de\s+)?(?P<y1>\d{{4}})(?!\d))"
    rf"|(?P<mdy>\b(?P<m2>{_MONTH_ALT})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s?,?\s+"
    rf"(?P<y2>\d{{4}})(?!\d))"
    # Japanese and Chinese "2025年5月15日", Korean "2025년 5월 15일".
    r"|(?P<cjk>(?<!\d)(?P<cy>\d{4})[ \t]*[年년][ \t]*(?P<cm>\d{1,2})[ \t]*[月월][ \t]*"
    r"(?P<cd>\d{1,2})[ \t]*[日일])",
    re.IGNORECASE,
)
"""A date in ISO or year-first (``2026/03/12``), numeric (``12.03.2026``, ``12/03/26``),
written-month or CJK (``2026年3月12日``) form."""


def parse_date(match: re.Match[str], month_first: bool = False) -> dt.date | None:
    """Turn a `DATE` match into a date; ``month_first`` resolves ``03/12/2026`` US-style.

    Day-first is the default because most of the documents are European; a number over 12
    settles the order whatever the hint says.
    """
    try:
        if match.group("iso"):
            return dt.date(int(match["iy"]), int(match["im"]), int(match["id"]))
        if match.group("num"):
            a, b, year = int(match["a"]), int(match["b"]), _year(match["y"])
            day, month = (b, a) if _month_first(a, b, month_first, match["sep"]) else (a, b)
            return dt.date(year, month, day)
        if match.group("dmy"):
            return dt.date(int(match["y1"]), _month(match["m1"]), int(match["d1"]))
        if match.group("mdy"):
            return dt.date(int(match["y2"]), _month(match["m2"]), int(match["d2"]))
        if match.group("cjk"):
            return dt.date(int(match["cy"]), int(match["cm"]), int(match["cd"]))
    except (ValueError, KeyError):
        return None
    return None  # pragma: no cover - the pattern has exactly these five alternatives


def _month_first(a: int, b: int, hint: bool, sep: str) -> bool:
    if a > 12:
        return False
    if b > 12:
        return True
    # Dotted dates are day-first everywhere; slashes and dashes follow the document's
    # locale (a US till prints "09-01-23" for September 1st).
    return hint and sep in ("/", "-")


def _month(name: str) -> int:
    return MONTHS[_strip_accents(name.lower().rstrip("."))]


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        return 2000 + year if year < 70 else 1900 + year
    return year
