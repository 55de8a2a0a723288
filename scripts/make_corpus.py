"""Generate the training corpora in ``data/`` with a fixed seed.

    .venv/bin/python scripts/make_corpus.py

writes ``data/classifier/corpus.jsonl`` (labelled documents: doc type + urgency) and
``data/scorer/events.jsonl`` (payment/invoice histories per counterparty with fraud
labels). Both are committed; rerunning with the same seed reproduces them byte for byte.

The classifier corpus is deliberately varied: several layouts per class (letters, e-mails,
tables, forms, chat-like notes), four languages, locale-specific money and date formats,
and noise (OCR confusions, typos, reflowed lines, truncation, quoted replies). The example
documents in ``examples/documents`` come from a different generator with different wording,
so they measure generalisation rather than memorisation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

from _fake import FREEMAIL, Country, Fake, Org, Person

from agents.models.history import counterparty_key

SEED = 20260312
DOCS_PER_CLASS = 130
ROOT = Path(__file__).resolve().parents[1]

Template = Callable[[Fake, str], str]

URGENCY_PRIOR = {
    "invoice": {"low": 0.3, "normal": 0.5, "high": 0.17, "critical": 0.03},
    "receipt": {"low": 0.75, "normal": 0.25},
    "bank_statement": {"low": 0.6, "normal": 0.35, "high": 0.05},
    "payment_request": {"low": 0.08, "normal": 0.45, "high": 0.35, "critical": 0.12},
    "insurance_claim": {"low": 0.05, "normal": 0.5, "high": 0.35, "critical": 0.1},
    "complaint": {"low": 0.05, "normal": 0.45, "high": 0.4, "critical": 0.1},
    "contract": {"low": 0.4, "normal": 0.5, "high": 0.1},
    "identity_document": {"low": 0.5, "normal": 0.45, "high": 0.05},
    "fraud_report": {"high": 0.6, "critical": 0.4},
    "other": {"low": 0.6, "normal": 0.35, "high": 0.05},
}

URGENCY_PHRASES = {
    "low": {
        "en": [
            "No action is required on your part.",
            "This is for your records only.",
            "Please keep this document for your files.",
            "Reply whenever convenient.",
            "No rush on this one.",
            "For information only.",
        ],
        "de": [
            "Kein Handlungsbedarf Ihrerseits.",
            "Nur zu Ihrer Information.",
            "Bitte bewahren Sie dieses Dokument auf.",
            "Keine Eile.",
        ],
        "fr": [
            "Aucune action n'est requise de votre part.",
            "Pour information uniquement.",
            "Document à conserver.",
        ],
        "es": [
            "No se requiere ninguna acción por su parte.",
            "Solo para su información.",
            "Conserve este documento.",
        ],
    },
    "normal": {
        "en": [
            "",
            "",
            "Please let us know if you have any questions.",
            "We will get back to you within five business days.",
        ],
        "de": ["", "", "Bei Fragen stehen wir Ihnen gerne zur Verfügung."],
        "fr": ["", "", "Nous restons à votre disposition pour toute question."],
        "es": ["", "", "Quedamos a su disposición para cualquier consulta."],
    },
    "high": {
        "en": [
            "URGENT: please treat this as a priority.",
            "This is our second reminder.",
            "Please respond as soon as possible.",
            "Time-sensitive - please action today.",
            "Urgent attention needed.",
            "Please reply by tomorrow at the latest.",
        ],
        "de": [
            "DRINGEND - bitte vorrangig bearbeiten.",
            "Bitte umgehend bearbeiten.",
            "Dies ist unsere zweite Erinnerung.",
            "Eilt!",
        ],
        "fr": [
            "URGENT : merci de traiter en priorité.",
            "Ceci est notre deuxième relance.",
            "Merci de répondre au plus vite.",
        ],
        "es": [
            "URGENTE: por favor, trátelo con prioridad.",
            "Este es nuestro segundo aviso.",
            "Le rogamos una respuesta lo antes posible.",
        ],
    },
    "critical": {
        "en": [
            "IMMEDIATE ACTION REQUIRED within 24 hours.",
            "FINAL NOTICE before legal action is taken.",
            "This is an emergency - it is happening right now.",
            "Act immediately or the service will be suspended today.",
        ],
        "de": [
            "SOFORTIGES HANDELN ERFORDERLICH - innerhalb von 24 Stunden.",
            "LETZTE MAHNUNG vor Einleitung rechtlicher Schritte.",
            "Notfall - bitte sofort reagieren!",
        ],
        "fr": [
            "ACTION IMMÉDIATE REQUISE sous 24 heures.",
            "DERNIER AVIS avant poursuites judiciaires.",
            "Urgence absolue - agissez immédiatement.",
        ],
        "es": [
            "SE REQUIERE ACCIÓN INMEDIATA en 24 horas.",
            "ÚLTIMO AVISO antes de emprender acciones legales.",
            "Emergencia: actúe de inmediato.",
        ],
    },
}

SIGN_OFF = {
    "en": ["Kind regards", "Best regards", "Regards", "Many thanks", "Sincerely", "Cheers"],
    "de": ["Mit freundlichen Grüßen", "Viele Grüße", "Freundliche Grüße", "Beste Grüße"],
    "fr": ["Cordialement", "Bien cordialement", "Salutations distinguées"],
    "es": ["Atentamente", "Saludos cordiales", "Un saludo"],
}
GREETING = {
    "en": ["Dear {name},", "Hello {first},", "Hi {first},", "Dear Sir or Madam,", "Good morning,"],
    "de": ["Sehr geehrte Damen und Herren,", "Hallo {first},", "Guten Tag {name},"],
    "fr": ["Madame, Monsieur,", "Bonjour {first},", "Bonjour,"],
    "es": ["Estimado/a {name}:", "Hola {first},", "Buenos días:"],
}


def lang_country(f: Fake, lang: str) -> Country:
    by_lang = {
        "en": {"GB": 3, "US": 3, "IE": 1, "NL": 1},
        "de": {"DE": 4, "AT": 1, "CH": 1},
        "fr": {"FR": 1},
        "es": {"ES": 1},
    }
    return f.country(by_lang[lang])


def greet(f: Fake, lang: str, person: Person) -> str:
    return f.pick(GREETING[lang]).format(name=person.name, first=person.first)


def sign(f: Fake, lang: str, name: str, org: str = "") -> str:
    lines = [f.pick(SIGN_OFF[lang]) + f.pick([",", "", ","]), name]
    if org:
        lines.append(org)
    return "\n".join(lines)


def lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p is not None)


INVOICE_ITEMS = {
    "en": [
        "Consulting services (hours)",
        "Software licence - annual",
        "Maintenance contract Q{q}",
        "Freight Hamburg - Rotterdam",
        "Office supplies",
        "Printing of brochures (500 pcs)",
        "Cleaning services {month}",
        "Catering for team event",
        'Laptop 14" incl. dock',
        "Cloud hosting - {month}",
        "Website redesign, milestone 2",
        "Travel expenses",
        "Pallet storage (per week)",
        "Legal advice",
        "Translation EN>DE, 12 pages",
    ],
    "de": [
        "Beratungsleistung (Std.)",
        "Softwarelizenz jährlich",
        "Wartungsvertrag Q{q}",
        "Fracht Hamburg - München",
        "Büromaterial",
        "Druck Flyer A5 (1000 Stk.)",
        "Unterhaltsreinigung {month}",
        "Montagearbeiten",
        "Reisekosten pauschal",
        "Hosting Paket Business",
        "Elektroinstallation Erdgeschoss",
        "Steuerberatung",
    ],
    "fr": [
        "Prestation de conseil (heures)",
        "Licence logicielle annuelle",
        "Maintenance T{q}",
        "Transport Lyon - Paris",
        "Fournitures de bureau",
        "Impression catalogues",
        "Nettoyage des locaux",
        "Frais de déplacement",
        "Développement site web",
    ],
    "es": [
        "Servicios de consultoría (horas)",
        "Licencia de software anual",
        "Mantenimiento T{q}",
        "Transporte Madrid - Valencia",
        "Material de oficina",
        "Impresión de folletos",
        "Servicio de limpieza",
        "Gastos de viaje",
    ],
}
INVOICE_WORDS = {
    "en": dict(
        title=["INVOICE", "Invoice", "TAX INVOICE", "Invoice"],
        no=["Invoice No.", "Invoice #", "Invoice number:", "Inv. No"],
        date=["Invoice date:", "Date:", "Issued:"],
        due=["Due date:", "Payment due:", "Please pay by", "Due:"],
        sub="Subtotal",
        vat=["VAT 20%", "VAT", "Sales tax", "Tax"],
        total=["TOTAL", "Total due", "Amount due", "Balance due", "Total"],
        billto=["Bill to:", "Invoice to:", "Customer:"],
        pay=["Payment details", "Bank details", "Please remit to"],
        qty="Qty",
        desc="Description",
        price="Unit price",
        amt="Amount",
        thanks=[
            "Thank you for your business.",
            "We appreciate your prompt payment.",
            "Payment terms: 30 days net.",
        ],
    ),
    "de": dict(
        title=["RECHNUNG", "Rechnung"],
        no=["Rechnungsnummer:", "Rechnung Nr.", "Rechnungs-Nr.:"],
        date=["Rechnungsdatum:", "Datum:"],
        due=["Fällig am:", "Zahlbar bis:", "Zahlungsziel:"],
        sub="Zwischensumme",
        vat=["MwSt. 19%", "USt. 19%", "zzgl. 19% MwSt."],
        total=["Gesamtbetrag", "Rechnungsbetrag", "Summe brutto", "Endbetrag"],
        billto=["Rechnungsempfänger:", "An:", "Kunde:"],
        pay=["Bankverbindung", "Zahlungsinformationen"],
        qty="Menge",
        desc="Bezeichnung",
        price="Einzelpreis",
        amt="Betrag",
        thanks=[
            "Vielen Dank für Ihren Auftrag.",
            "Zahlbar innerhalb von 14 Tagen ohne Abzug.",
            "Bitte geben Sie bei Zahlung die Rechnungsnummer an.",
        ],
    ),
    "fr": dict(
        title=["FACTURE", "Facture"],
        no=["Facture n°", "N° de facture :", "Facture N°"],
        date=["Date de facture :", "Date :"],
        due=["Échéance :", "Date d'échéance :", "À régler avant le"],
        sub="Total HT",
        vat=["TVA 20 %", "TVA"],
        total=["Total TTC", "Net à payer", "Montant TTC"],
        billto=["Client :", "Facturé à :"],
        pay=["Coordonnées bancaires", "Règlement par virement"],
        qty="Qté",
        desc="Désignation",
        price="Prix unitaire",
        amt="Montant",
        thanks=[
            "Merci pour votre confiance.",
            "Pénalités de retard : 3 fois le taux d'intérêt légal.",
        ],
    ),
    "es": dict(
        title=["FACTURA", "Factura"],
        no=["Factura nº", "Nº de factura:", "Número de factura:"],
        date=["Fecha de factura:", "Fecha:"],
        due=["Vencimiento:", "Fecha de vencimiento:", "A pagar antes del"],
        sub="Base imponible",
        vat=["IVA 21%", "IVA"],
        total=["Total factura", "TOTAL A PAGAR", "Importe total"],
        billto=["Cliente:", "Facturar a:"],
        pay=["Datos bancarios", "Forma de pago: transferencia"],
        qty="Cant.",
        desc="Concepto",
        price="Precio unit.",
        amt="Importe",
        thanks=["Gracias por su confianza.", "Pago a 30 días fecha factura."],
    ),
}


def invoice_number(f: Fake) -> str:
    return f.pick(
        [
            f"INV-{f.r.randint(2024, 2026)}-{f.digits(4)}",
            f"RE{f.digits(6)}",
            f"{f.r.randint(2024, 2026)}/{f.digits(3)}",
            f"F-{f.digits(5)}",
            f"{f.letters(2)}{f.digits(5)}",
            f"{f.digits(4)}-{f.digits(2)}",
        ]
    )


def _items(f: Fake, lang: str, n: int) -> list[tuple[str, int, float]]:
    month = f.pick(["January", "March", "June", "September", "November"])
    out = []
    for _ in range(n):
        name = f.pick(INVOICE_ITEMS[lang]).format(q=f.r.randint(1, 4), month=month)
        out.append((name, f.r.randint(1, 40), f.amount(8, 2500)))
    return out


def invoice_letter(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org, client = f.org(c), f.org(c if f.chance(0.7) else None)
    w = INVOICE_WORDS[lang]
    day = f.day()
    items = _items(f, lang, f.r.randint(1, 5))
    net = sum(q * p for _, q, p in items)
    vat = round(net * f.pick([0.19, 0.2, 0.21, 0.1, 0.07]), 2)
    rows = []
    for name, qty, price in items:
        sep = f.pick(["  ", " | ", "\t"])
        rows.append(sep.join([name, str(qty), f.money(price, c), f.money(qty * price, c)]))
    head = f.pick([sep for sep in (" | ", "  ", "\t")])
    header = head.join(str(w[key]) for key in ("desc", "qty", "price", "amt"))
    bank = []
    if org.iban:
        bank = [f.pick(w["pay"]), f"{org.bank}", f"IBAN: {org.iban}", f"BIC: {org.bic}"]
    else:
        bank = [
            f.pick(w["pay"]),
            org.bank,
            f"Routing (ABA): {f.digits(9)}",
            f"Account: {f.digits(10)}",
        ]
    due_day = day + dt.timedelta(days=f.pick([14, 30, 30, 10]))
    return lines(
        org.name,
        f"{org.street}, {org.city_line}" if f.chance(0.5) else f"{org.street}\n{org.city_line}",
        f"Tel. {org.phone}" + (f" | info@{org.domain}" if f.chance(0.6) else ""),
        f"VAT ID: {org.vat}"
        if org.vat and lang == "en"
        else (
            f"USt-IdNr.: {org.vat}"
            if org.vat and lang == "de"
            else (
                f"N° TVA : {org.vat}"
                if org.vat and lang == "fr"
                else (f"NIF/CIF: {org.vat}" if org.vat else "")
            )
        ),
        "",
        f.pick(w["billto"]),
        client.name,
        client.street,
        client.city_line,
        "",
        f.pick(w["title"]),
        f"{f.pick(w['no'])} {invoice_number(f)}",
        f"{f.pick(w['date'])} {f.date(day, c)}",
        f"{f.pick(w['due'])} {f.date(due_day, c)}",
        "",
        header,
        *rows,
        "",
        f"{w['sub']}: {f.money(net, c)}",
        f"{f.pick(w['vat'])}: {f.money(vat, c)}",
        f"{f.pick(w['total'])}: {f.money(net + vat, c)}",
        "",
        *bank,
        "",
        f.pick(w["thanks"]),
        URG,
    )


def invoice_email(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org = f.org(c)
    clerk = f.person(c)
    client = f.person(c)
    total = f.money(f.amount(40, 30000), c)
    due = f.date(f.day(), c)
    no = invoice_number(f)
    body = {
        "en": [
            f"Please find attached invoice {no} for {total}, due on {due}.",
            f"Attached is our invoice no. {no} covering last month's services. "
            f"The amount of {total} is payable by {due}.",
            f"Your invoice {no} is ready. Amount: {total}. Due date: {due}. "
            "You can pay by bank transfer using the details on the invoice.",
        ],
        "de": [
            f"anbei erhalten Sie unsere Rechnung {no} über {total}, fällig am {due}.",
            f"im Anhang finden Sie die Rechnung Nr. {no}. Bitte überweisen Sie den Betrag "
            f"von {total} bis zum {due}.",
        ],
        "fr": [
            f"Veuillez trouver ci-joint la facture {no} d'un montant de {total}, "
            f"à régler avant le {due}.",
            f"Nous vous adressons notre facture n° {no} ({total}), échéance le {due}.",
        ],
        "es": [
            f"Adjuntamos la factura {no} por importe de {total}, con vencimiento el {due}.",
            f"Le remitimos la factura nº {no}. Importe: {total}. Vencimiento: {due}.",
        ],
    }
    return lines(
        greet(f, lang, client),
        "",
        f.pick(body[lang]),
        f"IBAN: {org.iban}" if org.iban and f.chance(0.5) else "",
        URG,
        "",
        sign(f, lang, clerk.name, org.name if f.chance(0.7) else ""),
        f"{org.street} · {org.city_line}" if f.chance(0.4) else "",
    )


def invoice_saas(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org = f.org(c)
    plan = f.pick(["Starter", "Pro", "Business", "Team", "Enterprise"])
    period_start = f.day()
    period_end = period_start + dt.timedelta(days=f.pick([30, 31, 365]))
    seats = f.r.randint(1, 60)
    price = f.amount(5, 90)
    total = seats * price
    word = {
        "en": ("Invoice", "Billing period", "Amount due", "Seats", "Plan"),
        "de": ("Rechnung", "Abrechnungszeitraum", "Fälliger Betrag", "Nutzer", "Tarif"),
        "fr": ("Facture", "Période de facturation", "Montant dû", "Utilisateurs", "Offre"),
        "es": ("Factura", "Periodo de facturación", "Importe a pagar", "Usuarios", "Plan"),
    }
    t = word[lang]
    return lines(
        f"{org.name.split()[0]} — {t[0]} #{f.digits(8)}",
        f"{t[1]}: {f.date(period_start, c)} - {f.date(period_end, c)}",
        f"{t[4]}: {plan}",
        f"{t[3]}: {seats} x {f.money(price, c)}",
        f"{t[2]}: {f.money(total, c)}",
        f.pick(
            [
                "The amount will be charged to your card on file.",
                "Payment method: Visa ending in " + f.digits(4),
                "Pay online: https://billing." + org.domain + "/pay",
                "Payment due within 14 days.",
            ]
        ),
        f"VAT {org.vat}" if org.vat else "",
        URG,
        f"{org.name}, {org.street}, {org.city_line}",
    )


def invoice_reminder(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org, client = f.org(c), f.person(c)
    no = invoice_number(f)
    total = f.money(f.amount(50, 20000), c)
    inv_day = f.day()
    text = {
        "en": (
            "Payment reminder",
            f"According to our records, invoice {no} dated "
            f"{f.date(inv_day, c)} for {total} is still unpaid. Please transfer the "
            "outstanding amount within 7 days. If you have already paid, please disregard "
            "this reminder.",
        ),
        "de": (
            "Zahlungserinnerung",
            f"sicher ist es Ihrer Aufmerksamkeit entgangen, dass die "
            f"Rechnung {no} vom {f.date(inv_day, c)} über {total} noch offen ist. Bitte "
            "überweisen Sie den Betrag innerhalb von 7 Tagen. Sollten Sie bereits gezahlt "
            "haben, betrachten Sie dieses Schreiben als gegenstandslos.",
        ),
        "fr": (
            "Relance de paiement",
            f"Sauf erreur de notre part, la facture {no} du "
            f"{f.date(inv_day, c)} d'un montant de {total} reste impayée. Merci de procéder "
            "au règlement sous 8 jours.",
        ),
        "es": (
            "Recordatorio de pago",
            f"Según nuestros registros, la factura {no} de fecha "
            f"{f.date(inv_day, c)} por {total} sigue pendiente de pago. Le rogamos realice "
            "la transferencia en un plazo de 7 días.",
        ),
    }
    title, body = text[lang]
    return lines(
        org.name,
        org.city_line,
        "",
        title,
        "",
        greet(f, lang, client),
        "",
        body,
        URG,
        f"IBAN {org.iban}" if org.iban else "",
        "",
        sign(f, lang, f.person(c).name),
    )


def invoice_freelancer(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    me, client = f.person(c), f.org(c)
    hours = f.r.randint(4, 160)
    rate = f.pick([45, 60, 75, 85, 95, 110, 120])
    total = hours * rate
    day = f.day()
    head = {
        "en": ("Invoice", "hours", "at", "Total"),
        "de": ("Rechnung", "Stunden", "à", "Gesamt"),
        "fr": ("Facture", "heures", "à", "Total"),
        "es": ("Factura", "horas", "a", "Total"),
    }[lang]
    note = {
        "en": "Not VAT registered.",
        "de": "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet.",
        "fr": "TVA non applicable, art. 293 B du CGI.",
        "es": "Operación exenta de IVA.",
    }[lang]
    return lines(
        me.name,
        f.street(c),
        f.pick(c.cities)[1],
        f.email(me, f.pick(FREEMAIL)),
        "",
        client.name,
        client.city_line,
        "",
        f"{head[0]} {f.r.randint(1, 99):03d}/{day.year}    {f.date(day, c)}",
        "",
        f"{f.pick(['Web development', 'Copywriting', 'Photography', 'UX research', 'Tutoring'])}"
        f": {hours} {head[1]} {head[2]} {f.money(rate, c)}",
        f"{head[3]}: {f.money(total, c)}",
        note,
        URG,
        f"IBAN: {f.iban(c)}" if c.iban_len else f"PayPal: {f.email(me, 'gmail.com')}",
    )


def invoice_utility(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org, cust = f.org(c), f.person(c)
    kwh = f.r.randint(120, 4800)
    total = kwh * f.pick([0.28, 0.31, 0.34, 0.19, 0.42])
    day = f.day()
    text = {
        "en": (
            f"Your {f.pick(['electricity', 'gas', 'broadband', 'mobile'])} bill",
            f"Customer number: {f.digits(9)}",
            f"Consumption: {kwh} kWh",
            f"Amount to pay: {f.money(total, c)}",
            f"We will collect this by Direct Debit on or after {f.date(day, c)}.",
        ),
        "de": (
            "Ihre Jahresabrechnung Strom",
            f"Kundennummer: {f.digits(9)}",
            f"Verbrauch: {kwh} kWh",
            f"Nachzahlung: {f.money(total, c)}",
            f"Der Betrag wird am {f.date(day, c)} per Lastschrift eingezogen.",
        ),
        "fr": (
            "Votre facture d'électricité",
            f"Référence client : {f.digits(10)}",
            f"Consommation : {kwh} kWh",
            f"Montant à payer : {f.money(total, c)}",
            f"Prélèvement prévu le {f.date(day, c)}.",
        ),
        "es": (
            "Su factura de luz",
            f"Nº de contrato: {f.digits(10)}",
            f"Consumo: {kwh} kWh",
            f"Total a pagar: {f.money(total, c)}",
            f"Se cargará en su cuenta el {f.date(day, c)}.",
        ),
    }[lang]
    return lines(
        org.name,
        *text[:1],
        cust.name,
        f.street(c),
        *text[1:],
        URG,
        f"{org.name} · {org.vat}" if org.vat else org.name,
    )


def invoice_credit_note(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org, client = f.org(c), f.org(c)
    amount = f.money(f.amount(20, 5000), c)
    no = invoice_number(f)
    title = {"en": "CREDIT NOTE", "de": "GUTSCHRIFT", "fr": "AVOIR", "es": "FACTURA RECTIFICATIVA"}
    body = {
        "en": f"Credit for returned goods relating to invoice {no}: -{amount}",
        "de": f"Gutschrift zur Rechnung {no} (Retoure): -{amount}",
        "fr": f"Avoir sur facture {no} (retour marchandise) : -{amount}",
        "es": f"Rectificación de la factura {no} (devolución): -{amount}",
    }
    return lines(
        org.name,
        f"{org.street}, {org.city_line}",
        "",
        title[lang],
        f"No. CN-{f.digits(5)}  {f.date(f.day(), c)}",
        "",
        client.name,
        "",
        body[lang],
        f"VAT {org.vat}" if org.vat else "",
        URG,
    )


RECEIPT_ITEMS = {
    "en": [
        "MILK 1L",
        "BREAD WHOLEMEAL",
        "BANANAS 1.2KG",
        "COFFEE BEANS",
        "PASTA 500G",
        "EGGS x12",
        "ORANGE JUICE",
        "TOOTHPASTE",
        "CHEDDAR",
        "APPLES",
        "WATER 6x1.5L",
        "CHOCOLATE",
    ],
    "de": [
        "VOLLMILCH 1L",
        "BROETCHEN",
        "BANANEN",
        "KAFFEE",
        "NUDELN 500G",
        "EIER 10ST",
        "APFELSAFT",
        "ZAHNPASTA",
        "GOUDA",
        "MINERALWASSER",
        "PFAND",
        "BUTTER",
    ],
    "fr": [
        "LAIT DEMI-ECREME",
        "BAGUETTE",
        "POMMES",
        "CAFE MOULU",
        "PATES",
        "OEUFS x6",
        "JUS D'ORANGE",
        "FROMAGE",
        "EAU MINERALE",
        "BEURRE",
    ],
    "es": [
        "LECHE ENTERA",
        "PAN DE BARRA",
        "PLATANOS",
        "CAFE",
        "ARROZ",
        "HUEVOS",
        "ZUMO",
        "QUESO",
        "AGUA",
        "ACEITE OLIVA",
    ],
}


def receipt_pos(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    store = f.org(c)
    items = [(f.pick(RECEIPT_ITEMS[lang]), f.amount(0.4, 14)) for _ in range(f.r.randint(2, 12))]
    total = sum(p for _, p in items)
    paid_card = f.chance(0.6)
    w = {
        "en": ("TOTAL", "CASH", "CHANGE", "CARD", "THANK YOU FOR SHOPPING WITH US", "VAT"),
        "de": ("SUMME", "BAR", "RÜCKGELD", "EC-KARTE", "VIELEN DANK FÜR IHREN EINKAUF", "MwSt"),
        "fr": ("TOTAL", "ESPECES", "RENDU", "CB", "MERCI DE VOTRE VISITE", "TVA"),
        "es": ("TOTAL", "EFECTIVO", "CAMBIO", "TARJETA", "GRACIAS POR SU COMPRA", "IVA"),
    }[lang]
    cash = round(total + f.pick([0.0, 1.0, 5.0, 10.0, 20.0]) + 0.5, 0)
    pay = (
        [
            f"{w[3]} {f.pick(['VISA', 'MASTERCARD', 'DEBIT'])} ****{f.digits(4)}",
            f"AUTH {f.digits(6)}",
        ]
        if paid_card
        else [f"{w[1]} {cash:.2f}", f"{w[2]} {cash - total:.2f}"]
    )
    when = f.day()
    return lines(
        store.name.upper(),
        store.street.upper(),
        store.city_line.upper(),
        f"{f.date(when, c)} {f.r.randint(7, 21):02d}:{f.r.randint(0, 59):02d}"
        f"  {f.pick(['KASSE', 'TILL', 'CAISSE', 'CAJA'])} {f.r.randint(1, 9)}",
        "-" * f.r.randint(20, 34),
        *[f"{name:<22}{price:>8.2f}" for name, price in items],
        "-" * f.r.randint(20, 34),
        f"{w[0]:<22}{f.money(total, c):>10}",
        *pay,
        f"{w[5]} {f.pick(['7%', '19%', '20%', '10%', '21%'])} {total * 0.15:.2f}",
        f"BON {f.digits(4)}  TRN {f.digits(6)}",
        w[4],
        URG,
    )


def receipt_online(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    shop, buyer = f.org(c), f.person(c)
    total = f.money(f.amount(5, 1500), c)
    order = f"{f.digits(3)}-{f.digits(7)}"
    text = {
        "en": [
            f"Thanks for your order, {buyer.first}!",
            f"Order #{order}",
            f"Payment received: {total}",
            f"Paid with {f.pick(['Mastercard', 'Visa', 'PayPal', 'Apple Pay'])} ending "
            f"{f.digits(4)}",
            "This is your receipt. Keep it for returns within 30 days.",
        ],
        "de": [
            f"Vielen Dank für Ihre Bestellung, {buyer.first}!",
            f"Bestellnummer {order}",
            f"Zahlung erhalten: {total}",
            "Bezahlt mit PayPal",
            "Dies ist Ihre Zahlungsbestätigung (Quittung).",
        ],
        "fr": [
            f"Merci pour votre commande, {buyer.first} !",
            f"Commande n° {order}",
            f"Paiement reçu : {total}",
            f"Carte bancaire **** {f.digits(4)}",
            "Ceci est votre reçu de paiement.",
        ],
        "es": [
            f"¡Gracias por tu pedido, {buyer.first}!",
            f"Pedido nº {order}",
            f"Pago recibido: {total}",
            f"Tarjeta terminada en {f.digits(4)}",
            "Este es tu recibo de pago.",
        ],
    }[lang]
    return lines(shop.name, *text, URG, f"{shop.name} · {shop.city_line}")


def receipt_restaurant(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    place = f.pick(
        [
            "Trattoria Da Luca",
            "The Crown & Anchor",
            "Café Central",
            "Brasserie du Parc",
            "Taberna La Plaza",
            "Gasthaus zur Linde",
            "Sushi Kaito",
            "Bistro 21",
        ]
    )
    dishes = f.pick(
        [
            ["2x Cappuccino", "Croissant"],
            ["Pizza Margherita", "Pasta Arrabbiata", "2x Cola"],
            ["Menu du jour", "Vin rouge 25cl"],
            ["Schnitzel", "Spätzle", "Weißbier"],
            ["Paella 2p", "Sangría jarra"],
            ["Ramen", "Gyoza", "Green tea"],
        ]
    )
    prices = [f.amount(2.5, 32) for _ in dishes]
    total = sum(prices)
    tip = round(total * f.pick([0.0, 0.05, 0.1, 0.12]), 2)
    label = {
        "en": ("Table", "Total", "Tip", "Paid"),
        "de": ("Tisch", "Summe", "Trinkgeld", "Bezahlt"),
        "fr": ("Table", "Total", "Pourboire", "Payé"),
        "es": ("Mesa", "Total", "Propina", "Pagado"),
    }[lang]
    return lines(
        place,
        f.street(c),
        f"{label[0]} {f.r.randint(1, 30)}  {f.date(f.day(), c)}",
        *[f"{d}  {f.money(p, c)}" for d, p in zip(dishes, prices, strict=True)],
        f"{label[1]}: {f.money(total, c)}",
        f"{label[2]}: {f.money(tip, c)}" if tip else "",
        f"{label[3]}: {f.money(total + tip, c)} {f.pick(['VISA', 'CASH', 'MC', 'AMEX'])}",
        f.pick(["Thank you & see you soon", "Grazie!", "Merci et à bientôt", "Danke!"]),
        URG,
    )


def receipt_travel(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    kind = f.r.random()
    if kind < 0.35:
        litres = f.r.uniform(10, 70)
        price = f.pick([1.69, 1.79, 1.85, 1.58])
        body = [
            f"{f.pick(['Shell', 'Aral', 'BP', 'TotalEnergies', 'Repsol'])} station "
            f"{f.r.randint(100, 999)}",
            f"Pump {f.r.randint(1, 12)}  Diesel",
            f"{litres:.2f} L x {price}",
            f"TOTAL {f.money(litres * price, c)}",
            f"Card ****{f.digits(4)}",
        ]
    elif kind < 0.7:
        body = [
            f.pick(["Uber", "FreeNow", "Bolt", "City Taxi"]) + " - trip receipt",
            f"{f.date(f.day(), c)}",
            f"From: {f.pick(c.streets)}  To: Airport",
            f"Distance {f.r.uniform(2, 40):.1f} km",
            f"Fare {f.money(f.amount(8, 90), c)}",
            "Payment: card",
        ]
    else:
        nights = f.r.randint(1, 6)
        body = [
            f"{f.pick(['Hotel Adler', 'Ibis', 'Premier Inn', 'NH Collection'])} - Folio",
            f"Guest: {f.person(c).name}",
            f"Nights: {nights}",
            f"Total charges {f.money(nights * f.amount(60, 260), c)}",
            f"Payments -{f.money(nights * 90, c)}",
            "Balance 0.00",
            "Thank you for staying.",
        ]
    return lines(*body, URG)


def receipt_acknowledged(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    payer = f.person(c)
    amount = f.money(f.amount(20, 2500), c)
    text = {
        "en": f"RECEIPT No. {f.digits(4)}\nReceived from {payer.name} the sum of {amount} "
        f"in payment of {f.pick(['rent for April', 'membership fee', 'deposit', 'tuition'])}"
        f".\nDate: {f.date(f.day(), c)}\nSigned: {f.person(c).name}",
        "de": f"QUITTUNG Nr. {f.digits(4)}\nBetrag {amount} erhalten von {payer.name} für "
        f"{f.pick(['Miete April', 'Mitgliedsbeitrag', 'Kaution'])}.\n"
        f"Ort/Datum: {f.pick(c.cities)[1]}, {f.date(f.day(), c)}",
        "fr": f"REÇU N° {f.digits(4)}\nReçu de {payer.name} la somme de {amount} au titre de "
        f"{f.pick(['loyer', 'cotisation', 'caution'])}.\nLe {f.date(f.day(), c)}",
        "es": f"RECIBÍ Nº {f.digits(4)}\nHe recibido de {payer.name} la cantidad de {amount} "
        f"en concepto de {f.pick(['alquiler', 'cuota', 'fianza'])}.\n"
        f"Fecha: {f.date(f.day(), c)}",
    }[lang]
    return lines(text, URG)


TX_DESC = {
    "en": [
        "Card payment TESCO STORES",
        "Direct debit BRITISH GAS",
        "Salary {org}",
        "Transfer to {person}",
        "ATM withdrawal",
        "Standing order RENT",
        "Amazon Marketplace",
        "Interest",
        "Netflix.com",
        "Refund {org}",
        "Faster payment from {person}",
    ],
    "de": [
        "Kartenzahlung REWE",
        "Lastschrift Stadtwerke",
        "Gehalt {org}",
        "Überweisung an {person}",
        "Bargeldauszahlung GA",
        "Dauerauftrag Miete",
        "PayPal Europe",
        "Zinsen",
        "Gutschrift {person}",
        "SEPA-Lastschrift Telekom",
    ],
    "fr": [
        "Paiement CB CARREFOUR",
        "Prélèvement EDF",
        "Virement salaire {org}",
        "Virement à {person}",
        "Retrait DAB",
        "Loyer",
        "Remboursement {org}",
    ],
    "es": [
        "Pago con tarjeta MERCADONA",
        "Recibo Iberdrola",
        "Nómina {org}",
        "Transferencia a {person}",
        "Retirada cajero",
        "Alquiler",
        "Bizum de {person}",
    ],
}


def _transactions(f: Fake, lang: str, c: Country, n: int) -> tuple[list[str], float, float]:
    balance = f.amount(100, 20000)
    opening = balance
    day = f.day()
    rows = []
    for _ in range(n):
        day += dt.timedelta(days=f.r.randint(0, 4))
        amount = f.amount(3, 3000) * (1 if f.chance(0.25) else -1)
        balance += amount
        desc = f.pick(TX_DESC[lang]).format(org=f.org_name(c), person=f.person(c).name)
        sep = f.pick(["  ", " | ", "\t"])
        rows.append(
            sep.join(
                [
                    f.date(
                        day, c, f.pick(["eu", "iso", "eu_slash", "us"]) if c.code == "US" else None
                    ),
                    desc,
                    f"{'+' if amount > 0 else '-'}{abs(amount):,.2f}",
                    f"{balance:,.2f}",
                ]
            )
        )
    return rows, opening, balance


def statement_table(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    holder, bank = (
        f.person(c),
        f.pick(
            [
                "Northbank",
                "Sparkasse",
                "Banque Populaire",
                "Banco Sabadell",
                "Revolut",
                "ING",
                "Barclays",
            ]
        ),
    )
    rows, opening, closing = _transactions(f, lang, c, f.r.randint(4, 18))
    start = f.day()
    w = {
        "en": (
            "Account statement",
            "Account holder",
            "Statement period",
            "Opening balance",
            "Closing balance",
            "Date  Description  Amount  Balance",
        ),
        "de": (
            "Kontoauszug",
            "Kontoinhaber",
            "Zeitraum",
            "Alter Kontostand",
            "Neuer Kontostand",
            "Buchungstag  Verwendungszweck  Betrag  Saldo",
        ),
        "fr": (
            "Relevé de compte",
            "Titulaire",
            "Période",
            "Solde initial",
            "Solde final",
            "Date  Libellé  Montant  Solde",
        ),
        "es": (
            "Extracto de cuenta",
            "Titular",
            "Periodo",
            "Saldo inicial",
            "Saldo final",
            "Fecha  Concepto  Importe  Saldo",
        ),
    }[lang]
    return lines(
        bank,
        w[0] + f" {f.r.randint(1, 12)}/{start.year}",
        f"{w[1]}: {holder.name}",
        f"IBAN: {f.iban(c)}"
        if c.iban_len
        else f"Account no. {f.digits(10)}  Sort code {f.digits(2)}-{f.digits(2)}-{f.digits(2)}",
        f"{w[2]}: {f.date(start, c)} - {f.date(start + dt.timedelta(days=30), c)}",
        f"{w[3]}: {f.money(opening, c)}",
        "",
        w[5],
        *rows,
        "",
        f"{w[4]}: {f.money(closing, c)}",
        URG,
        f.pick(
            [
                "Please check your statement and report any discrepancies within 30 days.",
                "Bitte prüfen Sie die Buchungen.",
                "",
                "Page 1 of 1",
            ]
        ),
    )


def statement_card(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    holder = f.person(c)
    prev, new = f.amount(50, 4000), f.amount(50, 6000)
    rows, _, _ = _transactions(f, lang, c, f.r.randint(3, 12))
    w = {
        "en": (
            "Credit card statement",
            "Previous balance",
            "New balance",
            "Minimum payment",
            "Credit limit",
        ),
        "de": (
            "Kreditkartenabrechnung",
            "Vorheriger Saldo",
            "Neuer Saldo",
            "Mindestbetrag",
            "Kreditrahmen",
        ),
        "fr": (
            "Relevé de carte de crédit",
            "Solde précédent",
            "Nouveau solde",
            "Paiement minimum",
            "Plafond",
        ),
        "es": (
            "Extracto de tarjeta de crédito",
            "Saldo anterior",
            "Nuevo saldo",
            "Pago mínimo",
            "Límite de crédito",
        ),
    }[lang]
    return lines(
        f"{f.pick(['VISA', 'Mastercard', 'Amex'])} {w[0]}",
        holder.name,
        f"Card **** **** **** {f.digits(4)}",
        f"Statement date: {f.date(f.day(), c)}",
        f"{w[1]}: {f.money(prev, c)}",
        *rows,
        f"{w[2]}: {f.money(new, c)}",
        f"{w[3]}: {f.money(new * 0.03, c)}",
        f"{w[4]}: {f.money(f.pick([2000, 5000, 10000]), c)}",
        URG,
    )


def statement_notice(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    holder = f.person(c)
    text = {
        "en": [
            f"Your {f.pick(['monthly', 'quarterly'])} statement for account ending "
            f"{f.digits(4)} is now available in online banking.",
            f"Balance as of {f.date(f.day(), c)}: {f.money(f.amount(10, 50000), c)}",
            f"Money in: {f.money(f.amount(100, 9000), c)}  Money out: "
            f"{f.money(f.amount(100, 9000), c)}",
        ],
        "de": [
            "Ihr neuer Kontoauszug steht im Online-Banking für Sie bereit.",
            f"Kontostand am {f.date(f.day(), c)}: {f.money(f.amount(10, 50000), c)}",
            f"Eingänge: {f.money(f.amount(100, 9000), c)} · Ausgänge: "
            f"{f.money(f.amount(100, 9000), c)}",
        ],
        "fr": [
            "Votre relevé de compte mensuel est disponible dans votre espace client.",
            f"Solde au {f.date(f.day(), c)} : {f.money(f.amount(10, 50000), c)}",
        ],
        "es": [
            "Su extracto mensual ya está disponible en la banca online.",
            f"Saldo a {f.date(f.day(), c)}: {f.money(f.amount(10, 50000), c)}",
        ],
    }[lang]
    return lines(
        greet(f, lang, holder),
        "",
        *text,
        URG,
        "",
        f.pick(
            [
                "Your Online Banking Team",
                "Ihr Kundenservice",
                "Le service client",
                "Atención al cliente",
            ]
        ),
    )


def statement_ocr_grid(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    rows, opening, closing = _transactions(f, lang, c, f.r.randint(6, 20))
    return lines(
        f"{f.pick(['STATEMENT OF ACCOUNT', 'KONTOAUSZUG', 'RELEVE', 'EXTRACTO'])} "
        f"NR {f.r.randint(1, 52)}",
        f"BLZ {f.digits(8)}  KTO {f.digits(10)}",
        f"{f.person(c).name.upper()}",
        f"SALDO ALT {opening:,.2f}",
        *[r.upper() for r in rows],
        f"SALDO NEU {closing:,.2f}",
        URG,
    )


def payment_transfer_email(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    sender, receiver = f.person(c), f.person(c)
    payee = f.org(c if f.chance(0.7) else None)
    amount = f.money(f.amount(100, 80000), c)
    ref = f.pick([f"PO {f.digits(6)}", f"Ref. {f.letters(3)}-{f.digits(4)}", invoice_number(f)])
    body = {
        "en": [
            f"Could you please arrange a transfer of {amount} to {payee.name}? Details below.",
            f"Please process a payment of {amount} today to the account below, reference {ref}.",
            f"Can you wire {amount} to our supplier {payee.name}? They need the funds before "
            "we can release the shipment.",
        ],
        "de": [
            f"kannst du bitte {amount} an {payee.name} überweisen? Die Daten stehen unten.",
            f"bitte veranlassen Sie eine Überweisung über {amount} an {payee.name}, "
            f"Verwendungszweck {ref}.",
        ],
        "fr": [
            f"Pourriez-vous effectuer un virement de {amount} à {payee.name} ? "
            "Coordonnées ci-dessous.",
            f"Merci de procéder au paiement de {amount} au bénéficiaire ci-dessous, "
            f"référence {ref}.",
        ],
        "es": [
            f"¿Podrías hacer una transferencia de {amount} a {payee.name}? Datos abajo.",
            f"Por favor, realice un pago de {amount} a la cuenta indicada, referencia {ref}.",
        ],
    }[lang]
    return lines(
        greet(f, lang, receiver),
        "",
        f.pick(body),
        "",
        f"{f.pick(['Beneficiary', 'Begünstigter', 'Bénéficiaire', 'Beneficiario'])}: {payee.name}",
        f"IBAN: {payee.iban or f.iban(f.country({'DE': 1, 'GB': 1}))}",
        f"BIC: {payee.bic}",
        f"{f.pick(['Reference', 'Verwendungszweck', 'Référence', 'Concepto'])}: {ref}",
        URG,
        "",
        sign(f, lang, sender.name),
    )


PURPOSES = [
    "Deposit for trade fair stand",
    "Advance payment 30%",
    "Consulting retainer",
    "Customs duties",
    "Equipment purchase",
    "Refund to customer",
]


def payment_order_form(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    payee = f.org(f.country())
    w = {
        "en": (
            "PAYMENT REQUEST FORM",
            "Requested by",
            "Beneficiary",
            "Amount",
            "Execution date",
            "Purpose",
            "Approved by",
            "Cost centre",
        ),
        "de": (
            "ZAHLUNGSANFORDERUNG",
            "Angefordert von",
            "Zahlungsempfänger",
            "Betrag",
            "Ausführungsdatum",
            "Zweck",
            "Freigabe",
            "Kostenstelle",
        ),
        "fr": (
            "DEMANDE DE PAIEMENT",
            "Demandeur",
            "Bénéficiaire",
            "Montant",
            "Date d'exécution",
            "Objet",
            "Validé par",
            "Centre de coût",
        ),
        "es": (
            "SOLICITUD DE PAGO",
            "Solicitante",
            "Beneficiario",
            "Importe",
            "Fecha de ejecución",
            "Concepto",
            "Aprobado por",
            "Centro de coste",
        ),
    }[lang]
    return lines(
        w[0],
        "",
        f"{w[1]}: {f.person(c).name}",
        f"{w[7]}: {f.digits(4)}",
        f"{w[2]}: {payee.name}",
        f"IBAN: {payee.iban}" if payee.iban else f"ABA {f.digits(9)} / Acct {f.digits(10)}",
        f"BIC/SWIFT: {payee.bic}",
        f"{w[3]}: {f.money(f.amount(50, 250000), c)}",
        f"{w[4]}: {f.date(f.day(), c)}",
        f"{w[5]}: {f.pick(PURPOSES)}",
        f"{w[6]}: {f.person(c).name}",
        URG,
    )


def payment_bank_change(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    vendor, clerk = f.org(c), f.person(c)
    new_iban = f.iban(f.country({"GB": 1, "NL": 1, "IE": 1, "ES": 1, "DE": 1}))
    text = {
        "en": [
            "Please note that our bank details have changed. With immediate effect, all "
            "payments must be made to our new account below. Please settle the open "
            "invoices to this account.",
            "Due to an audit, our usual account cannot receive "
            "funds at the moment. Kindly remit the outstanding balance to the account below.",
        ],
        "de": [
            "bitte beachten Sie, dass sich unsere Bankverbindung geändert hat. Bitte "
            "überweisen Sie offene Rechnungen ab sofort auf das folgende Konto."
        ],
        "fr": [
            "Veuillez noter que nos coordonnées bancaires ont changé. Merci de régler les "
            "factures en attente sur le nouveau compte ci-dessous."
        ],
        "es": [
            "Le informamos de que nuestros datos bancarios han cambiado. Rogamos abone las "
            "facturas pendientes en la nueva cuenta indicada."
        ],
    }[lang]
    return lines(
        greet(f, lang, f.person(c)),
        "",
        f.pick(text),
        f"New IBAN: {new_iban}",
        f"Account name: {vendor.name}",
        f"Outstanding: {f.money(f.amount(500, 90000), c)}",
        URG,
        "",
        sign(f, lang, clerk.name, vendor.name),
    )


def payment_exec_request(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    boss = f.person(c)
    amount = f.money(float(f.pick([9500, 12000, 24800, 35000, 48500, 75000, 98000])), c)
    text = {
        "en": [
            f"I need you to process a wire transfer of {amount} today. It is for a "
            "confidential acquisition, so please keep this between us. I am in meetings and "
            "can't take calls - just email me when it's done.",
            f"Are you at your desk? I need a quick favour: a payment of {amount} to a new "
            "partner must go out this morning. I'll send the details.",
        ],
        "de": [
            f"ich brauche heute noch eine Überweisung über {amount}. Es handelt sich um eine "
            "vertrauliche Übernahme, bitte behandeln Sie das diskret. Ich bin in Meetings und "
            "nicht erreichbar."
        ],
        "fr": [
            f"J'ai besoin que vous effectuiez aujourd'hui un virement de {amount}. C'est "
            "pour une acquisition confidentielle, merci de rester discret."
        ],
        "es": [
            f"Necesito que hagas hoy una transferencia de {amount}. Es para una adquisición "
            "confidencial, por favor no lo comentes con nadie."
        ],
    }[lang]
    return lines(
        f.pick(["Hi,", "Hello,", "Hallo,", "Bonjour,", "Hola,"]),
        f.pick(text),
        f"IBAN: {f.iban(f.country())}" if f.chance(0.5) else "",
        URG,
        f"{boss.first}",
        f.pick(["Sent from my iPhone", "CEO", "Geschäftsführer", ""]),
    )


def payment_deposit(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org, client = f.org(c), f.person(c)
    amount = f.money(f.amount(200, 40000), c)
    text = {
        "en": f"To confirm your booking we require a deposit of {amount}. Please transfer the "
        "deposit within 5 days quoting your booking reference.",
        "de": f"Zur Bestätigung Ihres Auftrags bitten wir um eine Anzahlung von {amount}. "
        "Bitte überweisen Sie den Betrag innerhalb von 5 Tagen.",
        "fr": f"Pour confirmer votre réservation, nous vous demandons un acompte de {amount} "
        "à verser sous 5 jours.",
        "es": f"Para confirmar su reserva necesitamos una señal de {amount}. Rogamos la "
        "transfiera en un plazo de 5 días.",
    }[lang]
    return lines(
        greet(f, lang, client),
        "",
        text,
        f"{f.pick(['Booking ref', 'Referenz', 'Réf.', 'Ref.'])}: {f.letters(2)}{f.digits(5)}",
        f"IBAN {org.iban}" if org.iban else f"Pay online: https://{org.domain}/pay",
        URG,
        "",
        sign(f, lang, f.person(c).name, org.name),
    )


def payment_reimbursement(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    emp = f.person(c)
    amount = f.money(f.amount(15, 3000), c)
    text = {
        "en": f"Expense reimbursement request\nEmployee: {emp.name}\nTrip: "
        f"{f.pick(['Berlin', 'Madrid', 'London', 'Lyon'])} customer visit\nTotal to "
        f"reimburse: {amount}\nPlease pay to my account {f.iban(c) or f.digits(10)}.",
        "de": f"Reisekostenabrechnung / Erstattungsantrag\nMitarbeiter: {emp.name}\n"
        f"Erstattungsbetrag: {amount}\nBitte auf mein Konto {f.iban(c)} überweisen.",
        "fr": f"Demande de remboursement de frais\nCollaborateur : {emp.name}\nMontant à "
        f"rembourser : {amount}\nRIB : {f.iban(c)}",
        "es": f"Solicitud de reembolso de gastos\nEmpleado: {emp.name}\nImporte a reembolsar: "
        f"{amount}\nCuenta: {f.iban(c)}",
    }[lang]
    return lines(text, URG)


def payment_personal(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    amount = f.money(f.amount(20, 900), c)
    text = {
        "en": [
            f"hey, can you send me {amount} for the concert tickets? my iban is {f.iban(c)}",
            f"Hi mum, this is my new number. Can you transfer {amount} to this account "
            f"{f.iban(f.country())}? I'll explain later",
        ],
        "de": [f"Hi, kannst du mir {amount} für die Tickets schicken? IBAN {f.iban(c)}"],
        "fr": [f"Salut, tu peux me virer {amount} pour le loyer ? {f.iban(c)}"],
        "es": [f"Oye, ¿me puedes hacer un Bizum o transferencia de {amount}? {f.iban(c)}"],
    }[lang]
    return lines(f.pick(text), URG)


def payment_link(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org = f.org(c)
    amount = f.money(f.amount(10, 5000), c)
    text = {
        "en": f"{org.name} has requested a payment of {amount}.\nPay securely: "
        f"https://pay.{org.domain}/r/{f.letters(6).lower()}\nRequest expires on "
        f"{f.date(f.day(), c)}.",
        "de": f"{org.name} bittet um Zahlung von {amount}.\nJetzt bezahlen: "
        f"https://pay.{org.domain}/{f.letters(6).lower()}",
        "fr": f"{org.name} vous demande un paiement de {amount}.\nPayer : "
        f"https://pay.{org.domain}/{f.letters(6).lower()}",
        "es": f"{org.name} le ha enviado una solicitud de pago de {amount}.\nPagar ahora: "
        f"https://pay.{org.domain}/{f.letters(6).lower()}",
    }[lang]
    return lines(text, URG)


def payment_reminder(f: Fake, lang: str) -> str:
    """A dunning letter: an invoice left unpaid, the amount still owed, a new deadline."""
    c = lang_country(f, lang)
    org, customer = f.org(c), f.person(c)
    number, issued = invoice_number(f), f.day()
    due = issued + dt.timedelta(days=f.pick([14, 30, 45]))
    deadline = due + dt.timedelta(days=f.pick([21, 28, 35]))
    owed = f.amount(40, 9000)
    fee = f.pick([0.0, 5.0, 10.0, 15.0])
    level = f.r.randint(1, 3)
    day = {"issued": f.date(issued, c), "due": f.date(due, c), "by": f.date(deadline, c)}
    text = {
        "en": [
            f"{f.pick(['Payment reminder', 'Reminder', 'Final reminder', 'Overdue notice'])}",
            f"Our invoice {number} of {day['issued']} was due on {day['due']}. We have not yet"
            f" received your payment of {f.money(owed, c)}.",
            f"Please transfer the outstanding amount of {f.money(owed + fee, c)} (including a "
            f"reminder fee of {f.money(fee, c)}) by {day['by']}.",
            "If you have already paid, please disregard this letter.",
        ],
        "de": [
            f"{f.pick(['Zahlungserinnerung', f'{level}. Mahnung', 'Letzte Mahnung'])}",
            f"unsere Rechnung Nr. {number} vom {day['issued']} war am {day['due']} fällig. "
            f"Leider konnten wir bis heute keinen Zahlungseingang über {f.money(owed, c)} "
            "feststellen.",
            f"Bitte überweisen Sie den offenen Betrag von {f.money(owed + fee, c)} inklusive "
            f"Mahngebühr ({f.money(fee, c)}) bis zum {day['by']}.",
            "Sollten Sie die Zahlung bereits veranlasst haben, betrachten Sie dieses Schreiben "
            "bitte als gegenstandslos.",
        ],
        "fr": [
            f"{f.pick(['Relance', 'Rappel de paiement', 'Mise en demeure', '2e relance'])}",
            f"Sauf erreur de notre part, notre facture n° {number} du {day['issued']}, échue le"
            f" {day['due']}, reste impayée à ce jour pour un montant de {f.money(owed, c)}.",
            f"Nous vous remercions de bien vouloir régler la somme de {f.money(owed + fee, c)} "
            f"avant le {day['by']}.",
            "Si votre règlement a été effectué entre-temps, veuillez ne pas tenir compte de ce "
            "courrier.",
        ],
        "es": [
            f"{f.pick(['Recordatorio de pago', 'Aviso de impago', 'Segundo aviso'])}",
            f"Nuestra factura n.º {number} del {day['issued']} venció el {day['due']} y sigue "
            f"pendiente de pago por importe de {f.money(owed, c)}.",
            f"Le rogamos abone el importe pendiente de {f.money(owed + fee, c)} antes del "
            f"{day['by']}.",
            "Si ya ha realizado el pago, le rogamos ignore este aviso.",
        ],
    }[lang]
    return lines(
        org.name,
        org.street,
        org.city_line,
        "",
        customer.name,
        "",
        text[0],
        "",
        greet(f, lang, customer),
        *text[1:],
        "",
        f"IBAN: {org.iban}",
        f"BIC: {org.bic}",
        URG,
        "",
        sign(f, lang, f.person(c).name, org.name),
    )


_SLIP_LABELS = {
    "en": (
        "Receipt",
        "Payment part",
        "Account / Payable to",
        "Reference",
        "Currency",
        "Amount",
        "Payable by",
    ),
    "de": (
        "Empfangsschein",
        "Zahlteil",
        "Konto / Zahlbar an",
        "Referenz",
        "Währung",
        "Betrag",
        "Zahlbar durch",
    ),
    "fr": (
        "Récépissé",
        "Section paiement",
        "Compte / Payable à",
        "Référence",
        "Monnaie",
        "Montant",
        "Payable par",
    ),
    "es": (
        "Recibo",
        "Parte de pago",
        "Cuenta / Pagadero a",
        "Referencia",
        "Moneda",
        "Importe",
        "Pagadero por",
    ),
}


def payment_slip(f: Fake, lang: str) -> str:
    """A payment slip (a transfer form the creditor fills in for the payer, as a Swiss
    QR-bill's receipt and payment part or a SEPA credit-transfer form)."""
    c = lang_country(f, lang)
    creditor, debtor = f.org(c), f.person(c)
    receipt, part, account, reference, currency_label, amount_label, payable_by = _SLIP_LABELS[lang]
    value = f"{f.amount(20, 5000):.2f}".replace(".", "," if f.chance(0.3) else ".")
    currency = f.pick([c.currency, "EUR", "CHF"])
    ref = f.pick(
        [
            f"RF{f.digits(2)} {f.digits(4)} {f.digits(4)}",
            " ".join(f.digits(5) for _ in range(5)),
            invoice_number(f),
        ]
    )
    block = [
        f"{account}",
        creditor.iban,
        creditor.name,
        creditor.street,
        creditor.city_line,
        f"{reference}",
        ref,
        f"{payable_by}",
        debtor.name,
        f.street(c),
    ]
    money = [currency_label, currency, amount_label, value]
    first = [receipt, *block, *money] if f.chance(0.6) else []
    return lines(*first, "", part, *money, *block, URG)


INCIDENTS = {
    "en": [
        "a burst pipe flooded the kitchen",
        "my car was rear-ended at a traffic light",
        "our office was broken into and two laptops were stolen",
        "hail damaged the roof and a skylight",
        "my luggage was lost on the return flight",
        "I was treated in hospital abroad after a fall",
        "a fire in the warehouse destroyed stock",
        "my phone was stolen on the train",
        "storm damage to the garden fence",
    ],
    "de": [
        "ein Wasserrohrbruch hat die Küche überflutet",
        "mein Auto wurde an einer Ampel von hinten angefahren",
        "in unser Büro wurde eingebrochen, zwei Laptops fehlen",
        "Hagel hat das Dach beschädigt",
        "mein Fahrrad wurde gestohlen",
        "Sturmschaden am Carport",
    ],
    "fr": [
        "un dégât des eaux a endommagé la cuisine",
        "ma voiture a été percutée par l'arrière",
        "cambriolage de notre local, deux ordinateurs volés",
        "la grêle a endommagé la toiture",
        "mes bagages ont été perdus",
    ],
    "es": [
        "una fuga de agua inundó la cocina",
        "mi coche fue golpeado por detrás en un semáforo",
        "robaron en la oficina dos portátiles",
        "el granizo dañó el tejado",
        "perdieron mi equipaje en el vuelo",
    ],
}


def claim_form(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    holder = f.person(c)
    w = {
        "en": (
            "CLAIM FORM",
            "Policy number",
            "Policyholder",
            "Date of loss",
            "Description of the incident",
            "Estimated amount of loss",
            "Police report no.",
            "Signature",
        ),
        "de": (
            "SCHADENMELDUNG",
            "Versicherungsschein-Nr.",
            "Versicherungsnehmer",
            "Schadentag",
            "Schadenhergang",
            "Geschätzte Schadenhöhe",
            "Polizeiliches Aktenzeichen",
            "Unterschrift",
        ),
        "fr": (
            "DÉCLARATION DE SINISTRE",
            "N° de contrat",
            "Assuré",
            "Date du sinistre",
            "Circonstances",
            "Montant estimé du préjudice",
            "N° de plainte",
            "Signature",
        ),
        "es": (
            "PARTE DE SINIESTRO",
            "Nº de póliza",
            "Tomador",
            "Fecha del siniestro",
            "Descripción de los hechos",
            "Importe estimado de los daños",
            "Nº de denuncia",
            "Firma",
        ),
    }[lang]
    return lines(
        f.pick(["Allianz", "AXA", "Generali", "Zurich", "Mapfre", "Aviva", "HUK-Coburg"])
        + f" — {w[0]}",
        f"{w[1]}: {f.letters(2)}-{f.digits(8)}",
        f"{w[2]}: {holder.name}",
        f"{f.street(c)}, {f.pick(c.cities)[1]}",
        f"{w[3]}: {f.date(f.day(), c)}",
        f"{w[4]}: {f.pick(INCIDENTS[lang])}.",
        f"{w[5]}: {f.money(f.amount(150, 60000), c)}",
        f"{w[6]}: {f.digits(6)}/{f.r.randint(24, 26)}" if f.chance(0.4) else "",
        f"IBAN: {f.iban(c)}" if c.iban_len and f.chance(0.6) else "",
        URG,
        f"{w[7]}: {holder.name}",
    )


def claim_email(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    holder = f.person(c)
    pol = f"{f.letters(3)}{f.digits(7)}"
    incident = f.pick(INCIDENTS[lang])
    day = f.date(f.day(), c)
    text = {
        "en": [
            f"I would like to make a claim under my policy {pol}. On {day} {incident}. "
            f"I attach photos and the repair estimate of {f.money(f.amount(200, 30000), c)}. "
            "Please let me know what else you need to process my claim.",
            f"Policy no. {pol} - claim notification. {incident.capitalize()} on {day}. "
            "Could you send me a claim form and tell me whether an assessor will visit?",
        ],
        "de": [
            f"hiermit melde ich einen Schaden zu meiner Versicherung {pol}. Am {day} "
            f"{incident}. Kostenvoranschlag: {f.money(f.amount(200, 30000), c)}. Bitte "
            "teilen Sie mir die Schadennummer mit."
        ],
        "fr": [
            f"Je souhaite déclarer un sinistre au titre du contrat {pol}. Le {day}, "
            f"{incident}. Le devis de réparation s'élève à {f.money(f.amount(200, 30000), c)}."
        ],
        "es": [
            f"Quiero dar parte de un siniestro de la póliza {pol}. El {day} {incident}. "
            f"El presupuesto de reparación asciende a {f.money(f.amount(200, 30000), c)}."
        ],
    }[lang]
    return lines(
        greet(f, lang, f.person(c)),
        "",
        f.pick(text),
        URG,
        "",
        sign(f, lang, holder.name),
        f"Tel. {f.phone(c)}" if f.chance(0.5) else "",
    )


CLAIM_SUBJECTS = {
    "en": [
        "Claim for {what} - Policy {pol}",
        "Urgent: {what} claim assistance needed",
        "New claim: {what} on {day}",
        "Request to open a claim (policy {pol})",
    ],
    "de": ["Schadenmeldung {what} - Vertrag {pol}", "Bitte um Schadenregulierung ({pol})"],
    "fr": ["Déclaration de sinistre : {what} - contrat {pol}", "Ouverture d'un dossier sinistre"],
    "es": ["Parte de siniestro: {what} - póliza {pol}", "Solicitud de apertura de siniestro"],
}
CLAIM_WHAT = {
    "en": ["car accident", "collision", "road accident", "rear-end collision"],
    "de": ["Verkehrsunfall", "Auffahrunfall"],
    "fr": ["accident de la route", "accrochage"],
    "es": ["accidente de tráfico", "alcance"],
}
"""What `claim_narrative` tells: a collision (its story is a car's)."""
POLICY_LABEL = {"en": "Policy", "de": "Vertrag", "fr": "Police", "es": "Póliza"}


def claim_narrative(f: Fake, lang: str) -> str:
    """A policyholder's own account of an accident, as a long e-mail to the insurer: the
    story is told as a complaint's would be, the ask is a claim under a policy."""
    c = lang_country(f, lang)
    holder, other = f.person(c), f.person(c)
    insurer = f.pick(["Allianz", "AXA", "Generali", "Zurich", "Mapfre", "Aviva", "Helvetia"])
    pol = f"{f.letters(2)}-{f.digits(7)}"
    what = f.pick(CLAIM_WHAT[lang])
    day = f.date(f.day(), c)
    amount = f.money(f.amount(300, 25000), c)
    text = {
        "en": [
            f"On {day} I was involved in a {what} near {f.pick(c.cities)[1]}. "
            f"{other.name} did not stop in time and hit the rear of my vehicle. "
            "Nobody was seriously hurt, but the bumper, the boot and a rear light were "
            "damaged and the car had to be towed.",
            f"The police attended and took statements from both drivers and a witness; "
            f"the report number is {f.digits(6)}. The other driver admitted fault and we "
            "exchanged insurance details.",
            f"A garage has estimated the repairs at {amount}. I have attached photos of the "
            "damage, the estimate and the police report.",
            f"Please open a claim under my policy {pol} and let me know the next steps, "
            "whether an adjuster needs to inspect the car, and if my cover includes a "
            "rental car while mine is repaired.",
        ],
        "de": [
            f"am {day} hatte ich einen {what} in {f.pick(c.cities)[1]}. Der Unfallgegner "
            f"{other.name} ist auf mein Fahrzeug aufgefahren; Stoßstange und Heckklappe "
            "sind beschädigt.",
            f"Die Polizei hat den Unfall aufgenommen (Aktenzeichen {f.digits(6)}). Ein "
            f"Kostenvoranschlag der Werkstatt über {amount} liegt bei, ebenso Fotos.",
            f"Bitte regulieren Sie den Schaden über meinen Vertrag {pol} und teilen Sie "
            "mir mit, ob ein Gutachter das Fahrzeug besichtigen muss.",
        ],
        "fr": [
            f"Le {day}, j'ai été victime d'un {what} à {f.pick(c.cities)[1]}. Le conducteur "
            f"adverse, {other.name}, a percuté l'arrière de mon véhicule.",
            f"Un constat amiable a été rempli et la police est intervenue. Le devis du "
            f"garage s'élève à {amount} ; vous trouverez les photos en pièce jointe.",
            f"Merci d'ouvrir un dossier au titre de mon contrat {pol} et de m'indiquer si "
            "un expert doit passer.",
        ],
        "es": [
            f"El {day} sufrí un {what} en {f.pick(c.cities)[1]}. El otro conductor, "
            f"{other.name}, golpeó la parte trasera de mi coche.",
            f"Rellenamos el parte amistoso y acudió la policía. El presupuesto del taller "
            f"es de {amount}; adjunto fotos y el presupuesto.",
            f"Les ruego que abran un siniestro con cargo a mi póliza {pol} y me indiquen si "
            "un perito debe revisar el vehículo.",
        ],
    }[lang]
    subject = f.pick(CLAIM_SUBJECTS[lang]).format(what=what, pol=pol, day=day)
    opener = {
        "en": f"Dear {insurer} Claims Team,",
        "de": f"Sehr geehrte Damen und Herren der {insurer},",
        "fr": "Madame, Monsieur,",
        "es": "Estimados señores:",
    }[lang]
    return lines(
        f"Subject: {subject}",
        "",
        opener,
        "",
        *text[: f.r.randint(2, len(text))],
        URG,
        "",
        sign(f, lang, holder.name),
        f"{POLICY_LABEL[lang]}: {pol}",
        f"Tel. {f.phone(c)}" if f.chance(0.6) else "",
    )


def claim_health(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    patient = f.person(c)
    text = {
        "en": (
            "Medical expenses reimbursement claim",
            "Member ID",
            "Treatment",
            [
                "physiotherapy, 6 sessions",
                "dental crown",
                "emergency room visit",
                "prescription glasses",
            ],
            "Amount claimed",
        ),
        "de": (
            "Antrag auf Kostenerstattung",
            "Versichertennummer",
            "Behandlung",
            ["Physiotherapie, 6 Sitzungen", "Zahnersatz", "Notaufnahme"],
            "Erstattungsbetrag",
        ),
        "fr": (
            "Demande de remboursement de soins",
            "N° d'adhérent",
            "Soins",
            ["kinésithérapie", "couronne dentaire", "urgences"],
            "Montant demandé",
        ),
        "es": (
            "Solicitud de reembolso de gastos médicos",
            "Nº de asegurado",
            "Tratamiento",
            ["fisioterapia", "corona dental", "urgencias"],
            "Importe reclamado",
        ),
    }[lang]
    return lines(
        text[0],
        f"{text[1]}: {f.digits(10)}",
        patient.name,
        f"{text[2]}: {f.pick(text[3])} ({f.date(f.day(), c)})",
        f"{text[4]}: {f.money(f.amount(30, 4000), c)}",
        "Invoices attached." if lang == "en" else "",
        URG,
    )


def claim_travel(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    flight = f"{f.letters(2)}{f.r.randint(100, 9999)}"
    text = {
        "en": f"Travel insurance claim - trip cancellation. My flight {flight} on "
        f"{f.date(f.day(), c)} was cancelled because I fell ill. I request reimbursement "
        f"of the non-refundable costs of {f.money(f.amount(100, 6000), c)}.",
        "de": f"Reiserücktrittsversicherung - Schadenmeldung. Flug {flight} am "
        f"{f.date(f.day(), c)} musste wegen Krankheit storniert werden. Stornokosten: "
        f"{f.money(f.amount(100, 6000), c)}.",
        "fr": f"Assurance annulation : mon vol {flight} du {f.date(f.day(), c)} a été annulé "
        f"pour raison médicale. Frais non remboursables : {f.money(f.amount(100, 6000), c)}.",
        "es": f"Seguro de viaje: reclamo por cancelación del vuelo {flight} del "
        f"{f.date(f.day(), c)} por enfermedad. Gastos: {f.money(f.amount(100, 6000), c)}.",
    }[lang]
    return lines(text, f"Policy {f.digits(9)}", URG, sign(f, lang, p.name))


def complaint_email(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    cust, org = f.person(c), f.org(c)
    order = f"{f.digits(6)}"
    text = {
        "en": [
            f"I am writing to complain about order {order}. The item arrived damaged and "
            "nobody has answered my three emails. I expect a full refund or a replacement.",
            "I am very disappointed with your service. The technician did not show up on "
            "the agreed date, I took a day off work for nothing, and your hotline kept me "
            "on hold for an hour.",
            f"This is the third time my delivery has been late. Order {order} was promised "
            "for Monday and it still hasn't arrived. This is unacceptable.",
            "You charged me twice for the same subscription and refuse to refund it. I want "
            "this fixed and an explanation.",
        ],
        "de": [
            f"hiermit beschwere ich mich über die Bestellung {order}. Die Ware kam "
            "beschädigt an und auf meine E-Mails hat niemand reagiert. Ich erwarte eine "
            "Erstattung.",
            "ich bin sehr unzufrieden mit Ihrem Kundendienst. Der Techniker "
            "ist nicht erschienen und die Hotline ist nie erreichbar.",
        ],
        "fr": [
            f"Je souhaite formuler une réclamation concernant la commande {order}. Le "
            "produit est arrivé cassé et le service client ne répond pas. J'exige un "
            "remboursement.",
            "Je suis très mécontent : le technicien n'est jamais venu.",
        ],
        "es": [
            f"Quiero presentar una reclamación sobre el pedido {order}. El producto llegó "
            "roto y nadie responde a mis correos. Exijo el reembolso.",
            "Estoy muy descontento con el servicio: el técnico no vino el día acordado.",
        ],
    }[lang]
    return lines(
        f"{f.pick(['Complaint', 'Beschwerde', 'Réclamation', 'Reclamación'])}"
        f" - {f.pick(['order', 'customer', 'ref'])} {order}",
        "",
        greet(f, lang, f.person(c)),
        "",
        f.pick(text),
        URG,
        "",
        sign(f, lang, cust.name),
        f"{org.name} customer no. {f.digits(7)}" if f.chance(0.3) else "",
    )


def complaint_short(f: Fake, lang: str) -> str:
    text = {
        "en": [
            "worst service ever. still no refund after 6 weeks!!!",
            "your app keeps crashing and support is useless. fix it or I'm leaving",
            "Internet has been down for 5 days and nobody cares. Terrible.",
            "The hotel room was dirty and the staff were rude. Never again.",
        ],
        "de": [
            "Seit 5 Tagen kein Internet und keiner kümmert sich. Unmöglich!",
            "Schlechtester Service überhaupt, immer noch keine Rückerstattung.",
        ],
        "fr": [
            "Service client nul, toujours pas remboursé après 6 semaines !",
            "Plus d'internet depuis 5 jours, personne ne répond.",
        ],
        "es": [
            "Pésimo servicio, sigo sin reembolso después de 6 semanas.",
            "Llevo 5 días sin internet y nadie me atiende.",
        ],
    }[lang]
    return lines(f.pick(text), URG)


def complaint_letter(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    cust, org = f.person(c), f.org(c)
    amount = f.money(f.amount(5, 400), c)
    text = {
        "en": (
            f"Formal complaint regarding account {f.digits(8)}",
            f"I wish to lodge a formal complaint about the fee of {amount} charged to my "
            "account without prior notice. I have been a customer for twelve years and "
            "consider this treatment unfair. If the matter is not resolved I will refer it "
            "to the Financial Ombudsman.",
        ),
        "de": (
            "Beschwerde über Kontoführungsgebühren",
            f"ich lege hiermit Beschwerde gegen die ohne Ankündigung berechnete Gebühr von "
            f"{amount} ein. Sollte keine Lösung gefunden werden, wende ich mich an die "
            "Schlichtungsstelle.",
        ),
        "fr": (
            "Réclamation frais bancaires",
            f"Je conteste les frais de {amount} prélevés sans information préalable. À "
            "défaut de réponse, je saisirai le médiateur.",
        ),
        "es": (
            "Reclamación por comisiones",
            f"Presento una reclamación formal por la comisión de {amount} cobrada sin aviso. "
            "Si no se resuelve acudiré al Banco de España.",
        ),
    }[lang]
    return lines(
        cust.name,
        f.street(c),
        "",
        org.name,
        org.street,
        org.city_line,
        "",
        f.date(f.day(), c),
        "",
        text[0],
        "",
        greet(f, lang, f.person(c)),
        text[1],
        URG,
        "",
        sign(f, lang, cust.name),
    )


DEFECTS = {
    "en": [
        (
            "{year} {make} {model}",
            "while driving at about {speed} mph the engine stalled "
            "and the power steering stopped working",
            "the dealer says they cannot reproduce it and will not repair it under warranty",
        ),
        (
            "{year} {make} {model}",
            "the airbag warning light comes on and the brakes grind when stopping",
            "I was told the part is on back order for months",
        ),
        (
            "washing machine",
            "the door seal leaked and flooded the floor twice within a month",
            "the manufacturer's service line keeps cancelling the repair visit",
        ),
        (
            "laptop",
            "the battery swelled and the case cracked after four months",
            "support asks me to pay for the repair although it is under warranty",
        ),
        (
            "electric heater",
            "the plug melted and the socket was scorched",
            "the shop refuses to take it back without the original box",
        ),
    ],
    "de": [
        (
            "{make} {model} (Baujahr {year})",
            "bei etwa {speed} km/h ging der Motor aus und die Servolenkung fiel aus",
            "die Werkstatt findet keinen Fehler und lehnt die Garantiereparatur ab",
        ),
        (
            "Waschmaschine",
            "die Tür ist zweimal ausgelaufen",
            "der Kundendienst sagt Termine immer wieder ab",
        ),
    ],
    "fr": [
        (
            "{make} {model} de {year}",
            "à environ {speed} km/h le moteur a calé et la direction assistée a lâché",
            "le concessionnaire refuse la prise en charge sous garantie",
        ),
        (
            "lave-linge",
            "le joint de porte fuit et a inondé la cuisine",
            "le SAV annule chaque rendez-vous",
        ),
    ],
    "es": [
        (
            "{make} {model} de {year}",
            "a unos {speed} km/h el motor se paró y la dirección asistida dejó de funcionar",
            "el concesionario se niega a repararlo en garantía",
        ),
        (
            "lavadora",
            "la junta de la puerta pierde agua",
            "el servicio técnico anula todas las citas",
        ),
    ],
}


def complaint_defect(f: Fake, lang: str) -> str:
    """A consumer's complaint about a defective product or vehicle, as people write them
    to a manufacturer or a safety regulator: what failed, when, and what the seller did
    (or did not) do about it. Often in capitals."""
    c = lang_country(f, lang)
    cust = f.person(c)
    product, failure, response = f.pick(DEFECTS[lang])
    product = product.format(
        year=f.r.randint(2003, 2024),
        make=f.pick(["Peugeot", "Skoda", "Hyundai", "Mazda", "Opel", "Renault", "Seat", "Kia"]),
        model=f.pick(["308", "Octavia", "i30", "CX-5", "Astra", "Clio", "Ibiza", "Ceed"]),
    )
    failure = failure.format(speed=f.r.randint(25, 70))
    ask = {
        "en": "This is a safety issue. I want it repaired properly or the purchase refunded, "
        "and I believe this defect should be recalled.",
        "de": "Das ist ein Sicherheitsrisiko. Ich verlange eine ordentliche Reparatur oder "
        "die Rückabwicklung des Kaufs.",
        "fr": "C'est un problème de sécurité. J'exige une réparation ou le remboursement.",
        "es": "Es un problema de seguridad. Exijo la reparación o el reembolso.",
    }[lang]
    body = {
        "en": f"My {product}: {failure}. It has happened {f.r.randint(2, 5)} times now and "
        f"{response}. {ask}",
        "de": f"Mein(e) {product}: {failure}. Das ist jetzt {f.r.randint(2, 5)} Mal passiert "
        f"und {response}. {ask}",
        "fr": f"Mon {product} : {failure}. C'est arrivé {f.r.randint(2, 5)} fois et "
        f"{response}. {ask}",
        "es": f"Mi {product}: {failure}. Ha pasado {f.r.randint(2, 5)} veces y {response}. {ask}",
    }[lang]
    if f.chance(0.4):
        body = body.upper()
    return lines(body, URG, "" if f.chance(0.5) else cust.name)


def complaint_review(f: Fake, lang: str) -> str:
    stars = f.pick(["★☆☆☆☆", "1/5", "1 star", "2/5"])
    text = {
        "en": "Ordered a sofa, delivered with a broken leg, customer service promised a "
        "call back that never came. Waited 3 weeks.",
        "de": "Sofa bestellt, mit gebrochenem Bein geliefert, Rückruf versprochen, nie erfolgt.",
        "fr": "Canapé livré abîmé, rappel promis jamais effectué. Honteux.",
        "es": "Sofá entregado roto, prometieron llamar y nunca llamaron.",
    }[lang]
    return lines(f"Review {stars}", text, URG)


def contract_service(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    a, b = f.org(c), f.org(c)
    start = f.day()
    fee = f.money(f.amount(500, 50000), c)
    if lang == "de":
        return lines(
            f.pick(["DIENSTLEISTUNGSVERTRAG", "Rahmenvertrag", "WARTUNGSVERTRAG"]),
            "",
            f"zwischen {a.name}, {a.street}, {a.city_line} (nachfolgend „Auftragnehmer“)",
            f"und {b.name}, {b.street}, {b.city_line} (nachfolgend „Auftraggeber“)",
            "",
            "§ 1 Vertragsgegenstand",
            "Der Auftragnehmer erbringt IT-Dienstleistungen gemäß Anlage 1.",
            "§ 2 Laufzeit",
            f"Der Vertrag beginnt am {f.date(start, c)} und läuft "
            "auf unbestimmte Zeit. Er kann mit einer Frist von drei Monaten gekündigt werden.",
            "§ 3 Vergütung",
            f"Die monatliche Vergütung beträgt {fee} zzgl. USt.",
            "§ 4 Vertraulichkeit",
            "Die Parteien verpflichten sich zur Verschwiegenheit.",
            "§ 5 Gerichtsstand",
            f"Gerichtsstand ist {f.pick(c.cities)[1]}.",
            URG,
            "",
            f"{f.pick(c.cities)[1]}, den {f.date(start, c)}",
            "_______________   _______________",
            "Auftragnehmer        Auftraggeber",
        )
    if lang == "fr":
        return lines(
            "CONTRAT DE PRESTATION DE SERVICES",
            "",
            f"Entre {a.name}, ci-après « le Prestataire »,",
            f"et {b.name}, ci-après « le Client »,",
            "",
            "Article 1 - Objet",
            "Le Prestataire s'engage à fournir les services décrits en annexe.",
            "Article 2 - Durée",
            f"Le présent contrat prend effet le {f.date(start, c)} pour une durée de douze mois.",
            "Article 3 - Prix",
            f"Le prix forfaitaire est fixé à {fee} HT.",
            "Article 4 - Résiliation",
            "Chaque partie peut résilier moyennant un préavis de trois mois.",
            "Article 5 - Loi applicable",
            "Le contrat est soumis au droit français.",
            URG,
            "Fait en deux exemplaires.",
            "Signatures",
        )
    if lang == "es":
        return lines(
            "CONTRATO DE PRESTACIÓN DE SERVICIOS",
            "",
            f"REUNIDOS: de una parte {a.name} (en adelante, «el Prestador») y de otra parte",
            f"{b.name} (en adelante, «el Cliente»).",
            "CLÁUSULAS",
            "Primera. Objeto: el Prestador prestará los servicios descritos en el Anexo I.",
            f"Segunda. Duración: desde el {f.date(start, c)} por un año, prorrogable.",
            f"Tercera. Precio: {fee} más IVA.",
            "Cuarta. Confidencialidad.",
            "Quinta. Resolución con preaviso de 30 días.",
            URG,
            "Y en prueba de conformidad, firman el presente contrato.",
        )
    return lines(
        f.pick(
            [
                "SERVICE AGREEMENT",
                "MASTER SERVICES AGREEMENT",
                "MAINTENANCE AGREEMENT",
                "Consulting Agreement",
            ]
        ),
        "",
        f'This Agreement is made on {f.date(start, c)} between {a.name} (the "Provider") and '
        f'{b.name} (the "Client"), each a "Party".',
        "",
        "1. Services. The Provider shall perform the services set out in Schedule 1.",
        f"2. Term. This Agreement commences on the Effective Date and continues for "
        f"{f.pick(['12', '24', '36'])} months unless terminated earlier.",
        f"3. Fees. The Client shall pay {fee} per month, invoiced monthly in arrears.",
        "4. Confidentiality. Each Party shall keep the other's Confidential Information secret.",
        "5. Termination. Either Party may terminate on 90 days' written notice.",
        "6. Liability. Neither Party's liability shall exceed the fees paid in the preceding "
        "twelve months.",
        f"7. Governing law. This Agreement is governed by the laws of "
        f"{f.pick(['England and Wales', 'the State of New York', 'Ireland', 'Germany'])}.",
        URG,
        "",
        "IN WITNESS WHEREOF the Parties have signed this Agreement.",
        f"For the Provider: {f.person(c).name}",
        f"For the Client: {f.person(c).name}",
    )


def contract_nda(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    a, b = f.org(c), f.org(c)
    title = {
        "en": "MUTUAL NON-DISCLOSURE AGREEMENT",
        "de": "GEHEIMHALTUNGSVEREINBARUNG",
        "fr": "ACCORD DE CONFIDENTIALITÉ",
        "es": "ACUERDO DE CONFIDENCIALIDAD",
    }[lang]
    body = {
        "en": "The Parties wish to exchange confidential information for the purpose of "
        "evaluating a potential business relationship. The Receiving Party shall not "
        "disclose Confidential Information to any third party for a period of five years.",
        "de": "Die Parteien beabsichtigen, vertrauliche Informationen auszutauschen. Die "
        "empfangende Partei verpflichtet sich, diese fünf Jahre lang geheim zu halten.",
        "fr": "Les Parties souhaitent échanger des informations confidentielles. La Partie "
        "réceptrice s'engage à ne pas les divulguer pendant cinq ans.",
        "es": "Las Partes desean intercambiar información confidencial. La Parte receptora se "
        "compromete a no divulgarla durante cinco años.",
    }[lang]
    return lines(
        title,
        f"{a.name} / {b.name}",
        f.date(f.day(), c),
        "",
        body,
        URG,
        "Signed: ____________  ____________",
    )


def contract_employment(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    emp, org = f.person(c), f.org(c)
    salary = f.money(f.amount(28000, 120000), c)
    text = {
        "en": (
            "CONTRACT OF EMPLOYMENT",
            f"Employer: {org.name}\nEmployee: {emp.name}\n"
            f"Position: {f.pick(['Accountant', 'Software Engineer', 'Sales Manager'])}\n"
            f"Start date: {f.date(f.day(), c)}\nProbation period: 6 months\nAnnual salary: "
            f"{salary}\nNotice period: one month\nHolidays: 28 days per year",
        ),
        "de": (
            "ARBEITSVERTRAG",
            f"Arbeitgeber: {org.name}\nArbeitnehmer: {emp.name}\n"
            f"Beginn des Arbeitsverhältnisses: {f.date(f.day(), c)}\nProbezeit: 6 Monate\n"
            f"Jahresbruttogehalt: {salary}\nUrlaub: 30 Arbeitstage\nKündigungsfrist: gemäß "
            "§ 622 BGB",
        ),
        "fr": (
            "CONTRAT DE TRAVAIL À DURÉE INDÉTERMINÉE",
            f"Employeur : {org.name}\nSalarié : "
            f"{emp.name}\nDate d'embauche : {f.date(f.day(), c)}\nPériode d'essai : 3 mois\n"
            f"Rémunération annuelle brute : {salary}",
        ),
        "es": (
            "CONTRATO DE TRABAJO INDEFINIDO",
            f"Empresa: {org.name}\nTrabajador: {emp.name}\n"
            f"Fecha de inicio: {f.date(f.day(), c)}\nPeriodo de prueba: 6 meses\n"
            f"Salario bruto anual: {salary}",
        ),
    }[lang]
    return lines(*text, URG, "", "Signatures / Unterschriften")


def contract_lease(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    landlord, tenant = f.person(c), f.person(c)
    rent = f.money(f.amount(400, 3500), c)
    text = {
        "en": (
            "TENANCY AGREEMENT",
            f"Landlord: {landlord.name}\nTenant: {tenant.name}\n"
            f"Property: {f.street(c)}, {f.pick(c.cities)[1]}\nTerm: 12 months from "
            f"{f.date(f.day(), c)}\nRent: {rent} per calendar month, payable in advance\n"
            "Deposit: five weeks' rent\nThe Tenant shall keep the property in good repair.",
        ),
        "de": (
            "MIETVERTRAG FÜR WOHNRAUM",
            f"Vermieter: {landlord.name}\nMieter: {tenant.name}\n"
            f"§ 1 Mietsache: {f.street(c)}, 2. OG links\n§ 2 Mietbeginn: "
            f"{f.date(f.day(), c)}\n§ 3 Miete: Kaltmiete {rent} monatlich\n§ 4 Kaution: drei "
            "Monatsmieten",
        ),
        "fr": (
            "CONTRAT DE LOCATION",
            f"Bailleur : {landlord.name}\nLocataire : {tenant.name}\n"
            f"Loyer mensuel : {rent}\nDurée : 3 ans à compter du {f.date(f.day(), c)}",
        ),
        "es": (
            "CONTRATO DE ARRENDAMIENTO",
            f"Arrendador: {landlord.name}\nArrendatario: "
            f"{tenant.name}\nRenta mensual: {rent}\nDuración: un año desde el "
            f"{f.date(f.day(), c)}",
        ),
    }[lang]
    return lines(*text, URG)


def contract_amendment(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    a, b = f.org(c), f.org(c)
    text = {
        "en": f"AMENDMENT No. {f.r.randint(1, 5)} to the Supply Agreement dated "
        f"{f.date(f.day(), c)} between {a.name} and {b.name}. With effect from "
        f"{f.date(f.day(), c)} clause 4.2 (Prices) is replaced as follows: the unit price "
        f"shall be {f.money(f.amount(1, 300), c)}. All other terms remain unchanged.",
        "de": f"NACHTRAG Nr. {f.r.randint(1, 5)} zum Liefervertrag vom {f.date(f.day(), c)} "
        f"zwischen {a.name} und {b.name}. § 4 Abs. 2 wird wie folgt geändert: der "
        f"Stückpreis beträgt {f.money(f.amount(1, 300), c)}. Alle übrigen Bestimmungen "
        "bleiben unberührt.",
        "fr": f"AVENANT n° {f.r.randint(1, 5)} au contrat du {f.date(f.day(), c)} entre "
        f"{a.name} et {b.name}. L'article 4 est modifié. Les autres clauses demeurent "
        "inchangées.",
        "es": f"ADENDA nº {f.r.randint(1, 5)} al contrato de fecha {f.date(f.day(), c)} entre "
        f"{a.name} y {b.name}. Se modifica la cláusula cuarta. El resto de cláusulas "
        "permanece sin cambios.",
    }[lang]
    return lines(text, URG)


def _mrz_name(p: Person) -> str:
    def clean(s: str) -> str:
        return "".join(ch if ch.isalpha() and ch.isascii() else "<" for ch in s.upper())

    return f"{clean(p.last)}<<{clean(p.first)}"


def id_passport(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    iso3 = {
        "DE": "D",
        "AT": "AUT",
        "CH": "CHE",
        "GB": "GBR",
        "US": "USA",
        "FR": "FRA",
        "ES": "ESP",
        "NL": "NLD",
        "IE": "IRL",
    }[c.code]
    dob = f.day(dt.date(1950, 1, 1), 20000)
    issue = f.day(dt.date(2017, 1, 1), 2500)
    number = f"{f.letters(1)}{f.digits(8)}"
    label = f.pick(["PASSPORT", "REISEPASS / PASSPORT / PASSEPORT", "PASSEPORT", "PASAPORTE"])
    mrz1 = f"P<{iso3.ljust(3, '<')}{_mrz_name(p)}".ljust(44, "<")[:44]
    mrz2 = (
        f"{number}{f.digits(1)}{iso3.ljust(3, '<')}{dob.strftime('%y%m%d')}{f.digits(1)}"
        f"{f.pick(['M', 'F'])}{(issue.replace(year=issue.year + 10)).strftime('%y%m%d')}"
        f"{f.digits(1)}"
    ).ljust(43, "<") + f.digits(1)
    return lines(
        label,
        f"Type/Typ P   Code {iso3}   No. {number}",
        f"Surname/Name: {p.last.upper()}",
        f"Given names/Vornamen: {p.first.upper()}",
        f"Nationality: {f.pick(['BRITISH CITIZEN', 'DEUTSCH', 'FRANÇAISE', 'ESPAÑOLA', 'USA'])}",
        f"Date of birth: {dob.strftime('%d %b %Y').upper()}",
        f"Sex: {f.pick(['M', 'F'])}",
        f"Place of birth: {f.pick(c.cities)[1].upper()}",
        f"Date of issue: {issue.strftime('%d %b %Y').upper()}",
        f"Date of expiry: {issue.replace(year=issue.year + 10).strftime('%d %b %Y').upper()}",
        f"Authority: {f.pick(['HMPO', 'Stadt ' + f.pick(c.cities)[1], 'Préfecture', 'DGP'])}",
        "",
        mrz1,
        mrz2,
        URG,
    )


def id_card(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    dob = f.day(dt.date(1950, 1, 1), 20000)
    card_no = f"{f.letters(1)}{f.digits(2)}{f.letters(1)}{f.digits(5)}"
    title = {
        "en": "IDENTITY CARD",
        "de": "BUNDESREPUBLIK DEUTSCHLAND PERSONALAUSWEIS",
        "fr": "CARTE NATIONALE D'IDENTITÉ",
        "es": "DOCUMENTO NACIONAL DE IDENTIDAD",
    }[lang]
    return lines(
        title,
        f"{card_no}",
        f"Name / Surname: {p.last}",
        f"Vornamen / Given names: {p.first}",
        f"Geburtstag / Date of birth: {dob.strftime('%d.%m.%Y')}",
        f"Gültig bis / Date of expiry: {f.date(f.day(dt.date(2027, 1, 1)), c, 'eu')}",
        f"IDD<<{card_no}<<<<<<<<<<<<<<<",
        f"{dob.strftime('%y%m%d')}{f.digits(1)}<{f.digits(7)}D<<<<<<<<<<<<<{f.digits(1)}",
        f"{_mrz_name(p)}".ljust(30, "<"),
        URG,
    )


def id_licence(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    return lines(
        f.pick(["DRIVING LICENCE", "FÜHRERSCHEIN", "PERMIS DE CONDUIRE", "PERMISO DE CONDUCCIÓN"]),
        f"1. {p.last.upper()}",
        f"2. {p.first}",
        f"3. {f.date(f.day(dt.date(1955, 1, 1), 18000), c, 'eu')} {f.pick(c.cities)[1]}",
        f"4a. {f.date(f.day(dt.date(2015, 1, 1)), c, 'eu')}  4b. "
        f"{f.date(f.day(dt.date(2028, 1, 1)), c, 'eu')}",
        f"4c. {f.pick(['DVLA', 'Landratsamt', 'Préfecture', 'DGT'])}",
        f"5. {f.letters(5)}{f.digits(6)}{f.letters(2)}",
        f"8. {f.street(c)}",
        f"9. {f.pick(['AM/A1/B/BE', 'B', 'B/C1', 'A/B/C'])}",
        URG,
    )


def id_kyc_email(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    text = {
        "en": f"As requested for the account verification, please find a scan of my "
        f"{f.pick(['passport', 'ID card', 'driving licence'])} attached. Document number "
        f"{f.letters(1)}{f.digits(8)}, valid until {f.date(f.day(dt.date(2027, 1, 1)), c)}.",
        "de": f"anbei wie gewünscht die Kopie meines Personalausweises zur Identitätsprüfung. "
        f"Ausweisnummer {f.letters(1)}{f.digits(8)}, gültig bis "
        f"{f.date(f.day(dt.date(2027, 1, 1)), c)}.",
        "fr": f"Veuillez trouver ci-joint la copie de ma pièce d'identité pour la vérification "
        f"de mon compte. N° {f.digits(12)}.",
        "es": f"Adjunto copia de mi DNI para la verificación de identidad. Número "
        f"{f.digits(8)}{f.letters(1)}.",
    }[lang]
    return lines(greet(f, lang, f.person(c)), "", text, URG, "", sign(f, lang, p.name))


def id_verification_form(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    return lines(
        f.pick(
            [
                "Identity verification (KYC)",
                "Proof of identity",
                "Legitimationsprüfung",
                "Vérification d'identité",
            ]
        ),
        f"Full name: {p.name}",
        f"Date of birth: {f.date(f.day(dt.date(1950, 1, 1), 20000), c)}",
        f"Document type: {f.pick(['Passport', 'National ID card', 'Residence permit'])}",
        f"Document number: {f.letters(2)}{f.digits(7)}",
        f"Issuing country: {c.code}",
        f"Expiry: {f.date(f.day(dt.date(2026, 1, 1)), c)}",
        "Selfie match: passed" if f.chance(0.5) else "Address proof: utility bill",
        URG,
    )


def fraud_card(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    victim = f.person(c)
    merchants = ", ".join(
        f.pick(
            [
                "ALIEXPRESS",
                "STEAM GAMES",
                "BINANCE",
                "UBER *TRIP",
                "APPLE.COM/BILL",
                "WALMART.COM",
                "GOOGLE *PLAY",
            ]
        )
        for _ in range(f.r.randint(1, 3))
    )
    amount = f.money(f.amount(20, 6000), c)
    text = {
        "en": [
            f"I have just noticed transactions on my card ending {f.digits(4)} that I did "
            f"not make: {merchants}, in total {amount}. My card is still in my wallet. "
            "Please block the card and refund the unauthorised payments.",
            f"Someone is using my card! {amount} in payments to {merchants} since last "
            "night. I never authorised them.",
        ],
        "de": [
            f"auf meiner Kreditkarte (Endziffern {f.digits(4)}) sind Umsätze aufgetaucht, "
            f"die ich nicht getätigt habe: {merchants}, insgesamt {amount}. Bitte sperren "
            "Sie die Karte sofort und erstatten Sie die Beträge."
        ],
        "fr": [
            f"Des paiements frauduleux ont été effectués avec ma carte se terminant par "
            f"{f.digits(4)} : {merchants}, pour un total de {amount}. Je n'ai rien autorisé. "
            "Merci de faire opposition."
        ],
        "es": [
            f"He detectado cargos en mi tarjeta terminada en {f.digits(4)} que no he "
            f"realizado: {merchants}, por {amount}. Por favor bloqueen la tarjeta."
        ],
    }[lang]
    return lines(greet(f, lang, f.person(c)), "", f.pick(text), URG, "", sign(f, lang, victim.name))


def fraud_phishing(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    victim = f.person(c)
    outcome = [
        "I did not click it.",
        "I entered my password before I realised, and now I cannot log in.",
    ]
    fake_domain = f.pick(
        [
            "secure-login-bank.com",
            "paypa1-support.net",
            "dhl-parcel-fee.info",
            "amaz0n-verify.co",
            "mybank-security.top",
        ]
    )
    text = {
        "en": f"I want to report a phishing email. It pretended to be from my bank and asked me "
        f"to confirm my login at {fake_domain}. {f.pick(outcome)} Please check "
        "my account for suspicious activity.",
        "de": f"ich möchte eine Phishing-Mail melden. Sie sah aus wie von meiner Bank und "
        f"führte auf {fake_domain}. Ich habe leider meine Zugangsdaten eingegeben.",
        "fr": f"Je signale un e-mail d'hameçonnage se faisant passer pour ma banque et "
        f"renvoyant vers {fake_domain}. J'ai saisi mes identifiants par erreur.",
        "es": f"Quiero denunciar un correo de phishing que suplantaba a mi banco y llevaba a "
        f"{fake_domain}. Introduje mis claves por error.",
    }[lang]
    return lines(text, URG, sign(f, lang, victim.name))


ALERT_PATTERNS = [
    "multiple transfers to new beneficiaries within 1 hour",
    "login from new device followed by change of phone number",
    "money mule behaviour: incoming transfers forwarded immediately",
    "card testing - many small authorisations",
]
ALERT_SUSPICIONS = [
    "account takeover",
    "authorised push payment scam",
    "first-party fraud",
    "synthetic identity",
]


def fraud_internal_alert(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    acct = f.iban(c) or f.digits(10)
    return lines(
        f.pick(
            [
                "SUSPICIOUS ACTIVITY REPORT",
                "Fraud alert",
                "Verdachtsmeldung",
                "Alerte fraude interne",
            ]
        ),
        f"Case ref: SAR-{f.digits(6)}",
        f"Account: {acct}",
        f"Pattern: {f.pick(ALERT_PATTERNS)}",
        f"Total exposure: {f.money(f.amount(500, 250000), c)}",
        f"Suspected: {f.pick(ALERT_SUSPICIONS)}",
        f"Analyst: {f.person(c).name}",
        URG,
    )


def fraud_invoice_scam(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    vendor = f.org(c)
    amount = f.money(f.amount(1000, 120000), c)
    text = {
        "en": f"We need to report a fraud. We received an email that looked like it came from "
        f"our supplier {vendor.name} but the domain was slightly different. It said their "
        f"bank details had changed and we paid {amount} to IBAN {f.iban(f.country())}. "
        "The real supplier never received it. Please try to recall the transfer.",
        "de": f"wir müssen einen Betrugsfall melden. Eine gefälschte E-Mail im Namen unseres "
        f"Lieferanten {vendor.name} hat uns zur Zahlung von {amount} auf ein fremdes "
        "Konto veranlasst. Bitte versuchen Sie, die Überweisung zurückzurufen.",
        "fr": f"Nous signalons une fraude au faux fournisseur : un e-mail usurpant {vendor.name}"
        f" nous a fait virer {amount} sur un compte frauduleux. Merci de bloquer le "
        "virement.",
        "es": f"Denunciamos un fraude: un correo que suplantaba a nuestro proveedor "
        f"{vendor.name} nos hizo transferir {amount} a una cuenta falsa.",
    }[lang]
    return lines(text, URG, sign(f, lang, f.person(c).name, f.org(c).name))


def fraud_identity_theft(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    text = {
        "en": [
            "Someone has opened a loan in my name. I received a letter about a credit "
            "agreement I never signed. I believe my identity has been stolen.",
            "I was called by someone claiming to be from the police who told me to move my "
            f"savings to a 'safe account'. I transferred {f.money(f.amount(500, 40000), c)}"
            " and now realise it was a scam.",
        ],
        "de": [
            "Jemand hat in meinem Namen einen Kredit aufgenommen. Ich vermute Identitätsdiebstahl.",
            "Ein falscher Polizist hat mich angerufen und ich habe "
            "Geld auf ein 'sicheres Konto' überwiesen. Es war Betrug.",
        ],
        "fr": [
            "Quelqu'un a ouvert un crédit à mon nom. Je suis victime d'usurpation d'identité.",
            "Un faux conseiller bancaire m'a fait virer mes économies.",
        ],
        "es": [
            "Alguien ha abierto un préstamo a mi nombre. Soy víctima de suplantación de identidad.",
            "Un falso policía me convenció de transferir mis ahorros.",
        ],
    }[lang]
    return lines(f.pick(text), URG, p.name, f"Tel. {f.phone(c)}" if f.chance(0.5) else "")


def other_newsletter(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org = f.org(c)
    text = {
        "en": [
            f"Spring sale: up to {f.r.randint(10, 60)}% off everything this weekend!",
            "New in: our autumn collection has arrived. Free shipping on orders over 50.",
            "Your weekly digest: 5 articles we think you'll like.",
        ],
        "de": [
            f"Frühlingsangebote: bis zu {f.r.randint(10, 60)}% Rabatt!",
            "Neu eingetroffen: die Herbstkollektion. Versandkostenfrei ab 50 €.",
        ],
        "fr": [
            f"Soldes : jusqu'à -{f.r.randint(10, 60)}% ce week-end !",
            "Découvrez notre nouvelle collection.",
        ],
        "es": [
            f"Rebajas: hasta un {f.r.randint(10, 60)}% de descuento.",
            "Nueva colección disponible. Envío gratis.",
        ],
    }[lang]
    return lines(
        org.name,
        f.pick(text),
        URG,
        f.pick(["Unsubscribe", "Abmelden", "Se désinscrire", "Darse de baja"])
        + f" | https://{org.domain}/newsletter",
    )


def other_meeting(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    people = ", ".join(f.person(c).first for _ in range(f.r.randint(2, 5)))
    text = {
        "en": (
            "Meeting notes",
            "Attendees",
            ["Q3 roadmap review", "Hiring plan", "Office move", "Budget for the offsite"],
            "Action items",
        ),
        "de": (
            "Protokoll",
            "Teilnehmer",
            ["Roadmap Q3", "Personalplanung", "Umzug", "Budget Klausur"],
            "Aufgaben",
        ),
        "fr": (
            "Compte rendu de réunion",
            "Participants",
            ["Feuille de route", "Recrutements", "Déménagement"],
            "Actions",
        ),
        "es": (
            "Acta de reunión",
            "Asistentes",
            ["Hoja de ruta", "Contrataciones", "Mudanza"],
            "Tareas",
        ),
    }[lang]
    topics = [f"- {t}" for t in f.r.sample(text[2], k=min(3, len(text[2])))]
    return lines(
        f"{text[0]} {f.date(f.day(), c)}",
        f"{text[1]}: {people}",
        *topics,
        f"{text[3]}: {f.person(c).first} to send the draft by Friday.",
        URG,
    )


def other_application(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    role = f.pick(["Junior Accountant", "Data Analyst", "Marketing Assistant", "Warehouse Lead"])
    text = {
        "en": f"I am writing to apply for the position of {role} advertised on your website. "
        "I have three years of experience and attach my CV. I would welcome the "
        "opportunity to discuss my application.",
        "de": f"hiermit bewerbe ich mich um die Stelle als {role}. Meinen Lebenslauf finden "
        "Sie im Anhang. Über eine Einladung zum Vorstellungsgespräch freue ich mich.",
        "fr": f"Je souhaite postuler au poste de {role}. Vous trouverez mon CV en pièce jointe.",
        "es": f"Me dirijo a ustedes para solicitar el puesto de {role}. Adjunto mi currículum.",
    }[lang]
    return lines(greet(f, lang, f.person(c)), "", text, URG, "", sign(f, lang, p.name))


def other_shipping(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    carrier = f.pick(["DHL", "UPS", "DPD", "GLS", "Royal Mail", "Correos", "La Poste", "Hermes"])
    tracking = f"{f.digits(4)} {f.digits(4)} {f.digits(4)}"
    text = {
        "en": f"Your parcel is on its way! Tracking number {tracking}. Expected delivery: "
        f"{f.date(f.day(), c)}.",
        "de": f"Ihr Paket ist unterwegs. Sendungsnummer {tracking}. Voraussichtliche Zustellung: "
        f"{f.date(f.day(), c)}.",
        "fr": f"Votre colis est en route. Numéro de suivi {tracking}. Livraison prévue le "
        f"{f.date(f.day(), c)}.",
        "es": f"Tu paquete está en camino. Seguimiento {tracking}. Entrega prevista: "
        f"{f.date(f.day(), c)}.",
    }[lang]
    return lines(carrier, text, URG)


def other_memo(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    text = {
        "en": [
            "The office will be closed on Friday for maintenance. Please work from home.",
            "IT notice: the VPN will be upgraded on Saturday night between 22:00 and 02:00.",
            "Reminder: the fire drill is scheduled for Wednesday at 10:30.",
            "Welcome to our new colleague who joins the finance team on Monday!",
        ],
        "de": [
            "Das Büro bleibt am Freitag wegen Wartungsarbeiten geschlossen.",
            "IT-Hinweis: Das VPN wird am Samstag zwischen 22 und 2 Uhr aktualisiert.",
        ],
        "fr": [
            "Les bureaux seront fermés vendredi pour maintenance.",
            "Rappel : exercice d'évacuation mercredi à 10h30.",
        ],
        "es": [
            "La oficina permanecerá cerrada el viernes por mantenimiento.",
            "Recordatorio: simulacro de incendio el miércoles a las 10:30.",
        ],
    }[lang]
    return lines(
        f.pick(
            ["MEMO", "Internal notice", "Rundschreiben", "Note de service", "Comunicado interno"]
        ),
        f.pick(text),
        URG,
        f"{f.person(c).name}, {f.pick(['Facilities', 'HR', 'IT', 'Office Management'])}",
    )


def other_invitation(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    text = {
        "en": f"You're invited to our summer party on {f.date(f.day(), c)} at 6pm. Please RSVP "
        "by next week. Food and drinks provided.",
        "de": f"Einladung zum Sommerfest am {f.date(f.day(), c)} ab 18 Uhr. Um Rückmeldung "
        "wird gebeten.",
        "fr": f"Invitation : soirée d'été le {f.date(f.day(), c)} à 18h. Merci de confirmer.",
        "es": f"Invitación a la fiesta de verano el {f.date(f.day(), c)} a las 18:00.",
    }[lang]
    return lines(text, URG)


def other_autoreply(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    p = f.person(c)
    text = {
        "en": f"I am out of the office until {f.date(f.day(), c)} with limited access to email. "
        f"For urgent matters please contact {f.person(c).name}.",
        "de": f"Ich bin bis zum {f.date(f.day(), c)} nicht im Büro. In dringenden Fällen "
        f"wenden Sie sich bitte an {f.person(c).name}.",
        "fr": f"Je suis absent jusqu'au {f.date(f.day(), c)}. En cas d'urgence, contactez "
        f"{f.person(c).name}.",
        "es": f"Estaré fuera de la oficina hasta el {f.date(f.day(), c)}. Para asuntos urgentes "
        f"contacte con {f.person(c).name}.",
    }[lang]
    return lines(
        f.pick(
            ["Automatic reply", "Abwesenheitsnotiz", "Réponse automatique", "Respuesta automática"]
        ),
        text,
        p.name,
    )


def other_inquiry(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    text = {
        "en": [
            "Do you ship to Austria, and how long does delivery take?",
            "Could you send me a quote for 200 branded mugs?",
            "What are your opening hours over the holidays?",
            "Is the blue version of the jacket back in stock in size M?",
        ],
        "de": [
            "Liefern Sie auch in die Schweiz?",
            "Können Sie mir ein Angebot für 200 Tassen schicken?",
            "Wie sind Ihre Öffnungszeiten an Feiertagen?",
        ],
        "fr": ["Livrez-vous en Belgique ?", "Pourriez-vous m'envoyer un devis ?"],
        "es": ["¿Hacen envíos a Portugal?", "¿Me pueden enviar un presupuesto?"],
    }[lang]
    return lines(greet(f, lang, f.person(c)), f.pick(text), URG, sign(f, lang, f.person(c).name))


def other_press(f: Fake, lang: str) -> str:
    c = lang_country(f, lang)
    org = f.org(c)
    text = {
        "en": f"PRESS RELEASE - {org.name} opens new headquarters in {f.pick(c.cities)[1]}, "
        f'creating {f.r.randint(20, 400)} jobs. "This is a milestone for us," said '
        f"CEO {f.person(c).name}.",
        "de": f"PRESSEMITTEILUNG - {org.name} eröffnet neuen Standort in "
        f"{f.pick(c.cities)[1]} und schafft {f.r.randint(20, 400)} Arbeitsplätze.",
        "fr": f"COMMUNIQUÉ DE PRESSE - {org.name} inaugure son nouveau siège à "
        f"{f.pick(c.cities)[1]}.",
        "es": f"NOTA DE PRENSA - {org.name} inaugura nueva sede en {f.pick(c.cities)[1]}.",
    }[lang]
    return lines(text, URG)


def other_account_notice(f: Fake, lang: str) -> str:
    text = {
        "en": [
            "Your password was changed successfully. If this was you, no further action is needed.",
            "Your subscription settings have been updated.",
            "Welcome aboard! Confirm your email address to get started.",
        ],
        "de": [
            "Ihr Passwort wurde erfolgreich geändert.",
            "Willkommen! Bitte bestätigen Sie Ihre E-Mail-Adresse.",
        ],
        "fr": ["Votre mot de passe a bien été modifié."],
        "es": ["Tu contraseña se ha cambiado correctamente."],
    }[lang]
    return lines(f.pick(text), URG)


URG = "\x00URG\x00"
"""Placeholder where a template puts its urgency sentence."""

TEMPLATES: dict[str, list[Template]] = {
    "invoice": [
        invoice_letter,
        invoice_letter,
        invoice_email,
        invoice_saas,
        invoice_reminder,
        invoice_freelancer,
        invoice_utility,
        invoice_credit_note,
    ],
    "receipt": [
        receipt_pos,
        receipt_pos,
        receipt_online,
        receipt_restaurant,
        receipt_travel,
        receipt_acknowledged,
    ],
    "bank_statement": [
        statement_table,
        statement_table,
        statement_card,
        statement_notice,
        statement_ocr_grid,
    ],
    "payment_request": [
        payment_transfer_email,
        payment_order_form,
        payment_bank_change,
        payment_exec_request,
        payment_deposit,
        payment_reimbursement,
        payment_personal,
        payment_link,
        payment_reminder,
        payment_reminder,
        payment_slip,
    ],
    "insurance_claim": [
        claim_form,
        claim_form,
        claim_email,
        claim_narrative,
        claim_health,
        claim_travel,
    ],
    "complaint": [
        complaint_email,
        complaint_email,
        complaint_short,
        complaint_letter,
        complaint_review,
        complaint_defect,
    ],
    "contract": [
        contract_service,
        contract_service,
        contract_nda,
        contract_employment,
        contract_lease,
        contract_amendment,
    ],
    "identity_document": [id_passport, id_card, id_licence, id_kyc_email, id_verification_form],
    "fraud_report": [
        fraud_card,
        fraud_card,
        fraud_phishing,
        fraud_internal_alert,
        fraud_invoice_scam,
        fraud_identity_theft,
    ],
    "other": [
        other_newsletter,
        other_meeting,
        other_application,
        other_shipping,
        other_memo,
        other_invitation,
        other_autoreply,
        other_inquiry,
        other_press,
        other_account_notice,
    ],
}

LANG_WEIGHTS = {"en": 0.55, "de": 0.22, "fr": 0.12, "es": 0.11}


OCR_SWAPS = {
    "0": "O",
    "O": "0",
    "l": "1",
    "1": "l",
    "I": "l",
    "e": "c",
    "S": "5",
    "5": "S",
    "B": "8",
    "rn": "m",
    "m": "rn",
    "u": "v",
    ",": ".",
    "€": "E",
}


def ocr_noise(f: Fake, text: str, rate: float) -> str:
    out = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in OCR_SWAPS and f.chance(rate):
            out.append(OCR_SWAPS[pair])
            i += 2
            continue
        ch = text[i]
        if ch in OCR_SWAPS and f.chance(rate):
            out.append(OCR_SWAPS[ch])
        elif ch == " " and f.chance(rate / 2):
            out.append("")
        elif ch.isalpha() and f.chance(rate / 4):
            out.append(ch + " ")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def typos(f: Fake, text: str, rate: float) -> str:
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and word.isalpha() and f.chance(rate):
            j = f.r.randrange(len(word) - 1)
            kind = f.r.random()
            if kind < 0.4:
                word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
            elif kind < 0.7:
                word = word[:j] + word[j + 1 :]
            else:
                word = word[:j] + word[j] + word[j:]
            words[i] = word
    return " ".join(words)


def email_wrap(f: Fake, text: str, lang: str) -> str:
    c = lang_country(f, lang)
    sender, to = f.person(c), f.person(c)
    domain = f.pick([f.org(c).domain, f.pick(FREEMAIL)])
    first_line = text.strip().split("\n", 1)[0][:60]
    subject = f.pick(["", "Re: ", "Fwd: ", "AW: ", "TR: ", "RE: "]) + first_line
    header = [
        f"From: {sender.name} <{f.email(sender, domain)}>",
        f"To: {f.email(to, f.org(c).domain)}",
        f"Subject: {subject}",
        f"Date: {f.day().strftime('%a, %d %b %Y')} {f.r.randint(7, 19):02d}:"
        f"{f.r.randint(0, 59):02d}:00 +0100",
    ]
    if f.chance(0.2):
        f.r.shuffle(header)
    tail = []
    if f.chance(0.3):
        tail.append(
            f.pick(
                [
                    "This e-mail may contain confidential information. If you are not the intended "
                    "recipient, please delete it.",
                    "Diese E-Mail enthält vertrauliche Informationen.",
                    "Please consider the environment before printing this email.",
                    "Ce message et ses pièces jointes sont confidentiels.",
                ]
            )
        )
    if f.chance(0.15):
        tail.append(
            f"\nOn {f.day().isoformat()}, {to.name} wrote:\n> Thanks, noted.\n> "
            "Let me check and come back to you."
        )
    return "\n".join([*header, "", text, *tail])


def reflow(f: Fake, text: str) -> str:
    if f.chance(0.5):
        return " ".join(text.split())
    words, out, line = text.split(), [], ""
    width = f.r.randint(40, 90)
    for word in words:
        if len(line) + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    out.append(line)
    return "\n".join(out)


def company_footer(f: Fake, lang: str) -> str:
    """The registration block many companies print under every letter, whatever it says."""
    org = f.org(lang_country(f, lang))
    parts = [org.name, f"{org.street} · {org.city_line}"]
    if org.country.code in ("DE", "AT"):
        parts.append(
            f"Geschäftsführer: {f.person(org.country).name} · Amtsgericht "
            f"{f.pick(org.country.cities)[1]} HRB {f.digits(5)}"
        )
    elif org.country.code in ("GB", "IE"):
        parts.append(f"Registered in England and Wales No. {f.digits(8)}")
    if org.vat:
        parts.append(f"VAT {org.vat}")
    if org.iban and f.chance(0.6):
        parts.append(f"{org.bank} · IBAN {org.iban} · BIC {org.bic}")
    return " | ".join(parts) if f.chance(0.5) else "\n".join(parts)


def quoted_thread(f: Fake, doc_type: str, lang: str) -> str:
    """An earlier message of a different kind, quoted below the one that defines the label."""
    other = f.pick([t for t in TEMPLATES if t != doc_type])
    quoted = f.pick(TEMPLATES[other])(f, lang).replace(URG, "")
    kept = [line for line in quoted.split("\n") if line.strip()][: f.r.randint(2, 6)]
    marker = f.pick(
        [
            "-----Original Message-----",
            "> ",
            "---------- Forwarded message ---------",
            "Am Vortag schrieb:",
        ]
    )
    return marker + "\n" + "\n".join(f"> {line}" for line in kept)


def make_document(f: Fake, doc_type: str) -> dict[str, str]:
    langs = list(LANG_WEIGHTS)
    lang = f.r.choices(langs, weights=[LANG_WEIGHTS[x] for x in langs])[0]
    prior = URGENCY_PRIOR[doc_type]
    urgency = f.r.choices(list(prior), weights=list(prior.values()))[0]
    template = f.pick(TEMPLATES[doc_type])
    text = template(f, lang)
    phrase_lang = lang if f.chance(0.85) else "en"
    phrase = f.pick(URGENCY_PHRASES[urgency][phrase_lang])
    # Urgency is a label of the case, not of a phrase: 10% keep the label without a cue.
    if f.chance(0.1):
        phrase = ""
    text = text.replace(URG, phrase)
    if phrase and urgency in ("high", "critical") and f.chance(0.3):
        text = phrase + "\n" + text
    text = "\n".join(line for line in text.split("\n") if line.strip() or f.chance(0.6))
    if f.chance(0.15):
        text = text + "\n\n" + company_footer(f, lang)
    if f.chance(0.07):
        text = text + "\n\n" + quoted_thread(f, doc_type, lang)
    if f.chance(0.2) and template.__name__ not in {"id_kyc_email"}:
        text = email_wrap(f, text, lang)
    if f.chance(0.06):
        text = text.upper()
    if f.chance(0.08):
        text = reflow(f, text)
    if f.chance(0.15):
        text = ocr_noise(f, text, f.r.uniform(0.01, 0.05))
    if f.chance(0.2):
        text = typos(f, text, f.r.uniform(0.02, 0.08))
    if f.chance(0.07):
        cut = f.r.randint(len(text) * 2 // 3, len(text))
        text = text[:cut]
    return {
        "text": text.strip(),
        "doc_type": doc_type,
        "urgency": urgency,
        "lang": lang,
        "template": template.__name__,
    }


def make_classifier_corpus(seed: int, per_class: int) -> list[dict[str, str]]:
    f = Fake(random.Random(seed))
    docs = []
    for doc_type in TEMPLATES:
        for _ in range(per_class):
            docs.append(make_document(f, doc_type))
    f.r.shuffle(docs)
    return [{"id": f"c{i:05d}", **doc} for i, doc in enumerate(docs)]


PRESSURE = {
    "account_change": [
        "Please note our bank details have changed.",
        "Kindly use our new account for this and all future payments.",
        "Unsere Bankverbindung hat sich geändert.",
        "Nos coordonnées bancaires ont changé.",
    ],
    "urgency": [
        "This must be paid today.",
        "URGENT - payment needed within the hour.",
        "Bitte heute noch überweisen!",
        "Paiement urgent avant 16h.",
    ],
    "secrecy": [
        "Please keep this confidential and do not discuss it with anyone.",
        "I am in a meeting and cannot be reached by phone.",
        "Strictly confidential - do not call the office.",
    ],
    "authority": [
        "This has been approved by the CEO.",
        "Instruction from the managing director.",
        "Per the CFO's request.",
    ],
    "routine": [
        "Please find our invoice for this month's deliveries.",
        "Thank you for your continued business.",
        "Payment terms: 30 days net.",
        "Anbei unsere Rechnung für die Lieferungen im letzten Monat.",
        "Veuillez trouver ci-joint notre facture mensuelle.",
    ],
    "reminder": [
        "This is a friendly reminder that the invoice is overdue.",
        "Second reminder: the invoice is now 30 days past due.",
    ],
}


def _lookalike(f: Fake, domain: str) -> str:
    name, _, tld = domain.partition(".")
    tricks = [
        lambda: name.replace("l", "1", 1) if "l" in name else name + "s",
        lambda: name.replace("o", "0", 1) if "o" in name else name + "-pay",
        lambda: name + "-invoices",
        lambda: name[:-1] if len(name) > 5 else name + "x",
        lambda: name.replace("i", "l", 1) if "i" in name else name + "-eu",
        lambda: name + "-gmbh" if tld == "de" else name + "-ltd",
    ]
    fake = f.pick(tricks)()
    new_tld = tld if f.chance(0.6) else f.pick(["com", "net", "co", "info"])
    return f"{fake}.{new_tld}"


def make_scorer_events(seed: int, n_counterparties: int) -> list[dict[str, object]]:
    f = Fake(random.Random(seed + 1))
    events: list[dict[str, object]] = []
    clock = dt.datetime(2025, 1, 1)

    def event(**kw: object) -> None:
        nonlocal clock
        clock += dt.timedelta(minutes=f.r.randint(5, 600))
        events.append({"event_id": f"e{len(events):05d}", "at": clock.isoformat(), **kw})

    used: set[str] = set()

    def unique_org() -> Org:
        # Two companies whose names normalise alike would share one history in the scorer,
        # and every genuine invoice of one would look like an impostor of the other.
        while True:
            org = f.org()
            if counterparty_key(org.name) not in used:
                used.add(counterparty_key(org.name))
                return org

    for _ in range(n_counterparties):
        org: Org = unique_org()
        base = f.amount(80, 40000)
        spread = f.r.uniform(0.05, 0.5)
        ibans = [org.iban or f.iban(f.country({"DE": 1, "GB": 1}))]
        history = f.r.randint(0, 14)
        for _ in range(history):
            if f.chance(0.008):
                # Legitimate bank change: rare, announced from the vendor's own domain.
                ibans.append(f.iban(org.country if org.country.iban_len else f.country()))
            amount = round(base * f.r.lognormvariate(0, spread), 2)
            big = f.chance(0.05)
            words = [f.pick(PRESSURE["routine"])]
            if f.chance(0.12):
                words.append(f.pick(PRESSURE["reminder"]))
            if len(ibans) > 1 and ibans[-1] != ibans[0] and f.chance(0.7):
                words.append(f.pick(PRESSURE["account_change"]))
            event(
                counterparty=org.name,
                sender_email=f"billing@{org.domain}",
                amount=amount * (f.r.uniform(2, 4) if big else 1),
                currency=org.country.currency,
                iban=ibans[-1],
                doc_type=f.pick(["invoice"] * 5 + ["payment_request"]),
                urgency=f.pick(["normal"] * 6 + ["low", "high"]),
                text=" ".join(words),
                invoice_number=True,
                label=0,
                scenario="routine",
            )
        scenario = f.r.random()
        if scenario < 0.14 and history >= 1:
            # Business e-mail compromise: known payee, new account. Either a lookalike domain
            # with pressure, or the supplier's real (compromised) mailbox writing calmly.
            lookalike = f.chance(0.6)
            domain = _lookalike(f, org.domain) if lookalike else org.domain
            words = [f.pick(PRESSURE["account_change" if f.chance(0.7) else "routine"])]
            if f.chance(0.6 if lookalike else 0.2):
                words.append(f.pick(PRESSURE["urgency"]))
            if f.chance(0.3 if lookalike else 0.1):
                words.append(f.pick(PRESSURE["secrecy"]))
            event(
                counterparty=org.name,
                sender_email=f"accounts@{domain}",
                amount=round(base * f.r.lognormvariate(0, spread) * f.r.uniform(1, 2.5), 2),
                currency=org.country.currency,
                iban=f.iban(org.country if org.country.iban_len and f.chance(0.4) else f.country()),
                doc_type=f.pick(["payment_request", "invoice"]),
                urgency=f.pick(["high", "critical", "normal"]),
                text=" ".join(words),
                invoice_number=f.chance(0.6),
                label=1,
                scenario="bec_account_change",
            )
        elif scenario < 0.22 and history >= 3:
            # Inflated invoice: same payee and account, amount far above the history.
            event(
                counterparty=org.name,
                sender_email=f"billing@{org.domain}",
                amount=round(base * f.r.uniform(4, 15), 2),
                currency=org.country.currency,
                iban=ibans[-1],
                doc_type="invoice",
                urgency=f.pick(["normal", "high"]),
                text=f.pick(PRESSURE["routine"] + PRESSURE["urgency"]),
                invoice_number=True,
                label=1,
                scenario="inflated_amount",
            )
    # Counterparties never seen before: most are legitimate new suppliers.
    for _ in range(n_counterparties // 2):
        org = unique_org()
        kind = f.r.random()
        if kind < 0.22:
            words = [f.pick(PRESSURE["urgency"]), f.pick(PRESSURE["secrecy"])]
            if f.chance(0.6):
                words.append(f.pick(PRESSURE["authority"]))
            event(
                counterparty=f.person().name if f.chance(0.4) else org.name,
                sender_email=f"{f.pick(['ceo', 'director', 'finance'])}.office@"
                f"{f.pick((*FREEMAIL, _lookalike(f, org.domain)))}",
                amount=float(f.pick([9500, 14800, 25000, 35000, 48000, 72000, 99000])),
                currency=f.pick(["EUR", "GBP", "USD"]),
                iban=f.iban(f.country()),
                doc_type="payment_request",
                urgency=f.pick(["high", "critical"]),
                text=" ".join(words),
                invoice_number=False,
                label=1,
                scenario="ceo_fraud",
            )
        elif kind < 0.34:
            event(
                counterparty=org.name,
                sender_email=f"{f.pick(['billing', 'info'])}@{f.pick(FREEMAIL)}",
                amount=f.amount(300, 15000),
                currency=org.country.currency,
                iban=f.iban(f.country()),
                doc_type=f.pick(["invoice", "payment_request"]),
                urgency=f.pick(["normal", "high"]),
                text=f.pick(PRESSURE["routine"] + PRESSURE["urgency"]),
                invoice_number=f.chance(0.5),
                label=1,
                scenario="fake_vendor",
            )
        else:
            words = [f.pick(PRESSURE["routine"])]
            if f.chance(0.15):
                words.append(f.pick(PRESSURE["urgency"]))
            domain = f.pick(FREEMAIL) if f.chance(0.06) else org.domain
            event(
                counterparty=org.name,
                sender_email=f"invoices@{domain}",
                amount=f.amount(40, 30000),
                currency=org.country.currency,
                iban=org.iban or f.iban(f.country()),
                doc_type=f.pick(["invoice"] * 4 + ["payment_request"]),
                urgency=f.pick(["normal", "normal", "low", "high"]),
                text=" ".join(words),
                invoice_number=f.chance(0.9),
                label=0,
                scenario="new_vendor",
            )
    # A little label noise: real data is never perfectly separable.
    for ev in events:
        if f.chance(0.004):
            ev["label"] = 1 - int(str(ev["label"]))
            ev["scenario"] = f"{ev['scenario']}+flipped"
    events.sort(key=lambda e: str(e["at"]))
    for ev in events:
        ev["amount"] = round(float(str(ev["amount"])), 2)
    return events


def write_jsonl(path: Path, rows: list[dict[str, str]] | list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--per-class", type=int, default=DOCS_PER_CLASS)
    parser.add_argument("--counterparties", type=int, default=320)
    parser.add_argument("--out", type=Path, default=ROOT / "data")
    args = parser.parse_args(argv)
    corpus = make_classifier_corpus(args.seed, args.per_class)
    write_jsonl(args.out / "classifier" / "corpus.jsonl", corpus)
    events = make_scorer_events(args.seed, args.counterparties)
    write_jsonl(args.out / "scorer" / "events.jsonl", events)
    fraud = sum(int(str(e["label"])) for e in events)
    sys.stdout.write(
        f"classifier corpus: {len(corpus)} documents\n"
        f"scorer events: {len(events)} ({fraud} fraudulent)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
