"""Multilingual cue phrases (EN/DE/FR/ES) shared by the urgency rules and the risk scorer.

The learned models carry most of the weight; these lists exist because a handful of
phrases ("final notice", "our bank details have changed", "keep this confidential") are
such strong, well-known signals that a reviewer expects them to count even in wording the
training corpus never showed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def _compile(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


CRITICAL = _compile(
    [
        r"\bwithin 24 ?h(?:ours|rs)?\b",
        r"\bfinal (?:notice|demand|warning)\b",
        r"\blegal (?:action|proceedings)\b",
        r"\bimmediate action\b",
        r"\bemergency\b",
        r"\bright now\b",
        r"\bletzte mahnung\b",
        r"\brechtliche schritte\b",
        r"\binnerhalb von 24 stunden\b",
        r"\bsofortiges handeln\b",
        r"\bnotfall\b",
        r"\bdernier avis\b",
        r"\bpoursuites judiciaires\b",
        r"\bsous 24 ?h(?:eures)?\b",
        r"\baction imm[ée]diate\b",
        r"\b[úu]ltimo aviso\b",
        r"\bacciones legales\b",
        r"\ben (?:un plazo de )?24 horas\b",
        r"\bacci[óo]n inmediata\b",
    ]
)
HIGH = _compile(
    [
        r"\burgent(?:ly)?\b",
        r"\basap\b",
        r"\bas soon as possible\b",
        r"\btime[- ]sensitive\b",
        r"\bsecond reminder\b",
        r"\boverdue\b",
        r"\bpriority\b",
        r"\bdringend\b",
        r"\bumgehend\b",
        r"\beilt\b",
        r"\bzweite (?:erinnerung|mahnung)\b",
        r"\burgente\b",
        r"\bau plus vite\b",
        r"\bdeuxi[èe]me relance\b",
        r"\blo antes posible\b",
        r"\bsegundo aviso\b",
        r"\bimmediately\b",
        r"\bright away\b",
        r"\bthis morning\b",
        r"\bby end of (?:day|business)\b",
        r"\bheute noch\b",
        r"\bimm[ée]diatement\b",
        r"\bde inmediato\b",
        r"\binmediatamente\b",
        r"\bblock (?:it|the card|my card)\b",
        # Money leaving right now: whatever the document is called, a person should look.
        r"\bstop (?:the|this|my|that) (?:last |latest |next )?(?:transfer|payment)\b",
        r"\b(?:been|got|was) (?:scammed|defrauded)\b",
        r"\b(?:[üu]berweisung|zahlung) (?:stoppen|zur[üu]ckholen)\b",
        r"\b(?:j'ai [ée]t[ée]|me suis fait) escroqu",
        r"\bme han estafado\b",
    ]
)

PRESSURE: Mapping[str, re.Pattern[str]] = {
    "account_change": _compile(
        [
            r"\b(?:bank|banking|account|payment) (?:details|information|account)\b[^.\n]{0,30}"
            r"\b(?:changed|updated|new)\b",
            r"\bnew (?:bank )?(?:account|iban|bank details)\b",
            r"\bchanged? (?:our|of) bank",
            r"\bcannot receive (?:funds|payments)\b",
            r"\bneue[sn]? (?:bankverbindung|konto|iban)\b",
            r"\bbankverbindung (?:hat sich )?ge[äa]ndert\b",
            r"\bcoordonn[ée]es bancaires\b[^.\n]{0,20}"
            r"\b(?:chang|modifi)",
            r"\bnouveau (?:compte|rib|iban)\b",
            r"\bdatos bancarios\b[^.\n]{0,20}\bcambiad",
            r"\bnueva cuenta\b",
        ]
    ),
    "urgency": _compile(
        [
            r"\btoday\b",
            r"\bwithin (?:the|an|one) hour\b",
            r"\bimmediately\b",
            r"\burgent(?:ly)?\b",
            r"\bheute (?:noch)?\b",
            r"\bsofort\b",
            r"\bdringend\b",
            r"\burgent\b",
            r"\baujourd'hui\b",
            r"\bavant \d+ ?h\b",
            r"\bhoy\b",
            r"\burgente\b",
            r"\bthis morning\b",
            r"\bby end of (?:day|business)\b",
        ]
    ),
    "secrecy": _compile(
        [
            r"\bconfidential\b",
            r"\bdo not (?:discuss|call|tell|share)\b",
            r"\bkeep (?:this|it) "
            r"(?:between us|quiet|confidential)\b",
            r"\bcannot be reached\b",
            r"\bcan'?t take calls\b",
            r"\bin a meeting\b",
            r"\bvertraulich\b",
            r"\bdiskret\b",
            r"\bnicht erreichbar\b",
            r"\bconfidentiel(?:le)?\b",
            r"\bdiscret\b",
            r"\bconfidencial\b",
            r"\bno lo comentes\b",
        ]
    ),
    "authority": _compile(
        [
            r"\b(?:ceo|cfo|managing director|chief executive|gesch[äa]ftsf[üu]hrer|pdg|"
            r"director general|directeur g[ée]n[ée]ral)\b",
            r"\bapproved by\b",
            r"\binstruction from\b",
            r"\bper the \w+'s request\b",
        ]
    ),
}
"""Social-engineering cue families the scorer counts."""


def urgency_floor(text: str) -> str | None:
    """The lowest urgency an explicit cue in ``text`` implies: "critical", "high" or None."""
    if CRITICAL.search(text):
        return "critical"
    if HIGH.search(text):
        return "high"
    return None


def pressure_counts(text: str) -> dict[str, int]:
    """How many cues of each pressure family ``text`` contains."""
    return {name: len(pattern.findall(text)) for name, pattern in PRESSURE.items()}
