"""Seeded fake business data shared by the corpus and example generators.

Only the generators in ``scripts/`` use this module. Every value that has a checksum in
the real world (IBAN, VAT id, card number, phone number) is generated valid, so the
extractor's library validators accept them; formats follow each country's conventions.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import phonenumbers
import stdnum.eu.vat
import stdnum.gb.vat
import stdnum.iban
import stdnum.luhn

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
}
MONTH_NAMES = {lang: names.split() for lang, names in MONTHS.items()}


@dataclass(frozen=True)
class Country:
    """How one country writes names, addresses, money and dates."""

    code: str
    lang: str
    currency: str
    money: str
    dates: tuple[str, ...]
    suffixes: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]
    streets: tuple[str, ...]
    names: str
    tld: str
    iban_len: int


COUNTRIES: dict[str, Country] = {
    "DE": Country(
        "DE",
        "de",
        "EUR",
        "de",
        ("eu", "long", "iso", "eu"),
        ("GmbH", "AG", "GmbH & Co. KG", "KG", "UG (haftungsbeschränkt)"),
        (
            ("10115", "Berlin"),
            ("80331", "München"),
            ("20095", "Hamburg"),
            ("50667", "Köln"),
            ("60311", "Frankfurt am Main"),
            ("70173", "Stuttgart"),
            ("04109", "Leipzig"),
            ("28195", "Bremen"),
            ("90402", "Nürnberg"),
        ),
        (
            "Hauptstraße",
            "Bahnhofstraße",
            "Lindenallee",
            "Schillerstraße",
            "Gartenweg",
            "Industriestraße",
            "Friedrichstraße",
            "Am Hafen",
            "Kantstraße",
        ),
        "de",
        "de",
        22,
    ),
    "AT": Country(
        "AT",
        "de",
        "EUR",
        "de",
        ("eu", "long"),
        ("GmbH", "AG", "KG"),
        (("1010", "Wien"), ("8010", "Graz"), ("4020", "Linz"), ("5020", "Salzburg")),
        ("Mariahilfer Straße", "Landstraße", "Herrengasse", "Ringstraße"),
        "de",
        "at",
        20,
    ),
    "CH": Country(
        "CH",
        "de",
        "CHF",
        "ch",
        ("eu", "long"),
        ("AG", "GmbH", "SA"),
        (("8001", "Zürich"), ("3011", "Bern"), ("4051", "Basel"), ("1204", "Genève")),
        ("Bahnhofstrasse", "Seestrasse", "Rue du Rhône", "Marktgasse"),
        "de",
        "ch",
        21,
    ),
    "GB": Country(
        "GB",
        "en",
        "GBP",
        "gb",
        ("eu_slash", "long", "long"),
        ("Ltd", "Limited", "PLC", "LLP"),
        (
            ("EC1A 1BB", "London"),
            ("M1 1AE", "Manchester"),
            ("B1 1BB", "Birmingham"),
            ("LS1 4AP", "Leeds"),
            ("EH1 1YZ", "Edinburgh"),
            ("BS1 4DJ", "Bristol"),
        ),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Kings Road", "Mill Lane"),
        "en",
        "co.uk",
        22,
    ),
    "US": Country(
        "US",
        "en",
        "USD",
        "us",
        ("us", "long_us", "iso"),
        ("Inc.", "LLC", "Corp.", "Inc"),
        (
            ("NY 10001", "New York"),
            ("CA 94105", "San Francisco"),
            ("IL 60601", "Chicago"),
            ("TX 78701", "Austin"),
            ("MA 02110", "Boston"),
            ("WA 98101", "Seattle"),
        ),
        (
            "Main Street",
            "Market Street",
            "Oak Avenue",
            "5th Avenue",
            "Maple Drive",
            "Washington Blvd",
        ),
        "en",
        "com",
        0,
    ),
    "FR": Country(
        "FR",
        "fr",
        "EUR",
        "fr",
        ("eu_slash", "long", "eu_slash"),
        ("SARL", "SAS", "SA"),
        (
            ("75008", "Paris"),
            ("69002", "Lyon"),
            ("13001", "Marseille"),
            ("31000", "Toulouse"),
            ("33000", "Bordeaux"),
            ("44000", "Nantes"),
        ),
        (
            "rue de la République",
            "avenue Victor Hugo",
            "boulevard Haussmann",
            "rue du Commerce",
            "place de la Gare",
        ),
        "fr",
        "fr",
        27,
    ),
    "ES": Country(
        "ES",
        "es",
        "EUR",
        "es",
        ("eu_slash", "long", "eu_slash"),
        ("S.L.", "S.A.", "SL"),
        (
            ("28001", "Madrid"),
            ("08001", "Barcelona"),
            ("46001", "Valencia"),
            ("41001", "Sevilla"),
            ("48001", "Bilbao"),
        ),
        (
            "Calle Mayor",
            "Avenida de la Constitución",
            "Calle de Alcalá",
            "Paseo de Gracia",
            "Calle Real",
        ),
        "es",
        "es",
        24,
    ),
    "NL": Country(
        "NL",
        "en",
        "EUR",
        "nl",
        ("eu_dash", "iso", "long"),
        ("B.V.", "N.V.", "BV"),
        (
            ("1012 AB", "Amsterdam"),
            ("3011 AD", "Rotterdam"),
            ("3511 AX", "Utrecht"),
            ("2511 CV", "Den Haag"),
        ),
        ("Keizersgracht", "Herengracht", "Stationsplein", "Kerkstraat"),
        "nl",
        "nl",
        18,
    ),
    "IE": Country(
        "IE",
        "en",
        "EUR",
        "ie",
        ("eu_slash", "long"),
        ("Ltd", "DAC", "Limited"),
        (("D02 XY45", "Dublin"), ("T12 K8AF", "Cork"), ("H91 E2K3", "Galway")),
        ("O'Connell Street", "Grafton Street", "Main Street", "Dame Street"),
        "en",
        "ie",
        22,
    ),
}

FIRST = {
    "de": "Anna Lukas Sophie Jonas Katrin Michael Sabine Thomas Julia Stefan Petra Felix "
    "Monika Jürgen Lena Tobias",
    "en": "James Emma Oliver Charlotte Daniel Sarah Michael Laura David Emily Robert Jessica "
    "Thomas Hannah Andrew Olivia",
    "fr": "Camille Louis Léa Hugo Chloé Nicolas Manon Julien Élodie Pierre Sophie Antoine "
    "Margaux Mathieu",
    "es": "Lucía Javier Carmen Alejandro María Pablo Elena Sergio Laura Diego Marta Andrés "
    "Isabel Raúl",
    "nl": "Daan Sanne Bram Lotte Jeroen Femke Pieter Anouk Sven Eva",
}
LAST = {
    "de": "Müller Schmidt Schneider Fischer Weber Becker Hoffmann Wagner Schäfer Koch Richter "
    "Wolf Neumann Braun Zimmermann Krüger",
    "en": "Smith Johnson Brown Taylor Wilson Davies Evans Clarke Walker Wright Thompson Hughes "
    "Miller Garcia Patel O'Brien",
    "fr": "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Lefèvre Girard "
    "Fontaine Rousseau",
    "es": "García Fernández López Martínez Sánchez Pérez Gómez Ruiz Díaz Moreno Navarro Torres "
    "Romero Vázquez",
    "nl": "de Jong Jansen de Vries van den Berg Bakker Visser Smit Meijer de Boer Mulder",
}
STEMS = (
    "Nordwind Alpen Keystone Sonnenberg Atlas Rivera Lumière Vega Pioneer Greenfield Brightline "
    "Hanse Iberia Castell Meridian Oakridge Silverline Tannenhof Bellevue Blue Harbor Quantum "
    "Redwood Eastgate Westbrook Polaris Horizon Falkenstein Rheintal Costa Sierra Mistral "
    "Azur Kestrel Northstar Lindqvist Helios Orion Cobalt Granite Evergreen Summit Marigold "
    "Bergmann Adler Seestern Fjord Tamarind Solano Valverde Montclair"
).split()
SECTORS = {
    "de": "Logistik Consulting Software Bau Druck Bürobedarf Lebensmittel Energie Medizintechnik "
    "Textil Transport Elektro Gebäudereinigung Steuerberatung Werkzeugbau".split(),
    "en": "Logistics Consulting Software Construction Print Supplies Foods Energy Medical Textiles "
    "Transport Electrical Cleaning Analytics Engineering Digital".split(),
    "fr": "Logistique Conseil Informatique Bâtiment Imprimerie Fournitures Alimentation Énergie "
    "Transports Nettoyage Ingénierie".split(),
    "es": "Logística Consultoría Software Construcciones Imprenta Suministros Alimentación "
    "Energía Transportes Limpiezas Ingeniería".split(),
}
BANKS = {
    "DE": ("Deutsche Bank", "Commerzbank", "Sparkasse KölnBonn", "Berliner Volksbank", "GLS Bank"),
    "AT": ("Erste Bank", "Raiffeisen Landesbank", "Bank Austria"),
    "CH": ("UBS Switzerland", "Zürcher Kantonalbank", "PostFinance"),
    "GB": ("Barclays", "HSBC UK", "Lloyds Bank", "NatWest", "Monzo"),
    "US": ("Chase", "Bank of America", "Wells Fargo", "Citibank"),
    "FR": ("BNP Paribas", "Crédit Agricole", "Société Générale", "La Banque Postale"),
    "ES": ("Banco Santander", "BBVA", "CaixaBank", "Banco Sabadell"),
    "NL": ("ING Bank", "ABN AMRO", "Rabobank", "bunq"),
    "IE": ("Bank of Ireland", "AIB", "PTSB"),
}
T = TypeVar("T")
FREEMAIL = (
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "gmx.de",
    "web.de",
    "hotmail.com",
    "protonmail.com",
    "icloud.com",
)
DIGITS = string.digits
UPPER = string.ascii_uppercase


@dataclass(frozen=True)
class Org:
    """A generated organisation."""

    name: str
    country: Country
    street: str
    city_line: str
    domain: str
    iban: str
    bic: str
    vat: str
    phone: str
    bank: str


@dataclass(frozen=True)
class Person:
    """A generated person."""

    first: str
    last: str
    country: Country

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


class Fake:
    """Seeded generator of names, identifiers, money and dates."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def pick(self, options: Sequence[T]) -> T:
        return options[self.r.randrange(len(options))]

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def country(self, weights: Mapping[str, float] | None = None) -> Country:
        weights = weights or {
            "DE": 5,
            "GB": 3,
            "US": 3,
            "FR": 2,
            "ES": 2,
            "AT": 1,
            "NL": 1,
            "IE": 1,
            "CH": 1,
        }
        codes = list(weights)
        code = self.r.choices(codes, weights=[weights[c] for c in codes])[0]
        return COUNTRIES[code]

    def digits(self, n: int) -> str:
        return "".join(self.r.choice(DIGITS) for _ in range(n))

    def letters(self, n: int) -> str:
        return "".join(self.r.choice(UPPER) for _ in range(n))

    def person(self, country: Country | None = None) -> Person:
        country = country or self.country()
        return Person(self.pick(FIRST[country.names].split()), self._last(country), country)

    def _last(self, country: Country) -> str:
        raw = LAST[country.names]
        if country.names == "nl":
            return self.pick(
                [
                    "de Jong",
                    "Jansen",
                    "de Vries",
                    "van den Berg",
                    "Bakker",
                    "Visser",
                    "Smit",
                    "Meijer",
                    "de Boer",
                    "Mulder",
                ]
            )
        return self.pick(raw.split())

    def org_name(self, country: Country) -> str:
        lang = country.lang if country.lang in SECTORS else "en"
        suffix = self.pick(country.suffixes)
        style = self.r.random()
        if style < 0.55:
            core = f"{self.pick(STEMS)} {self.pick(SECTORS[lang])}"
        elif style < 0.75:
            core = f"{self._last(country)} & {self._last(country)}"
        elif style < 0.9:
            core = (
                f"{self.pick(STEMS)}{self.pick(['tech', 'soft', 'line', 'works', 'data', 'net'])}"
            )
        else:
            core = f"{self._last(country)} {self.pick(SECTORS[lang])}"
        return f"{core} {suffix}"

    def domain_for(self, org_name: str, country: Country) -> str:
        words = [w for w in org_name.replace("&", " ").split() if w[0].isupper()]
        core = "".join(_ascii(w).lower() for w in words[:2] if len(w) > 2)[:20] or "mail"
        if self.chance(0.3) and len(words) > 1:
            core = "-".join(_ascii(w).lower() for w in words[:2])
        return f"{core}.{country.tld}"

    def org(self, country: Country | None = None) -> Org:
        country = country or self.country()
        name = self.org_name(country)
        zip_, city = self.pick(country.cities)
        street = self.street(country)
        city_line = (
            f"{city} {zip_}"
            if country.code in ("GB", "IE")
            else (f"{city}, {zip_}" if country.code == "US" else f"{zip_} {city}")
        )
        return Org(
            name,
            country,
            street,
            city_line,
            self.domain_for(name, country),
            self.iban(country),
            self.bic(country),
            self.vat(country),
            self.phone(country),
            self.pick(BANKS[country.code]),
        )

    def street(self, country: Country) -> str:
        name = self.pick(country.streets)
        number = str(self.r.randint(1, 180))
        if country.code in ("GB", "US", "IE", "FR"):
            return f"{number} {name}" if country.code != "FR" else f"{number}, {name}"
        if country.code == "ES":
            return f"{name}, {number}"
        return f"{name} {number}"

    def iban(self, country: Country) -> str:
        if not country.iban_len:
            return ""
        while True:
            bban_len = country.iban_len - 4
            if country.code in ("GB", "IE"):
                bban = self.letters(4) + self.digits(bban_len - 4)
            elif country.code == "NL":
                bban = self.letters(4) + self.digits(bban_len - 4)
            else:
                bban = self.digits(bban_len)
            raw = country.code + "00" + bban
            candidate = country.code + stdnum.iban.calc_check_digits(raw) + bban
            if stdnum.iban.is_valid(candidate):
                return stdnum.iban.format(candidate)

    def bic(self, country: Country) -> str:
        code = "GB" if country.code == "IE" and self.chance(0.1) else country.code
        branch = self.pick(["", "", "XXX", self.letters(1) + self.digits(2)])
        return f"{self.letters(4)}{code}{self.letters(1)}{self.pick(list('12ABMX'))}{branch}"

    def vat(self, country: Country) -> str:
        code = {"GB": "GB", "US": "", "CH": ""}.get(country.code, country.code)
        if not code:
            return ""
        while True:
            if code == "AT":
                number = "U" + self.digits(8)
            elif code == "NL":
                number = self.digits(9) + "B" + self.pick(["01", "02"])
            elif code == "ES":
                number = self.pick(list("ABCDEFGHJ")) + self.digits(8)
            elif code == "IE":
                number = self.digits(7) + self.pick(list("ABCDEFGHW"))
            elif code == "FR":
                # The key is derived from the SIREN; brute force would need ~2000 draws.
                siren = self.digits(8)
                siren += stdnum.luhn.calc_check_digit(siren)
                number = f"{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
            else:
                number = self.digits(9)
            candidate = code + number
            valid = (
                stdnum.gb.vat.is_valid(candidate)
                if code == "GB"
                else stdnum.eu.vat.is_valid(candidate)
            )
            if valid:
                return candidate

    def card(self, brand: str | None = None) -> str:
        brand = brand or self.pick(["visa", "visa", "mastercard"])
        prefix = "4" if brand == "visa" else self.pick(["51", "52", "53", "54", "55"])
        body = prefix + self.digits(15 - len(prefix))
        return body + stdnum.luhn.calc_check_digit(body)

    def phone(self, country: Country) -> str:
        patterns = {
            "DE": ("+49 30 {7}", "+49 89 {8}", "030 {8}", "+49 221 {7}", "0211 {7}"),
            "AT": ("+43 1 {7}", "+43 316 {6}"),
            "CH": ("+41 44 {3} {2} {2}", "+41 31 {3} {2} {2}"),
            "GB": ("+44 20 7946 {4}", "020 7{3} {4}", "+44 161 {3} {4}", "0113 {3} {4}"),
            "US": ("(212) {3}-{4}", "+1 415 {3} {4}", "(312) {3}-{4}", "+1 617-{3}-{4}"),
            "FR": ("+33 1 {2} {2} {2} {2}", "01 {2} {2} {2} {2}", "+33 4 {2} {2} {2} {2}"),
            "ES": ("+34 91 {3} {2} {2}", "+34 93 {3} {3}", "91 {3} {2} {2}"),
            "NL": ("+31 20 {3} {4}", "020 {3} {4}"),
            "IE": ("+353 1 {3} {4}", "01 {3} {4}"),
        }
        while True:
            pattern = self.pick(patterns[country.code])
            number = _fill_digits(pattern, self)
            try:
                parsed = phonenumbers.parse(number, country.code)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                return number

    def email(self, person: Person, domain: str) -> str:
        first, last = _ascii(person.first).lower(), _ascii(person.last).lower().replace(" ", "")
        local = self.pick([f"{first}.{last}", f"{first[0]}.{last}", f"{first}", f"{last}"])
        return f"{local}@{domain}"

    def day(self, start: dt.date = dt.date(2024, 1, 1), span_days: int = 900) -> dt.date:
        return start + dt.timedelta(days=self.r.randrange(span_days))

    def amount(self, low: float, high: float) -> float:
        # Log-uniform: invoices span orders of magnitude, and round numbers are rarer.
        value = math.exp(self.r.uniform(math.log(low), math.log(high)))
        return round(value, 2) if self.chance(0.85) else float(round(value, -1))

    def money(self, value: float, country: Country, style: str | None = None) -> str:
        return money(value, country.currency, style or country.money, self.r)

    def date(self, day: dt.date, country: Country, style: str | None = None) -> str:
        style = style or self.pick(country.dates)
        lang = country.lang
        return date_text(day, style, lang, us=country.code == "US")


def money(value: float, currency: str, style: str, r: random.Random) -> str:
    """Format an amount the way the given locale style writes it."""
    whole, cents = f"{value:,.2f}".split(".")
    symbol = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}[currency]
    variant = r.random()
    if style == "us" or style == "gb" or style == "ie":
        if variant < 0.7:
            return f"{symbol}{whole}.{cents}"
        return f"{whole}.{cents} {currency}"
    if style == "ch":
        return (
            f"CHF {whole.replace(',', chr(39))}.{cents}"
            if variant < 0.7
            else (f"{whole.replace(',', chr(39))}.{cents} CHF")
        )
    if style == "nl":
        return (
            f"€ {whole.replace(',', '.')},{cents}"
            if variant < 0.6
            else (f"EUR {whole.replace(',', '.')},{cents}")
        )
    if style == "fr":
        spaced = whole.replace(",", " ")
        return f"{spaced},{cents} €" if variant < 0.7 else f"{spaced},{cents} EUR"
    dotted = whole.replace(",", ".")
    if variant < 0.5:
        return f"{dotted},{cents} €"
    if variant < 0.8:
        return f"{dotted},{cents} EUR"
    return f"EUR {dotted},{cents}"


def date_text(day: dt.date, style: str, lang: str, us: bool = False) -> str:
    """Format a date in one of the styles seen on real documents."""
    month = MONTH_NAMES.get(lang, MONTH_NAMES["en"])[day.month - 1]
    if style == "iso":
        return day.isoformat()
    if style == "eu":
        return day.strftime("%d.%m.%Y")
    if style == "eu_slash":
        return day.strftime("%d/%m/%Y")
    if style == "eu_dash":
        return day.strftime("%d-%m-%Y")
    if style == "us":
        return day.strftime("%m/%d/%Y")
    if style == "long_us" or (style == "long" and us):
        return f"{MONTH_NAMES['en'][day.month - 1]} {day.day}, {day.year}"
    if lang == "de":
        return f"{day.day}. {month} {day.year}"
    if lang == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{day.day} {month} {day.year}"


def _fill_digits(pattern: str, fake: Fake) -> str:
    out = pattern
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        out = out[:start] + fake.digits(int(out[start + 1 : end])) + out[end + 1 :]
    return out


def _ascii(text: str) -> str:
    table = str.maketrans(_ASCII)
    return text.translate(table).replace(" ", "").replace(".", "")


_ASCII = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ß": "ss",
    "é": "e",
    "è": "e",
    "ê": "e",
    "à": "a",
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "ñ": "n",
    "ç": "c",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
    "É": "E",
    "'": "",
    "â": "a",
    "ô": "o",
    "î": "i",
}
