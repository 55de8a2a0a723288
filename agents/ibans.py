"""IBANs as the agents judge them, beside python-stdnum's check."""

from __future__ import annotations

import stdnum.iban

__all__ = ["misprinted"]


def misprinted(compact: str) -> bool:
    """An IBAN (no spaces) in its country's length and account format whose check digits
    alone are wrong: a typing or OCR error, an altered account, or a sample's made-up
    number. What the extractor answers under an "IBAN" label when the page has no valid
    one, and what the PII masker masks there, so that what is read is what is hidden."""
    try:
        digits = stdnum.iban.calc_check_digits(compact)
    except ValueError:
        return False
    return bool(stdnum.iban.is_valid(compact[:2] + digits + compact[4:], check_country=False))
